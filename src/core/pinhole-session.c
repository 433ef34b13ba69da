/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-session.c: one encrypted, ordered stream with a peer device over the current path:
 * SIGMA-I handshake, ChaCha20-Poly1305 frames, cumulative acks and retransmission, per
 * docs/session.md (session protocol version 1). */
#define G_LOG_DOMAIN "pinhole-session"

#include "pinhole-session.h"
#include "pinhole-session-private.h"

#include <sodium.h>
#include <string.h>

#include "pinhole-error.h"
#include "pinhole-session-frame.h"

#define PROTOCOL_LABEL      "pinhole-session-v1"
#define SIG_LABEL_INITIATOR "pinhole-session-v1 initiator"
#define SIG_LABEL_RESPONDER "pinhole-session-v1 responder"

#define DEFAULT_PING_INTERVAL_MS 5000
/* direct paths: a heartbeat every 2 s while frames flow, a keepalive every 15 s when idle
 * (home routers drop idle UDP mappings after 30 s), and a path that has not answered a probe
 * for 4 s is dead, so the session is back on the relay at most 6 s after the last reply while
 * it is in use */
#define HEARTBEAT_ACTIVE_MS      2000
#define HEARTBEAT_IDLE_MS        15000
#define ACTIVE_WINDOW_MS         30000
#define PATH_DEAD_AFTER_MS       4000
#define LIVENESS_TICK_MS         250
#define DEFAULT_TIMEOUT_MS       30000
#define DEFAULT_INITIAL_RTO_MS   1000   /* RFC 6298 §2.1 */
#define DEFAULT_MIN_RTO_MS       200
#define MAX_RTO_MS               10000
#define FAST_RETRANSMIT_DUPACKS  3
#define REPLAY_WINDOW_BITS       1024
/* counters this far below the highest seen are refused as stale */
#define REPLAY_WINDOW            (REPLAY_WINDOW_BITS - 64)

typedef struct
{
  guint64  seq;
  guint8   channel;
  guint    transmissions;
  gint64   sent_time;   /* µs, monotonic; of the last transmission */

  /* owned */
  GBytes  *payload;
} TxFrame;

typedef struct
{
  guint64  seq;         /* 0: empty slot */
  guint8   channel;

  /* owned */
  GBytes  *payload;
} RxSlot;

typedef struct
{
  /* owned */
  PinholePath *path;

  gulong       received_id;
  gulong       closed_id;
  gint64       last_rx;      /* µs; last authenticated packet that came on this path */
  gint64       probe_time;   /* µs; last heartbeat sent on this path */
} PathEntry;

struct _PinholeSession
{
  GObject              parent_instance;

  /* owned */
  PinholeIdentity     *identity;
  GBytes              *local_public_key;
  GBytes              *peer_public_key;
  char                *local_id;
  char                *peer_id;
  GPtrArray           *paths;            /* PathEntry, in attach order; the last is current */
  GBytes              *hs_packet;        /* last handshake packet sent, for retransmission */
  GQueue               in_flight;        /* TxFrame, sent and unacknowledged, by seq */
  GQueue               waiting;          /* TxFrame, not sent yet, by seq */
  RxSlot               rx_slots[PINHOLE_SESSION_RX_WINDOW];

  gboolean             initiator;
  PinholeSessionState  state;
  gdouble              rtt_ms;
  guint64              send_queue_bytes;

  /* handshake; secrets wiped as soon as they are no longer needed */
  guint8               eph_secret[32];
  guint8               eph_public[32];
  guint8               peer_eph[32];
  gboolean             have_peer_eph;
  guint8               hs_key_finish[32];  /* initiator -> responder FINISH */
  guint8               tx_key[32];
  guint8               rx_key[32];
  gboolean             peer_confirmed;     /* initiator: the responder has sent DATA */

  /* transmission counters and the replay window over received counters */
  guint64              tx_counter;
  gboolean             rx_any;
  guint64              rx_top;
  guint64              rx_bitmap[REPLAY_WINDOW_BITS / 64];

  /* sending */
  guint64              next_seq;
  guint64              peer_acked;
  guint                dup_acks;
  guint64              recover_seq;        /* fast recovery until this seq is acked; 0: none */
  guint64              retransmissions;

  /* receiving */
  guint64              rx_acked;           /* every DATA frame up to here was delivered */
  gboolean             ack_pending;
  guint                ack_source;

  /* timers */
  guint                retx_source;
  gint64               retx_due;           /* µs; next retransmission */
  gint64               progress_time;      /* µs; last handshake step or ack advance */
  guint                backoff;
  gdouble              srtt;               /* ms; < 0 until measured */
  gdouble              rttvar;
  guint                initial_rto_ms;
  guint                min_rto_ms;
  guint                timeout_ms;
  guint                ping_source;
  guint                ping_interval_ms;
  gint64               last_rx_time;       /* µs; last authenticated packet */
  guint64              ping_id;
  gint64               ping_sent_time;
  gboolean             ping_outstanding;
  guint                liveness_source;
  gint64               last_data_time;     /* µs; last DATA frame sent or received */
  PathEntry           *rx_entry;           /* the path of the packet being processed */
};

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

enum
{
  SIGNAL_ESTABLISHED,
  SIGNAL_FRAME_RECEIVED,
  SIGNAL_ACKED,
  SIGNAL_PATH_CHANGED,
  SIGNAL_PATH_LOST,
  SIGNAL_CLOSED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void arm_retransmit (PinholeSession *self);
static gint find_path (PinholeSession *self,
                       PinholePath    *path);
static void arm_liveness (PinholeSession *self);
static void process_packet (PinholeSession *self,
                            GBytes         *bytes);

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

static void
tx_frame_free (gpointer data)
{
  TxFrame *frame = data;

  g_bytes_unref (frame->payload);
  g_free (frame);
}

static gboolean
is_live (PinholeSession *self)
{
  return self->state != PINHOLE_SESSION_STATE_CLOSED &&
         self->state != PINHOLE_SESSION_STATE_FAILED;
}

static PinholePath *
current_path (PinholeSession *self)
{
  PathEntry *entry;

  if (self->paths->len == 0)
    return NULL;
  entry = g_ptr_array_index (self->paths, self->paths->len - 1);
  return entry->path;
}

static void
send_packet (PinholeSession *self,
             GBytes         *packet)
{
  PinholePath *path = current_path (self);
  g_autoptr(GError) error = NULL;

  if (path == NULL)
    {
      g_debug ("no path: packet of %" G_GSIZE_FORMAT " bytes not sent",
               g_bytes_get_size (packet));
      return;
    }
  /* a refused send is a lost packet: retransmission covers it */
  if (!pinhole_path_send (path, packet, &error))
    g_debug ("path %s refused a packet: %s", pinhole_path_get_remote (path), error->message);
}

/* ---- state changes ---- */

static void
set_state (PinholeSession      *self,
           PinholeSessionState  state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
update_send_queue_bytes (PinholeSession *self,
                         gint64          delta)
{
  if (delta == 0)
    return;
  self->send_queue_bytes = (guint64) ((gint64) self->send_queue_bytes + delta);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SEND_QUEUE_BYTES]);
}

