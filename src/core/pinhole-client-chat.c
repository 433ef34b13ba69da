/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client-chat.c: chat between devices. A message to an online device goes over the
 * pair's session (relay path for now) and counts as delivered when the session acknowledges
 * it; a message to an offline device, or one whose session fails, is sealed to the device key
 * and stored on the server (docs/protocol.md §6). Received messages are de-duplicated by id. */
#define G_LOG_DOMAIN "pinhole-chat"

#include "pinhole-client-private.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"

#include <string.h>

#define ESTABLISH_TIMEOUT_S 15

/* one send_message operation, shared by the copies for each device of the recipient */
typedef struct
{
  GTask  *task;      /* owned */
  char   *user;
  char   *id;
  guint   pending;   /* copies neither delivered nor stored yet */
  guint   live;
  guint   stored;
  GError *error;     /* the first failure */
} SendOp;

/* one copy of a message for one device, waiting for its session's acknowledgement */
typedef struct
{
  SendOp  *op;       /* owned reference (rc box) */
  GBytes  *payload;  /* the chat frame */
  guint64  seq;      /* on the peer's current session; 0 when not sent on it */
} OutMessage;


static void
send_op_clear (SendOp *op)
{
  g_clear_object (&op->task);
  g_free (op->user);
  g_free (op->id);
  g_clear_error (&op->error);
}

static void
send_op_unref (SendOp *op)
{
  g_rc_box_release_full (op, (GDestroyNotify) send_op_clear);
}

static void
out_message_free (OutMessage *m)
{
  send_op_unref (m->op);
  g_bytes_unref (m->payload);
  g_free (m);
}

/* one copy is settled: delivered live, stored on the server, or failed */
static void
send_op_settle (SendOp       *op,
                gboolean      live,
                const GError *error)
{
  g_assert (op->pending > 0);
  op->pending--;
  if (error != NULL && op->error == NULL)
    op->error = g_error_copy (error);
  else if (error == NULL)
    {
      if (live)
        op->live++;
      else
        op->stored++;
    }
  if (op->pending > 0 || op->task == NULL)
    return;

  {
    PinholeClient *client = g_task_get_source_object (op->task);
    g_autoptr(GTask) task = g_steal_pointer (&op->task);
    const char *state = op->live > 0 ? "delivered" : op->stored > 0 ? "stored" : "failed";

    pinhole_profile_set_message_state (client->profile, op->user, op->id, PINHOLE_MESSAGE_OUT,
                                       state, NULL);
    if (op->live == 0 && op->stored == 0)
      g_task_return_error (task, g_error_copy (op->error));
    else
      {
        guint *counts = g_new (guint, 2);

        counts[0] = op->live;
        counts[1] = op->stored;
        g_task_return_pointer (task, counts, g_free);
      }
  }
}

/* ---- sealed offline messages ---- */

static void
store_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  SendOp *op = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) reply = pinhole_client_request_finish (PINHOLE_CLIENT (source), result,
                                                               &error);

  send_op_settle (op, FALSE, reply ? NULL : error);
  send_op_unref (op);
}

/* the sealed plaintext names the recipient device, so the server cannot redirect it */
static GBytes *
chat_payload (const char *id,
              const char *text,
              gint64      timestamp,
              const char *to)
{
  g_autoptr(JsonObject) o = json_object_new ();
  char *json;
  gsize len;

  json_object_set_string_member (o, "id", id);
  json_object_set_string_member (o, "text", text);
  json_object_set_int_member (o, "ts", timestamp);
  if (to != NULL)
    json_object_set_string_member (o, "to", to);
  {
    g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), o);
    g_autoptr(JsonGenerator) gen = json_generator_new ();
    json_generator_set_root (gen, node);
    json = json_generator_to_data (gen, &len);
  }
  return g_bytes_new_take (json, len);
}

