/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-endpoint.c: the shared UDP socket with its demultiplexer (STUN responses by
 * transaction id, STUN requests by ICE ufrag, everything else by remote address: RFC 8445 §6.1
 * and RFC 7983 §7 style), STUN retransmission over UDP, and the TCP port that listens and
 * connects out with SO_REUSEPORT (RFC 6544 simultaneous open). */
#define G_LOG_DOMAIN "pinhole-endpoint"

#include "pinhole-endpoint.h"
#include "pinhole-candidate.h"
#include "pinhole-error.h"
#include "pinhole-path.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define MAX_DATAGRAM       65536
#define MAX_TCP_STUN       2048
#define TCP_FIRST_FRAME_MS 5000
#define MAX_PENDING_ACCEPT 64
#define RTO_CAP_MS         1600
#define UDP_BUFFER_BYTES   (4 * 1024 * 1024)

struct _PinholeEndpoint
{
  GObject     parent_instance;

  /* owned */
  GSocket    *udp;
  GSocket    *tcp_listener;
  GSource    *udp_source;
  GSource    *accept_source;
  GHashTable *transactions;   /* transaction id (GBytes) → GTask */
  GHashTable *ufrags;         /* ufrag → Handler */
  GHashTable *datagrams;      /* "ip:port" → Handler */
  guint8     *buffer;         /* MAX_DATAGRAM */

  guint16     udp_port;
  guint16     tcp_port;
  guint       n_accepting;
};

G_DEFINE_FINAL_TYPE (PinholeEndpoint, pinhole_endpoint, G_TYPE_OBJECT)

typedef struct
{
  gpointer       func;
  gpointer       user_data;
  GDestroyNotify destroy;
} Handler;

static void
handler_free (Handler *handler)
{
  if (handler->destroy != NULL)
    handler->destroy (handler->user_data);
  g_free (handler);
}

/* ---- sockets ---- */

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

static GSocket *
tcp_socket_on (guint16  port,
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

static guint16
socket_port (GSocket *socket)
{
  g_autoptr(GSocketAddress) local = g_socket_get_local_address (socket, NULL);

  return local ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)) : 0;
}

static char *
address_key (GSocketAddress *address)
{
  return pinhole_socket_address_to_string (address);
}

/* ---- UDP receive and demultiplexing ---- */

static void
route_request (PinholeEndpoint    *self,
               PinholeStunMessage *request,
               GSocketAddress     *from,
               GIOStream          *stream)
{
  g_autofree char *ufrag = NULL;
  const char *colon;
  Handler *handler;

  if (request->username == NULL || (colon = strchr (request->username, ':')) == NULL)
    {
      g_debug ("STUN request without an ICE USERNAME ignored");
      return;
    }
  ufrag = g_strndup (request->username, colon - request->username);
  handler = g_hash_table_lookup (self->ufrags, ufrag);
  if (handler == NULL)
    {
      g_debug ("STUN request for unknown ufrag ignored");
      return;
    }
  ((PinholeEndpointRequestFunc) handler->func) (self, request, from, stream, handler->user_data);
}

static void
handle_stun_datagram (PinholeEndpoint *self,
                      const guint8    *data,
                      gsize            len,
                      GSocketAddress  *from)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) msg = pinhole_stun_message_decode (data, len, &error);
  g_autoptr(GBytes) key = NULL;
  GTask *task;

  if (msg == NULL)
    {
      g_debug ("malformed STUN datagram dropped: %s", error->message);
      return;
    }
  if (msg->method != PINHOLE_STUN_METHOD_BINDING)
    return;
  if (msg->klass == PINHOLE_STUN_CLASS_REQUEST)
    {
      route_request (self, msg, from, NULL);
      return;
    }
  if (msg->klass != PINHOLE_STUN_CLASS_SUCCESS && msg->klass != PINHOLE_STUN_CLASS_ERROR)
    return;
  key = g_bytes_new (msg->transaction_id, sizeof msg->transaction_id);
  task = g_hash_table_lookup (self->transactions, key);
  if (task == NULL)
    return;
  {
    GSocketAddress *to = g_object_get_data (G_OBJECT (task), "to");
    g_autofree char *a = address_key (to);
    g_autofree char *b = address_key (from);

    /* RFC 8445 §7.2.5.2.1: the response must come from where the request went */
    if (strcmp (a, b) != 0)
      {
        g_debug ("STUN response from %s, expected %s: dropped", b, a);
        return;
      }
  }
  g_object_ref (task);
  g_hash_table_remove (self->transactions, key);
  g_task_return_pointer (task, g_steal_pointer (&msg), (GDestroyNotify) pinhole_stun_message_free);
  g_object_unref (task);
}

