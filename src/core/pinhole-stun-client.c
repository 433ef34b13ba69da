/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-stun-client.c: STUN Binding transactions, RFC 8489 §6.2 (UDP retransmissions with
 * a doubling RTO, TCP with the Ti deadline), matched by transaction ID (§6.3.3). */
#define G_LOG_DOMAIN "pinhole-stun"

#include "pinhole-stun-client.h"
#include "pinhole-endpoint.h"
#include "pinhole-error.h"
#include "pinhole-stun-message.h"

#include <string.h>
#include <sys/socket.h>

/* a datagram larger than this is not a response of ours (RFC 8489 §6.1: under 576 bytes
 * unless the path MTU is known) */
#define UDP_RECV_BUFFER      2048
/* datagrams read per wake-up, so that a flood cannot starve the main loop */
#define UDP_READS_PER_WAKEUP 64
/* non-matching messages tolerated on a TCP connection before giving up */
#define TCP_MAX_MESSAGES     8

PinholeStunClientOptions *
pinhole_stun_client_options_new (void)
{
  PinholeStunClientOptions *options = g_new0 (PinholeStunClientOptions, 1);

  /* RFC 8489 §6.2.1 and §6.2.2 defaults */
  options->rto_ms = 500;
  options->rc = 7;
  options->rm = 16;
  options->tcp_timeout_ms = 39500;
  return options;
}

PinholeStunClientOptions *
pinhole_stun_client_options_copy (const PinholeStunClientOptions *options)
{
  PinholeStunClientOptions *copy;

  g_return_val_if_fail (options != NULL, NULL);

  copy = g_memdup2 (options, sizeof *options);
  copy->username = g_strdup (options->username);
  copy->password = g_strdup (options->password);
  copy->software = g_strdup (options->software);
  copy->tcp_local_address = options->tcp_local_address != NULL
                            ? g_object_ref (options->tcp_local_address) : NULL;
  return copy;
}

void
pinhole_stun_client_options_free (PinholeStunClientOptions *options)
{
  if (options == NULL)
    return;
  g_free (options->username);
  g_free (options->password);
  g_free (options->software);
  g_clear_object (&options->tcp_local_address);
  g_free (options);
}

void
pinhole_stun_client_result_free (PinholeStunClientResult *result)
{
  if (result == NULL)
    return;
  g_clear_object (&result->mapped_address);
  g_clear_object (&result->other_address);
  g_clear_object (&result->response_origin);
  g_clear_object (&result->local_address);
  g_clear_object (&result->server_address);
  g_free (result);
}

static char *
address_to_string (GSocketAddress *address)
{
  if (G_IS_INET_SOCKET_ADDRESS (address))
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
      g_autofree char *ip =
        g_inet_address_to_string (g_inet_socket_address_get_address (inet));

      return g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (inet));
    }
  return g_strdup ("(non-IP address)");
}

static GBytes *
build_request (const PinholeStunClientOptions  *options,
               guint8                          *transaction_id,
               GError                         **error)
{
  g_autoptr(PinholeStunMessage) msg = NULL;
  const guint8 *key = NULL;
  gsize key_len = 0;

  msg = pinhole_stun_message_new (PINHOLE_STUN_CLASS_REQUEST, PINHOLE_STUN_METHOD_BINDING, NULL);
  pinhole_stun_message_set_random_transaction_id (msg);
  memcpy (transaction_id, msg->transaction_id, PINHOLE_STUN_TRANSACTION_ID_LEN);
  msg->username = g_strdup (options->username);
  msg->software = g_strdup (options->software);
  if (options->password != NULL)
    {
      /* §9.1.1: the key is the OpaqueString of the password, used here as given */
      key = (const guint8 *) options->password;
      key_len = strlen (options->password);
    }
  return pinhole_stun_message_encode (msg, key, key_len, TRUE, error);
}

typedef enum
{
  RESPONSE_IGNORE,   /* not ours: keep waiting */
  RESPONSE_DONE,     /* *result or *error is set */
} ResponseVerdict;

