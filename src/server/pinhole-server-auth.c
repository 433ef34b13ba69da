/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server-auth.c: "challenge", "register" and "login" (docs/protocol.md §4). Both
 * carry a signature by the device's key over this connection's challenge, so that a device's
 * public key, which every contact sees, is not enough to log in as it. Passwords are stored as
 * Argon2id hashes (libsodium crypto_pwhash_str), computed in worker threads because each one
 * takes tens of milliseconds and 64 MiB; login tokens are stored as BLAKE2b hashes. */
#define G_LOG_DOMAIN "pinhole-server"

#include "pinhole-server-private.h"
#include "pinhole-error.h"
#include "pinhole-identity.h"
#include "pinhole-login-proof.h"
#include "pinhole-server-token.h"
#include "pinhole-stanza.h"

#include <sodium.h>
#include <string.h>

#define PASSWORD_MIN 8
#define PASSWORD_MAX 1024
#define TOKEN_BYTES 32

typedef struct
{
  PinholeServerConnection *connection;   /* owned reference */
  char                    *id;
  char                    *user;
  char                    *device;
  GBytes                  *device_key;
  char                    *password;     /* wiped on free */
  char                    *password_hash;
  gboolean                 announce;
  gboolean                 registering;
} AuthRequest;

static void
auth_request_free (AuthRequest *r)
{
  g_clear_pointer (&r->connection, _pinhole_server_connection_unref);
  g_free (r->id);
  g_free (r->user);
  g_free (r->device);
  g_clear_pointer (&r->device_key, g_bytes_unref);
  if (r->password != NULL)
    sodium_memzero (r->password, strlen (r->password));
  g_free (r->password);
  g_free (r->password_hash);
  g_free (r);
}

static GBytes *
hash_token (GBytes *token)
{
  guint8 *out = g_malloc (crypto_generichash_BYTES);
  gsize len;
  const guint8 *data = g_bytes_get_data (token, &len);

  crypto_generichash (out, crypto_generichash_BYTES, data, len, NULL, 0);
  return g_bytes_new_take (out, crypto_generichash_BYTES);
}

static GBytes *
new_token (void)
{
  guint8 *token = g_malloc (TOKEN_BYTES);

  randombytes_buf (token, TOKEN_BYTES);
  return g_bytes_new_take (token, TOKEN_BYTES);
}

void
_pinhole_server_handle_challenge (PinholeServerConnection *c,
                                  JsonObject              *stanza,
                                  const char              *id)
{
  g_autoptr(JsonObject) result = json_object_new ();
  g_autoptr(GBytes) nonce = NULL;

  /* one per connection: asking again gives the same */
  if (!c->has_nonce)
    {
      randombytes_buf (c->nonce, sizeof c->nonce);
      c->has_nonce = TRUE;
    }
  nonce = g_bytes_new (c->nonce, sizeof c->nonce);
  pinhole_stanza_set_base64 (result, "nonce", nonce);
  _pinhole_server_send_result (c, id, result);
}

/* the device's signature over this connection's challenge */
static gboolean
check_proof (PinholeServerConnection *c,
             JsonObject              *stanza,
             const char              *user,
             const char              *device,
             GBytes                  *device_key,
             GError                 **error)
{
  g_autoptr(GBytes) proof = NULL;
  g_autoptr(GBytes) nonce = NULL;
  g_autoptr(GBytes) message = NULL;

  if (!c->has_nonce)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                           "no challenge asked for on this connection: the device must sign "
                           "one to log in");
      return FALSE;
    }
  proof = pinhole_stanza_require_base64 (stanza, "proof", 64, 64, error);
  if (proof == NULL)
    return FALSE;
  nonce = g_bytes_new (c->nonce, sizeof c->nonce);
  message = pinhole_login_proof_message (nonce, user, device);
  if (!pinhole_verify_signature (device_key, message, proof, NULL))
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                           "the device key's signature of the challenge does not verify");
      return FALSE;
    }
  return TRUE;
}

