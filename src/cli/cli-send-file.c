/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-send-file.c: `pinhole-cli send-file USER PATH...`: offers files and folders to USER's
 * online devices and prints progress (bytes, rate, ETA, the path in use) until the recipient
 * has verified everything (exit 0), or why not (exit 1). To a contact with no device online
 * the offer waits in the profile (exit 0 at once). */
#include "cli-common.h"
#include "pinhole-error.h"
#include "pinhole-transfer.h"

#include <string.h>

#define PROGRESS_INTERVAL_US (G_USEC_PER_SEC / 2)

typedef struct
{
  Cli             *cli;
  const char      *user;
  PinholeTransfer *transfer;   /* owned */
  gint64           last_progress;
} SendFileRun;

static void
print_progress (SendFileRun *run)
{
  PinholeTransfer *t = run->transfer;

  cli_transfer_progress (run->cli, pinhole_transfer_get_id (t),
                         pinhole_transfer_get_bytes_done (t), pinhole_transfer_get_bytes_total (t),
                         pinhole_transfer_get_rate (t), pinhole_transfer_get_current_path (t));
}

static void
bytes_cb (PinholeTransfer *t,
          GParamSpec      *pspec,
          SendFileRun     *run)
{
  gint64 now = g_get_monotonic_time ();

  if (now - run->last_progress < PROGRESS_INTERVAL_US &&
      pinhole_transfer_get_bytes_done (t) < pinhole_transfer_get_bytes_total (t))
    return;
  run->last_progress = now;
  print_progress (run);
}

static void
state_cb (PinholeTransfer *t,
          GParamSpec      *pspec,
          SendFileRun     *run)
{
  g_autoptr(GError) error = NULL;

  switch (pinhole_transfer_get_state (t))
    {
    case PINHOLE_TRANSFER_STATE_DONE:
      {
        g_autoptr(JsonObject) fields = json_object_new ();
        g_autofree char *size = g_format_size (pinhole_transfer_get_bytes_total (t));

        json_object_set_string_member (fields, "id", pinhole_transfer_get_id (t));
        json_object_set_int_member (fields, "bytes", (gint64) pinhole_transfer_get_bytes_total (t));
        json_object_set_int_member (fields, "sent", (gint64) pinhole_transfer_get_bytes_sent (t));
        cli_event (run->cli, "done", fields, "%s verified all %u entries (%s)", run->user,
                   pinhole_manifest_get_n_entries (pinhole_transfer_get_manifest (t)), size);
        cli_quit (run->cli, NULL);
      }
      return;
    case PINHOLE_TRANSFER_STATE_DECLINED:
      error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED, "%s declined the files",
                           run->user);
      break;
    case PINHOLE_TRANSFER_STATE_CANCELLED:
      error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED, "the transfer was cancelled");
      break;
    case PINHOLE_TRANSFER_STATE_FAILED:
      error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_FAILED, "the transfer failed: %s",
                           pinhole_transfer_get_error (t));
      break;
    case PINHOLE_TRANSFER_STATE_OFFERED:
      cli_event (run->cli, "offered", NULL, "offered to %s, waiting for an answer", run->user);
      return;
    case PINHOLE_TRANSFER_STATE_OFFERING:
    case PINHOLE_TRANSFER_STATE_RUNNING:
    case PINHOLE_TRANSFER_STATE_PAUSED:
    default:
      return;
    }
  {
    g_autoptr(JsonObject) fields = json_object_new ();

    json_object_set_string_member (fields, "id", pinhole_transfer_get_id (t));
    json_object_set_string_member (fields, "reason", error->message);
    if (run->cli->json)
      cli_event (run->cli, "failed", fields, "%s", error->message);
  }
  cli_quit (run->cli, error);
}

/* a run begins: the first, or after the recipient came back with what it holds */
static void
run_cb (PinholeTransfer *t,
        guint64          missing,
        SendFileRun     *run)
{
  cli_transfer_run_event (run->cli, t, missing);
}

static void
sent_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  SendFileRun *run = user_data;
  g_autoptr(GError) error = NULL;
  PinholeContact *contact;

  run->transfer = pinhole_client_send_files_finish (PINHOLE_CLIENT (source), result, &error);
  if (run->transfer == NULL)
    {
      cli_quit (run->cli, error);
      return;
    }
  g_signal_connect (run->transfer, "notify::state", G_CALLBACK (state_cb), run);
  g_signal_connect (run->transfer, "notify::bytes-done", G_CALLBACK (bytes_cb), run);
  g_signal_connect (run->transfer, "run-started", G_CALLBACK (run_cb), run);
  contact = pinhole_client_lookup_contact (run->cli->client, run->user);
  if (contact != NULL && pinhole_contact_get_presence (contact) == PINHOLE_PRESENCE_OFFLINE)
    {
      g_autoptr(JsonObject) fields = json_object_new ();

      /* the profile keeps it: the next instance of this profile offers it when it can */
      json_object_set_string_member (fields, "id", pinhole_transfer_get_id (run->transfer));
      cli_event (run->cli, "waiting", fields,
                 "%s has no device online: transfer %s waits in this profile and goes out "
                 "when a device of %s comes online (while `listen` or the app runs)", run->user,
                 pinhole_transfer_get_id (run->transfer), run->user);
      cli_quit (run->cli, NULL);
      return;
    }
  state_cb (run->transfer, NULL, run);
}

int
cli_send_file (Cli   *cli,
               int    argc,
               char **argv)
{
  GOptionEntry entries[] = { { NULL } };
  SendFileRun run = { cli };

  if (!cli_parse_options ("send-file", "USER PATH...", entries, &argc, &argv))
    return 2;
  if (argc < 3)
    return cli_usage ("send-file", "expected USER and at least one PATH");
  run.user = argv[1];
  cli->direct_paths = TRUE;
  if (!cli_check_server (cli))
    return cli_fail (cli, cli->error);
  if (cli_find_instance (cli))
    {
      g_autoptr(GError) error =
        g_error_new_literal (PINHOLE_ERROR, PINHOLE_ERROR_BUSY,
                             "send-file does not go through a running listen yet: stop it, "
                             "or send from another profile");
      return cli_fail (cli, error);
    }
  /* announced: a transfer may last, and a recipient that restarts must see us online to
   * carry it on */
  if (!cli_login (cli, TRUE))
    return cli_fail (cli, cli->error);
  pinhole_client_send_files_async (cli->client, run.user, (const char *const *) argv + 2, NULL,
                                   sent_cb, &run);
  cli_run (cli);
  if (run.transfer != NULL)
    g_signal_handlers_disconnect_by_data (run.transfer, &run);
  g_clear_object (&run.transfer);
  if (cli->error != NULL)
    return cli_fail (cli, cli->error);
  return 0;
}
