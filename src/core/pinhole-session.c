/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-session.c: one encrypted, ordered stream with a peer device over the current path:
 * the object, its state and its public API; the handshake, sending, receiving and paths are in
 * pinhole-session-*.c, per docs/session.md (session protocol version 1). */
#define G_LOG_DOMAIN "pinhole-session"

#include "pinhole-session.h"
#include "pinhole-session-private.h"

#include <sodium.h>
#include <string.h>

#include "pinhole-error.h"

#define DEFAULT_PING_INTERVAL_MS 5000
#define DEFAULT_TIMEOUT_MS       30000
#define DEFAULT_INITIAL_RTO_MS   1000   /* RFC 6298 §2.1 */
#define DEFAULT_MIN_RTO_MS       200

G_DEFINE_FINAL_TYPE (PinholeSession, pinhole_session, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_STATE,
  PROP_RTT_MS,
  PROP_PEER_ID,
  PROP_SEND_QUEUE_BYTES,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

guint _pinhole_session_signals[PINHOLE_SESSION_N_SIGNALS];

GType
pinhole_session_state_get_type (void)
{
  static gsize type_id = 0;
  static const GEnumValue values[] = {
    { PINHOLE_SESSION_STATE_NEW, "PINHOLE_SESSION_STATE_NEW", "new" },
    { PINHOLE_SESSION_STATE_HANDSHAKING, "PINHOLE_SESSION_STATE_HANDSHAKING", "handshaking" },
    { PINHOLE_SESSION_STATE_ESTABLISHED, "PINHOLE_SESSION_STATE_ESTABLISHED", "established" },
    { PINHOLE_SESSION_STATE_CLOSED, "PINHOLE_SESSION_STATE_CLOSED", "closed" },
    { PINHOLE_SESSION_STATE_FAILED, "PINHOLE_SESSION_STATE_FAILED", "failed" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type_id))
    {
      GType id = g_enum_register_static (g_intern_static_string ("PinholeSessionState"),
                                         values);
      g_once_init_leave (&type_id, id);
    }
  return type_id;
}

void
_pinhole_session_tx_frame_free (gpointer data)
{
  TxFrame *frame = data;

  g_bytes_unref (frame->payload);
  g_free (frame);
}

gboolean
_pinhole_session_is_live (PinholeSession *self)
{
  return self->state != PINHOLE_SESSION_STATE_CLOSED &&
         self->state != PINHOLE_SESSION_STATE_FAILED;
}

/* ---- state changes ---- */

void
_pinhole_session_set_state (PinholeSession      *self,
                            PinholeSessionState  state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

void
_pinhole_session_update_send_queue_bytes (PinholeSession *self,
                                          gint64          delta)
{
  if (delta == 0)
    return;
  self->send_queue_bytes = (guint64) ((gint64) self->send_queue_bytes + delta);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SEND_QUEUE_BYTES]);
}

void
_pinhole_session_set_rtt_ms (PinholeSession *self,
                             gdouble         rtt_ms)
{
  if (self->rtt_ms == rtt_ms)
    return;
  self->rtt_ms = rtt_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RTT_MS]);
}

static void
stop_timers (PinholeSession *self)
{
  g_clear_handle_id (&self->retx_source, g_source_remove);
  g_clear_handle_id (&self->ack_source, g_source_remove);
  g_clear_handle_id (&self->ping_source, g_source_remove);
  g_clear_handle_id (&self->liveness_source, g_source_remove);
  g_clear_handle_id (&self->bulk_source, g_source_remove);
}

/* the end of the session: CLOSED with a NULL error, FAILED otherwise; emits ::closed once */
void
_pinhole_session_finish (PinholeSession *self,
                         GError         *error)
{
  g_autoptr(PinholeSession) hold G_GNUC_UNUSED = g_object_ref (self);

  if (!_pinhole_session_is_live (self))
    return;

  stop_timers (self);
  _pinhole_session_wipe_handshake_secrets (self);
  sodium_memzero (self->tx_key, sizeof self->tx_key);
  sodium_memzero (self->rx_key, sizeof self->rx_key);
  sodium_memzero (self->prev_tx_key, sizeof self->prev_tx_key);
  sodium_memzero (self->prev_rx_key, sizeof self->prev_rx_key);
  g_clear_pointer (&self->hs_packet, g_bytes_unref);

  if (error != NULL)
    g_debug ("session with %s failed: %s", self->peer_id, error->message);
  else
    g_debug ("session with %s closed", self->peer_id);

  _pinhole_session_set_state (self, error != NULL ? PINHOLE_SESSION_STATE_FAILED
                                                  : PINHOLE_SESSION_STATE_CLOSED);
  g_signal_emit (self, _pinhole_session_signals[PINHOLE_SESSION_SIGNAL_CLOSED], 0, error);
}

