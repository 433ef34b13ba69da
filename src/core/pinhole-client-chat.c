/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client-chat.c: chat between devices. A message to an online device goes as a
 * reliable frame of the device's session and counts as delivered when the device confirms,
 * with a receipt frame after syncing its profile, that the message is on its disk; a message
 * to an offline device, or one whose session ends first (or that gets no receipt), is sealed
 * to the device key and stored on the server (docs/protocol.md §6). Received messages are
 * de-duplicated by id, recorded in the profile and shown in their PinholeConversation, and
 * acknowledged once the profile is synced (docs/architecture.md "Durability"). */
#define G_LOG_DOMAIN "pinhole-chat"

#include "pinhole-client-private.h"
#include "pinhole-device-private.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"

#include <string.h>

/* receipts that arrive together are acknowledged together (docs/protocol.md §6) */
#define RECEIPT_ACK_DELAY_MS 100
/* how long a live copy the session acknowledged waits for the receiver's receipt (it is on
 * the receiver's disk) before it goes sealed as well: a receiver of 0.1 sends none */
#define LIVE_RECEIPT_WAIT_MS 5000

/* one send operation, shared by the copies for each device of the recipient */
typedef struct
{
  GTask  *task;      /* owned */
  char   *user;
  char   *id;
  char   *text;
  gint64  timestamp;
  guint   pending;   /* copies neither delivered nor stored yet */
  guint   live;
  guint   stored;
  gboolean sent;     /* a copy is on a session */
  GError *error;     /* the first failure */
} SendOp;

static void
send_op_clear (SendOp *op)
{
  g_clear_object (&op->task);
  g_free (op->user);
  g_free (op->id);
  g_free (op->text);
  g_clear_error (&op->error);
}

static void
send_op_unref (SendOp *op)
{
  g_rc_box_release_full (op, (GDestroyNotify) send_op_clear);
}

static SendOp *
send_op_ref (SendOp *op)
{
  return g_rc_box_acquire (op);
}

/* @id: (transfer full) */
static SendOp *
send_op_new (const char *user,
             char       *id,
             const char *text,
             gint64      timestamp)
{
  SendOp *op = g_rc_box_new0 (SendOp);

  op->user = g_strdup (user);
  op->id = id;
  op->text = g_strdup (text);
  op->timestamp = timestamp;
  return op;
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
    PinholeMessageState state = op->live > 0 ? PINHOLE_MESSAGE_STATE_DELIVERED
                                : op->stored > 0 ? PINHOLE_MESSAGE_STATE_STORED_FOR_OFFLINE
                                : PINHOLE_MESSAGE_STATE_FAILED;

    pinhole_profile_set_message_state (client->profile, op->user, op->id,
                                       PINHOLE_MESSAGE_DIRECTION_OUT, state, NULL, NULL);
    _pinhole_client_message_state (client, op->user, op->id, state,
                                   op->error ? op->error->message : NULL);
    if (op->live == 0 && op->stored == 0)
      g_task_return_error (task, g_error_copy (op->error));
    else
      {
        guint *counts = g_new (guint, 2);

        counts[0] = op->live;
        counts[1] = op->stored;
        g_task_return_pointer (task, counts, g_free);
      }
    g_assert (client->sends_in_flight > 0);
    if (--client->sends_in_flight == 0)
      _pinhole_client_sends_settled (client);
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
chat_payload (SendOp     *op,
              const char *to)
{
  g_autoptr(JsonObject) o = json_object_new ();
  char *json;
  gsize len;

  json_object_set_string_member (o, "id", op->id);
  json_object_set_string_member (o, "text", op->text);
  json_object_set_int_member (o, "ts", op->timestamp);
  if (to != NULL)
    json_object_set_string_member (o, "to", to);
  json = pinhole_stanza_to_string (o, &len);
  return g_bytes_new_take (json, len);
}

static void
store_sealed (PinholeClient *self,
              SendOp        *op,
              PinholeDevice *device)
{
  g_autoptr(GBytes) plain = chat_payload (op, pinhole_device_get_id (device));
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) sealed = pinhole_seal (pinhole_profile_get_identity (self->profile),
                                           pinhole_device_get_key (device), plain, &error);
  g_autoptr(JsonObject) stanza = NULL;

  if (sealed == NULL)
    {
      send_op_settle (op, FALSE, error);
      return;
    }
  stanza = pinhole_stanza_new ("message", NULL);
  json_object_set_string_member (stanza, "user", pinhole_device_get_user (device));
  json_object_set_string_member (stanza, "device", pinhole_device_get_name (device));
  json_object_set_string_member (stanza, "message", op->id);
  pinhole_stanza_set_base64 (stanza, "sealed", sealed);
  pinhole_client_request_async (self, stanza, NULL, store_done_cb, g_rc_box_acquire (op));
}