static void
wipe_handshake_secrets (PinholeSession *self)
{
  sodium_memzero (self->eph_secret, sizeof self->eph_secret);
  sodium_memzero (self->hs_key_finish, sizeof self->hs_key_finish);
}

static void
stop_timers (PinholeSession *self)
{
  g_clear_handle_id (&self->retx_source, g_source_remove);
  g_clear_handle_id (&self->ack_source, g_source_remove);
  g_clear_handle_id (&self->ping_source, g_source_remove);
  g_clear_handle_id (&self->liveness_source, g_source_remove);
}

/* the end of the session: CLOSED with a NULL error, FAILED otherwise; emits ::closed once */
static void
finish (PinholeSession *self,
        GError         *error)
{
  g_autoptr(PinholeSession) hold = g_object_ref (self);

  if (!is_live (self))
    return;

  stop_timers (self);
  wipe_handshake_secrets (self);
  sodium_memzero (self->tx_key, sizeof self->tx_key);
  sodium_memzero (self->rx_key, sizeof self->rx_key);
  g_clear_pointer (&self->hs_packet, g_bytes_unref);

  if (error != NULL)
    g_debug ("session with %s failed: %s", self->peer_id, error->message);
  else
    g_debug ("session with %s closed", self->peer_id);

  set_state (self, error != NULL ? PINHOLE_SESSION_STATE_FAILED : PINHOLE_SESSION_STATE_CLOSED);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);
}

static void
fail (PinholeSession *self,
      PinholeError    code,
      const char     *format,
      ...) G_GNUC_PRINTF (3, 4);

static void
fail (PinholeSession *self,
      PinholeError    code,
      const char     *format,
      ...)
{
  g_autoptr(GError) error = NULL;
  va_list args;

  va_start (args, format);
  error = g_error_new_valist (PINHOLE_ERROR, code, format, args);
  va_end (args);
  finish (self, error);
}

/* ---- round-trip time and retransmission timeout (RFC 6298) ---- */

static void
rtt_sample (PinholeSession *self,
            gdouble         sample_ms)
{
  if (self->srtt < 0)
    {
      self->srtt = sample_ms;
      self->rttvar = sample_ms / 2;
    }
  else
    {
      self->rttvar = 0.75 * self->rttvar + 0.25 * ABS (self->srtt - sample_ms);
      self->srtt = 0.875 * self->srtt + 0.125 * sample_ms;
    }
}

static guint
current_rto_ms (PinholeSession *self)
{
  gdouble base;

  if (self->srtt < 0)
    base = self->initial_rto_ms;
  else
    base = MAX ((gdouble) self->min_rto_ms, self->srtt + MAX (1.0, 4 * self->rttvar));
  for (guint i = 0; i < self->backoff && base < MAX_RTO_MS; i++)
    base *= 2;
  return (guint) MIN (base, (gdouble) MAX_RTO_MS);
}

/* ---- transmitting frames ---- */

static void
transmit_frame (PinholeSession          *self,
                PinholeSessionFrameType  type,
                guint64                  seq,
                guint8                   channel,
                GBytes                  *payload)
{
  g_autoptr(PinholeSessionFrame) frame = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GBytes) packet = NULL;

  g_assert (self->state == PINHOLE_SESSION_STATE_ESTABLISHED);

  /* every frame carries the cumulative ack, so no separate ACK is needed now */
  frame = pinhole_session_frame_new (type, seq, self->rx_acked, channel, payload);
  self->ack_pending = FALSE;
  g_clear_handle_id (&self->ack_source, g_source_remove);

  plain = pinhole_session_frame_encode (frame);
  /* a fresh counter for every transmission, retransmissions included: no nonce reuse */
  packet = pinhole_session_packet_build_sealed (PINHOLE_SESSION_PACKET_DATA, NULL,
                                                self->tx_counter++, self->tx_key, plain);
  send_packet (self, packet);
}

static void
transmit_data (PinholeSession *self,
               TxFrame        *frame)
{
  if (frame->transmissions > 0)
    self->retransmissions++;
  frame->transmissions++;
  frame->sent_time = g_get_monotonic_time ();
  transmit_frame (self, PINHOLE_SESSION_FRAME_DATA, frame->seq, frame->channel, frame->payload);
}

/* move waiting frames into the window */
static void
pump (PinholeSession *self)
{
  gboolean started = FALSE;

  if (self->state != PINHOLE_SESSION_STATE_ESTABLISHED)
    return;

  while (self->in_flight.length < PINHOLE_SESSION_WINDOW && self->waiting.length > 0)
    {
      TxFrame *frame = g_queue_pop_head (&self->waiting);

      if (self->in_flight.length == 0)
        started = TRUE;
      g_queue_push_tail (&self->in_flight, frame);
      transmit_data (self, frame);
    }

  if (started)
    {
      /* the no-progress deadline counts from when something is outstanding */
      self->progress_time = g_get_monotonic_time ();
      self->backoff = 0;
      self->retx_due = self->progress_time + (gint64) current_rto_ms (self) * 1000;
      arm_retransmit (self);
    }
}