static gboolean
udp_readable_cb (GSocket      *socket,
                 GIOCondition  condition,
                 gpointer      user_data)
{
  PinholeEndpoint *self = user_data;
  g_autoptr(PinholeEndpoint) hold = g_object_ref (self);

  /* bounded: at most 256 datagrams per wake-up, the rest on the next turn */
  for (guint i = 0; i < 256; i++)
    {
      g_autoptr(GSocketAddress) from = NULL;
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_receive_from (self->udp, &from, (gchar *) self->buffer, MAX_DATAGRAM,
                                        NULL, &error);

      if (n < 0)
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            g_debug ("UDP receive: %s", error->message);
          break;
        }
      if (from == NULL || !G_IS_INET_SOCKET_ADDRESS (from))
        continue;
      if (pinhole_stun_message_looks_like_stun (self->buffer, (gsize) n))
        handle_stun_datagram (self, self->buffer, (gsize) n, from);
      else
        {
          g_autofree char *key = address_key (from);
          Handler *handler = g_hash_table_lookup (self->datagrams, key);

          /* a handler may replace or remove itself: it must not free its data meanwhile, so
           * paths register with a reference of their own */
          if (handler != NULL)
            ((PinholeEndpointDatagramFunc) handler->func) (self->buffer, (gsize) n,
                                                           handler->user_data);
        }
      if (self->udp == NULL)
        break;
    }
  return G_SOURCE_CONTINUE;
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
  route_request (self, msg, from, stream);
}

static gboolean
first_frame_timeout_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
accept_cb (GSocket      *socket,
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

/* ---- construction ---- */

static void
pinhole_endpoint_dispose (GObject *object)
{
  PinholeEndpoint *self = PINHOLE_ENDPOINT (object);

  if (self->udp_source != NULL)
    {
      g_source_destroy (self->udp_source);
      g_clear_pointer (&self->udp_source, g_source_unref);
    }
  if (self->accept_source != NULL)
    {
      g_source_destroy (self->accept_source);
      g_clear_pointer (&self->accept_source, g_source_unref);
    }
  if (self->udp != NULL)
    g_socket_close (self->udp, NULL);
  if (self->tcp_listener != NULL)
    g_socket_close (self->tcp_listener, NULL);
  g_clear_object (&self->udp);
  g_clear_object (&self->tcp_listener);
  G_OBJECT_CLASS (pinhole_endpoint_parent_class)->dispose (object);
}

static void
pinhole_endpoint_finalize (GObject *object)
{
  PinholeEndpoint *self = PINHOLE_ENDPOINT (object);

  g_hash_table_unref (self->transactions);
  g_hash_table_unref (self->ufrags);
  g_hash_table_unref (self->datagrams);
  g_free (self->buffer);
  G_OBJECT_CLASS (pinhole_endpoint_parent_class)->finalize (object);
}

static void
pinhole_endpoint_class_init (PinholeEndpointClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = pinhole_endpoint_dispose;
  G_OBJECT_CLASS (klass)->finalize = pinhole_endpoint_finalize;
}

static void
pinhole_endpoint_init (PinholeEndpoint *self)
{
  self->transactions = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                              (GDestroyNotify) g_bytes_unref, g_object_unref);
  self->ufrags = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) handler_free);
  self->datagrams = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) handler_free);
  self->buffer = g_malloc (MAX_DATAGRAM);
}

/**
 * pinhole_endpoint_new:
 * Binds a UDP socket and a TCP listener on all IPv4 interfaces, on the same port number when
 * it is free for both. Returns: (transfer full): the endpoint
 */
