/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-device-session.c: the end-to-end session with one contact device. It starts on a
 * relay channel of the server (either side opens it; when both do at once the smaller
 * "user/device" id's wins), carries reliable frames that are settled when the device
 * acknowledges them, probes the round trip, and ends by timeout, close or the loss of its only
 * path. Frames not yet acknowledged are handed back to their senders when it ends. */
#define G_LOG_DOMAIN "pinhole-device"

#include "pinhole-client-private.h"
#include "pinhole-device-private.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"

#include <string.h>

#define ESTABLISH_TIMEOUT_S 15
#define PROBE_WATCHED_MS    1000   /* while a view shows the RTT live (`pinhole-cli path`) */
#define PROBE_IDLE_MS       10000

typedef struct
{
  guint                 channel;
  GBytes               *payload;
  guint64               frame_id;  /* on the current session; 0 when not sent on it */
  PinholeDeviceSent     sent;      /* nullable, called once */
  PinholeDeviceSettled  settled;
  gpointer              user_data;
} Outgoing;

static void
outgoing_settle (PinholeDevice *self,
                 Outgoing      *o,
                 const GError  *error)
{
  o->settled (self, o->payload, error, o->user_data);
  g_bytes_unref (o->payload);
  g_free (o);
}

static void
set_session (PinholeDevice  *self,
             PinholeSession *session)
{
  if (self->session == session)
    return;
  g_set_object (&self->session, session);
  g_object_notify_by_pspec (G_OBJECT (self), _pinhole_device_props[PINHOLE_DEVICE_PROP_SESSION]);
}

static void
close_relay (PinholeDevice *self)
{
  PinholeClient *client = self->client;

  if (self->relay == NULL)
    return;
  if (pinhole_relay_channels_remove (client->relays, self->relay))
    _pinhole_client_close_channel (client, pinhole_relay_path_get_channel (self->relay));
  g_clear_object (&self->relay);
}

static void
clear_session (PinholeDevice *self)
{
  self->resuming = FALSE;
  _pinhole_device_direct_clear (self);
  g_clear_handle_id (&self->probe_source, g_source_remove);
  if (self->session != NULL)
    {
      g_autoptr(PinholeSession) session = g_object_ref (self->session);

      g_signal_handlers_disconnect_by_data (session, self);
      if (self->transfers != NULL)
        {
          g_signal_handlers_disconnect_by_data (self->transfers, self);
          pinhole_transfer_link_close (self->transfers);
          g_clear_object (&self->transfers);
        }
      if (pinhole_session_get_state (session) < PINHOLE_SESSION_STATE_CLOSED)
        pinhole_session_close (session);
      set_session (self, NULL);
    }
  close_relay (self);
  g_clear_handle_id (&self->establish_timeout, g_source_remove);
  _pinhole_device_update_path (self);
}

/**
 * _pinhole_device_end_session:
 * The session is over: waiters fail with @error, and each frame not yet acknowledged goes back
 * to its sender (which may seal a chat message for the server instead).
 */
void
_pinhole_device_end_session (PinholeDevice *self,
                             const GError  *error)
{
  g_autoptr(GPtrArray) waiters = g_steal_pointer (&self->waiters);
  g_autoptr(GError) closed = error ? g_error_copy (error)
                                   : g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                                  "the session with %s closed", self->id);
  Outgoing *o;
  gboolean had_transfers;

  g_debug ("session with %s ended: %s", self->id, closed->message);
  had_transfers = self->transfers != NULL;
  clear_session (self);
  if (had_transfers && self->client != NULL)
    _pinhole_client_transfers_session_ended (self->client, self);
  self->waiters = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < waiters->len; i++)
    g_task_return_error (g_ptr_array_index (waiters, i), g_error_copy (closed));
  while ((o = g_queue_pop_head (&self->outbox)) != NULL)
    outgoing_settle (self, o, closed);
}

/* the device is gone from the roster, or the client closes */
void
_pinhole_device_forget (PinholeDevice *self,
                        const GError  *error)
{
  if (self->client == NULL)
    return;
  _pinhole_device_end_session (self, error);
  self->client = NULL;
}

