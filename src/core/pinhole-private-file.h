/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-private-file.h: a database file only its owner can read, for the server's store and
 * each profile (SQLite has no option for the mode of the files it creates). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean pinhole_private_file_prepare (const char *path,
                                       GError    **error);

G_END_DECLS