/* §6.3.3 and §6.3.4: what a received message means for the transaction */
static ResponseVerdict
handle_response (const guint8                    *data,
                 gsize                            len,
                 const guint8                    *transaction_id,
                 const PinholeStunClientOptions  *options,
                 GSocketAddress                  *local,
                 GSocketAddress                  *from,
                 PinholeStunClientResult        **result,
                 GError                         **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(PinholeStunMessage) msg = NULL;
  GInetSocketAddress *mapped;

  if (!pinhole_stun_message_looks_like_stun (data, len))
    {
      g_debug ("ignoring %" G_GSIZE_FORMAT " bytes that are not STUN", len);
      return RESPONSE_IGNORE;
    }
  msg = pinhole_stun_message_decode (data, len, &local_error);
  if (msg == NULL)
    {
      g_debug ("ignoring malformed STUN message: %s", local_error->message);
      return RESPONSE_IGNORE;
    }
  if (memcmp (msg->transaction_id, transaction_id, PINHOLE_STUN_TRANSACTION_ID_LEN) != 0
      || msg->method != PINHOLE_STUN_METHOD_BINDING
      || (msg->klass != PINHOLE_STUN_CLASS_SUCCESS && msg->klass != PINHOLE_STUN_CLASS_ERROR))
    {
      g_debug ("ignoring STUN message of another transaction");
      return RESPONSE_IGNORE;
    }
  /* §6.3.1: "If the client does not understand an attribute in a response, it MUST
   * discard the response" (comprehension-required ones) */
  if (msg->unknown_required != NULL)
    {
      g_debug ("ignoring STUN response with %u unknown comprehension-required attributes",
               msg->unknown_required->len);
      return RESPONSE_IGNORE;
    }

  if (msg->klass == PINHOLE_STUN_CLASS_ERROR)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "STUN server answered error %u (%s)", msg->error_code,
                   msg->error_reason != NULL ? msg->error_reason : "no reason");
      return RESPONSE_DONE;
    }

  /* §9.1.4: "If the value does not match, or if MESSAGE-INTEGRITY was absent, the response
   * MUST be discarded, as if it was never received." */
  if (options->password != NULL
      && !pinhole_stun_message_verify_integrity (msg, (const guint8 *) options->password,
                                                 strlen (options->password), &local_error))
    {
      g_debug ("discarding STUN response: %s", local_error->message);
      return RESPONSE_IGNORE;
    }

  mapped = msg->xor_mapped_address != NULL ? msg->xor_mapped_address : msg->mapped_address;
  if (mapped == NULL)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "STUN Binding response has no XOR-MAPPED-ADDRESS");
      return RESPONSE_DONE;
    }

  *result = g_new0 (PinholeStunClientResult, 1);
  (*result)->mapped_address = g_object_ref (mapped);
  (*result)->other_address = msg->other_address ? g_object_ref (msg->other_address) : NULL;
  (*result)->response_origin = msg->response_origin ? g_object_ref (msg->response_origin) : NULL;
  (*result)->local_address = G_IS_INET_SOCKET_ADDRESS (local)
                             ? G_INET_SOCKET_ADDRESS (g_object_ref (local)) : NULL;
  (*result)->server_address = G_IS_INET_SOCKET_ADDRESS (from)
                              ? G_INET_SOCKET_ADDRESS (g_object_ref (from)) : NULL;
  return RESPONSE_DONE;
}

/* UDP */

typedef struct
{
  /* owned */
  PinholeStunClientOptions *options;
  GSocket                  *socket;
  GSocketAddress           *server;
  GBytes                   *request;
  GSource                  *read_source;
  GSource                  *timer_source;
  GSource                  *cancel_source;
  GMainContext             *context;

  guint8                    transaction_id[PINHOLE_STUN_TRANSACTION_ID_LEN];
  guint                     requests_sent;
  guint                     interval_ms;
  gboolean                  done;
} UdpBinding;

static void
clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static void
udp_binding_free (gpointer data)
{
  UdpBinding *b = data;

  clear_source (&b->read_source);
  clear_source (&b->timer_source);
  clear_source (&b->cancel_source);
  pinhole_stun_client_options_free (b->options);
  g_clear_object (&b->socket);
  g_clear_object (&b->server);
  g_clear_pointer (&b->request, g_bytes_unref);
  g_clear_pointer (&b->context, g_main_context_unref);
  g_free (b);
}

