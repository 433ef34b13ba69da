/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client.c: the WebSocket connection to pinhole-server (libsoup 3), register and login,
 * requests matched to results by id, server pushes, and the cached roster
 * (docs/protocol.md §3–§5). Chat and sessions live in pinhole-client-chat.c. */
#define G_LOG_DOMAIN "pinhole-client"

#include "pinhole-client-private.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"

#include <string.h>

#define REQUEST_TIMEOUT_S 20

G_DEFINE_FINAL_TYPE (PinholeClient, pinhole_client, G_TYPE_OBJECT)

guint _pinhole_client_signals[PINHOLE_CLIENT_N_SIGNALS];

void
pinhole_contact_info_free (PinholeContactInfo *info)
{
  g_free (info->user);
  g_free (info->relation);
  g_free (info->show);
  g_free (info->path);
  g_free (info);
}

static void
device_free (PinholeClientDevice *d)
{
  g_free (d->device);
  g_clear_pointer (&d->key, g_bytes_unref);
  g_free (d->show);
  g_free (d);
}

static void
contact_free (PinholeClientContact *c)
{
  g_free (c->user);
  g_free (c->relation);
  g_hash_table_unref (c->devices);
  g_free (c);
}

static PinholeClientContact *
contact_new (const char *user,
             const char *relation)
{
  PinholeClientContact *c = g_new0 (PinholeClientContact, 1);

  c->user = g_strdup (user);
  c->relation = g_strdup (relation);
  c->devices = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                      (GDestroyNotify) device_free);
  return c;
}

/* Returns: (transfer none) (nullable) */
PinholeClientContact *
_pinhole_client_find_contact (PinholeClient *self,
                              const char    *user)
{
  return g_hash_table_lookup (self->contacts, user);
}

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

/* ---- roster ---- */

static void
roster_from_result (PinholeClient *self,
                    JsonObject    *result)
{
  JsonNode *node = json_object_get_member (result, "contacts");
  JsonArray *items;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return;
  items = json_node_get_array (node);
  g_hash_table_remove_all (self->contacts);
  for (guint i = 0; i < json_array_get_length (items); i++)
    {
      JsonNode *item_node = json_array_get_element (items, i);
      JsonObject *item;
      const char *user, *relation;
      PinholeClientContact *contact;
      JsonNode *devices;

      if (!JSON_NODE_HOLDS_OBJECT (item_node))
        continue;
      item = json_node_get_object (item_node);
      user = pinhole_stanza_require_string (item, "user", 32, NULL);
      relation = pinhole_stanza_require_string (item, "relation", 16, NULL);
      if (user == NULL || relation == NULL || !pinhole_user_name_is_valid (user))
        continue;
      contact = contact_new (user, relation);
      g_hash_table_insert (self->contacts, contact->user, contact);
      devices = json_object_get_member (item, "devices");
      if (devices == NULL || !JSON_NODE_HOLDS_ARRAY (devices))
        continue;
      for (guint j = 0; j < json_array_get_length (json_node_get_array (devices)); j++)
        {
          JsonNode *dn = json_array_get_element (json_node_get_array (devices), j);
          JsonObject *d;
          const char *name, *show;
          GBytes *key;
          PinholeClientDevice *device;

          if (!JSON_NODE_HOLDS_OBJECT (dn))
            continue;
          d = json_node_get_object (dn);
          name = pinhole_stanza_require_string (d, "device", 64, NULL);
          show = pinhole_stanza_optional_string (d, "show", 16, NULL);
          key = pinhole_stanza_require_base64 (d, "key", 32, 32, NULL);
          if (name == NULL || key == NULL || !pinhole_device_name_is_valid (name))
            {
              g_clear_pointer (&key, g_bytes_unref);
              continue;
            }
          device = g_new0 (PinholeClientDevice, 1);
          device->device = g_strdup (name);
          device->key = key;
          device->show = g_strdup (show ? show : "offline");
          g_hash_table_insert (contact->devices, device->device, device);
        }
    }
}

