/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-listen.c: `pinhole-cli listen`: stays online, prints every event, and reconnects with
 * back-off (PinholeReconnector) when the server goes away, until SIGINT/SIGTERM (or
 * --messages N). With a session bus it is the profile's running instance (pinhole-instance.h)
 * for one-shot commands. */
#include "cli-common.h"
#include "pinhole-error.h"
#include "pinhole-instance-bus.h"
#include "pinhole-reconnector.h"

#include <glib-unix.h>

/* a session bus that does not take the instance this soon is as good as none */
#define INSTANCE_START_S 5

typedef struct
{
  Cli     *cli;
  gint     max_messages;
  gint     messages;
  gboolean stopping;
  GHashTable *watched;  /* device lists and devices whose paths we print (owned refs) */
  char    *accept_files; /* --accept-files DIR */
} ListenRun;

static char *
format_time (gint64 ts)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (ts);

  return dt ? g_date_time_format (dt, "%H:%M") : g_strdup ("--:--");
}

static void
message_cb (PinholeClient *client,
            const char    *from,
            const char    *id,
            const char    *text,
            gint64         ts,
            ListenRun     *run)
{
  g_autoptr(JsonObject) fields = json_object_new ();
  g_autofree char *when = format_time (ts);

  json_object_set_string_member (fields, "from", from);
  json_object_set_string_member (fields, "id", id);
  json_object_set_string_member (fields, "text", text);
  json_object_set_int_member (fields, "ts", ts);
  cli_event (run->cli, "message", fields, "[%s] %s: %s", when, from, text);
  if (run->max_messages > 0 && ++run->messages >= run->max_messages)
    {
      run->stopping = TRUE;
      cli_quit (run->cli, NULL);
    }
}

static void
presence_cb (PinholeClient *client,
             const char    *user,
             const char    *device,
             const char    *show,
             ListenRun     *run)
{
  g_autoptr(JsonObject) fields = json_object_new ();

  json_object_set_string_member (fields, "user", user);
  json_object_set_string_member (fields, "device", device);
  json_object_set_string_member (fields, "show", show);
  cli_event (run->cli, "presence", fields, "%s is %s (device %s)", user, show, device);
}

static void
request_cb (PinholeClient *client,
            const char    *from,
            ListenRun     *run)
{
  g_autoptr(JsonObject) fields = json_object_new ();

  json_object_set_string_member (fields, "from", from);
  cli_event (run->cli, "contact-request", fields,
             "%s wants to be your contact: pinhole-cli accept %s", from, from);
}

static void
contact_cb (PinholeClient *client,
            const char    *user,
            const char    *relation,
            ListenRun     *run)
{
  g_autoptr(JsonObject) fields = json_object_new ();

  json_object_set_string_member (fields, "user", user);
  json_object_set_string_member (fields, "relation", relation);
  cli_event (run->cli, "contact", fields, "%s is now %s", user,
             g_str_equal (relation, "mutual") ? "your contact" : relation);
}

static void
delivered_cb (PinholeClient *client,
              const char    *user,
              const char    *id,
              ListenRun     *run)
{
  g_autoptr(JsonObject) fields = json_object_new ();

  json_object_set_string_member (fields, "to", user);
  json_object_set_string_member (fields, "id", id);
  cli_event (run->cli, "delivered", fields, "%s received message %s", user, id);
}

static void
key_changed_cb (PinholeClient *client,
                const char    *user,
                ListenRun     *run)
{
  g_autoptr(JsonObject) fields = json_object_new ();

  json_object_set_string_member (fields, "user", user);
  cli_event (run->cli, "key-changed", fields,
             "WARNING: %s's device key changed. Compare fingerprints (pinhole-cli fingerprint "
             "%s), then: pinhole-cli trust %s", user, user, user);
}

/* a device's path changed: the session came up, moved, or ended ("none") */
static void
device_path_cb (PinholeDevice *device,
                GParamSpec    *pspec,
                ListenRun     *run)
{
  g_autoptr(JsonObject) fields = json_object_new ();
  const char *user = pinhole_device_get_user (device);
  const char *path = pinhole_path_kind_to_string (pinhole_device_get_path_kind (device));
  gdouble rtt_ms = pinhole_device_get_rtt_ms (device);

  json_object_set_string_member (fields, "user", user);
  /* "contact" is the old name of "user": an alias until 0.2 (README.md) */
  json_object_set_string_member (fields, "contact", user);
  json_object_set_string_member (fields, "device", pinhole_device_get_name (device));
  json_object_set_string_member (fields, "path", path);
  if (rtt_ms >= 0)
    json_object_set_double_member (fields, "rtt_ms", rtt_ms);
  else
    json_object_set_null_member (fields, "rtt_ms");
  cli_event (run->cli, "path", fields, "path to %s (%s): %s", user,
             pinhole_device_get_name (device), path);
}

