/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-transfer-control.c: `accept ID [--to DIR]`, `decline ID`, `pause ID`, `resume ID`,
 * `cancel ID`. Through the profile's running instance when there is one; otherwise one-shot:
 * log in, take up the profile's transfers, wait for the transfer's session, act, and exit
 * once it is settled: the peer has the message, or, for accept, the files are verified (exit
 * 0) or the transfer failed (exit 1). */
#define G_LOG_DOMAIN "pinhole-cli"

#include "cli-common.h"
#include "pinhole-error.h"

#include <string.h>

/* how long a one-shot waits for the transfer's session (the peer must be online) */
#define LINK_WAIT_S   30
/* and then for the peer to acknowledge what it was sent */
#define FLUSH_WAIT_S  10

static const char *const verbs[] = {
  [PINHOLE_TRANSFER_ACTION_ACCEPT] = "accepted",
  [PINHOLE_TRANSFER_ACTION_DECLINE] = "declined",
  [PINHOLE_TRANSFER_ACTION_PAUSE] = "paused",
  [PINHOLE_TRANSFER_ACTION_RESUME] = "resumed",
  [PINHOLE_TRANSFER_ACTION_CANCEL] = "cancelled",
};

typedef struct
{
  Cli                   *cli;
  const char            *id;
  PinholeTransferAction  action;
  char                  *folder;      /* owned: absolute */
  PinholeTransfer       *transfer;    /* owned, one-shot */
  guint                  deadline;
  guint                  idle;
  gboolean               acted;
  gint64                 last_progress;
} Control;

static void
print_acted (Control *c)
{
  g_autoptr(JsonObject) fields = json_object_new ();

  json_object_set_string_member (fields, "id", c->id);
  json_object_set_string_member (fields, "action", verbs[c->action]);
  cli_event (c->cli, verbs[c->action], fields, "transfer %s %s", c->id, verbs[c->action]);
}

/* the end of an accepted transfer: done (with the SHA-256 of a single file) or why not */
static void
print_end (Control    *c,
           const char *state,
           guint64     bytes,
           const char *reason,
           const char *sha256)
{
  g_autoptr(JsonObject) fields = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (fields, "id", c->id);
  if (strcmp (state, "done") == 0)
    {
      json_object_set_int_member (fields, "bytes", (gint64) bytes);
      if (sha256 != NULL && *sha256 != '\0')
        json_object_set_string_member (fields, "sha256", sha256);
      cli_event (c->cli, "done", fields, "transfer %s: all files verified%s%s", c->id,
                 sha256 != NULL && *sha256 != '\0' ? ", SHA-256 " : "",
                 sha256 != NULL ? sha256 : "");
      cli_quit (c->cli, NULL);
      return;
    }
  error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_FAILED, "transfer %s %s%s%s", c->id,
                       state, reason != NULL && *reason != '\0' ? ": " : "",
                       reason != NULL ? reason : "");
  json_object_set_string_member (fields, "state", state);
  json_object_set_string_member (fields, "reason", error->message);
  if (c->cli->json)
    cli_event (c->cli, "failed", fields, "%s", error->message);
  cli_quit (c->cli, error);
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
                   Control             *c)
{
  if (strcmp (id, c->id) != 0 || !c->acted)
    return;
  if (strcmp (state, "running") == 0 || strcmp (state, "paused") == 0)
    {
      cli_transfer_progress (c->cli, &c->last_progress, id, bytes, total, rate, path);
      return;
    }
  if (strcmp (state, "done") == 0 || strcmp (state, "failed") == 0 ||
      strcmp (state, "cancelled") == 0 || strcmp (state, "declined") == 0)
    print_end (c, state, bytes, reason, sha256);
}