PinholeEndpoint *
pinhole_endpoint_new (GError **error)
{
  g_autoptr(PinholeEndpoint) self = g_object_new (PINHOLE_TYPE_ENDPOINT, NULL);
  g_autoptr(GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) local = g_inet_socket_address_new (any, 0);
  g_autoptr(GError) local_error = NULL;

  self->udp = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                            G_SOCKET_PROTOCOL_UDP, error);
  if (self->udp == NULL || !g_socket_bind (self->udp, local, FALSE, error))
    return NULL;
  g_socket_set_blocking (self->udp, FALSE);
  /* room for the UDP paths' windows; the kernel may give less (net.core.rmem_max), and the
   * paths size their windows by what it gave */
  g_socket_set_option (self->udp, SOL_SOCKET, SO_RCVBUF, UDP_BUFFER_BYTES, NULL);
  g_socket_set_option (self->udp, SOL_SOCKET, SO_SNDBUF, UDP_BUFFER_BYTES, NULL);
  self->udp_port = socket_port (self->udp);

  self->tcp_listener = tcp_socket_on (self->udp_port, &local_error);
  if (self->tcp_listener == NULL)
    {
      g_clear_error (&local_error);
      self->tcp_listener = tcp_socket_on (0, error);
      if (self->tcp_listener == NULL)
        return NULL;
    }
  g_socket_set_listen_backlog (self->tcp_listener, 32);
  if (!g_socket_listen (self->tcp_listener, error))
    return NULL;
  self->tcp_port = socket_port (self->tcp_listener);

  self->udp_source = g_socket_create_source (self->udp, G_IO_IN, NULL);
  g_source_set_callback (self->udp_source, G_SOURCE_FUNC (udp_readable_cb), self, NULL);
  g_source_attach (self->udp_source, g_main_context_get_thread_default ());
  self->accept_source = g_socket_create_source (self->tcp_listener, G_IO_IN, NULL);
  g_source_set_callback (self->accept_source, G_SOURCE_FUNC (accept_cb), self, NULL);
  g_source_attach (self->accept_source, g_main_context_get_thread_default ());
  g_debug ("endpoint on UDP %u and TCP %u", self->udp_port, self->tcp_port);
  return g_steal_pointer (&self);
}

guint16
pinhole_endpoint_get_udp_port (PinholeEndpoint *self)
{
  return self->udp_port;
}

guint16
pinhole_endpoint_get_tcp_port (PinholeEndpoint *self)
{
  return self->tcp_port;
}

/* Returns: (transfer none): the shared UDP socket */
GSocket *
pinhole_endpoint_get_udp_socket (PinholeEndpoint *self)
{
  return self->udp;
}

gboolean
pinhole_endpoint_send_to (PinholeEndpoint *self,
                          GSocketAddress  *to,
                          GBytes          *datagram,
                          GError         **error)
{
  gsize len;
  const gchar *data = g_bytes_get_data (datagram, &len);

  /* a full socket buffer loses this datagram like the network might: checks and PseudoTcp
   * retransmit */
  if (g_socket_send_to (self->udp, to, data, len, NULL, error) < 0)
    return FALSE;
  return TRUE;
}

/* ---- STUN transactions over UDP ---- */

typedef struct
{
  PinholeEndpoint *endpoint;     /* borrowed: the endpoint fails its transactions on dispose */
  GBytes          *request;
  GBytes          *key;          /* transaction id */
  GSocketAddress  *to;
  guint            interval_ms;
  guint            tries_left;
  guint            timer;
  gulong           cancelled_id;
} Transaction;

static void
transaction_free (Transaction *t)
{
  g_clear_handle_id (&t->timer, g_source_remove);
  g_bytes_unref (t->request);
  g_bytes_unref (t->key);
  g_object_unref (t->to);
  g_free (t);
}

static void
transaction_end (GTask  *task,
                 GError *error)
{
  Transaction *t = g_task_get_task_data (task);

  g_object_ref (task);
  g_clear_handle_id (&t->timer, g_source_remove);
  if (g_hash_table_lookup (t->endpoint->transactions, t->key) == task)
    g_hash_table_remove (t->endpoint->transactions, t->key);
  g_task_return_error (task, error);
  g_object_unref (task);
}