static void
refresh_roster_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  PinholeClient *self = PINHOLE_CLIENT (source);
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) roster = pinhole_client_request_finish (self, result, &error);

  if (roster == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  roster_from_result (self, roster);
  self->roster_loaded = TRUE;
  /* sealed messages that arrived before their sender's keys were known */
  {
    g_autoptr(GPtrArray) held = g_steal_pointer (&self->held_offline);

    self->held_offline = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
    for (guint i = 0; i < held->len; i++)
      _pinhole_client_handle_offline (self, g_ptr_array_index (held, i), TRUE);
  }
  g_task_return_boolean (task, TRUE);
}

static void
refresh_roster_async (PinholeClient       *self,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_autoptr(JsonObject) stanza = pinhole_stanza_new ("roster", NULL);
  GTask *task = g_task_new (self, NULL, callback, user_data);

  pinhole_client_request_async (self, stanza, NULL, refresh_roster_cb, task);
}

static void
refresh_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_debug ("roster refresh failed: %s", error->message);
}

/* fetches the roster again in the background (after a contact change) */
void
_pinhole_client_refresh_roster (PinholeClient *self)
{
  refresh_roster_async (self, refresh_done_cb, NULL);
}

/* ---- pushes ---- */

static void
handle_presence (PinholeClient *self,
                 JsonObject    *stanza)
{
  const char *user = pinhole_stanza_require_string (stanza, "user", 32, NULL);
  const char *device = pinhole_stanza_require_string (stanza, "device", 64, NULL);
  const char *show = pinhole_stanza_require_string (stanza, "show", 16, NULL);
  PinholeClientContact *contact;
  PinholeClientDevice *d;

  if (user == NULL || device == NULL || show == NULL)
    return;
  /* the server sends presence of mutual contacts only; right after log-in it comes before
   * the roster, which then carries the same state */
  contact = _pinhole_client_find_contact (self, user);
  d = contact ? g_hash_table_lookup (contact->devices, device) : NULL;
  if (d != NULL)
    {
      g_free (d->show);
      d->show = g_strdup (show);
    }
  else if (self->roster_loaded)
    _pinhole_client_refresh_roster (self);   /* a device we have no key for yet */
  g_signal_emit (self, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_PRESENCE_CHANGED], 0,
                 user, device, show);
}

static void
handle_contact (PinholeClient *self,
                JsonObject    *stanza)
{
  const char *user = pinhole_stanza_require_string (stanza, "user", 32, NULL);
  const char *relation = pinhole_stanza_require_string (stanza, "relation", 16, NULL);

  if (user == NULL || relation == NULL)
    return;
  _pinhole_client_refresh_roster (self);
  g_signal_emit (self, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_CONTACT_CHANGED], 0, user,
                 relation);
}

static void
handle_contact_request (PinholeClient *self,
                        JsonObject    *stanza)
{
  const char *from = pinhole_stanza_require_string (stanza, "from", 32, NULL);

  if (from == NULL)
    return;
  g_signal_emit (self, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_CONTACT_REQUEST], 0, from);
}

static void
handle_text (PinholeClient *self,
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
    handle_presence (self, stanza);
  else if (strcmp (type, "contact") == 0)
    handle_contact (self, stanza);
  else if (strcmp (type, "contact-request") == 0)
    handle_contact_request (self, stanza);
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

static void
ws_message_cb (SoupWebsocketConnection *ws,
               gint                     type,
               GBytes                  *message,
               gpointer                 user_data)
{
  PinholeClient *self = user_data;
  g_autoptr(PinholeClient) hold = g_object_ref (self);

  if (type == SOUP_WEBSOCKET_DATA_TEXT)
    handle_text (self, message);
  else
    {
      guint32 channel;
      g_autoptr(GBytes) payload = NULL;
      g_autoptr(GError) error = NULL;
      PinholeRelayPath *path;

      if (!pinhole_relay_frame_parse (message, &channel, &payload, &error))
        {
          g_debug ("bad relay frame: %s", error->message);
          return;
        }
      path = g_hash_table_lookup (self->relays, GUINT_TO_POINTER (channel));
      if (path != NULL)
        _pinhole_relay_path_deliver (path, payload);
    }
}

static void
connection_lost (PinholeClient *self,
                 const GError  *error)
{
  g_autoptr(SoupWebsocketConnection) ws = g_steal_pointer (&self->ws);

  if (ws == NULL)
    return;
  g_signal_handlers_disconnect_by_data (ws, self);
  self->roster_loaded = FALSE;
  g_ptr_array_set_size (self->held_offline, 0);
  if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  fail_all_requests (self, error);
  _pinhole_client_drop_all_peers (self, error);
  g_signal_emit (self, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_DISCONNECTED], 0, error);
}

