/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client.c: the WebSocket connection to pinhole-server (libsoup 3), requests matched to
 * results by id, and the dispatch of server pushes (docs/protocol.md §3–§5). Log-in is in
 * pinhole-client-login.c, the roster as the model in -roster.c, messages in -chat.c. */
#define G_LOG_DOMAIN "pinhole-client"

#include "pinhole-client-private.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"
#include "pinhole-ws-stream.h"

#include <string.h>

#define REQUEST_TIMEOUT_S 20

G_DEFINE_FINAL_TYPE (PinholeClient, pinhole_client, G_TYPE_OBJECT)

guint _pinhole_client_signals[PINHOLE_CLIENT_N_SIGNALS];

/* ---- requests ---- */

void
_pinhole_client_send_stanza (PinholeClient *self,
                             JsonObject    *stanza)
{
  g_autofree char *text = NULL;

  if (self->ws == NULL || soup_websocket_connection_get_state (self->ws) !=
      SOUP_WEBSOCKET_STATE_OPEN)
    return;
  text = pinhole_stanza_to_string (stanza, NULL);
  soup_websocket_connection_send_text (self->ws, text);
}

typedef struct
{
  PinholeClient *client;   /* borrowed: pending requests are failed in dispose */
  char          *id;
  guint          timeout;
} Request;

static void
request_free (Request *r)
{
  g_clear_handle_id (&r->timeout, g_source_remove);
  g_free (r->id);
  g_free (r);
}

static gboolean
request_timeout_cb (gpointer user_data)
{
  GTask *task = user_data;
  Request *r = g_task_get_task_data (task);
  g_autofree char *key = NULL;
  g_autoptr(GTask) owned = NULL;

  r->timeout = 0;
  g_hash_table_steal_extended (r->client->pending, r->id, (gpointer *) &key,
                               (gpointer *) &owned);
  g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT,
                           "the server did not answer within %d s", REQUEST_TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

/**
 * pinhole_client_request_async:
 * @stanza: a request without "id"; the client adds one
 * Sends a request; the result is the "result" stanza, or the "error" stanza as a GError.
 */
void
pinhole_client_request_async (PinholeClient       *self,
                              JsonObject          *stanza,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  Request *r;

  g_task_set_source_tag (task, pinhole_client_request_async);
  if (self->ws == NULL || soup_websocket_connection_get_state (self->ws) !=
      SOUP_WEBSOCKET_STATE_OPEN)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                               "not connected to the server");
      return;
    }
  r = g_new0 (Request, 1);
  r->client = self;
  r->id = g_strdup_printf ("r%" G_GUINT64_FORMAT, ++self->next_request);
  g_task_set_task_data (task, r, (GDestroyNotify) request_free);
  r->timeout = g_timeout_add_seconds (REQUEST_TIMEOUT_S, request_timeout_cb, task);
  json_object_set_string_member (stanza, "id", r->id);
  _pinhole_client_send_stanza (self, stanza);
  g_hash_table_insert (self->pending, g_strdup (r->id), g_steal_pointer (&task));
}

/* Returns: (transfer full): the "result" stanza */
JsonObject *
pinhole_client_request_finish (PinholeClient *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
complete_request (PinholeClient *self,
                  JsonObject    *stanza,
                  gboolean       is_error)
{
  const char *id = pinhole_stanza_get_id (stanza);
  g_autofree char *key = NULL;
  g_autoptr(GTask) task = NULL;

  /* stealing hands over the key as well as the task: both are ours to free */
  if (id == NULL ||
      !g_hash_table_steal_extended (self->pending, id, (gpointer *) &key, (gpointer *) &task))
    {
      if (is_error)
        {
          const char *text = pinhole_stanza_optional_string (stanza, "text", 1024, NULL);
          g_debug ("server error without a pending request: %s", text ? text : "(no text)");
        }
      return;
    }
  if (is_error)
    {
      gint64 code = PINHOLE_STANZA_ERROR_INTERNAL;
      const char *text = pinhole_stanza_optional_string (stanza, "text", 1024, NULL);
      GError *error = NULL;

      pinhole_stanza_require_int (stanza, "code", 0, 999, &code, NULL);
      pinhole_stanza_error_to_gerror ((int) code, text ? text : "error without text", &error);
      g_task_return_error (task, error);
    }
  else
    g_task_return_pointer (task, json_object_ref (stanza), (GDestroyNotify) json_object_unref);
}

static void
fail_all_requests (PinholeClient *self,
                   const GError  *error)
{
  GHashTableIter iter;
  char *key;
  GTask *task;
  g_autoptr(GPtrArray) tasks = g_ptr_array_new_with_free_func (g_object_unref);

  /* the tasks are returned after the table is empty: a callback may send a new request */
  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, (gpointer *) &key, (gpointer *) &task))
    {
      g_ptr_array_add (tasks, task);
      g_hash_table_iter_steal (&iter);
      g_free (key);
    }
  for (guint i = 0; i < tasks->len; i++)
    g_task_return_error (g_ptr_array_index (tasks, i), g_error_copy (error));
}