/* ---- live copies ---- */

static void
copy_sent_cb (PinholeDevice *device,
              gpointer       user_data)
{
  SendOp *op = user_data;

  if (op->sent || op->task == NULL)
    return;
  op->sent = TRUE;
  _pinhole_client_message_state (g_task_get_source_object (op->task), op->user, op->id,
                                 PINHOLE_MESSAGE_STATE_SENT, NULL);
}

/* a live copy the session acknowledged, waiting for the receipt that says it is on the
 * receiver's disk */
typedef struct
{
  PinholeClient *client;   /* borrowed: the client owns the table of these */
  PinholeDevice *device;   /* owned */
  SendOp        *op;       /* a reference */
  char          *key;
  guint          timeout;
} AwaitedReceipt;

void
_pinhole_client_awaited_receipt_free (gpointer data)
{
  AwaitedReceipt *a = data;

  g_clear_handle_id (&a->timeout, g_source_remove);
  g_object_unref (a->device);
  send_op_unref (a->op);
  g_free (a->key);
  g_free (a);
}

static char *
receipt_key (PinholeDevice *device,
             const char    *id)
{
  return g_strconcat (pinhole_device_get_id (device), "\n", id, NULL);
}

/* no receipt: the receiver may not have the message on its disk (or is of 0.1), so it goes
 * sealed too, and a receiver that has it already drops the copy */
static gboolean
receipt_timeout_cb (gpointer user_data)
{
  AwaitedReceipt *a = user_data;
  PinholeClient *client = a->client;
  SendOp *op = send_op_ref (a->op);
  g_autoptr(PinholeDevice) device = g_object_ref (a->device);
  g_autofree char *key = g_strdup (a->key);

  a->timeout = 0;
  g_debug ("no receipt from %s for %s: storing it", pinhole_device_get_id (device), op->id);
  g_hash_table_remove (client->awaited_receipts, key);
  if (client->ws != NULL)
    store_sealed (client, op, device);
  else
    {
      g_autoptr(GError) error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT,
                                             "%s did not confirm the message",
                                             pinhole_device_get_id (device));
      send_op_settle (op, FALSE, error);
    }
  send_op_unref (op);
  return G_SOURCE_REMOVE;
}

/* @device has message @id on its disk */
static void
receipt_received (PinholeClient *self,
                  PinholeDevice *device,
                  const char    *id)
{
  g_autofree char *key = receipt_key (device, id);
  AwaitedReceipt *a = self->awaited_receipts ? g_hash_table_lookup (self->awaited_receipts, key)
                                             : NULL;
  SendOp *op;

  if (a == NULL)
    {
      g_debug ("receipt from %s for %s, which waits for none", pinhole_device_get_id (device),
               id);
      return;
    }
  op = send_op_ref (a->op);
  g_hash_table_remove (self->awaited_receipts, key);
  g_debug ("receipt from %s for %s", pinhole_device_get_id (device), id);
  g_signal_emit (self, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_DELIVERED], 0, op->user,
                 op->id);
  send_op_settle (op, TRUE, NULL);
  send_op_unref (op);
}

/* the device's session acknowledged the copy: it waits for the device's receipt. Or the
 * session ended first: then the copy goes sealed */
static void
copy_settled_cb (PinholeDevice *device,
                 GBytes        *payload,
                 const GError  *error,
                 gpointer       user_data)
{
  SendOp *op = user_data;
  PinholeClient *client = device->client;

  /* (the table is gone once the client is disposed) */
  if (error == NULL && client != NULL && client->awaited_receipts != NULL)
    {
      AwaitedReceipt *a = g_new0 (AwaitedReceipt, 1);

      a->client = client;
      a->device = g_object_ref (device);
      a->op = op;
      a->key = receipt_key (device, op->id);
      a->timeout = g_timeout_add (LIVE_RECEIPT_WAIT_MS, receipt_timeout_cb, a);
      g_hash_table_replace (client->awaited_receipts, a->key, a);
      return;
    }
  if (client != NULL && client->ws != NULL)
    store_sealed (client, op, device);
  else
    send_op_settle (op, FALSE, error);
  send_op_unref (op);
}

