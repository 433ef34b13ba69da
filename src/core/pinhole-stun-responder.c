/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-stun-responder.c: answers STUN Binding requests (RFC 8489 §6.3) on one UDP socket and
 * on TCP connections, with 420 + UNKNOWN-ATTRIBUTES for unknown comprehension-required ones. */
#define G_LOG_DOMAIN "pinhole-stun"

#include "pinhole-stun-responder.h"
#include "pinhole-acceptor.h"
#include "pinhole-error.h"
#include "pinhole-stun-message.h"

#include <string.h>

#define DEFAULT_MAX_CONNECTIONS 128
/* one address cannot take every slot, nor hold one long without asking */
#define MAX_PER_ADDRESS         8
#define FIRST_MESSAGE_MS        3000
#define DEFAULT_IDLE_TIMEOUT_MS 30000
#define DEFAULT_MAX_BUFFER      2048
#define MIN_BUFFER              (PINHOLE_STUN_HEADER_LEN + 4)
#define UDP_RECV_BUFFER         2048
#define UDP_READS_PER_WAKEUP    64
#define TCP_READ_CHUNK          1024
/* attempts to find a port free for both UDP and TCP when asked for port 0 */
#define PORT_ATTEMPTS           16

typedef struct _Conn Conn;

struct _PinholeStunResponder
{
  GObject           parent_instance;

  /* owned */
  GSocket          *udp_socket;
  GSource          *udp_source;
  PinholeAcceptor  *acceptor;      /* STUN over TCP */
  GPtrArray        *conns;         /* Conn *, freed by conn_close */
  char             *software;

  guint16           udp_port;
  guint16           tcp_port;
  guint             max_connections;
  guint             idle_timeout_ms;
  guint             max_buffer;
};

struct _Conn
{
  /* borrowed: NULL once the responder let go of the connection */
  PinholeStunResponder *self;

  /* owned */
  GSocketConnection    *connection;
  GSocketAddress       *remote;
  GCancellable         *cancellable;
  GSource              *idle;
  GByteArray           *buffer;
  GBytes               *reply;

  guint8                chunk[TCP_READ_CHUNK];
  gboolean              pending;   /* a read or write is in flight */
  gboolean              answered;  /* a request came: from now on the idle timeout applies */
  gboolean              closed;
};

