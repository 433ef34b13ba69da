/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-endpoint-tcp.c: the endpoint's TCP port: the listener, whose first frame on each
 * connection must be a STUN request, connections out of the same port (SO_REUSEPORT, RFC 6544
 * simultaneous open), and one framed STUN message over such a connection. */
#define G_LOG_DOMAIN "pinhole-endpoint"

#include "pinhole-endpoint-private.h"
#include "pinhole-candidate.h"
#include "pinhole-error.h"
#include "pinhole-path.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define MAX_TCP_STUN       2048
#define TCP_FIRST_FRAME_MS 5000
#define MAX_PENDING_ACCEPT 64

/* ---- sockets sharing the port ---- */

static gboolean
set_reuse (GSocket *socket,
           GError **error)
{
  return g_socket_set_option (socket, SOL_SOCKET, SO_REUSEADDR, 1, error) &&
         g_socket_set_option (socket, SOL_SOCKET, SO_REUSEPORT, 1, error);
}

/**
 * pinhole_socket_bind_shared:
 * Binds @socket to @address with SO_REUSEADDR and SO_REUSEPORT, so that a TCP listener and
 * connections out of the same port coexist. g_socket_bind() cannot: it resets SO_REUSEPORT
 * on stream sockets.
 */
gboolean
pinhole_socket_bind_shared (GSocket        *socket,
                            GSocketAddress *address,
                            GError        **error)
{
  struct sockaddr_storage native;
  gssize len = g_socket_address_get_native_size (address);

  if (!set_reuse (socket, error) ||
      len < 0 || !g_socket_address_to_native (address, &native, sizeof native, error))
    return FALSE;
  if (bind (g_socket_get_fd (socket), (struct sockaddr *) &native, (socklen_t) len) != 0)
    {
      int saved = errno;
      g_autofree char *text = pinhole_socket_address_to_string (address);

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot bind to %s: %s",
                   text, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

GSocket *
_pinhole_endpoint_tcp_socket_on (guint16  port,
                                 GError **error)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, error);
  g_autoptr(GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) local = g_inet_socket_address_new (any, port);

  if (socket == NULL)
    return NULL;
  /* the TCP path turns Nagle off itself; checks are small and must not wait */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  if (!pinhole_socket_bind_shared (socket, local, error))
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  return g_steal_pointer (&socket);
}

/* ---- TCP accept: the first frame on an accepted connection must be a STUN request ---- */

static void
accepted_first_frame_cb (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(PinholeEndpoint) self = user_data;
  GIOStream *stream = G_IO_STREAM (source);
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) msg = pinhole_tcp_stun_read_finish (stream, result, &error);
  g_autoptr(GSocketAddress) from = NULL;

  self->n_accepting--;
  if (msg == NULL || msg->klass != PINHOLE_STUN_CLASS_REQUEST)
    {
      g_debug ("accepted TCP connection dropped: %s",
               error ? error->message : "first frame is not a STUN request");
      g_io_stream_close (stream, NULL, NULL);
      return;
    }
  from = g_socket_connection_get_remote_address (G_SOCKET_CONNECTION (stream), NULL);
  if (from == NULL)
    return;
  _pinhole_endpoint_route_request (self, msg, from, stream);
}

static gboolean
first_frame_timeout_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

gboolean
_pinhole_endpoint_accept_cb (GSocket      *socket,
                             GIOCondition  condition,
                             gpointer      user_data)
{
  PinholeEndpoint *self = user_data;

  for (guint i = 0; i < 16; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) client = g_socket_accept (socket, NULL, &error);
      g_autoptr(GSocketConnection) connection = NULL;
      g_autoptr(GCancellable) cancellable = NULL;

      if (client == NULL)
        break;
      if (self->n_accepting >= MAX_PENDING_ACCEPT)
        {
          g_debug ("too many TCP connections waiting for their first frame: refused");
          continue;
        }
      g_socket_set_option (client, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
      connection = g_socket_connection_factory_create_connection (client);
      cancellable = g_cancellable_new ();
      g_timeout_add_full (G_PRIORITY_DEFAULT, TCP_FIRST_FRAME_MS, first_frame_timeout_cb,
                          g_object_ref (cancellable), g_object_unref);
      self->n_accepting++;
      pinhole_tcp_stun_read_async (G_IO_STREAM (connection), cancellable,
                                   accepted_first_frame_cb, g_object_ref (self));
    }
  return G_SOURCE_CONTINUE;
}

/* ---- TCP connect from the shared port ---- */

typedef struct
{
  GSocket *socket;
  GSource *source;
  guint    timeout;
} Connect;

static void
connect_free (Connect *c)
{
  if (c->source != NULL)
    {
      g_source_destroy (c->source);
      g_source_unref (c->source);
    }
  g_clear_handle_id (&c->timeout, g_source_remove);
  g_clear_object (&c->socket);
  g_free (c);
}

