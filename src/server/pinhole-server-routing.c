/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server-routing.c: what the server carries between mutual contacts without reading
 * it (docs/protocol.md §6–§7): sealed offline messages and their delivery receipts, relay
 * channels, and signalling payloads for direct-path set-up. */
#define G_LOG_DOMAIN "pinhole-server"

#include "pinhole-server-private.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"

#include <string.h>

#define OFFLINE_PUSH_BATCH 200
/* receipts one delivered-ack takes: 200 of about 200 bytes each (an id of 64, names of 32 and
 * 64) stay well within a stanza */
#define RECEIPTS_PER_ACK 200

/* the user/device a request targets: a mutual contact's device that exists */
static gboolean
require_contact_device (PinholeServerConnection *c,
                        JsonObject              *stanza,
                        const char             **out_user,
                        const char             **out_device,
                        GError                 **error)
{
  const char *user = pinhole_stanza_require_string (stanza, "user", 32, error);
  const char *device;

  if (user == NULL)
    return FALSE;
  device = pinhole_stanza_require_string (stanza, "device", 64, error);
  if (device == NULL)
    return FALSE;
  if (!_pinhole_server_are_mutual (c->server, c->user, user))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED, "%s is not your contact",
                   user);
      return FALSE;
    }
  if (!pinhole_store_get_device (c->server->store, user, device, NULL, NULL, error))
    return FALSE;
  *out_user = user;
  *out_device = device;
  return TRUE;
}

static JsonObject *
offline_stanza (const PinholeStoreOffline *m)
{
  JsonObject *push = pinhole_stanza_new ("offline-message", NULL);

  json_object_set_string_member (push, "message", m->id);
  json_object_set_string_member (push, "from", m->from_user);
  json_object_set_string_member (push, "from_device", m->from_device);
  json_object_set_int_member (push, "stored", m->timestamp / G_USEC_PER_SEC);
  pinhole_stanza_set_base64 (push, "sealed", m->sealed);
  return push;
}

/* sends a device what is sealed for it, OFFLINE_PUSH_BATCH at a time; each stays stored until
 * the device acknowledges it. After a full batch, the device's acknowledgements of all of it
 * bring the next one (handle_offline_ack), so that however many wait, all of them come. */
void
_pinhole_server_push_offline (PinholeServerConnection *c)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) messages = pinhole_store_list_offline (c->server->store, c->user,
                                                              c->device, OFFLINE_PUSH_BATCH,
                                                              &error);

  if (messages == NULL)
    {
      g_warning ("cannot read offline messages of %s/%s: %s", c->user, c->device,
                 error->message);
      return;
    }
  g_clear_pointer (&c->offline_batch, g_hash_table_unref);
  if (messages->len >= OFFLINE_PUSH_BATCH)
    c->offline_batch = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < messages->len; i++)
    {
      PinholeStoreOffline *m = g_ptr_array_index (messages, i);
      g_autoptr(JsonObject) push = offline_stanza (m);

      if (c->offline_batch != NULL)
        g_hash_table_add (c->offline_batch, g_strdup (m->id));
      _pinhole_server_send (c, push);
    }
}

/* the device acknowledged the sealed message @id: the last of a full batch brings the next */
static void
offline_acknowledged (PinholeServerConnection *c,
                      const char              *id)
{
  if (c->offline_batch == NULL || !g_hash_table_remove (c->offline_batch, id) ||
      g_hash_table_size (c->offline_batch) > 0)
    return;
  g_debug ("%s/%s took a full batch of sealed messages: pushing the next", c->user, c->device);
  _pinhole_server_push_offline (c);
}