static void
store_sealed (PinholeClient *self,
              SendOp        *op,
              const char    *user,
              const char    *device,
              GBytes        *key,
              const char    *text,
              gint64         timestamp)
{
  g_autofree char *to = g_strconcat (user, "/", device, NULL);
  g_autoptr(GBytes) plain = chat_payload (op->id, text, timestamp, to);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) sealed = pinhole_seal (pinhole_profile_get_identity (self->profile), key,
                                           plain, &error);
  g_autoptr(JsonObject) stanza = NULL;

  if (sealed == NULL)
    {
      send_op_settle (op, FALSE, error);
      return;
    }
  stanza = pinhole_stanza_new ("message", NULL);
  json_object_set_string_member (stanza, "user", user);
  json_object_set_string_member (stanza, "device", device);
  json_object_set_string_member (stanza, "message", op->id);
  pinhole_stanza_set_base64 (stanza, "sealed", sealed);
  pinhole_client_request_async (self, stanza, NULL, store_done_cb, g_rc_box_acquire (op));
}

/* re-reads a queued chat frame to seal it for the server instead */
static void
store_out_message (PinholeClientPeer *peer,
                   OutMessage        *m)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  gsize len;
  const char *data = g_bytes_get_data (m->payload, &len);
  JsonObject *o;

  if (!json_parser_load_from_data (parser, data, (gssize) len, NULL))
    g_assert_not_reached ();
  o = json_node_get_object (json_parser_get_root (parser));
  store_sealed (peer->client, m->op, peer->user, peer->device, peer->key,
                json_object_get_string_member (o, "text"), json_object_get_int_member (o, "ts"));
}

/* ---- peers and sessions ---- */

static void
peer_clear_session (PinholeClientPeer *peer)
{
  _pinhole_client_direct_peer_clear (peer);
  if (peer->session != NULL)
    {
      g_signal_handlers_disconnect_by_data (peer->session, peer);
      if (pinhole_session_get_state (peer->session) < PINHOLE_SESSION_STATE_CLOSED)
        pinhole_session_close (peer->session);
      g_clear_object (&peer->session);
    }
  if (peer->relay != NULL)
    {
      guint32 channel = pinhole_relay_path_get_channel (peer->relay);
      PinholeClient *client = peer->client;

      if (g_hash_table_lookup (client->relays, GUINT_TO_POINTER (channel)) == peer->relay)
        {
          g_autoptr(JsonObject) stanza = pinhole_stanza_new ("relay-close", NULL);

          json_object_set_int_member (stanza, "channel", channel);
          /* best effort: the server also closes channels of dead connections */
          if (client->ws != NULL)
            {
              json_object_set_string_member (stanza, "id", "close");
              _pinhole_client_send_stanza (client, stanza);
            }
          g_hash_table_remove (client->relays, GUINT_TO_POINTER (channel));
        }
      g_clear_object (&peer->relay);
    }
  g_clear_handle_id (&peer->establish_timeout, g_source_remove);
}

/* the session is gone: waiting messages go to the server sealed, waiters fail */
static void
peer_session_failed (PinholeClientPeer *peer,
                     const GError      *error)
{
  OutMessage *m;
  g_autoptr(GPtrArray) waiters = g_steal_pointer (&peer->waiters);

  g_debug ("session with %s ended: %s", peer->id, error ? error->message : "closed");
  peer_clear_session (peer);
  peer->waiters = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; waiters != NULL && i < waiters->len; i++)
    {
      GTask *task = g_ptr_array_index (waiters, i);
      if (error != NULL)
        g_task_return_error (task, g_error_copy (error));
      else
        g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                 "the session with %s closed", peer->id);
    }
  while ((m = g_queue_pop_head (&peer->outbox)) != NULL)
    {
      if (peer->client->ws != NULL)
        store_out_message (peer, m);
      else
        send_op_settle (m->op, FALSE, error);
      out_message_free (m);
    }
}

void
_pinhole_client_peer_free (PinholeClientPeer *peer)
{
  g_autoptr(GError) error = g_error_new_literal (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                                 "the client closed");
  OutMessage *m;

  peer_clear_session (peer);
  while ((m = g_queue_pop_head (&peer->outbox)) != NULL)
    {
      send_op_settle (m->op, FALSE, error);
      out_message_free (m);
    }
  for (guint i = 0; i < peer->waiters->len; i++)
    g_task_return_error (g_ptr_array_index (peer->waiters, i), g_error_copy (error));
  g_ptr_array_unref (peer->waiters);
  g_free (peer->user);
  g_free (peer->device);
  g_free (peer->id);
  g_clear_pointer (&peer->key, g_bytes_unref);
  g_free (peer->relay_reason);
  g_clear_pointer (&peer->peer_nat, json_object_unref);
  g_free (peer);
}