/* ---- probing ---- */

static gboolean
probe_cb (gpointer user_data)
{
  PinholeDevice *self = user_data;

  if (self->session != NULL &&
      pinhole_session_get_state (self->session) == PINHOLE_SESSION_STATE_ESTABLISHED)
    pinhole_session_ping (self->session);
  return G_SOURCE_CONTINUE;
}

static void
schedule_probes (PinholeDevice *self)
{
  g_clear_handle_id (&self->probe_source, g_source_remove);
  if (self->session == NULL ||
      pinhole_session_get_state (self->session) != PINHOLE_SESSION_STATE_ESTABLISHED)
    return;
  self->probe_source = g_timeout_add (self->probe_holds > 0 ? PROBE_WATCHED_MS : PROBE_IDLE_MS,
                                      probe_cb, self);
}

/**
 * pinhole_device_hold_probes:
 * Keeps the RTT fresh, one probe a second, until the matching release (a view that shows it
 * live); otherwise the device probes every ten seconds. Probes at once.
 */
void
pinhole_device_hold_probes (PinholeDevice *self)
{
  g_return_if_fail (PINHOLE_IS_DEVICE (self));
  self->probe_holds++;
  probe_cb (self);
  schedule_probes (self);
}

void
pinhole_device_release_probes (PinholeDevice *self)
{
  g_return_if_fail (PINHOLE_IS_DEVICE (self) && self->probe_holds > 0);
  if (--self->probe_holds == 0)
    schedule_probes (self);
}

/* ---- session events ---- */

static void
session_frame_cb (PinholeSession *session,
                  guint           channel,
                  GBytes         *payload,
                  PinholeDevice  *self)
{
  if (channel == PINHOLE_SESSION_CHANNEL_CONTROL)
    _pinhole_device_direct_control (self, payload);
  else
    _pinhole_device_emit_frame (self, channel, payload);
}

static void
session_acked_cb (PinholeSession *session,
                  guint64         frame_id,
                  PinholeDevice  *self)
{
  for (GList *l = self->outbox.head; l != NULL; l = l->next)
    {
      Outgoing *o = l->data;

      if (o->frame_id == frame_id)
        {
          g_queue_delete_link (&self->outbox, l);
          outgoing_settle (self, o, NULL);
          return;
        }
    }
}

static void
session_established_cb (PinholeSession *session,
                        PinholeDevice  *self)
{
  g_autoptr(GPtrArray) waiters = g_steal_pointer (&self->waiters);

  g_clear_handle_id (&self->establish_timeout, g_source_remove);
  self->transfer_retries = 0;
  self->waiters = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < waiters->len; i++)
    g_task_return_pointer (g_ptr_array_index (waiters, i), g_object_ref (session),
                           g_object_unref);
  _pinhole_device_update_path (self);
  pinhole_session_ping (session);
  schedule_probes (self);
  _pinhole_device_direct_session_up (self);
}

static void
session_closed_cb (PinholeSession *session,
                   const GError   *error,
                   PinholeDevice  *self)
{
  g_autoptr(GError) copy = error ? g_error_copy (error) : NULL;
  g_autoptr(PinholeDevice) hold G_GNUC_UNUSED = g_object_ref (self);

  _pinhole_device_end_session (self, copy);
}

static void
session_path_changed_cb (PinholeSession *session,
                         PinholeDevice  *self)
{
  _pinhole_device_update_path (self);
}

static void
session_rtt_cb (PinholeSession *session,
                GParamSpec     *pspec,
                PinholeDevice  *self)
{
  _pinhole_device_update_path (self);
}

static void
session_path_lost_cb (PinholeSession *session,
                      PinholePath    *path,
                      PinholeDevice  *self)
{
  _pinhole_device_direct_path_lost (self, path);
}

static gboolean
establish_timeout_cb (gpointer user_data)
{
  PinholeDevice *self = user_data;
  g_autoptr(GError) error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT,
                                         "no session with %s within %d s", self->id,
                                         ESTABLISH_TIMEOUT_S);

  self->establish_timeout = 0;
  _pinhole_device_end_session (self, error);
  return G_SOURCE_REMOVE;
}

