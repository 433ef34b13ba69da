/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-send.c: `pinhole-cli send USER TEXT` and `send USER -` (one message per line of standard
 * input, sent in order over one session, a bounded number in flight). */
#include "cli-common.h"
#include "pinhole-error.h"

#include <gio/gunixinputstream.h>
#include <string.h>

#define IN_FLIGHT_MAX 64
/* through a running instance, which serves other callers too (PINHOLE_INSTANCE_MAX_CALLS) */
#define IN_FLIGHT_REMOTE_MAX 16

typedef struct
{
  Cli              *cli;
  const char       *user;
  GDataInputStream *input;     /* NULL for a single TEXT */
  guint             in_flight;
  guint             sent;
  guint             delivered;
  guint             stored;
  gboolean          eof;
  gboolean          reading;
} SendRun;

static void read_next (SendRun *run);

static void
maybe_done (SendRun *run)
{
  if (run->in_flight == 0 && (run->input == NULL || run->eof))
    cli_quit (run->cli, NULL);
}

static void
sent_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  SendRun *run = user_data;
  g_autoptr(GError) error = NULL;
  guint live = 0, stored = 0;

  run->in_flight--;
  if (!cli_send_message_finish (run->cli, result, &live, &stored, &error))
    {
      cli_quit (run->cli, error);
      return;
    }
  run->sent++;
  run->delivered += live > 0;
  run->stored += live == 0 && stored > 0;
  if (run->cli->json || run->input == NULL)
    {
      g_autoptr(JsonObject) fields = json_object_new ();

      json_object_set_string_member (fields, "to", run->user);
      json_object_set_int_member (fields, "delivered", live);
      json_object_set_int_member (fields, "stored", stored);
      cli_event (run->cli, "sent", fields, live > 0 ? "delivered to %s"
                                                    : "stored for %s until a device is online",
                 run->user);
    }
  if (run->input != NULL && !run->reading && !run->eof)
    read_next (run);
  maybe_done (run);
}

static void
line_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  SendRun *run = user_data;
  g_autoptr(GError) error = NULL;
  gsize len;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (run->input, result, &len,
                                                                     &error);

  run->reading = FALSE;
  if (error != NULL)
    {
      cli_quit (run->cli, error);
      return;
    }
  if (line == NULL)
    {
      run->eof = TRUE;
      maybe_done (run);
      return;
    }
  if (len > 0 && line[len - 1] == '\r')
    line[--len] = '\0';
  if (len > 0)
    {
      run->in_flight++;
      cli_send_message_async (run->cli, run->user, line, sent_cb, run);
    }
  if (run->in_flight < (run->cli->remote != NULL ? IN_FLIGHT_REMOTE_MAX : IN_FLIGHT_MAX))
    read_next (run);
}

static void
read_next (SendRun *run)
{
  run->reading = TRUE;
  g_data_input_stream_read_line_async (run->input, G_PRIORITY_DEFAULT, NULL, line_cb, run);
}

int
cli_send (Cli   *cli,
          int    argc,
          char **argv)
{
  GOptionEntry entries[] = { { NULL } };
  SendRun run = { cli };

  if (!cli_parse_options ("send", "USER TEXT|-", entries, &argc, &argv))
    return 2;
  if (argc != 3)
    return cli_usage ("send", "expected USER and TEXT (or - for standard input)");
  run.user = argv[1];
  /* a stream of lines may last: it looks for a direct path like listen; one message does not */
  cli->direct_paths = strcmp (argv[2], "-") == 0;
  if (!cli_connect (cli))
    return cli_fail (cli, cli->error);

  if (strcmp (argv[2], "-") == 0)
    {
      g_autoptr(GInputStream) in = g_unix_input_stream_new (0, FALSE);

      run.input = g_data_input_stream_new (in);
      g_data_input_stream_set_newline_type (run.input, G_DATA_STREAM_NEWLINE_TYPE_LF);
      read_next (&run);
    }
  else
    {
      run.in_flight = 1;
      cli_send_message_async (cli, run.user, argv[2], sent_cb, &run);
    }
  cli_run (cli);
  g_clear_object (&run.input);
  if (cli->error != NULL)
    return cli_fail (cli, cli->error);
  if (!cli->json && strcmp (argv[2], "-") == 0)
    cli_event (cli, "sent", NULL, "sent %u messages to %s: %u delivered, %u stored for offline "
               "devices", run.sent, run.user, run.delivered, run.stored);
  return 0;
}