/* the key a contact's device may use, or an error when it is unknown or changed */
static GBytes *
trusted_device_key (PinholeClient *self,
                    const char    *user,
                    const char    *device,
                    GError       **error)
{
  PinholeContact *contact = pinhole_client_lookup_contact (self, user);
  PinholeDevice *d;
  PinholeKeyCheck check;

  if (contact == NULL || pinhole_contact_get_relation (contact) != PINHOLE_RELATION_MUTUAL)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED, "%s is not your contact",
                   user);
      return NULL;
    }
  d = pinhole_contact_lookup_device (contact, device);
  if (d == NULL)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND, "unknown device %s of %s",
                   device, user);
      return NULL;
    }
  check = pinhole_profile_check_key (self->profile, user, device, pinhole_device_get_key (d),
                                     error);
  _pinhole_device_refresh_key_state (d);
  if (check == PINHOLE_KEY_CHANGED)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_KEY_CHANGED,
                     "%s has a new or changed device key (device %s): compare fingerprints, "
                     "then trust it", user, device);
      g_signal_emit (self, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_KEY_CHANGED], 0, user);
      return NULL;
    }
  return g_bytes_ref (pinhole_device_get_key (d));
}

/* ---- received live ---- */

static void acknowledge_when_synced (PinholeClient *self,
                                     const char    *message,
                                     PinholeDevice *device);

void
_pinhole_client_chat_frame (PinholeDevice *device,
                            guint          channel,
                            GBytes        *payload,
                            PinholeClient *self)
{
  gsize len;
  const char *data = g_bytes_get_data (payload, &len);
  g_autoptr(JsonObject) o = NULL;
  const char *id, *text;
  gint64 ts = 0;
  gboolean added = FALSE;
  g_autoptr(GError) error = NULL;
  const char *user = pinhole_device_get_user (device);

  if (channel != PINHOLE_SESSION_CHANNEL_CHAT)
    return;
  o = pinhole_stanza_parse_object (data, len, &error);
  if (o == NULL)
    {
      g_debug ("%s sent a chat frame that is not a JSON object: %s",
               pinhole_device_get_id (device), error->message);
      return;
    }
  /* a receipt: a message we sent is on the device's disk */
  if (json_object_has_member (o, "receipt"))
    {
      id = pinhole_stanza_require_string (o, "receipt", 64, NULL);
      if (id == NULL)
        g_debug ("%s sent a malformed receipt", pinhole_device_get_id (device));
      else
        receipt_received (self, device, id);
      return;
    }
  id = pinhole_stanza_require_string (o, "id", 64, NULL);
  text = pinhole_stanza_require_string (o, "text", PINHOLE_CHAT_MAX_TEXT, NULL);
  if (id == NULL || text == NULL || !pinhole_stanza_require_int (o, "ts", 0, G_MAXINT64, &ts,
                                                                 NULL))
    {
      g_debug ("%s sent a malformed chat message", pinhole_device_get_id (device));
      return;
    }
  if (!pinhole_profile_add_message (self->profile, user, id, PINHOLE_MESSAGE_DIRECTION_IN, text,
                                    ts, PINHOLE_MESSAGE_STATE_RECEIVED, &added, &error))
    g_warning ("cannot record a message: %s", error->message);
  else
    /* recorded now or before (the sender tries again when a receipt is lost): the receipt
     * goes once it is on disk */
    acknowledge_when_synced (self, id, device);
  if (added || error != NULL)
    {
      _pinhole_client_message_recorded (self, user, id, PINHOLE_MESSAGE_DIRECTION_IN, text, ts,
                                        PINHOLE_MESSAGE_STATE_RECEIVED);
      g_signal_emit (self, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_MESSAGE_RECEIVED], 0,
                     user, id, text, ts);
    }
}

/* ---- sessions the devices open ---- */