G_DEFINE_FINAL_TYPE (PinholeStunResponder, pinhole_stun_responder, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_UDP_PORT,
  PROP_TCP_PORT,
  PROP_MAX_CONNECTIONS,
  PROP_IDLE_TIMEOUT_MS,
  PROP_MAX_BUFFER,
  PROP_SOFTWARE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* a peer on an IPv4-mapped IPv6 address is an IPv4 peer */
static GSocketAddress *
unmap_address (GSocketAddress *address)
{
  GInetSocketAddress *inet;
  GInetAddress *ip;
  const guint8 *bytes;
  static const guint8 prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  g_autoptr(GInetAddress) v4 = NULL;

  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return g_object_ref (address);
  inet = G_INET_SOCKET_ADDRESS (address);
  ip = g_inet_socket_address_get_address (inet);
  if (g_inet_address_get_family (ip) != G_SOCKET_FAMILY_IPV6)
    return g_object_ref (address);
  bytes = g_inet_address_to_bytes (ip);
  if (memcmp (bytes, prefix, sizeof prefix) != 0)
    return g_object_ref (address);
  v4 = g_inet_address_new_from_bytes (bytes + 12, G_SOCKET_FAMILY_IPV4);
  return g_inet_socket_address_new (v4, g_inet_socket_address_get_port (inet));
}

/* the answer to one message, or NULL when it gets none (§6.3: only requests are answered) */
static GBytes *
build_reply (PinholeStunResponder  *self,
             const guint8          *data,
             gsize                  len,
             GSocketAddress        *from,
             GError               **error)
{
  g_autoptr(PinholeStunMessage) request = NULL;
  g_autoptr(PinholeStunMessage) reply = NULL;

  request = pinhole_stun_message_decode (data, len, error);
  if (request == NULL)
    return NULL;
  if (request->klass != PINHOLE_STUN_CLASS_REQUEST)
    {
      g_debug ("dropping STUN message of class %d", request->klass);
      return NULL;
    }

  if (request->unknown_required != NULL)
    {
      /* §6.3.1: "If the request contains one or more unknown comprehension-required
       * attributes, the server replies with an error response with an error code of 420
       * (Unknown Attribute) and includes an UNKNOWN-ATTRIBUTES attribute" */
      reply = pinhole_stun_message_new (PINHOLE_STUN_CLASS_ERROR, request->method,
                                        request->transaction_id);
      reply->error_code = 420;
      reply->error_reason = g_strdup ("Unknown Attribute");
      reply->unknown_attributes = g_array_ref (request->unknown_required);
    }
  else if (request->method != PINHOLE_STUN_METHOD_BINDING)
    {
      reply = pinhole_stun_message_new (PINHOLE_STUN_CLASS_ERROR, request->method,
                                        request->transaction_id);
      reply->error_code = 400;
      reply->error_reason = g_strdup ("Unsupported method");
    }
  else
    {
      /* §7.3.1: the success response carries the source transport address in
       * XOR-MAPPED-ADDRESS */
      reply = pinhole_stun_message_new (PINHOLE_STUN_CLASS_SUCCESS, PINHOLE_STUN_METHOD_BINDING,
                                        request->transaction_id);
      reply->xor_mapped_address = G_INET_SOCKET_ADDRESS (unmap_address (from));
    }
  reply->software = g_strdup (self->software);
  return pinhole_stun_message_encode (reply, NULL, 0, TRUE, error);
}

/* UDP */

static gboolean
udp_read_cb (GSocket      *socket,
             GIOCondition  condition,
             gpointer      user_data)
{
  PinholeStunResponder *self = user_data;
  guint8 buffer[UDP_RECV_BUFFER];

  for (guint i = 0; i < UDP_READS_PER_WAKEUP; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocketAddress) from = NULL;
      g_autoptr(GBytes) reply = NULL;
      gssize n;

      n = g_socket_receive_from (socket, &from, (char *) buffer, sizeof buffer, NULL, &error);
      if (n < 0)
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            g_debug ("STUN responder receive: %s", error->message);
          break;
        }
      reply = build_reply (self, buffer, (gsize) n, from, &error);
      if (reply == NULL)
        {
          if (error != NULL)
            g_debug ("dropping UDP datagram: %s", error->message);
          continue;
        }
      if (g_socket_send_to (socket, from, g_bytes_get_data (reply, NULL),
                            g_bytes_get_size (reply), NULL, &error) < 0)
        g_debug ("STUN responder send: %s", error->message);
    }
  return G_SOURCE_CONTINUE;
}

/* TCP */

static void conn_process (Conn *conn);

static void
conn_free (Conn *conn)
{
  g_assert (!conn->pending);
  g_clear_object (&conn->connection);
  g_clear_object (&conn->remote);
  g_clear_object (&conn->cancellable);
  g_clear_pointer (&conn->buffer, g_byte_array_unref);
  g_clear_pointer (&conn->reply, g_bytes_unref);
  g_free (conn);
}

/* forgets the connection; the memory goes when no operation refers to it any more */
static void
conn_close (Conn *conn)
{
  if (conn->closed)
    return;
  conn->closed = TRUE;
  if (conn->idle != NULL)
    {
      g_source_destroy (conn->idle);
      g_clear_pointer (&conn->idle, g_source_unref);
    }
  g_cancellable_cancel (conn->cancellable);
  if (conn->self != NULL)
    {
      g_ptr_array_remove_fast (conn->self->conns, conn);
      conn->self = NULL;
    }
  if (!conn->pending)
    {
      g_io_stream_close (G_IO_STREAM (conn->connection), NULL, NULL);
      conn_free (conn);
    }
}

/* an operation came back: FALSE when the connection was closed meanwhile (and is freed now) */
static gboolean
conn_op_done (Conn *conn)
{
  conn->pending = FALSE;
  if (!conn->closed)
    return TRUE;
  g_io_stream_close (G_IO_STREAM (conn->connection), NULL, NULL);
  conn_free (conn);
  return FALSE;
}