/* asks the server to close relay @channel; best effort: the server also closes the channels
 * of dead connections */
void
_pinhole_client_close_channel (PinholeClient *self,
                               guint32        channel)
{
  g_autoptr(JsonObject) stanza = pinhole_stanza_new ("relay-close", "close");

  json_object_set_int_member (stanza, "channel", channel);
  _pinhole_client_send_stanza (self, stanza);
}

/* ---- pushes ---- */

/* a text message from the server: a reply or a push (tests/fuzz/fuzz-client-push.c feeds it
 * whatever a hostile server could send) */
void
_pinhole_client_handle_text (PinholeClient *self,
                             GBytes        *message)
{
  g_autoptr(GError) error = NULL;
  gsize len;
  const char *text = g_bytes_get_data (message, &len);
  g_autoptr(JsonObject) stanza = pinhole_stanza_parse (text, len, &error);
  const char *type;

  if (stanza == NULL)
    {
      g_debug ("ignoring a bad stanza from the server: %s", error->message);
      return;
    }
  type = pinhole_stanza_get_type (stanza);
  if (strcmp (type, "result") == 0)
    complete_request (self, stanza, FALSE);
  else if (strcmp (type, "error") == 0)
    complete_request (self, stanza, TRUE);
  else if (strcmp (type, "presence") == 0)
    _pinhole_client_handle_presence (self, stanza);
  else if (strcmp (type, "contact") == 0)
    _pinhole_client_handle_contact (self, stanza);
  else if (strcmp (type, "contact-request") == 0)
    _pinhole_client_handle_contact_request (self, stanza);
  else if (strcmp (type, "relay-open") == 0)
    _pinhole_client_handle_relay_open (self, stanza);
  else if (strcmp (type, "relay-closed") == 0)
    _pinhole_client_handle_relay_closed (self, stanza);
  else if (strcmp (type, "offline-message") == 0)
    _pinhole_client_handle_offline (self, stanza, FALSE);
  else if (strcmp (type, "delivered") == 0)
    _pinhole_client_handle_delivered (self, stanza);
  else
    g_debug ("ignoring push of unknown type \"%.32s\"", type);
}

/* ---- what comes before the log-in is handled ----
 * The server pushes only to a connection that has logged in, after the log-in's result; but
 * the result reaches login_result_cb through a GTask, which may run it on the next turn of the
 * main loop, after pushes that came in the same read (a relay-open from a contact that saw
 * this device come online). Until the first log-in has been handled (local_id is set), pushes
 * and relay frames wait here, in order, and are handled right after it. */

typedef struct
{
  gint    type;      /* SoupWebsocketDataType */
  GBytes *message;
} EarlyMessage;

static void
early_message_free (gpointer data)
{
  EarlyMessage *m = data;

  g_bytes_unref (m->message);
  g_free (m);
}

static gboolean
is_reply (GBytes *message)
{
  g_autoptr(JsonObject) stanza = pinhole_stanza_parse (g_bytes_get_data (message, NULL),
                                                       g_bytes_get_size (message), NULL);
  const char *type = stanza != NULL ? pinhole_stanza_get_type (stanza) : NULL;

  return type == NULL || strcmp (type, "result") == 0 || strcmp (type, "error") == 0;
}

static void
handle_message (PinholeClient *self,
                gint           type,
                GBytes        *message)
{
  if (type == SOUP_WEBSOCKET_DATA_TEXT)
    _pinhole_client_handle_text (self, message);
  else
    pinhole_relay_channels_deliver (self->relays, message);
}

/* after the log-in's result set local_id: what waited for it */
void
_pinhole_client_release_early (PinholeClient *self)
{
  g_autoptr(PinholeClient) hold G_GNUC_UNUSED = g_object_ref (self);
  EarlyMessage *m;

  while (self->relays != NULL && (m = g_queue_pop_head (&self->early)) != NULL)
    {
      handle_message (self, m->type, m->message);
      early_message_free (m);
    }
}

static void
ws_message_cb (SoupWebsocketConnection *ws,
               gint                     type,
               GBytes                  *message,
               gpointer                 user_data)
{
  PinholeClient *self = user_data;
  g_autoptr(PinholeClient) hold G_GNUC_UNUSED = g_object_ref (self);

  if (self->local_id == NULL &&
      (type != SOUP_WEBSOCKET_DATA_TEXT || !is_reply (message)))
    {
      EarlyMessage *m;

      if (self->early.length >= PINHOLE_CLIENT_MAX_EARLY)
        {
          g_debug ("dropping a server message that came before the log-in was handled");
          return;
        }
      m = g_new0 (EarlyMessage, 1);
      m->type = type;
      m->message = g_bytes_ref (message);
      g_queue_push_tail (&self->early, m);
      return;
    }
  handle_message (self, type, message);
}