void
_pinhole_client_handle_relay_open (PinholeClient *self,
                                   JsonObject    *stanza)
{
  const char *user = pinhole_stanza_require_string (stanza, "user", 32, NULL);
  const char *name = pinhole_stanza_require_string (stanza, "device", 64, NULL);
  gint64 channel;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = NULL;
  g_autoptr(PinholeRelayPath) relay = NULL;
  PinholeDevice *device;

  if (user == NULL || name == NULL ||
      !pinhole_stanza_require_int (stanza, "channel", 1, G_MAXUINT32, &channel, NULL))
    return;
  key = trusted_device_key (self, user, name, &error);
  device = key != NULL ? _pinhole_client_find_device (self, user, name) : NULL;
  relay = pinhole_relay_path_new (self->ws, (guint32) channel);
  /* the device carries on the session we share (after a lost server connection), or has
   * lost it and starts anew */
  if (device != NULL && pinhole_stanza_get_flag (stanza, "resume") &&
      _pinhole_device_resume_on (device, relay))
    return;
  if (device == NULL || pinhole_stanza_get_flag (stanza, "resume") ||
      _pinhole_device_prefers_own_session (device))
    {
      if (error != NULL)
        g_debug ("refusing a session from %s/%s: %s", user, name, error->message);
      _pinhole_client_close_channel (self, (guint32) channel);
      if (g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND))
        _pinhole_client_refresh_roster_soon (self);
      return;
    }
  _pinhole_device_accept_relay (device, relay);
}

static void
relay_lost (gpointer device,
            gpointer user_data)
{
  gpointer *args = user_data;

  _pinhole_device_relay_lost (device, args[0], args[1]);
}

void
_pinhole_client_handle_relay_closed (PinholeClient *self,
                                     JsonObject    *stanza)
{
  gint64 channel;
  PinholeRelayPath *relay;
  g_autoptr(GError) error = NULL;
  gpointer args[2];

  if (!pinhole_stanza_require_int (stanza, "channel", 1, G_MAXUINT32, &channel, NULL))
    return;
  relay = pinhole_relay_channels_lookup (self->relays, (guint32) channel);
  if (relay == NULL)
    return;
  error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED, "relay channel %u closed",
                       (guint32) channel);
  g_object_ref (relay);
  pinhole_relay_channels_remove (self->relays, relay);
  _pinhole_relay_path_lost (relay, error);
  /* the session that had only this path is over, and its waiting messages go sealed */
  args[0] = relay;
  args[1] = error;
  _pinhole_client_foreach_device (self, relay_lost, args);
  g_object_unref (relay);
}

/* ---- sending ---- */

/* the devices of @user a message can go to now, each with a trusted key; %NULL with @error when
 * it cannot be sent: not a contact, no device, a key waiting for trust, no server */
static GPtrArray *
send_targets (PinholeClient *self,
              const char    *user,
              GError       **error)
{
  PinholeContact *contact = pinhole_client_lookup_contact (self, user);
  GListModel *devices;
  g_autoptr(GPtrArray) targets = g_ptr_array_new_with_free_func (g_object_unref);

  if (contact == NULL || pinhole_contact_get_relation (contact) != PINHOLE_RELATION_MUTUAL)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED, "%s is not your contact%s",
                   user,
                   contact && pinhole_contact_get_relation (contact) == PINHOLE_RELATION_REQUESTED
                   ? " yet: they have not accepted your request" : "");
      return NULL;
    }
  devices = pinhole_contact_get_devices (contact);
  if (g_list_model_get_n_items (devices) == 0)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND, "%s has no device to send to",
                   user);
      return NULL;
    }

  /* every device must be trusted before anything leaves; without the server, only the ones
   * with a session (on a direct path) can be reached */
  for (guint i = 0; i < g_list_model_get_n_items (devices); i++)
    {
      g_autoptr(PinholeDevice) d = g_list_model_get_item (devices, i);
      g_autoptr(GBytes) key = trusted_device_key (self, user, pinhole_device_get_name (d),
                                                  error);

      if (key == NULL)
        return NULL;
      if (pinhole_client_is_connected (self) || pinhole_device_is_connected (d))
        g_ptr_array_add (targets, g_steal_pointer (&d));
    }
  if (targets->len == 0)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                           "not connected to the server");
      return NULL;
    }
  return g_steal_pointer (&targets);
}

/* sends the copies of @op, recorded already, to @targets */
static void
send_copies (PinholeClient *self,
             SendOp        *op,
             GPtrArray     *targets)
{
  op->pending = targets->len;
  self->sends_in_flight++;
  for (guint i = 0; i < targets->len; i++)
    {
      PinholeDevice *d = g_ptr_array_index (targets, i);

      /* a session on a direct path outlives the device's presence on the server */
      if (pinhole_device_get_presence (d) == PINHOLE_PRESENCE_OFFLINE &&
          !pinhole_device_is_connected (d))
        store_sealed (self, op, d);
      else
        {
          g_autoptr(GBytes) payload = chat_payload (op, NULL);

          _pinhole_device_send (d, PINHOLE_SESSION_CHANNEL_CHAT, payload, copy_sent_cb,
                                copy_settled_cb, g_rc_box_acquire (op));
        }
    }
  send_op_unref (op);
}

