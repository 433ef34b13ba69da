/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-harness-ws.c: raw WebSocket clients that talk to pinhole-server directly, so
 * that the server's own checks are tested and not the client's. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-harness.h"
#include "pinhole-login-proof.h"

#include <sodium.h>

#include <string.h>

/* ---- raw WebSocket ---- */

typedef struct
{
  gboolean                 done;
  SoupWebsocketConnection *ws;
  GError                  *error;
} WsConnect;

static void
ws_connect_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  WsConnect *w = user_data;

  w->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &w->error);
  w->done = TRUE;
}

static gboolean
ws_connect_done (gpointer data)
{
  return ((WsConnect *) data)->done;
}

static void
ws_message_cb (SoupWebsocketConnection *conn,
               gint                     type,
               GBytes                  *message,
               PhWs                    *ws)
{
  if (type == SOUP_WEBSOCKET_DATA_TEXT)
    {
      gsize len;
      const char *data = g_bytes_get_data (message, &len);

      g_ptr_array_add (ws->texts, g_strndup (data, len));
    }
  else
    ws->n_binary++;
}

static void
ws_closed_cb (SoupWebsocketConnection *conn,
              PhWs                    *ws)
{
  ws->closed = TRUE;
  ws->close_code = soup_websocket_connection_get_close_code (conn);
}

/* a WebSocket to @url with the "pinhole-1" subprotocol, that records what it receives */
PhWs *
ph_ws_connect (const char *url,
               GError    **error)
{
  char *protocols[] = { "pinhole-1", NULL };
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, url);
  WsConnect w = { FALSE, NULL, NULL };
  PhWs *ws;

  if (msg == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad URL %s", url);
      return NULL;
    }
  soup_session_websocket_connect_async (session, msg, NULL, protocols, G_PRIORITY_DEFAULT, NULL,
                                        ws_connect_cb, &w);
  if (!ph_iterate_until (ws_connect_done, &w, PH_EVENT_MS))
    {
      /* the callback still refers to @w: wait for it after cancelling */
      soup_session_abort (session);
      ph_iterate_until (ws_connect_done, &w, PH_EVENT_MS);
      g_clear_object (&w.ws);
      g_clear_error (&w.error);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no WebSocket to %s in time", url);
      return NULL;
    }
  if (w.ws == NULL)
    {
      g_propagate_error (error, w.error);
      return NULL;
    }
  ws = g_new0 (PhWs, 1);
  ws->session = g_steal_pointer (&session);
  ws->ws = w.ws;
  ws->texts = g_ptr_array_new_with_free_func (g_free);
  soup_websocket_connection_set_max_incoming_payload_size (ws->ws, 1024 * 1024);
  g_signal_connect (ws->ws, "message", G_CALLBACK (ws_message_cb), ws);
  g_signal_connect (ws->ws, "closed", G_CALLBACK (ws_closed_cb), ws);
  return ws;
}

void
ph_ws_send (PhWs       *ws,
            const char *text)
{
  if (soup_websocket_connection_get_state (ws->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text (ws->ws, text);
}

typedef struct
{
  PhWs       *ws;
  guint      *cursor;
  const char *id;
  JsonObject *found;
} ReplyWait;

static gboolean
reply_found (gpointer data)
{
  ReplyWait *w = data;

  for (; *w->cursor < w->ws->texts->len; (*w->cursor)++)
    {
      const char *text = g_ptr_array_index (w->ws->texts, *w->cursor);
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonObject *o;
      const char *type;

      if (!json_parser_load_from_data (parser, text, -1, NULL) ||
          !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        continue;
      o = json_node_get_object (json_parser_get_root (parser));
      type = ph_event_string (o, "type");
      if (g_strcmp0 (type, "result") != 0 && g_strcmp0 (type, "error") != 0)
        continue;
      if (w->id != NULL ? g_strcmp0 (ph_event_string (o, "id"), w->id) == 0
                        : ph_event_string (o, "id") == NULL && g_str_equal (type, "error"))
        {
          (*w->cursor)++;
          w->found = json_object_ref (o);
          return TRUE;
        }
    }
  return w->ws->closed;
}

/**
 * ph_ws_wait_reply:
 * @cursor: (inout): the index of the first received text to look at
 * @id: (nullable): the request id, or %NULL for an error that names no request
 * Returns: (transfer full) (nullable): the "result" or "error" stanza answering @id
 */
JsonObject *
ph_ws_wait_reply (PhWs       *ws,
                  guint      *cursor,
                  const char *id,
                  guint       timeout_ms)
{
  ReplyWait w = { ws, cursor, id, NULL };

  ph_iterate_until (reply_found, &w, timeout_ms);
  return w.found;
}

/* a device key pair for a raw client; Returns: (transfer full): the public key in base64 */
char *
ph_device_key_new (guint8 secret_key[64])
{
  guint8 pk[32];

  crypto_sign_keypair (pk, secret_key);
  return g_base64_encode (pk, sizeof pk);
}

/**
 * ph_ws_login_proof:
 * Asks @ws for its log-in challenge and signs it as @user's @device with @secret_key, the way
 * pinhole-cli does (docs/protocol.md §4).
 * Returns: (transfer full) (nullable): the "proof" member's value, base64
 */
char *
ph_ws_login_proof (PhWs         *ws,
                   guint        *cursor,
                   const guint8 *secret_key,
                   const char   *user,
                   const char   *device)
{
  g_autoptr(JsonObject) reply = NULL;
  const char *nonce64;

  ph_ws_send (ws, "{\"type\":\"challenge\",\"id\":\"challenge\"}");
  reply = ph_ws_wait_reply (ws, cursor, "challenge", PH_CLI_MS);
  nonce64 = reply != NULL ? json_object_get_string_member_with_default (reply, "nonce", NULL)
                          : NULL;
  return nonce64 != NULL ? ph_login_proof_sign (secret_key, nonce64, user, device) : NULL;
}

/* Returns: (transfer full): @secret_key's signature, base64, of the log-in proof for the
 * challenge @nonce64 (base64) as @user's @device */
char *
ph_login_proof_sign (const guint8 *secret_key,
                     const char   *nonce64,
                     const char   *user,
                     const char   *device)
{
  g_autoptr(GBytes) nonce = NULL;
  g_autoptr(GBytes) message = NULL;
  guint8 sig[crypto_sign_BYTES];
  gsize len = 0;
  guchar *raw = g_base64_decode (nonce64, &len);

  nonce = g_bytes_new_take (raw, len);
  message = pinhole_login_proof_message (nonce, user, device);
  crypto_sign_detached (sig, NULL, g_bytes_get_data (message, NULL), g_bytes_get_size (message),
                        secret_key);
  return g_base64_encode (sig, sizeof sig);
}

static gboolean
ws_closed (gpointer data)
{
  return ((PhWs *) data)->closed;
}

gboolean
ph_ws_wait_closed (PhWs  *ws,
                   guint  timeout_ms)
{
  return ph_iterate_until (ws_closed, ws, timeout_ms);
}

void
ph_ws_free (PhWs *ws)
{
  if (ws == NULL)
    return;
  if (!ws->closed)
    {
      soup_websocket_connection_close (ws->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      ph_ws_wait_closed (ws, PH_STOP_GRACE_MS);
    }
  g_signal_handlers_disconnect_by_data (ws->ws, ws);
  g_clear_object (&ws->ws);
  g_clear_object (&ws->session);
  g_ptr_array_unref (ws->texts);
  g_free (ws);
}
