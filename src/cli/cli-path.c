/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-path.c: `pinhole-cli path USER [--count N] [--verbose]`: like `tailscale ping`, the path
 * the session with USER uses, its far end and the RTT of the latest probe: at once, then once
 * a second, so that the move from the relay to a direct path shows live. It prints the
 * device's properties; the device probes while the command watches. */
#include "cli-common.h"
#include "pinhole-error.h"

#include <stdio.h>

typedef struct
{
  Cli            *cli;
  const char     *user;
  PinholeSession *session;
  PinholeDevice  *device;    /* the device of the session, probing while we watch */
  gboolean        verbose;
  CliPathPace     pace;
} PathRun;

/* the report of one probe: the properties of the device the session with USER uses */
static JsonObject *
path_report (PathRun       *run,
             PinholeDevice *device)
{
  JsonObject *o = json_object_new ();
  PinholePathKind kind = pinhole_device_get_path_kind (device);
  gdouble rtt = pinhole_device_get_rtt_ms (device);
  const char *reason = pinhole_device_get_relay_reason_text (device);
  g_autoptr(GPtrArray) checks = pinhole_device_dup_checks (device);
  g_autofree char *mine = pinhole_client_dup_network_description (run->cli->client);
  const PinholeNatInfo *theirs = pinhole_device_get_nat (device);

  json_object_set_string_member (o, "path", pinhole_path_kind_to_string (kind));
  json_object_set_string_member (o, "remote", pinhole_device_get_remote (device));
  if (rtt >= 0)
    json_object_set_double_member (o, "rtt_ms", rtt);
  else
    json_object_set_null_member (o, "rtt_ms");
  json_object_set_string_member (o, "peer", pinhole_device_get_id (device));
  if (reason != NULL)
    json_object_set_string_member (o, "reason", reason);
  if (checks != NULL && (run->cli->json || run->verbose))
    {
      JsonArray *array = json_array_new ();

      for (guint i = 0; i < checks->len; i++)
        json_array_add_string_element (array, g_ptr_array_index (checks, i));
      json_object_set_array_member (o, "candidates", array);
    }
  if (mine != NULL)
    json_object_set_string_member (o, "this_network", mine);
  if (theirs != NULL)
    json_object_set_object_member (o, "their_network", pinhole_nat_info_to_json (theirs));
  return o;
}

/**
 * cli_path_print:
 * @report: {"path", "remote", "rtt_ms" (or null), "peer", and where known "reason",
 *   "candidates", "this_network", "their_network"}, of a session of this command's own or
 *   of the running instance's (cli-remote-path.c)
 * Prints one `path` event: the line, and with @verbose the candidates tried and this network.
 */
void
cli_path_print (Cli        *cli,
                const char *user,
                JsonObject *report,
                gboolean    verbose)
{
  const char *reason = json_object_get_string_member_with_default (report, "reason", NULL);
  gdouble rtt = json_object_get_null_member (report, "rtt_ms")
                ? -1 : json_object_get_double_member (report, "rtt_ms");
  g_autofree char *rtt_text = rtt >= 0 ? g_strdup_printf ("%.2f ms", rtt)
                                       : g_strdup ("no reply yet");

  json_object_set_string_member (report, "user", user);
  /* "contact" is the old name of "user": an alias until 0.2 (README.md) */
  json_object_set_string_member (report, "contact", user);
  cli_event (cli, "path", report, "%s via %s (%s) in %s%s%s", user,
             json_object_get_string_member (report, "path"),
             json_object_get_string_member (report, "remote"), rtt_text, reason ? ": " : "",
             reason ? reason : "");
  if (verbose && !cli->json && json_object_has_member (report, "candidates"))
    {
      JsonArray *tried = json_object_get_array_member (report, "candidates");

      for (guint i = 0; i < json_array_get_length (tried); i++)
        cli_line (stdout, "    %s", json_array_get_string_element (tried, i));
      if (json_object_has_member (report, "this_network"))
        cli_line (stdout, "    this network: %s",
                  json_object_get_string_member (report, "this_network"));
      fflush (stdout);
    }
}

static void
print_probe (PathRun *run)
{
  g_autoptr(JsonObject) report = NULL;

  if (!pinhole_device_is_connected (run->device))
    return;
  report = path_report (run, run->device);
  cli_path_print (run->cli, run->user, report, run->verbose);
}

/* one line of the pace; Returns: whether to go on */
static gboolean
probe (gpointer data)
{
  PathRun *run = data;

  if (pinhole_session_get_state (run->session) != PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      g_autoptr(GError) error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                             "the session with %s ended", run->user);
      cli_quit (run->cli, error);
      return FALSE;
    }
  print_probe (run);
  return TRUE;
}

/* Returns: (transfer full) (nullable): the device of @user whose session is @session */
static PinholeDevice *
find_device (PinholeClient  *client,
             const char     *user,
             PinholeSession *session)
{
  PinholeContact *contact = pinhole_client_lookup_contact (client, user);
  GListModel *devices = contact ? pinhole_contact_get_devices (contact) : NULL;

  for (guint i = 0; devices != NULL && i < g_list_model_get_n_items (devices); i++)
    {
      g_autoptr(PinholeDevice) d = g_list_model_get_item (devices, i);

      if (pinhole_device_get_session (d) == session)
        return g_steal_pointer (&d);
    }
  return NULL;
}

static void
session_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  PathRun *run = user_data;
  g_autoptr(GError) error = NULL;

  run->session = pinhole_client_open_session_finish (PINHOLE_CLIENT (source), result, &error);
  if (run->session == NULL)
    {
      cli_quit (run->cli, error);
      return;
    }
  run->device = find_device (run->cli->client, run->user, run->session);
  if (run->device == NULL)
    {
      g_autoptr(GError) lost = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                            "the session with %s ended", run->user);
      cli_quit (run->cli, lost);
      return;
    }
  /* the device probes once a second while we watch */
  pinhole_device_hold_probes (run->device);
  cli_path_pace_start (&run->pace, G_OBJECT (run->device));
}

int
cli_path (Cli   *cli,
          int    argc,
          char **argv)
{
  PathRun run = { cli, .pace = { cli, .line = probe, .data = &run } };
  GOptionEntry entries[] = {
    { "count", 'c', 0, G_OPTION_ARG_INT, &run.pace.count,
      "stop after N probes (default: never)", "N" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &run.verbose,
      "also print the candidates tried and what this network allows", NULL },
    { NULL }
  };

  if (!cli_parse_options ("path", "USER", entries, &argc, &argv))
    return 2;
  if (argc != 2)
    return cli_usage ("path", "expected USER");
  run.user = argv[1];
  cli->direct_paths = TRUE;
  if (!cli_connect (cli))
    return cli_fail (cli, cli->error);
  if (cli->remote != NULL)
    return cli_remote_path (cli, run.user, run.pace.count, run.verbose);

  pinhole_client_open_session_async (cli->client, run.user, NULL, session_cb, &run);
  cli_path_pace_run (&run.pace);
  if (run.device != NULL)
    pinhole_device_release_probes (run.device);
  g_clear_object (&run.device);
  g_clear_object (&run.session);
  if (cli->error != NULL)
    return cli_fail (cli, cli->error);
  return 0;
}