static gboolean
conn_idle_cb (gpointer user_data)
{
  Conn *conn = user_data;

  g_debug ("closing idle STUN TCP connection");
  g_clear_pointer (&conn->idle, g_source_unref);
  conn_close (conn);
  return G_SOURCE_REMOVE;
}

static void
conn_touch (Conn *conn)
{
  if (conn->idle != NULL)
    {
      g_source_destroy (conn->idle);
      g_clear_pointer (&conn->idle, g_source_unref);
    }
  conn->idle = g_timeout_source_new (conn->answered ? conn->self->idle_timeout_ms
                                     : MIN (FIRST_MESSAGE_MS, conn->self->idle_timeout_ms));
  g_source_set_callback (conn->idle, conn_idle_cb, conn, NULL);
  g_source_set_static_name (conn->idle, "[pinhole] STUN TCP idle");
  g_source_attach (conn->idle, g_main_context_get_thread_default ());
}

static void
conn_write_cb (GObject      *source,
               GAsyncResult *res,
               gpointer      user_data)
{
  Conn *conn = user_data;
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), res, NULL, &error);
  g_clear_pointer (&conn->reply, g_bytes_unref);
  if (!conn_op_done (conn))
    return;
  if (error != NULL)
    {
      g_debug ("STUN TCP write: %s", error->message);
      conn_close (conn);
      return;
    }
  conn_process (conn);
}

static void
conn_read_cb (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data)
{
  Conn *conn = user_data;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), res, &error);
  if (!conn_op_done (conn))
    return;
  if (n <= 0)
    {
      if (error != NULL)
        g_debug ("STUN TCP read: %s", error->message);
      conn_close (conn);
      return;
    }
  g_byte_array_append (conn->buffer, conn->chunk, (guint) n);
  conn_touch (conn);
  conn_process (conn);
}

/* answers the first whole message in the buffer, or reads more */
static void
conn_process (Conn *conn)
{
  PinholeStunResponder *self = conn->self;
  g_autoptr(GError) error = NULL;
  gsize total;
  gsize room;

  g_assert (!conn->pending && !conn->closed && self != NULL);

  while (conn->buffer->len >= PINHOLE_STUN_HEADER_LEN)
    {
      g_autoptr(GBytes) reply = NULL;

      /* STUN over TCP is self-delimiting; a header that is not STUN loses the framing */
      if (!pinhole_stun_message_looks_like_stun (conn->buffer->data, conn->buffer->len))
        {
          g_debug ("closing STUN TCP connection: not STUN");
          conn_close (conn);
          return;
        }
      total = PINHOLE_STUN_HEADER_LEN
              + (gsize) (conn->buffer->data[2] << 8 | conn->buffer->data[3]);
      if (total > self->max_buffer)
        {
          g_debug ("closing STUN TCP connection: message of %" G_GSIZE_FORMAT
                   " bytes exceeds %u", total, self->max_buffer);
          conn_close (conn);
          return;
        }
      if (conn->buffer->len < total)
        break;

      reply = build_reply (self, conn->buffer->data, total, conn->remote, &error);
      g_byte_array_remove_range (conn->buffer, 0, (guint) total);
      if (!conn->answered)
        {
          conn->answered = TRUE;
          conn_touch (conn);
        }
      if (reply == NULL && error != NULL)
        {
          g_debug ("closing STUN TCP connection: %s", error->message);
          conn_close (conn);
          return;
        }
      if (reply != NULL)
        {
          conn->reply = g_steal_pointer (&reply);
          conn->pending = TRUE;
          g_output_stream_write_all_async (
            g_io_stream_get_output_stream (G_IO_STREAM (conn->connection)),
            g_bytes_get_data (conn->reply, NULL), g_bytes_get_size (conn->reply),
            G_PRIORITY_DEFAULT, conn->cancellable, conn_write_cb, conn);
          return;
        }
    }

  /* max-buffer may have shrunk under a partial message */
  if (conn->buffer->len >= self->max_buffer)
    {
      conn_close (conn);
      return;
    }
  room = self->max_buffer - conn->buffer->len;
  conn->pending = TRUE;
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (conn->connection)),
                             conn->chunk, MIN (room, sizeof conn->chunk), G_PRIORITY_DEFAULT,
                             conn->cancellable, conn_read_cb, conn);
}