/* ends the transaction; the task's last reference goes with it */
static void
udp_complete (GTask                   *task,
              PinholeStunClientResult *result,
              GError                  *error)
{
  UdpBinding *b = g_task_get_task_data (task);

  g_assert (!b->done);
  b->done = TRUE;
  clear_source (&b->read_source);
  clear_source (&b->timer_source);
  clear_source (&b->cancel_source);
  if (result != NULL)
    {
      result->requests_sent = b->requests_sent;
      g_task_return_pointer (task, result, (GDestroyNotify) pinhole_stun_client_result_free);
    }
  else
    {
      g_task_return_error (task, error);
    }
  g_object_unref (task);
}

static gboolean udp_timer_cb (gpointer user_data);

static gboolean
udp_send (GTask *task)
{
  UdpBinding *b = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (b->request, &len);
  guint wait_ms;

  if (g_socket_send_to (b->socket, b->server, (const char *) data, len, NULL, &error) < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          udp_complete (task, NULL, g_steal_pointer (&error));
          return FALSE;
        }
      /* a full send buffer is a lost datagram: the next retransmission covers it */
      g_debug ("STUN request not sent: %s", error->message);
    }
  b->requests_sent++;

  /* §6.2.1: RTO doubles after each request; after the Rc-th the client waits Rm * RTO */
  if (b->requests_sent < b->options->rc)
    {
      wait_ms = b->interval_ms;
      b->interval_ms = b->interval_ms > G_MAXUINT / 2 ? G_MAXUINT : b->interval_ms * 2;
    }
  else
    {
      wait_ms = b->options->rm > G_MAXUINT / MAX (b->options->rto_ms, 1)
                ? G_MAXUINT : b->options->rm * b->options->rto_ms;
    }
  clear_source (&b->timer_source);
  b->timer_source = g_timeout_source_new (wait_ms);
  g_source_set_callback (b->timer_source, udp_timer_cb, task, NULL);
  g_source_set_static_name (b->timer_source, "[pinhole] STUN retransmission");
  g_source_attach (b->timer_source, b->context);
  return TRUE;
}

static gboolean
udp_timer_cb (gpointer user_data)
{
  GTask *task = user_data;
  UdpBinding *b = g_task_get_task_data (task);

  if (b->requests_sent >= b->options->rc)
    {
      g_autofree char *server = address_to_string (b->server);

      udp_complete (task, NULL,
                    g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT,
                                 "No STUN response from %s after %u requests", server,
                                 b->requests_sent));
      return G_SOURCE_REMOVE;
    }
  /* udp_send replaces this source with the next timer; this one ends here */
  udp_send (task);
  return G_SOURCE_REMOVE;
}

static gboolean
udp_read_cb (GSocket      *socket,
             GIOCondition  condition,
             gpointer      user_data)
{
  GTask *task = user_data;
  UdpBinding *b = g_task_get_task_data (task);
  guint8 buffer[UDP_RECV_BUFFER];

  for (guint i = 0; i < UDP_READS_PER_WAKEUP; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocketAddress) from = NULL;
      g_autoptr(GSocketAddress) local = NULL;
      PinholeStunClientResult *result = NULL;
      GError *response_error = NULL;
      gssize n;

      n = g_socket_receive_from (socket, &from, (char *) buffer, sizeof buffer, NULL, &error);
      if (n < 0)
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            g_debug ("STUN client receive: %s", error->message);
          break;
        }
      local = g_socket_get_local_address (socket, NULL);
      if (handle_response (buffer, (gsize) n, b->transaction_id, b->options, local, from,
                           &result, &response_error) == RESPONSE_DONE)
        {
          udp_complete (task, result, response_error);
          return G_SOURCE_REMOVE;
        }
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
udp_cancelled_cb (GCancellable *cancellable,
                  gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  g_cancellable_set_error_if_cancelled (cancellable, &error);
  udp_complete (task, NULL, error);
  return G_SOURCE_REMOVE;
}

/**
 * pinhole_stun_client_binding_udp_async:
 * @socket: (nullable): a UDP socket to send from, e.g. the one later used for hole punching;
 *   it is made non-blocking. %NULL: a new socket on an ephemeral port
 * @server: the STUN server
 * @options: (nullable): timers and credentials; %NULL for the RFC defaults
 *
 * Runs one Binding transaction on the thread-default main context. Datagrams on @socket that
 * do not answer this transaction are read and dropped while it runs.
 */
