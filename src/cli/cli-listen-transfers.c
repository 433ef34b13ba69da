/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-listen-transfers.c: what `listen` prints of transfers both ways (offer, resumed, run,
 * done, failed), and `--accept-files DIR`, which accepts every offer into DIR. */
#include "cli-common.h"
#include "pinhole-transfer.h"

struct _CliListenTransfers
{
  Cli        *cli;
  char       *accept_dir;     /* nullable */
  GListModel *transfers;      /* owned ref */
  GPtrArray  *watched;        /* PinholeTransfer, owned refs */
};

static void
state_cb (PinholeTransfer    *t,
          GParamSpec         *pspec,
          CliListenTransfers *self)
{
  g_autoptr(JsonObject) fields = json_object_new ();
  PinholeManifest *m = pinhole_transfer_get_manifest (t);

  json_object_set_string_member (fields, "id", pinhole_transfer_get_id (t));
  json_object_set_string_member (fields, "direction", cli_transfer_direction (t));
  switch (pinhole_transfer_get_state (t))
    {
    case PINHOLE_TRANSFER_STATE_DONE:
      json_object_set_int_member (fields, "bytes", (gint64) pinhole_transfer_get_bytes_total (t));
      if (pinhole_transfer_get_direction (t) == PINHOLE_TRANSFER_DIRECTION_OUTGOING)
        json_object_set_int_member (fields, "sent", (gint64) pinhole_transfer_get_bytes_sent (t));
      if (pinhole_manifest_get_n_entries (m) == 1 && !pinhole_manifest_get_entry (m, 0)->folder)
        {
          char hex[65];

          pinhole_sha256_to_hex (pinhole_manifest_get_entry (m, 0)->sha256, hex);
          json_object_set_string_member (fields, "sha256", hex);
        }
      cli_event (self->cli, "done", fields, "transfer %s: all files verified",
                 pinhole_transfer_get_id (t));
      break;
    case PINHOLE_TRANSFER_STATE_FAILED:
      json_object_set_string_member (fields, "reason", pinhole_transfer_get_error (t));
      cli_event (self->cli, "failed", fields, "transfer %s failed: %s",
                 pinhole_transfer_get_id (t), pinhole_transfer_get_error (t));
      break;
    case PINHOLE_TRANSFER_STATE_DECLINED:
      cli_event (self->cli, "declined", fields, "transfer %s was declined",
                 pinhole_transfer_get_id (t));
      break;
    case PINHOLE_TRANSFER_STATE_CANCELLED:
      cli_event (self->cli, "cancelled", fields, "transfer %s was cancelled",
                 pinhole_transfer_get_id (t));
      break;
    default:
      break;
    }
}

static void
run_cb (PinholeTransfer    *t,
        guint64             missing,
        CliListenTransfers *self)
{
  cli_transfer_run_event (self->cli, t, missing);
}

static void
accept (CliListenTransfers *self,
        PinholeTransfer    *t)
{
  g_autoptr(GError) error = NULL;

  if (pinhole_transfer_get_state (t) == PINHOLE_TRANSFER_STATE_OFFERED &&
      !pinhole_transfer_accept (t, self->accept_dir, NULL, &error))
    cli_line (stderr, "cannot accept %s: %s", pinhole_transfer_get_id (t), error->message);
}

static gboolean
accept_idle_cb (gpointer data)
{
  PinholeTransfer *t = data;
  CliListenTransfers *self = g_object_get_data (G_OBJECT (t), "cli-listen-transfers");

  if (self != NULL)
    accept (self, t);
  return G_SOURCE_REMOVE;
}

/* an offer the profile kept, offered again on a new session: accepted once it is set up */
static void
linked_cb (PinholeTransfer    *t,
           CliListenTransfers *self)
{
  g_idle_add_full (G_PRIORITY_DEFAULT, accept_idle_cb, g_object_ref (t), g_object_unref);
}

static void
offered (CliListenTransfers *self,
         PinholeTransfer    *t)
{
  cli_transfer_offer_event (self->cli, t);
  if (self->accept_dir == NULL)
    return;
  if (pinhole_transfer_is_linked (t))
    accept (self, t);
  else
    {
      g_object_set_data (G_OBJECT (t), "cli-listen-transfers", self);
      g_signal_connect (t, "linked", G_CALLBACK (linked_cb), self);
    }
}

static void
items_changed_cb (GListModel         *list,
                  guint               position,
                  guint               removed,
                  guint               added,
                  CliListenTransfers *self)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(PinholeTransfer) t = g_list_model_get_item (list, i);

      g_ptr_array_add (self->watched, g_object_ref (t));
      g_signal_connect (t, "notify::state", G_CALLBACK (state_cb), self);
      if (pinhole_transfer_get_direction (t) == PINHOLE_TRANSFER_DIRECTION_OUTGOING)
        {
          g_autoptr(JsonObject) fields = json_object_new ();

          g_signal_connect (t, "run-started", G_CALLBACK (run_cb), self);
          json_object_set_string_member (fields, "id", pinhole_transfer_get_id (t));
          json_object_set_string_member (fields, "direction", "outgoing");
          cli_event (self->cli, "resumed", fields, "transfer %s to %s carries on",
                     pinhole_transfer_get_id (t), pinhole_transfer_get_peer (t));
        }
      else if (pinhole_transfer_get_state (t) == PINHOLE_TRANSFER_STATE_OFFERED)
        offered (self, t);
      else
        {
          g_autoptr(JsonObject) fields = json_object_new ();

          json_object_set_string_member (fields, "id", pinhole_transfer_get_id (t));
          json_object_set_string_member (fields, "direction", "incoming");
          cli_event (self->cli, "resumed", fields, "transfer %s carries on",
                     pinhole_transfer_get_id (t));
        }
    }
}

CliListenTransfers *
cli_listen_transfers_start (Cli        *cli,
                            const char *accept_dir)
{
  CliListenTransfers *self = g_new0 (CliListenTransfers, 1);

  self->cli = cli;
  self->accept_dir = accept_dir != NULL ? g_canonicalize_filename (accept_dir, NULL) : NULL;
  self->transfers = g_object_ref (pinhole_client_get_transfers (cli->client));
  self->watched = g_ptr_array_new_with_free_func (g_object_unref);
  g_signal_connect (self->transfers, "items-changed", G_CALLBACK (items_changed_cb), self);
  /* what came during the log-in, before we looked */
  items_changed_cb (self->transfers, 0, 0, g_list_model_get_n_items (self->transfers), self);
  return self;
}

void
cli_listen_transfers_stop (CliListenTransfers *self)
{
  if (self == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->transfers, self);
  for (guint i = 0; i < self->watched->len; i++)
    {
      g_signal_handlers_disconnect_by_data (self->watched->pdata[i], self);
      g_object_set_data (self->watched->pdata[i], "cli-listen-transfers", NULL);
    }
  g_ptr_array_unref (self->watched);
  g_object_unref (self->transfers);
  g_free (self->accept_dir);
  g_free (self);
}
