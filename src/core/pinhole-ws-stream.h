/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-ws-stream.h: the stream a WebSocket runs on, with its incoming messages bounded
 * and its outgoing bytes counted. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PINHOLE_TYPE_WS_STREAM (pinhole_ws_stream_get_type ())
G_DECLARE_FINAL_TYPE (PinholeWsStream, pinhole_ws_stream, PINHOLE, WS_STREAM, GIOStream)

PinholeWsStream *pinhole_ws_stream_new            (GIOStream       *base,
                                                   gboolean         http_head,
                                                   guint64          max_text,
                                                   guint64          max_binary);
void             pinhole_ws_stream_stop_input     (PinholeWsStream *self);
void             pinhole_ws_stream_set_max_queued (PinholeWsStream *self,
                                                   gsize            max_bytes);
GIOStream       *pinhole_ws_stream_get_base       (PinholeWsStream *self);
gsize            pinhole_ws_stream_get_queued_bytes (PinholeWsStream *self);
guint64          pinhole_ws_stream_get_written_bytes (PinholeWsStream *self);

G_END_DECLS