static void
incoming_cb (PinholeAcceptor   *acceptor,
             GSocketConnection *connection,
             gpointer           user_data)
{
  PinholeStunResponder *self = user_data;
  Conn *conn;

  if (self->conns->len >= self->max_connections)
    {
      g_debug ("refusing STUN TCP connection: %u open", self->conns->len);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return;
    }

  conn = g_new0 (Conn, 1);
  conn->self = self;
  conn->connection = g_object_ref (connection);
  conn->remote = g_socket_connection_get_remote_address (connection, NULL);
  conn->cancellable = g_cancellable_new ();
  conn->buffer = g_byte_array_new ();
  if (conn->remote == NULL)
    {
      conn_free (conn);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return;
    }
  g_ptr_array_add (self->conns, conn);
  conn_touch (conn);
  conn_process (conn);
}

/* listening */

static GSocket *
bind_socket (GInetAddress    *address,
             guint16          port,
             GSocketType      type,
             GError         **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) local = g_inet_socket_address_new (address, port);

  socket = g_socket_new (g_inet_address_get_family (address), type,
                         type == G_SOCKET_TYPE_STREAM ? G_SOCKET_PROTOCOL_TCP
                                                      : G_SOCKET_PROTOCOL_UDP, error);
  if (socket == NULL)
    return NULL;
  /* TCP: SO_REUSEADDR, so that a restart finds the port despite TIME_WAIT; UDP: no reuse,
   * so that a second responder cannot share the port */
  if (!g_socket_bind (socket, local, type == G_SOCKET_TYPE_STREAM, error))
    return NULL;
  g_socket_set_listen_backlog (socket, PINHOLE_ACCEPTOR_BACKLOG);
  if (type == G_SOCKET_TYPE_STREAM && !g_socket_listen (socket, error))
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  return g_steal_pointer (&socket);
}

static guint16
socket_port (GSocket *socket)
{
  g_autoptr(GSocketAddress) local = g_socket_get_local_address (socket, NULL);

  return local != NULL ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)) : 0;
}

/**
 * pinhole_stun_responder_listen:
 * @address: the local address to serve on
 * @port: the UDP and TCP port; 0 picks one port free for both
 *
 * Returns: %TRUE when both the UDP socket and the TCP listener are bound
 */
gboolean
pinhole_stun_responder_listen (PinholeStunResponder  *self,
                               GInetAddress          *address,
                               guint16                port,
                               GError               **error)
{
  g_autoptr(GSocket) udp = NULL;
  g_autoptr(GSocket) tcp = NULL;

  g_return_val_if_fail (PINHOLE_IS_STUN_RESPONDER (self), FALSE);
  g_return_val_if_fail (G_IS_INET_ADDRESS (address), FALSE);
  g_return_val_if_fail (self->udp_socket == NULL, FALSE);

  for (guint attempt = 0; attempt < PORT_ATTEMPTS; attempt++)
    {
      g_autoptr(GError) local_error = NULL;

      g_clear_object (&udp);
      udp = bind_socket (address, port, G_SOCKET_TYPE_DATAGRAM, error);
      if (udp == NULL)
        return FALSE;
      tcp = bind_socket (address, socket_port (udp), G_SOCKET_TYPE_STREAM, &local_error);
      if (tcp != NULL)
        break;
      if (port != 0 || !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_debug ("TCP port %u is taken, trying another", socket_port (udp));
    }
  if (tcp == NULL)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                   "No port free for both UDP and TCP after %u attempts", PORT_ATTEMPTS);
      return FALSE;
    }

  /* the responder counts its connections itself (max-connections can change) */
  self->acceptor = pinhole_acceptor_new (tcp, G_MAXUINT, MAX_PER_ADDRESS);
  g_signal_connect_object (self->acceptor, "incoming", G_CALLBACK (incoming_cb), self, 0);
  pinhole_acceptor_start (self->acceptor);

  self->udp_socket = g_steal_pointer (&udp);
  self->udp_source = g_socket_create_source (self->udp_socket, G_IO_IN, NULL);
  g_source_set_callback (self->udp_source, G_SOURCE_FUNC (udp_read_cb), self, NULL);
  g_source_set_static_name (self->udp_source, "[pinhole] STUN responder UDP");
  g_source_attach (self->udp_source, g_main_context_get_thread_default ());

  self->udp_port = socket_port (self->udp_socket);
  self->tcp_port = socket_port (tcp);
  g_debug ("STUN responder on UDP %u and TCP %u", self->udp_port, self->tcp_port);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UDP_PORT]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TCP_PORT]);
  return TRUE;
}