static gboolean
send_ack_cb (gpointer user_data)
{
  PinholeSession *self = user_data;

  self->ack_source = 0;
  if (self->ack_pending && self->state == PINHOLE_SESSION_STATE_ESTABLISHED)
    transmit_frame (self, PINHOLE_SESSION_FRAME_ACK, 0, 0, NULL);
  return G_SOURCE_REMOVE;
}

/* coalesce: at most one ACK per main-loop turn, and none when data carries it */
static void
schedule_ack (PinholeSession *self)
{
  self->ack_pending = TRUE;
  if (self->ack_source == 0)
    self->ack_source = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, send_ack_cb, self, NULL);
}

/* ---- retransmission timer ---- */

static gboolean
needs_retransmit_timer (PinholeSession *self)
{
  switch (self->state)
    {
    case PINHOLE_SESSION_STATE_HANDSHAKING:
      return TRUE;
    case PINHOLE_SESSION_STATE_ESTABLISHED:
      return self->in_flight.length > 0 || (self->initiator && !self->peer_confirmed);
    case PINHOLE_SESSION_STATE_NEW:
    case PINHOLE_SESSION_STATE_CLOSED:
    case PINHOLE_SESSION_STATE_FAILED:
    default:
      return FALSE;
    }
}

static gboolean
retransmit_cb (gpointer user_data)
{
  PinholeSession *self = user_data;
  gint64 now = g_get_monotonic_time ();

  self->retx_source = 0;
  if (!needs_retransmit_timer (self))
    return G_SOURCE_REMOVE;

  if (now - self->progress_time >= (gint64) self->timeout_ms * 1000)
    {
      if (self->state == PINHOLE_SESSION_STATE_HANDSHAKING)
        fail (self, PINHOLE_ERROR_TIMEOUT, "No handshake with %s within %u ms",
              self->peer_id, self->timeout_ms);
      else
        fail (self, PINHOLE_ERROR_TIMEOUT, "%s acknowledged nothing for %u ms",
              self->peer_id, self->timeout_ms);
      return G_SOURCE_REMOVE;
    }

  if (now >= self->retx_due)
    {
      if (self->hs_packet != NULL &&
          (self->state == PINHOLE_SESSION_STATE_HANDSHAKING || !self->peer_confirmed))
        {
          g_debug ("retransmitting handshake packet to %s", self->peer_id);
          send_packet (self, self->hs_packet);
        }
      if (self->state == PINHOLE_SESSION_STATE_ESTABLISHED && self->in_flight.length > 0)
        {
          TxFrame *first = g_queue_peek_head (&self->in_flight);
          TxFrame *last = g_queue_peek_tail (&self->in_flight);

          /* resend the oldest; partial acks then walk the remaining holes */
          g_debug ("retransmission timeout: resending seq %" G_GUINT64_FORMAT, first->seq);
          self->recover_seq = last->seq;
          transmit_data (self, first);
        }
      self->backoff++;
      self->retx_due = now + (gint64) current_rto_ms (self) * 1000;
    }

  arm_retransmit (self);
  return G_SOURCE_REMOVE;
}

static void
arm_retransmit (PinholeSession *self)
{
  gint64 now, deadline, when;

  g_clear_handle_id (&self->retx_source, g_source_remove);
  if (!needs_retransmit_timer (self))
    return;

  now = g_get_monotonic_time ();
  deadline = self->progress_time + (gint64) self->timeout_ms * 1000;
  when = self->hs_packet != NULL || self->in_flight.length > 0 ?
         MIN (self->retx_due, deadline) : deadline;
  self->retx_source = g_timeout_add (when > now ? (guint) ((when - now + 999) / 1000) : 0,
                                     retransmit_cb, self);
}

static void
restart_retransmit (PinholeSession *self)
{
  self->backoff = 0;
  self->retx_due = g_get_monotonic_time () + (gint64) current_rto_ms (self) * 1000;
  arm_retransmit (self);
}

/* ---- pings ---- */

static gboolean
ping_cb (gpointer user_data)
{
  PinholeSession *self = user_data;
  gint64 now = g_get_monotonic_time ();

  if (now - self->last_rx_time >= (gint64) self->timeout_ms * 1000)
    {
      self->ping_source = 0;
      fail (self, PINHOLE_ERROR_TIMEOUT, "Nothing heard from %s for %u ms", self->peer_id,
            self->timeout_ms);
      return G_SOURCE_REMOVE;
    }
  pinhole_session_ping (self);
  return G_SOURCE_CONTINUE;
}

static void
arm_ping (PinholeSession *self)
{
  g_clear_handle_id (&self->ping_source, g_source_remove);
  if (self->state == PINHOLE_SESSION_STATE_ESTABLISHED && self->ping_interval_ms > 0)
    self->ping_source = g_timeout_add (self->ping_interval_ms, ping_cb, self);
}

/* ---- handshake ---- */

static void
hash_add_id (crypto_generichash_state *state,
             const char               *id)
{
  gsize len = strlen (id);
  guint8 prefix[2] = { (guint8) (len >> 8), (guint8) len };

  crypto_generichash_update (state, prefix, sizeof prefix);
  crypto_generichash_update (state, (const guint8 *) id, len);
}

static const guint8 *
initiator_eph (PinholeSession *self)
{
  return self->initiator ? self->eph_public : self->peer_eph;
}

static const guint8 *
responder_eph (PinholeSession *self)
{
  return self->initiator ? self->peer_eph : self->eph_public;
}

/* the transcript both signatures cover: ids, device keys and ephemeral keys of both sides */
static void
transcript_hash (PinholeSession *self,
                 guint8          out[32])
{
  crypto_generichash_state state;
  GBytes *init_pk = self->initiator ? self->local_public_key : self->peer_public_key;
  GBytes *resp_pk = self->initiator ? self->peer_public_key : self->local_public_key;

  crypto_generichash_init (&state, NULL, 0, 32);
  crypto_generichash_update (&state, (const guint8 *) PROTOCOL_LABEL, strlen (PROTOCOL_LABEL));
  hash_add_id (&state, self->initiator ? self->local_id : self->peer_id);
  hash_add_id (&state, self->initiator ? self->peer_id : self->local_id);
  crypto_generichash_update (&state, g_bytes_get_data (init_pk, NULL), 32);
  crypto_generichash_update (&state, g_bytes_get_data (resp_pk, NULL), 32);
  crypto_generichash_update (&state, initiator_eph (self), 32);
  crypto_generichash_update (&state, responder_eph (self), 32);
  crypto_generichash_final (&state, out, 32);
}

