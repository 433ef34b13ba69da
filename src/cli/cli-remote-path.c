/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-remote-path.c: `pinhole-cli path USER` through the profile's running instance: the
 * instance opens (or keeps) the session and has its device probe while we watch; the
 * contact's object carries the live path and RTT, printed at the pace of cli-path-pace.c as
 * cli-path.c prints a session of its own. */
#define G_LOG_DOMAIN "pinhole-cli"

#include "cli-common.h"
#include "pinhole-error.h"

typedef struct
{
  Cli                *cli;
  const char         *user;
  gboolean            verbose;
  CliPathPace         pace;
  PinholeDBusContact *contact;     /* owned */
  GVariant           *described;   /* owned, nullable: the latest DescribePath answer */
  GCancellable       *cancellable; /* owned: the calls in flight */
  gboolean            describing;
} RemotePath;

/* @described: (nullable): DescribePath's answer, for --json and -v */
static void
print_report (RemotePath *run,
              GVariant   *described)
{
  PinholeDBusContact *c = run->contact;
  g_autoptr(JsonObject) report = json_object_new ();
  const char *reason = pinhole_dbus_contact_get_relay_reason_text (c);
  gdouble rtt = pinhole_dbus_contact_get_rtt_ms (c);
  g_autofree const char **candidates = NULL;
  const char *mine = NULL;
  const char *theirs = NULL;

  /* the report cli-path.c makes of a device, made of the contact's object */
  json_object_set_string_member (report, "path", pinhole_dbus_contact_get_path_kind (c));
  json_object_set_string_member (report, "remote", pinhole_dbus_contact_get_remote (c));
  if (rtt >= 0)
    json_object_set_double_member (report, "rtt_ms", rtt);
  else
    json_object_set_null_member (report, "rtt_ms");
  json_object_set_string_member (report, "peer", pinhole_dbus_contact_get_current_device (c));
  if (reason != NULL && *reason != '\0')
    json_object_set_string_member (report, "reason", reason);
  if (described != NULL && g_variant_lookup (described, "candidates", "^a&s", &candidates))
    {
      JsonArray *array = json_array_new ();

      for (guint i = 0; candidates[i] != NULL; i++)
        json_array_add_string_element (array, candidates[i]);
      json_object_set_array_member (report, "candidates", array);
    }
  if (described != NULL && g_variant_lookup (described, "this_network", "&s", &mine))
    json_object_set_string_member (report, "this_network", mine);
  if (described != NULL && g_variant_lookup (described, "their_network", "&s", &theirs))
    {
      g_autoptr(JsonNode) node = json_from_string (theirs, NULL);

      /* the instance's own JSON: an object, or it is left out */
      if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
        json_object_set_object_member (report, "their_network",
                                       json_object_ref (json_node_get_object (node)));
    }
  cli_path_print (run->cli, run->user, report, run->verbose);
}

static void describe (RemotePath *run);

/* one line of the pace, with the latest description of the path (at most a second old);
 * Returns: whether to go on */
static gboolean
line (gpointer data)
{
  RemotePath *run = data;

  if (g_strcmp0 (pinhole_dbus_contact_get_path_kind (run->contact), "none") == 0)
    {
      g_autoptr(GError) error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                             "the session with %s ended", run->user);
      cli_quit (run->cli, error);
      return FALSE;
    }
  print_report (run, run->described);
  describe (run);
  return TRUE;
}

static void
described_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  RemotePath *run = user_data;
  g_autoptr(GError) error = NULL;
  GVariant *described = NULL;

  if (!pinhole_dbus_instance_call_describe_path_finish (PINHOLE_DBUS_INSTANCE (source),
                                                        &described, result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_debug ("describe: %s", error->message);
    }
  run->describing = FALSE;
  if (described != NULL)
    {
      g_clear_pointer (&run->described, g_variant_unref);
      run->described = described;
    }
  /* the first description comes before the first line */
  if (run->pace.rtt_object == NULL)
    cli_path_pace_start (&run->pace, G_OBJECT (run->contact));
}

/* the candidates tried, for --json and -v, asked of the instance */
static void
describe (RemotePath *run)
{
  if ((!run->cli->json && !run->verbose) || run->describing)
    return;
  run->describing = TRUE;
  pinhole_dbus_instance_call_describe_path (run->cli->remote, run->user, run->cancellable,
                                            described_cb, run);
}

/* the instance went away (listen stopped): what the object still says is no longer live */
static void
owner_cb (GObject    *object,
          GParamSpec *pspec,
          RemotePath *run)
{
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (object));
  g_autoptr(GError) error = NULL;

  if (owner != NULL)
    return;
  error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                       "the running Pinhole of this profile stopped");
  cli_quit (run->cli, error);
}

static void
contact_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  RemotePath *run = user_data;
  g_autoptr(GError) error = NULL;
  PinholeDBusContact *contact = pinhole_dbus_contact_proxy_new_finish (result, &error);

  if (contact == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        cli_quit (run->cli, error);
      return;
    }
  run->contact = contact;
  g_signal_connect (run->contact, "notify::g-name-owner", G_CALLBACK (owner_cb), run);
  describe (run);
  if (!run->describing)
    cli_path_pace_start (&run->pace, G_OBJECT (run->contact));
}

static void
opened_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  RemotePath *run = user_data;
  GDBusProxy *instance = G_DBUS_PROXY (source);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;

  if (!pinhole_dbus_instance_call_open_path_finish (PINHOLE_DBUS_INSTANCE (source), &path,
                                                    result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_dbus_error_strip_remote_error (error);
      cli_quit (run->cli, error);
      return;
    }
  pinhole_dbus_contact_proxy_new (g_dbus_proxy_get_connection (instance),
                                  G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
                                  g_dbus_proxy_get_name (instance), path, run->cancellable,
                                  contact_cb, run);
}

/* `path` when cli->remote is the profile's instance; Returns: the exit status */
int
cli_remote_path (Cli        *cli,
                 const char *user,
                 gint        count,
                 gboolean    verbose)
{
  RemotePath run = { cli, user, verbose, { cli, count, line } };

  run.pace.data = &run;
  run.cancellable = g_cancellable_new ();
  pinhole_dbus_instance_call_open_path (cli->remote, user, run.cancellable, opened_cb, &run);
  cli_path_pace_run (&run.pace);
  /* the calls in flight must not come back to @run, which is gone with this frame; leaving
   * the bus ends our watch of the path */
  g_cancellable_cancel (run.cancellable);
  if (run.contact != NULL)
    g_signal_handlers_disconnect_by_data (run.contact, &run);
  g_clear_object (&run.contact);
  g_clear_pointer (&run.described, g_variant_unref);
  g_clear_object (&run.cancellable);
  if (cli->error != NULL)
    return cli_fail (cli, cli->error);
  return 0;
}
