/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client-transfer.c: transfers as part of the client's model: files sent to a
 * contact's online device over its session, and offers that devices make to us, in one list
 * (docs/transfer.md). An accepted incoming transfer is kept in the profile until it is over,
 * so that a restarted recipient carries it on (pinhole_client_resume_transfers()); every
 * transfer not over rides the next session with its device. The sender's side (offers that
 * wait for a device, a restarted sender, the first accept of several devices) is in
 * pinhole-client-transfer-out.c. */
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

char *
_pinhole_transfer_accepted_to_json (GArray *accepted)
{
  GString *s = g_string_new ("[");

  for (guint i = 0; i < accepted->len; i++)
    g_string_append_printf (s, i > 0 ? ",%u" : "%u", g_array_index (accepted, guint32, i));
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* Returns: (nullable): the indices, each below @n_entries */
GArray *
_pinhole_transfer_accepted_from_json (const char *text,
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

static void save_incoming (PinholeClient   *self,
                           PinholeTransfer *t);

/* a transfer is kept in the profile until it is over */
static void
state_cb (PinholeTransfer *t,
          GParamSpec      *pspec,
          PinholeClient   *self)
{
  g_autoptr(GError) error = NULL;

  if (pinhole_transfer_get_direction (t) == PINHOLE_TRANSFER_DIRECTION_OUTGOING)
    _pinhole_client_transfer_out_changed (self, t);
  if (pinhole_transfer_is_over (t))
    {
      if (!pinhole_profile_forget_transfer (self->profile, pinhole_transfer_get_id (t), &error))
        g_debug ("transfer %s not forgotten: %s", pinhole_transfer_get_id (t), error->message);
      return;
    }
  if (pinhole_transfer_get_direction (t) == PINHOLE_TRANSFER_DIRECTION_INCOMING)
    save_incoming (self, t);
}

/* an incoming offer, and once accepted where it goes: a restart finds them both */
static void
save_incoming (PinholeClient   *self,
               PinholeTransfer *t)
{
  g_autoptr(GError) error = NULL;

  if (pinhole_transfer_get_state (t) == PINHOLE_TRANSFER_STATE_OFFERED ||
      ((pinhole_transfer_get_state (t) == PINHOLE_TRANSFER_STATE_RUNNING ||
        pinhole_transfer_get_state (t) == PINHOLE_TRANSFER_STATE_PAUSED) &&
       pinhole_transfer_get_accepted (t) != NULL))
    {
      g_autofree char *manifest = pinhole_manifest_to_string (pinhole_transfer_get_manifest (t),
                                                              NULL);
      g_autofree char *accepted =
        pinhole_transfer_get_accepted (t) != NULL
          ? _pinhole_transfer_accepted_to_json (pinhole_transfer_get_accepted (t))
          : NULL;
      PinholeTransferRecord r = {
        .id = (char *) pinhole_transfer_get_id (t),
        .direction = PINHOLE_TRANSFER_DIRECTION_INCOMING,
        .peer = (char *) pinhole_transfer_get_peer (t),
        .device = (char *) pinhole_transfer_get_peer_device (t),
        .manifest = manifest,
        .folder = (char *) pinhole_transfer_get_folder (t),
        .accepted = accepted,
        .state = _pinhole_transfer_get_kept_state (t),
        .created = pinhole_transfer_get_created (t),
      };

      if (!pinhole_profile_save_transfer (self->profile, &r, &error))
        g_debug ("transfer %s not kept: %s", r.id, error->message);
    }
}

void
_pinhole_client_track_transfer (PinholeClient   *self,
                                PinholeTransfer *transfer)
{
  /* first: a view may accept it as soon as it is in the list */
  g_signal_connect_object (transfer, "notify::state", G_CALLBACK (state_cb), self, 0);
  g_list_store_append (self->transfers, transfer);
}

static guint
count_unanswered (PinholeClient *self,
                  const char    *user)
{
  guint n = 0;

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->transfers)); i++)
    {
      g_autoptr(PinholeTransfer) t = g_list_model_get_item (G_LIST_MODEL (self->transfers), i);

      if (pinhole_transfer_get_direction (t) == PINHOLE_TRANSFER_DIRECTION_INCOMING &&
          pinhole_transfer_get_state (t) == PINHOLE_TRANSFER_STATE_OFFERED &&
          g_strcmp0 (pinhole_transfer_get_peer (t), user) == 0)
        n++;
    }
  return n;
}

