/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server-url.h: server addresses, completed and compared (pinhole-server-url.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

GUri *_pinhole_server_uri_parse (const char *url,
                                 gboolean   *completed);
gboolean _pinhole_server_urls_equal (const char *a,
                                     const char *b);

G_END_DECLS