static void
ws_closed_cb (SoupWebsocketConnection *ws,
              gpointer                 user_data)
{
  PinholeClient *self = user_data;
  g_autoptr(PinholeClient) hold = g_object_ref (self);
  const char *reason = soup_websocket_connection_get_close_data (ws);
  g_autoptr(GError) error =
    g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED, "the server closed the connection%s%s",
                 reason && *reason ? ": " : "", reason ? reason : "");

  connection_lost (self, error);
}

/* ---- connect, register, login ---- */

typedef struct
{
  char    *server_url;
  char    *user;
  char    *password;
  gboolean announce;
  gboolean registering;
  gboolean tried_token;
} LoginData;

static void
login_data_free (LoginData *d)
{
  g_free (d->server_url);
  g_free (d->user);
  if (d->password != NULL)
    memset (d->password, 0, strlen (d->password));
  g_free (d->password);
  g_free (d);
}

static void send_login (GTask *task);

/* a device name from the host name and a random suffix, made once per profile */
static char *
ensure_device_name (PinholeClient *self)
{
  char *device = pinhole_profile_dup_setting (self->profile, "device");
  GString *name;
  const char *host;

  if (device != NULL)
    return device;
  name = g_string_new (NULL);
  for (host = g_get_host_name (); *host != '\0' && name->len < 24; host++)
    if (g_ascii_isalnum (*host) || *host == '-' || *host == '_')
      g_string_append_c (name, *host);
  if (name->len == 0)
    g_string_append (name, "device");
  g_string_append_printf (name, "-%06x", g_random_int () & 0xffffff);
  pinhole_profile_set_setting (self->profile, "device", name->str, NULL);
  return g_string_free (name, FALSE);
}

static void
login_roster_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
login_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  PinholeClient *self = PINHOLE_CLIENT (source);
  g_autoptr(GTask) task = user_data;
  LoginData *d = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) reply = pinhole_client_request_finish (self, result, &error);
  JsonNode *stun;
  g_autoptr(GBytes) token = NULL;

  if (reply == NULL)
    {
      /* a stale token (e.g. a reset server) falls back to the password when we have one */
      if (d->tried_token && d->password != NULL &&
          g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH) &&
          pinhole_client_is_profile_server (self, d->server_url))
        {
          send_login (g_steal_pointer (&task));
          return;
        }
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_free (self->user);
  self->user = g_strdup (d->user);
  g_free (self->local_id);
  self->local_id = g_strconcat (self->user, "/", self->device, NULL);
  stun = json_object_get_member (reply, "stun");
  if (stun != NULL && JSON_NODE_HOLDS_OBJECT (stun))
    {
      gint64 port = 0;
      const char *host = pinhole_stanza_optional_string (json_node_get_object (stun), "host",
                                                         255, NULL);
      gint64 alt_port = 0;

      if (host != NULL &&
          pinhole_stanza_require_int (json_node_get_object (stun), "port", 1, 65535, &port, NULL))
        {
          g_free (self->stun_host);
          self->stun_host = g_strdup (host);
          self->stun_port = (guint) port;
          if (!pinhole_stanza_require_int (json_node_get_object (stun), "alt_port", 1, 65535,
                                           &alt_port, NULL))
            alt_port = 0;
          self->stun_alt_port = (guint) alt_port;
        }
    }
  if (json_object_has_member (reply, "token"))
    token = pinhole_stanza_require_base64 (reply, "token", 32, 32, NULL);
  if ((token != NULL &&
       (!pinhole_profile_set_setting (self->profile, "user", d->user, &error) ||
        !pinhole_profile_set_setting (self->profile, "server", d->server_url, &error))))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (token != NULL)
    {
      g_autofree char *encoded = g_base64_encode (g_bytes_get_data (token, NULL), 32);
      if (!pinhole_profile_set_setting (self->profile, "token", encoded, &error))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  /* direct paths: candidates are gathered while the roster comes */
  if (self->direct_paths)
    _pinhole_client_direct_start (self);
  /* login completes with the roster in hand, so that contacts are known at once */
  refresh_roster_async (self, login_roster_cb, g_steal_pointer (&task));
}

