/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-file-writer.h: the recipient's disk for one entry of a transfer (docs/transfer.md
 * §6): a partial file below the chosen folder, verified blocks, the final name. */
#pragma once

#include <gio/gio.h>

#include "pinhole-manifest.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_FILE_WRITER (pinhole_file_writer_get_type ())
G_DECLARE_FINAL_TYPE (PinholeFileWriter, pinhole_file_writer, PINHOLE, FILE_WRITER, GObject)

PinholeFileWriter *pinhole_file_writer_new          (int                          folder_fd,
                                                     const PinholeManifestEntry  *entry);

void          pinhole_file_writer_open_async        (PinholeFileWriter    *self,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
gboolean      pinhole_file_writer_open_finish       (PinholeFileWriter    *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);
void          pinhole_file_writer_write_block_async (PinholeFileWriter    *self,
                                                     guint64               block,
                                                     const guint8         *sha256,
                                                     GBytes               *data,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
gboolean      pinhole_file_writer_write_block_finish (PinholeFileWriter   *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);
void          pinhole_file_writer_finish_async      (PinholeFileWriter    *self,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
gboolean      pinhole_file_writer_finish_finish     (PinholeFileWriter    *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);
void          pinhole_file_writer_discard_async     (PinholeFileWriter    *self,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
gboolean      pinhole_file_writer_discard_finish    (PinholeFileWriter    *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);

gboolean      pinhole_file_writer_discard_entry     (int                          folder_fd,
                                                     const PinholeManifestEntry  *entry,
                                                     GError                     **error);

/* pinhole-file-discard.c */
void          pinhole_file_discard_partials_async   (const char          *folder,
                                                     PinholeManifest     *manifest,
                                                     GArray              *accepted,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);

guint64       pinhole_file_writer_get_n_blocks      (PinholeFileWriter    *self);
gboolean      pinhole_file_writer_has_block         (PinholeFileWriter    *self,
                                                     guint64               block);
guint64       pinhole_file_writer_get_verified_bytes (PinholeFileWriter   *self);
gboolean      pinhole_file_writer_is_complete       (PinholeFileWriter    *self);
const char   *pinhole_file_writer_get_final_path    (PinholeFileWriter    *self);
GBytes       *pinhole_file_writer_dup_have_bitmap   (PinholeFileWriter    *self);

guint64       pinhole_file_writer_block_length      (const PinholeManifestEntry *entry,
                                                     guint64                     block);
gboolean      pinhole_folder_check_space            (int                   folder_fd,
                                                     guint64               needed,
                                                     GError              **error);
guint64       pinhole_file_writer_record_bytes      (const PinholeManifestEntry *entry);

G_END_DECLS