/* the fields both requests share; Returns: (transfer full) */
static AuthRequest *
auth_request_parse (PinholeServerConnection *c,
                    JsonObject              *stanza,
                    const char              *id,
                    GError                 **error)
{
  g_autoptr(GError) local_error = NULL;
  AuthRequest *r;
  const char *user, *device;
  GBytes *key;
  JsonNode *announce;

  if ((user = pinhole_stanza_require_string (stanza, "user", 32, error)) == NULL ||
      (device = pinhole_stanza_require_string (stanza, "device", 64, error)) == NULL)
    return NULL;
  if (!pinhole_user_name_is_valid (user))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "user name \"%s\" is not 1-32 of a-z 0-9 . _ -", user);
      return NULL;
    }
  if (!pinhole_device_name_is_valid (device))
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "device name is not 1-64 of A-Z a-z 0-9 _ -");
      return NULL;
    }
  key = pinhole_stanza_require_base64 (stanza, "device_key", 32, 32, error);
  if (key == NULL)
    return NULL;
  if (!check_proof (c, stanza, user, device, key, error))
    {
      g_bytes_unref (key);
      return NULL;
    }

  r = g_new0 (AuthRequest, 1);
  r->connection = _pinhole_server_connection_ref (c);
  r->id = g_strdup (id);
  r->user = g_strdup (user);
  r->device = g_strdup (device);
  r->device_key = key;
  announce = json_object_get_member (stanza, "announce");
  r->announce = announce == NULL || !JSON_NODE_HOLDS_VALUE (announce) ||
                json_node_get_value_type (announce) != G_TYPE_BOOLEAN ||
                json_node_get_boolean (announce);
  return r;
}

/* a new device of @user only while the account has fewer than max_devices */
static gboolean
device_fits (PinholeServer *server,
             const char    *user,
             const char    *device,
             GError       **error)
{
  g_autoptr(GPtrArray) devices = pinhole_store_list_devices (server->store, user, error);

  if (devices == NULL)
    return FALSE;
  for (guint i = 0; i < devices->len; i++)
    if (g_strcmp0 (((PinholeStoreDevice *) devices->pdata[i])->device, device) == 0)
      return TRUE;
  if (devices->len >= server->limits.max_devices)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "%s has %u devices already: remove one from another device first "
                   "(pinhole-cli devices, pinhole-cli revoke DEVICE)", user, devices->len);
      return FALSE;
    }
  return TRUE;
}

/* back on the main loop with a verified password (login) or a fresh hash (register) */
static void
auth_finish (AuthRequest *r)
{
  PinholeServerConnection *c = r->connection;
  PinholeStore *store = c->server->store;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) token = new_token ();
  g_autoptr(GBytes) token_hash = hash_token (token);

  if (r->registering && !pinhole_store_create_account (store, r->user, r->password_hash, &error))
    goto fail;

  if (!r->registering && !device_fits (c->server, r->user, r->device, &error))
    goto fail;
  if (!pinhole_store_put_device (store, r->user, r->device, r->device_key, token_hash, &error))
    goto fail;
  /* the token (and a new account) is answered once it is on disk */
  _pinhole_server_commit_begin (c, r->id, PINHOLE_SERVER_COMMIT_CLOSE_ON_FAILURE);
  _pinhole_server_login_complete (c, r->id, r->user, r->device, token, r->announce);
  _pinhole_server_commit_end (c->server);
  return;

fail:
  _pinhole_server_send_gerror (c, r->id, error);
}

static void
auth_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  AuthRequest *r = task_data;

  if (r->registering)
    {
      char hash[crypto_pwhash_STRBYTES];

      if (crypto_pwhash_str (hash, r->password, strlen (r->password),
                             crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        {
          g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                                   "out of memory while hashing the password");
          return;
        }
      r->password_hash = g_strdup (hash);
    }
  else if (crypto_pwhash_str_verify (r->password_hash, r->password, strlen (r->password)) != 0)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_AUTH, "wrong password");
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
auth_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  AuthRequest *r = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  r->connection->authenticating = FALSE;
  if (r->connection->closed)
    return;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH))
        _pinhole_server_login_failed (r->connection->server, r->user, r->connection->address);
      _pinhole_server_send_gerror (r->connection, r->id, error);
    }
  else
    {
      if (!r->registering)
        _pinhole_server_login_succeeded (r->connection->server, r->user);
      auth_finish (r);
    }
}

static void
run_auth (AuthRequest *r)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, auth_done_cb, NULL);

  r->connection->authenticating = TRUE;
  g_task_set_source_tag (task, run_auth);
  g_task_set_task_data (task, r, (GDestroyNotify) auth_request_free);
  g_task_run_in_thread (task, auth_thread);
}

static const char *
require_password (JsonObject *stanza,
                  GError    **error)
{
  const char *password = pinhole_stanza_require_string (stanza, "password", PASSWORD_MAX, error);

  if (password != NULL && strlen (password) < PASSWORD_MIN)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "password must have at least %d characters", PASSWORD_MIN);
      return NULL;
    }
  return password;
}

