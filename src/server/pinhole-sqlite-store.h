/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-sqlite-store.h: PinholeStore on one SQLite database file (WAL, full sync). */
#pragma once

#include "pinhole-store.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_SQLITE_STORE (pinhole_sqlite_store_get_type ())
G_DECLARE_FINAL_TYPE (PinholeSqliteStore, pinhole_sqlite_store, PINHOLE, SQLITE_STORE, GObject)

PinholeStore *pinhole_sqlite_store_open (const char *path,
                                         GError    **error);

G_END_DECLS
