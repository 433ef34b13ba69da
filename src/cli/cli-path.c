/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-path.c: `pinhole-cli path USER [--count N] [--verbose]`: like `tailscale ping`, the path
 * the session with USER uses, its far end and the RTT of the latest probe: at once, then once
 * a second, so that the move from the relay to a direct path shows live. */
#include "cli-common.h"
#include "pinhole-error.h"

#include <glib-unix.h>
#include <stdio.h>

#define PROBE_INTERVAL_MS 1000

typedef struct
{
  Cli            *cli;
  const char     *user;
  PinholeSession *session;
  gboolean        verbose;
  gint            count;
  gint            printed;
  guint           tick;
  gulong          rtt_id;
} PathRun;

static void
print_probe (PathRun *run)
{
  g_autoptr(JsonObject) report = pinhole_client_dup_path_report (run->cli->client, run->user);
  const char *path, *remote, *reason;
  gdouble rtt;
  g_autofree char *rtt_text = NULL;

  if (report == NULL)
    return;
  json_object_set_string_member (report, "user", run->user);
  /* "contact" is the old name of "user": an alias until 0.2 (README.md) */
  json_object_set_string_member (report, "contact", run->user);
  path = json_object_get_string_member (report, "path");
  remote = json_object_get_string_member (report, "remote");
  reason = json_object_get_string_member_with_default (report, "reason", NULL);
  rtt = json_object_get_null_member (report, "rtt_ms") ? -1
        : json_object_get_double_member (report, "rtt_ms");
  rtt_text = rtt >= 0 ? g_strdup_printf ("%.2f ms", rtt) : g_strdup ("no reply yet");
  if (!run->cli->json && !run->verbose)
    json_object_remove_member (report, "candidates");
  cli_event (run->cli, "path", report, "%s via %s (%s) in %s%s%s", run->user, path, remote,
             rtt_text, reason ? ": " : "", reason ? reason : "");
  if (run->verbose && !run->cli->json && json_object_has_member (report, "candidates"))
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

static gboolean
probe (PathRun *run)
{
  if (pinhole_session_get_state (run->session) != PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      g_autoptr(GError) error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                             "the session with %s ended", run->user);
      cli_quit (run->cli, error);
      return FALSE;
    }
  print_probe (run);
  if (run->count > 0 && ++run->printed >= run->count)
    {
      cli_quit (run->cli, NULL);
      return FALSE;
    }
  pinhole_session_ping (run->session);
  return TRUE;
}

static gboolean
tick_cb (gpointer user_data)
{
  PathRun *run = user_data;

  if (probe (run))
    return G_SOURCE_CONTINUE;
  run->tick = 0;
  return G_SOURCE_REMOVE;
}

/* the first line as soon as the first probe comes back, then one a second */
static void
first_rtt_cb (GObject    *object,
              GParamSpec *pspec,
              PathRun    *run)
{
  g_clear_signal_handler (&run->rtt_id, run->session);
  g_clear_handle_id (&run->tick, g_source_remove);
  if (probe (run))
    run->tick = g_timeout_add (PROBE_INTERVAL_MS, tick_cb, run);
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
  run->rtt_id = g_signal_connect (run->session, "notify::rtt-ms", G_CALLBACK (first_rtt_cb),
                                  run);
  pinhole_session_ping (run->session);
  /* a probe that gets no answer still prints after a second */
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
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &run.verbose,
      "also print the candidates tried and what this network allows", NULL },
    { NULL }
  };
  guint sigint;

  if (!cli_parse_options ("path", "USER", entries, &argc, &argv))
    return 2;
  if (argc != 2)
    return cli_usage ("path", "expected USER");
  run.user = argv[1];
  cli->direct_paths = TRUE;
  if (!cli_connect (cli))
    return cli_fail (cli, cli->error);
  if (cli->remote != NULL)
    return cli_remote_path (cli, run.user, run.count, run.verbose);

  pinhole_client_open_session_async (cli->client, run.user, NULL, session_cb, &run);
  sigint = g_unix_signal_add (SIGINT, stop_cb, &run);
  cli_run (cli);
  g_source_remove (sigint);
  g_clear_handle_id (&run.tick, g_source_remove);
  if (run.session != NULL)
    g_clear_signal_handler (&run.rtt_id, run.session);
  g_clear_object (&run.session);
  if (cli->error != NULL)
    return cli_fail (cli, cli->error);
  return 0;
}