static PinholeClientPeer *
ensure_peer (PinholeClient *self,
             const char    *user,
             const char    *device,
             GBytes        *key)
{
  g_autofree char *id = g_strconcat (user, "/", device, NULL);
  PinholeClientPeer *peer = g_hash_table_lookup (self->peers, id);

  if (peer == NULL)
    {
      peer = g_new0 (PinholeClientPeer, 1);
      peer->client = self;
      peer->user = g_strdup (user);
      peer->device = g_strdup (device);
      peer->id = g_steal_pointer (&id);
      g_queue_init (&peer->outbox);
      peer->waiters = g_ptr_array_new_with_free_func (g_object_unref);
      g_hash_table_insert (self->peers, peer->id, peer);
    }
  if (key != NULL && (peer->key == NULL || !g_bytes_equal (peer->key, key)))
    {
      g_clear_pointer (&peer->key, g_bytes_unref);
      peer->key = g_bytes_ref (key);
    }
  return peer;
}

static void
session_frame_cb (PinholeSession    *session,
                  guint              channel,
                  GBytes            *payload,
                  PinholeClientPeer *peer)
{
  PinholeClient *self = peer->client;
  g_autoptr(JsonParser) parser = json_parser_new ();
  gsize len;
  const char *data = g_bytes_get_data (payload, &len);
  JsonNode *root;
  JsonObject *o;
  const char *id, *text;
  gint64 ts = 0;
  gboolean added = FALSE;
  g_autoptr(GError) error = NULL;

  if (channel == PINHOLE_SESSION_CHANNEL_CONTROL)
    {
      _pinhole_client_direct_control (peer, payload);
      return;
    }
  if (channel != PINHOLE_SESSION_CHANNEL_CHAT)
    return;
  if (len > PINHOLE_STANZA_MAX_BYTES || !g_utf8_validate_len (data, len, NULL) ||
      !json_parser_load_from_data (parser, data, (gssize) len, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_debug ("%s sent a chat frame that is not a JSON object", peer->id);
      return;
    }
  o = json_node_get_object (root);
  id = pinhole_stanza_require_string (o, "id", 64, NULL);
  text = pinhole_stanza_require_string (o, "text", PINHOLE_CHAT_MAX_TEXT, NULL);
  if (id == NULL || text == NULL || !pinhole_stanza_require_int (o, "ts", 0, G_MAXINT64, &ts,
                                                                 NULL))
    {
      g_debug ("%s sent a malformed chat message", peer->id);
      return;
    }
  if (!pinhole_profile_add_message (self->profile, peer->user, id, PINHOLE_MESSAGE_IN, text, ts,
                                    "received", &added, &error))
    g_warning ("cannot record a message: %s", error->message);
  if (added || error != NULL)
    g_signal_emit (self, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_MESSAGE_RECEIVED], 0,
                   peer->user, id, text, ts);
}

static void
session_acked_cb (PinholeSession    *session,
                  guint64            seq,
                  PinholeClientPeer *peer)
{
  for (GList *l = peer->outbox.head; l != NULL; l = l->next)
    {
      OutMessage *m = l->data;

      if (m->seq == seq)
        {
          g_queue_delete_link (&peer->outbox, l);
          g_signal_emit (peer->client, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_DELIVERED],
                         0, peer->user, m->op->id);
          send_op_settle (m->op, TRUE, NULL);
          out_message_free (m);
          return;
        }
    }
}

void
_pinhole_client_emit_path (PinholeClientPeer *peer)
{
  PinholePath *path = peer->session ? pinhole_session_get_path (peer->session) : NULL;
  const char *name = path ? pinhole_path_kind_to_string (pinhole_path_get_kind (path)) : "none";

  if (name == peer->last_path)
    return;
  peer->last_path = name;
  g_signal_emit (peer->client, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_PATH_CHANGED], 0,
                 peer->user, peer->device, name,
                 peer->session ? pinhole_session_get_rtt_ms (peer->session) : -1.0);
}