void
_pinhole_server_handle_register (PinholeServerConnection *c,
                                 JsonObject              *stanza,
                                 const char              *id)
{
  g_autoptr(GError) error = NULL;
  AuthRequest *r = auth_request_parse (c, stanza, id, &error);
  const char *password;
  g_autofree char *existing = NULL;

  if (r == NULL)
    goto fail;
  if ((password = require_password (stanza, &error)) == NULL)
    goto fail;
  if (_pinhole_server_register_wait (c->server, c->address) > 0)
    {
      g_debug ("registration from %s waits", c->address);
      g_clear_pointer (&r, auth_request_free);
      _pinhole_server_send_error (c, id, PINHOLE_STANZA_ERROR_RATE_LIMITED,
                                  "too many new accounts from this address: try again later");
      return;
    }
  existing = pinhole_store_dup_password_hash (c->server->store, r->user, NULL);
  if (existing != NULL)
    {
      g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_EXISTS, "user %s exists already",
                   r->user);
      goto fail;
    }
  r->password = g_strdup (password);
  r->registering = TRUE;
  /* counted as it starts: registrations racing each other through Argon2id count too */
  _pinhole_server_registered (c->server, c->address);
  run_auth (r);
  return;

fail:
  g_clear_pointer (&r, auth_request_free);
  _pinhole_server_send_gerror (c, id, error);
}

void
_pinhole_server_handle_login (PinholeServerConnection *c,
                              JsonObject              *stanza,
                              const char              *id)
{
  g_autoptr(GError) error = NULL;
  AuthRequest *r = auth_request_parse (c, stanza, id, &error);
  g_autoptr(GBytes) token = NULL;

  if (r == NULL)
    goto fail;

  if (json_object_has_member (stanza, "token"))
    {
      /* a device logging in again with the token it was given: cheap, no Argon2id */
      g_auto(PinholeStoreToken) stored = { 0 };
      g_autoptr(GBytes) token_hash = NULL;
      g_autoptr(GBytes) fresh = NULL;
      gint64 now = g_get_real_time ();
      PinholeServerLimits *limits = &c->server->limits;

      token = pinhole_stanza_require_base64 (stanza, "token", TOKEN_BYTES, TOKEN_BYTES, &error);
      if (token == NULL)
        goto fail;
      if (!pinhole_store_get_token (c->server->store, r->user, r->device, &stored, &error))
        {
          if (g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND))
            {
              g_clear_error (&error);
              g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                           "unknown device or user; log in with the password");
            }
          goto fail;
        }
      token_hash = hash_token (token);
      switch (pinhole_token_check (&stored, r->device_key, token_hash, now,
                                   (gint64) limits->token_days * 86400 * G_USEC_PER_SEC,
                                   (gint64) limits->token_rotate_s * G_USEC_PER_SEC))
        {
        case PINHOLE_TOKEN_REFUSED:
          g_set_error_literal (&error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                               "login token not valid; log in with the password");
          goto fail;
        case PINHOLE_TOKEN_EXPIRED:
          g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                       "login token expired (after %u days); log in with the password",
                       limits->token_days);
          goto fail;
        case PINHOLE_TOKEN_ROTATE:
          {
            g_autoptr(GBytes) fresh_hash = NULL;

            fresh = new_token ();
            fresh_hash = hash_token (fresh);
            if (!pinhole_store_rotate_token (c->server->store, r->user, r->device, fresh_hash,
                                             now + PINHOLE_TOKEN_OVERLAP_US, &error))
              goto fail;
          }
          break;
        case PINHOLE_TOKEN_VALID:
        default:
          break;
        }
      /* a rotated token is answered once it is on disk */
      if (fresh != NULL)
        _pinhole_server_commit_begin (c, id, PINHOLE_SERVER_COMMIT_CLOSE_ON_FAILURE);
      _pinhole_server_login_complete (c, id, r->user, r->device, fresh, r->announce);
      if (fresh != NULL)
        _pinhole_server_commit_end (c->server);
      auth_request_free (r);
      return;
    }

  {
    const char *password = pinhole_stanza_require_string (stanza, "password", PASSWORD_MAX,
                                                          &error);
    guint wait;

    if (password == NULL)
      goto fail;
    /* after too many failures the password is not even checked (pinhole-server-throttle.c) */
    if ((wait = _pinhole_server_login_wait (c->server, r->user, c->address)) > 0)
      {
        g_debug ("log-in to %s from %s waits %u s", r->user, c->address, wait);
        g_clear_pointer (&r, auth_request_free);
        _pinhole_server_send_error (c, id, PINHOLE_STANZA_ERROR_RATE_LIMITED,
                                    "too many failed log-ins: try again in a moment");
        return;
      }
    r->password_hash = pinhole_store_dup_password_hash (c->server->store, r->user, &error);
    if (r->password_hash == NULL)
      {
        if (g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND))
          {
            /* guessing user names counts against the address too */
            _pinhole_server_login_failed (c->server, r->user, c->address);
            g_clear_error (&error);
            g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND, "unknown user %s",
                         r->user);
          }
        goto fail;
      }
    r->password = g_strdup (password);
    run_auth (r);
    return;
  }

fail:
  g_clear_pointer (&r, auth_request_free);
  _pinhole_server_send_gerror (c, id, error);
}