static void
watch_devices (ListenRun  *run,
               GListModel *devices,
               guint       position,
               guint       added)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(PinholeDevice) device = g_list_model_get_item (devices, i);

      if (g_hash_table_contains (run->watched, device))
        continue;
      g_hash_table_add (run->watched, g_object_ref (device));
      g_signal_connect (device, "notify::path-kind", G_CALLBACK (device_path_cb), run);
    }
}

static void
devices_changed_cb (GListModel *devices,
                    guint       position,
                    guint       removed,
                    guint       added,
                    ListenRun  *run)
{
  watch_devices (run, devices, position, added);
}

static void
watch_contacts (ListenRun  *run,
                GListModel *contacts,
                guint       position,
                guint       added)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(PinholeContact) contact = g_list_model_get_item (contacts, i);
      GListModel *devices = pinhole_contact_get_devices (contact);

      if (g_hash_table_contains (run->watched, devices))
        continue;
      g_hash_table_add (run->watched, g_object_ref (devices));
      g_signal_connect (devices, "items-changed", G_CALLBACK (devices_changed_cb), run);
      watch_devices (run, devices, 0, g_list_model_get_n_items (devices));
    }
}

static void
contacts_changed_cb (GListModel *contacts,
                     guint       position,
                     guint       removed,
                     guint       added,
                     ListenRun  *run)
{
  watch_contacts (run, contacts, position, added);
}

static void
unwatch (gpointer object,
         gpointer run)
{
  g_signal_handlers_disconnect_by_data (object, run);
  g_object_unref (object);
}

static void
disconnected_cb (PinholeClient *client,
                 const GError  *error,
                 ListenRun     *run)
{
  g_autoptr(JsonObject) fields = json_object_new ();

  if (run->stopping)
    return;
  json_object_set_string_member (fields, "reason", error->message);
  cli_event (run->cli, "disconnected", fields, "disconnected: %s; reconnecting",
             error->message);
}

static void
print_online (Cli *cli)
{
  g_autoptr(JsonObject) fields = json_object_new ();

  json_object_set_string_member (fields, "user", pinhole_client_get_user (cli->client));
  json_object_set_string_member (fields, "device", pinhole_client_get_device (cli->client));
  cli_event (cli, "online", fields, "online as %s (device %s); Ctrl-C to stop",
             pinhole_client_get_user (cli->client), pinhole_client_get_device (cli->client));
}

/* the reconnector logs in again after a lost connection; a refused log-in ends listen */
static void
state_cb (PinholeReconnector *reconnector,
          GParamSpec         *pspec,
          ListenRun          *run)
{
  PinholeConnectionState state = pinhole_reconnector_get_state (reconnector);

  if (run->stopping)
    return;
  if (state == PINHOLE_CONNECTION_STATE_ONLINE)
    print_online (run->cli);
  else if (state == PINHOLE_CONNECTION_STATE_REFUSED)
    {
      g_autoptr(GError) error =
        g_error_new_literal (PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                             pinhole_reconnector_get_error (reconnector));
      run->stopping = TRUE;
      cli_quit (run->cli, error);
    }
}

static void
instance_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* waits, iterating the main context, for the call that answers to instance_done_cb */
static GAsyncResult *
instance_wait (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *result;
}

/* with a session bus, the client's model goes on it under the profile's name, so that
 * one-shot commands on this profile use this connection; listen works without one */
static void
instance_start (Cli *cli)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  guint deadline;

  if (pinhole_instance_get_bus_address () == NULL)
    return;
  cli->instance = pinhole_instance_new (cli->client);
  cancellable = g_cancellable_new ();
  deadline = cli_deadline_new (cancellable, INSTANCE_START_S);
  pinhole_instance_start_async (cli->instance, NULL, cancellable, instance_done_cb, &result);
  instance_wait (&result);
  cli_deadline_clear (cancellable, deadline);
  if (!pinhole_instance_start_finish (cli->instance, result, &error))
    {
      g_debug ("not on the session bus: %s", error->message);
      g_clear_object (&cli->instance);
    }
}

/* the name goes with the bus connection: gone before the profile lock, for the next one */
static void
instance_stop (Cli *cli)
{
  g_autoptr(GAsyncResult) result = NULL;

  if (cli->instance == NULL)
    return;
  pinhole_instance_stop_async (cli->instance, NULL, instance_done_cb, &result);
  pinhole_instance_stop_finish (cli->instance, instance_wait (&result), NULL);
  g_clear_object (&cli->instance);
}

static gboolean
stop_cb (gpointer user_data)
{
  ListenRun *run = user_data;

  run->stopping = TRUE;
  cli_quit (run->cli, NULL);
  return G_SOURCE_CONTINUE;
}