static void
session_established_cb (PinholeSession    *session,
                        PinholeClientPeer *peer)
{
  g_autoptr(GPtrArray) waiters = g_steal_pointer (&peer->waiters);

  g_clear_handle_id (&peer->establish_timeout, g_source_remove);
  peer->waiters = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < waiters->len; i++)
    g_task_return_pointer (g_ptr_array_index (waiters, i), g_object_ref (session),
                           g_object_unref);
  _pinhole_client_emit_path (peer);
  _pinhole_client_direct_session_up (peer);
}

static void
session_closed_cb (PinholeSession    *session,
                   const GError      *error,
                   PinholeClientPeer *peer)
{
  g_autoptr(GError) copy = error ? g_error_copy (error) : NULL;

  peer_session_failed (peer, copy);
  _pinhole_client_emit_path (peer);
}

static void
session_path_changed_cb (PinholeSession    *session,
                         PinholeClientPeer *peer)
{
  _pinhole_client_emit_path (peer);
}

static void
session_path_lost_cb (PinholeSession    *session,
                      PinholePath       *path,
                      PinholeClientPeer *peer)
{
  _pinhole_client_direct_path_lost (peer, path);
}

static gboolean
establish_timeout_cb (gpointer user_data)
{
  PinholeClientPeer *peer = user_data;
  g_autoptr(GError) error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT,
                                         "no session with %s within %d s", peer->id,
                                         ESTABLISH_TIMEOUT_S);

  peer->establish_timeout = 0;
  peer_session_failed (peer, error);
  return G_SOURCE_REMOVE;
}

/* sends every queued message on the (new) session */
static void
flush_outbox (PinholeClientPeer *peer)
{
  for (GList *l = peer->outbox.head; l != NULL; l = l->next)
    {
      OutMessage *m = l->data;
      g_autoptr(GError) error = NULL;

      if (m->seq != 0)
        continue;
      if (!pinhole_session_send (peer->session, PINHOLE_SESSION_CHANNEL_CHAT, m->payload,
                                 &m->seq, &error))
        g_debug ("cannot queue a message for %s: %s", peer->id, error->message);
    }
}

static void
peer_attach_session (PinholeClientPeer *peer,
                     PinholeRelayPath  *relay,
                     gboolean           initiator)
{
  PinholeClient *self = peer->client;

  peer_clear_session (peer);
  peer->relay = g_object_ref (relay);
  g_hash_table_insert (self->relays, GUINT_TO_POINTER (pinhole_relay_path_get_channel (relay)),
                       g_object_ref (relay));
  peer->session = pinhole_session_new (pinhole_profile_get_identity (self->profile),
                                       self->local_id, peer->id, peer->key, initiator);
  g_signal_connect (peer->session, "frame-received", G_CALLBACK (session_frame_cb), peer);
  g_signal_connect (peer->session, "acked", G_CALLBACK (session_acked_cb), peer);
  g_signal_connect (peer->session, "established", G_CALLBACK (session_established_cb), peer);
  g_signal_connect (peer->session, "closed", G_CALLBACK (session_closed_cb), peer);
  g_signal_connect (peer->session, "path-changed", G_CALLBACK (session_path_changed_cb), peer);
  g_signal_connect (peer->session, "path-lost", G_CALLBACK (session_path_lost_cb), peer);
  pinhole_session_attach_path (peer->session, PINHOLE_PATH (relay));
  peer->establish_timeout = g_timeout_add_seconds (ESTABLISH_TIMEOUT_S, establish_timeout_cb,
                                                   peer);
  /* queued messages get new sequence numbers on the new session */
  for (GList *l = peer->outbox.head; l != NULL; l = l->next)
    ((OutMessage *) l->data)->seq = 0;
  flush_outbox (peer);
  if (initiator)
    pinhole_session_start (peer->session);
  _pinhole_relay_path_release (relay);
}

