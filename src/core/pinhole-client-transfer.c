/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client-transfer.c: transfers as part of the client's model: files sent to a
 * contact's online device over its session, and offers that devices make to us, in one list
 * (docs/transfer.md). An accepted incoming transfer is kept in the profile until it is over,
 * so that a restarted recipient carries it on (pinhole_client_resume_transfers()); every
 * transfer not over rides the next session with its device. The sender's side of a restart
 * and offers to an offline contact are still to come. */
#define G_LOG_DOMAIN "pinhole-transfer"

#include "pinhole-client-private.h"
#include "pinhole-device-private.h"
#include "pinhole-error.h"
#include "pinhole-file-reader.h"
#include "pinhole-transfer-private.h"
#include "pinhole-transfer-message.h"

#include <json-glib/json-glib.h>
#include <string.h>

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

static char *
accepted_to_json (GArray *accepted)
{
  GString *s = g_string_new ("[");

  for (guint i = 0; i < accepted->len; i++)
    g_string_append_printf (s, i > 0 ? ",%u" : "%u", g_array_index (accepted, guint32, i));
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* Returns: (nullable): the indices, each below @n_entries */
static GArray *
accepted_from_json (const char *text,
                    guint       n_entries)
{
  g_autoptr(JsonNode) node = text != NULL ? json_from_string (text, NULL) : NULL;
  g_autoptr(GArray) out = g_array_new (FALSE, FALSE, sizeof (guint32));
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      gint64 v = json_array_get_int_element (array, i);
      guint32 index = (guint32) v;

      if (v < 0 || v >= n_entries)
        return NULL;
      g_array_append_val (out, index);
    }
  return out->len > 0 ? g_steal_pointer (&out) : NULL;
}

/* an accepted incoming transfer is kept until it is over */
static void
state_cb (PinholeTransfer *t,
          GParamSpec      *pspec,
          PinholeClient   *self)
{
  g_autoptr(GError) error = NULL;

  if (pinhole_transfer_is_over (t))
    {
      if (!pinhole_profile_forget_transfer (self->profile, pinhole_transfer_get_id (t), &error))
        g_debug ("transfer %s not forgotten: %s", pinhole_transfer_get_id (t), error->message);
      return;
    }
  if (pinhole_transfer_get_direction (t) == PINHOLE_TRANSFER_DIRECTION_INCOMING &&
      pinhole_transfer_get_state (t) == PINHOLE_TRANSFER_STATE_RUNNING &&
      pinhole_transfer_get_accepted (t) != NULL)
    {
      g_autofree char *manifest = pinhole_manifest_to_string (pinhole_transfer_get_manifest (t),
                                                              NULL);
      g_autofree char *accepted = accepted_to_json (pinhole_transfer_get_accepted (t));
      PinholeTransferRecord r = {
        .id = (char *) pinhole_transfer_get_id (t),
        .direction = PINHOLE_TRANSFER_DIRECTION_INCOMING,
        .peer = (char *) pinhole_transfer_get_peer (t),
        .device = (char *) pinhole_transfer_get_peer_device (t),
        .manifest = manifest,
        .folder = (char *) pinhole_transfer_get_folder (t),
        .accepted = accepted,
        .state = PINHOLE_TRANSFER_STATE_RUNNING,
        .created = g_get_real_time () / G_USEC_PER_SEC,
      };

      if (!pinhole_profile_save_transfer (self->profile, &r, &error))
        g_debug ("transfer %s not kept: %s", r.id, error->message);
    }
}

static void
track (PinholeClient   *self,
       PinholeTransfer *transfer)
{
  /* first: a view may accept it as soon as it is in the list */
  g_signal_connect_object (transfer, "notify::state", G_CALLBACK (state_cb), self, 0);
  g_list_store_append (self->transfers, transfer);
}

void
_pinhole_client_transfer_offered (PinholeClient   *self,
                                  PinholeDevice   *device,
                                  PinholeTransfer *transfer)
{
  g_debug ("%s offers %u entries", device->id,
           pinhole_manifest_get_n_entries (pinhole_transfer_get_manifest (transfer)));
  _pinhole_transfer_set_peer (transfer, device->user, device->id);
  track (self, transfer);
}

/* a new session with @device: the transfers with it that are not over ride it */
void
_pinhole_client_transfers_attach (PinholeClient *self,
                                  PinholeDevice *device)
{
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->transfers)); i++)
    {
      g_autoptr(PinholeTransfer) t = g_list_model_get_item (G_LIST_MODEL (self->transfers), i);

      if (pinhole_transfer_is_over (t) ||
          g_strcmp0 (pinhole_transfer_get_peer_device (t), device->id) != 0 ||
          pinhole_transfer_link_lookup (device->transfers, pinhole_transfer_get_id (t)) != NULL)
        continue;
      g_debug ("transfer %s carries on with %s", pinhole_transfer_get_id (t), device->id);
      pinhole_transfer_link_resume (device->transfers, t);
    }
}

