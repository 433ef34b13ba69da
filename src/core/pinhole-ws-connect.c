/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-ws-connect.c: opens a client's WebSocket (RFC 6455 §4.1) itself instead of through
 * soup_session_websocket_connect_async(): libsoup 3.2 makes a client's connection on its own
 * socket stream and gives no way to put a stream between, so a hostile server's fragments
 * would be assembled without bound (425 MB observed). Here the TCP (and TLS) connection is
 * made by GSocketClient, wrapped in a PinholeWsStream, the upgrade request is written and the
 * answer read (a byte at a time from the connection itself, so nothing of the frames after it
 * is taken from libsoup or its scanner) and checked by hand, and
 * soup_websocket_connection_new() runs on the wrapped stream. The
 * handshake's certificate goes through @msg's accept-certificate signal, as libsoup's did,
 * so pinhole-client-certificate.c is unchanged. No extensions are offered. */
#define G_LOG_DOMAIN "pinhole-ws"

#include "pinhole-ws-connect.h"
#include "pinhole-ws-stream.h"
#include "pinhole-ws-limit.h"
#include "pinhole-error.h"
#include "pinhole-path.h"
#include "pinhole-stanza.h"

#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"   /* RFC 6455 §1.3 */

typedef struct
{
  GUri            *uri;
  char            *protocol;
  char            *user_agent;
  GTlsDatabase    *database;
  SoupMessage     *msg;
  GTlsConnection  *tls;           /* its accept-certificate goes to msg's */
  char            *key;
  PinholeWsStream *stream;
  GByteArray      *head;
  guint8           byte;
} Connect;

static void
connect_free (Connect *c)
{
  g_uri_unref (c->uri);
  g_free (c->protocol);
  g_free (c->user_agent);
  g_clear_object (&c->database);
  if (c->tls != NULL)
    g_signal_handlers_disconnect_by_data (c->tls, c);
  g_clear_object (&c->tls);
  g_clear_object (&c->msg);
  g_free (c->key);
  g_clear_object (&c->stream);
  g_byte_array_unref (c->head);
  g_free (c);
}

static gboolean
accept_certificate_cb (GTlsConnection       *tls,
                       GTlsCertificate      *certificate,
                       GTlsCertificateFlags  errors,
                       Connect              *c)
{
  gboolean accept = FALSE;

  g_signal_emit_by_name (c->msg, "accept-certificate", certificate, errors, &accept);
  return accept;
}

static void
event_cb (GSocketClient      *client,
          GSocketClientEvent  event,
          GSocketConnectable *connectable,
          GIOStream          *connection,
          Connect            *c)
{
  if (event != G_SOCKET_CLIENT_TLS_HANDSHAKING || !G_IS_TLS_CONNECTION (connection))
    return;
  if (c->database != NULL)
    g_tls_connection_set_database (G_TLS_CONNECTION (connection), c->database);
  g_set_object (&c->tls, G_TLS_CONNECTION (connection));
  g_signal_connect (connection, "accept-certificate", G_CALLBACK (accept_certificate_cb), c);
}

static gboolean
check_answer (Connect  *c,
              GError  **error)
{
  g_autoptr(SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  g_autofree char *reason = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *keyed = g_strconcat (c->key, WS_GUID, NULL);
  g_autoptr(GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  guint8 digest[20];
  gsize digest_len = sizeof digest;
  guint status = 0;
  const char *accept, *protocol;

  if (!soup_headers_parse_response ((const char *) c->head->data, c->head->len, headers, NULL,
                                    &status, &reason))
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "the server's answer to the WebSocket request does not parse");
      return FALSE;
    }
  if (status != SOUP_STATUS_SWITCHING_PROTOCOLS)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "the server answered %u %.64s, not 101", status, reason ? reason : "");
      return FALSE;
    }
  g_checksum_update (sha1, (const guchar *) keyed, -1);
  g_checksum_get_digest (sha1, digest, &digest_len);
  expected = g_base64_encode (digest, digest_len);
  accept = soup_message_headers_get_one (headers, "Sec-WebSocket-Accept");
  protocol = soup_message_headers_get_one (headers, "Sec-WebSocket-Protocol");
  /* RFC 6455 §4.1: the client MUST fail the connection unless each of these holds */
  if (!soup_message_headers_header_equals (headers, "Upgrade", "websocket") ||
      !soup_message_headers_header_contains (headers, "Connection", "upgrade") ||
      g_strcmp0 (accept, expected) != 0 ||
      g_strcmp0 (protocol, c->protocol) != 0 ||
      soup_message_headers_get_one (headers, "Sec-WebSocket-Extensions") != NULL)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "the server's answer to the WebSocket request is not an upgrade to "
                           PINHOLE_WEBSOCKET_PROTOCOL);
      return FALSE;
    }
  return TRUE;
}

static void read_head (GTask *task);