void
pinhole_stun_client_binding_udp_async (GSocket                        *socket,
                                       GSocketAddress                 *server,
                                       const PinholeStunClientOptions *options,
                                       GCancellable                   *cancellable,
                                       GAsyncReadyCallback             callback,
                                       gpointer                        user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  UdpBinding *b;

  g_return_if_fail (socket == NULL || G_IS_SOCKET (socket));
  g_return_if_fail (G_IS_INET_SOCKET_ADDRESS (server));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, pinhole_stun_client_binding_udp_async);

  b = g_new0 (UdpBinding, 1);
  b->options = options != NULL ? pinhole_stun_client_options_copy (options)
                               : pinhole_stun_client_options_new ();
  b->options->rc = MAX (b->options->rc, 1);
  b->options->rto_ms = MAX (b->options->rto_ms, 1);
  b->server = g_object_ref (server);
  b->context = g_main_context_ref_thread_default ();
  b->interval_ms = b->options->rto_ms;
  g_task_set_task_data (task, b, udp_binding_free);

  if (g_task_return_error_if_cancelled (task))
    return;

  if (socket != NULL)
    {
      b->socket = g_object_ref (socket);
    }
  else
    {
      GSocketFamily family = g_socket_address_get_family (server);
      g_autoptr(GInetAddress) any = g_inet_address_new_any (family);
      g_autoptr(GSocketAddress) local = g_inet_socket_address_new (any, 0);

      b->socket = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
      if (b->socket == NULL || !g_socket_bind (b->socket, local, FALSE, &error))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  g_socket_set_blocking (b->socket, FALSE);

  b->request = build_request (b->options, b->transaction_id, &error);
  if (b->request == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* from here the sources hold the task through the reference udp_complete() drops */
  g_object_ref (task);
  b->read_source = g_socket_create_source (b->socket, G_IO_IN, NULL);
  g_source_set_callback (b->read_source, G_SOURCE_FUNC (udp_read_cb), task, NULL);
  g_source_set_static_name (b->read_source, "[pinhole] STUN client read");
  g_source_attach (b->read_source, b->context);
  if (cancellable != NULL)
    {
      b->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (b->cancel_source, G_SOURCE_FUNC (udp_cancelled_cb), task, NULL);
      g_source_attach (b->cancel_source, b->context);
    }
  udp_send (task);
}

/**
 * pinhole_stun_client_binding_udp_finish:
 * Returns: (transfer full): the mapped address and what came with it, or %NULL with
 *   PINHOLE_ERROR_TIMEOUT, PINHOLE_ERROR_PROTOCOL (an error response),
 *   G_IO_ERROR_CANCELLED or a socket error
 */
PinholeStunClientResult *
pinhole_stun_client_binding_udp_finish (GAsyncResult  *result,
                                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == pinhole_stun_client_binding_udp_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* TCP */

typedef struct
{
  /* owned */
  PinholeStunClientOptions *options;
  GSocketAddress           *server;
  GBytes                   *request;
  GSocketConnection        *connection;
  GCancellable             *op_cancellable;   /* cancelled by the deadline or the caller's */
  GCancellable             *caller_cancellable;
  GSource                  *deadline;
  guint8                   *body;

  gulong                    cancel_handler;
  guint8                    transaction_id[PINHOLE_STUN_TRANSACTION_ID_LEN];
  guint8                    header[PINHOLE_STUN_HEADER_LEN];
  gsize                     body_len;
  guint                     messages_read;
  gboolean                  timed_out;
} TcpBinding;

static void
tcp_binding_free (gpointer data)
{
  TcpBinding *b = data;

  clear_source (&b->deadline);
  if (b->cancel_handler != 0)
    g_cancellable_disconnect (b->caller_cancellable, b->cancel_handler);
  g_clear_object (&b->caller_cancellable);
  g_clear_object (&b->op_cancellable);
  g_clear_object (&b->connection);
  pinhole_stun_client_options_free (b->options);
  g_clear_object (&b->server);
  g_clear_pointer (&b->request, g_bytes_unref);
  g_free (b->body);
  g_free (b);
}

static void
tcp_complete (GTask                   *task,
              PinholeStunClientResult *result,
              GError                  *error)
{
  TcpBinding *b = g_task_get_task_data (task);

  clear_source (&b->deadline);
  if (b->cancel_handler != 0)
    {
      g_cancellable_disconnect (b->caller_cancellable, b->cancel_handler);
      b->cancel_handler = 0;
    }
  if (b->connection != NULL)
    g_io_stream_close (G_IO_STREAM (b->connection), NULL, NULL);

  if (result != NULL)
    {
      result->requests_sent = 1;
      g_task_return_pointer (task, result, (GDestroyNotify) pinhole_stun_client_result_free);
    }
  else
    {
      if (b->timed_out && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autofree char *server = address_to_string (b->server);

          g_clear_error (&error);
          error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT,
                               "No STUN response from %s over TCP within %u ms", server,
                               b->options->tcp_timeout_ms);
        }
      g_task_return_error (task, error);
    }
  g_object_unref (task);
}

static void
tcp_caller_cancelled_cb (GCancellable *cancellable,
                         gpointer      user_data)
{
  /* may run in another thread: only hand the cancellation on */
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static gboolean
tcp_deadline_cb (gpointer user_data)
{
  GTask *task = user_data;
  TcpBinding *b = g_task_get_task_data (task);

  b->timed_out = TRUE;
  g_cancellable_cancel (b->op_cancellable);
  g_clear_pointer (&b->deadline, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void tcp_read_header (GTask *task);

static void
tcp_body_cb (GObject      *source,
             GAsyncResult *res,
             gpointer      user_data)
{
  GTask *task = user_data;
  TcpBinding *b = g_task_get_task_data (task);
  GError *error = NULL;
  gsize n = 0;
  g_autofree guint8 *message = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocketAddress) remote = NULL;
  PinholeStunClientResult *result = NULL;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), res, &n, &error))
    {
      tcp_complete (task, NULL, error);
      return;
    }
  if (n != b->body_len)
    {
      tcp_complete (task, NULL,
                    g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                 "STUN server closed TCP after %" G_GSIZE_FORMAT " of %"
                                 G_GSIZE_FORMAT " bytes", n, b->body_len));
      return;
    }

  message = g_malloc (PINHOLE_STUN_HEADER_LEN + b->body_len);
  memcpy (message, b->header, PINHOLE_STUN_HEADER_LEN);
  memcpy (message + PINHOLE_STUN_HEADER_LEN, b->body, b->body_len);
  g_clear_pointer (&b->body, g_free);

  local = g_socket_connection_get_local_address (b->connection, NULL);
  remote = g_socket_connection_get_remote_address (b->connection, NULL);
  if (handle_response (message, PINHOLE_STUN_HEADER_LEN + b->body_len, b->transaction_id,
                       b->options, local, remote, &result, &error) == RESPONSE_DONE)
    {
      tcp_complete (task, result, error);
      return;
    }
  if (++b->messages_read >= TCP_MAX_MESSAGES)
    {
      tcp_complete (task, NULL,
                    g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                                 "STUN server sent %u messages over TCP, none a valid answer",
                                 b->messages_read));
      return;
    }
  tcp_read_header (task);
}