/**
 * pinhole_stun_responder_stop:
 * Closes the sockets and every TCP connection. Idempotent.
 */
void
pinhole_stun_responder_stop (PinholeStunResponder *self)
{
  g_return_if_fail (PINHOLE_IS_STUN_RESPONDER (self));

  while (self->conns->len > 0)
    conn_close (g_ptr_array_index (self->conns, self->conns->len - 1));
  if (self->acceptor != NULL)
    {
      pinhole_acceptor_stop (self->acceptor);
      g_signal_handlers_disconnect_by_data (self->acceptor, self);
      g_clear_object (&self->acceptor);
    }
  if (self->udp_source != NULL)
    {
      g_source_destroy (self->udp_source);
      g_clear_pointer (&self->udp_source, g_source_unref);
    }
  if (self->udp_socket != NULL)
    {
      g_socket_close (self->udp_socket, NULL);
      g_clear_object (&self->udp_socket);
    }
}

guint16
pinhole_stun_responder_get_udp_port (PinholeStunResponder *self)
{
  g_return_val_if_fail (PINHOLE_IS_STUN_RESPONDER (self), 0);
  return self->udp_port;
}

guint16
pinhole_stun_responder_get_tcp_port (PinholeStunResponder *self)
{
  g_return_val_if_fail (PINHOLE_IS_STUN_RESPONDER (self), 0);
  return self->tcp_port;
}

guint
pinhole_stun_responder_get_n_connections (PinholeStunResponder *self)
{
  g_return_val_if_fail (PINHOLE_IS_STUN_RESPONDER (self), 0);
  return self->conns->len;
}

guint
pinhole_stun_responder_get_max_connections (PinholeStunResponder *self)
{
  g_return_val_if_fail (PINHOLE_IS_STUN_RESPONDER (self), 0);
  return self->max_connections;
}

void
pinhole_stun_responder_set_max_connections (PinholeStunResponder *self,
                                            guint                 max)
{
  g_return_if_fail (PINHOLE_IS_STUN_RESPONDER (self));
  if (self->max_connections == max)
    return;
  self->max_connections = max;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_CONNECTIONS]);
}

guint
pinhole_stun_responder_get_idle_timeout_ms (PinholeStunResponder *self)
{
  g_return_val_if_fail (PINHOLE_IS_STUN_RESPONDER (self), 0);
  return self->idle_timeout_ms;
}

void
pinhole_stun_responder_set_idle_timeout_ms (PinholeStunResponder *self,
                                            guint                 ms)
{
  g_return_if_fail (PINHOLE_IS_STUN_RESPONDER (self));
  g_return_if_fail (ms > 0);
  if (self->idle_timeout_ms == ms)
    return;
  self->idle_timeout_ms = ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IDLE_TIMEOUT_MS]);
}

guint
pinhole_stun_responder_get_max_buffer (PinholeStunResponder *self)
{
  g_return_val_if_fail (PINHOLE_IS_STUN_RESPONDER (self), 0);
  return self->max_buffer;
}

void
pinhole_stun_responder_set_max_buffer (PinholeStunResponder *self,
                                       guint                 bytes)
{
  g_return_if_fail (PINHOLE_IS_STUN_RESPONDER (self));
  g_return_if_fail (bytes >= MIN_BUFFER);
  if (self->max_buffer == bytes)
    return;
  self->max_buffer = bytes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_BUFFER]);
}

const char *
pinhole_stun_responder_get_software (PinholeStunResponder *self)
{
  g_return_val_if_fail (PINHOLE_IS_STUN_RESPONDER (self), NULL);
  return self->software;
}