/* the ephemeral-only hash that keys the handshake ciphertexts */
static void
ephemeral_hash (PinholeSession *self,
                guint8          out[32])
{
  crypto_generichash_state state;

  crypto_generichash_init (&state, NULL, 0, 32);
  crypto_generichash_update (&state, (const guint8 *) PROTOCOL_LABEL, strlen (PROTOCOL_LABEL));
  crypto_generichash_update (&state, initiator_eph (self), 32);
  crypto_generichash_update (&state, responder_eph (self), 32);
  crypto_generichash_final (&state, out, 32);
}

/* key = BLAKE2b-256 (key: dh, message: label || hash) */
static void
derive_key (const guint8 dh[32],
            const char  *label,
            const guint8 hash[32],
            guint8       out[32])
{
  crypto_generichash_state state;

  crypto_generichash_init (&state, dh, 32, 32);
  crypto_generichash_update (&state, (const guint8 *) label, strlen (label));
  crypto_generichash_update (&state, hash, 32);
  crypto_generichash_final (&state, out, 32);
}

/* derive every key from the DH result; fills hs_key_response for the caller */
static gboolean
derive_keys (PinholeSession *self,
             guint8          hs_key_response[32])
{
  guint8 dh[32], th[32], eh[32];
  guint8 i2r[32], r2i[32];

  if (crypto_scalarmult (dh, self->eph_secret, self->peer_eph) != 0)
    {
      g_debug ("peer ephemeral key is a low-order point");
      return FALSE;
    }
  ephemeral_hash (self, eh);
  transcript_hash (self, th);
  derive_key (dh, "hs-r2i", eh, hs_key_response);
  derive_key (dh, "hs-i2r", eh, self->hs_key_finish);
  derive_key (dh, "data-i2r", th, i2r);
  derive_key (dh, "data-r2i", th, r2i);
  memcpy (self->tx_key, self->initiator ? i2r : r2i, 32);
  memcpy (self->rx_key, self->initiator ? r2i : i2r, 32);
  sodium_memzero (dh, sizeof dh);
  sodium_memzero (i2r, sizeof i2r);
  sodium_memzero (r2i, sizeof r2i);
  return TRUE;
}

static GBytes *
sign_transcript (PinholeSession *self,
                 const char     *label)
{
  guint8 th[32];
  g_autoptr(GByteArray) msg = g_byte_array_new ();
  g_autoptr(GBytes) msg_bytes = NULL;

  transcript_hash (self, th);
  g_byte_array_append (msg, (const guint8 *) label, strlen (label));
  g_byte_array_append (msg, th, sizeof th);
  msg_bytes = g_byte_array_free_to_bytes (g_steal_pointer (&msg));
  return pinhole_identity_sign (self->identity, msg_bytes);
}

static gboolean
verify_transcript (PinholeSession *self,
                   const char     *label,
                   GBytes         *signature,
                   GError        **error)
{
  guint8 th[32];
  g_autoptr(GByteArray) msg = g_byte_array_new ();
  g_autoptr(GBytes) msg_bytes = NULL;

  transcript_hash (self, th);
  g_byte_array_append (msg, (const guint8 *) label, strlen (label));
  g_byte_array_append (msg, th, sizeof th);
  msg_bytes = g_byte_array_free_to_bytes (g_steal_pointer (&msg));
  return pinhole_verify_signature (self->peer_public_key, msg_bytes, signature, error);
}

static void
new_ephemeral (PinholeSession *self)
{
  randombytes_buf (self->eph_secret, sizeof self->eph_secret);
  crypto_scalarmult_base (self->eph_public, self->eph_secret);
}

static void
establish (PinholeSession *self)
{
  g_autoptr(PinholeSession) hold = g_object_ref (self);
  gint64 now = g_get_monotonic_time ();

  wipe_handshake_secrets (self);
  self->last_rx_time = now;
  self->progress_time = now;
  self->backoff = 0;
  set_state (self, PINHOLE_SESSION_STATE_ESTABLISHED);
  g_debug ("session with %s established", self->peer_id);
  g_signal_emit (self, signals[SIGNAL_ESTABLISHED], 0);
  if (self->state != PINHOLE_SESSION_STATE_ESTABLISHED)
    return;

  if (!self->initiator)
    {
      /* the initiator learns from any DATA packet that we accepted its FINISH */
      g_clear_pointer (&self->hs_packet, g_bytes_unref);
      schedule_ack (self);
    }
  arm_ping (self);
  arm_liveness (self);
  restart_retransmit (self);
  pump (self);
}

static void
handle_hello (PinholeSession             *self,
              const PinholeSessionPacket *packet)
{
  guint8 hs_key_response[32];
  g_autoptr(GBytes) sig = NULL;

  if (self->initiator)
    {
      g_debug ("HELLO to an initiator dropped");
      return;
    }
  if (self->state == PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      g_debug ("HELLO in an established session dropped");
      return;
    }
  if (self->have_peer_eph && memcmp (self->peer_eph, packet->ephemeral, 32) == 0)
    {
      /* our RESPONSE was lost: send the same bytes again */
      if (self->hs_packet != NULL)
        send_packet (self, self->hs_packet);
      return;
    }

  /* a new attempt (or the first): the latest HELLO wins until FINISH arrives */
  memcpy (self->peer_eph, packet->ephemeral, 32);
  self->have_peer_eph = TRUE;
  new_ephemeral (self);
  if (!derive_keys (self, hs_key_response))
    {
      self->have_peer_eph = FALSE;
      wipe_handshake_secrets (self);
      return;
    }
  /* the responder needs its ephemeral secret no longer */
  sodium_memzero (self->eph_secret, sizeof self->eph_secret);

  sig = sign_transcript (self, SIG_LABEL_RESPONDER);
  g_clear_pointer (&self->hs_packet, g_bytes_unref);
  self->hs_packet = pinhole_session_packet_build_sealed (PINHOLE_SESSION_PACKET_RESPONSE,
                                                         self->eph_public, 0, hs_key_response,
                                                         sig);
  sodium_memzero (hs_key_response, sizeof hs_key_response);

  if (self->state == PINHOLE_SESSION_STATE_NEW)
    set_state (self, PINHOLE_SESSION_STATE_HANDSHAKING);
  self->progress_time = g_get_monotonic_time ();
  send_packet (self, self->hs_packet);
  restart_retransmit (self);
}