void
_pinhole_server_handle_message (PinholeServerConnection *c,
                                JsonObject              *stanza,
                                const char              *id)
{
  g_autoptr(GError) error = NULL;
  PinholeServer *server = c->server;
  const char *user, *device, *message_id;
  g_autoptr(GBytes) sealed = NULL;
  PinholeStoreOffline m = { 0 };
  PinholeServerConnection *target;
  guint from_sender = 0;

  if (!require_contact_device (c, stanza, &user, &device, &error))
    goto fail;
  if ((message_id = pinhole_stanza_require_string (stanza, "message", 64, &error)) == NULL)
    goto fail;
  if (*message_id == '\0')
    {
      g_set_error_literal (&error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL, "\"message\" is empty");
      goto fail;
    }
  sealed = pinhole_stanza_require_base64 (stanza, "sealed", 1, server->limits.max_sealed_bytes,
                                          &error);
  if (sealed == NULL)
    goto fail;

  if (!pinhole_store_count_offline_from (server->store, user, device, c->user, &from_sender,
                                         &error))
    goto fail;
  if (from_sender >= server->limits.max_offline_per_sender)
    {
      g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "%u of your messages already wait for %s/%s", from_sender, user, device);
      goto fail;
    }
  m.id = (char *) message_id;
  m.from_user = c->user;
  m.from_device = c->device;
  m.sealed = sealed;
  m.timestamp = g_get_real_time ();
  if (!pinhole_store_queue_offline (server->store, user, device, &m,
                                    server->limits.max_offline_per_device, &error))
    {
      /* resending a stored message (e.g. after a lost reply) is a success */
      if (!g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_EXISTS))
        goto fail;
      g_clear_error (&error);
    }
  /* "stored" and the push to the recipient go once the message is on disk */
  _pinhole_server_commit_begin (c, id, PINHOLE_SERVER_COMMIT_NONE);
  _pinhole_server_send_result (c, id, NULL);

  target = _pinhole_server_find_device (server, user, device);
  if (target != NULL)
    {
      g_autoptr(JsonObject) push = offline_stanza (&m);
      _pinhole_server_send (target, push);
    }
  _pinhole_server_commit_end (server);
  return;

fail:
  _pinhole_server_send_gerror (c, id, error);
}

static JsonObject *
receipt_stanza (const char *message,
                const char *user,
                const char *device)
{
  JsonObject *push = pinhole_stanza_new ("delivered", NULL);

  json_object_set_string_member (push, "message", message);
  json_object_set_string_member (push, "user", user);
  json_object_set_string_member (push, "device", device);
  return push;
}

void
_pinhole_server_handle_offline_ack (PinholeServerConnection *c,
                                    JsonObject              *stanza,
                                    const char              *id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStoreOffline) m = NULL;
  const char *message_id = pinhole_stanza_require_string (stanza, "message", 64, &error);
  PinholeServerConnection *sender;

  if (message_id == NULL)
    goto fail;
  /* the receipt is kept with the take, until the sender's device acknowledges it too: it may
   * be offline now, or its connection may die before the push reaches it */
  m = pinhole_store_take_offline (c->server->store, c->user, c->device, message_id,
                                  c->server->limits.max_receipts_per_device, &error);
  if (m == NULL)
    goto fail;
  _pinhole_server_commit_begin (c, id, PINHOLE_SERVER_COMMIT_NONE);
  _pinhole_server_send_result (c, id, NULL);

  /* a receipt says that this device is online now: presence, which is for mutual contacts
   * only, and the sender may have been removed since the message was stored */
  sender = _pinhole_server_find_device (c->server, m->from_user, m->from_device);
  if (sender != NULL && _pinhole_server_are_mutual (c->server, c->user, m->from_user))
    {
      g_autoptr(JsonObject) push = receipt_stanza (m->id, c->user, c->device);
      _pinhole_server_send (sender, push);
    }
  offline_acknowledged (c, message_id);
  _pinhole_server_commit_end (c->server);
  return;

fail:
  _pinhole_server_send_gerror (c, id, error);
  /* gone already (taken, or expired): it no longer holds up the next batch */
  if (message_id != NULL)
    offline_acknowledged (c, message_id);
}

/* sends a device the receipts of the sealed messages it sent, to contacts that are still
 * mutual; each stays stored until the device acknowledges it */
