/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-profile-private.h: the SQLite helpers of pinhole-profile.c that
 * pinhole-profile-keys.c (contacts' device keys, their trust and verification) shares. */
#pragma once

#include <sqlite3.h>

#include "pinhole-profile.h"

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

sqlite3_stmt *_pinhole_profile_prepare    (PinholeProfile *self,
                                           const char     *sql,
                                           GError        **error);
gboolean      _pinhole_profile_step_done  (PinholeProfile *self,
                                           sqlite3_stmt   *stmt,
                                           GError        **error);
gboolean      _pinhole_profile_sql_failed (PinholeProfile *self,
                                           GError        **error);
void          _pinhole_profile_bind_bytes (sqlite3_stmt   *stmt,
                                           int             i,
                                           GBytes         *bytes);

G_END_DECLS