static gboolean
connect_ready_cb (GSocket      *socket,
                  GIOCondition  condition,
                  gpointer      user_data)
{
  GTask *task = user_data;
  Connect *c = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  g_clear_handle_id (&c->timeout, g_source_remove);
  if (!g_socket_check_connect_result (socket, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, g_socket_connection_factory_create_connection (socket),
                           g_object_unref);
  g_clear_pointer (&c->source, g_source_unref);
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

static gboolean
connect_timeout_cb (gpointer user_data)
{
  GTask *task = user_data;
  Connect *c = g_task_get_task_data (task);

  c->timeout = 0;
  if (c->source != NULL)
    {
      g_source_destroy (c->source);
      g_clear_pointer (&c->source, g_source_unref);
    }
  g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT, "TCP connect timed out");
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

/**
 * pinhole_endpoint_tcp_connect_async:
 * Connects to @remote from the endpoint's TCP port (SO_REUSEPORT), so that the peer's NAT sees
 * the port STUN over TCP saw; when the peer connects to us at the same moment this is a TCP
 * simultaneous open (RFC 5382 §4 NATs allow it).
 */
void
pinhole_endpoint_tcp_connect_async (PinholeEndpoint     *self,
                                    GSocketAddress      *remote,
                                    guint                timeout_ms,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Connect *c = g_new0 (Connect, 1);
  g_autoptr(GError) error = NULL;

  g_task_set_source_tag (task, pinhole_endpoint_tcp_connect_async);
  g_task_set_task_data (task, c, (GDestroyNotify) connect_free);
  c->socket = _pinhole_endpoint_tcp_socket_on (self->tcp_port, &error);
  if (c->socket == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  if (g_socket_connect (c->socket, remote, NULL, &error))
    {
      g_task_return_pointer (task, g_socket_connection_factory_create_connection (c->socket),
                             g_object_unref);
      g_object_unref (task);
      return;
    }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  c->source = g_socket_create_source (c->socket, G_IO_OUT, cancellable);
  g_source_set_callback (c->source, G_SOURCE_FUNC (connect_ready_cb), task, NULL);
  g_source_attach (c->source, g_main_context_get_thread_default ());
  c->timeout = g_timeout_add (timeout_ms, connect_timeout_cb, task);
}

/* Returns: (transfer full): the connection */
GIOStream *
pinhole_endpoint_tcp_connect_finish (PinholeEndpoint *self,
                                     GAsyncResult    *result,
                                     GError         **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- framed STUN over TCP ---- */

/* writes one frame without blocking: a STUN message is small and a fresh connection's send
 * buffer is empty, so a short write means the connection is unusable */
void
pinhole_tcp_stun_write (GIOStream *stream,
                        GBytes    *message)
{
  GOutputStream *out = g_io_stream_get_output_stream (stream);
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);
  g_autofree guint8 *frame = g_malloc (PINHOLE_PATH_FRAME_HEADER + len);
  g_autoptr(GError) error = NULL;
  gssize written;

  pinhole_path_frame_header_put (frame, (guint32) len);
  memcpy (frame + PINHOLE_PATH_FRAME_HEADER, data, len);
  written = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (out), frame,
                                                        PINHOLE_PATH_FRAME_HEADER + len, NULL,
                                                        &error);
  if (written != (gssize) (PINHOLE_PATH_FRAME_HEADER + len))
    {
      g_debug ("STUN over TCP not written: %s", error ? error->message : "short write");
      g_io_stream_close (stream, NULL, NULL);
    }
}

typedef struct
{
  guint8  header[PINHOLE_PATH_FRAME_HEADER];
  guint8 *body;
  gsize   len;
} FrameRead;

static void
frame_read_free (FrameRead *r)
{
  g_free (r->body);
  g_free (r);
}

static void
body_read_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FrameRead *r = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gsize n = 0;
  PinholeStunMessage *msg;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &n, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (n != r->len)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                               "TCP connection closed inside a frame");
      return;
    }
  msg = pinhole_stun_message_decode (r->body, r->len, &error);
  if (msg == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, msg, (GDestroyNotify) pinhole_stun_message_free);
}

static void
header_read_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FrameRead *r = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GCancellable *cancellable;
  gsize n = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &n, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (n != PINHOLE_PATH_FRAME_HEADER)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                               "TCP connection closed before a frame");
      return;
    }
  r->len = pinhole_path_frame_header_get (r->header);
  if (r->len < PINHOLE_STUN_HEADER_LEN || r->len > MAX_TCP_STUN)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                               "TCP frame of %" G_GSIZE_FORMAT " bytes is no STUN message",
                               r->len);
      return;
    }
  r->body = g_malloc (r->len);
  cancellable = g_task_get_cancellable (task);
  g_input_stream_read_all_async (G_INPUT_STREAM (source), r->body, r->len, G_PRIORITY_DEFAULT,
                                 cancellable, body_read_cb, g_steal_pointer (&task));
}

/* reads exactly one framed STUN message and nothing more */
void
pinhole_tcp_stun_read_async (GIOStream           *stream,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  GTask *task = g_task_new (stream, cancellable, callback, user_data);
  FrameRead *r = g_new0 (FrameRead, 1);

  g_task_set_source_tag (task, pinhole_tcp_stun_read_async);
  g_task_set_task_data (task, r, (GDestroyNotify) frame_read_free);
  g_input_stream_read_all_async (g_io_stream_get_input_stream (stream), r->header,
                                 PINHOLE_PATH_FRAME_HEADER, G_PRIORITY_DEFAULT, cancellable,
                                 header_read_cb, task);
}

/* Returns: (transfer full): the decoded message */
PinholeStunMessage *
pinhole_tcp_stun_read_finish (GIOStream    *stream,
                              GAsyncResult *result,
                              GError      **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
