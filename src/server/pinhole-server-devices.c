/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server-devices.c: "devices" and "revoke" (docs/protocol.md §4): an account's
 * devices, and removing one — its token and the sealed messages waiting for it go, and its
 * connections are closed. */
#define G_LOG_DOMAIN "pinhole-server"

#include "pinhole-server-private.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"

#include <libsoup/soup.h>
#include <string.h>

static gboolean
device_is_online (PinholeServer *server,
                  const char    *user,
                  const char    *device)
{
  return _pinhole_server_find_device (server, user, device) != NULL;
}

void
_pinhole_server_handle_devices (PinholeServerConnection *c,
                                JsonObject              *stanza,
                                const char              *id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) devices = pinhole_store_list_devices (c->server->store, c->user, &error);
  g_autoptr(JsonObject) result = json_object_new ();
  JsonArray *list;

  if (devices == NULL)
    {
      _pinhole_server_send_gerror (c, id, error);
      return;
    }
  list = json_array_new ();
  for (guint i = 0; i < devices->len; i++)
    {
      PinholeStoreDevice *d = devices->pdata[i];
      JsonObject *o = json_object_new ();

      json_object_set_string_member (o, "device", d->device);
      pinhole_stanza_set_base64 (o, "device_key", d->key);
      json_object_set_boolean_member (o, "online", device_is_online (c->server, c->user,
                                                                     d->device));
      json_object_set_boolean_member (o, "this", g_strcmp0 (d->device, c->device) == 0);
      json_array_add_object_element (list, o);
    }
  json_object_set_array_member (result, "devices", list);
  _pinhole_server_send_result (c, id, result);
}

void
_pinhole_server_handle_revoke (PinholeServerConnection *c,
                               JsonObject              *stanza,
                               const char              *id)
{
  g_autoptr(GError) error = NULL;
  const char *device = pinhole_stanza_require_string (stanza, "device", 64, &error);
  g_autoptr(GPtrArray) closing = NULL;
  GHashTableIter iter;
  gpointer key;

  if (device == NULL)
    goto fail;
  if (g_strcmp0 (device, c->device) == 0)
    {
      g_set_error_literal (&error, PINHOLE_ERROR, PINHOLE_ERROR_EXISTS,
                           "that is the device you are using: remove it from another one");
      goto fail;
    }
  if (!pinhole_store_remove_device (c->server->store, c->user, device, &error))
    goto fail;
  g_message ("%s removed the device %s", c->user, device);

  /* every connection of that device, announced or one-shot, is closed */
  closing = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, c->server->connections);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      PinholeServerConnection *other = key;

      if (!other->closed && g_strcmp0 (other->user, c->user) == 0 &&
          g_strcmp0 (other->device, device) == 0)
        g_ptr_array_add (closing, other);
    }
  for (guint i = 0; i < closing->len; i++)
    _pinhole_server_connection_close (closing->pdata[i], SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                      "this device was removed from the account");
  /* shut out at once; told done once the removal is on disk */
  _pinhole_server_commit_begin (c, id, PINHOLE_SERVER_COMMIT_NONE);
  _pinhole_server_send_result (c, id, NULL);
  _pinhole_server_commit_end (c->server);
  return;

fail:
  _pinhole_server_send_gerror (c, id, error);
}