static gboolean
transaction_timer_cb (gpointer user_data)
{
  GTask *task = user_data;
  Transaction *t = g_task_get_task_data (task);

  t->timer = 0;
  if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    {
      transaction_end (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                  "STUN request cancelled"));
      return G_SOURCE_REMOVE;
    }
  if (t->tries_left == 0)
    {
      g_autofree char *to = address_key (t->to);
      transaction_end (task, g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT,
                                          "no STUN answer from %s", to));
      return G_SOURCE_REMOVE;
    }
  t->tries_left--;
  pinhole_endpoint_send_to (t->endpoint, t->to, t->request, NULL);
  t->timer = g_timeout_add (t->interval_ms, transaction_timer_cb, task);
  t->interval_ms = MIN (t->interval_ms * 2, RTO_CAP_MS);
  return G_SOURCE_REMOVE;
}

/**
 * pinhole_endpoint_stun_request_async:
 * @request: the encoded request
 * @transaction_id: its 12-byte transaction id
 * @rto_ms: the first retransmission interval; it doubles up to 1.6 s
 * @tries: how many times the request is sent
 *
 * Sends a STUN request from the shared socket and completes with the response that carries
 * its transaction id and comes from @to, or PINHOLE_ERROR_TIMEOUT.
 */
void
pinhole_endpoint_stun_request_async (PinholeEndpoint     *self,
                                     GSocketAddress      *to,
                                     GBytes              *request,
                                     const guint8        *transaction_id,
                                     guint                rto_ms,
                                     guint                tries,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Transaction *t = g_new0 (Transaction, 1);

  g_task_set_source_tag (task, pinhole_endpoint_stun_request_async);
  t->endpoint = self;
  t->request = g_bytes_ref (request);
  t->key = g_bytes_new (transaction_id, PINHOLE_STUN_TRANSACTION_ID_LEN);
  t->to = g_object_ref (to);
  t->interval_ms = MAX (rto_ms, 10);
  t->tries_left = MAX (tries, 1);
  g_task_set_task_data (task, t, (GDestroyNotify) transaction_free);
  g_object_set_data_full (G_OBJECT (task), "to", g_object_ref (to), g_object_unref);
  /* the table owns the task until it completes */
  g_hash_table_replace (self->transactions, g_bytes_ref (t->key), task);
  t->timer = g_idle_add (transaction_timer_cb, task);
}

/* Returns: (transfer full): the response (success or error class) */
PinholeStunMessage *
pinhole_endpoint_stun_request_finish (PinholeEndpoint *self,
                                      GAsyncResult    *result,
                                      GError         **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- registries ---- */

void
pinhole_endpoint_register_ufrag (PinholeEndpoint            *self,
                                 const char                 *ufrag,
                                 PinholeEndpointRequestFunc  func,
                                 gpointer                    user_data)
{
  Handler *handler = g_new0 (Handler, 1);

  handler->func = func;
  handler->user_data = user_data;
  g_hash_table_replace (self->ufrags, g_strdup (ufrag), handler);
}

void
pinhole_endpoint_unregister_ufrag (PinholeEndpoint *self,
                                   const char      *ufrag)
{
  g_hash_table_remove (self->ufrags, ufrag);
}

/* @destroy: (nullable): frees @user_data when the handler is removed or replaced */
void
pinhole_endpoint_add_datagram_handler (PinholeEndpoint             *self,
                                       GSocketAddress              *remote,
                                       PinholeEndpointDatagramFunc  func,
                                       gpointer                     user_data,
                                       GDestroyNotify               destroy)
{
  Handler *handler = g_new0 (Handler, 1);

  handler->func = func;
  handler->user_data = user_data;
  handler->destroy = destroy;
  g_hash_table_replace (self->datagrams, address_key (remote), handler);
}

void
pinhole_endpoint_remove_datagram_handler (PinholeEndpoint *self,
                                          GSocketAddress  *remote)
{
  g_autofree char *key = address_key (remote);

  g_hash_table_remove (self->datagrams, key);
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
  c->socket = tcp_socket_on (self->tcp_port, &error);
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
