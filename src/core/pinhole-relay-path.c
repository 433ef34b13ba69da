/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-relay-path.c: session packets carried as binary WebSocket messages on one relay
 * channel (docs/protocol.md §7). Packets that arrive before anyone listens are held (bounded)
 * until _pinhole_relay_path_release(), so that a session can attach after an async look-up.
 * What the connection's PinholeWsStream still holds for the socket is the path's queued bytes
 * (every channel of the connection shares them), and its ::drained is the path's. */
#define G_LOG_DOMAIN "pinhole-relay"

#include "pinhole-relay-path.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"
#include "pinhole-ws-stream.h"

#define MAX_HELD 64

struct _PinholeRelayPath
{
  GObject                  parent_instance;

  /* owned */
  SoupWebsocketConnection *ws;
  PinholeWsStream         *stream;   /* the connection's, when it runs on one */
  GQueue                   held;     /* GBytes, while not released */

  gulong                   drained_id;

  guint32                  channel;
  gboolean                 released;
  gboolean                 closed;
};

static void pinhole_relay_path_iface_init (PinholePathInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PinholeRelayPath, pinhole_relay_path, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PINHOLE_TYPE_PATH,
                                                      pinhole_relay_path_iface_init))

static gboolean
relay_send (PinholePath *path,
            GBytes      *packet,
            GError     **error)
{
  PinholeRelayPath *self = PINHOLE_RELAY_PATH (path);
  g_autoptr(GBytes) frame = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (packet, &len);

  if (self->closed || soup_websocket_connection_get_state (self->ws) !=
      SOUP_WEBSOCKET_STATE_OPEN)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                           "the relay connection is closed");
      return FALSE;
    }
  if (len > PINHOLE_RELAY_MAX_PAYLOAD)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "packet of %" G_GSIZE_FORMAT " bytes exceeds the relay limit", len);
      return FALSE;
    }
  frame = pinhole_relay_frame_build (self->channel, data, len);
  data = g_bytes_get_data (frame, &len);
  soup_websocket_connection_send_binary (self->ws, data, len);
  return TRUE;
}

static gsize
relay_get_queued_bytes (PinholePath *path)
{
  PinholeRelayPath *self = PINHOLE_RELAY_PATH (path);

  return self->stream != NULL ? pinhole_ws_stream_get_queued_bytes (self->stream) : 0;
}

static void
stream_drained_cb (PinholeWsStream  *stream,
                   PinholeRelayPath *self)
{
  if (!self->closed)
    pinhole_path_emit_drained (PINHOLE_PATH (self));
}

static PinholePathKind
relay_get_kind (PinholePath *path)
{
  return PINHOLE_PATH_KIND_RELAY;
}

static const char *
relay_get_remote (PinholePath *path)
{
  return "server";
}

static void
relay_close (PinholePath *path)
{
  PinholeRelayPath *self = PINHOLE_RELAY_PATH (path);

  if (self->closed)
    return;
  self->closed = TRUE;
  g_queue_clear_full (&self->held, (GDestroyNotify) g_bytes_unref);
  pinhole_path_emit_closed (path, NULL);
}

static void
pinhole_relay_path_iface_init (PinholePathInterface *iface)
{
  iface->send = relay_send;
  iface->get_queued_bytes = relay_get_queued_bytes;
  iface->get_kind = relay_get_kind;
  iface->get_remote = relay_get_remote;
  iface->close = relay_close;
}

static void
pinhole_relay_path_finalize (GObject *object)
{
  PinholeRelayPath *self = PINHOLE_RELAY_PATH (object);

  g_queue_clear_full (&self->held, (GDestroyNotify) g_bytes_unref);
  if (self->stream != NULL)
    g_clear_signal_handler (&self->drained_id, self->stream);
  g_clear_object (&self->stream);
  g_clear_object (&self->ws);
  G_OBJECT_CLASS (pinhole_relay_path_parent_class)->finalize (object);
}

static void
pinhole_relay_path_class_init (PinholeRelayPathClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pinhole_relay_path_finalize;
}

static void
pinhole_relay_path_init (PinholeRelayPath *self)
{
  g_queue_init (&self->held);
}

/* Returns: (transfer full): a path on @channel of the client's server connection @ws */
PinholeRelayPath *
pinhole_relay_path_new (SoupWebsocketConnection *ws,
                        guint32                  channel)
{
  PinholeRelayPath *self = g_object_new (PINHOLE_TYPE_RELAY_PATH, NULL);
  GIOStream *stream = soup_websocket_connection_get_io_stream (ws);

  self->ws = g_object_ref (ws);
  self->channel = channel;
  if (PINHOLE_IS_WS_STREAM (stream))
    {
      self->stream = g_object_ref (PINHOLE_WS_STREAM (stream));
      self->drained_id = g_signal_connect (stream, "drained", G_CALLBACK (stream_drained_cb),
                                           self);
    }
  return self;
}

guint32
pinhole_relay_path_get_channel (PinholeRelayPath *self)
{
  return self->channel;
}

/* a packet from the server for this channel */
void
_pinhole_relay_path_deliver (PinholeRelayPath *self,
                             GBytes           *packet)
{
  if (self->closed)
    return;
  if (!self->released)
    {
      if (g_queue_get_length (&self->held) < MAX_HELD)
        g_queue_push_tail (&self->held, g_bytes_ref (packet));
      else
        g_debug ("relay channel %u: dropping a packet, nobody listens yet", self->channel);
      return;
    }
  pinhole_path_emit_received (PINHOLE_PATH (self), packet);
}

/* from now on packets go straight to ::received listeners, held ones first */
void
_pinhole_relay_path_release (PinholeRelayPath *self)
{
  g_autoptr(PinholeRelayPath) hold G_GNUC_UNUSED = g_object_ref (self);
  GBytes *packet;

  self->released = TRUE;
  while (!self->closed && (packet = g_queue_pop_head (&self->held)) != NULL)
    {
      pinhole_path_emit_received (PINHOLE_PATH (self), packet);
      g_bytes_unref (packet);
    }
}

/* the server closed the channel, or the connection to the server was lost */
void
_pinhole_relay_path_lost (PinholeRelayPath *self,
                          const GError     *error)
{
  if (self->closed)
    return;
  self->closed = TRUE;
  g_queue_clear_full (&self->held, (GDestroyNotify) g_bytes_unref);
  pinhole_path_emit_closed (PINHOLE_PATH (self), error);
}
