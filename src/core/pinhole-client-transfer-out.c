/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client-transfer-out.c: the sender's side of docs/transfer.md §8. Every outgoing
 * transfer that is not over is kept in the profile (manifest, the local path of each entry,
 * what was accepted and by which device); an offer no device answered yet goes to every
 * online device of the user, now and whenever one comes online, and the first accept wins; a
 * restarted sender takes its transfers up again and the recipient's have and ready say what
 * is left. Offers nobody answered expire after 7 days, on both sides. */
#define G_LOG_DOMAIN "pinhole-transfer"

#include "pinhole-client-private.h"
#include "pinhole-device-private.h"
#include "pinhole-error.h"
#include "pinhole-file-reader.h"
#include "pinhole-transfer-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define EXPIRY_S         (7 * 24 * 3600)
#define EXPIRY_CHECK_S   3600
#define EXPIRED_SENTENCE "the offer expired: nobody answered it within 7 days"

/* an offer still looking for a device of @user (or of anyone, for %NULL) to answer it */
gboolean
_pinhole_client_transfer_is_unanswered (PinholeTransfer *t,
                                        const char      *user)
{
  return pinhole_transfer_get_direction (t) == PINHOLE_TRANSFER_DIRECTION_OUTGOING &&
         (pinhole_transfer_get_state (t) == PINHOLE_TRANSFER_STATE_OFFERING ||
          pinhole_transfer_get_state (t) == PINHOLE_TRANSFER_STATE_OFFERED) &&
         pinhole_transfer_get_accepted (t) == NULL &&
         (user == NULL || g_strcmp0 (pinhole_transfer_get_peer (t), user) == 0);
}

static char *
sources_to_json (GPtrArray *sources)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;

  json_builder_begin_array (b);
  for (guint i = 0; i < sources->len; i++)
    json_builder_add_string_value (b, sources->pdata[i]);
  json_builder_end_array (b);
  node = json_builder_get_root (b);
  return json_to_string (node, FALSE);
}

/* Returns: (nullable): one local path (a string) per entry */
static GPtrArray *
sources_from_json (const char *text,
                   guint       n_entries)
{
  g_autoptr(JsonNode) node = text != NULL ? json_from_string (text, NULL) : NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  array = json_node_get_array (node);
  if (json_array_get_length (array) != n_entries)
    return NULL;
  for (guint i = 0; i < n_entries; i++)
    {
      const char *path = json_array_get_string_element (array, i);

      if (path == NULL)
        return NULL;
      g_ptr_array_add (out, g_strdup (path));
    }
  return g_steal_pointer (&out);
}

/* in the profile as it is now; WAL with synchronous=NORMAL: a commit waits for no fsync */
static void
save (PinholeClient   *self,
      PinholeTransfer *t)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *manifest = pinhole_manifest_to_string (pinhole_transfer_get_manifest (t), NULL);
  g_autofree char *sources = sources_to_json (_pinhole_transfer_get_sources (t));
  GArray *entries = pinhole_transfer_get_accepted (t);
  g_autofree char *accepted = entries != NULL ? _pinhole_transfer_accepted_to_json (entries)
                                              : NULL;
  PinholeTransferRecord r = {
    .id = (char *) pinhole_transfer_get_id (t),
    .direction = PINHOLE_TRANSFER_DIRECTION_OUTGOING,
    .peer = (char *) pinhole_transfer_get_peer (t),
    .device = accepted != NULL ? (char *) pinhole_transfer_get_peer_device (t) : NULL,
    .manifest = manifest,
    .sources = sources,
    .accepted = accepted,
    .state = _pinhole_transfer_get_kept_state (t),
    .created = pinhole_transfer_get_created (t),
  };

  if (!pinhole_profile_save_transfer (self->profile, &r, &error))
    g_debug ("transfer %s not kept: %s", r.id, error->message);
}

