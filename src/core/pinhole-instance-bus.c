/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-instance-bus.c: the session bus address, the per-profile bus name and the contact
 * object paths of a running instance, and PINHOLE_ERROR's D-Bus error names, shared by the
 * instance and the commands that call it (docs/architecture.md). */
#define G_LOG_DOMAIN "pinhole-instance"

#include "pinhole-instance-bus.h"
#include "pinhole-error.h"

#include <stdlib.h>

/**
 * pinhole_instance_get_bus_address:
 * Only a bus named by DBUS_SESSION_BUS_ADDRESS is used. GLib's fallbacks for an unset
 * variable include X11 autolaunch, which spawns dbus-launch and waits for it: without the
 * variable there is no instance to find, and commands work on their own.
 * Returns: (nullable): the session bus address, or %NULL for none
 */
const char *
pinhole_instance_get_bus_address (void)
{
  const char *address = g_getenv ("DBUS_SESSION_BUS_ADDRESS");

  return address != NULL && *address != '\0' ? address : NULL;
}

/**
 * pinhole_instance_dup_bus_name:
 * @profile_dir: the profile folder
 * The well-known name of the profile's instance: org.pinhole.Pinhole.Profile_ and the first
 * 128 bits of the SHA-256 of the folder's canonical path (symbolic links resolved, so that
 * every way of naming the folder finds the same instance). Two profiles' instances coexist
 * on one bus; the profile lock keeps it to one per profile.
 * Returns: (transfer full): the bus name
 */
char *
pinhole_instance_dup_bus_name (const char *profile_dir)
{
  g_autofree char *resolved = NULL;
  g_autofree char *canonical = NULL;
  g_autofree char *hash = NULL;

  g_return_val_if_fail (profile_dir != NULL, NULL);

  resolved = realpath (profile_dir, NULL);
  canonical = g_canonicalize_filename (resolved ? resolved : profile_dir, NULL);
  hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, canonical, -1);
  hash[32] = '\0';
  return g_strconcat ("org.pinhole.Pinhole.Profile_", hash, NULL);
}

/**
 * pinhole_instance_dup_contact_path:
 * @user: a contact's user name, not empty
 * Returns: (transfer full): /org/pinhole/Pinhole/contacts/ and @user escaped for an object
 *   path (g_dbus_escape_object_path(): every byte but [A-Za-z0-9] as _XX)
 */
char *
pinhole_instance_dup_contact_path (const char *user)
{
  g_autofree char *escaped = NULL;

  g_return_val_if_fail (user != NULL && *user != '\0', NULL);

  escaped = g_dbus_escape_object_path (user);
  return g_strconcat (PINHOLE_INSTANCE_CONTACTS_PATH "/", escaped, NULL);
}

/* each PINHOLE_ERROR code crosses the bus as its own name, so that a command shows the
 * instance's error as the same message and exit status as its own */
static const GDBusErrorEntry error_entries[] = {
  { PINHOLE_ERROR_FAILED, "org.pinhole.Pinhole.Error.Failed" },
  { PINHOLE_ERROR_PROTOCOL, "org.pinhole.Pinhole.Error.Protocol" },
  { PINHOLE_ERROR_TIMEOUT, "org.pinhole.Pinhole.Error.Timeout" },
  { PINHOLE_ERROR_AUTH, "org.pinhole.Pinhole.Error.Auth" },
  { PINHOLE_ERROR_NO_PATH, "org.pinhole.Pinhole.Error.NoPath" },
  { PINHOLE_ERROR_NOT_FOUND, "org.pinhole.Pinhole.Error.NotFound" },
  { PINHOLE_ERROR_NOT_ALLOWED, "org.pinhole.Pinhole.Error.NotAllowed" },
  { PINHOLE_ERROR_LIMIT, "org.pinhole.Pinhole.Error.Limit" },
  { PINHOLE_ERROR_EXISTS, "org.pinhole.Pinhole.Error.Exists" },
  { PINHOLE_ERROR_KEY_CHANGED, "org.pinhole.Pinhole.Error.KeyChanged" },
  { PINHOLE_ERROR_CLOSED, "org.pinhole.Pinhole.Error.Closed" },
  { PINHOLE_ERROR_BUSY, "org.pinhole.Pinhole.Error.Busy" },
  { PINHOLE_ERROR_CERTIFICATE, "org.pinhole.Pinhole.Error.Certificate" },
};

void
pinhole_instance_register_errors (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      for (guint i = 0; i < G_N_ELEMENTS (error_entries); i++)
        g_dbus_error_register_error (PINHOLE_ERROR, error_entries[i].error_code,
                                     error_entries[i].dbus_error_name);
      g_once_init_leave (&done, 1);
    }
}
