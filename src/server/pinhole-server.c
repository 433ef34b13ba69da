/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server.c: the WebSocket endpoint, connection bookkeeping, request dispatch with a
 * per-connection rate limit, presence fan-out and relay channel forwarding
 * (docs/protocol.md §2–§7). Everything runs on the main loop; password hashing runs in
 * worker threads (pinhole-server-auth.c).
 *
 * Each connection's WebSocket runs on a PinholeWsStream (pinhole-ws-stream.c says why), which
 * bounds whole incoming messages, fragments included, and counts the bytes queued for the
 * client: relay frames to a connection with relay_window_bytes queued are dropped (the
 * sessions retransmit), and a connection is closed when its queue passes max_queued_bytes
 * (pongs included: the stream itself fails), or stays over the window while the socket takes
 * nothing for stall_timeout_s. */
#define G_LOG_DOMAIN "pinhole-server"

#include "pinhole-server-private.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"

#include <string.h>

G_DEFINE_FINAL_TYPE (PinholeServer, pinhole_server, G_TYPE_OBJECT)

void
pinhole_server_limits_init_default (PinholeServerLimits *limits)
{
  limits->max_offline_per_device = 1000;
  limits->max_offline_per_sender = 250;
  limits->offline_days = 30;
  limits->max_receipts_per_device = 1000;
  limits->max_sealed_bytes = 16 * 1024;
  limits->stanzas_per_second = 50;
  limits->stanza_burst = 200;
  limits->max_connections = 20000;
  limits->max_per_address = 256;
  limits->handshake_timeout_s = 10;
  limits->max_devices = 16;
  limits->max_registrations = 20;
  limits->token_days = 90;
  limits->token_rotate_s = 24 * 3600;
  limits->relay_window_bytes = 256 * 1024;
  limits->max_queued_bytes = 8 * 1024 * 1024;
  limits->stall_timeout_s = 10;
  limits->relay_frames_per_second = 10000;
  limits->relay_frame_burst = 10000;
  limits->max_rate_strikes = 100;
}

static GQuark
connection_quark (void)
{
  return g_quark_from_static_string ("pinhole-server-connection");
}

/* ---- connections ---- */

static void
connection_clear (PinholeServerConnection *c)
{
  g_clear_handle_id (&c->login_timeout, g_source_remove);
  g_clear_handle_id (&c->stall_check, g_source_remove);
  _pinhole_server_outbox_clear (c);
  g_clear_object (&c->ws);
  g_clear_object (&c->stream);
  g_free (c->user);
  g_free (c->device);
  g_free (c->show);
  g_free (c->stun_host);
  g_free (c->address);
  g_clear_pointer (&c->channels, g_array_unref);
  g_clear_pointer (&c->offline_batch, g_hash_table_unref);
}

PinholeServerConnection *
_pinhole_server_connection_ref (PinholeServerConnection *c)
{
  return g_rc_box_acquire (c);
}

void
_pinhole_server_connection_unref (PinholeServerConnection *c)
{
  g_rc_box_release_full (c, (GDestroyNotify) connection_clear);
}

static char *
device_key (const char *user,
            const char *device)
{
  return g_strconcat (user, "/", device, NULL);
}

/* Returns: (transfer none) (nullable): the live connection of user/device */
PinholeServerConnection *
_pinhole_server_find_device (PinholeServer *server,
                             const char    *user,
                             const char    *device)
{
  g_autofree char *key = device_key (user, device);

  return g_hash_table_lookup (server->devices, key);
}

gboolean
_pinhole_server_are_mutual (PinholeServer *server,
                            const char    *a,
                            const char    *b)
{
  return pinhole_store_get_relation (server->store, a, b, NULL) == PINHOLE_RELATION_MUTUAL;
}

/* ---- sending, within bounds ---- */

