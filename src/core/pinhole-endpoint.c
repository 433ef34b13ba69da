/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-endpoint.c: the endpoint and its shared UDP socket, demultiplexed (STUN responses by
 * transaction id, requests by ICE ufrag, the rest by remote address: RFC 8445 §6.1 and RFC 7983
 * §7 style), with STUN retransmission over UDP. The TCP port is in pinhole-endpoint-tcp.c. */
#define G_LOG_DOMAIN "pinhole-endpoint"

#include "pinhole-endpoint-private.h"
#include "pinhole-candidate.h"
#include "pinhole-error.h"

#include <string.h>
#include <sys/socket.h>

#define MAX_DATAGRAM       65536
#define RTO_CAP_MS         1600
#define UDP_BUFFER_BYTES   (4 * 1024 * 1024)

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

void
_pinhole_endpoint_route_request (PinholeEndpoint    *self,
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
      _pinhole_endpoint_route_request (self, msg, from, NULL);
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
  g_autoptr(PinholeEndpoint) hold G_GNUC_UNUSED = g_object_ref (self);

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

  self->tcp_listener = _pinhole_endpoint_tcp_socket_on (self->udp_port, &local_error);
  if (self->tcp_listener == NULL)
    {
      g_clear_error (&local_error);
      self->tcp_listener = _pinhole_endpoint_tcp_socket_on (0, error);
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
  g_source_set_callback (self->accept_source, G_SOURCE_FUNC (_pinhole_endpoint_accept_cb), self,
                         NULL);
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

  /* a full socket buffer loses this datagram like the network might: checks and QUIC
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

