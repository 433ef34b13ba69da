/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-path.c: `pinhole-cli path USER [--count N]`: like `tailscale ping`, once a second the
 * path the session with USER uses, its far end and the RTT of the latest probe. */
#include "cli-common.h"
#include "pinhole-error.h"

#include <glib-unix.h>

#define PROBE_INTERVAL_MS 1000

typedef struct
{
  Cli            *cli;
  const char     *user;
  PinholeSession *session;
  gint            count;
  gint            printed;
  guint           tick;
} PathRun;

/* why a session is on the relay; direct paths come with candidate gathering and checks */
static const char *
relay_reason (PathRun *run)
{
  if (pinhole_profile_get_relay_only (pinhole_client_get_profile (run->cli->client), run->user))
    return "relay-only by choice";
  return "no direct path search in this version";
}

static void
print_probe (PathRun *run)
{
  g_autoptr(JsonObject) fields = json_object_new ();
  PinholePath *path = pinhole_session_get_path (run->session);
  const char *kind = path ? pinhole_path_kind_to_string (pinhole_path_get_kind (path)) : "none";
  const char *remote = path ? pinhole_path_get_remote (path) : "";
  gdouble rtt = pinhole_session_get_rtt_ms (run->session);
  gboolean relayed = path == NULL || pinhole_path_get_kind (path) == PINHOLE_PATH_KIND_RELAY;
  g_autofree char *rtt_text = rtt >= 0 ? g_strdup_printf ("%.2f ms", rtt) : g_strdup ("no reply");

  json_object_set_string_member (fields, "contact", run->user);
  json_object_set_string_member (fields, "peer", pinhole_session_get_peer_id (run->session));
  json_object_set_string_member (fields, "path", kind);
  json_object_set_string_member (fields, "remote", remote);
  if (rtt >= 0)
    json_object_set_double_member (fields, "rtt_ms", rtt);
  else
    json_object_set_null_member (fields, "rtt_ms");
  if (relayed)
    json_object_set_string_member (fields, "reason", relay_reason (run));
  cli_event (run->cli, "path", fields, "%s via %s (%s) in %s%s%s", run->user, kind, remote,
             rtt_text, relayed ? ": " : "", relayed ? relay_reason (run) : "");
}

static gboolean
tick_cb (gpointer user_data)
{
  PathRun *run = user_data;

  if (pinhole_session_get_state (run->session) != PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      g_autoptr(GError) error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                             "the session with %s ended", run->user);
      run->tick = 0;
      cli_quit (run->cli, error);
      return G_SOURCE_REMOVE;
    }
  print_probe (run);
  if (run->count > 0 && ++run->printed >= run->count)
    {
      run->tick = 0;
      cli_quit (run->cli, NULL);
      return G_SOURCE_REMOVE;
    }
  pinhole_session_ping (run->session);
  return G_SOURCE_CONTINUE;
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
  pinhole_session_ping (run->session);
  run->tick = g_timeout_add (PROBE_INTERVAL_MS, tick_cb, run);
}

static gboolean
stop_cb (gpointer user_data)
{
  cli_quit (((PathRun *) user_data)->cli, NULL);
  return G_SOURCE_CONTINUE;
}

int
cli_path (Cli   *cli,
          int    argc,
          char **argv)
{
  PathRun run = { cli };
  GOptionEntry entries[] = {
    { "count", 'c', 0, G_OPTION_ARG_INT, &run.count, "stop after N probes (default: never)",
      "N" },
    { NULL }
  };
  guint sigint;

  if (!cli_parse_options ("path", "USER", entries, &argc, &argv))
    return 2;
  if (argc != 2)
    return cli_usage ("path", "expected USER");
  run.user = argv[1];
  if (!cli_login (cli, FALSE))
    return cli_fail (cli, cli->error);

  pinhole_client_open_session_async (cli->client, run.user, NULL, session_cb, &run);
  sigint = g_unix_signal_add (SIGINT, stop_cb, &run);
  cli_run (cli);
  g_source_remove (sigint);
  g_clear_handle_id (&run.tick, g_source_remove);
  g_clear_object (&run.session);
  if (cli->error != NULL)
    return cli_fail (cli, cli->error);
  return 0;
}