static int
control_remote (Control *c)
{
  Cli *cli = c->cli;
  CliWait w = { cli };
  gboolean ok = FALSE;
  gulong changed = 0;

  if (c->action == PINHOLE_TRANSFER_ACTION_ACCEPT)
    changed = g_signal_connect (cli->remote, "transfer-changed", G_CALLBACK (remote_changed_cb),
                                c);
  switch (c->action)
    {
    case PINHOLE_TRANSFER_ACTION_ACCEPT:
      pinhole_dbus_instance_call_accept_transfer (cli->remote, c->id, c->folder, NULL,
                                                  cli_wait_cb, &w);
      ok = pinhole_dbus_instance_call_accept_transfer_finish (cli->remote, cli_wait_result (&w),
                                                              &cli->error);
      break;
    case PINHOLE_TRANSFER_ACTION_DECLINE:
      pinhole_dbus_instance_call_decline_transfer (cli->remote, c->id, NULL, cli_wait_cb, &w);
      ok = pinhole_dbus_instance_call_decline_transfer_finish (cli->remote,
                                                               cli_wait_result (&w),
                                                               &cli->error);
      break;
    case PINHOLE_TRANSFER_ACTION_PAUSE:
      pinhole_dbus_instance_call_pause_transfer (cli->remote, c->id, NULL, cli_wait_cb, &w);
      ok = pinhole_dbus_instance_call_pause_transfer_finish (cli->remote, cli_wait_result (&w),
                                                             &cli->error);
      break;
    case PINHOLE_TRANSFER_ACTION_RESUME:
      pinhole_dbus_instance_call_resume_transfer (cli->remote, c->id, NULL, cli_wait_cb, &w);
      ok = pinhole_dbus_instance_call_resume_transfer_finish (cli->remote, cli_wait_result (&w),
                                                              &cli->error);
      break;
    case PINHOLE_TRANSFER_ACTION_CANCEL:
      pinhole_dbus_instance_call_cancel_transfer (cli->remote, c->id, NULL, cli_wait_cb, &w);
      ok = pinhole_dbus_instance_call_cancel_transfer_finish (cli->remote, cli_wait_result (&w),
                                                              &cli->error);
      break;
    default:
      g_assert_not_reached ();
    }
  g_clear_object (&w.result);
  if (!cli_strip_remote (ok, &cli->error))
    {
      g_clear_signal_handler (&changed, cli->remote);
      return cli_fail (cli, cli->error);
    }
  c->acted = TRUE;
  print_acted (c);
  if (c->action == PINHOLE_TRANSFER_ACTION_ACCEPT)
    {
      cli_run (cli);
      g_clear_signal_handler (&changed, cli->remote);
    }
  if (cli->error != NULL)
    return cli_fail (cli, cli->error);
  return 0;
}

/* ---- one-shot ---- */

static void
bytes_cb (PinholeTransfer *t,
          GParamSpec      *pspec,
          Control         *c)
{
  const char *path = pinhole_transfer_get_current_path (t);

  cli_transfer_progress (c->cli, &c->last_progress, c->id, pinhole_transfer_get_bytes_done (t),
                         pinhole_transfer_get_bytes_total (t), pinhole_transfer_get_rate (t),
                         path);
}

static void
state_cb (PinholeTransfer *t,
          GParamSpec      *pspec,
          Control         *c)
{
  PinholeManifest *m = pinhole_transfer_get_manifest (t);
  char hex[65] = "";

  if (!pinhole_transfer_is_over (t))
    return;
  if (pinhole_transfer_get_state (t) == PINHOLE_TRANSFER_STATE_DONE &&
      pinhole_manifest_get_n_entries (m) == 1 && !pinhole_manifest_get_entry (m, 0)->folder)
    pinhole_sha256_to_hex (pinhole_manifest_get_entry (m, 0)->sha256, hex);
  print_end (c, pinhole_transfer_state_to_string (pinhole_transfer_get_state (t)),
             pinhole_transfer_get_bytes_total (t), pinhole_transfer_get_error (t), hex);
}

static void
flushed_cb (PinholeTransfer *t,
            Control         *c)
{
  if (c->acted && c->action != PINHOLE_TRANSFER_ACTION_ACCEPT)
    cli_quit (c->cli, NULL);
}

/* the peer did not acknowledge in time: it hears of it on the next session, or not */
static gboolean
flush_deadline_cb (gpointer data)
{
  Control *c = data;

  c->deadline = 0;
  cli_line (stderr, "transfer %s: %s did not confirm it within %d s", c->id,
            pinhole_transfer_get_peer (c->transfer), FLUSH_WAIT_S);
  cli_quit (c->cli, NULL);
  return G_SOURCE_REMOVE;
}