static void
relay_open_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  PinholeClient *self = PINHOLE_CLIENT (source);
  g_autofree char *peer_id = user_data;
  PinholeClientPeer *peer = g_hash_table_lookup (self->peers, peer_id);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) reply = pinhole_client_request_finish (self, result, &error);
  gint64 channel;
  g_autoptr(PinholeRelayPath) relay = NULL;

  if (peer == NULL)
    return;
  if (reply == NULL ||
      !pinhole_stanza_require_int (reply, "channel", 1, G_MAXUINT32, &channel, &error))
    {
      peer_session_failed (peer, error);
      return;
    }
  if (peer->session != NULL)
    {
      /* the peer opened one first and we accepted it meanwhile: release this channel */
      g_autoptr(JsonObject) stanza = pinhole_stanza_new ("relay-close", NULL);
      json_object_set_int_member (stanza, "channel", channel);
      json_object_set_string_member (stanza, "id", "close");
      _pinhole_client_send_stanza (self, stanza);
      return;
    }
  relay = pinhole_relay_path_new (self->ws, (guint32) channel);
  peer_attach_session (peer, relay, TRUE);
}

/* opens a session to @peer unless one is open or opening */
static void
peer_ensure_session (PinholeClientPeer *peer)
{
  g_autoptr(JsonObject) stanza = NULL;

  if (peer->session != NULL &&
      pinhole_session_get_state (peer->session) < PINHOLE_SESSION_STATE_CLOSED)
    return;
  if (peer->establish_timeout != 0)
    return;   /* relay-open in flight */
  peer->establish_timeout = g_timeout_add_seconds (ESTABLISH_TIMEOUT_S, establish_timeout_cb,
                                                   peer);
  stanza = pinhole_stanza_new ("relay-open", NULL);
  json_object_set_string_member (stanza, "user", peer->user);
  json_object_set_string_member (stanza, "device", peer->device);
  pinhole_client_request_async (peer->client, stanza, NULL, relay_open_cb, g_strdup (peer->id));
}

/* the key a contact's device may use, or an error when it is unknown or changed */
static GBytes *
trusted_device_key (PinholeClient *self,
                    const char    *user,
                    const char    *device,
                    GError       **error)
{
  PinholeClientContact *contact = _pinhole_client_find_contact (self, user);
  PinholeClientDevice *d;

  if (contact == NULL || strcmp (contact->relation, "mutual") != 0)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED, "%s is not your contact",
                   user);
      return NULL;
    }
  d = g_hash_table_lookup (contact->devices, device);
  if (d == NULL)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND, "unknown device %s of %s",
                   device, user);
      return NULL;
    }
  if (pinhole_profile_check_key (self->profile, user, device, d->key, error) ==
      PINHOLE_KEY_CHANGED)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_KEY_CHANGED,
                     "%s has a new or changed device key (device %s): compare fingerprints, "
                     "then trust it", user, device);
      g_signal_emit (self, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_KEY_CHANGED], 0, user);
      return NULL;
    }
  return g_bytes_ref (d->key);
}

void
_pinhole_client_handle_relay_open (PinholeClient *self,
                                   JsonObject    *stanza)
{
  const char *user = pinhole_stanza_require_string (stanza, "user", 32, NULL);
  const char *device = pinhole_stanza_require_string (stanza, "device", 64, NULL);
  gint64 channel;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = NULL;
  g_autoptr(PinholeRelayPath) relay = NULL;
  PinholeClientPeer *peer;

  if (user == NULL || device == NULL ||
      !pinhole_stanza_require_int (stanza, "channel", 1, G_MAXUINT32, &channel, NULL))
    return;
  relay = pinhole_relay_path_new (self->ws, (guint32) channel);
  key = trusted_device_key (self, user, device, &error);
  if (key == NULL)
    {
      g_autoptr(JsonObject) close = pinhole_stanza_new ("relay-close", "close");

      g_debug ("refusing a session from %s/%s: %s", user, device, error->message);
      json_object_set_int_member (close, "channel", channel);
      _pinhole_client_send_stanza (self, close);
      if (g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND))
        _pinhole_client_refresh_roster (self);
      return;
    }
  peer = ensure_peer (self, user, device, key);
  if (peer->session != NULL &&
      pinhole_session_get_state (peer->session) == PINHOLE_SESSION_STATE_HANDSHAKING &&
      strcmp (self->local_id, peer->id) < 0)
    {
      /* both opened at once: the session of the smaller id wins on both sides */
      g_autoptr(JsonObject) close = pinhole_stanza_new ("relay-close", "close");
      json_object_set_int_member (close, "channel", channel);
      _pinhole_client_send_stanza (self, close);
      return;
    }
  g_clear_handle_id (&peer->establish_timeout, g_source_remove);
  peer_attach_session (peer, relay, FALSE);
}

