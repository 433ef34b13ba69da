/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-sqlite-store.h: PinholeStore on one SQLite database file in WAL mode: commits on the
 * main loop write the WAL without an fsync; pinhole_store_sync_async() fsyncs it in a worker
 * thread, one sync for all the writes that waited (group commit), and checkpoints run in a
 * worker too, so that the main loop never waits for the disk. */
#pragma once

#include "pinhole-store.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_SQLITE_STORE (pinhole_sqlite_store_get_type ())
G_DECLARE_FINAL_TYPE (PinholeSqliteStore, pinhole_sqlite_store, PINHOLE, SQLITE_STORE, GObject)

PinholeStore *pinhole_sqlite_store_open (const char *path,
                                         GError    **error);
guint         pinhole_sqlite_store_get_n_syncs (PinholeSqliteStore *self);

G_END_DECLS
