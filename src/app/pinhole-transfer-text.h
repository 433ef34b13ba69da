/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-transfer-text.h: the words of a transfer card, from the core's PinholeTransfer:
 * what is offered ("beach.jpg", "3 files"), how far it is ("12.3 MB of 1.0 GB · 24 MB/s ·
 * 40 s left") and what happened ("bob declined the files."). No GTK: the unit tests check them. */
#pragma once

#include "pinhole-transfer.h"

G_BEGIN_DECLS

char *pinhole_transfer_text_title    (PinholeManifest *manifest);
char *pinhole_transfer_text_size     (PinholeManifest *manifest);
char *pinhole_transfer_text_time_left (guint64         seconds);
char *pinhole_transfer_text_progress (guint64          done,
                                      guint64          total,
                                      gdouble          rate,
                                      gboolean         paused);
char *pinhole_transfer_text_path     (const char      *path_kind_nick);
char *pinhole_transfer_text_status   (PinholeTransferDirection  direction,
                                      PinholeTransferState      state,
                                      const char               *peer,
                                      const char               *error);
gint  pinhole_transfer_text_main_entry (PinholeManifest *manifest);
char *pinhole_transfer_text_common_folder (PinholeManifest *manifest);

G_END_DECLS