/* closes @c for what it did or failed to do; one line per connection closed */
void
_pinhole_server_connection_close (PinholeServerConnection *c,
                  gushort                  code,
                  const char              *reason)
{
  if (c->closed || soup_websocket_connection_get_state (c->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  g_message ("closing the connection of %s%s%s (%s): %s", c->address,
             c->user != NULL ? " as " : "", c->user != NULL ? c->user : "",
             c->device != NULL ? c->device : "not logged in", reason);
  soup_websocket_connection_close (c->ws, code, reason);
  pinhole_ws_stream_stop_input (c->stream);
}

static gboolean
stall_check_cb (gpointer user_data)
{
  PinholeServerConnection *c = user_data;
  guint64 written = pinhole_ws_stream_get_written_bytes (c->stream);

  if (pinhole_ws_stream_get_queued_bytes (c->stream) <= c->server->limits.relay_window_bytes)
    {
      c->stall_check = 0;
      return G_SOURCE_REMOVE;
    }
  if (written == c->stall_written)
    {
      g_autofree char *reason = g_strdup_printf ("took nothing of what waits for it in %u s",
                                                 c->server->limits.stall_timeout_s);
      c->stall_check = 0;
      _pinhole_server_connection_close (c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, reason);
      return G_SOURCE_REMOVE;
    }
  /* a slow reader, but a reader: watched on */
  c->stall_written = written;
  return G_SOURCE_CONTINUE;
}

/* after something was queued for @c: a queue over the window is watched (max_queued_bytes
 * is the stream's own bound, pinhole_ws_stream_set_max_queued()) */
static void
output_check (PinholeServerConnection *c)
{
  PinholeServerLimits *limits = &c->server->limits;
  gsize queued = pinhole_ws_stream_get_queued_bytes (c->stream);

  if (queued > limits->relay_window_bytes && c->stall_check == 0)
    {
      c->stall_written = pinhole_ws_stream_get_written_bytes (c->stream);
      c->stall_check = g_timeout_add_seconds (limits->stall_timeout_s, stall_check_cb, c);
    }
}

void
_pinhole_server_write_text (PinholeServerConnection *c,
                            const char              *text)
{
  soup_websocket_connection_send_text (c->ws, text);
  output_check (c);
}

void
_pinhole_server_write_binary (PinholeServerConnection *c,
                              GBytes                  *frame)
{
  gsize len;
  gconstpointer data = g_bytes_get_data (frame, &len);

  soup_websocket_connection_send_binary (c->ws, data, len);
  output_check (c);
}

void
_pinhole_server_send (PinholeServerConnection *c,
                      JsonObject              *stanza)
{
  if (c->closed || soup_websocket_connection_get_state (c->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  _pinhole_server_output_text (c, pinhole_stanza_to_string (stanza, NULL), NULL);
}

void
_pinhole_server_send_result (PinholeServerConnection *c,
                             const char              *id,
                             JsonObject              *result)
{
  g_autoptr(JsonObject) stanza = result ? json_object_ref (result) : json_object_new ();

  if (c->closed || soup_websocket_connection_get_state (c->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  json_object_set_string_member (stanza, "type", "result");
  json_object_set_string_member (stanza, "id", id);
  _pinhole_server_output_text (c, pinhole_stanza_to_string (stanza, NULL), id);
}

void
_pinhole_server_send_error (PinholeServerConnection *c,
                            const char              *id,
                            int                      code,
                            const char              *text)
{
  g_autoptr(JsonObject) stanza = pinhole_stanza_new_error (id, code, text);

  _pinhole_server_send (c, stanza);
}

void
_pinhole_server_send_gerror (PinholeServerConnection *c,
                             const char              *id,
                             const GError            *error)
{
  int code = pinhole_stanza_error_code_for (error);

  if (code == PINHOLE_STANZA_ERROR_INTERNAL)
    {
      /* an operator must see store failures; the client gets no internals */
      g_warning ("request %s failed: %s", id ? id : "(none)", error->message);
      _pinhole_server_send_error (c, id, code, "internal server error");
      return;
    }
  _pinhole_server_send_error (c, id, code, error->message);
}

void
_pinhole_server_send_to_user (PinholeServer *server,
                              const char    *user,
                              JsonObject    *stanza)
{
  GPtrArray *conns = g_hash_table_lookup (server->users, user);

  for (guint i = 0; conns != NULL && i < conns->len; i++)
    _pinhole_server_send (g_ptr_array_index (conns, i), stanza);
}

/* ---- presence ---- */

static JsonObject *
presence_stanza (PinholeServerConnection *c,
                 const char              *show)
{
  JsonObject *stanza = pinhole_stanza_new ("presence", NULL);

  json_object_set_string_member (stanza, "user", c->user);
  json_object_set_string_member (stanza, "device", c->device);
  json_object_set_string_member (stanza, "show", show);
  return stanza;
}

/* tells every mutual contact's online devices that this device is now @show */
void
_pinhole_server_broadcast_presence (PinholeServerConnection *c,
                                    const char              *show)
{
  PinholeServer *server = c->server;
  g_autoptr(GPtrArray) contacts = pinhole_store_list_contacts (server->store, c->user, NULL);
  g_autoptr(JsonObject) stanza = presence_stanza (c, show);

  for (guint i = 0; contacts != NULL && i < contacts->len; i++)
    {
      PinholeStoreContact *contact = g_ptr_array_index (contacts, i);

      if (contact->relation == PINHOLE_RELATION_MUTUAL)
        _pinhole_server_send_to_user (server, contact->user, stanza);
    }
}

/* sends @to the presence of every announced device of @contact */
void
_pinhole_server_send_presences_of (PinholeServerConnection *to,
                                   const char              *contact)
{
  GPtrArray *conns = g_hash_table_lookup (to->server->users, contact);

  for (guint i = 0; conns != NULL && i < conns->len; i++)
    {
      PinholeServerConnection *other = g_ptr_array_index (conns, i);

      if (other->show != NULL)
        {
          g_autoptr(JsonObject) stanza = presence_stanza (other, other->show);
          _pinhole_server_send (to, stanza);
        }
    }
}

/* ---- login bookkeeping ---- */

static void
connection_forget (PinholeServerConnection *c)
{
  PinholeServer *server = c->server;
  GPtrArray *conns;
  g_autofree char *key = NULL;

  if (c->user == NULL)
    return;
  key = device_key (c->user, c->device);
  if (g_hash_table_lookup (server->devices, key) == c)
    g_hash_table_remove (server->devices, key);
  conns = g_hash_table_lookup (server->users, c->user);
  if (conns != NULL)
    {
      g_ptr_array_remove_fast (conns, c);
      if (conns->len == 0)
        g_hash_table_remove (server->users, c->user);
    }
}

static void
connection_close_channels (PinholeServerConnection *c)
{
  while (c->channels->len > 0)
    _pinhole_server_close_channel (c->server,
                                   g_array_index (c->channels, guint32, c->channels->len - 1),
                                   c);
}

void
_pinhole_server_login_complete (PinholeServerConnection *c,
                                const char              *id,
                                const char              *user,
                                const char              *device,
                                GBytes                  *token,
                                gboolean                 announce)
{
  PinholeServer *server = c->server;
  PinholeServerConnection *previous = _pinhole_server_find_device (server, user, device);
  g_autoptr(JsonObject) result = json_object_new ();
  g_autoptr(JsonObject) stun = json_object_new ();
  g_autoptr(GPtrArray) contacts = NULL;
  GPtrArray *conns;

  c->user = g_strdup (user);
  c->device = g_strdup (device);
  json_object_set_string_member (result, "user", user);
  json_object_set_string_member (result, "device", device);
  json_object_set_int_member (result, "protocol", PINHOLE_PROTOCOL_VERSION);
  json_object_set_string_member (result, "server", "pinhole-server " PINHOLE_VERSION);
  if (token != NULL)
    pinhole_stanza_set_base64 (result, "token", token);
  if (server->stun_port != 0)
    {
      json_object_set_string_member (stun, "host", c->stun_host);
      json_object_set_int_member (stun, "port", server->stun_port);
      if (server->stun_alt_port != 0)
        json_object_set_int_member (stun, "alt_port", server->stun_alt_port);
      json_object_set_object_member (result, "stun", json_object_ref (stun));
    }

  if (!announce)
    {
      /* a one-shot client (e.g. `pinhole-cli send` while `listen` runs for the same device):
       * it makes requests and opens relay channels, but is not the device's connection, so it
       * neither replaces that one nor receives the device's pushes */
      _pinhole_server_send_result (c, id, result);
      return;
    }

  if (previous != NULL && previous != c)
    {
      /* the same device logged in again (e.g. after a network change): the old socket is stale */
      g_debug ("device %s/%s replaced its connection", user, device);
      connection_close_channels (previous);
      connection_forget (previous);
      g_clear_pointer (&previous->show, g_free);
      previous->closed = TRUE;
      soup_websocket_connection_close (previous->ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                       "replaced by a new login of this device");
    }

  g_hash_table_insert (server->devices, device_key (user, device), c);
  conns = g_hash_table_lookup (server->users, user);
  if (conns == NULL)
    {
      conns = g_ptr_array_new ();
      g_hash_table_insert (server->users, g_strdup (user), conns);
    }
  g_ptr_array_add (conns, c);
  _pinhole_server_send_result (c, id, result);

  c->show = g_strdup ("online");
  _pinhole_server_broadcast_presence (c, c->show);

  /* what happened while this device was away: presences, requests, sealed messages and the
   * receipts of those it sent */
  contacts = pinhole_store_list_contacts (server->store, user, NULL);
  for (guint i = 0; contacts != NULL && i < contacts->len; i++)
    {
      PinholeStoreContact *contact = g_ptr_array_index (contacts, i);

      if (contact->relation == PINHOLE_RELATION_MUTUAL)
        _pinhole_server_send_presences_of (c, contact->user);
      else if (contact->relation == PINHOLE_RELATION_INCOMING)
        {
          g_autoptr(JsonObject) request = pinhole_stanza_new ("contact-request", NULL);
          json_object_set_string_member (request, "from", contact->user);
          _pinhole_server_send (c, request);
        }
    }
  _pinhole_server_push_offline (c);
  _pinhole_server_push_receipts (c);
}

/* ---- relay channels ---- */

void
_pinhole_server_close_channel (PinholeServer           *server,
                               guint32                  channel,
                               PinholeServerConnection *closer)
{
  PinholeServerChannel *ch = g_hash_table_lookup (server->channels, GUINT_TO_POINTER (channel));

  if (ch == NULL)
    return;
  for (guint e = 0; e < 2; e++)
    {
      PinholeServerConnection *end = ch->ends[e];

      for (guint i = 0; i < end->channels->len; i++)
        if (g_array_index (end->channels, guint32, i) == channel)
          {
            g_array_remove_index_fast (end->channels, i);
            break;
          }
      if (end != closer)
        {
          g_autoptr(JsonObject) stanza = pinhole_stanza_new ("relay-closed", NULL);
          json_object_set_int_member (stanza, "channel", channel);
          _pinhole_server_send (end, stanza);
        }
    }
  g_hash_table_remove (server->channels, GUINT_TO_POINTER (channel));
}

static void
forward_relay_frame (PinholeServerConnection *c,
                     GBytes                  *frame)
{
  guint32 channel;
  PinholeServerChannel *ch;
  PinholeServerConnection *peer;
  g_autoptr(GError) error = NULL;

  if (!pinhole_relay_frame_parse (frame, &channel, NULL, &error))
    {
      c->server->metrics.relay_dropped[PINHOLE_SERVER_DROP_MALFORMED]++;
      g_debug ("dropping relay frame: %s", error->message);
      return;
    }
  ch = g_hash_table_lookup (c->server->channels, GUINT_TO_POINTER (channel));
  if (ch == NULL || (ch->ends[0] != c && ch->ends[1] != c))
    {
      c->server->metrics.relay_dropped[PINHOLE_SERVER_DROP_NO_CHANNEL]++;
      g_debug ("dropping relay frame on channel %u, not open on this connection", channel);
      return;
    }
  peer = ch->ends[0] == c ? ch->ends[1] : ch->ends[0];
  /* a peer whose socket is closing has not emitted "closed" yet */
  if (peer->closed || soup_websocket_connection_get_state (peer->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    {
      c->server->metrics.relay_dropped[PINHOLE_SERVER_DROP_NO_CHANNEL]++;
      return;
    }
  /* a peer that does not take what it has loses frames, not memory: the session retransmits
   * what is not acknowledged */
  if (pinhole_ws_stream_get_queued_bytes (peer->stream) + peer->outbox_bytes >
      c->server->limits.relay_window_bytes)
    {
      c->server->metrics.relay_dropped[PINHOLE_SERVER_DROP_WINDOW]++;
      g_debug ("dropping relay frame on channel %u: %" G_GSIZE_FORMAT " bytes wait for the "
               "reader", channel,
               pinhole_ws_stream_get_queued_bytes (peer->stream) + peer->outbox_bytes);
      return;
    }
  /* the frame goes out as it came in: channel header and ciphertext */
  c->server->metrics.relay_frames++;
  c->server->metrics.relay_bytes += g_bytes_get_size (frame);
  _pinhole_server_output_binary (peer, frame);
}

/* ---- dispatch ---- */

static const struct
{
  const char          *type;
  PinholeServerHandler handler;
  gboolean             needs_login;
} handlers[] = {
  { "challenge", _pinhole_server_handle_challenge, FALSE },
  { "register", _pinhole_server_handle_register, FALSE },
  { "login", _pinhole_server_handle_login, FALSE },
  { "roster", _pinhole_server_handle_roster, TRUE },
  { "subscribe", _pinhole_server_handle_subscribe, TRUE },
  { "accept", _pinhole_server_handle_accept, TRUE },
  { "decline", _pinhole_server_handle_decline, TRUE },
  { "remove", _pinhole_server_handle_remove, TRUE },
  { "block", _pinhole_server_handle_block, TRUE },
  { "unblock", _pinhole_server_handle_unblock, TRUE },
  { "devices", _pinhole_server_handle_devices, TRUE },
  { "revoke", _pinhole_server_handle_revoke, TRUE },
  { "presence", _pinhole_server_handle_presence, TRUE },
  { "message", _pinhole_server_handle_message, TRUE },
  { "offline-ack", _pinhole_server_handle_offline_ack, TRUE },
  { "delivered-ack", _pinhole_server_handle_delivered_ack, TRUE },
  { "relay-open", _pinhole_server_handle_relay_open, TRUE },
  { "relay-close", _pinhole_server_handle_relay_close, TRUE },
  { "signal", _pinhole_server_handle_signal, TRUE },
};

/* handlers[] and "ping", counted in metrics.requests */
G_STATIC_ASSERT (G_N_ELEMENTS (handlers) + 1 <= PINHOLE_SERVER_MAX_REQUEST_TYPES);

const char *
_pinhole_server_request_type (guint i)
{
  if (i < G_N_ELEMENTS (handlers))
    return handlers[i].type;
  return i == G_N_ELEMENTS (handlers) ? "ping" : NULL;
}

/* token bucket: @burst at once, @per_second sustained; a full bucket forgives the strikes */
static gboolean
bucket_allows (PinholeServerConnection *c,
               double                  *tokens,
               gint64                  *tokens_at,
               guint                    burst,
               guint                    per_second)
{
  gint64 now = g_get_monotonic_time ();

  *tokens = MIN ((double) burst, *tokens + (now - *tokens_at) / 1e6 * per_second);
  *tokens_at = now;
  if (*tokens >= burst)
    c->strikes = 0;
  if (*tokens < 1.0)
    {
      c->strikes++;
      return FALSE;
    }
  *tokens -= 1.0;
  return TRUE;
}

/* stanza_burst requests at once, stanzas_per_second sustained */
static gboolean
rate_allows (PinholeServerConnection *c)
{
  PinholeServerLimits *limits = &c->server->limits;

  return bucket_allows (c, &c->tokens, &c->tokens_at, limits->stanza_burst,
                        limits->stanzas_per_second);
}

/* whether @c went on over the rate after being told so often enough: then it is closed */
static gboolean
rate_strikes_out (PinholeServerConnection *c)
{
  if (c->strikes <= c->server->limits.max_rate_strikes)
    return FALSE;
  _pinhole_server_connection_close (c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "too many requests");
  return TRUE;
}

static void
handle_text (PinholeServerConnection *c,
             GBytes                  *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) stanza = NULL;
  const char *type, *id;
  gsize len;
  const char *text = g_bytes_get_data (message, &len);
  /* parsed first (bounded by the stanza size limit), so that a rate-limited request gets
   * its id back and the client can fail exactly that request */
  gboolean allowed = rate_allows (c);

  if (!allowed && rate_strikes_out (c))
    return;
  /* shutting down: what waits for the disk goes, nothing new starts */
  if (c->server->shutting_down)
    {
      g_debug ("shutting down: a request from %s is not handled", c->address);
      return;
    }
  stanza = pinhole_stanza_parse (text, len, &error);
  if (stanza == NULL)
    {
      g_debug ("bad stanza: %s", error->message);
      _pinhole_server_send_error (c, NULL, allowed ? PINHOLE_STANZA_ERROR_BAD_REQUEST
                                                   : PINHOLE_STANZA_ERROR_RATE_LIMITED,
                                  allowed ? error->message : "too many requests; slow down");
      return;
    }
  type = pinhole_stanza_get_type (stanza);
  id = pinhole_stanza_get_id (stanza);
  if (id == NULL || strlen (id) == 0 || strlen (id) > 64)
    id = NULL;
  if (!allowed)
    {
      _pinhole_server_send_error (c, id, PINHOLE_STANZA_ERROR_RATE_LIMITED,
                                  "too many requests; slow down");
      return;
    }
  if (id == NULL)
    {
      _pinhole_server_send_error (c, NULL, PINHOLE_STANZA_ERROR_BAD_REQUEST,
                                  "requests need an \"id\" of 1 to 64 characters");
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (handlers); i++)
    if (strcmp (handlers[i].type, type) == 0)
      {
        if (handlers[i].needs_login && c->user == NULL)
          _pinhole_server_send_error (c, id, PINHOLE_STANZA_ERROR_NOT_AUTHORIZED,
                                      "log in first");
        else if (!handlers[i].needs_login && (c->user != NULL || c->authenticating))
          _pinhole_server_send_error (c, id, PINHOLE_STANZA_ERROR_BAD_REQUEST,
                                      "already logged in or logging in");
        else
          {
            c->server->metrics.requests[i]++;
            handlers[i].handler (c, stanza, id);
          }
        return;
      }
  if (strcmp (type, "ping") == 0)
    {
      c->server->metrics.requests[G_N_ELEMENTS (handlers)]++;
      _pinhole_server_send_result (c, id, NULL);
      return;
    }
  {
    g_autofree char *msg = g_strdup_printf ("unknown request type \"%.32s\"", type);
    _pinhole_server_send_error (c, id, PINHOLE_STANZA_ERROR_BAD_REQUEST, msg);
  }
}

static void
ws_message_cb (SoupWebsocketConnection *ws,
               gint                     type,
               GBytes                  *message,
               gpointer                 user_data)
{
  PinholeServerConnection *c = user_data;
  g_autoptr(PinholeServerConnection) hold G_GNUC_UNUSED = _pinhole_server_connection_ref (c);

  if (c->closed)
    return;
  if (type == SOUP_WEBSOCKET_DATA_TEXT)
    handle_text (c, message);
  else if (!bucket_allows (c, &c->frame_tokens, &c->frame_tokens_at,
                           c->server->limits.relay_frame_burst,
                           c->server->limits.relay_frames_per_second))
    {
      c->server->metrics.relay_dropped[PINHOLE_SERVER_DROP_RATE]++;
      if (!rate_strikes_out (c))
        g_debug ("dropping a relay frame over the rate");
    }
  else if (c->user != NULL)
    forward_relay_frame (c, message);
  else
    {
      c->server->metrics.relay_dropped[PINHOLE_SERVER_DROP_BEFORE_LOGIN]++;
      g_debug ("dropping binary message before login");
    }
}

/* libsoup closes the connection after this: its stream failed (a bound it hit) */
static void
ws_error_cb (SoupWebsocketConnection *ws,
             const GError            *error,
             gpointer                 user_data)
{
  PinholeServerConnection *c = user_data;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
    g_message ("closing the connection of %s%s%s (%s): %s", c->address,
               c->user != NULL ? " as " : "", c->user != NULL ? c->user : "",
               c->device != NULL ? c->device : "not logged in", error->message);
  else
    g_debug ("connection of %s: %s", c->address, error->message);
}

static void
ws_closed_cb (SoupWebsocketConnection *ws,
              gpointer                 user_data)
{
  PinholeServerConnection *c = user_data;
  PinholeServer *server = c->server;
  gboolean announced = c->show != NULL;

  c->closed = TRUE;
  g_clear_handle_id (&c->login_timeout, g_source_remove);
  g_clear_handle_id (&c->stall_check, g_source_remove);
  /* what waited behind a commit: the commit itself still completes, touching no socket */
  _pinhole_server_outbox_clear (c);
  g_object_set_qdata (G_OBJECT (c->stream), connection_quark (), NULL);
  connection_close_channels (c);
  if (c->user != NULL && announced)
    _pinhole_server_broadcast_presence (c, "offline");
  connection_forget (c);
  g_signal_handlers_disconnect_by_data (ws, c);
  /* released after this emission: the connection owns the emitting WebSocket */
  g_hash_table_steal (server->connections, c);
  g_idle_add_once ((GSourceOnceFunc) _pinhole_server_connection_unref, c);
}

/* the host part of a Host header: "example.org:443" → "example.org", "[::1]:7300" → "::1" */
static char *
host_from_header (const char *header)
{
  const char *end;

  if (header == NULL || *header == '\0')
    return g_strdup ("127.0.0.1");
  if (header[0] == '[' && (end = strchr (header, ']')) != NULL)
    return g_strndup (header + 1, end - header - 1);
  end = strrchr (header, ':');
  return end != NULL ? g_strndup (header, end - header) : g_strdup (header);
}

/* ---- accepting: bounded, and timed until the client logs in ---- */

/* a connection accepted and not upgraded to WebSocket yet */
typedef struct
{
  PinholeServer *server;
  char          *key;
  GWeakRef       stream;
  guint          timeout;
} Handshake;

static void
handshake_free (Handshake *h)
{
  g_clear_handle_id (&h->timeout, g_source_remove);
  g_weak_ref_clear (&h->stream);
  g_free (h->key);
  g_free (h);
}

static char *
handshake_key (GSocketAddress *remote)
{
  g_autofree char *ip = NULL;

  if (!G_IS_INET_SOCKET_ADDRESS (remote))
    return NULL;
  ip = g_inet_address_to_string (
    g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
  return g_strdup_printf ("%s %u", ip,
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (remote)));
}

static gboolean
handshake_timeout_cb (gpointer user_data)
{
  Handshake *h = user_data;
  g_autoptr(GIOStream) stream = g_weak_ref_get (&h->stream);

  h->timeout = 0;
  if (stream != NULL)
    {
      g_debug ("%s did not open a WebSocket in time: closed", h->key);
      g_io_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
    }
  g_hash_table_remove (h->server->handshakes, h->key);
  return G_SOURCE_REMOVE;
}

/* the client at @remote opened its WebSocket: its handshake is no longer timed;
 * Returns: (transfer full) (nullable): the stream it runs on */
static PinholeWsStream *
handshake_done (PinholeServer  *self,
                GSocketAddress *remote)
{
  g_autofree char *key = handshake_key (remote);
  Handshake *h = key != NULL ? g_hash_table_lookup (self->handshakes, key) : NULL;
  GObject *stream = h != NULL ? g_weak_ref_get (&h->stream) : NULL;

  if (key != NULL)
    g_hash_table_remove (self->handshakes, key);
  return PINHOLE_IS_WS_STREAM (stream) ? PINHOLE_WS_STREAM (stream) : NULL;
}

/* the stream refused what came in: a message over the limit, or a request it cannot frame */
static void
stream_refused_cb (PinholeWsStream *stream,
                   const GError    *error,
                   PinholeServer   *self)
{
  PinholeServerConnection *c = g_object_get_qdata (G_OBJECT (stream), connection_quark ());

  if (c != NULL)
    {
      _pinhole_server_connection_close (c, SOUP_WEBSOCKET_CLOSE_TOO_BIG, error->message);
      return;
    }
  g_message ("closing a connection before its WebSocket opened: %s", error->message);
  g_io_stream_close_async (G_IO_STREAM (stream), G_PRIORITY_DEFAULT, NULL, NULL, NULL);
}

static gboolean
login_timeout_cb (gpointer user_data)
{
  PinholeServerConnection *c = user_data;

  c->login_timeout = 0;
  if (c->user == NULL && !c->authenticating && !c->closed)
    soup_websocket_connection_close (c->ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                     "log in or register first");
  return G_SOURCE_REMOVE;
}

static void
incoming_cb (PinholeAcceptor   *acceptor,
             GSocketConnection *connection,
             PinholeServer     *self)
{
  g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (connection, NULL);
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(PinholeWsStream) guarded = NULL;
  g_autoptr(GError) error = NULL;
  GIOStream *stream = G_IO_STREAM (connection);
  Handshake *h;

  if (self->certificate != NULL)
    {
      tls = g_tls_server_connection_new (stream, self->certificate, &error);
      if (tls == NULL)
        {
          g_message ("cannot serve TLS: %s", error->message);
          return;
        }
      stream = tls;
    }
  /* whole messages bounded as libsoup bounds one frame (a stanza just over 64 KiB still gets
   * its error 400), fragments included */
  guarded = pinhole_ws_stream_new (stream, TRUE, PINHOLE_WS_MAX_MESSAGE, PINHOLE_WS_MAX_MESSAGE);
  g_signal_connect_object (guarded, "refused", G_CALLBACK (stream_refused_cb), self, 0);
  /* what the server does not see itself (pongs) is bounded there */
  pinhole_ws_stream_set_max_queued (guarded, self->limits.max_queued_bytes);
  stream = G_IO_STREAM (guarded);
  h = g_new0 (Handshake, 1);
  h->server = self;
  h->key = handshake_key (remote);
  if (h->key == NULL)
    h->key = g_strdup_printf ("connection %p", (gpointer) connection);
  g_weak_ref_init (&h->stream, stream);
  h->timeout = g_timeout_add_seconds (self->limits.handshake_timeout_s, handshake_timeout_cb, h);
  g_hash_table_replace (self->handshakes, h->key, h);
  if (!soup_server_accept_iostream (self->soup, stream, local, remote, &error))
    g_message ("cannot serve a connection: %s", error->message);
}

static void
websocket_cb (SoupServer              *soup,
              SoupServerMessage       *msg,
              const char              *path,
              SoupWebsocketConnection *ws,
              gpointer                 user_data)
{
  PinholeServer *self = user_data;
  PinholeServerConnection *c;
  PinholeWsStream *stream;
  const char *host = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                   "Host");

  if (g_hash_table_size (self->connections) >= self->limits.max_connections)
    {
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,
                                       "server is full");
      return;
    }

  stream = handshake_done (self, soup_server_message_get_remote_address (msg));
  if (stream == NULL)
    {
      /* its handshake timed out as it upgraded */
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, NULL);
      return;
    }
  c = g_rc_box_new0 (PinholeServerConnection);
  c->server = self;
  c->ws = g_object_ref (ws);
  c->stream = stream;
  g_object_set_qdata (G_OBJECT (stream), connection_quark (), c);
  c->stun_host = host_from_header (host);
  c->address = g_strdup (soup_server_message_get_remote_host (msg));
  if (c->address == NULL)
    c->address = g_strdup ("unknown");
  c->channels = g_array_new (FALSE, FALSE, sizeof (guint32));
  c->tokens = self->limits.stanza_burst;
  c->tokens_at = g_get_monotonic_time ();
  c->frame_tokens = self->limits.relay_frame_burst;
  c->frame_tokens_at = c->tokens_at;
  soup_websocket_connection_set_max_incoming_payload_size (ws, PINHOLE_WS_MAX_MESSAGE);
  soup_websocket_connection_set_keepalive_interval (ws, 30);
  g_signal_connect (ws, "message", G_CALLBACK (ws_message_cb), c);
  g_signal_connect (ws, "closed", G_CALLBACK (ws_closed_cb), c);
  g_signal_connect (ws, "error", G_CALLBACK (ws_error_cb), c);
  c->login_timeout = g_timeout_add_seconds (self->limits.handshake_timeout_s, login_timeout_cb,
                                            c);
  g_hash_table_add (self->connections, c);
}

static void
index_cb (SoupServer        *soup,
          SoupServerMessage *msg,
          const char        *path,
          GHashTable        *query,
          gpointer           user_data)
{
  static const char body[] = "pinhole-server " PINHOLE_VERSION "\n";

  /* one request per connection: PinholeWsStream reads frames after the first request head
   * (libsoup says the same when it refuses a WebSocket handshake) */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                "close");
  if (strcmp (path, "/healthz") == 0)
    {
      _pinhole_server_healthz (user_data, msg);
      return;
    }
  if (strcmp (path, "/") != 0)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, body,
                                    sizeof body - 1);
}

/* ---- object ---- */

static void close_connections (PinholeServer *self);

static void
pinhole_server_dispose (GObject *object)
{
  PinholeServer *self = PINHOLE_SERVER (object);

  pinhole_server_shutdown (self);
  /* the commits still waiting complete without touching the server */
  g_cancellable_cancel (self->cancellable);
  close_connections (self);
  g_clear_object (&self->acceptor);
  g_clear_object (&self->certificate);
  g_clear_object (&self->soup);
  g_clear_object (&self->store);
  G_OBJECT_CLASS (pinhole_server_parent_class)->dispose (object);
}

static void
pinhole_server_finalize (GObject *object)
{
  PinholeServer *self = PINHOLE_SERVER (object);

  g_clear_pointer (&self->channels, g_hash_table_unref);
  g_clear_pointer (&self->devices, g_hash_table_unref);
  g_clear_pointer (&self->users, g_hash_table_unref);
  g_clear_pointer (&self->connections, g_hash_table_unref);
  if (self->metrics_soup != NULL)
    soup_server_disconnect (self->metrics_soup);
  g_clear_object (&self->metrics_soup);
  g_clear_pointer (&self->handshakes, g_hash_table_unref);
  g_clear_pointer (&self->strikes, g_hash_table_unref);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (pinhole_server_parent_class)->finalize (object);
}

static void
pinhole_server_class_init (PinholeServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pinhole_server_dispose;
  object_class->finalize = pinhole_server_finalize;
}

static void
pinhole_server_init (PinholeServer *self)
{
  pinhole_server_limits_init_default (&self->limits);
  self->connections = g_hash_table_new_full (NULL, NULL,
                                             (GDestroyNotify) _pinhole_server_connection_unref,
                                             NULL);
  self->devices = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) g_ptr_array_unref);
  self->channels = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->handshakes = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify) handshake_free);
  self->strikes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->next_channel = g_random_int_range (1, G_MAXINT32);
  self->cancellable = g_cancellable_new ();
}

