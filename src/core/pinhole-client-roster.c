/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client-roster.c: the roster as the model: one PinholeContact per contact user, in
 * `contacts` (sorted by user) or, while they wait for an answer, `pending-requests`; one
 * PinholeDevice per device the server lists, kept (with its session) across roster refreshes.
 * Presence pushes update the devices; contact requests and answers refresh the roster. */
#define G_LOG_DOMAIN "pinhole-client"

#include "pinhole-client-private.h"
#include "pinhole-contact-private.h"
#include "pinhole-device-private.h"
#include "pinhole-enum-strings.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"

#include <string.h>

static int
compare_contacts (gconstpointer a,
                  gconstpointer b,
                  gpointer      user_data)
{
  return strcmp (pinhole_contact_get_user ((PinholeContact *) a),
                 pinhole_contact_get_user ((PinholeContact *) b));
}

static GListStore *
store_for (PinholeClient   *self,
           PinholeRelation  relation)
{
  return relation == PINHOLE_RELATION_INCOMING ? self->requests : self->contacts;
}

static void
store_remove (GListStore     *store,
              PinholeContact *contact)
{
  guint position;

  if (g_list_store_find (store, contact, &position))
    g_list_store_remove (store, position);
}

static void
forget_contact (PinholeClient  *self,
                PinholeContact *contact)
{
  g_autoptr(PinholeContact) hold G_GNUC_UNUSED = g_object_ref (contact);
  g_autoptr(GPtrArray) none = g_ptr_array_new ();

  _pinhole_contact_set_devices (contact, none);
  g_hash_table_remove (self->by_user, pinhole_contact_get_user (contact));
  store_remove (self->contacts, contact);
  store_remove (self->requests, contact);
}

static PinholePresence
presence_from_show (const char *show)
{
  int value = PINHOLE_PRESENCE_OFFLINE;

  if (show != NULL && pinhole_enum_from_nick (PINHOLE_TYPE_PRESENCE, show, &value))
    return value;
  return PINHOLE_PRESENCE_OFFLINE;
}

/* the devices of one roster item, the ones already known kept as they are */
static GPtrArray *
devices_from_item (PinholeClient  *self,
                   PinholeContact *contact,
                   JsonObject     *item)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_object_unref);
  JsonNode *devices = json_object_get_member (item, "devices");
  JsonArray *array;

  if (devices == NULL || !JSON_NODE_HOLDS_ARRAY (devices))
    return out;
  array = json_node_get_array (devices);
  for (guint j = 0; j < json_array_get_length (array); j++)
    {
      JsonNode *dn = json_array_get_element (array, j);
      JsonObject *d;
      const char *name, *show;
      g_autoptr(GBytes) key = NULL;
      PinholeDevice *device;

      if (!JSON_NODE_HOLDS_OBJECT (dn))
        continue;
      d = json_node_get_object (dn);
      name = pinhole_stanza_require_string (d, "device", 64, NULL);
      show = pinhole_stanza_optional_string (d, "show", 16, NULL);
      key = pinhole_stanza_require_base64 (d, "key", 32, 32, NULL);
      if (name == NULL || key == NULL || !pinhole_device_name_is_valid (name))
        continue;
      device = pinhole_contact_lookup_device (contact, name);
      if (device != NULL)
        {
          g_object_ref (device);
          _pinhole_device_set_key (device, key);
        }
      else
        {
          device = _pinhole_device_new (self, pinhole_contact_get_user (contact), name, key);
          g_signal_connect (device, "frame-received", G_CALLBACK (_pinhole_client_chat_frame),
                            self);
        }
      _pinhole_device_set_presence (device, presence_from_show (show));
      g_ptr_array_add (out, device);
    }
  return out;
}