static void
act (Control *c)
{
  g_autoptr(GError) error = NULL;

  g_clear_handle_id (&c->deadline, g_source_remove);
  if (c->action == PINHOLE_TRANSFER_ACTION_ACCEPT)
    cli_transfer_offer_event (c->cli, c->transfer);
  if (!pinhole_client_control_transfer (c->cli->client, c->id, c->action, c->folder, &error))
    {
      cli_quit (c->cli, error);
      return;
    }
  c->acted = TRUE;
  print_acted (c);
  if (c->action == PINHOLE_TRANSFER_ACTION_ACCEPT)
    return;   /* the files come: state_cb ends it */
  if (pinhole_transfer_is_flushed (c->transfer))
    {
      cli_quit (c->cli, NULL);
      return;
    }
  c->deadline = g_timeout_add_seconds (FLUSH_WAIT_S, flush_deadline_cb, c);
}

static gboolean
act_idle_cb (gpointer data)
{
  Control *c = data;

  c->idle = 0;
  if (!c->acted)
    act (c);
  return G_SOURCE_REMOVE;
}

/* after the link has set the transfer up on its session */
static void
linked_cb (PinholeTransfer *t,
           Control         *c)
{
  if (c->idle == 0 && !c->acted)
    c->idle = g_idle_add (act_idle_cb, c);
}

static gboolean
link_deadline_cb (gpointer data)
{
  Control *c = data;
  g_autoptr(GError) error = NULL;

  c->deadline = 0;
  /* what needs no peer is done here all the same: the peer hears of it on a later session */
  if (c->action == PINHOLE_TRANSFER_ACTION_CANCEL || c->action == PINHOLE_TRANSFER_ACTION_DECLINE)
    {
      cli_line (stderr, "transfer %s: %s is not online; %s here only", c->id,
                pinhole_transfer_get_peer (c->transfer), verbs[c->action]);
      act (c);
      return G_SOURCE_REMOVE;
    }
  error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH,
                       "no session with %s for transfer %s within %d s: is %s online?",
                       pinhole_transfer_get_peer (c->transfer), c->id, LINK_WAIT_S,
                       pinhole_transfer_get_peer (c->transfer));
  cli_quit (c->cli, error);
  return G_SOURCE_REMOVE;
}

static void
take (Control         *c,
      PinholeTransfer *t);

/* an offer this profile has not seen yet: the sender offers it when it sees us online */
static void
transfers_changed_cb (GListModel *list,
                      guint       position,
                      guint       removed,
                      guint       added,
                      Control    *c)
{
  for (guint i = position; c->transfer == NULL && i < position + added; i++)
    {
      g_autoptr(PinholeTransfer) t = g_list_model_get_item (list, i);

      if (strcmp (pinhole_transfer_get_id (t), c->id) == 0)
        take (c, t);
    }
}

static gboolean
offer_deadline_cb (gpointer data)
{
  Control *c = data;
  g_autoptr(GError) error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND,
                                         "no transfer %s here, and no such offer came within "
                                         "%d s", c->id, LINK_WAIT_S);

  c->deadline = 0;
  cli_quit (c->cli, error);
  return G_SOURCE_REMOVE;
}

static int
control_here (Control *c)
{
  Cli *cli = c->cli;
  GListModel *list;
  PinholeTransfer *t;
  g_autoptr(GError) error = NULL;

  cli->direct_paths = TRUE;
  /* announced: the peer carries the transfer on when it sees us online */
  if (!cli_login (cli, TRUE))
    return cli_fail (cli, cli->error);
  list = pinhole_client_get_transfers (cli->client);
  g_signal_connect (list, "items-changed", G_CALLBACK (transfers_changed_cb), c);
  pinhole_client_resume_transfers (cli->client);
  t = pinhole_client_find_transfer (cli->client, c->id, TRUE, &error);
  if (t == NULL && c->transfer == NULL &&
      !(g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND) &&
        (c->action == PINHOLE_TRANSFER_ACTION_ACCEPT ||
         c->action == PINHOLE_TRANSFER_ACTION_DECLINE)))
    {
      g_signal_handlers_disconnect_by_data (list, c);
      return cli_fail (cli, error);
    }
  if (t != NULL && c->transfer == NULL)
    take (c, t);
  else if (c->transfer == NULL)
    c->deadline = g_timeout_add_seconds (LINK_WAIT_S, offer_deadline_cb, c);
  cli_run (cli);
  g_signal_handlers_disconnect_by_data (list, c);
  g_clear_handle_id (&c->deadline, g_source_remove);
  g_clear_handle_id (&c->idle, g_source_remove);
  if (c->transfer != NULL)
    g_signal_handlers_disconnect_by_data (c->transfer, c);
  g_clear_object (&c->transfer);
  if (cli->error != NULL)
    return cli_fail (cli, cli->error);
  return 0;
}