/* sends every frame not yet on the current session */
static void
flush_outbox (PinholeDevice *self)
{
  for (GList *l = self->outbox.head; l != NULL; l = l->next)
    {
      Outgoing *o = l->data;
      g_autoptr(GError) error = NULL;

      if (o->frame_id != 0)
        continue;
      if (!pinhole_session_send (self->session, o->channel, o->payload, &o->frame_id, &error))
        g_debug ("cannot queue a frame for %s: %s", self->id, error->message);
      else if (o->sent != NULL)
        {
          PinholeDeviceSent sent = o->sent;

          o->sent = NULL;
          sent (self, o->user_data);
        }
    }
}

static void
transfer_offer_cb (PinholeTransferLink *link,
                   PinholeTransfer     *transfer,
                   PinholeDevice       *self)
{
  if (self->client != NULL)
    _pinhole_client_transfer_offered (self->client, self, transfer);
}

static void
attach_session (PinholeDevice    *self,
                PinholeRelayPath *relay,
                gboolean          initiator)
{
  PinholeClient *client = self->client;
  g_autoptr(PinholeSession) session = NULL;

  clear_session (self);
  self->relay = g_object_ref (relay);
  pinhole_relay_channels_add (client->relays, relay);
  session = pinhole_session_new (pinhole_profile_get_identity (client->profile),
                                 client->local_id, self->id, self->key, initiator);
  g_signal_connect (session, "frame-received", G_CALLBACK (session_frame_cb), self);
  g_signal_connect (session, "acked", G_CALLBACK (session_acked_cb), self);
  g_signal_connect (session, "established", G_CALLBACK (session_established_cb), self);
  g_signal_connect (session, "closed", G_CALLBACK (session_closed_cb), self);
  g_signal_connect (session, "path-changed", G_CALLBACK (session_path_changed_cb), self);
  g_signal_connect (session, "notify::rtt-ms", G_CALLBACK (session_rtt_cb), self);
  g_signal_connect (session, "path-lost", G_CALLBACK (session_path_lost_cb), self);
  self->transfers = pinhole_transfer_link_new (session);
  g_signal_connect (self->transfers, "offer-received", G_CALLBACK (transfer_offer_cb), self);
  _pinhole_client_transfers_attach (client, self);
  set_session (self, session);
  pinhole_session_attach_path (session, PINHOLE_PATH (relay));
  self->establish_timeout = g_timeout_add_seconds (ESTABLISH_TIMEOUT_S, establish_timeout_cb,
                                                   self);
  /* waiting frames get new ids on the new session */
  for (GList *l = self->outbox.head; l != NULL; l = l->next)
    ((Outgoing *) l->data)->frame_id = 0;
  flush_outbox (self);
  if (initiator)
    pinhole_session_start (session);
  _pinhole_relay_path_release (relay);
}

static void
relay_open_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  PinholeClient *client = PINHOLE_CLIENT (source);
  g_autoptr(PinholeDevice) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) reply = pinhole_client_request_finish (client, result, &error);
  gint64 channel;
  g_autoptr(PinholeRelayPath) relay = NULL;

  if (self->client == NULL)
    return;   /* forgotten meanwhile */
  if (reply == NULL ||
      !pinhole_stanza_require_int (reply, "channel", 1, G_MAXUINT32, &channel, &error))
    {
      _pinhole_device_end_session (self, error);
      return;
    }
  if (self->session != NULL)
    {
      /* the peer opened one first and we accepted it meanwhile: release this channel */
      _pinhole_client_close_channel (client, (guint32) channel);
      return;
    }
  relay = pinhole_relay_path_new (client->ws, (guint32) channel);
  attach_session (self, relay, TRUE);
}

/* opens a session over a new relay channel unless one is open or opening */
void
_pinhole_device_ensure_session (PinholeDevice *self)
{
  g_autoptr(JsonObject) stanza = NULL;

  if (self->session != NULL &&
      pinhole_session_get_state (self->session) < PINHOLE_SESSION_STATE_CLOSED)
    return;
  if (self->establish_timeout != 0)
    return;   /* relay-open in flight */
  self->establish_timeout = g_timeout_add_seconds (ESTABLISH_TIMEOUT_S, establish_timeout_cb,
                                                   self);
  stanza = pinhole_stanza_new ("relay-open", NULL);
  json_object_set_string_member (stanza, "user", self->user);
  json_object_set_string_member (stanza, "device", self->name);
  pinhole_client_request_async (self->client, stanza, NULL, relay_open_cb, g_object_ref (self));
}