static void
roster_from_result (PinholeClient *self,
                    JsonObject    *result)
{
  JsonNode *node = json_object_get_member (result, "contacts");
  JsonArray *items;
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  g_autoptr(GPtrArray) gone = g_ptr_array_new ();
  GHashTableIter iter;
  PinholeContact *contact;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return;
  items = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (items); i++)
    {
      JsonNode *item_node = json_array_get_element (items, i);
      JsonObject *item;
      const char *user, *relation_name;
      int relation;
      g_autoptr(GPtrArray) devices = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (item_node))
        continue;
      item = json_node_get_object (item_node);
      user = pinhole_stanza_require_string (item, "user", 32, NULL);
      relation_name = pinhole_stanza_require_string (item, "relation", 16, NULL);
      if (user == NULL || !pinhole_user_name_is_valid (user) ||
          !pinhole_enum_from_nick (PINHOLE_TYPE_RELATION, relation_name, &relation) ||
          relation == PINHOLE_RELATION_NONE)
        continue;
      contact = g_hash_table_lookup (self->by_user, user);
      if (contact == NULL)
        {
          contact = _pinhole_contact_new (user, relation);
          g_hash_table_insert (self->by_user, g_strdup (user), contact);
          g_list_store_insert_sorted (store_for (self, relation), contact, compare_contacts,
                                      NULL);
          g_object_unref (contact);   /* the store holds it */
        }
      else if (pinhole_contact_get_relation (contact) != (PinholeRelation) relation)
        {
          g_autoptr(PinholeContact) hold G_GNUC_UNUSED = g_object_ref (contact);

          store_remove (store_for (self, pinhole_contact_get_relation (contact)), contact);
          _pinhole_contact_set_relation (contact, relation);
          g_list_store_insert_sorted (store_for (self, relation), contact, compare_contacts,
                                      NULL);
        }
      g_hash_table_add (seen, contact);
      devices = devices_from_item (self, contact, item);
      _pinhole_contact_set_devices (contact, devices);
    }
  g_hash_table_iter_init (&iter, self->by_user);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &contact))
    if (!g_hash_table_contains (seen, contact))
      g_ptr_array_add (gone, contact);
  for (guint i = 0; i < gone->len; i++)
    forget_contact (self, g_ptr_array_index (gone, i));
}

/* the roster as the profile keeps it between runs: users, relations, device names and keys,
 * without presence (nobody is known to be online before the server says so) */
static void
strip_presence (JsonArray *devices,
                guint      index,
                JsonNode  *device,
                gpointer   user_data)
{
  if (JSON_NODE_HOLDS_OBJECT (device))
    json_object_remove_member (json_node_get_object (device), "show");
}

static void
strip_item_presence (JsonArray *items,
                     guint      index,
                     JsonNode  *item,
                     gpointer   user_data)
{
  JsonNode *devices;

  if (!JSON_NODE_HOLDS_OBJECT (item))
    return;
  devices = json_object_get_member (json_node_get_object (item), "devices");
  if (devices != NULL && JSON_NODE_HOLDS_ARRAY (devices))
    json_array_foreach_element (json_node_get_array (devices), strip_presence, NULL);
}

/* the roster as the profile keeps it between runs: the server's answer without presence
 * (nobody is known to be online before the server says so); roster_from_result() reads it
 * back with the same checks as the server's. It takes the presence out of @result itself,
 * which is why it runs after the model has read it. */
static char *
roster_to_cache (JsonObject *result)
{
  JsonNode *contacts = json_object_get_member (result, "contacts");
  g_autoptr(JsonObject) cache = NULL;
  g_autoptr(JsonNode) root = NULL;

  if (contacts == NULL || !JSON_NODE_HOLDS_ARRAY (contacts))
    return NULL;
  json_array_foreach_element (json_node_get_array (contacts), strip_item_presence, NULL);
  cache = json_object_new ();
  /* a new node on the same array */
  json_object_set_member (cache, "contacts", json_node_copy (contacts));
  root = json_node_init_object (json_node_alloc (), cache);
  return json_to_string (root, FALSE);
}

/**
 * _pinhole_client_load_cached_roster:
 * Fills the model from the roster the profile kept at the last log-in, every device offline,
 * so that a window shows the contacts and their history before the server answers, or when
 * it cannot be reached. The first roster from the server replaces it.
 */
void
_pinhole_client_load_cached_roster (PinholeClient *self)
{
  g_autofree char *cached = pinhole_profile_dup_setting (self->profile, "roster");
  g_autoptr(JsonParser) parser = NULL;
  JsonNode *root;

  if (cached == NULL)
    return;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, cached, -1, NULL))
    return;
  root = json_parser_get_root (parser);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    roster_from_result (self, json_node_get_object (root));
}

static void
resume_relay (gpointer device,
              gpointer user_data)
{
  _pinhole_device_resume_relay (device);
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
  {
    g_autofree char *cache = roster_to_cache (roster);
    g_autofree char *old = pinhole_profile_dup_setting (self->profile, "roster");

    /* a write only when it changed: SQLite writes are synchronous */
    if (cache != NULL && g_strcmp0 (cache, old) != 0)
      pinhole_profile_set_setting (self->profile, "roster", cache, NULL);
  }
  self->roster_loaded = TRUE;
  _pinhole_client_release_held (self);
  _pinhole_client_send_held_trusted (self);
  /* sessions that outlived a lost server connection get their relay back */
  _pinhole_client_foreach_device (self, resume_relay, NULL);
  g_task_return_boolean (task, TRUE);
}

