/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-db-sync.h: what makes a SQLite database in WAL mode with synchronous=NORMAL durable,
 * for the server's store and each profile; the sync and the checkpoint block, so they run in
 * worker threads only. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _PinholeDbFiles PinholeDbFiles;

PinholeDbFiles *pinhole_db_files_new   (const char     *path);
gboolean        pinhole_db_files_sync  (PinholeDbFiles *files,
                                        GError        **error);
void            pinhole_db_files_free  (PinholeDbFiles *files);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeDbFiles, pinhole_db_files_free)

void            pinhole_db_checkpoint_async (GObject             *source,
                                             const char          *path,
                                             GAsyncReadyCallback  callback);

G_END_DECLS