/* takes @t off every session with its user's devices but the one it talks on, saying @type */
static void
withdraw_elsewhere (PinholeClient              *self,
                    PinholeTransfer            *t,
                    PinholeTransferMessageType  type)
{
  PinholeContact *contact = pinhole_client_lookup_contact (self, pinhole_transfer_get_peer (t));
  GListModel *devices = contact != NULL ? pinhole_contact_get_devices (contact) : NULL;

  for (guint i = 0; devices != NULL && i < g_list_model_get_n_items (devices); i++)
    {
      g_autoptr(PinholeDevice) d = g_list_model_get_item (devices, i);

      if (d->transfers != NULL && d->transfers != _pinhole_transfer_get_link (t) &&
          _pinhole_transfer_link_withdraw (d->transfers, t, type))
        g_debug ("transfer %s withdrawn from %s (%s)", pinhole_transfer_get_id (t), d->id,
                 pinhole_transfer_message_type_to_string (type));
    }
}

static PinholeDevice *
device_of_link (PinholeClient       *self,
                const char          *user,
                PinholeTransferLink *link)
{
  PinholeContact *contact = pinhole_client_lookup_contact (self, user);
  GListModel *devices = contact != NULL ? pinhole_contact_get_devices (contact) : NULL;

  for (guint i = 0; link != NULL && devices != NULL && i < g_list_model_get_n_items (devices);
       i++)
    {
      g_autoptr(PinholeDevice) d = g_list_model_get_item (devices, i);

      if (d->transfers == link)
        return d;   /* the contact holds it */
    }
  return NULL;
}

/* an outgoing transfer's state changed: the first accept takes it off the other devices,
 * the end takes it off every device, and the profile keeps what is not over */
void
_pinhole_client_transfer_out_changed (PinholeClient   *self,
                                      PinholeTransfer *t)
{
  if (pinhole_transfer_is_over (t))
    {
      withdraw_elsewhere (self, t, pinhole_transfer_get_state (t) == PINHOLE_TRANSFER_STATE_DONE
                                   ? (PinholeTransferMessageType) -1
                                   : PINHOLE_TRANSFER_MESSAGE_CANCEL);
      return;
    }
  if (pinhole_transfer_get_accepted (t) != NULL && pinhole_transfer_get_peer_device (t) == NULL)
    {
      PinholeDevice *d = device_of_link (self, pinhole_transfer_get_peer (t),
                                         _pinhole_transfer_get_link (t));

      if (d != NULL)
        {
          g_debug ("transfer %s accepted by %s", pinhole_transfer_get_id (t), d->id);
          _pinhole_transfer_set_peer (t, d->user, d->id);
          withdraw_elsewhere (self, t, PINHOLE_TRANSFER_MESSAGE_TAKEN);
        }
    }
  save (self, t);
}

/* offers @t to every online device of its user that we may send to: one with a session
 * already gets it at once, the others when their session begins */
static void
offer_everywhere (PinholeClient   *self,
                  PinholeTransfer *t,
                  const char      *only_device)
{
  PinholeContact *contact = pinhole_client_lookup_contact (self, pinhole_transfer_get_peer (t));
  GListModel *devices;

  if (contact == NULL || pinhole_contact_get_relation (contact) != PINHOLE_RELATION_MUTUAL)
    return;
  devices = pinhole_contact_get_devices (contact);
  for (guint i = 0; i < g_list_model_get_n_items (devices); i++)
    {
      g_autoptr(PinholeDevice) d = g_list_model_get_item (devices, i);

      if (only_device != NULL && g_strcmp0 (d->name, only_device) != 0)
        continue;
      if (pinhole_device_get_presence (d) == PINHOLE_PRESENCE_OFFLINE ||
          !_pinhole_client_device_trusted (self, d))
        {
          g_debug ("transfer %s not offered to %s: %s", pinhole_transfer_get_id (t), d->id,
                   pinhole_device_get_presence (d) == PINHOLE_PRESENCE_OFFLINE
                     ? "offline" : "its key is not trusted");
          continue;
        }
      if (d->transfers != NULL && d->session != NULL &&
          pinhole_session_get_state (d->session) < PINHOLE_SESSION_STATE_CLOSED)
        {
          if (pinhole_transfer_link_lookup (d->transfers, pinhole_transfer_get_id (t)) == NULL)
            {
              g_debug ("transfer %s offered to %s", pinhole_transfer_get_id (t), d->id);
              pinhole_transfer_link_resume (d->transfers, t);
            }
        }
      else
        _pinhole_device_ensure_session (d);   /* its attach offers it */
    }
}