void
_pinhole_client_send_text_async (PinholeClient       *self,
                                 const char          *user,
                                 const char          *text,
                                 char               **out_id,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GPtrArray) targets = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) record_error = NULL;
  PinholeMessageState state;
  gboolean held;
  SendOp *op;

  g_task_set_source_tag (task, pinhole_client_send_message_async);
  if (text == NULL || *text == '\0' || strlen (text) > PINHOLE_CHAT_MAX_TEXT ||
      !g_utf8_validate (text, -1, NULL))
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                               "a message is 1 to %d bytes of UTF-8 text",
                               PINHOLE_CHAT_MAX_TEXT);
      return;
    }
  targets = send_targets (self, user, &error);
  /* a changed key holds the message back (recorded, shown) until the user trusts the key */
  held = targets == NULL && g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_KEY_CHANGED);
  if (targets == NULL && !held)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  state = held ? PINHOLE_MESSAGE_STATE_HELD : PINHOLE_MESSAGE_STATE_QUEUED;

  op = send_op_new (user, g_uuid_string_random (), text, g_get_real_time () / G_USEC_PER_SEC);
  if (!pinhole_profile_add_message (self->profile, user, op->id, PINHOLE_MESSAGE_DIRECTION_OUT,
                                    text, op->timestamp, state, NULL, &record_error))
    {
      send_op_unref (op);
      g_task_return_error (task, g_steal_pointer (&record_error));
      return;
    }
  _pinhole_client_message_recorded (self, user, op->id, PINHOLE_MESSAGE_DIRECTION_OUT, text,
                                    op->timestamp, state);
  if (out_id != NULL)
    *out_id = g_strdup (op->id);
  if (held)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_KEY_CHANGED,
                               "%s; the message is held until then", error->message);
      send_op_unref (op);
      return;
    }
  op->task = g_steal_pointer (&task);
  send_copies (self, op, targets);
}

typedef struct
{
  PinholeClient *client;
  char          *user;
  char          *id;
} HeldSend;

static void
held_send_free (HeldSend *h)
{
  g_object_unref (h->client);
  g_free (h->user);
  g_free (h->id);
  g_free (h);
}

static void
held_sent_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  HeldSend *h = user_data;
  g_autoptr(GError) error = NULL;

  /* yet another changed key keeps it held; anything else (no server) makes it failed, so
   * that Retry can take it */
  if (!pinhole_client_send_message_finish (h->client, result, NULL, NULL, &error) &&
      !g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_KEY_CHANGED))
    {
      g_debug ("a held message to %s was not sent: %s", h->user, error->message);
      pinhole_profile_set_message_state (h->client->profile, h->user, h->id,
                                         PINHOLE_MESSAGE_DIRECTION_OUT,
                                         PINHOLE_MESSAGE_STATE_FAILED, NULL, NULL);
      _pinhole_client_message_state (h->client, h->user, h->id, PINHOLE_MESSAGE_STATE_FAILED,
                                     error->message);
    }
  held_send_free (h);
}

/**
 * _pinhole_client_send_held_trusted:
 * Sends what is held for contacts whose keys are all trusted now (trusted while this client
 * was not running, by `pinhole-cli trust`): the roster is loaded, so the keys are known.
 */
void
_pinhole_client_send_held_trusted (PinholeClient *self)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) peers = pinhole_profile_list_held_peers (self->profile, &error);

  if (peers == NULL)
    {
      g_warning ("could not read which messages are held: %s", error->message);
      return;
    }
  for (guint i = 0; peers[i] != NULL; i++)
    if (!pinhole_profile_has_untrusted_key (self->profile, peers[i]))
      _pinhole_client_send_held (self, peers[i]);
}

/**
 * _pinhole_client_send_held:
 * Sends the messages to @user that a changed key held back (in the profile, so also those of
 * an earlier run), oldest first, now that the user trusted the key.
 */
void
_pinhole_client_send_held (PinholeClient *self,
                           const char    *user)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) held = pinhole_profile_list_held (self->profile, user, &error);

  if (held == NULL)
    {
      g_warning ("could not read the messages held for %s: %s", user, error->message);
      return;
    }
  for (guint i = 0; i < held->len; i++)
    {
      PinholeHistoryEntry *e = g_ptr_array_index (held, i);
      g_autoptr(PinholeMessage) m = pinhole_message_new (e->id, e->direction, e->text,
                                                         e->timestamp, e->state);
      HeldSend *h = g_new0 (HeldSend, 1);

      h->client = g_object_ref (self);
      h->user = g_strdup (user);
      h->id = g_strdup (e->id);
      _pinhole_client_resend_async (self, user, m, NULL, held_sent_cb, h);
    }
}