void
_pinhole_session_fail (PinholeSession *self,
                       PinholeError    code,
                       const char     *format,
                       ...)
{
  g_autoptr(GError) error = NULL;
  va_list args;

  va_start (args, format);
  error = g_error_new_valist (PINHOLE_ERROR, code, format, args);
  va_end (args);
  _pinhole_session_finish (self, error);
}

/* ---- GObject ---- */

static void
pinhole_session_dispose (GObject *object)
{
  PinholeSession *self = PINHOLE_SESSION (object);

  stop_timers (self);
  if (self->paths != NULL)
    g_ptr_array_set_size (self->paths, 0);
  g_clear_object (&self->identity);

  G_OBJECT_CLASS (pinhole_session_parent_class)->dispose (object);
}

static void
pinhole_session_finalize (GObject *object)
{
  PinholeSession *self = PINHOLE_SESSION (object);

  g_clear_pointer (&self->paths, g_ptr_array_unref);
  g_queue_clear_full (&self->in_flight, _pinhole_session_tx_frame_free);
  g_queue_clear_full (&self->waiting, _pinhole_session_tx_frame_free);
  for (guint i = 0; i < G_N_ELEMENTS (self->bulk); i++)
    g_queue_clear_full (&self->bulk[i], _pinhole_session_tx_frame_free);
  for (guint i = 0; i < G_N_ELEMENTS (self->rx_slots); i++)
    g_clear_pointer (&self->rx_slots[i].payload, g_bytes_unref);
  g_clear_pointer (&self->hs_packet, g_bytes_unref);
  g_clear_pointer (&self->local_public_key, g_bytes_unref);
  g_clear_pointer (&self->peer_public_key, g_bytes_unref);
  g_free (self->local_id);
  g_free (self->peer_id);
  _pinhole_session_wipe_handshake_secrets (self);
  sodium_memzero (self->tx_key, sizeof self->tx_key);
  sodium_memzero (self->rx_key, sizeof self->rx_key);
  sodium_memzero (self->prev_tx_key, sizeof self->prev_tx_key);
  sodium_memzero (self->prev_rx_key, sizeof self->prev_rx_key);

  G_OBJECT_CLASS (pinhole_session_parent_class)->finalize (object);
}

