/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-instance.c: a client's model on the session bus: its own connection, the profile's
 * bus name, and one object per contact whose properties follow the contact's notify (enums
 * as their nicks), so that PropertiesChanged follows the model. The methods are in
 * pinhole-instance-calls.c. */
#define G_LOG_DOMAIN "pinhole-instance"

#include "pinhole-instance-private.h"
#include "pinhole-enum-strings.h"
#include "pinhole-error.h"
#include "pinhole-instance-bus.h"

/* RequestName's flag and answer (D-Bus specification, "org.freedesktop.DBus.RequestName") */
#define NAME_FLAG_DO_NOT_QUEUE    4
#define NAME_REPLY_PRIMARY_OWNER  1

G_DEFINE_FINAL_TYPE (PinholeInstance, pinhole_instance, G_TYPE_OBJECT)

/* ---- contact objects ---- */

static gboolean
enum_to_nick_cb (GBinding     *binding,
                 const GValue *from,
                 GValue       *to,
                 gpointer      user_data)
{
  g_value_set_string (to, pinhole_enum_to_nick (G_VALUE_TYPE (from), g_value_get_enum (from)));
  return TRUE;
}

/* D-Bus strings cannot be NULL: none is "" */
static gboolean
string_cb (GBinding     *binding,
           const GValue *from,
           GValue       *to,
           gpointer      user_data)
{
  const char *s = g_value_get_string (from);

  g_value_set_string (to, s ? s : "");
  return TRUE;
}

static gboolean
device_id_cb (GBinding     *binding,
              const GValue *from,
              GValue       *to,
              gpointer      user_data)
{
  PinholeDevice *device = g_value_get_object (from);

  g_value_set_string (to, device ? pinhole_device_get_id (device) : "");
  return TRUE;
}

static void
bind (PinholeInstanceContact *e,
      const char             *property,
      GBindingTransformFunc   transform)
{
  g_ptr_array_add (e->bindings,
                   g_object_bind_property_full (e->contact, property, e->skeleton, property,
                                                G_BINDING_SYNC_CREATE, transform, NULL, NULL,
                                                NULL));
}

static void
devices_changed_cb (GListModel             *devices,
                    guint                   position,
                    guint                   removed,
                    guint                   added,
                    PinholeInstanceContact *e)
{
  guint n = g_list_model_get_n_items (devices);
  g_autoptr(GStrvBuilder) ids = g_strv_builder_new ();
  g_auto(GStrv) strv = NULL;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(PinholeDevice) device = g_list_model_get_item (devices, i);

      g_strv_builder_add (ids, pinhole_device_get_id (device));
    }
  strv = g_strv_builder_end (ids);
  pinhole_dbus_contact_set_devices (e->skeleton, (const char *const *) strv);
}

static void
contact_free (PinholeInstanceContact *e)
{
  PinholeInstance *self = e->instance;
  const char *path = g_dbus_object_get_object_path (G_DBUS_OBJECT (e->object));

  g_dbus_object_manager_server_unexport (self->manager, path);
  for (guint i = 0; i < e->bindings->len; i++)
    g_binding_unbind (g_ptr_array_index (e->bindings, i));
  g_ptr_array_unref (e->bindings);
  g_clear_signal_handler (&e->devices_changed_id, e->devices);
  /* a call the skeleton has yet to dispatch finds no handler, not a freed record */
  g_signal_handlers_disconnect_by_data (e->skeleton, e);
  g_clear_object (&e->devices);
  g_clear_object (&e->skeleton);
  g_clear_object (&e->object);
  g_clear_object (&e->contact);
  g_free (e->user);
  g_free (e);
}

static void
export_contact (PinholeInstance *self,
                PinholeContact  *contact)
{
  const char *user = pinhole_contact_get_user (contact);
  g_autofree char *path = NULL;
  PinholeInstanceContact *e;

  /* a name the server sent us: an empty one has no object path */
  if (user == NULL || *user == '\0')
    {
      g_debug ("a contact without a user name is not exported");
      return;
    }
  path = pinhole_instance_dup_contact_path (user);
  e = g_new0 (PinholeInstanceContact, 1);
  e->instance = self;
  e->user = g_strdup (user);
  e->contact = g_object_ref (contact);
  e->object = pinhole_dbus_object_skeleton_new (path);
  e->skeleton = pinhole_dbus_contact_skeleton_new ();
  e->bindings = g_ptr_array_new ();
  e->devices = g_object_ref (pinhole_contact_get_devices (contact));

  bind (e, "user", string_cb);
  bind (e, "relation", enum_to_nick_cb);
  bind (e, "presence", enum_to_nick_cb);
  bind (e, "current-device", device_id_cb);
  bind (e, "path-kind", enum_to_nick_cb);
  bind (e, "rtt-ms", NULL);
  bind (e, "remote", string_cb);
  bind (e, "relay-reason", enum_to_nick_cb);
  bind (e, "relay-reason-text", string_cb);
  bind (e, "key-state", enum_to_nick_cb);
  bind (e, "verified", NULL);
  e->devices_changed_id = g_signal_connect (e->devices, "items-changed",
                                            G_CALLBACK (devices_changed_cb), e);
  devices_changed_cb (e->devices, 0, 0, 0, e);

  _pinhole_instance_connect_contact_calls (self, e);
  pinhole_dbus_object_skeleton_set_contact (e->object, e->skeleton);
  g_dbus_object_manager_server_export (self->manager, G_DBUS_OBJECT_SKELETON (e->object));
  g_hash_table_replace (self->exported, e->user, e);
}