static void contact_presence_cb (PinholeContact *contact,
                                 GParamSpec     *pspec,
                                 PinholeClient  *self);

/* once per contact: its presence may let the offers that wait go */
static void
watch_presence (PinholeClient  *self,
                PinholeContact *contact)
{
  if (g_signal_handler_find (contact, G_SIGNAL_MATCH_FUNC | G_SIGNAL_MATCH_DATA, 0, 0, NULL,
                             contact_presence_cb, self) == 0)
    g_signal_connect_object (contact, "notify::presence", G_CALLBACK (contact_presence_cb),
                             self, 0);
}

/* an accepted outgoing transfer with no session: one with its device, if it is online. Both
 * sides may open one at once after a restart; the session code keeps one of the two. */
static void
reach_recipient (PinholeClient   *self,
                 PinholeTransfer *t)
{
  const char *id = pinhole_transfer_get_peer_device (t);
  const char *slash = id != NULL ? strchr (id, '/') : NULL;
  PinholeDevice *d = slash != NULL ? _pinhole_client_find_device (self,
                                                                  pinhole_transfer_get_peer (t),
                                                                  slash + 1)
                                   : NULL;

  if (d == NULL || pinhole_transfer_is_linked (t) ||
      pinhole_device_get_presence (d) == PINHOLE_PRESENCE_OFFLINE ||
      !_pinhole_client_device_trusted (self, d))
    return;
  if (d->transfers != NULL && d->session != NULL &&
      pinhole_session_get_state (d->session) < PINHOLE_SESSION_STATE_CLOSED)
    _pinhole_client_transfers_attach (self, d);
  else
    _pinhole_device_ensure_session (d);
}

/* @device of @user (any of theirs for %NULL) came online: the offers that wait for @user go
 * to it, and the accepted transfers with it get a session */
void
_pinhole_client_transfers_offer_to (PinholeClient *self,
                                    const char    *user,
                                    const char    *device)
{
  g_autofree char *device_id = device != NULL ? g_strconcat (user, "/", device, NULL) : NULL;

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->transfers)); i++)
    {
      g_autoptr(PinholeTransfer) t = g_list_model_get_item (G_LIST_MODEL (self->transfers), i);

      if (_pinhole_client_transfer_is_unanswered (t, user))
        offer_everywhere (self, t, device);
      else if (pinhole_transfer_get_direction (t) == PINHOLE_TRANSFER_DIRECTION_OUTGOING &&
               !pinhole_transfer_is_over (t) &&
               g_strcmp0 (pinhole_transfer_get_peer (t), user) == 0 &&
               (device_id == NULL ||
                g_strcmp0 (pinhole_transfer_get_peer_device (t), device_id) == 0))
        reach_recipient (self, t);
    }
}

#define RETRY_S     2
#define RETRY_MAX_S 60
#define RETRIES     10   /* sessions in a row that never came up: then wait for presence */

static gboolean
retry_cb (gpointer data)
{
  PinholeDevice *d = data;

  if (d->client != NULL && d->session == NULL &&
      pinhole_device_get_presence (d) != PINHOLE_PRESENCE_OFFLINE)
    {
      g_debug ("transfers with %s: another session", d->id);
      /* as if it came online: offers go to it, and transfers with it carry on */
      _pinhole_client_transfers_presence_cb (d->client, d->user, d->name, "online", NULL);
    }
  return G_SOURCE_REMOVE;
}