static void
handle_response (PinholeSession             *self,
                 const PinholeSessionPacket *packet)
{
  guint8 hs_key_response[32];
  g_autoptr(GBytes) sig = NULL;
  g_autoptr(GBytes) finish_sig = NULL;
  g_autoptr(GError) error = NULL;

  if (!self->initiator)
    {
      g_debug ("RESPONSE to a responder dropped");
      return;
    }
  if (self->state == PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      /* our FINISH was lost */
      if (self->have_peer_eph && memcmp (self->peer_eph, packet->ephemeral, 32) == 0 &&
          self->hs_packet != NULL)
        send_packet (self, self->hs_packet);
      return;
    }
  if (self->state != PINHOLE_SESSION_STATE_HANDSHAKING)
    return;

  memcpy (self->peer_eph, packet->ephemeral, 32);
  if (!derive_keys (self, hs_key_response))
    return;

  sig = pinhole_session_packet_open (packet, hs_key_response, &error);
  sodium_memzero (hs_key_response, sizeof hs_key_response);
  if (sig == NULL)
    {
      /* not keyed to our HELLO (stale, replayed or forged): not a verdict on the peer */
      g_debug ("RESPONSE dropped: %s", error->message);
      return;
    }
  if (!verify_transcript (self, SIG_LABEL_RESPONDER, sig, &error))
    {
      fail (self, PINHOLE_ERROR_AUTH, "Handshake signature from %s does not verify: it does "
            "not hold the expected device key, or does not know ours: %s", self->peer_id,
            error->message);
      return;
    }

  self->have_peer_eph = TRUE;
  finish_sig = sign_transcript (self, SIG_LABEL_INITIATOR);
  g_clear_pointer (&self->hs_packet, g_bytes_unref);
  self->hs_packet = pinhole_session_packet_build_sealed (PINHOLE_SESSION_PACKET_FINISH, NULL, 0,
                                                         self->hs_key_finish, finish_sig);
  send_packet (self, self->hs_packet);
  establish (self);
}

static void
handle_finish (PinholeSession             *self,
               const PinholeSessionPacket *packet)
{
  g_autoptr(GBytes) sig = NULL;
  g_autoptr(GError) error = NULL;

  if (self->initiator || self->state != PINHOLE_SESSION_STATE_HANDSHAKING ||
      !self->have_peer_eph)
    {
      g_debug ("unexpected FINISH dropped");
      return;
    }

  sig = pinhole_session_packet_open (packet, self->hs_key_finish, &error);
  if (sig == NULL)
    {
      g_debug ("FINISH dropped: %s", error->message);
      return;
    }
  if (!verify_transcript (self, SIG_LABEL_INITIATOR, sig, &error))
    {
      fail (self, PINHOLE_ERROR_AUTH, "%s did not prove its device key: %s", self->peer_id,
            error->message);
      return;
    }
  establish (self);
}

/* ---- receiving frames ---- */

static gboolean
replay_check (PinholeSession *self,
              guint64         counter)
{
  if (!self->rx_any || counter > self->rx_top)
    return TRUE;
  if (self->rx_top - counter >= REPLAY_WINDOW)
    return FALSE;
  return (self->rx_bitmap[(counter / 64) % G_N_ELEMENTS (self->rx_bitmap)] &
          (G_GUINT64_CONSTANT (1) << (counter % 64))) == 0;
}

static void
replay_mark (PinholeSession *self,
             guint64         counter)
{
  if (!self->rx_any || (counter > self->rx_top && counter - self->rx_top >= REPLAY_WINDOW))
    {
      memset (self->rx_bitmap, 0, sizeof self->rx_bitmap);
      self->rx_any = TRUE;
      self->rx_top = counter;
    }
  else if (counter > self->rx_top)
    {
      /* clear the words the window slides onto; the window is one word shorter than the
       * bitmap, so this never clears the word of a counter still inside it */
      for (guint64 w = self->rx_top / 64 + 1; w <= counter / 64; w++)
        self->rx_bitmap[w % G_N_ELEMENTS (self->rx_bitmap)] = 0;
      self->rx_top = counter;
    }
  self->rx_bitmap[(counter / 64) % G_N_ELEMENTS (self->rx_bitmap)] |=
    G_GUINT64_CONSTANT (1) << (counter % 64);
}

static void
process_ack (PinholeSession *self,
             guint64         ack,
             gboolean        pure_ack)
{
  g_autoptr(GArray) acked = NULL;
  gint64 now;
  gint64 freed = 0;
  gint64 newest_sent = 0;
  gboolean clean_sample = TRUE;
  guint64 highest_sent = self->next_seq - 1 - self->waiting.length;

  if (ack > highest_sent)
    {
      g_debug ("ack %" G_GUINT64_FORMAT " beyond the highest sent %" G_GUINT64_FORMAT
               " ignored", ack, highest_sent);
      return;
    }

  if (ack <= self->peer_acked)
    {
      if (ack == self->peer_acked && pure_ack && self->in_flight.length > 0 &&
          ++self->dup_acks == FAST_RETRANSMIT_DUPACKS && self->recover_seq == 0)
        {
          TxFrame *first = g_queue_peek_head (&self->in_flight);
          TxFrame *last = g_queue_peek_tail (&self->in_flight);

          g_debug ("fast retransmit of seq %" G_GUINT64_FORMAT, first->seq);
          self->recover_seq = last->seq;
          transmit_data (self, first);
        }
      return;
    }

  now = g_get_monotonic_time ();
  acked = g_array_new (FALSE, FALSE, sizeof (guint64));
  while (self->in_flight.length > 0)
    {
      TxFrame *frame = g_queue_peek_head (&self->in_flight);

      if (frame->seq > ack)
        break;
      g_queue_pop_head (&self->in_flight);
      /* Karn's algorithm, extended to cumulative acks: when a retransmission filled a hole,
       * the ack also covers frames that waited behind it, so no frame gives a clean sample */
      if (frame->transmissions > 1)
        clean_sample = FALSE;
      newest_sent = frame->sent_time;
      freed += g_bytes_get_size (frame->payload);
      g_array_append_val (acked, frame->seq);
      tx_frame_free (frame);
    }
  if (clean_sample && acked->len > 0)
    rtt_sample (self, (now - newest_sent) / 1000.0);
  self->peer_acked = ack;
  self->dup_acks = 0;
  self->progress_time = now;

  if (self->recover_seq != 0 && ack < self->recover_seq && self->in_flight.length > 0)
    transmit_data (self, g_queue_peek_head (&self->in_flight));   /* partial ack: next hole */
  else
    self->recover_seq = 0;

  pump (self);
  restart_retransmit (self);
  update_send_queue_bytes (self, -freed);

  for (guint i = 0; i < acked->len && is_live (self); i++)
    g_signal_emit (self, signals[SIGNAL_ACKED], 0, g_array_index (acked, guint64, i));
}