void
_pinhole_client_refresh_roster_async (PinholeClient       *self,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(JsonObject) stanza = pinhole_stanza_new ("roster", NULL);
  GTask *task = g_task_new (self, NULL, callback, user_data);

  pinhole_client_request_async (self, stanza, NULL, refresh_roster_cb, task);
}

gboolean
_pinhole_client_refresh_roster_finish (PinholeClient *self,
                                       GAsyncResult  *result,
                                       GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
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

static void
refresh_soon_done_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  PinholeClient *self = PINHOLE_CLIENT (source);

  refresh_done_cb (source, result, user_data);
  self->roster_refreshing = FALSE;
  if (self->roster_again)
    {
      self->roster_again = FALSE;
      _pinhole_client_refresh_roster_soon (self);
    }
}

/* fetches the roster again in the background, at once (after a contact change: what the user
 * did shows without delay) */
void
_pinhole_client_refresh_roster (PinholeClient *self)
{
  _pinhole_client_refresh_roster_async (self, refresh_done_cb, NULL);
}

/* the same for what a peer or the server can repeat at will (a presence or a session from a
 * device we have no key for): asked again while one is in flight, it makes one more after it,
 * however many asked */
void
_pinhole_client_refresh_roster_soon (PinholeClient *self)
{
  if (self->roster_refreshing)
    {
      self->roster_again = TRUE;
      return;
    }
  self->roster_refreshing = TRUE;
  _pinhole_client_refresh_roster_async (self, refresh_soon_done_cb, NULL);
}

/* ---- pushes ---- */

void
_pinhole_client_handle_presence (PinholeClient *self,
                                 JsonObject    *stanza)
{
  const char *user = pinhole_stanza_require_string (stanza, "user", 32, NULL);
  const char *device = pinhole_stanza_require_string (stanza, "device", 64, NULL);
  const char *show = pinhole_stanza_require_string (stanza, "show", 16, NULL);
  PinholeDevice *d;

  if (user == NULL || device == NULL || show == NULL)
    return;
  /* the server sends presence of mutual contacts only; right after log-in it comes before
   * the roster, which then carries the same state */
  d = _pinhole_client_find_device (self, user, device);
  if (d != NULL)
    _pinhole_device_set_presence (d, presence_from_show (show));
  else if (self->roster_loaded)
    _pinhole_client_refresh_roster_soon (self);   /* a device we have no key for yet */
  g_signal_emit (self, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_PRESENCE_CHANGED], 0,
                 user, device, show);
}

void
_pinhole_client_handle_contact (PinholeClient *self,
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

void
_pinhole_client_handle_contact_request (PinholeClient *self,
                                        JsonObject    *stanza)
{
  const char *from = pinhole_stanza_require_string (stanza, "from", 32, NULL);

  if (from == NULL)
    return;
  /* the request shows in pending-requests with the roster */
  _pinhole_client_refresh_roster (self);
  g_signal_emit (self, _pinhole_client_signals[PINHOLE_CLIENT_SIGNAL_CONTACT_REQUEST], 0, from);
}

/* ---- lookups ---- */

/* Returns: (transfer none) (nullable) */
PinholeDevice *
_pinhole_client_find_device (PinholeClient *self,
                             const char    *user,
                             const char    *device)
{
  PinholeContact *contact = g_hash_table_lookup (self->by_user, user);

  return contact != NULL ? pinhole_contact_lookup_device (contact, device) : NULL;
}

/* calls @func (device, @user_data) for every device of every contact */
void
_pinhole_client_foreach_device (PinholeClient *self,
                                GFunc          func,
                                gpointer       user_data)
{
  g_autoptr(GPtrArray) devices = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  PinholeContact *contact;

  /* collected first: @func may end a session, which may change the roster */
  g_hash_table_iter_init (&iter, self->by_user);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &contact))
    {
      GListModel *model = pinhole_contact_get_devices (contact);

      for (guint i = 0; i < g_list_model_get_n_items (model); i++)
        g_ptr_array_add (devices, g_list_model_get_item (model, i));
    }
  g_ptr_array_foreach (devices, func, user_data);
}

static void
relay_gone (gpointer device,
            gpointer error)
{
  _pinhole_device_server_lost (device, error);
}

/* the server connection is gone, and every relay path with it: established sessions carry on
 * (on their direct paths), the others end */
void
_pinhole_client_end_sessions (PinholeClient *self,
                              const GError  *error)
{
  pinhole_relay_channels_lose_all (self->relays, error);
  _pinhole_client_foreach_device (self, relay_gone, (gpointer) error);
}


