/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server-url.h: server addresses, completed and compared (pinhole-server-url.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

GUri *_pinhole_server_uri_parse (const char *url,
                                 gboolean   *completed);

G_END_DECLS