static void
send_login (GTask *task)
{
  PinholeClient *self = g_task_get_source_object (task);
  LoginData *d = g_task_get_task_data (task);
  g_autoptr(JsonObject) stanza = pinhole_stanza_new (d->registering ? "register" : "login", NULL);
  g_autoptr(GBytes) key = pinhole_identity_dup_public_key (
    pinhole_profile_get_identity (self->profile));
  g_autofree char *token = NULL;
  g_autofree char *stored_user = pinhole_profile_dup_setting (self->profile, "user");

  json_object_set_string_member (stanza, "user", d->user);
  json_object_set_string_member (stanza, "device", self->device);
  pinhole_stanza_set_base64 (stanza, "device_key", key);
  json_object_set_boolean_member (stanza, "announce", d->announce);
  /* the token goes only to the server that issued it */
  if (!d->registering && !d->tried_token &&
      g_strcmp0 (stored_user, d->user) == 0 &&
      pinhole_client_is_profile_server (self, d->server_url))
    token = pinhole_profile_dup_setting (self->profile, "token");
  if (token != NULL)
    {
      d->tried_token = TRUE;
      json_object_set_string_member (stanza, "token", token);
    }
  else if (d->password != NULL)
    {
      d->tried_token = FALSE;
      json_object_set_string_member (stanza, "password", d->password);
    }
  else
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                               "no stored login for this profile: give the password "
                               "(PINHOLE_PASSWORD)");
      g_object_unref (task);
      return;
    }
  pinhole_client_request_async (self, stanza, g_task_get_cancellable (task), login_result_cb,
                                task);
}

static void
ws_connected_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PinholeClient *self = g_task_get_source_object (task);
  LoginData *d = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  SoupWebsocketConnection *ws =
    soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);

  if (ws == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH,
                                 "cannot reach the server at %s: %s", d->server_url,
                                 error->message);
      return;
    }
  self->ws = ws;
  soup_websocket_connection_set_max_incoming_payload_size (
    ws, MAX (PINHOLE_STANZA_MAX_BYTES, PINHOLE_RELAY_HEADER_BYTES + PINHOLE_RELAY_MAX_PAYLOAD));
  soup_websocket_connection_set_keepalive_interval (ws, 20);
  g_signal_connect (ws, "message", G_CALLBACK (ws_message_cb), self);
  g_signal_connect (ws, "closed", G_CALLBACK (ws_closed_cb), self);
  send_login (g_steal_pointer (&task));
}

/* "ws://host:port" and "wss://host" name the server, whose endpoint is PINHOLE_WEBSOCKET_PATH
 * (docs/protocol.md §1); any other path (e.g. behind a reverse proxy) is kept as given.
 * @completed: (out): whether the path was added
 * Returns: (transfer full) (nullable): the URI to connect to, or %NULL if @url is not ws(s) */
