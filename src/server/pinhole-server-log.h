/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server-log.h: the server's log as JSON lines (--log-json). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void pinhole_server_log_use_json (void);

G_END_DECLS