/**
 * pinhole_server_new:
 * @limits: (nullable): limits, or %NULL for the defaults
 * Returns: (transfer full): a server that serves nothing until pinhole_server_listen()
 */
PinholeServer *
pinhole_server_new (PinholeStore              *store,
                    const PinholeServerLimits *limits)
{
  PinholeServer *self = g_object_new (PINHOLE_TYPE_SERVER, NULL);

  self->store = g_object_ref (store);
  if (limits != NULL)
    self->limits = *limits;
  return self;
}

/* the sealed messages nobody fetched within offline_days go, and the receipts likewise */
static gboolean
purge_cb (gpointer user_data)
{
  PinholeServer *self = user_data;
  g_autoptr(GError) error = NULL;
  gint64 before = g_get_real_time () - (gint64) self->limits.offline_days * 86400 * G_USEC_PER_SEC;
  guint purged = 0;

  if (!pinhole_store_purge_offline (self->store, before, &purged, &error))
    g_warning ("cannot drop expired sealed messages: %s", error->message);
  else if (purged > 0)
    g_message ("dropped %u sealed message(s) older than %u days", purged,
               self->limits.offline_days);
  g_clear_error (&error);
  purged = 0;
  if (!pinhole_store_purge_receipts (self->store, before, &purged, &error))
    g_warning ("cannot drop expired receipts: %s", error->message);
  else if (purged > 0)
    g_message ("dropped %u receipt(s) older than %u days", purged, self->limits.offline_days);
  return G_SOURCE_CONTINUE;
}