static GUri *
server_uri_parse (const char *url,
                  gboolean   *completed)
{
  g_autoptr(GUri) uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);

  *completed = FALSE;
  if (uri == NULL || (g_strcmp0 (g_uri_get_scheme (uri), "ws") != 0 &&
                      g_strcmp0 (g_uri_get_scheme (uri), "wss") != 0))
    return NULL;
  /* SOUP_HTTP_URI_FLAGS normalise a missing path to "/" */
  if (g_strcmp0 (g_uri_get_path (uri), "/") != 0)
    return g_steal_pointer (&uri);
  *completed = TRUE;
  return g_uri_build_with_user (g_uri_get_flags (uri), g_uri_get_scheme (uri),
                                g_uri_get_user (uri), g_uri_get_password (uri),
                                g_uri_get_auth_params (uri), g_uri_get_host (uri),
                                g_uri_get_port (uri), PINHOLE_WEBSOCKET_PATH,
                                g_uri_get_query (uri), g_uri_get_fragment (uri));
}

static void
connect_and_login (PinholeClient       *self,
                   LoginData           *d,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data,
                   gpointer             source_tag)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(SoupMessage) msg = NULL;
  char *protocols[] = { (char *) PINHOLE_WEBSOCKET_PROTOCOL, NULL };
  g_autoptr(GUri) uri = NULL;
  gboolean completed;

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, d, (GDestroyNotify) login_data_free);
  if (self->ws != NULL)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_FAILED, "already connected");
      return;
    }
  if (!pinhole_user_name_is_valid (d->user))
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                               "\"%s\" is not a user name: use 1-32 of a-z 0-9 . _ -", d->user);
      return;
    }
  uri = server_uri_parse (d->server_url, &completed);
  if (uri == NULL)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                               "\"%s\" is not a ws:// or wss:// server address", d->server_url);
      return;
    }
  /* the profile remembers, and messages name, the address actually used */
  if (completed)
    {
      g_free (d->server_url);
      d->server_url = g_uri_to_string (uri);
    }
  g_free (self->device);
  self->device = ensure_device_name (self);
  msg = soup_message_new_from_uri (SOUP_METHOD_GET, uri);
  soup_session_websocket_connect_async (self->soup, msg, NULL, protocols, G_PRIORITY_DEFAULT,
                                        cancellable, ws_connected_cb, g_steal_pointer (&task));
}

/* "scheme://host:port/path" of a ws:// or wss:// URL: the path completed as the connection
 * completes it, the host in lower case, the port made explicit. Two URLs name the same server
 * when these are equal; ws:// never equals wss://, even on the same host and port.
 * Returns: (transfer full) (nullable): %NULL if @url is not a ws(s) URL */
static char *
server_url_normalize (const char *url)
{
  g_autoptr(GUri) uri = NULL;
  g_autofree char *host = NULL;
  gboolean completed;
  gboolean tls;
  int port;

  if (url == NULL)
    return NULL;
  uri = server_uri_parse (url, &completed);
  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return NULL;
  tls = g_strcmp0 (g_uri_get_scheme (uri), "wss") == 0;
  host = g_ascii_strdown (g_uri_get_host (uri), -1);
  port = g_uri_get_port (uri);
  if (port == -1)
    port = tls ? 443 : 80;
  return g_strdup_printf ("%s://%s%s%s:%d%s", tls ? "wss" : "ws", strchr (host, ':') ? "[" : "",
                          host, strchr (host, ':') ? "]" : "", port, g_uri_get_path (uri));
}

/**
 * pinhole_client_complete_server_url:
 * @url: a server address as the user gave it
 * Returns: (transfer full) (nullable): @url with the path a connection adds ("ws://host" is
 *   "ws://host/pinhole"), or %NULL if @url is not a ws:// or wss:// URL
 */
char *
pinhole_client_complete_server_url (const char *url)
{
  g_autoptr(GUri) uri = NULL;
  gboolean completed;

  g_return_val_if_fail (url != NULL, NULL);
  uri = server_uri_parse (url, &completed);
  return uri != NULL ? g_uri_to_string (uri) : NULL;
}

/**
 * pinhole_client_is_profile_server:
 * @server_url: a server address
 * Whether @server_url names the server the profile's account and login token belong to (the
 * one of its last register or login): the same scheme, host, port and path. A token or a
 * password goes to that server only.
 * Returns: %FALSE when it names another server, or the profile has none yet
 */