void
_pinhole_client_handle_relay_closed (PinholeClient *self,
                                     JsonObject    *stanza)
{
  gint64 channel;
  PinholeRelayPath *relay;
  g_autoptr(GError) error = NULL;

  if (!pinhole_stanza_require_int (stanza, "channel", 1, G_MAXUINT32, &channel, NULL))
    return;
  relay = g_hash_table_lookup (self->relays, GUINT_TO_POINTER ((guint32) channel));
  if (relay == NULL)
    return;
  error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED, "relay channel %u closed",
                       (guint32) channel);
  g_object_ref (relay);
  g_hash_table_remove (self->relays, GUINT_TO_POINTER ((guint32) channel));
  _pinhole_relay_path_lost (relay, error);
  /* the session had only this path: it is over, and its waiting messages go sealed */
  {
    GHashTableIter iter;
    PinholeClientPeer *peer;

    g_hash_table_iter_init (&iter, self->peers);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &peer))
      if (peer->relay == relay)
        {
          peer_session_failed (peer, error);
          _pinhole_client_emit_path (peer);
          break;
        }
  }
  g_object_unref (relay);
}

void
_pinhole_client_drop_all_peers (PinholeClient *self,
                                const GError  *error)
{
  GHashTableIter iter;
  PinholeRelayPath *relay;

  g_hash_table_iter_init (&iter, self->relays);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &relay))
    _pinhole_relay_path_lost (relay, error);
  g_hash_table_remove_all (self->peers);
  g_hash_table_remove_all (self->relays);
}

/* ---- sending ---- */

/**
 * pinhole_client_send_message_async:
 * Sends @text to every device of the contact @user: over a session to online devices,
 * sealed through the server to offline ones. Completes when each copy is acknowledged by
 * the device or stored by the server.
 */