static void
head_byte_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Connect *c = g_task_get_task_data (task);
  GError *error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  SoupWebsocketConnection *ws;

  if (n < 0)
    {
      g_task_return_error (task, error);
      return;
    }
  if (n == 0)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                               "the server closed the connection before it answered");
      return;
    }
  g_byte_array_append (c->head, &c->byte, 1);
  if (c->head->len < 4 || memcmp (c->head->data + c->head->len - 4, "\r\n\r\n", 4) != 0)
    {
      if (c->head->len >= PINHOLE_WS_LIMIT_MAX_HEAD)
        {
          g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                                   "the server's answer head passes %u bytes",
                                   PINHOLE_WS_LIMIT_MAX_HEAD);
          return;
        }
      read_head (g_steal_pointer (&task));
      return;
    }
  if (!check_answer (c, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  ws = soup_websocket_connection_new (G_IO_STREAM (c->stream), c->uri,
                                      SOUP_WEBSOCKET_CONNECTION_CLIENT, NULL, c->protocol,
                                      NULL);
  g_task_return_pointer (task, ws, g_object_unref);
}

/* one byte at a time, from below the stream's frame scanner: whatever follows the head is
 * the WebSocket's, and libsoup reads it through the scanner */
static void
read_head (GTask *task)
{
  Connect *c = g_task_get_task_data (task);
  GIOStream *base = pinhole_ws_stream_get_base (c->stream);

  g_input_stream_read_async (g_io_stream_get_input_stream (base), &c->byte,
                             1, G_PRIORITY_DEFAULT, g_task_get_cancellable (task), head_byte_cb,
                             task);
}

static void
request_written_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  read_head (task);
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  Connect *c = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GSocketConnection) connection =
    g_socket_client_connect_to_uri_finish (G_SOCKET_CLIENT (source), result, &error);
  g_autofree char *host = NULL;
  g_autofree char *request = NULL;
  const char *path;
  guint8 nonce[16];

  g_signal_handlers_disconnect_by_data (source, c);
  if (connection == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  /* the relay paths' packets go on this connection */
  pinhole_path_tune_tcp_socket (g_socket_connection_get_socket (connection), "server");
  /* whole messages bounded as libsoup bounds one frame, fragments included */
  c->stream = pinhole_ws_stream_new (G_IO_STREAM (connection), FALSE, PINHOLE_WS_MAX_MESSAGE,
                                     PINHOLE_WS_MAX_MESSAGE);
  for (guint i = 0; i < sizeof nonce; i++)
    nonce[i] = g_random_int_range (0, 256);
  c->key = g_base64_encode (nonce, sizeof nonce);
  host = g_uri_get_port (c->uri) > 0
    ? g_strdup_printf (strchr (g_uri_get_host (c->uri), ':') ? "[%s]:%d" : "%s:%d",
                       g_uri_get_host (c->uri), g_uri_get_port (c->uri))
    : g_strdup (g_uri_get_host (c->uri));
  path = g_uri_get_path (c->uri);
  request = g_strdup_printf ("GET %s%s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
                             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                             "Sec-WebSocket-Protocol: %s\r\n\r\n",
                             *path ? path : "/", g_uri_get_query (c->uri) ? "?" : "",
                             g_uri_get_query (c->uri) ? g_uri_get_query (c->uri) : "", host,
                             c->user_agent, c->key, c->protocol);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (c->stream)),
                                   request, strlen (request), G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (task), request_written_cb, task);
  g_object_set_data_full (G_OBJECT (task), "request", g_steal_pointer (&request), g_free);
}

/**
 * _pinhole_ws_connect_async:
 * @uri: ws:// or wss://
 * @database: (nullable): the certificate authorities for wss://, or the system's
 * @msg: a GET of @uri, whose accept-certificate signal decides on a certificate the
 *   handshake refuses
 */
void
_pinhole_ws_connect_async (GUri               *uri,
                           const char         *protocol,
                           const char         *user_agent,
                           GTlsDatabase       *database,
                           SoupMessage        *msg,
                           GCancellable       *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer            user_data)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autofree char *target = NULL;
  gboolean tls = g_ascii_strcasecmp (g_uri_get_scheme (uri), "wss") == 0;
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Connect *c = g_new0 (Connect, 1);

  g_task_set_source_tag (task, _pinhole_ws_connect_async);
  c->uri = g_uri_ref (uri);
  c->protocol = g_strdup (protocol);
  c->user_agent = g_strdup (user_agent);
  c->database = database != NULL ? g_object_ref (database) : NULL;
  c->msg = g_object_ref (msg);
  c->head = g_byte_array_new ();
  g_task_set_task_data (task, c, (GDestroyNotify) connect_free);
  g_socket_client_set_tls (client, tls);
  g_signal_connect (client, "event", G_CALLBACK (event_cb), c);
  /* GSocketClient reads host and port from any scheme's URI */
  target = g_uri_to_string_partial (uri, G_URI_HIDE_USERINFO);
  g_socket_client_connect_to_uri_async (client, target, tls ? 443 : 80, cancellable,
                                        connected_cb, task);
}

/* Returns: (transfer full): the open WebSocket */
SoupWebsocketConnection *
_pinhole_ws_connect_finish (GAsyncResult *result,
                            GError      **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