static void
connection_lost (PinholeClient *self,
                 const GError  *error)
{
  g_autoptr(SoupWebsocketConnection) ws = NULL;

  /* the receipts recorded are acknowledged while the connection may still take them */
  _pinhole_client_flush_receipt_acks (self);
  ws = g_steal_pointer (&self->ws);
  if (ws == NULL)
    return;
  g_signal_handlers_disconnect_by_data (ws, self);
  self->roster_loaded = FALSE;
  g_ptr_array_set_size (self->held_offline, 0);
  if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  fail_all_requests (self, error);
  _pinhole_client_end_sessions (self, error);
  g_signal_emit (self, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_DISCONNECTED], 0, error);
}

static void
ws_closed_cb (SoupWebsocketConnection *ws,
              gpointer                 user_data)
{
  PinholeClient *self = user_data;
  g_autoptr(PinholeClient) hold G_GNUC_UNUSED = g_object_ref (self);
  const char *reason = soup_websocket_connection_get_close_data (ws);
  g_autoptr(GError) error =
    g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED, "the server closed the connection%s%s",
                 reason && *reason ? ": " : "", reason ? reason : "");

  connection_lost (self, error);
}

/* the stream refused what the server sent (a message over the limit): closed, with why */
static void
stream_refused_cb (PinholeWsStream *stream,
                   const GError    *refusal,
                   PinholeClient   *self)
{
  g_autoptr(PinholeClient) hold G_GNUC_UNUSED = g_object_ref (self);
  g_autoptr(GError) error = NULL;

  if (self->ws == NULL || soup_websocket_connection_get_io_stream (self->ws) !=
      G_IO_STREAM (stream))
    return;
  error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "closed the connection: the server sent %s", refusal->message);
  g_debug ("%s", error->message);
  soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_TOO_BIG, refusal->message);
  connection_lost (self, error);
}

/* the WebSocket to the server is open: the connection starts using it */
void
_pinhole_client_connected (PinholeClient           *self,
                           SoupWebsocketConnection *ws)
{
  GIOStream *stream = soup_websocket_connection_get_io_stream (ws);

  self->ws = ws;
  /* what an earlier connection sent before its log-in was handled is of no use on this one */
  g_queue_clear_full (&self->early, early_message_free);
  if (PINHOLE_IS_WS_STREAM (stream))
    g_signal_connect_object (stream, "refused", G_CALLBACK (stream_refused_cb), self, 0);
  soup_websocket_connection_set_max_incoming_payload_size (ws, PINHOLE_WS_MAX_MESSAGE);
  soup_websocket_connection_set_keepalive_interval (ws, 20);
  g_signal_connect (ws, "message", G_CALLBACK (ws_message_cb), self);
  g_signal_connect (ws, "closed", G_CALLBACK (ws_closed_cb), self);
}

void
pinhole_client_disconnect (PinholeClient *self)
{
  g_autoptr(GError) error = g_error_new_literal (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                                 "disconnected");

  connection_lost (self, error);
}

/**
 * pinhole_client_set_direct_paths:
 * Whether sessions look for direct paths (the default). A one-shot client that sends and
 * leaves turns it off: it would gather candidates and ask the router for mappings in vain.
 * Takes effect at the next log-in.
 */
void
pinhole_client_set_direct_paths (PinholeClient *self,
                                 gboolean       enabled)
{
  self->direct_paths = enabled;
}

gboolean
pinhole_client_is_connected (PinholeClient *self)
{
  return self->ws != NULL && self->user != NULL;
}

/**
 * pinhole_client_set_ca_file:
 * @path: PEM file of the certificate authorities to trust for wss:// instead of the system's,
 *   e.g. a self-signed server's own certificate
 */
gboolean
pinhole_client_set_ca_file (PinholeClient *self,
                            const char    *path,
                            GError       **error)
{
  g_autofree char *absolute = g_canonicalize_filename (path, NULL);
  g_autoptr(GTlsDatabase) database = g_tls_file_database_new (absolute, error);

  if (database == NULL)
    return FALSE;
  soup_session_set_tls_database (self->soup, database);
  return TRUE;
}

PinholeProfile *
pinhole_client_get_profile (PinholeClient *self)
{
  return self->profile;
}

const char *
pinhole_client_get_user (PinholeClient *self)
{
  return self->user;
}

const char *
pinhole_client_get_device (PinholeClient *self)
{
  return self->device;
}

/* ---- object ---- */

static void
forget_client (gpointer key,
               gpointer conversation,
               gpointer user_data)
{
  _pinhole_conversation_forget_client (conversation);
}