void
pinhole_client_send_message_async (PinholeClient       *self,
                                   const char          *user,
                                   const char          *text,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  PinholeClientContact *contact;
  GHashTableIter iter;
  PinholeClientDevice *d;
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GPtrArray) devices = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  SendOp *op;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *id = NULL;

  g_task_set_source_tag (task, pinhole_client_send_message_async);
  if (!pinhole_client_is_connected (self))
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                               "not connected to the server");
      return;
    }
  if (text == NULL || *text == '\0' || strlen (text) > PINHOLE_CHAT_MAX_TEXT ||
      !g_utf8_validate (text, -1, NULL))
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                               "a message is 1 to %d bytes of UTF-8 text",
                               PINHOLE_CHAT_MAX_TEXT);
      return;
    }
  contact = _pinhole_client_find_contact (self, user);
  if (contact == NULL || strcmp (contact->relation, "mutual") != 0)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED,
                               "%s is not your contact%s", user,
                               contact && strcmp (contact->relation, "requested") == 0
                               ? " yet: they have not accepted your request" : "");
      return;
    }
  if (g_hash_table_size (contact->devices) == 0)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND,
                               "%s has no device to send to", user);
      return;
    }

  /* every device must be trusted before anything leaves */
  g_hash_table_iter_init (&iter, contact->devices);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &d))
    {
      GBytes *key = trusted_device_key (self, user, d->device, &error);

      if (key == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      g_ptr_array_add (keys, key);
      g_ptr_array_add (devices, d);
    }

  id = g_uuid_string_random ();
  if (!pinhole_profile_add_message (self->profile, user, id, PINHOLE_MESSAGE_OUT, text, now,
                                    "sending", NULL, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  op = g_rc_box_new0 (SendOp);
  op->task = g_steal_pointer (&task);
  op->user = g_strdup (user);
  op->id = g_steal_pointer (&id);
  op->pending = devices->len;
  for (guint i = 0; i < devices->len; i++)
    {
      d = g_ptr_array_index (devices, i);
      if (strcmp (d->show, "offline") == 0)
        store_sealed (self, op, user, d->device, g_ptr_array_index (keys, i), text, now);
      else
        {
          PinholeClientPeer *peer = ensure_peer (self, user, d->device,
                                                 g_ptr_array_index (keys, i));
          OutMessage *m = g_new0 (OutMessage, 1);

          m->op = g_rc_box_acquire (op);
          m->payload = chat_payload (op->id, text, now, NULL);
          g_queue_push_tail (&peer->outbox, m);
          if (peer->session != NULL &&
              pinhole_session_get_state (peer->session) < PINHOLE_SESSION_STATE_CLOSED)
            flush_outbox (peer);
          else
            peer_ensure_session (peer);
        }
    }
  send_op_unref (op);
}

/* @out_live: copies acknowledged by online devices; @out_stored: copies stored for offline ones */
gboolean
pinhole_client_send_message_finish (PinholeClient *self,
                                    GAsyncResult  *result,
                                    guint         *out_live,
                                    guint         *out_stored,
                                    GError       **error)
{
  g_autofree guint *counts = g_task_propagate_pointer (G_TASK (result), error);

  if (counts == NULL)
    return FALSE;
  if (out_live != NULL)
    *out_live = counts[0];
  if (out_stored != NULL)
    *out_stored = counts[1];
  return TRUE;
}

/* ---- receiving sealed messages ---- */

void
_pinhole_client_handle_offline (PinholeClient *self,
                                JsonObject    *stanza,
                                gboolean       roster_fresh)
{
  const char *message = pinhole_stanza_require_string (stanza, "message", 64, NULL);
  const char *from = pinhole_stanza_require_string (stanza, "from", 32, NULL);
  const char *from_device = pinhole_stanza_require_string (stanza, "from_device", 64, NULL);
  g_autoptr(GBytes) sealed = pinhole_stanza_require_base64 (stanza, "sealed", 1, 64 * 1024,
                                                            NULL);
  g_autoptr(GBytes) sender_key = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GBytes) trusted = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) o = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonObject) ack = NULL;
  const char *id, *text, *to;
  gint64 ts = 0;
  gboolean added = FALSE;
  gsize len;
  const char *data;

  if (message == NULL || from == NULL || from_device == NULL || sealed == NULL)
    {
      g_debug ("malformed offline-message push");
      return;
    }
  if (!self->roster_loaded)
    {
      g_ptr_array_add (self->held_offline, json_object_ref (stanza));
      return;
    }
  plain = pinhole_identity_open_sealed (pinhole_profile_get_identity (self->profile), sealed,
                                        &sender_key, &error);
  if (plain == NULL)
    {
      g_debug ("offline message %s cannot be opened: %s", message, error->message);
      goto drop;
    }
  trusted = trusted_device_key (self, from, from_device, &error);
  if (trusted == NULL)
    {
      /* a device we have not heard of: look again once; otherwise it stays on the server
       * until the key is trusted, and comes again at the next log-in */
      g_debug ("offline message from %s/%s held back: %s", from, from_device, error->message);
      if (!roster_fresh && !g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_KEY_CHANGED))
        {
          g_ptr_array_add (self->held_offline, json_object_ref (stanza));
          _pinhole_client_refresh_roster (self);
        }
      return;
    }
  if (!g_bytes_equal (trusted, sender_key))
    {
      g_debug ("offline message %s is signed by another key than %s/%s's", message, from,
               from_device);
      goto drop;
    }
  data = g_bytes_get_data (plain, &len);
  if (!g_utf8_validate_len (data, len, NULL) ||
      !json_parser_load_from_data (parser, data, (gssize) len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    goto drop;
  o = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
  id = pinhole_stanza_require_string (o, "id", 64, NULL);
  text = pinhole_stanza_require_string (o, "text", PINHOLE_CHAT_MAX_TEXT, NULL);
  to = pinhole_stanza_require_string (o, "to", 100, NULL);
  if (id == NULL || text == NULL || to == NULL || strcmp (id, message) != 0 ||
      strcmp (to, self->local_id) != 0 ||
      !pinhole_stanza_require_int (o, "ts", 0, G_MAXINT64, &ts, NULL))
    {
      g_debug ("offline message %s does not match its envelope", message);
      goto drop;
    }
  if (!pinhole_profile_add_message (self->profile, from, id, PINHOLE_MESSAGE_IN, text, ts,
                                    "received", &added, &error))
    {
      /* not acknowledged: the server keeps it and sends it again next time */
      g_warning ("cannot record a message: %s", error->message);
      return;
    }
  if (added)
    g_signal_emit (self, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_MESSAGE_RECEIVED], 0,
                   from, id, text, ts);

drop:
  /* acknowledged once recorded, or when it can never be read */
  ack = pinhole_stanza_new ("offline-ack", "ack");
  json_object_set_string_member (ack, "message", message);
  _pinhole_client_send_stanza (self, ack);
}

