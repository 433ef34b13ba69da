/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client-login.c: connecting to the server, creating the account, and logging in
 * with the profile's token or the password; the token and the password go only to the
 * server the profile belongs to (docs/protocol.md §3). */
#define G_LOG_DOMAIN "pinhole-client"

#include "pinhole-client-private.h"
#include "pinhole-error.h"
#include "pinhole-login-proof.h"
#include "pinhole-server-url.h"
#include "pinhole-ws-connect.h"
#include "pinhole-stanza.h"

#include <string.h>

typedef struct
{
  SoupMessage *msg;   /* owned: the WebSocket's handshake, for its certificate */
  char    *server_url;
  char    *user;
  char    *password;
  gboolean announce;
  gboolean registering;
  gboolean tried_token;
  GBytes  *nonce;     /* the server's challenge for this connection */
} LoginData;

static void
login_data_free (LoginData *d)
{
  g_clear_object (&d->msg);
  g_clear_pointer (&d->nonce, g_bytes_unref);
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

  if (!_pinhole_client_refresh_roster_finish (PINHOLE_CLIENT (source), result, &error))
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
  _pinhole_client_refresh_roster_async (self, login_roster_cb, g_steal_pointer (&task));
  /* and what the server pushed after the result, as if it had come now */
  _pinhole_client_release_early (self);
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

  g_autoptr(GBytes) proof_message = pinhole_login_proof_message (d->nonce, d->user,
                                                                 self->device);
  g_autoptr(GBytes) proof = pinhole_identity_sign (pinhole_profile_get_identity (self->profile),
                                                  proof_message);

  json_object_set_string_member (stanza, "user", d->user);
  json_object_set_string_member (stanza, "device", self->device);
  pinhole_stanza_set_base64 (stanza, "device_key", key);
  /* the device key proves itself: the public key alone does not log in */
  pinhole_stanza_set_base64 (stanza, "proof", proof);
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

/* the server's challenge, which the log-in signs */
static void
challenge_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LoginData *d = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) reply = pinhole_client_request_finish (PINHOLE_CLIENT (source), result,
                                                              &error);

  if (reply == NULL && (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
                        error->domain != PINHOLE_ERROR ||
                        error->code != PINHOLE_ERROR_PROTOCOL))
    {
      /* cancelled, or the connection went: not a question of the server's version */
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (reply != NULL)
    d->nonce = pinhole_stanza_require_base64 (reply, "nonce", PINHOLE_LOGIN_NONCE_BYTES,
                                              PINHOLE_LOGIN_NONCE_BYTES, &error);
  if (d->nonce == NULL)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                               "the server at %s sent no log-in challenge (%s): is it older "
                               "than Pinhole 0.3?", d->server_url, error->message);
      return;
    }
  send_login (g_steal_pointer (&task));
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
  SoupWebsocketConnection *ws = _pinhole_ws_connect_finish (result, &error);

  if (ws == NULL)
    {
      GError *refused = _pinhole_client_certificate_error (self, d->msg, d->server_url);

      if (refused != NULL)
        g_task_return_error (task, refused);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH,
                                 "cannot reach the server at %s: %s", d->server_url,
                                 error->message);
      return;
    }
  _pinhole_client_connected (self, ws);
  {
    g_autoptr(JsonObject) stanza = pinhole_stanza_new ("challenge", NULL);
    GCancellable *cancellable = g_task_get_cancellable (task);

    pinhole_client_request_async (self, stanza, cancellable, challenge_cb,
                                  g_steal_pointer (&task));
  }
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
  uri = _pinhole_server_uri_parse (d->server_url, &completed);
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
  d->msg = soup_message_new_from_uri (SOUP_METHOD_GET, uri);
  _pinhole_client_watch_certificate (self, d->msg, d->server_url);
  /* not soup_session_websocket_connect_async(): pinhole-ws-connect.c says why */
  _pinhole_ws_connect_async (uri, PINHOLE_WEBSOCKET_PROTOCOL, "pinhole/" PINHOLE_VERSION,
                             soup_session_get_tls_database (self->soup), d->msg, cancellable,
                             ws_connected_cb, g_steal_pointer (&task));
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