static void
tcp_header_cb (GObject      *source,
               GAsyncResult *res,
               gpointer      user_data)
{
  GTask *task = user_data;
  TcpBinding *b = g_task_get_task_data (task);
  GError *error = NULL;
  gsize n = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), res, &n, &error))
    {
      tcp_complete (task, NULL, error);
      return;
    }
  if (n != PINHOLE_STUN_HEADER_LEN)
    {
      tcp_complete (task, NULL,
                    g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                 "STUN server closed TCP after %" G_GSIZE_FORMAT
                                 " bytes of a header", n));
      return;
    }
  /* the stream is only as good as its framing: a header that is not STUN loses the frame */
  if (!pinhole_stun_message_looks_like_stun (b->header, n))
    {
      tcp_complete (task, NULL,
                    g_error_new_literal (PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                                         "STUN server sent a non-STUN header over TCP"));
      return;
    }
  b->body_len = (gsize) (b->header[2] << 8 | b->header[3]);
  if (b->body_len % 4 != 0)
    {
      tcp_complete (task, NULL,
                    g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                                 "STUN message length %" G_GSIZE_FORMAT
                                 " over TCP is not a multiple of 4", b->body_len));
      return;
    }
  b->body = g_malloc (MAX (b->body_len, 1));
  g_input_stream_read_all_async (g_io_stream_get_input_stream (G_IO_STREAM (b->connection)),
                                 b->body, b->body_len, G_PRIORITY_DEFAULT, b->op_cancellable,
                                 tcp_body_cb, task);
}