void
_pinhole_client_transfer_offered (PinholeClient   *self,
                                  PinholeDevice   *device,
                                  PinholeTransfer *transfer)
{
  PinholeTransfer *known = pinhole_client_lookup_transfer (self,
                                                           pinhole_transfer_get_id (transfer));

  g_debug ("%s offers %u entries", device->id,
           pinhole_manifest_get_n_entries (pinhole_transfer_get_manifest (transfer)));
  if (known != NULL)
    {
      /* the sender offers again on each new session until someone answers: the offer we have
       * carries on here (one that is over stays so) */
      if (!pinhole_transfer_is_over (known) &&
          pinhole_transfer_get_direction (known) == PINHOLE_TRANSFER_DIRECTION_INCOMING &&
          g_strcmp0 (pinhole_transfer_get_peer (known), device->user) == 0)
        {
          _pinhole_transfer_set_peer (known, device->user, device->id);
          pinhole_transfer_link_resume (device->transfers, known);
        }
      else
        {
          /* answered here while the sender was away: it hears the answer now */
          PinholeTransferState state = pinhole_transfer_get_state (known);

          _pinhole_transfer_link_withdraw (device->transfers, transfer,
                                           state == PINHOLE_TRANSFER_STATE_DECLINED
                                             ? PINHOLE_TRANSFER_MESSAGE_DECLINE
                                             : PINHOLE_TRANSFER_MESSAGE_CANCEL);
        }
      return;
    }
  if (count_unanswered (self, device->user) >= PINHOLE_CLIENT_MAX_OFFERS_PER_USER)
    {
      /* what a contact can make us keep in the profile, over all its sessions */
      g_autofree char *reason =
        g_strdup_printf ("more than %d offers from you wait for an answer",
                         PINHOLE_CLIENT_MAX_OFFERS_PER_USER);

      g_debug ("offer %s from %s refused: %s", pinhole_transfer_get_id (transfer), device->id,
               reason);
      _pinhole_transfer_fail (transfer, PINHOLE_ERROR_LIMIT, reason);
      _pinhole_transfer_link_withdraw (device->transfers, transfer, -1);
      return;
    }
  _pinhole_transfer_set_peer (transfer, device->user, device->id);
  save_incoming (self, transfer);
  _pinhole_client_track_transfer (self, transfer);
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
          pinhole_transfer_link_lookup (device->transfers, pinhole_transfer_get_id (t)) != NULL)
        continue;
      if (_pinhole_client_transfer_is_unanswered (t, device->user))
        {
          g_debug ("transfer %s offered to %s", pinhole_transfer_get_id (t), device->id);
          pinhole_transfer_link_resume (device->transfers, t);
          continue;
        }
      if (g_strcmp0 (pinhole_transfer_get_peer_device (t), device->id) != 0)
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
    {
      resume_with (self, user, id);
      _pinhole_client_transfers_offer_to (self, user, device);
    }
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
  _pinhole_client_transfers_out_resume (self);
  records = pinhole_profile_list_transfers (self->profile);
  for (guint i = 0; i < records->len; i++)
    {
      PinholeTransferRecord *r = records->pdata[i];
      PinholeManifest *manifest;
      g_autoptr(GArray) accepted = NULL;
      g_autoptr(PinholeTransfer) t = NULL;
      g_autoptr(GError) error = NULL;
      PinholeContact *contact;

      if (r->direction != PINHOLE_TRANSFER_DIRECTION_INCOMING || r->device == NULL ||
          pinhole_client_lookup_transfer (self, r->id) != NULL)
        continue;
      manifest = pinhole_manifest_parse (r->manifest, strlen (r->manifest), &error);
      if (manifest != NULL && r->folder == NULL && r->accepted == NULL &&
          pinhole_transfer_id_is_valid (r->id))
        {
          /* an offer not answered yet: the sender offers it again on the next session */
          t = _pinhole_transfer_new_offered (r->id, manifest);
          _pinhole_transfer_set_peer (t, r->peer, r->device);
          _pinhole_transfer_set_created (t, r->created);
          _pinhole_client_track_transfer (self, t);
          continue;
        }
      accepted = manifest != NULL
                 ? _pinhole_transfer_accepted_from_json (r->accepted,
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
      if (r->state == PINHOLE_TRANSFER_STATE_PAUSED)
        _pinhole_transfer_set_paused_here (t);
      _pinhole_client_track_transfer (self, t);
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
  /* what waited a week for an answer, both ways, is over */
  _pinhole_client_transfers_expire (self);
}
