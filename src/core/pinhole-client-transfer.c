/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client-transfer.c: transfers as part of the client's model: files sent to a
 * contact's online device over its session, and offers that devices make to us, in one list
 * (docs/transfer.md). Offers to an offline contact and resuming after a restart need the
 * profile's record of transfers, which is still to come. */
#define G_LOG_DOMAIN "pinhole-transfer"

#include "pinhole-client-private.h"
#include "pinhole-device-private.h"
#include "pinhole-error.h"
#include "pinhole-file-reader.h"
#include "pinhole-transfer-private.h"

/* Returns: (transfer none): every transfer of this run, both ways, in the order they began */
GListModel *
pinhole_client_get_transfers (PinholeClient *self)
{
  g_return_val_if_fail (PINHOLE_IS_CLIENT (self), NULL);
  return G_LIST_MODEL (self->transfers);
}

/* Returns: (transfer none) (nullable) */
PinholeTransfer *
pinhole_client_lookup_transfer (PinholeClient *self,
                                const char    *id)
{
  g_return_val_if_fail (PINHOLE_IS_CLIENT (self), NULL);
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->transfers)); i++)
    {
      g_autoptr(PinholeTransfer) t = g_list_model_get_item (G_LIST_MODEL (self->transfers), i);

      if (g_strcmp0 (pinhole_transfer_get_id (t), id) == 0)
        return t;
    }
  return NULL;
}

void
_pinhole_client_transfer_offered (PinholeClient   *self,
                                  PinholeDevice   *device,
                                  PinholeTransfer *transfer)
{
  g_debug ("%s offers %u entries", device->id,
           pinhole_manifest_get_n_entries (pinhole_transfer_get_manifest (transfer)));
  _pinhole_transfer_set_peer (transfer, device->user, device->id);
  g_list_store_append (self->transfers, transfer);
}

typedef struct
{
  char            *user;
  PinholeManifest *manifest;
  GPtrArray       *sources;
} SendFiles;

static void
send_files_free (gpointer data)
{
  SendFiles *s = data;

  g_free (s->user);
  pinhole_manifest_free (s->manifest);
  g_clear_pointer (&s->sources, g_ptr_array_unref);
  g_free (s);
}

static PinholeDevice *
device_of_session (PinholeClient  *self,
                   const char     *user,
                   PinholeSession *session)
{
  PinholeContact *contact = pinhole_client_lookup_contact (self, user);
  GListModel *devices = contact != NULL ? pinhole_contact_get_devices (contact) : NULL;

  for (guint i = 0; devices != NULL && i < g_list_model_get_n_items (devices); i++)
    {
      g_autoptr(PinholeDevice) d = g_list_model_get_item (devices, i);

      if (d->session == session)
        return d;
    }
  return NULL;
}

static void
session_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  PinholeClient *self = PINHOLE_CLIENT (source);
  g_autoptr(GTask) task = user_data;
  SendFiles *s = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeSession) session = pinhole_client_open_session_finish (self, result, &error);
  PinholeDevice *device;
  PinholeTransfer *transfer;

  if (session == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  device = device_of_session (self, s->user, session);
  if (device == NULL || device->transfers == NULL)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                               "the session with %s ended", s->user);
      return;
    }
  transfer = pinhole_transfer_link_offer (device->transfers, g_steal_pointer (&s->manifest),
                                          g_steal_pointer (&s->sources), &error);
  if (transfer == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  _pinhole_transfer_set_peer (transfer, device->user, device->id);
  g_list_store_append (self->transfers, transfer);
  g_task_return_pointer (task, transfer, g_object_unref);
}

static void
manifest_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SendFiles *s = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  s->manifest = pinhole_manifest_build_finish (result, &s->sources, &error);
  if (s->manifest == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  pinhole_client_open_session_async (g_task_get_source_object (task), s->user,
                                     g_task_get_cancellable (task), session_cb,
                                     g_object_ref (task));
}

/**
 * pinhole_client_send_files_async:
 * @paths: files and folders (see pinhole_manifest_build_async())
 * Hashes what is offered in a worker, opens a session with an online device of @user (a
 * mutual contact) and offers it there. The transfer goes on in the client's list.
 */
void
pinhole_client_send_files_async (PinholeClient       *self,
                                 const char          *user,
                                 const char *const   *paths,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  SendFiles *s = g_new0 (SendFiles, 1);

  g_return_if_fail (PINHOLE_IS_CLIENT (self));
  s->user = g_strdup (user);
  g_task_set_source_tag (task, pinhole_client_send_files_async);
  g_task_set_task_data (task, s, send_files_free);
  pinhole_manifest_build_async (paths, cancellable, manifest_cb, g_steal_pointer (&task));
}

/* Returns: (transfer full): the transfer, its offer sent */
PinholeTransfer *
pinhole_client_send_files_finish (PinholeClient  *self,
                                  GAsyncResult   *result,
                                  GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