/* @task: returns the established session, or fails when it cannot be had */
void
_pinhole_device_wait_session (PinholeDevice *self,
                              GTask         *task)
{
  if (self->session != NULL &&
      pinhole_session_get_state (self->session) == PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      g_task_return_pointer (task, g_object_ref (self->session), g_object_unref);
      g_object_unref (task);
      return;
    }
  g_ptr_array_add (self->waiters, task);
  _pinhole_device_ensure_session (self);
}

/* when both opened at once, the session of the smaller id wins on both sides: ours is kept
 * and the peer's channel refused when ours is still handshaking and our id is smaller */
gboolean
_pinhole_device_prefers_own_session (PinholeDevice *self)
{
  return self->session != NULL &&
         pinhole_session_get_state (self->session) == PINHOLE_SESSION_STATE_HANDSHAKING &&
         strcmp (self->client->local_id, self->id) < 0;
}

/* the device opened a relay channel to us */
void
_pinhole_device_accept_relay (PinholeDevice    *self,
                              PinholeRelayPath *relay)
{
  g_clear_handle_id (&self->establish_timeout, g_source_remove);
  attach_session (self, relay, FALSE);
}

/**
 * _pinhole_device_relay_lost:
 * The server closed @relay (the device left it, or the contacts are no longer mutual): a
 * session that still has a direct path carries on there (the relay channel is opened again
 * later, _pinhole_device_resume_relay()); one that had only the relay is over, so that what
 * waits for the device goes sealed to the server at once.
 */
void
_pinhole_device_relay_lost (PinholeDevice    *self,
                            PinholeRelayPath *relay,
                            const GError     *error)
{
  if (self->relay != relay)
    return;
  pinhole_relay_channels_remove (self->client->relays, self->relay);
  g_clear_object (&self->relay);
  if (self->session != NULL &&
      pinhole_session_get_state (self->session) == PINHOLE_SESSION_STATE_ESTABLISHED &&
      pinhole_session_get_path (self->session) != NULL)
    {
      g_debug ("session with %s stays on its direct path without the relay", self->id);
      _pinhole_device_update_path (self);
      return;
    }
  _pinhole_device_end_session (self, error);
}

/**
 * _pinhole_device_server_lost:
 * Our server connection is gone, and the relay with it. An established session carries on:
 * on its direct path, or, while the agent is still moving it onto one, without a path until
 * the session's own timeout; nothing could be stored for the device meanwhile anyway. A
 * session still on its way is over.
 */
void
_pinhole_device_server_lost (PinholeDevice *self,
                             const GError  *error)
{
  if (self->relay != NULL)
    pinhole_relay_channels_remove (self->client->relays, self->relay);
  g_clear_object (&self->relay);
  self->resuming = FALSE;
  if (self->session != NULL &&
      pinhole_session_get_state (self->session) == PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      g_debug ("session with %s carries on without the server", self->id);
      _pinhole_device_update_path (self);
      return;
    }
  if (self->session != NULL || self->establish_timeout != 0)
    _pinhole_device_end_session (self, error);
}

static void
resume_open_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  PinholeClient *client = PINHOLE_CLIENT (source);
  g_autoptr(PinholeDevice) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) reply = pinhole_client_request_finish (client, result, &error);
  g_autoptr(PinholeRelayPath) relay = NULL;
  gint64 channel;

  self->resuming = FALSE;
  if (self->client == NULL)
    return;
  if (reply == NULL ||
      !pinhole_stanza_require_int (reply, "channel", 1, G_MAXUINT32, &channel, &error))
    {
      g_debug ("no relay behind the session with %s: %s", self->id, error->message);
      return;
    }
  relay = pinhole_relay_path_new (client->ws, (guint32) channel);
  if (!_pinhole_device_resume_on (self, relay))
    _pinhole_client_close_channel (client, (guint32) channel);
}