void
_pinhole_client_handle_delivered (PinholeClient *self,
                                  JsonObject    *stanza)
{
  const char *message = pinhole_stanza_require_string (stanza, "message", 64, NULL);
  const char *user = pinhole_stanza_require_string (stanza, "user", 32, NULL);

  if (message == NULL || user == NULL)
    return;
  pinhole_profile_set_message_state (self->profile, user, message, PINHOLE_MESSAGE_OUT,
                                     "delivered", NULL);
  g_signal_emit (self, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_DELIVERED], 0, user,
                 message);
}

/* ---- sessions for `path` and the UI ---- */

/**
 * pinhole_client_open_session_async:
 * Opens (or reuses) a session with the first online device of @user.
 */
void
pinhole_client_open_session_async (PinholeClient       *self,
                                   const char          *user,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  PinholeClientContact *contact = _pinhole_client_find_contact (self, user);
  PinholeClientDevice *online = NULL;
  GHashTableIter iter;
  PinholeClientDevice *d;
  g_autoptr(GBytes) key = NULL;
  g_autoptr(GError) error = NULL;
  PinholeClientPeer *peer;

  g_task_set_source_tag (task, pinhole_client_open_session_async);
  if (contact == NULL || strcmp (contact->relation, "mutual") != 0)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED,
                               "%s is not your contact", user);
      return;
    }
  g_hash_table_iter_init (&iter, contact->devices);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &d))
    if (strcmp (d->show, "offline") != 0 && (online == NULL || strcmp (d->show, "online") == 0))
      online = d;
  if (online == NULL)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH, "%s is offline",
                               user);
      return;
    }
  key = trusted_device_key (self, user, online->device, &error);
  if (key == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  peer = ensure_peer (self, user, online->device, key);
  if (peer->session != NULL &&
      pinhole_session_get_state (peer->session) == PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      g_task_return_pointer (task, g_object_ref (peer->session), g_object_unref);
      return;
    }
  g_ptr_array_add (peer->waiters, g_steal_pointer (&task));
  peer_ensure_session (peer);
}

/* Returns: (transfer full): the established session */
PinholeSession *
pinhole_client_open_session_finish (PinholeClient *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Returns: (transfer none) (nullable): the peer of @user with an established session, on the
 * best path */
PinholeClientPeer *
_pinhole_client_find_peer_of (PinholeClient *self,
                              const char    *user)
{
  GHashTableIter iter;
  PinholeClientPeer *peer, *best = NULL;

  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &peer))
    {
      PinholePath *path;

      if (strcmp (peer->user, user) != 0 || peer->session == NULL ||
          pinhole_session_get_state (peer->session) != PINHOLE_SESSION_STATE_ESTABLISHED ||
          (path = pinhole_session_get_path (peer->session)) == NULL)
        continue;
      if (best == NULL ||
          pinhole_path_get_kind (path) < pinhole_path_get_kind (pinhole_session_get_path (
                                                                  best->session)))
        best = peer;
    }
  return best;
}

/* the path and RTT of the best live session with any device of @user */
void
_pinhole_client_peer_info (PinholeClient *self,
                           const char    *user,
                           char         **out_path,
                           gdouble       *out_rtt)
{
  PinholeClientPeer *peer = _pinhole_client_find_peer_of (self, user);

  *out_path = NULL;
  *out_rtt = -1;
  if (peer == NULL)
    return;
  *out_path = g_strdup (pinhole_path_kind_to_string (pinhole_path_get_kind (
    pinhole_session_get_path (peer->session))));
  *out_rtt = pinhole_session_get_rtt_ms (peer->session);
}