/* the transfer is here: act once a session carries it */
static void
take (Control         *c,
      PinholeTransfer *t)
{
  g_clear_handle_id (&c->deadline, g_source_remove);
  c->transfer = g_object_ref (t);
  g_signal_connect (t, "linked", G_CALLBACK (linked_cb), c);
  g_signal_connect (t, "flushed", G_CALLBACK (flushed_cb), c);
  if (c->action == PINHOLE_TRANSFER_ACTION_ACCEPT)
    {
      g_signal_connect (t, "notify::state", G_CALLBACK (state_cb), c);
      g_signal_connect (t, "notify::bytes-done", G_CALLBACK (bytes_cb), c);
    }
  if (pinhole_transfer_is_linked (t))
    linked_cb (t, c);
  else
    c->deadline = g_timeout_add_seconds (LINK_WAIT_S, link_deadline_cb, c);
}

static int
control (Cli                   *cli,
         const char            *name,
         PinholeTransferAction  action,
         int                    argc,
         char                 **argv)
{
  g_autofree char *to = NULL;
  GOptionEntry accept_entries[] = {
    { "to", 0, 0, G_OPTION_ARG_FILENAME, &to, "save into DIR (default: the current folder)",
      "DIR" },
    { NULL }
  };
  GOptionEntry no_entries[] = { { NULL } };
  Control c = { cli, NULL, action };
  int status;

  if (!cli_parse_options (name, action == PINHOLE_TRANSFER_ACTION_ACCEPT ? "ID [--to DIR]" : "ID",
                          action == PINHOLE_TRANSFER_ACTION_ACCEPT ? accept_entries : no_entries,
                          &argc, &argv))
    return 2;
  if (argc != 2)
    return cli_usage (name, "expected one transfer ID");
  if (!cli_is_transfer_id (argv[1]))
    return cli_usage (name, "a transfer ID is 32 lowercase hex digits (see pinhole-cli transfers)");
  c.id = argv[1];
  if (action == PINHOLE_TRANSFER_ACTION_ACCEPT)
    {
      c.folder = g_canonicalize_filename (to != NULL ? to : ".", NULL);
      if (!g_file_test (c.folder, G_FILE_TEST_IS_DIR))
        {
          g_autoptr(GError) error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND,
                                                 "%s is not a folder", c.folder);

          g_free (c.folder);
          return cli_fail (cli, error);
        }
    }
  if (cli_find_instance (cli))
    status = control_remote (&c);
  else
    status = control_here (&c);
  g_free (c.folder);
  return status;
}

#define CONTROL_COMMAND(function, name, action)   \
  int                                             \
  function (Cli *cli, int argc, char **argv)      \
  {                                               \
    return control (cli, name, action, argc, argv); \
  }
CONTROL_COMMAND (cli_transfer_accept, "accept", PINHOLE_TRANSFER_ACTION_ACCEPT)
CONTROL_COMMAND (cli_transfer_decline, "decline", PINHOLE_TRANSFER_ACTION_DECLINE)
CONTROL_COMMAND (cli_pause, "pause", PINHOLE_TRANSFER_ACTION_PAUSE)
CONTROL_COMMAND (cli_resume, "resume", PINHOLE_TRANSFER_ACTION_RESUME)
CONTROL_COMMAND (cli_cancel, "cancel", PINHOLE_TRANSFER_ACTION_CANCEL)
#undef CONTROL_COMMAND