int
cli_listen (Cli   *cli,
            int    argc,
            char **argv)
{
  ListenRun run = { cli, 0, 0, FALSE, NULL, NULL };
  CliListenTransfers *transfers;
  g_autoptr(PinholeReconnector) reconnector = NULL;
  GOptionEntry entries[] = {
    { "messages", 'n', 0, G_OPTION_ARG_INT, &run.max_messages,
      "exit after N messages", "N" },
    { "accept-files", 0, 0, G_OPTION_ARG_FILENAME, &run.accept_files,
      "accept every file offer into DIR", "DIR" },
    { NULL }
  };
  guint sigint, sigterm;

  if (!cli_parse_options ("listen", "", entries, &argc, &argv))
    return 2;
  if (argc != 1)
    return cli_usage ("listen", "takes no arguments");
  /* listen keeps the profile's one connection: a second one would fight it for the device */
  cli->instance_lock = pinhole_profile_lock_acquire (pinhole_profile_get_dir (cli->profile),
                                                     &cli->error);
  if (cli->instance_lock == NULL)
    return cli_fail (cli, cli->error);

  g_signal_connect (cli->client, "message-received", G_CALLBACK (message_cb), &run);
  g_signal_connect (cli->client, "presence-changed", G_CALLBACK (presence_cb), &run);
  g_signal_connect (cli->client, "contact-request", G_CALLBACK (request_cb), &run);
  g_signal_connect (cli->client, "contact-changed", G_CALLBACK (contact_cb), &run);
  g_signal_connect (cli->client, "delivered", G_CALLBACK (delivered_cb), &run);
  g_signal_connect (cli->client, "key-changed", G_CALLBACK (key_changed_cb), &run);
  /* the model's contact list, every contact's devices, every device's path */
  run.watched = g_hash_table_new (NULL, NULL);
  g_signal_connect (pinhole_client_get_contacts (cli->client), "items-changed",
                    G_CALLBACK (contacts_changed_cb), &run);
  /* the contacts the profile kept are in the model before the first log-in */
  watch_contacts (&run, pinhole_client_get_contacts (cli->client), 0,
                  g_list_model_get_n_items (pinhole_client_get_contacts (cli->client)));
  g_signal_connect (cli->client, "disconnected", G_CALLBACK (disconnected_cb), &run);

  cli->direct_paths = TRUE;
  /* the first log-in must work; later ones are retried */
  if (!cli_login (cli, TRUE))
    return cli_fail (cli, cli->error);
  transfers = cli_listen_transfers_start (cli, run.accept_files);
  /* the accepted transfers the profile kept carry on */
  pinhole_client_resume_transfers (cli->client);
  /* on the bus before "online", so that whoever waits for that line finds the instance */
  instance_start (cli);
  /* before "online": whoever waits for that line may stop us right after it */
  sigint = g_unix_signal_add (SIGINT, stop_cb, &run);
  sigterm = g_unix_signal_add (SIGTERM, stop_cb, &run);
  print_online (cli);
  /* from now on the core's policy keeps us online: back-off, network changes, refusals */
  reconnector = pinhole_reconnector_new (cli->client, cli->server);
  pinhole_reconnector_set_password (reconnector, g_getenv ("PINHOLE_PASSWORD"));
  pinhole_reconnector_start (reconnector);
  g_signal_connect (reconnector, "notify::state", G_CALLBACK (state_cb), &run);

  /* messages that waited on the server may have reached --messages during log-in */
  if (!run.stopping)
    cli_run (cli);
  run.stopping = TRUE;
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_signal_handlers_disconnect_by_data (reconnector, &run);
  /* what is on its way, and the acknowledgements of what came, go before the connection */
  {
    g_autoptr(GAsyncResult) result = NULL;

    pinhole_client_settle_async (cli->client, NULL, instance_done_cb, &result);
    pinhole_client_settle_finish (cli->client, instance_wait (&result), NULL);
  }
  pinhole_reconnector_stop (reconnector);
  instance_stop (cli);
  g_signal_handlers_disconnect_by_data (cli->client, &run);
  cli_listen_transfers_stop (transfers);
  g_free (run.accept_files);
  g_signal_handlers_disconnect_by_data (pinhole_client_get_contacts (cli->client), &run);
  {
    g_autoptr(GHashTable) watched = g_steal_pointer (&run.watched);
    GHashTableIter iter;
    gpointer object;

    g_hash_table_iter_init (&iter, watched);
    while (g_hash_table_iter_next (&iter, &object, NULL))
      unwatch (object, &run);
  }
  if (cli->error != NULL)
    return cli_fail (cli, cli->error);
  return 0;
}
