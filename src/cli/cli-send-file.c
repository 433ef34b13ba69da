/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-send-file.c: `pinhole-cli send-file USER PATH...`: offers files and folders to USER's
 * online devices and prints progress (bytes, rate, ETA, the path in use) until the recipient
 * has verified everything (exit 0), or why not (exit 1). To a contact with no device online
 * the offer waits in the profile (exit 0 at once). With the profile's instance running
 * (`listen`, the app), the instance sends them and this follows its TransferChanged; an
 * interrupted send-file leaves the transfer to the instance. */
#include "cli-common.h"
#include "pinhole-error.h"
#include "pinhole-transfer.h"

#include <string.h>

typedef struct
{
  Cli             *cli;
  const char      *user;
  PinholeTransfer *transfer;   /* owned */
  char            *id;         /* owned, through the instance */
  gint64           last_progress;
} SendFileRun;

static void
bytes_cb (PinholeTransfer *t,
          GParamSpec      *pspec,
          SendFileRun     *run)
{
  cli_transfer_progress (run->cli, &run->last_progress, pinhole_transfer_get_id (t),
                         pinhole_transfer_get_bytes_done (t), pinhole_transfer_get_bytes_total (t),
                         pinhole_transfer_get_rate (t), pinhole_transfer_get_current_path (t));
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

/* ---- through the running instance ---- */

static void
remote_changed_cb (PinholeDBusInstance *proxy,
                   const char          *id,
                   const char          *direction,
                   const char          *state,
                   guint64              bytes,
                   guint64              total,
                   gdouble              rate,
                   const char          *path,
                   const char          *reason,
                   const char          *sha256,
                   SendFileRun         *run)
{
  g_autoptr(JsonObject) fields = json_object_new ();
  g_autoptr(GError) error = NULL;

  if (run->id == NULL || strcmp (id, run->id) != 0)
    return;
  json_object_set_string_member (fields, "id", id);
  if (strcmp (state, "running") == 0 || strcmp (state, "paused") == 0)
    {
      cli_transfer_progress (run->cli, &run->last_progress, id, bytes, total, rate, path);
      return;
    }
  if (strcmp (state, "offered") == 0)
    {
      cli_event (run->cli, "offered", NULL, "offered to %s, waiting for an answer", run->user);
      return;
    }
  if (strcmp (state, "done") == 0)
    {
      g_autofree char *size = g_format_size (total);

      json_object_set_int_member (fields, "bytes", (gint64) total);
      cli_event (run->cli, "done", fields, "%s verified everything (%s)", run->user, size);
      cli_quit (run->cli, NULL);
      return;
    }
  if (strcmp (state, "declined") == 0)
    error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED, "%s declined the files",
                         run->user);
  else if (strcmp (state, "cancelled") == 0)
    error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED, "the transfer was cancelled");
  else if (strcmp (state, "failed") == 0)
    error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_FAILED, "the transfer failed: %s",
                         reason);
  else
    return;
  json_object_set_string_member (fields, "reason", error->message);
  if (run->cli->json)
    cli_event (run->cli, "failed", fields, "%s", error->message);
  cli_quit (run->cli, error);
}

static int
send_remote (SendFileRun *run,
             char       **paths)
{
  Cli *cli = run->cli;
  CliWait w = { cli };
  g_autoptr(GPtrArray) absolute = g_ptr_array_new_with_free_func (g_free);
  gboolean waiting = FALSE, ok;
  gulong changed;

  /* the instance runs elsewhere: it reads the files by their absolute names */
  for (guint i = 0; paths[i] != NULL; i++)
    g_ptr_array_add (absolute, g_canonicalize_filename (paths[i], NULL));
  g_ptr_array_add (absolute, NULL);
  changed = g_signal_connect (cli->remote, "transfer-changed", G_CALLBACK (remote_changed_cb),
                              run);
  pinhole_dbus_instance_call_send_files (cli->remote, run->user,
                                         (const char *const *) absolute->pdata, NULL,
                                         cli_wait_cb, &w);
  ok = pinhole_dbus_instance_call_send_files_finish (cli->remote, &run->id, &waiting,
                                                     cli_wait_result (&w), &cli->error);
  g_clear_object (&w.result);
  if (!cli_strip_remote (ok, &cli->error))
    {
      g_clear_signal_handler (&changed, cli->remote);
      return cli_fail (cli, cli->error);
    }
  if (waiting)
    {
      g_autoptr(JsonObject) fields = json_object_new ();

      json_object_set_string_member (fields, "id", run->id);
      cli_event (cli, "waiting", fields,
                 "%s has no device online: transfer %s waits in this profile and goes out "
                 "when a device of %s comes online (while `listen` or the app runs)", run->user,
                 run->id, run->user);
    }
  else
    cli_run (cli);
  g_clear_signal_handler (&changed, cli->remote);
  g_clear_pointer (&run->id, g_free);
  if (cli->error != NULL)
    return cli_fail (cli, cli->error);
  return 0;
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
    return send_remote (&run, argv + 2);
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