static void
tcp_read_header (GTask *task)
{
  TcpBinding *b = g_task_get_task_data (task);

  g_input_stream_read_all_async (g_io_stream_get_input_stream (G_IO_STREAM (b->connection)),
                                 b->header, sizeof b->header, G_PRIORITY_DEFAULT,
                                 b->op_cancellable, tcp_header_cb, task);
}

static void
tcp_written_cb (GObject      *source,
                GAsyncResult *res,
                gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), res, NULL, &error))
    {
      tcp_complete (task, NULL, error);
      return;
    }
  tcp_read_header (task);
}

static void
tcp_connected_cb (GObject      *source,
                  GAsyncResult *res,
                  gpointer      user_data)
{
  GTask *task = user_data;
  TcpBinding *b = g_task_get_task_data (task);
  GError *error = NULL;
  gsize len;
  const guint8 *data;

  if (!g_socket_connection_connect_finish (G_SOCKET_CONNECTION (source), res, &error))
    {
      tcp_complete (task, NULL, error);
      return;
    }
  data = g_bytes_get_data (b->request, &len);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (b->connection)),
                                   data, len, G_PRIORITY_DEFAULT, b->op_cancellable,
                                   tcp_written_cb, task);
}

/**
 * pinhole_stun_client_binding_tcp_async:
 * @server: the STUN server
 * @options: (nullable): deadline, credentials and local address; %NULL for the defaults
 *
 * Connects, sends one Binding request and reads STUN messages (self-delimiting: RFC 8489 §6.2.2
 * uses no extra framing) until the response arrives or the deadline passes.
 */
void
pinhole_stun_client_binding_tcp_async (GSocketAddress                 *server,
                                       const PinholeStunClientOptions *options,
                                       GCancellable                   *cancellable,
                                       GAsyncReadyCallback             callback,
                                       gpointer                        user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  TcpBinding *b;

  g_return_if_fail (G_IS_INET_SOCKET_ADDRESS (server));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, pinhole_stun_client_binding_tcp_async);

  b = g_new0 (TcpBinding, 1);
  b->options = options != NULL ? pinhole_stun_client_options_copy (options)
                               : pinhole_stun_client_options_new ();
  b->server = g_object_ref (server);
  b->op_cancellable = g_cancellable_new ();
  g_task_set_task_data (task, b, tcp_binding_free);

  if (g_task_return_error_if_cancelled (task))
    return;

  b->request = build_request (b->options, b->transaction_id, &error);
  if (b->request == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  socket = g_socket_new (g_socket_address_get_family (server), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, &error);
  if (socket == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (b->options->tcp_local_address != NULL)
    {
      /* the same local port serves the later simultaneous open (RFC 6544 §7.2.1) */
      if (!pinhole_socket_bind_shared (socket, b->options->tcp_local_address, &error))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  b->connection = g_socket_connection_factory_create_connection (socket);

  if (cancellable != NULL)
    {
      b->caller_cancellable = g_object_ref (cancellable);
      b->cancel_handler = g_cancellable_connect (cancellable, G_CALLBACK (tcp_caller_cancelled_cb),
                                                 g_object_ref (b->op_cancellable),
                                                 g_object_unref);
    }

  /* from here the asynchronous chain holds the task through the reference tcp_complete()
   * drops */
  g_object_ref (task);
  b->deadline = g_timeout_source_new (b->options->tcp_timeout_ms);
  g_source_set_callback (b->deadline, tcp_deadline_cb, task, NULL);
  g_source_set_static_name (b->deadline, "[pinhole] STUN TCP deadline");
  g_source_attach (b->deadline, g_main_context_get_thread_default ());

  g_socket_connection_connect_async (b->connection, server, b->op_cancellable,
                                     tcp_connected_cb, task);
}

/**
 * pinhole_stun_client_binding_tcp_finish:
 * Returns: (transfer full): the mapped address and what came with it, or %NULL with
 *   PINHOLE_ERROR_TIMEOUT, PINHOLE_ERROR_PROTOCOL, PINHOLE_ERROR_CLOSED,
 *   G_IO_ERROR_CANCELLED or a connection error
 */
PinholeStunClientResult *
pinhole_stun_client_binding_tcp_finish (GAsyncResult  *result,
                                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == pinhole_stun_client_binding_tcp_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