/**
 * pinhole_server_listen:
 * @certificate: (nullable): serve wss:// with this certificate, or ws:// when %NULL
 */
gboolean
pinhole_server_listen (PinholeServer      *self,
                       GInetSocketAddress *address,
                       GTlsCertificate    *certificate,
                       GError            **error)
{
  const char *protocols[] = { PINHOLE_WEBSOCKET_PROTOCOL, NULL };
  g_autoptr(GSocket) socket = NULL;

  g_return_val_if_fail (self->soup == NULL, FALSE);

  socket = pinhole_acceptor_listen_tcp (address, error);
  if (socket == NULL)
    return FALSE;
  /* connections come from the acceptor (pinhole-acceptor.c says why not from libsoup's own
   * listener), with TLS on them when there is a certificate */
  self->soup = soup_server_new ("server-header", "pinhole-server/" PINHOLE_VERSION, NULL);
  soup_server_add_handler (self->soup, "/", index_cb, self, NULL);
  soup_server_add_websocket_handler (self->soup, PINHOLE_WEBSOCKET_PATH, NULL,
                                     (char **) protocols, websocket_cb, self, NULL);
  /* no permessage-deflate: libsoup 3.2 inflates a frame without bound (a 64 KiB frame may
   * become 64 MiB), past every limit on what was received; and relay frames are ciphertext */
  soup_server_remove_websocket_extension (self->soup, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  self->certificate = certificate != NULL ? g_object_ref (certificate) : NULL;
  self->acceptor = pinhole_acceptor_new (socket, self->limits.max_connections,
                                         self->limits.max_per_address);
  g_signal_connect (self->acceptor, "incoming", G_CALLBACK (incoming_cb), self);
  pinhole_acceptor_start (self->acceptor);
  purge_cb (self);
  self->purge_source = g_timeout_add_seconds (3600, purge_cb, self);
  return TRUE;
}

/* Returns: the TCP port the WebSocket endpoint is bound to (useful after listening on 0) */
guint16
pinhole_server_get_port (PinholeServer *self)
{
  g_autoptr(GSocketAddress) addr = NULL;

  g_return_val_if_fail (self->acceptor != NULL, 0);
  addr = g_socket_get_local_address (pinhole_acceptor_get_socket (self->acceptor), NULL);
  return addr != NULL ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr)) : 0;
}