static void
deliver (PinholeSession *self,
         guint8          channel,
         GBytes         *payload)
{
  g_signal_emit (self, signals[SIGNAL_FRAME_RECEIVED], 0, (guint) channel, payload);
}

static void
receive_data (PinholeSession      *self,
              PinholeSessionFrame *frame)
{
  guint64 seq = frame->seq;

  self->last_data_time = g_get_monotonic_time ();
  /* duplicates and frames past the window are dropped, but acked again: our ack may be lost */
  schedule_ack (self);

  if (seq <= self->rx_acked)
    {
      g_debug ("duplicate DATA seq %" G_GUINT64_FORMAT " dropped", seq);
      return;
    }
  if (seq - self->rx_acked > PINHOLE_SESSION_RX_WINDOW)
    {
      g_debug ("DATA seq %" G_GUINT64_FORMAT " beyond the receive window dropped", seq);
      return;
    }

  if (seq != self->rx_acked + 1)
    {
      RxSlot *slot = &self->rx_slots[seq % PINHOLE_SESSION_RX_WINDOW];

      if (slot->seq == 0)
        {
          slot->seq = seq;
          slot->channel = frame->channel;
          slot->payload = g_bytes_ref (frame->payload);
        }
      return;
    }

  self->rx_acked = seq;
  deliver (self, frame->channel, frame->payload);

  while (self->state == PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      RxSlot *slot = &self->rx_slots[(self->rx_acked + 1) % PINHOLE_SESSION_RX_WINDOW];
      g_autoptr(GBytes) payload = NULL;

      if (slot->seq != self->rx_acked + 1)
        break;
      payload = g_steal_pointer (&slot->payload);
      slot->seq = 0;
      self->rx_acked++;
      deliver (self, slot->channel, payload);
    }
}

static void
handle_frame (PinholeSession      *self,
              PinholeSessionFrame *frame)
{
  process_ack (self, frame->ack, frame->type == PINHOLE_SESSION_FRAME_ACK);
  if (self->state != PINHOLE_SESSION_STATE_ESTABLISHED)
    return;

  switch (frame->type)
    {
    case PINHOLE_SESSION_FRAME_DATA:
      receive_data (self, frame);
      break;

    case PINHOLE_SESSION_FRAME_ACK:
      break;

    case PINHOLE_SESSION_FRAME_PING:
      transmit_frame (self, PINHOLE_SESSION_FRAME_PONG, frame->seq, 0, NULL);
      break;

    case PINHOLE_SESSION_FRAME_PONG:
      if (self->ping_outstanding && frame->seq == self->ping_id)
        {
          gdouble sample = (g_get_monotonic_time () - self->ping_sent_time) / 1000.0;

          self->ping_outstanding = FALSE;
          rtt_sample (self, sample);
          if (self->rtt_ms != sample)
            {
              self->rtt_ms = sample;
              g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RTT_MS]);
            }
        }
      break;

    case PINHOLE_SESSION_FRAME_CLOSE:
      finish (self, NULL);
      break;

    default:
      g_assert_not_reached ();
    }
}

static void
handle_data_packet (PinholeSession             *self,
                    const PinholeSessionPacket *packet)
{
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PinholeSessionFrame) frame = NULL;
  g_autoptr(GError) error = NULL;

  if (self->state != PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      g_debug ("DATA before the handshake completed dropped");
      return;
    }
  if (!replay_check (self, packet->counter))
    {
      g_debug ("replayed or stale DATA counter %" G_GUINT64_FORMAT " dropped", packet->counter);
      return;
    }
  plain = pinhole_session_packet_open (packet, self->rx_key, &error);
  if (plain == NULL)
    {
      g_debug ("DATA dropped: %s", error->message);
      return;
    }
  replay_mark (self, packet->counter);
  self->last_rx_time = g_get_monotonic_time ();
  if (self->rx_entry != NULL)
    self->rx_entry->last_rx = self->last_rx_time;

  if (self->initiator && !self->peer_confirmed)
    {
      self->peer_confirmed = TRUE;
      g_clear_pointer (&self->hs_packet, g_bytes_unref);
      self->progress_time = self->last_rx_time;
      arm_retransmit (self);
    }

  frame = pinhole_session_frame_parse (plain, &error);
  if (frame == NULL)
    {
      g_debug ("frame dropped: %s", error->message);
      return;
    }
  handle_frame (self, frame);
}