static void
resume_session_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeSession) session =
    pinhole_client_open_session_finish (PINHOLE_CLIENT (source), result, &error);

  if (session == NULL)
    g_debug ("no session to carry a transfer on: %s", error->message);
}

/* opens a session with @user when an accepted incoming transfer from them (from the device
 * "user/device" @device_id, when not %NULL) is not over yet */
static void
resume_with (PinholeClient *self,
             const char    *user,
             const char    *device_id)
{
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->transfers)); i++)
    {
      g_autoptr(PinholeTransfer) t = g_list_model_get_item (G_LIST_MODEL (self->transfers), i);

      if (!pinhole_transfer_is_over (t) &&
          pinhole_transfer_get_direction (t) == PINHOLE_TRANSFER_DIRECTION_INCOMING &&
          pinhole_transfer_get_state (t) != PINHOLE_TRANSFER_STATE_OFFERED &&
          g_strcmp0 (pinhole_transfer_get_peer (t), user) == 0 &&
          (device_id == NULL || g_strcmp0 (pinhole_transfer_get_peer_device (t), device_id) == 0))
        {
          g_debug ("%s is online: a session for transfer %s", device_id ? device_id : user,
                   pinhole_transfer_get_id (t));
          pinhole_client_open_session_async (self, user, NULL, resume_session_cb, NULL);
          return;
        }
    }
}

/* a device came online: an incoming transfer with it that is not over needs a session to go
 * on. Only the recipient opens it, so that the two sides do not open one each at once. */
void
_pinhole_client_transfers_presence_cb (PinholeClient *self,
                                       const char    *user,
                                       const char    *device,
                                       const char    *show,
                                       gpointer       user_data)
{
  g_autofree char *id = g_strconcat (user, "/", device, NULL);

  if (g_strcmp0 (show, "offline") != 0)
    resume_with (self, user, id);
}

/* the contact of a resumed transfer shows up online (its presence comes with the roster,
 * after the log-in that resumed it) */
static void
contact_presence_cb (PinholeContact *contact,
                     GParamSpec     *pspec,
                     PinholeClient  *self)
{
  if (pinhole_contact_get_presence (contact) != PINHOLE_PRESENCE_OFFLINE)
    resume_with (self, pinhole_contact_get_user (contact), NULL);
}

/**
 * pinhole_client_resume_transfers:
 * After a restart: the accepted incoming transfers the profile kept come back into the list
 * and a session is opened with each one's sender, on which the transfer reports the blocks it
 * holds and gets the rest. Call it once logged in.
 */
void
pinhole_client_resume_transfers (PinholeClient *self)
{
  g_autoptr(GPtrArray) records = NULL;

  g_return_if_fail (PINHOLE_IS_CLIENT (self));
  records = pinhole_profile_list_transfers (self->profile);
  for (guint i = 0; i < records->len; i++)
    {
      PinholeTransferRecord *r = records->pdata[i];
      PinholeManifest *manifest;
      g_autoptr(GArray) accepted = NULL;
      g_autoptr(PinholeTransfer) t = NULL;
      g_autoptr(GError) error = NULL;
      PinholeContact *contact;

      if (r->direction != PINHOLE_TRANSFER_DIRECTION_INCOMING || r->folder == NULL ||
          r->device == NULL || pinhole_client_lookup_transfer (self, r->id) != NULL)
        continue;
      manifest = pinhole_manifest_parse (r->manifest, strlen (r->manifest), &error);
      accepted = manifest != NULL ? accepted_from_json (r->accepted,
                                                        pinhole_manifest_get_n_entries (manifest))
                                  : NULL;
      if (manifest == NULL || accepted == NULL || !pinhole_transfer_id_is_valid (r->id))
        {
          g_debug ("transfer %s in the profile is damaged: forgotten", r->id);
          pinhole_manifest_free (manifest);
          pinhole_profile_forget_transfer (self->profile, r->id, NULL);
          continue;
        }
      t = pinhole_transfer_new_incoming_accepted (r->id, manifest, r->folder, accepted);
      _pinhole_transfer_set_peer (t, r->peer, r->device);
      track (self, t);
      /* the sender may have opened a session during our log-in, before this was loaded */
      {
        const char *slash = strchr (r->device, '/');
        PinholeDevice *device = slash != NULL ? _pinhole_client_find_device (self, r->peer,
                                                                             slash + 1)
                                              : NULL;

        if (device != NULL && device->transfers != NULL)
          _pinhole_client_transfers_attach (self, device);
      }
      contact = pinhole_client_lookup_contact (self, r->peer);
      if (contact != NULL)
        g_signal_connect_object (contact, "notify::presence", G_CALLBACK (contact_presence_cb),
                                 self, 0);
      if (contact != NULL && pinhole_contact_get_presence (contact) != PINHOLE_PRESENCE_OFFLINE)
        pinhole_client_open_session_async (self, r->peer, NULL, resume_session_cb, NULL);
    }
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
  track (self, transfer);
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