gboolean
pinhole_client_is_profile_server (PinholeClient *self,
                                  const char    *server_url)
{
  g_autofree char *stored = NULL;
  g_autofree char *own = NULL;
  g_autofree char *given = NULL;

  g_return_val_if_fail (PINHOLE_IS_CLIENT (self), FALSE);
  stored = pinhole_profile_dup_setting (self->profile, "server");
  own = server_url_normalize (stored);
  given = server_url_normalize (server_url);
  return own != NULL && given != NULL && strcmp (own, given) == 0;
}


/**
 * pinhole_client_register_async:
 * Connects to @server_url and creates the account @user with this profile's device; the
 * profile remembers the server, the user and a login token.
 */
void
pinhole_client_register_async (PinholeClient       *self,
                               const char          *server_url,
                               const char          *user,
                               const char          *password,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  LoginData *d = g_new0 (LoginData, 1);

  d->server_url = g_strdup (server_url);
  d->user = g_strdup (user);
  d->password = g_strdup (password);
  d->registering = TRUE;
  d->announce = TRUE;
  connect_and_login (self, d, cancellable, callback, user_data, pinhole_client_register_async);
}

gboolean
pinhole_client_register_finish (PinholeClient *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * pinhole_client_login_async:
 * @server_url: (nullable): the server, or %NULL for the one the profile registered with; any
 *   other server is refused (%PINHOLE_ERROR_AUTH) before connecting: to move the profile, set
 *   its "server" setting first (`pinhole-cli login`)
 * @password: (nullable): used when the profile has no valid token
 * @announce: whether contacts see this device online (a one-shot `send` does not announce)
 */
void
pinhole_client_login_async (PinholeClient       *self,
                            const char          *server_url,
                            const char          *password,
                            gboolean             announce,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  LoginData *d = g_new0 (LoginData, 1);

  d->server_url = server_url ? g_strdup (server_url)
                             : pinhole_profile_dup_setting (self->profile, "server");
  d->user = pinhole_profile_dup_setting (self->profile, "user");
  d->password = g_strdup (password);
  d->announce = announce;
  if (d->server_url == NULL || d->user == NULL)
    {
      g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
      login_data_free (d);
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND,
                               "this profile has no account yet: register first");
      return;
    }
  /* neither the token nor the password goes to a server the profile does not belong to */
  if (!pinhole_client_is_profile_server (self, d->server_url))
    {
      g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
      g_autofree char *stored = pinhole_profile_dup_setting (self->profile, "server");

      g_task_set_source_tag (task, pinhole_client_login_async);
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                               "this profile belongs to %s, not %s",
                               stored ? stored : "no server yet", d->server_url);
      login_data_free (d);
      return;
    }
  connect_and_login (self, d, cancellable, callback, user_data, pinhole_client_login_async);
}

gboolean
pinhole_client_login_finish (PinholeClient *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
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

/* ---- contacts ---- */

static void
contact_request_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  PinholeClient *self = PINHOLE_CLIENT (source);
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) reply = pinhole_client_request_finish (self, result, &error);
  const char *relation;

  if (reply == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  relation = pinhole_stanza_optional_string (reply, "relation", 16, NULL);
  _pinhole_client_refresh_roster (self);
  g_task_return_pointer (task, g_strdup (relation ? relation : "none"), g_free);
}

/**
 * pinhole_client_contact_async:
 * @verb: "subscribe" (add), "accept", "decline" or "remove"
 */
void
pinhole_client_contact_async (PinholeClient       *self,
                              const char          *verb,
                              const char          *user,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(JsonObject) stanza = pinhole_stanza_new (verb, NULL);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, pinhole_client_contact_async);
  json_object_set_string_member (stanza, "user", user);
  pinhole_client_request_async (self, stanza, cancellable, contact_request_cb, task);
}