void
_pinhole_server_push_receipts (PinholeServerConnection *c)
{
  PinholeServer *server = c->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) receipts = NULL;
  g_autoptr(GPtrArray) dropped = g_ptr_array_new ();

  receipts = pinhole_store_list_receipts (server->store, c->user, c->device,
                                          server->limits.max_receipts_per_device, &error);
  if (receipts == NULL)
    {
      g_warning ("cannot read receipts of %s/%s: %s", c->user, c->device, error->message);
      return;
    }
  for (guint i = 0; i < receipts->len; i++)
    {
      PinholeStoreReceipt *r = g_ptr_array_index (receipts, i);
      g_autoptr(JsonObject) push = NULL;

      /* no longer a contact: the receipt would tell when that device was online */
      if (!_pinhole_server_are_mutual (server, c->user, r->user))
        {
          g_ptr_array_add (dropped, r);
          continue;
        }
      push = receipt_stanza (r->id, r->user, r->device);
      _pinhole_server_send (c, push);
    }
  if (dropped->len > 0 &&
      !pinhole_store_remove_receipts (server->store, c->user, c->device, dropped, NULL, &error))
    g_debug ("cannot drop receipts for %s/%s: %s", c->user, c->device, error->message);
}

/* {"receipts": [{"message", "user", "device"}, …]}: one stanza for many, so that a device
 * that comes back to hundreds of receipts acknowledges them within its request rate, in
 * one transaction */
void
_pinhole_server_handle_delivered_ack (PinholeServerConnection *c,
                                      JsonObject              *stanza,
                                      const char              *id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) receipts =
    g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_store_receipt_free);
  g_autoptr(JsonObject) result = json_object_new ();
  JsonNode *node = json_object_get_member (stanza, "receipts");
  JsonArray *list = node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node)
                                                                  : NULL;
  guint removed = 0;

  if (list == NULL || json_array_get_length (list) == 0 ||
      json_array_get_length (list) > RECEIPTS_PER_ACK)
    {
      g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "\"receipts\" is not a list of 1 to %u receipts", RECEIPTS_PER_ACK);
      goto fail;
    }
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonNode *item = json_array_get_element (list, i);
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (item) ? json_node_get_object (item) : NULL;
      const char *message, *user, *device;
      PinholeStoreReceipt *r;

      if (o == NULL)
        {
          g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "receipt %u is not an object", i);
          goto fail;
        }
      if ((message = pinhole_stanza_require_string (o, "message", 64, &error)) == NULL ||
          (user = pinhole_stanza_require_string (o, "user", 32, &error)) == NULL ||
          (device = pinhole_stanza_require_string (o, "device", 64, &error)) == NULL)
        goto fail;
      r = g_new0 (PinholeStoreReceipt, 1);
      r->id = g_strdup (message);
      r->user = g_strdup (user);
      r->device = g_strdup (device);
      g_ptr_array_add (receipts, r);
    }
  /* only the device they wait for takes them; one already taken is no error */
  if (!pinhole_store_remove_receipts (c->server->store, c->user, c->device, receipts, &removed,
                                      &error))
    goto fail;
  json_object_set_int_member (result, "removed", removed);
  _pinhole_server_commit_begin (c, id, PINHOLE_SERVER_COMMIT_NONE);
  _pinhole_server_send_result (c, id, result);
  _pinhole_server_commit_end (c->server);
  return;

fail:
  _pinhole_server_send_gerror (c, id, error);
}

