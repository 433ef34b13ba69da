/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-stun-client-udp.c: one STUN Binding transaction over UDP: retransmissions with a
 * doubling RTO, Rc requests and a last wait of Rm * RTO (RFC 8489 §6.2.1). */
#define G_LOG_DOMAIN "pinhole-stun"

#include "pinhole-stun-client-private.h"
#include "pinhole-error.h"
#include "pinhole-stun-message.h"

/* a datagram larger than this is not a response of ours (RFC 8489 §6.1: under 576 bytes
 * unless the path MTU is known) */
#define UDP_RECV_BUFFER      2048
/* datagrams read per wake-up, so that a flood cannot starve the main loop */
#define UDP_READS_PER_WAKEUP 64

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
udp_binding_free (gpointer data)
{
  UdpBinding *b = data;

  _pinhole_stun_client_clear_source (&b->read_source);
  _pinhole_stun_client_clear_source (&b->timer_source);
  _pinhole_stun_client_clear_source (&b->cancel_source);
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
  _pinhole_stun_client_clear_source (&b->read_source);
  _pinhole_stun_client_clear_source (&b->timer_source);
  _pinhole_stun_client_clear_source (&b->cancel_source);
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
  _pinhole_stun_client_clear_source (&b->timer_source);
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
      g_autofree char *server = _pinhole_stun_client_address_to_string (b->server);

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
      if (_pinhole_stun_client_handle_response (buffer, (gsize) n, b->transaction_id, b->options,
                                                local, from, &result,
                                                &response_error) == RESPONSE_DONE)
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

  b->request = _pinhole_stun_client_build_request (b->options, b->transaction_id, &error);
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