/* Returns: (transfer full): the relation now: "mutual", "requested" or "none" */
char *
pinhole_client_contact_finish (PinholeClient *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static int
show_rank (const char *show)
{
  if (g_strcmp0 (show, "online") == 0)
    return 2;
  if (g_strcmp0 (show, "away") == 0)
    return 1;
  return 0;
}

static int
compare_contact_info (gconstpointer a,
                      gconstpointer b)
{
  const PinholeContactInfo *ia = *(PinholeContactInfo **) a;
  const PinholeContactInfo *ib = *(PinholeContactInfo **) b;

  return strcmp (ia->user, ib->user);
}

/**
 * pinhole_client_list_contacts:
 * Returns: (transfer full) (element-type PinholeContactInfo): the roster as last fetched,
 *   sorted by user
 */
GPtrArray *
pinhole_client_list_contacts (PinholeClient *self)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_contact_info_free);
  GHashTableIter iter;
  PinholeClientContact *contact;

  g_hash_table_iter_init (&iter, self->contacts);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &contact))
    {
      PinholeContactInfo *info = g_new0 (PinholeContactInfo, 1);
      GHashTableIter diter;
      PinholeClientDevice *d;
      const char *best = "offline";

      info->user = g_strdup (contact->user);
      info->relation = g_strdup (contact->relation);
      info->n_devices = g_hash_table_size (contact->devices);
      g_hash_table_iter_init (&diter, contact->devices);
      while (g_hash_table_iter_next (&diter, NULL, (gpointer *) &d))
        if (show_rank (d->show) > show_rank (best))
          best = d->show;
      info->show = g_strdup (best);
      info->key_changed = pinhole_profile_has_untrusted_key (self->profile, contact->user);
      info->rtt_ms = -1;
      _pinhole_client_peer_info (self, contact->user, &info->path, &info->rtt_ms);
      g_ptr_array_add (out, info);
    }
  g_ptr_array_sort (out, compare_contact_info);
  return out;
}

static void
presence_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) reply = pinhole_client_request_finish (PINHOLE_CLIENT (source), result,
                                                               &error);

  if (reply == NULL)
    g_debug ("presence not set: %s", error->message);
}

/* @show: "online" or "away" */
void
pinhole_client_set_presence (PinholeClient *self,
                             const char    *show)
{
  g_autoptr(JsonObject) stanza = pinhole_stanza_new ("presence", NULL);

  json_object_set_string_member (stanza, "show", show);
  pinhole_client_request_async (self, stanza, NULL, presence_done_cb, NULL);
}

/* ---- object ---- */

static void
pinhole_client_dispose (GObject *object)
{
  PinholeClient *self = PINHOLE_CLIENT (object);

  if (self->ws != NULL)
    pinhole_client_disconnect (self);
  g_clear_pointer (&self->peers, g_hash_table_unref);
  g_clear_pointer (&self->relays, g_hash_table_unref);
  _pinhole_client_direct_stop (self);
  g_clear_object (&self->soup);
  g_clear_object (&self->profile);
  G_OBJECT_CLASS (pinhole_client_parent_class)->dispose (object);
}

static void
pinhole_client_finalize (GObject *object)
{
  PinholeClient *self = PINHOLE_CLIENT (object);

  g_hash_table_unref (self->pending);
  g_hash_table_unref (self->contacts);
  g_ptr_array_unref (self->held_offline);
  g_free (self->user);
  g_free (self->device);
  g_free (self->local_id);
  g_free (self->stun_host);
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
  /* (user, device, path name, rtt ms) */
  s[PINHOLE_CLIENT_SIGNAL_PATH_CHANGED] =
    g_signal_new ("path-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
                  G_TYPE_DOUBLE);
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
  self->contacts = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) contact_free);
  self->peers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify) _pinhole_client_peer_free);
  self->relays = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
  self->held_offline = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
}

/* Returns: (transfer full): a client for the account in @profile, not connected yet */
PinholeClient *
pinhole_client_new (PinholeProfile *profile)
{
  PinholeClient *self = g_object_new (PINHOLE_TYPE_CLIENT, NULL);

  self->profile = g_object_ref (profile);
  return self;
}