static void
pinhole_client_dispose (GObject *object)
{
  PinholeClient *self = PINHOLE_CLIENT (object);

  if (self->ws != NULL)
    pinhole_client_disconnect (self);
  /* views may hold contacts and devices longer: they let go of the client now */
  if (self->by_user != NULL)
    _pinhole_client_forget_roster (self);
  g_clear_object (&self->contacts);
  g_clear_handle_id (&self->transfer_expiry, g_source_remove);
  g_clear_handle_id (&self->receipt_acks_timeout, g_source_remove);
  /* a sync in flight finds its client gone; its messages come again at the next log-in */
  if (self->offline_sync != NULL)
    g_cancellable_cancel (self->offline_sync);
  g_clear_object (&self->offline_sync);
  g_clear_pointer (&self->awaited_receipts, g_hash_table_unref);
  g_clear_object (&self->transfers);
  g_clear_object (&self->requests);
  g_clear_pointer (&self->by_user, g_hash_table_unref);
  if (self->conversations != NULL)
    g_hash_table_foreach (self->conversations, forget_client, NULL);
  g_clear_pointer (&self->conversations, g_hash_table_unref);
  g_queue_clear_full (&self->early, early_message_free);
  g_clear_pointer (&self->relays, pinhole_relay_channels_free);
  _pinhole_client_direct_stop (self);
  g_clear_object (&self->soup);
  g_clear_object (&self->rejected_certificate);
  g_clear_object (&self->profile);
  G_OBJECT_CLASS (pinhole_client_parent_class)->dispose (object);
}

static void
pinhole_client_finalize (GObject *object)
{
  PinholeClient *self = PINHOLE_CLIENT (object);

  g_hash_table_unref (self->pending);
  g_ptr_array_unref (self->held_offline);
  g_ptr_array_unref (self->receipt_acks);
  g_ptr_array_unref (self->synced_acks);
  g_free (self->user);
  g_free (self->device);
  g_free (self->local_id);
  g_free (self->stun_host);
  g_free (self->rejected_server);
  G_OBJECT_CLASS (pinhole_client_parent_class)->finalize (object);
}

static void
pinhole_client_class_init (PinholeClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  guint *s = _pinhole_client_signals;

  object_class->dispose = pinhole_client_dispose;
  object_class->finalize = pinhole_client_finalize;

  /* (from, message id, text, sender's timestamp in seconds) */
  s[PINHOLE_CLIENT_SIGNAL_MESSAGE_RECEIVED] =
    g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
                  G_TYPE_INT64);
  /* (user, device, show) */
  s[PINHOLE_CLIENT_SIGNAL_PRESENCE_CHANGED] =
    g_signal_new ("presence-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  /* (from) */
  s[PINHOLE_CLIENT_SIGNAL_CONTACT_REQUEST] =
    g_signal_new ("contact-request", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /* (user, relation) */
  s[PINHOLE_CLIENT_SIGNAL_CONTACT_CHANGED] =
    g_signal_new ("contact-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /* (user, message id): the recipient's device has the message */
  s[PINHOLE_CLIENT_SIGNAL_DELIVERED] =
    g_signal_new ("delivered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /* (user): a device key of user changed; nothing is sent to or accepted from it until trusted */
  s[PINHOLE_CLIENT_SIGNAL_KEY_CHANGED] =
    g_signal_new ("key-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /* (error) */
  s[PINHOLE_CLIENT_SIGNAL_DISCONNECTED] =
    g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
pinhole_client_init (PinholeClient *self)
{
  self->soup = soup_session_new_with_options ("user-agent", "pinhole/" PINHOLE_VERSION, NULL);
  self->direct_paths = TRUE;
  self->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->contacts = g_list_store_new (PINHOLE_TYPE_CONTACT);
  self->transfers = g_list_store_new (PINHOLE_TYPE_TRANSFER);
  g_signal_connect (self, "presence-changed", G_CALLBACK (_pinhole_client_transfers_presence_cb),
                    NULL);
  self->requests = g_list_store_new (PINHOLE_TYPE_CONTACT);
  self->by_user = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->conversations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->relays = pinhole_relay_channels_new ();
  self->held_offline = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_queue_init (&self->early);
  self->receipt_acks = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  self->synced_acks = g_ptr_array_new_with_free_func (_pinhole_client_synced_ack_free);
  self->awaited_receipts = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                  _pinhole_client_awaited_receipt_free);
}

/* Returns: (transfer full): a client for the account in @profile, not connected yet */
PinholeClient *
pinhole_client_new (PinholeProfile *profile)
{
  PinholeClient *self = g_object_new (PINHOLE_TYPE_CLIENT, NULL);

  self->profile = g_object_ref (profile);
  _pinhole_client_load_cached_roster (self);
  return self;
}
