/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-remote.c: one-shot commands through the profile's running instance (pinhole-cli listen,
 * later the app) on the session bus, so that they use its server connection and see its live
 * sessions instead of logging in again. Without a session bus or an instance they log in
 * themselves, as they always did; either way they print the same. */
#define G_LOG_DOMAIN "pinhole-cli"

#include "cli-common.h"
#include "pinhole-instance-bus.h"

#include <string.h>

/* a call may wait for a session to come up or for the server */
#define CALL_TIMEOUT_MS 60000
/* a bus that does not answer this soon is as good as none: the command logs in itself */
#define FIND_TIMEOUT_S  5

typedef CliWait Wait;
#define wait_cb cli_wait_cb
#define wait_result cli_wait_result
#define strip_remote cli_strip_remote

void
cli_wait_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  CliWait *w = user_data;

  w->result = g_object_ref (result);
  g_main_loop_quit (w->cli->loop);
}

/* runs the main loop until the call started with cli_wait_cb and @w answers */
GAsyncResult *
cli_wait_result (CliWait *w)
{
  while (w->result == NULL)
    g_main_loop_run (w->cli->loop);
  return w->result;
}

/* the instance's own words: "bob is not your contact", not "GDBus.Error:…: bob is…" */
gboolean
cli_strip_remote (gboolean  ok,
                  GError  **error)
{
  if (!ok && error != NULL && *error != NULL && g_dbus_error_is_remote_error (*error))
    g_dbus_error_strip_remote_error (*error);
  return ok;
}

static void find_instance (Cli          *cli,
                           const char   *address,
                           GCancellable *cancellable);

/**
 * cli_find_instance:
 * Looks for the profile's running instance on the session bus (only one named by
 * DBUS_SESSION_BUS_ADDRESS) and, when it runs, keeps a proxy of it in cli->remote.
 * Returns: whether the command goes through the instance
 */
gboolean
cli_find_instance (Cli *cli)
{
  const char *address = pinhole_instance_get_bus_address ();
  g_autoptr(GCancellable) cancellable = NULL;
  guint deadline;

  if (cli->remote != NULL)
    return TRUE;
  if (address == NULL)
    return FALSE;
  cancellable = g_cancellable_new ();
  deadline = cli_deadline_new (cancellable, FIND_TIMEOUT_S);
  find_instance (cli, address, cancellable);
  cli_deadline_clear (cancellable, deadline);
  return cli->remote != NULL;
}

static void
find_instance (Cli          *cli,
               const char   *address,
               GCancellable *cancellable)
{
  g_autofree char *name = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  const char *owner = NULL;

  pinhole_instance_register_errors ();
  name = pinhole_instance_dup_bus_name (pinhole_profile_get_dir (cli->profile));
  {
    Wait w = { cli };

    g_dbus_connection_new_for_address (address,
                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                       G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                       NULL, cancellable, wait_cb, &w);
    bus = g_dbus_connection_new_for_address_finish (wait_result (&w), &error);
    g_clear_object (&w.result);
  }
  if (bus == NULL)
    {
      g_debug ("no session bus at %s: %s", address, error->message);
      return;
    }
  {
    Wait w = { cli };

    g_dbus_connection_call (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                            "org.freedesktop.DBus", "GetNameOwner", g_variant_new ("(s)", name),
                            G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, -1, cancellable,
                            wait_cb, &w);
    reply = g_dbus_connection_call_finish (bus, wait_result (&w), &error);
    g_clear_object (&w.result);
  }
  if (reply == NULL)
    {
      g_debug ("no running instance of %s (%s): %s", pinhole_profile_get_dir (cli->profile),
               name, error->message);
      return;
    }
  g_variant_get (reply, "(&s)", &owner);
  {
    Wait w = { cli };

    /* the owner's unique name, not the well-known one: every call goes to this one process */
    pinhole_dbus_instance_proxy_new (bus, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, owner,
                                     PINHOLE_INSTANCE_OBJECT_PATH, cancellable, wait_cb, &w);
    cli->remote = pinhole_dbus_instance_proxy_new_finish (wait_result (&w), &error);
    g_clear_object (&w.result);
  }
  if (cli->remote == NULL)
    {
      g_debug ("cannot use the instance %s: %s", name, error->message);
      return;
    }
  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (cli->remote), CALL_TIMEOUT_MS);
  g_debug ("using the running instance %s (%s)", name, owner);
}