void
pinhole_stun_responder_set_software (PinholeStunResponder *self,
                                     const char           *software)
{
  g_return_if_fail (PINHOLE_IS_STUN_RESPONDER (self));
  if (g_strcmp0 (self->software, software) == 0)
    return;
  g_free (self->software);
  self->software = g_strdup (software);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SOFTWARE]);
}

PinholeStunResponder *
pinhole_stun_responder_new (void)
{
  return g_object_new (PINHOLE_TYPE_STUN_RESPONDER, NULL);
}

static void
pinhole_stun_responder_dispose (GObject *object)
{
  PinholeStunResponder *self = PINHOLE_STUN_RESPONDER (object);

  pinhole_stun_responder_stop (self);
  G_OBJECT_CLASS (pinhole_stun_responder_parent_class)->dispose (object);
}

static void
pinhole_stun_responder_finalize (GObject *object)
{
  PinholeStunResponder *self = PINHOLE_STUN_RESPONDER (object);

  g_ptr_array_unref (self->conns);
  g_free (self->software);
  G_OBJECT_CLASS (pinhole_stun_responder_parent_class)->finalize (object);
}

static void
pinhole_stun_responder_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  PinholeStunResponder *self = PINHOLE_STUN_RESPONDER (object);

  switch (prop_id)
    {
    case PROP_UDP_PORT:
      g_value_set_uint (value, self->udp_port);
      break;
    case PROP_TCP_PORT:
      g_value_set_uint (value, self->tcp_port);
      break;
    case PROP_MAX_CONNECTIONS:
      g_value_set_uint (value, self->max_connections);
      break;
    case PROP_IDLE_TIMEOUT_MS:
      g_value_set_uint (value, self->idle_timeout_ms);
      break;
    case PROP_MAX_BUFFER:
      g_value_set_uint (value, self->max_buffer);
      break;
    case PROP_SOFTWARE:
      g_value_set_string (value, self->software);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pinhole_stun_responder_set_property (GObject      *object,
                                     guint         prop_id,
                                     const GValue *value,
                                     GParamSpec   *pspec)
{
  PinholeStunResponder *self = PINHOLE_STUN_RESPONDER (object);

  switch (prop_id)
    {
    case PROP_MAX_CONNECTIONS:
      pinhole_stun_responder_set_max_connections (self, g_value_get_uint (value));
      break;
    case PROP_IDLE_TIMEOUT_MS:
      pinhole_stun_responder_set_idle_timeout_ms (self, g_value_get_uint (value));
      break;
    case PROP_MAX_BUFFER:
      pinhole_stun_responder_set_max_buffer (self, g_value_get_uint (value));
      break;
    case PROP_SOFTWARE:
      pinhole_stun_responder_set_software (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pinhole_stun_responder_class_init (PinholeStunResponderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pinhole_stun_responder_dispose;
  object_class->finalize = pinhole_stun_responder_finalize;
  object_class->get_property = pinhole_stun_responder_get_property;
  object_class->set_property = pinhole_stun_responder_set_property;

  properties[PROP_UDP_PORT] =
    g_param_spec_uint ("udp-port", NULL, NULL, 0, G_MAXUINT16, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_TCP_PORT] =
    g_param_spec_uint ("tcp-port", NULL, NULL, 0, G_MAXUINT16, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_MAX_CONNECTIONS] =
    g_param_spec_uint ("max-connections", NULL, NULL, 0, G_MAXUINT, DEFAULT_MAX_CONNECTIONS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_IDLE_TIMEOUT_MS] =
    g_param_spec_uint ("idle-timeout-ms", NULL, NULL, 1, G_MAXUINT, DEFAULT_IDLE_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_MAX_BUFFER] =
    g_param_spec_uint ("max-buffer", NULL, NULL, MIN_BUFFER, G_MAXUINT, DEFAULT_MAX_BUFFER,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_SOFTWARE] =
    g_param_spec_string ("software", NULL, NULL, "Pinhole " PINHOLE_VERSION,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pinhole_stun_responder_init (PinholeStunResponder *self)
{
  self->conns = g_ptr_array_new ();
  self->max_connections = DEFAULT_MAX_CONNECTIONS;
  self->idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
  self->max_buffer = DEFAULT_MAX_BUFFER;
  self->software = g_strdup ("Pinhole " PINHOLE_VERSION);
}