static void
collect (GListModel *model,
         GHashTable *current)
{
  guint n = g_list_model_get_n_items (model);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(PinholeContact) contact = g_list_model_get_item (model, i);
      const char *user = pinhole_contact_get_user (contact);

      if (user != NULL)
        g_hash_table_replace (current, (gpointer) user, g_steal_pointer (&contact));
    }
}

/* the exported objects are the contacts and the pending requests: a contact that moves from
 * one list to the other keeps its object, one that is gone loses it */
static void
sync_contacts (PinholeInstance *self)
{
  g_autoptr(GHashTable) current = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                         g_object_unref);
  GHashTableIter iter;
  PinholeInstanceContact *e;
  PinholeContact *contact;

  collect (pinhole_client_get_contacts (self->client), current);
  collect (pinhole_client_get_pending_requests (self->client), current);
  g_hash_table_iter_init (&iter, self->exported);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &e))
    if (g_hash_table_lookup (current, e->user) != e->contact)
      g_hash_table_iter_remove (&iter);
  g_hash_table_iter_init (&iter, current);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &contact))
    if (!g_hash_table_contains (self->exported, pinhole_contact_get_user (contact)))
      export_contact (self, contact);
}

static void
roster_changed_cb (GListModel      *model,
                   guint            position,
                   guint            removed,
                   guint            added,
                   PinholeInstance *self)
{
  sync_contacts (self);
}

/* ---- start: connection, objects, name ---- */

static void
request_name_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PinholeInstance *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source),
                                                             result, &error);
  guint32 answer = 0;

  if (reply == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_variant_get (reply, "(u)", &answer);
  /* the profile lock keeps a second instance from getting here: whoever has the name is not
   * a Pinhole of this profile, and we do not wait in its queue */
  if (answer != NAME_REPLY_PRIMARY_OWNER)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_BUSY,
                               "the bus name %s is taken (answer %u)", self->bus_name, answer);
      return;
    }
  g_debug ("exported as %s", self->bus_name);
  g_task_return_boolean (task, TRUE);
}

static void
connection_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PinholeInstance *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  const char *user = pinhole_client_get_user (self->client);
  const char *device = pinhole_client_get_device (self->client);
  GCancellable *cancellable;

  self->connection = g_dbus_connection_new_for_address_finish (result, &error);
  if (self->connection == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  pinhole_dbus_instance_set_user (self->skeleton, user ? user : "");
  pinhole_dbus_instance_set_device (self->skeleton, device ? device : "");
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->skeleton),
                                         self->connection, PINHOLE_INSTANCE_OBJECT_PATH,
                                         &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_dbus_object_manager_server_set_connection (self->manager, self->connection);
  /* the objects are there before the name: whoever finds the name finds the contacts */
  cancellable = g_task_get_cancellable (task);
  g_dbus_connection_call (self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "RequestName",
                          g_variant_new ("(su)", self->bus_name, NAME_FLAG_DO_NOT_QUEUE),
                          G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, cancellable,
                          request_name_cb, g_steal_pointer (&task));
}

/**
 * pinhole_instance_start_async:
 * @address: (nullable): the bus address, or %NULL for pinhole_instance_get_bus_address()
 * Connects to the bus, exports the instance and the contacts, and takes the profile's bus
 * name. Fails with %G_IO_ERROR_NOT_FOUND when there is no session bus.
 */
void
pinhole_instance_start_async (PinholeInstance     *self,
                              const char          *address,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (PINHOLE_IS_INSTANCE (self));
  g_return_if_fail (self->connection == NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pinhole_instance_start_async);
  if (address == NULL)
    address = pinhole_instance_get_bus_address ();
  if (address == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                               "no session bus: DBUS_SESSION_BUS_ADDRESS is not set");
      return;
    }
  sync_contacts (self);
  g_dbus_connection_new_for_address (address,
                                     G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                     G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                     NULL, cancellable, connection_cb, g_steal_pointer (&task));
}

