/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-transfer-link.h: the transfers of one session (docs/transfer.md §3-5): it reads
 * channel 2 and the data channels, hands each frame to its transfer, makes incoming offers,
 * and sends for the transfers it carries. */
#pragma once

#include "pinhole-session.h"
#include "pinhole-transfer.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_TRANSFER_LINK (pinhole_transfer_link_get_type ())
G_DECLARE_FINAL_TYPE (PinholeTransferLink, pinhole_transfer_link, PINHOLE, TRANSFER_LINK, GObject)

PinholeTransferLink *pinhole_transfer_link_new    (PinholeSession      *session);
PinholeTransfer     *pinhole_transfer_link_offer  (PinholeTransferLink *self,
                                                   PinholeManifest     *manifest,
                                                   GPtrArray           *sources,
                                                   GError             **error);
void                 pinhole_transfer_link_resume (PinholeTransferLink *self,
                                                   PinholeTransfer     *transfer);
PinholeTransfer     *pinhole_transfer_link_lookup (PinholeTransferLink *self,
                                                   const char          *id);
void                 pinhole_transfer_link_close  (PinholeTransferLink *self);

PinholeTransfer     *pinhole_transfer_new_incoming_accepted (const char      *id,
                                                             PinholeManifest *manifest,
                                                             const char      *folder,
                                                             GArray          *entries);

G_END_DECLS