/**
 * _pinhole_device_resume_relay:
 * The server connection is back (or the device came online again) while the session lives on
 * a direct path: the side with the smaller id opens a relay channel for the same session, so
 * that it has the relay to fall back on again. Nothing is re-sent and no handshake is made.
 */
void
_pinhole_device_resume_relay (PinholeDevice *self)
{
  g_autoptr(JsonObject) stanza = NULL;

  if (self->client == NULL || !pinhole_client_is_connected (self->client) ||
      self->relay != NULL || self->session == NULL || self->resuming ||
      pinhole_session_get_state (self->session) != PINHOLE_SESSION_STATE_ESTABLISHED ||
      self->presence == PINHOLE_PRESENCE_OFFLINE ||
      strcmp (self->client->local_id, self->id) > 0)
    return;
  self->resuming = TRUE;
  stanza = pinhole_stanza_new ("relay-open", NULL);
  json_object_set_string_member (stanza, "user", self->user);
  json_object_set_string_member (stanza, "device", self->name);
  json_object_set_boolean_member (stanza, "resume", TRUE);
  pinhole_client_request_async (self->client, stanza, NULL, resume_open_cb, g_object_ref (self));
}

/**
 * _pinhole_device_resume_on:
 * @relay: a relay channel opened (by either side) to carry on the current session
 * Returns: %FALSE when there is no established session to carry on: the channel is refused
 */
gboolean
_pinhole_device_resume_on (PinholeDevice    *self,
                           PinholeRelayPath *relay)
{
  self->resuming = FALSE;
  if (self->session == NULL ||
      pinhole_session_get_state (self->session) != PINHOLE_SESSION_STATE_ESTABLISHED)
    return FALSE;
  if (self->relay != NULL)
    close_relay (self);
  self->relay = g_object_ref (relay);
  pinhole_relay_channels_add (self->client->relays, relay);
  g_debug ("session with %s has the relay again", self->id);
  pinhole_session_add_backup_path (self->session, PINHOLE_PATH (relay));
  _pinhole_relay_path_release (relay);
  _pinhole_device_update_path (self);
  return TRUE;
}

/**
 * _pinhole_device_send:
 * Queues @payload on @channel of the session (opening one when needed) until the device
 * acknowledges it; @sent (nullable) when it first goes onto a session, @settled exactly once,
 * with the error that ended the session when it ends first.
 */
void
_pinhole_device_send (PinholeDevice        *self,
                      guint                 channel,
                      GBytes               *payload,
                      PinholeDeviceSent     sent,
                      PinholeDeviceSettled  settled,
                      gpointer              user_data)
{
  Outgoing *o = g_new0 (Outgoing, 1);

  o->sent = sent;
  o->channel = channel;
  o->payload = g_bytes_ref (payload);
  o->settled = settled;
  o->user_data = user_data;
  g_queue_push_tail (&self->outbox, o);
  if (self->session != NULL &&
      pinhole_session_get_state (self->session) < PINHOLE_SESSION_STATE_CLOSED)
    flush_outbox (self);
  else
    _pinhole_device_ensure_session (self);
}

/* a message on @channel of the current session, best effort: lost with the session */
void
_pinhole_device_send_best_effort (PinholeDevice *self,
                                  guint          channel,
                                  JsonObject    *message)
{
  g_autofree char *text = NULL;
  gsize len;
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GError) error = NULL;

  if (self->session == NULL)
    return;
  text = pinhole_stanza_to_string (message, &len);
  payload = g_bytes_new_take (g_steal_pointer (&text), len);
  if (!pinhole_session_send (self->session, channel, payload, NULL, &error))
    g_debug ("message on channel %u to %s not sent: %s", channel, self->id, error->message);
}

/* a control message on the current session, best effort (the agent repeats what matters) */
void
_pinhole_device_send_control (PinholeDevice *self,
                              JsonObject    *message)
{
  _pinhole_device_send_best_effort (self, PINHOLE_SESSION_CHANNEL_CONTROL, message);
}