/**
 * _pinhole_client_resend_async:
 * Sends the failed or held outgoing @message to @user again, with its id and timestamp, so that a
 * device that got it after all keeps one copy; its state goes back to queued, in the profile
 * too. Completes as pinhole_client_send_message_async() does.
 */
void
_pinhole_client_resend_async (PinholeClient       *self,
                              const char          *user,
                              PinholeMessage      *message,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GPtrArray) targets = NULL;
  g_autoptr(GError) error = NULL;
  SendOp *op;

  g_task_set_source_tag (task, _pinhole_client_resend_async);
  g_assert (pinhole_message_get_direction (message) == PINHOLE_MESSAGE_DIRECTION_OUT);
  targets = send_targets (self, user, &error);
  if (targets == NULL ||
      !pinhole_profile_set_message_state (self->profile, user, pinhole_message_get_id (message),
                                          PINHOLE_MESSAGE_DIRECTION_OUT,
                                          PINHOLE_MESSAGE_STATE_QUEUED, NULL, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  op = send_op_new (user, g_strdup (pinhole_message_get_id (message)),
                    pinhole_message_get_text (message), pinhole_message_get_timestamp (message));
  _pinhole_client_message_state (self, user, op->id, PINHOLE_MESSAGE_STATE_QUEUED, NULL);
  op->task = g_steal_pointer (&task);
  send_copies (self, op, targets);
}

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
  _pinhole_client_send_text_async (self, user, text, NULL, cancellable, callback, user_data);
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

/* keeps a sealed push for later, within the bound; one beyond it stays on the server */
static void
hold_offline (PinholeClient *self,
              JsonObject    *stanza)
{
  if (self->held_offline->len >= PINHOLE_CLIENT_MAX_HELD_OFFLINE)
    {
      g_debug ("%u sealed pushes held already: this one waits on the server",
               self->held_offline->len);
      return;
    }
  g_ptr_array_add (self->held_offline, json_object_ref (stanza));
}

/* ---- received messages acknowledged once on disk ---- */

/* what goes once the profile is synced: the offline-ack of a sealed message, or the receipt
 * frame of a live one (docs/architecture.md "Durability") */
typedef struct
{
  char          *message;
  PinholeDevice *device;   /* owned; NULL for a sealed message */
} SyncedAck;

void
_pinhole_client_synced_ack_free (gpointer data)
{
  SyncedAck *ack = data;

  g_free (ack->message);
  g_clear_object (&ack->device);
  g_free (ack);
}

/* one sync of the profile and the messages it makes safe to acknowledge: those that come
 * while it runs wait for the next one, so that a burst shares a few fsyncs (group commit) */
typedef struct
{
  PinholeClient *client;       /* borrowed: dispose cancels the sync */
  GCancellable  *cancellable;  /* owned */
  GPtrArray     *acks;         /* SyncedAck: owned */
} OfflineSync;

static void
offline_sync_free (OfflineSync *sync)
{
  g_object_unref (sync->cancellable);
  g_ptr_array_unref (sync->acks);
  g_free (sync);
}

static void
send_synced_ack (PinholeClient *self,
                 SyncedAck     *synced)
{
  if (synced->device == NULL)
    {
      g_autoptr(JsonObject) ack = pinhole_stanza_new ("offline-ack", "ack");

      json_object_set_string_member (ack, "message", synced->message);
      _pinhole_client_send_stanza (self, ack);
      g_debug ("offline-ack %s sent", synced->message);
    }
  else
    {
      g_autoptr(JsonObject) receipt = json_object_new ();

      json_object_set_string_member (receipt, "receipt", synced->message);
      _pinhole_device_send_best_effort (synced->device, PINHOLE_SESSION_CHANNEL_CHAT, receipt);
      g_debug ("receipt %s sent to %s", synced->message,
               pinhole_device_get_id (synced->device));
    }
}

static void offline_sync_start (PinholeClient *self);

static void
offline_sync_done_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  OfflineSync *sync = user_data;
  PinholeClient *self = sync->client;
  g_autoptr(GError) error = NULL;
  gboolean synced = pinhole_profile_sync_finish (PINHOLE_PROFILE (source), result, &error);

  if (g_cancellable_is_cancelled (sync->cancellable))
    {
      offline_sync_free (sync);
      return;
    }
  g_clear_object (&self->offline_sync);
  if (synced)
    {
      g_debug ("profile synced: %u received message(s) to acknowledge", sync->acks->len);
      for (guint i = 0; i < sync->acks->len; i++)
        send_synced_ack (self, g_ptr_array_index (sync->acks, i));
    }
  else
    /* not acknowledged: the server keeps a sealed message and pushes it again at the next
     * log-in, the sender of a live one seals it after LIVE_RECEIPT_WAIT_MS; neither is
     * recorded twice (UNIQUE (peer, id, direction)) */
    g_warning ("%u received message(s) not acknowledged: %s", sync->acks->len,
               error->message);
  offline_sync_free (sync);
  if (self->synced_acks->len > 0)
    offline_sync_start (self);
  g_assert (self->sends_in_flight > 0);
  if (--self->sends_in_flight == 0)
    _pinhole_client_sends_settled (self);
}