static void
process_packet (PinholeSession *self,
                GBytes         *bytes)
{
  g_autoptr(PinholeSessionPacket) packet = NULL;
  g_autoptr(GError) error = NULL;

  if (!is_live (self))
    return;

  packet = pinhole_session_packet_parse (bytes, &error);
  if (packet == NULL)
    {
      g_debug ("packet from %s dropped: %s", self->peer_id, error->message);
      return;
    }

  switch (packet->kind)
    {
    case PINHOLE_SESSION_PACKET_HELLO:
      handle_hello (self, packet);
      break;
    case PINHOLE_SESSION_PACKET_RESPONSE:
      handle_response (self, packet);
      break;
    case PINHOLE_SESSION_PACKET_FINISH:
      handle_finish (self, packet);
      break;
    case PINHOLE_SESSION_PACKET_DATA:
      handle_data_packet (self, packet);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* ---- paths ---- */

static void
path_received_cb (PinholePath *path,
                  GBytes      *packet,
                  gpointer     user_data)
{
  g_autoptr(PinholeSession) self = g_object_ref (user_data);
  gint index = find_path (self, path);

  self->rx_entry = index >= 0 ? g_ptr_array_index (self->paths, (guint) index) : NULL;
  process_packet (self, packet);
  self->rx_entry = NULL;
}

static void
path_closed_cb (PinholePath  *path,
                const GError *error,
                gpointer      user_data)
{
  g_autoptr(PinholeSession) self = g_object_ref (user_data);
  g_autoptr(PinholePath) hold = g_object_ref (path);

  g_debug ("path %s to %s closed: %s", pinhole_path_get_remote (path), self->peer_id,
           error != NULL ? error->message : "by us");
  pinhole_session_detach_path (self, path);
}

static void
path_entry_free (gpointer data)
{
  PathEntry *entry = data;

  g_clear_signal_handler (&entry->received_id, entry->path);
  g_clear_signal_handler (&entry->closed_id, entry->path);
  g_object_unref (entry->path);
  g_free (entry);
}

static gint
find_path (PinholeSession *self,
           PinholePath    *path)
{
  for (guint i = 0; i < self->paths->len; i++)
    {
      PathEntry *entry = g_ptr_array_index (self->paths, i);

      if (entry->path == path)
        return (gint) i;
    }
  return -1;
}

/* ---- direct path liveness ---- */

static gboolean
liveness_cb (gpointer user_data)
{
  PinholeSession *self = user_data;
  PinholePath *path = current_path (self);
  PathEntry *entry;
  gint64 now = g_get_monotonic_time ();
  gboolean active;

  if (path == NULL || pinhole_path_get_kind (path) == PINHOLE_PATH_KIND_RELAY ||
      self->state != PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      self->liveness_source = 0;
      return G_SOURCE_REMOVE;
    }
  entry = g_ptr_array_index (self->paths, self->paths->len - 1);
  if (entry->probe_time > entry->last_rx &&
      now - entry->probe_time >= (gint64) PATH_DEAD_AFTER_MS * 1000)
    {
      g_autoptr(PinholePath) dead = g_object_ref (path);
      g_autoptr(PinholeSession) hold = g_object_ref (self);

      g_debug ("path %s to %s silent for %" G_GINT64_FORMAT " ms: falling back",
               pinhole_path_get_remote (dead), self->peer_id, (now - entry->last_rx) / 1000);
      self->liveness_source = 0;
      pinhole_session_detach_path (self, dead);
      g_signal_emit (self, signals[SIGNAL_PATH_LOST], 0, dead);
      return G_SOURCE_REMOVE;
    }
  active = now - self->last_data_time < (gint64) ACTIVE_WINDOW_MS * 1000;
  if (entry->probe_time <= entry->last_rx &&
      now - MAX (entry->probe_time, entry->last_rx) >=
      (gint64) (active ? HEARTBEAT_ACTIVE_MS : HEARTBEAT_IDLE_MS) * 1000)
    {
      entry->probe_time = now;
      pinhole_session_ping (self);
    }
  return G_SOURCE_CONTINUE;
}

static void
arm_liveness (PinholeSession *self)
{
  PinholePath *path = current_path (self);

  if (self->liveness_source != 0 || path == NULL ||
      pinhole_path_get_kind (path) == PINHOLE_PATH_KIND_RELAY ||
      self->state != PINHOLE_SESSION_STATE_ESTABLISHED)
    return;
  self->liveness_source = g_timeout_add (LIVENESS_TICK_MS, liveness_cb, self);
}

/* a new current path: resend everything unacknowledged on it and measure it */
static void
current_path_changed (PinholeSession *self)
{
  g_autoptr(PinholeSession) hold = g_object_ref (self);
  PinholePath *path = current_path (self);

  g_debug ("session with %s now on %s", self->peer_id,
           path != NULL ? pinhole_path_get_remote (path) : "no path");
  g_signal_emit (self, signals[SIGNAL_PATH_CHANGED], 0);
  if (path == NULL || !is_live (self))
    return;

  /* the old path's RTT says nothing about this one */
  self->srtt = -1;
  self->rttvar = 0;

  if (self->hs_packet != NULL &&
      (self->state == PINHOLE_SESSION_STATE_HANDSHAKING || !self->peer_confirmed))
    send_packet (self, self->hs_packet);

  if (self->state == PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      for (GList *l = self->in_flight.head; l != NULL; l = l->next)
        transmit_data (self, l->data);
      self->recover_seq = 0;
      self->dup_acks = 0;
      pinhole_session_ping (self);
      /* a new path is probed at once and must answer like any other */
      ((PathEntry *) g_ptr_array_index (self->paths, self->paths->len - 1))->probe_time =
        g_get_monotonic_time ();
      arm_liveness (self);
    }
  if (is_live (self))
    restart_retransmit (self);
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
  g_queue_clear_full (&self->in_flight, tx_frame_free);
  g_queue_clear_full (&self->waiting, tx_frame_free);
  for (guint i = 0; i < G_N_ELEMENTS (self->rx_slots); i++)
    g_clear_pointer (&self->rx_slots[i].payload, g_bytes_unref);
  g_clear_pointer (&self->hs_packet, g_bytes_unref);
  g_clear_pointer (&self->local_public_key, g_bytes_unref);
  g_clear_pointer (&self->peer_public_key, g_bytes_unref);
  g_free (self->local_id);
  g_free (self->peer_id);
  wipe_handshake_secrets (self);
  sodium_memzero (self->tx_key, sizeof self->tx_key);
  sodium_memzero (self->rx_key, sizeof self->rx_key);

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

  signals[SIGNAL_ESTABLISHED] =
    g_signal_new ("established", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
  /**
   * PinholeSession::frame-received:
   * @channel: the channel the peer sent on
   * @payload: the frame; each is delivered once, in the order the peer sent them
   */
  signals[SIGNAL_FRAME_RECEIVED] =
    g_signal_new ("frame-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_BYTES);
  /**
   * PinholeSession::acked:
   * @seq: a sequence number from pinhole_session_send() that the peer has received
   */
  signals[SIGNAL_ACKED] =
    g_signal_new ("acked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);
  signals[SIGNAL_PATH_CHANGED] =
    g_signal_new ("path-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
  /**
   * PinholeSession::path-lost:
   * @path: a direct path that stopped answering heartbeats; the session has detached it
   *   (after ::path-changed) and the owner of the path may close it and look for another
   */
  signals[SIGNAL_PATH_LOST] =
    g_signal_new ("path-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, PINHOLE_TYPE_PATH);
  /**
   * PinholeSession::closed:
   * @error: (nullable): %NULL after a close by either side; otherwise why the session failed
   *   (%PINHOLE_ERROR_AUTH, %PINHOLE_ERROR_TIMEOUT)
   */
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
pinhole_session_init (PinholeSession *self)
{
  self->paths = g_ptr_array_new_with_free_func (path_entry_free);
  g_queue_init (&self->in_flight);
  g_queue_init (&self->waiting);
  self->state = PINHOLE_SESSION_STATE_NEW;
  self->rtt_ms = -1;
  self->srtt = -1;
  self->next_seq = 1;
  self->initial_rto_ms = DEFAULT_INITIAL_RTO_MS;
  self->min_rto_ms = DEFAULT_MIN_RTO_MS;
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
  self->ping_interval_ms = DEFAULT_PING_INTERVAL_MS;
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
 * pinhole_session_attach_path:
 * @path: a path to the peer device
 *
 * Listens to @path, makes it the current path and resends on it whatever is
 * unacknowledged. Packets are accepted on every attached path. Attaching an attached
 * path makes it current again.
 */
void
pinhole_session_attach_path (PinholeSession *self,
                             PinholePath    *path)
{
  PathEntry *entry;
  gint index;

  g_return_if_fail (PINHOLE_IS_SESSION (self));
  g_return_if_fail (PINHOLE_IS_PATH (path));

  if (current_path (self) == path)
    return;

  index = find_path (self, path);
  if (index >= 0)
    {
      entry = g_ptr_array_steal_index (self->paths, (guint) index);
    }
  else
    {
      entry = g_new0 (PathEntry, 1);
      entry->path = g_object_ref (path);
      entry->received_id = g_signal_connect (path, "received",
                                             G_CALLBACK (path_received_cb), self);
      entry->closed_id = g_signal_connect (path, "closed", G_CALLBACK (path_closed_cb), self);
    }
  g_ptr_array_add (self->paths, entry);
  current_path_changed (self);
}

/**
 * pinhole_session_detach_path:
 * @path: an attached path
 *
 * Stops listening to @path; if it was current, the most recently attached of the others
 * becomes current. Does not close @path.
 */
void
pinhole_session_detach_path (PinholeSession *self,
                             PinholePath    *path)
{
  gboolean was_current;
  gint index;

  g_return_if_fail (PINHOLE_IS_SESSION (self));
  g_return_if_fail (PINHOLE_IS_PATH (path));

  index = find_path (self, path);
  if (index < 0)
    return;
  was_current = current_path (self) == path;
  g_ptr_array_remove_index (self->paths, (guint) index);
  if (was_current)
    current_path_changed (self);
}

/**
 * pinhole_session_get_path:
 * Returns: (transfer none) (nullable): the path frames are sent on
 */
PinholePath *
pinhole_session_get_path (PinholeSession *self)
{
  g_return_val_if_fail (PINHOLE_IS_SESSION (self), NULL);
  return current_path (self);
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
      new_ephemeral (self);
      g_clear_pointer (&self->hs_packet, g_bytes_unref);
      self->hs_packet = pinhole_session_packet_build_hello (self->eph_public);
      send_packet (self, self->hs_packet);
    }
  set_state (self, PINHOLE_SESSION_STATE_HANDSHAKING);
  restart_retransmit (self);
}

/**
 * pinhole_session_send:
 * @channel: 0 control, 1 chat, 2 and up transfers
 * @payload: at most %PINHOLE_SESSION_MAX_PAYLOAD bytes
 * @out_seq: (out) (optional): the frame's sequence number, as ::acked will report it
 *
 * Queues a frame. Frames queued before the handshake completes are sent after it.
 * Fails with %PINHOLE_ERROR_LIMIT for a payload or queue too large and with
 * %PINHOLE_ERROR_CLOSED after the session ended.
 *
 * Returns: %TRUE when the frame was queued
 */
gboolean
pinhole_session_send (PinholeSession *self,
                      guint8          channel,
                      GBytes         *payload,
                      guint64        *out_seq,
                      GError        **error)
{
  TxFrame *frame;
  gsize len;

  g_return_val_if_fail (PINHOLE_IS_SESSION (self), FALSE);
  g_return_val_if_fail (payload != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  len = g_bytes_get_size (payload);
  if (!is_live (self))
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
  frame->seq = self->next_seq++;
  self->last_data_time = g_get_monotonic_time ();
  frame->channel = channel;
  frame->payload = g_bytes_ref (payload);
  g_queue_push_tail (&self->waiting, frame);
  if (out_seq != NULL)
    *out_seq = frame->seq;

  update_send_queue_bytes (self, (gint64) len);
  pump (self);
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
  transmit_frame (self, PINHOLE_SESSION_FRAME_PING, self->ping_id, 0, NULL);
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
    transmit_frame (self, PINHOLE_SESSION_FRAME_CLOSE, 0, 0, NULL);
  finish (self, NULL);
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
  arm_ping (self);
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
    arm_retransmit (self);
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
  g_autoptr(PinholeSession) hold = NULL;

  g_return_if_fail (PINHOLE_IS_SESSION (self));
  g_return_if_fail (packet != NULL);

  hold = g_object_ref (self);
  process_packet (self, packet);
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
  establish (self);
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
  return self->hs_key_finish;
}