/* the client closes: contacts and devices let go of it */
void
_pinhole_client_forget_roster (PinholeClient *self)
{
  g_autoptr(GPtrArray) all = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer contact;

  g_hash_table_iter_init (&iter, self->by_user);
  while (g_hash_table_iter_next (&iter, NULL, &contact))
    g_ptr_array_add (all, contact);
  for (guint i = 0; i < all->len; i++)
    forget_contact (self, g_ptr_array_index (all, i));
}

/**
 * pinhole_client_get_contacts:
 * Returns: (transfer none): a GListModel of PinholeContact, sorted by user: every contact but
 *   the ones who asked and wait for an answer (pinhole_client_get_pending_requests())
 */
GListModel *
pinhole_client_get_contacts (PinholeClient *self)
{
  return G_LIST_MODEL (self->contacts);
}

/* Returns: (transfer none): a GListModel of PinholeContact whose relation is incoming */
GListModel *
pinhole_client_get_pending_requests (PinholeClient *self)
{
  return G_LIST_MODEL (self->requests);
}

/* Returns: (transfer none) (nullable): the contact @user, in either list */
PinholeContact *
pinhole_client_lookup_contact (PinholeClient *self,
                               const char    *user)
{
  return g_hash_table_lookup (self->by_user, user);
}

/* ---- requests ---- */

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
 * @verb: "subscribe" (add), "accept", "decline", "remove", "block" or "unblock"
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

/* Returns: (transfer full): the relation now: "mutual", "requested", "blocked" or "none" */
char *
pinhole_client_contact_finish (PinholeClient *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
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

static void
refresh_key_state (gpointer device,
                   gpointer user_data)
{
  _pinhole_device_refresh_key_state (device);
}

/**
 * pinhole_client_trust:
 * Trusts the device keys of @user that are held back (after comparing fingerprints), and the
 * changed keys the roster shows for @user's devices, whether or not anything was sent to them
 * yet; the devices' key-state follows, and a device whose key this replaces is no longer
 * verified.
 */
gboolean
pinhole_client_trust (PinholeClient *self,
                      const char    *user,
                      GError       **error)
{
  PinholeContact *contact = pinhole_client_lookup_contact (self, user);
  GListModel *devices = contact != NULL ? pinhole_contact_get_devices (contact) : NULL;

  /* a key the model shows as changed is held back by recording it as pending */
  for (guint i = 0; devices != NULL && i < g_list_model_get_n_items (devices); i++)
    {
      g_autoptr(PinholeDevice) d = g_list_model_get_item (devices, i);
      g_autoptr(GError) local = NULL;

      if (pinhole_device_get_key_state (d) != PINHOLE_KEY_STATE_CHANGED)
        continue;
      pinhole_profile_check_key (self->profile, user, pinhole_device_get_name (d),
                                 pinhole_device_get_key (d), &local);
      if (local != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
    }
  if (!pinhole_profile_trust_keys (self->profile, user, error))
    return FALSE;
  _pinhole_client_foreach_device (self, refresh_key_state, NULL);
  _pinhole_client_send_held (self, user);
  return TRUE;
}

/**
 * pinhole_client_set_verified:
 * Marks the key @device of @user has now as verified (the user compared its safety number,
 * pinhole_device_dup_safety_number(), with the one the device shows) or not; the device's and
 * the contact's `verified` follow. A changed or further device key that waits for trust is
 * refused with PINHOLE_ERROR_KEY_CHANGED: pinhole_client_trust() it first. The mark is kept
 * in the profile and belongs to the key: when another key is trusted for the device, the
 * device is no longer verified.
 */
gboolean
pinhole_client_set_verified (PinholeClient *self,
                             const char    *user,
                             const char    *device,
                             gboolean       verified,
                             GError       **error)
{
  PinholeDevice *d;

  g_return_val_if_fail (PINHOLE_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (user != NULL && device != NULL, FALSE);
  d = _pinhole_client_find_device (self, user, device);
  if (d == NULL)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND, "unknown device %s of %s",
                   device, user);
      return FALSE;
    }
  if (!pinhole_profile_set_verified (self->profile, user, device, pinhole_device_get_key (d),
                                     verified, error))
    return FALSE;
  /* a first key recorded here changes the key state of the contact's other devices too */
  _pinhole_client_foreach_device (self, refresh_key_state, NULL);
  return TRUE;
}

/**
 * pinhole_client_dup_safety_number:
 * Returns: (transfer full): this device's safety number, as its contacts' clients show it
 *   (pinhole_device_dup_safety_number())
 */
char *
pinhole_client_dup_safety_number (PinholeClient *self)
{
  g_autoptr(GBytes) key = NULL;

  g_return_val_if_fail (PINHOLE_IS_CLIENT (self), NULL);
  key = pinhole_identity_dup_public_key (pinhole_profile_get_identity (self->profile));
  return pinhole_fingerprint_for_key (key);
}
