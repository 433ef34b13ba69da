/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-remote-path.c: `pinhole-cli path USER` through the profile's running instance: the
 * instance opens (or keeps) the session and has its device probe while we watch; the
 * contact's object carries the live path and RTT, printed at once and then once a second, as
 * cli-path.c does with a session of its own. */
#define G_LOG_DOMAIN "pinhole-cli"

#include "cli-common.h"
#include "pinhole-error.h"

#include <glib-unix.h>

#define PROBE_INTERVAL_MS 1000

typedef struct
{
  Cli                *cli;
  const char         *user;
  PinholeDBusContact *contact;    /* owned */
  GCancellable       *cancellable; /* owned: the calls in flight */
  gboolean            verbose;
  gint                count;
  gint                printed;
  guint               tick;
  gulong              rtt_id;
} RemotePath;

static gboolean probe (RemotePath *run);

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

/* prints one line; Returns: whether to go on */
static gboolean
finish_probe (RemotePath *run,
              GVariant   *described)
{
  print_report (run, described);
  if (run->count > 0 && ++run->printed >= run->count)
    {
      cli_quit (run->cli, NULL);
      return FALSE;
    }
  return TRUE;
}

static gboolean
tick_cb (gpointer user_data)
{
  RemotePath *run = user_data;

  if (probe (run))
    return G_SOURCE_CONTINUE;
  run->tick = 0;
  return G_SOURCE_REMOVE;
}

static void
described_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  RemotePath *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) described = NULL;

  if (!pinhole_dbus_instance_call_describe_path_finish (PINHOLE_DBUS_INSTANCE (source),
                                                        &described, result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_debug ("describe: %s", error->message);
    }
  if (!finish_probe (run, described))
    g_clear_handle_id (&run->tick, g_source_remove);
}

/* Returns: whether to go on */
static gboolean
probe (RemotePath *run)
{
  if (g_strcmp0 (pinhole_dbus_contact_get_path_kind (run->contact), "none") == 0)
    {
      g_autoptr(GError) error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                             "the session with %s ended", run->user);
      cli_quit (run->cli, error);
      return FALSE;
    }
  /* the candidates tried, for --json and -v, from the instance; the line waits for them */
  if (run->cli->json || run->verbose)
    {
      pinhole_dbus_instance_call_describe_path (run->cli->remote, run->user, run->cancellable,
                                                described_cb, run);
      return TRUE;
    }
  return finish_probe (run, NULL);
}

/* the first line as soon as the first probe comes back, then one a second */
static void
first_rtt_cb (GObject    *object,
              GParamSpec *pspec,
              RemotePath *run)
{
  if (pinhole_dbus_contact_get_rtt_ms (run->contact) < 0)
    return;
  g_clear_signal_handler (&run->rtt_id, run->contact);
  g_clear_handle_id (&run->tick, g_source_remove);
  if (probe (run))
    run->tick = g_timeout_add (PROBE_INTERVAL_MS, tick_cb, run);
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
  run->rtt_id = g_signal_connect (run->contact, "notify::rtt-ms", G_CALLBACK (first_rtt_cb),
                                  run);
  /* a probe that gets no answer still prints after a second */
  run->tick = g_timeout_add (PROBE_INTERVAL_MS, tick_cb, run);
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

static gboolean
stop_cb (gpointer user_data)
{
  cli_quit (((RemotePath *) user_data)->cli, NULL);
  return G_SOURCE_CONTINUE;
}

/* `path` when cli->remote is the profile's instance; Returns: the exit status */
int
cli_remote_path (Cli        *cli,
                 const char *user,
                 gint        count,
                 gboolean    verbose)
{
  RemotePath run = { cli, user, NULL, g_cancellable_new (), verbose, count };
  guint sigint;

  pinhole_dbus_instance_call_open_path (cli->remote, user, run.cancellable, opened_cb, &run);
  sigint = g_unix_signal_add (SIGINT, stop_cb, &run);
  cli_run (cli);
  g_source_remove (sigint);
  g_clear_handle_id (&run.tick, g_source_remove);
  /* the calls in flight must not come back to @run, which is gone with this frame */
  g_cancellable_cancel (run.cancellable);
  if (run.contact != NULL)
    {
      g_clear_signal_handler (&run.rtt_id, run.contact);
      g_signal_handlers_disconnect_by_data (run.contact, &run);
    }
  g_clear_object (&run.contact);
  g_clear_object (&run.cancellable);
  if (cli->error != NULL)
    return cli_fail (cli, cli->error);
  return 0;
}
