/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-path-pace.c: the pace of `pinhole-cli path`, the same whether the command watches a
 * session of its own (cli-path.c) or the running instance's (cli-remote-path.c): a line as
 * soon as the first probe answers, or after a second if none does, then one a second, until
 * --count lines or Ctrl-C. */
#include "cli-common.h"

#include <glib-unix.h>

#define PROBE_INTERVAL_MS 1000

/* Returns: whether to go on */
static gboolean
pace_line (CliPathPace *pace)
{
  if (!pace->line (pace->data))
    return FALSE;
  if (pace->count > 0 && ++pace->printed >= pace->count)
    {
      cli_quit (pace->cli, NULL);
      return FALSE;
    }
  return TRUE;
}

static gboolean
tick_cb (gpointer user_data)
{
  CliPathPace *pace = user_data;

  if (pace_line (pace))
    return G_SOURCE_CONTINUE;
  pace->tick = 0;
  return G_SOURCE_REMOVE;
}

static void
first_rtt_cb (GObject     *object,
              GParamSpec  *pspec,
              CliPathPace *pace)
{
  g_clear_signal_handler (&pace->rtt_id, pace->rtt_object);
  g_clear_handle_id (&pace->tick, g_source_remove);
  if (pace_line (pace))
    pace->tick = g_timeout_add (PROBE_INTERVAL_MS, tick_cb, pace);
}

/**
 * cli_path_pace_start:
 * @rtt_object: what notifies `rtt-ms` when a probe answers (a device, a contact's proxy); the
 *   pace holds a reference until cli_path_pace_stop()
 * Starts the lines; pace->line prints one and says whether to go on.
 */
void
cli_path_pace_start (CliPathPace *pace,
                     GObject     *rtt_object)
{
  pace->rtt_object = g_object_ref (rtt_object);
  pace->rtt_id = g_signal_connect (rtt_object, "notify::rtt-ms", G_CALLBACK (first_rtt_cb),
                                   pace);
  /* a probe that gets no answer still prints after a second */
  pace->tick = g_timeout_add (PROBE_INTERVAL_MS, tick_cb, pace);
}

static gboolean
stop_cb (gpointer user_data)
{
  cli_quit (((CliPathPace *) user_data)->cli, NULL);
  return G_SOURCE_CONTINUE;
}

/* runs the command until its end (the count, an error, Ctrl-C), then stops the lines */
void
cli_path_pace_run (CliPathPace *pace)
{
  guint sigint = g_unix_signal_add (SIGINT, stop_cb, pace);

  cli_run (pace->cli);
  g_source_remove (sigint);
  g_clear_handle_id (&pace->tick, g_source_remove);
  if (pace->rtt_object != NULL)
    g_clear_signal_handler (&pace->rtt_id, pace->rtt_object);
  g_clear_object (&pace->rtt_object);
}