/* a session that carried transfers ended (it never came up, or it died) while the device
 * may still be online: try again shortly, at most once per session that ends, backing off
 * (2 s doubling to 60 s) and giving up after RETRIES that never came up, until the device
 * comes online again or a session is established */
void
_pinhole_client_transfers_session_ended (PinholeClient *self,
                                         PinholeDevice *device)
{
  guint delay;

  if (device->transfer_retries >= RETRIES)
    {
      g_debug ("transfers with %s: no more sessions until it comes online again", device->id);
      return;
    }
  delay = MIN (RETRY_S << MIN (device->transfer_retries, 5), RETRY_MAX_S);
  device->transfer_retries++;
  /* at a random moment in the second half of the delay: both ends retry after the same
   * failure, and g_timeout_add_seconds() fires both processes' timers on the same tick, so
   * they opened their sessions at once, every time, and each glare ended both (seen in CI:
   * retries at the same millisecond 2, 4, 8 and 16 s apart until the test gave up) */
  g_timeout_add_full (G_PRIORITY_DEFAULT,
                      (guint) (delay * 1000 * g_random_double_range (0.5, 1.0)), retry_cb,
                      g_object_ref (device), g_object_unref);
}

/* an offer's contact shows up online (presence comes with the roster, after the log-in) */
static void
contact_presence_cb (PinholeContact *contact,
                     GParamSpec     *pspec,
                     PinholeClient  *self)
{
  if (pinhole_contact_get_presence (contact) != PINHOLE_PRESENCE_OFFLINE)
    _pinhole_client_transfers_offer_to (self, pinhole_contact_get_user (contact), NULL);
}

static gboolean
expiry_cb (gpointer data)
{
  _pinhole_client_transfers_expire (data);
  return G_SOURCE_CONTINUE;
}

/* every offer, both ways, that nobody answered within 7 days is over */
void
_pinhole_client_transfers_expire (PinholeClient *self)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->transfers)); i++)
    {
      g_autoptr(PinholeTransfer) t = g_list_model_get_item (G_LIST_MODEL (self->transfers), i);
      gboolean waiting = _pinhole_client_transfer_is_unanswered (t, NULL) ||
                         (pinhole_transfer_get_direction (t) ==
                            PINHOLE_TRANSFER_DIRECTION_INCOMING &&
                          pinhole_transfer_get_state (t) == PINHOLE_TRANSFER_STATE_OFFERED);

      if (waiting && now - pinhole_transfer_get_created (t) >= EXPIRY_S)
        {
          g_debug ("transfer %s expired", pinhole_transfer_get_id (t));
          _pinhole_transfer_fail (t, PINHOLE_ERROR_TIMEOUT, EXPIRED_SENTENCE);
        }
    }
  if (self->transfer_expiry == 0)
    self->transfer_expiry = g_timeout_add_seconds (EXPIRY_CHECK_S, expiry_cb, self);
}

static PinholeTransfer *
transfer_from_record (PinholeTransferRecord *r)
{
  g_autoptr(PinholeManifest) manifest = NULL;
  g_autoptr(GPtrArray) sources = NULL;
  g_autoptr(GArray) accepted = NULL;
  PinholeTransfer *t;
  guint n;

  if (!pinhole_transfer_id_is_valid (r->id) || r->manifest == NULL)
    return NULL;
  manifest = pinhole_manifest_parse (r->manifest, strlen (r->manifest), NULL);
  if (manifest == NULL)
    return NULL;
  n = pinhole_manifest_get_n_entries (manifest);
  sources = sources_from_json (r->sources, n);
  if (sources == NULL)
    return NULL;
  if (r->accepted != NULL)
    {
      accepted = _pinhole_transfer_accepted_from_json (r->accepted, n);
      if (accepted == NULL || r->device == NULL)
        return NULL;
      t = _pinhole_transfer_new_outgoing_accepted (r->id, g_steal_pointer (&manifest),
                                                   g_steal_pointer (&sources), accepted);
      _pinhole_transfer_set_peer (t, r->peer, r->device);
      if (r->state == PINHOLE_TRANSFER_STATE_PAUSED)
        _pinhole_transfer_set_paused_here (t);
    }
  else
    {
      t = _pinhole_transfer_new_outgoing (r->id, g_steal_pointer (&manifest),
                                          g_steal_pointer (&sources));
      _pinhole_transfer_set_peer (t, r->peer, NULL);
    }
  _pinhole_transfer_set_created (t, r->created);
  return t;
}