gboolean
pinhole_instance_start_finish (PinholeInstance *self,
                               GAsyncResult    *result,
                               GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- stop ---- */

static void
close_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_dbus_connection_close_finish (G_DBUS_CONNECTION (source), result, &error))
    g_debug ("closing the bus connection: %s", error->message);
  g_task_return_boolean (task, TRUE);
}

static void
unexport_all (PinholeInstance *self)
{
  /* nobody watches a path of an instance that is going */
  g_hash_table_remove_all (self->watches);
  g_hash_table_remove_all (self->exported);
  g_dbus_object_manager_server_set_connection (self->manager, NULL);
  if (self->connection != NULL)
    g_dbus_interface_skeleton_unexport_from_connection (
      G_DBUS_INTERFACE_SKELETON (self->skeleton), self->connection);
}

/**
 * pinhole_instance_stop_async:
 * Unexports everything and closes the bus connection, which releases the name: once this
 * completes, the next instance of the profile can have it.
 */
void
pinhole_instance_stop_async (PinholeInstance     *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GDBusConnection) connection = NULL;

  g_return_if_fail (PINHOLE_IS_INSTANCE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pinhole_instance_stop_async);
  g_cancellable_cancel (self->cancellable);
  unexport_all (self);
  connection = g_steal_pointer (&self->connection);
  if (connection == NULL || g_dbus_connection_is_closed (connection))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_dbus_connection_close (connection, cancellable, close_cb, g_steal_pointer (&task));
}

gboolean
pinhole_instance_stop_finish (PinholeInstance *self,
                              GAsyncResult    *result,
                              GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- object ---- */

/* Returns: the profile's bus name, whether or not it is held yet */
const char *
pinhole_instance_get_bus_name (PinholeInstance *self)
{
  g_return_val_if_fail (PINHOLE_IS_INSTANCE (self), NULL);
  return self->bus_name;
}

/* @client: the client whose model to export (the instance keeps a reference) */
PinholeInstance *
pinhole_instance_new (PinholeClient *client)
{
  PinholeInstance *self;
  PinholeProfile *profile;

  g_return_val_if_fail (PINHOLE_IS_CLIENT (client), NULL);

  pinhole_instance_register_errors ();
  self = g_object_new (PINHOLE_TYPE_INSTANCE, NULL);
  self->client = g_object_ref (client);
  profile = pinhole_client_get_profile (client);
  self->bus_name = pinhole_instance_dup_bus_name (pinhole_profile_get_dir (profile));
  self->contacts_changed_id = g_signal_connect (pinhole_client_get_contacts (client),
                                                "items-changed",
                                                G_CALLBACK (roster_changed_cb), self);
  self->pending_changed_id = g_signal_connect (pinhole_client_get_pending_requests (client),
                                               "items-changed",
                                               G_CALLBACK (roster_changed_cb), self);
  _pinhole_instance_connect_calls (self);
  _pinhole_instance_transfers_start (self);
  return self;
}

static void
pinhole_instance_dispose (GObject *object)
{
  PinholeInstance *self = PINHOLE_INSTANCE (object);

  g_cancellable_cancel (self->cancellable);
  if (self->client != NULL)
    {
      g_clear_signal_handler (&self->contacts_changed_id,
                              pinhole_client_get_contacts (self->client));
      g_clear_signal_handler (&self->pending_changed_id,
                              pinhole_client_get_pending_requests (self->client));
      _pinhole_instance_transfers_stop (self);
    }
  if (self->exported != NULL)
    unexport_all (self);
  if (self->connection != NULL && !g_dbus_connection_is_closed (self->connection))
    g_dbus_connection_close (self->connection, NULL, NULL, NULL);
  g_clear_object (&self->connection);
  g_clear_pointer (&self->watches, g_hash_table_unref);
  g_clear_pointer (&self->exported, g_hash_table_unref);
  g_clear_object (&self->manager);
  g_clear_object (&self->skeleton);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (pinhole_instance_parent_class)->dispose (object);
}

static void
pinhole_instance_finalize (GObject *object)
{
  PinholeInstance *self = PINHOLE_INSTANCE (object);

  g_clear_object (&self->cancellable);
  g_free (self->bus_name);
  G_OBJECT_CLASS (pinhole_instance_parent_class)->finalize (object);
}

static void
pinhole_instance_class_init (PinholeInstanceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pinhole_instance_dispose;
  object_class->finalize = pinhole_instance_finalize;
}

static void
pinhole_instance_init (PinholeInstance *self)
{
  self->cancellable = g_cancellable_new ();
  self->manager = g_dbus_object_manager_server_new (PINHOLE_INSTANCE_OBJECT_PATH);
  self->skeleton = pinhole_dbus_instance_skeleton_new ();
  self->exported = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) contact_free);
  self->watches = _pinhole_instance_watches_new ();
}