/* the STUN ports announced at login (the host is the one each client reached us at); the
 * alternate port (0: none) lets clients learn their NAT's mapping behaviour */
void
pinhole_server_set_stun_ports (PinholeServer *self,
                               guint16        port,
                               guint16        alt_port)
{
  self->stun_port = port;
  self->stun_alt_port = alt_port;
}

guint
pinhole_server_get_n_connections (PinholeServer *self)
{
  return g_hash_table_size (self->connections);
}

static void
close_connections (PinholeServer *self)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      PinholeServerConnection *c = key;

      if (soup_websocket_connection_get_state (c->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (c->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                                         "server shutting down");
    }
}

/* a commit's answers went: the last one lets a shutdown close the connections */
void
_pinhole_server_commit_settled (PinholeServer *self)
{
  if (self->shutting_down && self->pending_commits == 0)
    close_connections (self);
}

/* stops listening and handling requests; once the answers that wait for the store's sync have
 * gone (pinhole-server-commit.c), closes every connection with "going away", so nothing
 * acknowledged is lost. The caller bounds the wait (pinhole-server-main.c). */
void
pinhole_server_shutdown (PinholeServer *self)
{
  if (self->acceptor != NULL)
    {
      pinhole_acceptor_stop (self->acceptor);
      g_signal_handlers_disconnect_by_data (self->acceptor, self);
    }
  g_hash_table_remove_all (self->handshakes);
  g_clear_handle_id (&self->purge_source, g_source_remove);
  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
  /* the metrics listener stays, and /healthz says 503, until the process ends */
  self->shutting_down = TRUE;
  if (self->pending_commits > 0)
    g_message ("shutting down after %u answer(s) that wait for the disk",
               self->pending_commits);
  _pinhole_server_commit_settled (self);
}