/**
 * cli_connect:
 * What a one-shot command needs before it acts: the profile's running instance, or else a
 * log-in of its own (without announcing this device online).
 * Returns: %FALSE with cli->error set when neither works
 */
gboolean
cli_connect (Cli *cli)
{
  /* a foreign --server is refused before anything, instance or not */
  if (!cli_check_server (cli))
    return FALSE;
  if (cli_find_instance (cli))
    return TRUE;
  return cli_login (cli, FALSE);
}

/* ---- the calls, through the instance or the command's own client ---- */

void
cli_send_message_async (Cli                 *cli,
                        const char          *user,
                        const char          *text,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  if (cli->remote != NULL)
    pinhole_dbus_instance_call_send (cli->remote, user, text, NULL, callback, user_data);
  else
    pinhole_client_send_message_async (cli->client, user, text, NULL, callback, user_data);
}

gboolean
cli_send_message_finish (Cli          *cli,
                         GAsyncResult *result,
                         guint        *out_live,
                         guint        *out_stored,
                         GError      **error)
{
  if (cli->remote != NULL)
    return strip_remote (pinhole_dbus_instance_call_send_finish (cli->remote, out_live,
                                                                 out_stored, result, error),
                         error);
  return pinhole_client_send_message_finish (cli->client, result, out_live, out_stored, error);
}

/* @verb: as for pinhole_client_contact_async() */
void
cli_contact_async (Cli                 *cli,
                   const char          *verb,
                   const char          *user,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  if (cli->remote == NULL)
    pinhole_client_contact_async (cli->client, verb, user, NULL, callback, user_data);
  else if (strcmp (verb, "subscribe") == 0)
    pinhole_dbus_instance_call_add (cli->remote, user, NULL, callback, user_data);
  else if (strcmp (verb, "accept") == 0)
    pinhole_dbus_instance_call_accept (cli->remote, user, NULL, callback, user_data);
  else if (strcmp (verb, "decline") == 0)
    pinhole_dbus_instance_call_decline (cli->remote, user, NULL, callback, user_data);
  else if (strcmp (verb, "block") == 0)
    pinhole_dbus_instance_call_block (cli->remote, user, NULL, callback, user_data);
  else if (strcmp (verb, "unblock") == 0)
    pinhole_dbus_instance_call_unblock (cli->remote, user, NULL, callback, user_data);
  else
    {
      g_assert (strcmp (verb, "remove") == 0);
      pinhole_dbus_instance_call_remove (cli->remote, user, NULL, callback, user_data);
    }
}

/* Returns: (transfer full) (nullable): the relation now */
char *
cli_contact_finish (Cli          *cli,
                    GAsyncResult *result,
                    GError      **error)
{
  char *relation = NULL;

  if (cli->remote == NULL)
    return pinhole_client_contact_finish (cli->client, result, error);
  /* the four answers have one signature, (s) */
  strip_remote (pinhole_dbus_instance_call_add_finish (cli->remote, &relation, result, error),
                error);
  return relation;
}

/* Returns: %FALSE with cli->error set on failure */
gboolean
cli_remote_set_relay_only (Cli        *cli,
                           const char *user,
                           gboolean    on)
{
  Wait w = { cli };
  gboolean ok;

  pinhole_dbus_instance_call_set_relay_only (cli->remote, user, on, NULL, wait_cb, &w);
  ok = pinhole_dbus_instance_call_set_relay_only_finish (cli->remote, wait_result (&w),
                                                         &cli->error);
  g_clear_object (&w.result);
  return strip_remote (ok, &cli->error);
}

