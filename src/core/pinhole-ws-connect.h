/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-ws-connect.h: a client's WebSocket to the server (RFC 6455 §4.1), opened on a
 * PinholeWsStream so that what the server sends is bounded like what it receives. */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

void                     _pinhole_ws_connect_async  (GUri               *uri,
                                                     const char         *protocol,
                                                     const char         *user_agent,
                                                     GTlsDatabase       *database,
                                                     SoupMessage        *msg,
                                                     GCancellable       *cancellable,
                                                     GAsyncReadyCallback callback,
                                                     gpointer            user_data);
SoupWebsocketConnection *_pinhole_ws_connect_finish (GAsyncResult       *result,
                                                     GError            **error);

G_END_DECLS
