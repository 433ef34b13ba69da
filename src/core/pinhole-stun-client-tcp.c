/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-stun-client-tcp.c: one STUN Binding transaction over TCP: connect, one request, then
 * self-delimiting STUN messages until the answer or the Ti deadline (RFC 8489 §6.2.2). */
#define G_LOG_DOMAIN "pinhole-stun"

#include "pinhole-stun-client-private.h"
#include "pinhole-endpoint.h"
#include "pinhole-error.h"
#include "pinhole-stun-message.h"

#include <string.h>

/* non-matching messages tolerated on a TCP connection before giving up */
#define TCP_MAX_MESSAGES     8

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

  _pinhole_stun_client_clear_source (&b->deadline);
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

  _pinhole_stun_client_clear_source (&b->deadline);
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
          g_autofree char *server = _pinhole_stun_client_address_to_string (b->server);

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
  if (_pinhole_stun_client_handle_response (message, PINHOLE_STUN_HEADER_LEN + b->body_len,
                                            b->transaction_id, b->options, local, remote,
                                            &result, &error) == RESPONSE_DONE)
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

  b->request = _pinhole_stun_client_build_request (b->options, b->transaction_id, &error);
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