/* @out_trusted: whether a changed key waited for trust; Returns: %FALSE with cli->error */
gboolean
cli_remote_trust (Cli        *cli,
                  const char *user,
                  gboolean   *out_trusted)
{
  Wait w = { cli };
  gboolean ok;

  pinhole_dbus_instance_call_trust (cli->remote, user, NULL, wait_cb, &w);
  ok = pinhole_dbus_instance_call_trust_finish (cli->remote, out_trusted, wait_result (&w),
                                                &cli->error);
  g_clear_object (&w.result);
  return strip_remote (ok, &cli->error);
}

/* ---- contacts ---- */

void
cli_contact_row_free (CliContactRow *row)
{
  g_free (row->user);
  g_free (row->relation);
  g_free (row->show);
  g_free (row->path);
  g_free (row);
}

/* the order of a command's own list: the contacts by user, then the pending requests */
static int
compare_rows (gconstpointer a,
              gconstpointer b)
{
  const CliContactRow *ra = *(CliContactRow **) a;
  const CliContactRow *rb = *(CliContactRow **) b;
  gboolean pending_a = g_strcmp0 (ra->relation, "incoming") == 0;
  gboolean pending_b = g_strcmp0 (rb->relation, "incoming") == 0;

  if (pending_a != pending_b)
    return pending_a - pending_b;
  return strcmp (ra->user, rb->user);
}

static CliContactRow *
row_of_contact (Cli                *cli,
                PinholeDBusContact *contact)
{
  CliContactRow *row = g_new0 (CliContactRow, 1);
  const char *const *devices = pinhole_dbus_contact_get_devices (contact);
  const char *path = pinhole_dbus_contact_get_path_kind (contact);

  row->user = pinhole_dbus_contact_dup_user (contact);
  row->relation = pinhole_dbus_contact_dup_relation (contact);
  row->show = pinhole_dbus_contact_dup_presence (contact);
  row->n_devices = devices ? g_strv_length ((char **) devices) : 0;
  if (row->user == NULL)
    row->user = g_strdup ("");
  row->key_changed = g_strcmp0 (pinhole_dbus_contact_get_key_state (contact), "changed") == 0 ||
                     pinhole_profile_has_untrusted_key (cli->profile, row->user);
  row->verified = pinhole_dbus_contact_get_verified (contact);
  row->path = path != NULL && *path != '\0' && strcmp (path, "none") != 0 ? g_strdup (path)
                                                                          : NULL;
  row->rtt_ms = pinhole_dbus_contact_get_rtt_ms (contact);
  return row;
}

/* the contact objects of the instance; Returns: (transfer full): an object manager client */
static GDBusObjectManager *
cli_remote_dup_contacts (Cli     *cli,
                         GError **error)
{
  GDBusProxy *proxy = G_DBUS_PROXY (cli->remote);
  GDBusObjectManager *manager;
  Wait w = { cli };

  pinhole_dbus_object_manager_client_new (g_dbus_proxy_get_connection (proxy),
                                          G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START,
                                          g_dbus_proxy_get_name (proxy),
                                          PINHOLE_INSTANCE_OBJECT_PATH, NULL, wait_cb, &w);
  manager = pinhole_dbus_object_manager_client_new_finish (wait_result (&w), error);
  g_clear_object (&w.result);
  return manager;
}

/* Returns: (transfer full) (element-type CliContactRow) (nullable): the instance's contacts
 * and pending requests, in the order of list_own_contacts(), or %NULL with cli->error set */
GPtrArray *
cli_remote_list_contacts (Cli *cli)
{
  g_autoptr(GDBusObjectManager) manager = cli_remote_dup_contacts (cli, &cli->error);
  GPtrArray *rows;
  GList *objects;

  if (manager == NULL)
    return NULL;
  rows = g_ptr_array_new_with_free_func ((GDestroyNotify) cli_contact_row_free);
  objects = g_dbus_object_manager_get_objects (manager);
  for (GList *l = objects; l != NULL; l = l->next)
    {
      PinholeDBusContact *contact = pinhole_dbus_object_peek_contact (l->data);

      if (contact != NULL)
        g_ptr_array_add (rows, row_of_contact (cli, contact));
    }
  g_list_free_full (objects, g_object_unref);
  g_ptr_array_sort (rows, compare_rows);
  return rows;
}
