/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-instance-transfers.c: the client's transfers on the bus (org.pinhole.Pinhole.xml):
 * ListTransfers, and TransferChanged for every new transfer and every change of state, with
 * progress at most 4 times a second per transfer, so that a one-shot `accept` can follow the
 * files it asked for. */
#define G_LOG_DOMAIN "pinhole-instance"

#include "pinhole-instance-private.h"

#define PROGRESS_INTERVAL_US (G_USEC_PER_SEC / 4)
/* names listed per transfer: a manifest may have 4096 of 4 KiB each, too much for a reply */
#define MAX_LISTED_NAMES 16

static const char *
direction_text (PinholeTransfer *t)
{
  return pinhole_transfer_get_direction (t) == PINHOLE_TRANSFER_DIRECTION_INCOMING ? "incoming"
                                                                                  : "outgoing";
}

static void
emit_changed (PinholeInstance *self,
              PinholeTransfer *t)
{
  PinholeManifest *m = pinhole_transfer_get_manifest (t);
  const char *path = pinhole_transfer_get_current_path (t);
  const char *error = pinhole_transfer_get_error (t);
  char hex[65] = "";

  if (pinhole_transfer_get_state (t) == PINHOLE_TRANSFER_STATE_DONE &&
      pinhole_manifest_get_n_entries (m) == 1 && !pinhole_manifest_get_entry (m, 0)->folder)
    pinhole_sha256_to_hex (pinhole_manifest_get_entry (m, 0)->sha256, hex);
  g_object_set_data (G_OBJECT (t), "pinhole-instance-emitted",
                     GSIZE_TO_POINTER ((gsize) (g_get_monotonic_time () / 1000)));
  pinhole_dbus_instance_emit_transfer_changed (self->skeleton, pinhole_transfer_get_id (t),
                                               direction_text (t),
                                               pinhole_transfer_state_to_string (
                                                 pinhole_transfer_get_state (t)),
                                               pinhole_transfer_get_bytes_done (t),
                                               pinhole_transfer_get_bytes_total (t),
                                               pinhole_transfer_get_rate (t),
                                               path != NULL ? path : "",
                                               error != NULL ? error : "", hex);
}

static void
state_cb (PinholeTransfer *t,
          GParamSpec      *pspec,
          PinholeInstance *self)
{
  emit_changed (self, t);
}

static void
bytes_cb (PinholeTransfer *t,
          GParamSpec      *pspec,
          PinholeInstance *self)
{
  gint64 last_ms = (gint64) GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (t),
                                                                 "pinhole-instance-emitted"));

  if (g_get_monotonic_time () / 1000 - last_ms >= PROGRESS_INTERVAL_US / 1000 ||
      pinhole_transfer_get_bytes_done (t) == pinhole_transfer_get_bytes_total (t))
    emit_changed (self, t);
}

static void
watch (PinholeInstance *self,
       PinholeTransfer *t)
{
  g_ptr_array_add (self->transfers, g_object_ref (t));
  g_signal_connect (t, "notify::state", G_CALLBACK (state_cb), self);
  g_signal_connect (t, "notify::bytes-done", G_CALLBACK (bytes_cb), self);
}

static void
transfers_changed_cb (GListModel      *list,
                      guint            position,
                      guint            removed,
                      guint            added,
                      PinholeInstance *self)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(PinholeTransfer) t = g_list_model_get_item (list, i);

      watch (self, t);
      emit_changed (self, t);
    }
}

void
_pinhole_instance_transfers_start (PinholeInstance *self)
{
  GListModel *list = pinhole_client_get_transfers (self->client);

  self->transfers = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < g_list_model_get_n_items (list); i++)
    {
      g_autoptr(PinholeTransfer) t = g_list_model_get_item (list, i);

      watch (self, t);
    }
  self->transfers_changed_id = g_signal_connect (list, "items-changed",
                                                 G_CALLBACK (transfers_changed_cb), self);
}

void
_pinhole_instance_transfers_stop (PinholeInstance *self)
{
  g_clear_signal_handler (&self->transfers_changed_id,
                          pinhole_client_get_transfers (self->client));
  for (guint i = 0; self->transfers != NULL && i < self->transfers->len; i++)
    g_signal_handlers_disconnect_by_data (self->transfers->pdata[i], self);
  g_clear_pointer (&self->transfers, g_ptr_array_unref);
}

/* Returns: (transfer floating): the ListTransfers reply */
GVariant *
_pinhole_instance_list_transfers (PinholeInstance *self)
{
  GListModel *list = pinhole_client_get_transfers (self->client);
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("(a(sssasttsss))"));
  g_variant_builder_open (&b, G_VARIANT_TYPE ("a(sssasttsss)"));
  for (guint i = 0; i < g_list_model_get_n_items (list); i++)
    {
      g_autoptr(PinholeTransfer) t = g_list_model_get_item (list, i);
      PinholeManifest *m = pinhole_transfer_get_manifest (t);
      const char *path = pinhole_transfer_get_current_path (t);
      const char *error = pinhole_transfer_get_error (t);
      const char *peer = pinhole_transfer_get_peer (t);
      GVariantBuilder names;

      g_variant_builder_init (&names, G_VARIANT_TYPE ("as"));
      for (guint j = 0; j < MIN (pinhole_manifest_get_n_entries (m), MAX_LISTED_NAMES); j++)
        g_variant_builder_add (&names, "s", pinhole_manifest_get_entry (m, j)->path);
      g_variant_builder_add (&b, "(sssasttsss)", pinhole_transfer_get_id (t), direction_text (t),
                             peer != NULL ? peer : "", &names,
                             pinhole_transfer_get_bytes_done (t),
                             pinhole_transfer_get_bytes_total (t),
                             pinhole_transfer_state_to_string (pinhole_transfer_get_state (t)),
                             error != NULL ? error : "", path != NULL ? path : "");
    }
  g_variant_builder_close (&b);
  return g_variant_builder_end (&b);
}
