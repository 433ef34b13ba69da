/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client-devices.c: the account's own devices, as the server lists them (`devices`,
 * docs/protocol.md), and removing a lost one (`revoke`): what `pinhole-cli devices` and the
 * app's Devices window show. The list is read when asked for, not followed: the server
 * pushes nothing when a device of one's own account comes or goes. */
#define G_LOG_DOMAIN "pinhole-client"

#include "pinhole-client.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"

/* the server keeps at most 16 devices per account (--max-devices): a longer list is cut here,
 * so that a hostile server cannot make us hold more */
#define MAX_LISTED 256

void
pinhole_account_device_free (PinholeAccountDevice *device)
{
  if (device == NULL)
    return;
  g_free (device->name);
  g_free (device);
}

/* Returns: whether @o's member @name is TRUE; FALSE when absent or of another type, which a
 * server could send */
static gboolean
boolean_member (JsonObject *o,
                const char *name)
{
  JsonNode *node = json_object_get_member (o, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_BOOLEAN && json_node_get_boolean (node);
}

static void
devices_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) reply = pinhole_client_request_finish (PINHOLE_CLIENT (source), result,
                                                               &error);
  g_autoptr(GPtrArray) devices = NULL;
  JsonNode *list;
  JsonArray *array;

  if (reply == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  list = json_object_get_member (reply, "devices");
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                               "the server's list of devices has no \"devices\" array");
      return;
    }
  array = json_node_get_array (list);
  devices = g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_account_device_free);
  for (guint i = 0; i < json_array_get_length (array) && devices->len < MAX_LISTED; i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *d = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
      JsonNode *name = d != NULL ? json_object_get_member (d, "device") : NULL;
      PinholeAccountDevice *device;

      /* an entry without a name is skipped, as the rest of the list may still be good */
      if (name == NULL || json_node_get_value_type (name) != G_TYPE_STRING ||
          *json_node_get_string (name) == '\0')
        continue;
      device = g_new0 (PinholeAccountDevice, 1);
      device->name = g_strdup (json_node_get_string (name));
      device->online = boolean_member (d, "online");
      device->is_this = boolean_member (d, "this");
      g_ptr_array_add (devices, device);
    }
  g_task_return_pointer (task, g_steal_pointer (&devices), (GDestroyNotify) g_ptr_array_unref);
}

/**
 * pinhole_client_list_devices_async:
 * Lists the devices of the logged-in account, this one among them (`is_this`).
 */
void
pinhole_client_list_devices_async (PinholeClient       *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(JsonObject) stanza = pinhole_stanza_new ("devices", NULL);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, pinhole_client_list_devices_async);
  pinhole_client_request_async (self, stanza, cancellable, devices_cb, task);
}

/**
 * pinhole_client_list_devices_finish:
 * Returns: (transfer container) (element-type PinholeAccountDevice): the devices, in the
 *   server's order, or %NULL with @error set
 */
GPtrArray *
pinhole_client_list_devices_finish (PinholeClient  *self,
                                    GAsyncResult   *result,
                                    GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
revoke_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) reply = pinhole_client_request_finish (PINHOLE_CLIENT (source), result,
                                                               &error);

  if (reply == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * pinhole_client_revoke_device_async:
 * @device: another device of the account
 * Removes @device from the account: the server deletes its login token and the sealed
 * messages waiting for it, and logs it out. It can come back only with the password.
 */
void
pinhole_client_revoke_device_async (PinholeClient       *self,
                                    const char          *device,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(JsonObject) stanza = pinhole_stanza_new ("revoke", NULL);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, pinhole_client_revoke_device_async);
  json_object_set_string_member (stanza, "device", device);
  pinhole_client_request_async (self, stanza, cancellable, revoke_cb, task);
}

gboolean
pinhole_client_revoke_device_finish (PinholeClient  *self,
                                     GAsyncResult   *result,
                                     GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