static void
offline_sync_start (PinholeClient *self)
{
  OfflineSync *sync = g_new0 (OfflineSync, 1);

  g_assert (self->offline_sync == NULL);
  sync->client = self;
  sync->cancellable = g_cancellable_new ();
  sync->acks = g_steal_pointer (&self->synced_acks);
  self->synced_acks = g_ptr_array_new_with_free_func (_pinhole_client_synced_ack_free);
  self->offline_sync = g_object_ref (sync->cancellable);
  /* a shutdown waits for the acknowledgements too */
  self->sends_in_flight++;
  pinhole_profile_sync_async (self->profile, sync->cancellable, offline_sync_done_cb, sync);
}

/* message @message is recorded: it is acknowledged (to the server when @device is NULL, else
 * to @device) once the profile holds it on disk */
static void
acknowledge_when_synced (PinholeClient *self,
                         const char    *message,
                         PinholeDevice *device)
{
  SyncedAck *ack = g_new0 (SyncedAck, 1);

  ack->message = g_strdup (message);
  ack->device = device ? g_object_ref (device) : NULL;
  g_ptr_array_add (self->synced_acks, ack);
  if (self->offline_sync == NULL)
    offline_sync_start (self);
}

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
  const char *id, *text, *to;
  gint64 ts = 0;
  gboolean added = FALSE;
  gsize len;
  const char *data;
  g_autoptr(GError) parse_error = NULL;

  if (message == NULL || from == NULL || from_device == NULL || sealed == NULL)
    {
      g_debug ("malformed offline-message push");
      return;
    }
  if (!self->roster_loaded)
    {
      hold_offline (self, stanza);
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
          hold_offline (self, stanza);
          _pinhole_client_refresh_roster_soon (self);
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
  o = pinhole_stanza_parse_object (data, len, &parse_error);
  if (o == NULL)
    {
      g_debug ("offline message %s is not a JSON object: %s", message, parse_error->message);
      goto drop;
    }
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
  if (!pinhole_profile_add_message (self->profile, from, id, PINHOLE_MESSAGE_DIRECTION_IN, text,
                                    ts, PINHOLE_MESSAGE_STATE_RECEIVED, &added, &error))
    {
      /* not acknowledged: the server keeps it and sends it again next time */
      g_warning ("cannot record a message: %s", error->message);
      return;
    }
  if (added)
    {
      _pinhole_client_message_recorded (self, from, id, PINHOLE_MESSAGE_DIRECTION_IN, text, ts,
                                        PINHOLE_MESSAGE_STATE_RECEIVED);
      g_signal_emit (self, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_MESSAGE_RECEIVED], 0,
                     from, id, text, ts);
    }

drop:
  /* acknowledged once recorded and on disk, or when it can never be read */
  acknowledge_when_synced (self, message, NULL);
}


static gboolean
receipt_acks_cb (gpointer user_data)
{
  PinholeClient *self = user_data;

  self->receipt_acks_timeout = 0;
  _pinhole_client_flush_receipt_acks (self);
  return G_SOURCE_REMOVE;
}