static void
pinhole_session_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  PinholeSession *self = PINHOLE_SESSION (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_RTT_MS:
      g_value_set_double (value, self->rtt_ms);
      break;
    case PROP_PEER_ID:
      g_value_set_string (value, self->peer_id);
      break;
    case PROP_SEND_QUEUE_BYTES:
      g_value_set_uint64 (value, self->send_queue_bytes);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pinhole_session_class_init (PinholeSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");

  object_class->dispose = pinhole_session_dispose;
  object_class->finalize = pinhole_session_finalize;
  object_class->get_property = pinhole_session_get_property;

  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, PINHOLE_TYPE_SESSION_STATE,
                       PINHOLE_SESSION_STATE_NEW,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PinholeSession:rtt-ms:
   * The last round trip measured by PING/PONG on the current path, or -1 until then.
   */
  properties[PROP_RTT_MS] =
    g_param_spec_double ("rtt-ms", NULL, NULL, -1, G_MAXDOUBLE, -1,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_PEER_ID] =
    g_param_spec_string ("peer-id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PinholeSession:send-queue-bytes:
   * Payload bytes accepted by pinhole_session_send() and not yet acknowledged (waiting or in
   * flight); bulk senders pause while it is high.
   */
  properties[PROP_SEND_QUEUE_BYTES] =
    g_param_spec_uint64 ("send-queue-bytes", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  _pinhole_session_signals[PINHOLE_SESSION_SIGNAL_ESTABLISHED] =
    g_signal_new ("established", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
  /**
   * PinholeSession::frame-received:
   * @channel: the channel the peer sent on
   * @payload: the frame; each is delivered once, in the order the peer sent them
   */
  _pinhole_session_signals[PINHOLE_SESSION_SIGNAL_FRAME_RECEIVED] =
    g_signal_new ("frame-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_BYTES);
  /**
   * PinholeSession::acked:
   * @id: the id pinhole_session_send() gave a frame that the peer has received; emitted
   *   in the order the frames went out, which is the order of ids within a channel
   */
  _pinhole_session_signals[PINHOLE_SESSION_SIGNAL_ACKED] =
    g_signal_new ("acked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);
  _pinhole_session_signals[PINHOLE_SESSION_SIGNAL_PATH_CHANGED] =
    g_signal_new ("path-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
  /**
   * PinholeSession::path-lost:
   * @path: a direct path that stopped answering heartbeats; the session has detached it
   *   (after ::path-changed) and the owner of the path may close it and look for another
   */
  _pinhole_session_signals[PINHOLE_SESSION_SIGNAL_PATH_LOST] =
    g_signal_new ("path-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, PINHOLE_TYPE_PATH);
  /**
   * PinholeSession::closed:
   * @error: (nullable): %NULL after a close by either side; otherwise why the session failed
   *   (%PINHOLE_ERROR_AUTH, %PINHOLE_ERROR_TIMEOUT)
   */
  _pinhole_session_signals[PINHOLE_SESSION_SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
pinhole_session_init (PinholeSession *self)
{
  self->paths = g_ptr_array_new_with_free_func (_pinhole_session_path_entry_free);
  g_queue_init (&self->in_flight);
  g_queue_init (&self->waiting);
  for (guint i = 0; i < G_N_ELEMENTS (self->bulk); i++)
    g_queue_init (&self->bulk[i]);
  self->next_id = 1;
  self->bulk_next = PINHOLE_SESSION_CHANNEL_BULK;
  self->state = PINHOLE_SESSION_STATE_NEW;
  self->rtt_ms = -1;
  self->srtt = -1;
  self->next_seq = 1;
  self->initial_rto_ms = DEFAULT_INITIAL_RTO_MS;
  self->min_rto_ms = DEFAULT_MIN_RTO_MS;
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
  self->ping_interval_ms = DEFAULT_PING_INTERVAL_MS;
  _pinhole_session_reset_bulk_window (self);
}

/* ---- public API ---- */

/**
 * pinhole_session_new:
 * @identity: this device's key pair
 * @local_id: this device, "user/device"
 * @peer_id: the peer device, "user/device"
 * @peer_public_key: the peer's 32-byte Ed25519 key, already trust-checked by the caller;
 *   a peer that cannot sign with it fails the session with %PINHOLE_ERROR_AUTH
 * @initiator: whether this side sends the first handshake message
 *
 * Returns: (transfer full): a session in state NEW; attach a path and start it
 */
PinholeSession *
pinhole_session_new (PinholeIdentity *identity,
                     const char      *local_id,
                     const char      *peer_id,
                     GBytes          *peer_public_key,
                     gboolean         initiator)
{
  PinholeSession *self;

  g_return_val_if_fail (PINHOLE_IS_IDENTITY (identity), NULL);
  g_return_val_if_fail (local_id != NULL && strlen (local_id) <= G_MAXUINT16, NULL);
  g_return_val_if_fail (peer_id != NULL && strlen (peer_id) <= G_MAXUINT16, NULL);
  g_return_val_if_fail (peer_public_key != NULL, NULL);
  g_return_val_if_fail (g_bytes_get_size (peer_public_key) == 32, NULL);

  self = g_object_new (PINHOLE_TYPE_SESSION, NULL);
  self->identity = g_object_ref (identity);
  self->local_public_key = pinhole_identity_dup_public_key (identity);
  self->peer_public_key = g_bytes_ref (peer_public_key);
  self->local_id = g_strdup (local_id);
  self->peer_id = g_strdup (peer_id);
  self->initiator = !!initiator;
  return self;
}

/**
 * pinhole_session_start:
 *
 * The initiator sends HELLO; the responder waits for one (it also answers a HELLO that
 * arrives before start). Either fails with %PINHOLE_ERROR_TIMEOUT when the handshake does
 * not complete within the timeout.
 */
void
pinhole_session_start (PinholeSession *self)
{
  g_return_if_fail (PINHOLE_IS_SESSION (self));

  if (self->state != PINHOLE_SESSION_STATE_NEW)
    return;

  self->progress_time = g_get_monotonic_time ();
  if (self->initiator)
    {
      _pinhole_session_new_ephemeral (self);
      g_clear_pointer (&self->hs_packet, g_bytes_unref);
      self->hs_packet = pinhole_session_packet_build_hello (self->eph_public);
      _pinhole_session_send_packet (self, self->hs_packet);
    }
  _pinhole_session_set_state (self, PINHOLE_SESSION_STATE_HANDSHAKING);
  _pinhole_session_restart_retransmit (self);
}

/**
 * pinhole_session_send:
 * @channel: 0 control, 1 chat, 2 transfer messages, 3 and up bulk (transfer data)
 * @payload: at most %PINHOLE_SESSION_MAX_PAYLOAD bytes
 * @out_id: (out) (optional): the frame's id, as ::acked will report it: ids count the calls
 *   to send(), from 1
 *
 * Queues a frame. Frames queued before the handshake completes are sent after it. Frames on
 * channels 0-2 go before bulk ones, and bulk channels take turns (docs/session.md §6); within
 * a channel, frames keep their order.
 * Fails with %PINHOLE_ERROR_LIMIT for a payload or queue too large and with
 * %PINHOLE_ERROR_CLOSED after the session ended.
 *
 * Returns: %TRUE when the frame was queued
 */
gboolean
pinhole_session_send (PinholeSession *self,
                      guint8          channel,
                      GBytes         *payload,
                      guint64        *out_id,
                      GError        **error)
{
  TxFrame *frame;
  gsize len;

  g_return_val_if_fail (PINHOLE_IS_SESSION (self), FALSE);
  g_return_val_if_fail (payload != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  len = g_bytes_get_size (payload);
  if (!_pinhole_session_is_live (self))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                   "Session with %s is closed", self->peer_id);
      return FALSE;
    }
  if (len > PINHOLE_SESSION_MAX_PAYLOAD)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "Frame payload of %" G_GSIZE_FORMAT " bytes exceeds the limit of %u",
                   len, PINHOLE_SESSION_MAX_PAYLOAD);
      return FALSE;
    }
  if (self->send_queue_bytes + len > PINHOLE_SESSION_MAX_QUEUE)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "Send queue to %s holds %" G_GUINT64_FORMAT " bytes; limit %u",
                   self->peer_id, self->send_queue_bytes, PINHOLE_SESSION_MAX_QUEUE);
      return FALSE;
    }

  frame = g_new0 (TxFrame, 1);
  frame->id = self->next_id++;
  self->last_data_time = g_get_monotonic_time ();
  frame->channel = channel;
  frame->payload = g_bytes_ref (payload);
  if (channel >= PINHOLE_SESSION_CHANNEL_BULK)
    {
      g_queue_push_tail (&self->bulk[channel], frame);
      self->bulk_waiting++;
    }
  else
    g_queue_push_tail (&self->waiting, frame);
  if (out_id != NULL)
    *out_id = frame->id;

  _pinhole_session_update_send_queue_bytes (self, (gint64) len);
  _pinhole_session_pump (self);
  return TRUE;
}

/**
 * pinhole_session_ping:
 *
 * Sends a PING; its PONG updates #PinholeSession:rtt-ms. Does nothing unless established.
 */
void
pinhole_session_ping (PinholeSession *self)
{
  g_return_if_fail (PINHOLE_IS_SESSION (self));

  if (self->state != PINHOLE_SESSION_STATE_ESTABLISHED)
    return;
  self->ping_id++;
  self->ping_outstanding = TRUE;
  self->ping_sent_time = g_get_monotonic_time ();
  _pinhole_session_transmit_frame (self, PINHOLE_SESSION_FRAME_PING, self->ping_id, 0, NULL);
}

/**
 * pinhole_session_close:
 *
 * Sends CLOSE (when established) and ends the session at once: frames not yet
 * acknowledged are abandoned. Emits ::closed with a %NULL error.
 */
void
pinhole_session_close (PinholeSession *self)
{
  g_return_if_fail (PINHOLE_IS_SESSION (self));

  if (self->state == PINHOLE_SESSION_STATE_ESTABLISHED)
    _pinhole_session_transmit_frame (self, PINHOLE_SESSION_FRAME_CLOSE, 0, 0, NULL);
  _pinhole_session_finish (self, NULL);
}

PinholeSessionState
pinhole_session_get_state (PinholeSession *self)
{
  g_return_val_if_fail (PINHOLE_IS_SESSION (self), PINHOLE_SESSION_STATE_FAILED);
  return self->state;
}

gdouble
pinhole_session_get_rtt_ms (PinholeSession *self)
{
  g_return_val_if_fail (PINHOLE_IS_SESSION (self), -1);
  return self->rtt_ms;
}

/**
 * pinhole_session_get_peer_id:
 * Returns: (transfer none): the peer device, "user/device"
 */
const char *
pinhole_session_get_peer_id (PinholeSession *self)
{
  g_return_val_if_fail (PINHOLE_IS_SESSION (self), NULL);
  return self->peer_id;
}

guint64
pinhole_session_get_send_queue_bytes (PinholeSession *self)
{
  g_return_val_if_fail (PINHOLE_IS_SESSION (self), 0);
  return self->send_queue_bytes;
}

/**
 * pinhole_session_set_ping_interval:
 * @interval_ms: how often an established session pings; 0 stops automatic pings (and
 *   with them the check that the peer was heard from within the timeout)
 */
void
pinhole_session_set_ping_interval (PinholeSession *self,
                                   guint           interval_ms)
{
  g_return_if_fail (PINHOLE_IS_SESSION (self));

  self->ping_interval_ms = interval_ms;
  _pinhole_session_arm_ping (self);
}

/**
 * pinhole_session_set_timeout:
 * @timeout_ms: how long the handshake, or outstanding frames, may go without progress
 *   before the session fails with %PINHOLE_ERROR_TIMEOUT (default 30000)
 */
void
pinhole_session_set_timeout (PinholeSession *self,
                             guint           timeout_ms)
{
  g_return_if_fail (PINHOLE_IS_SESSION (self));
  g_return_if_fail (timeout_ms > 0);

  self->timeout_ms = timeout_ms;
  if (self->retx_source != 0)
    _pinhole_session_arm_retransmit (self);
}

void
_pinhole_session_set_rto (PinholeSession *self,
                          guint           initial_ms,
                          guint           min_ms)
{
  g_return_if_fail (PINHOLE_IS_SESSION (self));
  g_return_if_fail (initial_ms > 0 && min_ms > 0);

  self->initial_rto_ms = initial_ms;
  self->min_rto_ms = min_ms;
}

/* feeds one packet in as if a path had delivered it */
void
_pinhole_session_receive_packet (PinholeSession *self,
                                 GBytes         *packet)
{
  g_autoptr(PinholeSession) hold G_GNUC_UNUSED = NULL;

  g_return_if_fail (PINHOLE_IS_SESSION (self));
  g_return_if_fail (packet != NULL);

  hold = g_object_ref (self);
  _pinhole_session_process_packet (self, packet);
}

guint64
_pinhole_session_get_retransmissions (PinholeSession *self)
{
  g_return_val_if_fail (PINHOLE_IS_SESSION (self), 0);
  return self->retransmissions;
}

void
_pinhole_session_establish_with_keys (PinholeSession *self,
                                      const guint8   *tx_key,
                                      const guint8   *rx_key)
{
  g_return_if_fail (PINHOLE_IS_SESSION (self));
  g_return_if_fail (self->state == PINHOLE_SESSION_STATE_NEW);

  memcpy (self->tx_key, tx_key, sizeof self->tx_key);
  memcpy (self->rx_key, rx_key, sizeof self->rx_key);
  self->peer_confirmed = TRUE;
  _pinhole_session_establish (self);
}

/* Returns: (transfer none): the ephemeral private key, zero when wiped */
const guint8 *
_pinhole_session_get_ephemeral_secret (PinholeSession *self)
{
  g_return_val_if_fail (PINHOLE_IS_SESSION (self), NULL);
  return self->eph_secret;
}

/* Returns: (transfer none): the FINISH key, zero when wiped */
const guint8 *
_pinhole_session_get_finish_key (PinholeSession *self)
{
  g_return_val_if_fail (PINHOLE_IS_SESSION (self), NULL);
  static const guint8 none[32];

  /* the responder's newest attempt's; the initiator seals FINISH at once and keeps no key */
  if (!self->initiator && self->n_attempts > 0)
    return self->attempts[self->n_attempts - 1].hs_key_finish;
  return none;
}