void
_pinhole_server_handle_relay_open (PinholeServerConnection *c,
                                   JsonObject              *stanza,
                                   const char              *id)
{
  g_autoptr(GError) error = NULL;
  PinholeServer *server = c->server;
  const char *user, *device;
  PinholeServerConnection *peer;
  PinholeServerChannel *ch;
  g_autoptr(JsonObject) result = json_object_new ();
  g_autoptr(JsonObject) push = pinhole_stanza_new ("relay-open", NULL);

  if (!require_contact_device (c, stanza, &user, &device, &error))
    goto fail;
  peer = _pinhole_server_find_device (server, user, device);
  if (peer == NULL || peer->closed)
    {
      g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH, "%s/%s is offline", user,
                   device);
      goto fail;
    }
  if (c->channels->len >= PINHOLE_SERVER_MAX_CHANNELS)
    {
      g_set_error_literal (&error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                           "too many relay channels open on this connection");
      goto fail;
    }
  /* the cap holds for the end that is asked too, however many open channels to it */
  if (peer->channels->len >= PINHOLE_SERVER_MAX_CHANNELS)
    {
      g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "%s/%s has too many relay channels open", user, device);
      goto fail;
    }

  do
    server->next_channel = server->next_channel == G_MAXUINT32 ? 1 : server->next_channel + 1;
  while (g_hash_table_contains (server->channels, GUINT_TO_POINTER (server->next_channel)));
  ch = g_new0 (PinholeServerChannel, 1);
  ch->id = server->next_channel;
  ch->ends[0] = c;
  ch->ends[1] = peer;
  g_hash_table_insert (server->channels, GUINT_TO_POINTER (ch->id), ch);
  g_array_append_val (c->channels, ch->id);
  g_array_append_val (peer->channels, ch->id);

  json_object_set_int_member (push, "channel", ch->id);
  json_object_set_string_member (push, "user", c->user);
  json_object_set_string_member (push, "device", c->device);
  /* the opener holds a session with that device and wants it carried on (protocol.md §7) */
  if (pinhole_stanza_get_flag (stanza, "resume"))
    json_object_set_boolean_member (push, "resume", TRUE);
  _pinhole_server_send (peer, push);

  json_object_set_int_member (result, "channel", ch->id);
  _pinhole_server_send_result (c, id, result);
  return;

fail:
  _pinhole_server_send_gerror (c, id, error);
}

void
_pinhole_server_handle_relay_close (PinholeServerConnection *c,
                                    JsonObject              *stanza,
                                    const char              *id)
{
  g_autoptr(GError) error = NULL;
  gint64 channel;

  if (!pinhole_stanza_require_int (stanza, "channel", 1, G_MAXUINT32, &channel, &error))
    goto fail;
  for (guint i = 0; i < c->channels->len; i++)
    if (g_array_index (c->channels, guint32, i) == (guint32) channel)
      {
        _pinhole_server_close_channel (c->server, (guint32) channel, c);
        _pinhole_server_send_result (c, id, NULL);
        return;
      }
  g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND,
               "relay channel %" G_GINT64_FORMAT " is not open here", channel);

fail:
  _pinhole_server_send_gerror (c, id, error);
}

void
_pinhole_server_handle_signal (PinholeServerConnection *c,
                               JsonObject              *stanza,
                               const char              *id)
{
  g_autoptr(GError) error = NULL;
  const char *user, *device;
  JsonNode *payload;
  PinholeServerConnection *peer;
  g_autoptr(JsonObject) push = pinhole_stanza_new ("signal", NULL);

  if (!require_contact_device (c, stanza, &user, &device, &error))
    goto fail;
  payload = json_object_get_member (stanza, "payload");
  if (payload == NULL || !JSON_NODE_HOLDS_OBJECT (payload))
    {
      g_set_error_literal (&error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "\"payload\" is not an object");
      goto fail;
    }
  peer = _pinhole_server_find_device (c->server, user, device);
  if (peer == NULL)
    {
      g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH, "%s/%s is offline", user,
                   device);
      goto fail;
    }
  json_object_set_string_member (push, "from", c->user);
  json_object_set_string_member (push, "from_device", c->device);
  json_object_set_member (push, "payload", json_node_copy (payload));
  _pinhole_server_send (peer, push);
  _pinhole_server_send_result (c, id, NULL);
  return;

fail:
  _pinhole_server_send_gerror (c, id, error);
}