/* the outgoing transfers the profile kept come back: offers go out again, accepted ones wait
 * for the recipient's device (it opens the session, as for any transfer it carries on) */
void
_pinhole_client_transfers_out_resume (PinholeClient *self)
{
  g_autoptr(GPtrArray) records = pinhole_profile_list_transfers (self->profile);

  for (guint i = 0; i < records->len; i++)
    {
      PinholeTransferRecord *r = records->pdata[i];
      g_autoptr(PinholeTransfer) t = NULL;
      PinholeContact *contact;

      if (r->direction != PINHOLE_TRANSFER_DIRECTION_OUTGOING ||
          pinhole_client_lookup_transfer (self, r->id) != NULL)
        continue;
      t = transfer_from_record (r);
      if (t == NULL)
        {
          g_debug ("transfer %s in the profile is damaged: forgotten", r->id);
          pinhole_profile_forget_transfer (self->profile, r->id, NULL);
          continue;
        }
      g_debug ("transfer %s to %s taken up again", r->id, r->peer);
      _pinhole_client_track_transfer (self, t);
      contact = pinhole_client_lookup_contact (self, r->peer);
      if (contact == NULL)
        continue;
      watch_presence (self, contact);
      if (pinhole_transfer_get_accepted (t) == NULL)
        offer_everywhere (self, t, NULL);
      else
        reach_recipient (self, t);   /* or the session it opened during our log-in */
    }
}

/* ---- sending ---- */

typedef struct
{
  char            *user;
} SendFiles;

static void
send_files_free (gpointer data)
{
  SendFiles *s = data;

  g_free (s->user);
  g_free (s);
}

static void
manifest_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PinholeClient *self = g_task_get_source_object (task);
  SendFiles *s = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) sources = NULL;
  g_autoptr(PinholeManifest) manifest = pinhole_manifest_build_finish (result, &sources, &error);
  g_autofree char *id = NULL;
  PinholeContact *contact;
  PinholeTransfer *t;

  if (manifest == NULL || !pinhole_manifest_validate (manifest, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  contact = pinhole_client_lookup_contact (self, s->user);
  if (contact == NULL || pinhole_contact_get_relation (contact) != PINHOLE_RELATION_MUTUAL)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED,
                               "%s is not your contact", s->user);
      return;
    }
  id = pinhole_transfer_id_new ();
  t = _pinhole_transfer_new_outgoing (id, g_steal_pointer (&manifest),
                                      g_steal_pointer (&sources));
  _pinhole_transfer_set_peer (t, s->user, NULL);
  save (self, t);
  _pinhole_client_track_transfer (self, t);
  watch_presence (self, contact);
  offer_everywhere (self, t, NULL);
  g_task_return_pointer (task, t, g_object_unref);
}

/**
 * pinhole_client_send_files_async:
 * @paths: files and folders (see pinhole_manifest_build_async())
 * Hashes what is offered in a worker and makes the transfer to @user (a mutual contact),
 * kept in the profile until it is over: the offer goes to every online device of @user, or
 * waits for one to come online. The first device to accept receives it.
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

/* Returns: (transfer full): the transfer, its offer on its way or waiting for a device */
PinholeTransfer *
pinhole_client_send_files_finish (PinholeClient  *self,
                                  GAsyncResult   *result,
                                  GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