void
_pinhole_client_handle_delivered (PinholeClient *self,
                                  JsonObject    *stanza)
{
  const char *message = pinhole_stanza_require_string (stanza, "message", 64, NULL);
  const char *user = pinhole_stanza_require_string (stanza, "user", 32, NULL);
  const char *device = pinhole_stanza_require_string (stanza, "device", 64, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) ack = NULL;
  gboolean changed = FALSE;

  if (message == NULL || user == NULL || device == NULL)
    {
      g_debug ("malformed delivered push");
      return;
    }
  if (!pinhole_profile_set_message_state (self->profile, user, message,
                                          PINHOLE_MESSAGE_DIRECTION_OUT,
                                          PINHOLE_MESSAGE_STATE_DELIVERED, &changed, &error))
    {
      /* not acknowledged: the server keeps it and sends it again next time */
      g_warning ("cannot record a receipt: %s", error->message);
      return;
    }
  /* a receipt that comes again (its acknowledgement was lost), or from another device of
   * @user, changes nothing */
  if (changed)
    {
      _pinhole_client_message_state (self, user, message, PINHOLE_MESSAGE_STATE_DELIVERED, NULL);
      g_signal_emit (self, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_DELIVERED], 0, user,
                     message);
    }
  /* recorded, or about a message this profile does not have: the server may forget it. The
   * receipts of one log-in, hundreds perhaps, go back in a few stanzas, within the server's
   * request rate */
  ack = json_object_new ();
  json_object_set_string_member (ack, "message", message);
  json_object_set_string_member (ack, "user", user);
  json_object_set_string_member (ack, "device", device);
  g_ptr_array_add (self->receipt_acks, g_steal_pointer (&ack));
  if (self->receipt_acks->len >= PINHOLE_CLIENT_RECEIPTS_PER_ACK)
    _pinhole_client_flush_receipt_acks (self);
  else if (self->receipt_acks_timeout == 0)
    self->receipt_acks_timeout = g_timeout_add (RECEIPT_ACK_DELAY_MS, receipt_acks_cb, self);
}

/* sends the receipts recorded so far back as acknowledged (lost with the connection, they
 * come again at the next log-in) */
void
_pinhole_client_flush_receipt_acks (PinholeClient *self)
{
  g_clear_handle_id (&self->receipt_acks_timeout, g_source_remove);
  if (self->receipt_acks->len == 0)
    return;
  {
    g_autoptr(JsonObject) ack = pinhole_stanza_new ("delivered-ack", "ack");
    JsonArray *list = json_array_new ();

    for (guint i = 0; i < self->receipt_acks->len; i++)
      json_array_add_object_element (list,
                                     json_object_ref (g_ptr_array_index (self->receipt_acks, i)));
    json_object_set_array_member (ack, "receipts", list);
    _pinhole_client_send_stanza (self, ack);
  }
  g_ptr_array_set_size (self->receipt_acks, 0);
}

/* the roster is in: sealed messages that came before their sender's keys were known */
void
_pinhole_client_release_held (PinholeClient *self)
{
  g_autoptr(GPtrArray) held = g_steal_pointer (&self->held_offline);

  self->held_offline = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  for (guint i = 0; i < held->len; i++)
    _pinhole_client_handle_offline (self, g_ptr_array_index (held, i), TRUE);
}

/* whether frames may go to @device: a mutual contact's device whose key is trusted */
gboolean
_pinhole_client_device_trusted (PinholeClient *self,
                                PinholeDevice *device)
{
  g_autoptr(GBytes) key = trusted_device_key (self, device->user, device->name, NULL);

  return key != NULL;
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
  PinholeContact *contact = pinhole_client_lookup_contact (self, user);
  GListModel *devices;
  g_autoptr(PinholeDevice) online = NULL;
  g_autoptr(GBytes) key = NULL;
  g_autoptr(GError) error = NULL;

  g_task_set_source_tag (task, pinhole_client_open_session_async);
  if (contact == NULL || pinhole_contact_get_relation (contact) != PINHOLE_RELATION_MUTUAL)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED,
                               "%s is not your contact", user);
      return;
    }
  devices = pinhole_contact_get_devices (contact);
  for (guint i = 0; i < g_list_model_get_n_items (devices); i++)
    {
      g_autoptr(PinholeDevice) d = g_list_model_get_item (devices, i);

      if (pinhole_device_get_presence (d) != PINHOLE_PRESENCE_OFFLINE &&
          (online == NULL || pinhole_device_get_presence (d) == PINHOLE_PRESENCE_ONLINE))
        g_set_object (&online, d);
    }
  if (online == NULL)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH, "%s is offline",
                               user);
      return;
    }
  key = trusted_device_key (self, user, pinhole_device_get_name (online), &error);
  if (key == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  _pinhole_device_wait_session (online, g_steal_pointer (&task));
}

/* Returns: (transfer full): the established session */
PinholeSession *
pinhole_client_open_session_finish (PinholeClient *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
