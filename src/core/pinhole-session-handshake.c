/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-session-handshake.c: the SIGMA-I handshake of a session (HELLO, RESPONSE, FINISH):
 * ephemeral X25519 keys, the signed transcript and the keys derived from it, and the wipe of
 * the handshake secrets once they are no longer needed (docs/session.md §3). */
#define G_LOG_DOMAIN "pinhole-session"

#include "pinhole-session-private.h"

#include <sodium.h>
#include <string.h>

#include "pinhole-error.h"

#define PROTOCOL_LABEL      "pinhole-session-v1"
#define SIG_LABEL_INITIATOR "pinhole-session-v1 initiator"
#define SIG_LABEL_RESPONDER "pinhole-session-v1 responder"

static void
hash_add_id (crypto_generichash_state *state,
             const char               *id)
{
  gsize len = strlen (id);
  guint8 prefix[2] = { (guint8) (len >> 8), (guint8) len };

  crypto_generichash_update (state, prefix, sizeof prefix);
  crypto_generichash_update (state, (const guint8 *) id, len);
}

/* the transcript both signatures cover: ids, device keys and ephemeral keys of both sides */
static void
transcript_hash (PinholeSession *self,
                 const guint8    eph_i[32],
                 const guint8    eph_r[32],
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
  crypto_generichash_update (&state, eph_i, 32);
  crypto_generichash_update (&state, eph_r, 32);
  crypto_generichash_final (&state, out, 32);
}

/* the ephemeral-only hash that keys the handshake ciphertexts */
static void
ephemeral_hash (const guint8 eph_i[32],
                const guint8 eph_r[32],
                guint8       out[32])
{
  crypto_generichash_state state;

  crypto_generichash_init (&state, NULL, 0, 32);
  crypto_generichash_update (&state, (const guint8 *) PROTOCOL_LABEL, strlen (PROTOCOL_LABEL));
  crypto_generichash_update (&state, eph_i, 32);
  crypto_generichash_update (&state, eph_r, 32);
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

/* every key of one handshake attempt */
typedef struct
{
  guint8 hs_key_response[32];
  guint8 hs_key_finish[32];
  guint8 tx_key[32];
  guint8 rx_key[32];
} Keys;

/* derives @keys from our ephemeral @secret and the two public ephemeral keys; FALSE for a
 * low-order peer key */
static gboolean
derive_keys (PinholeSession *self,
             const guint8    secret[32],
             const guint8    eph_i[32],
             const guint8    eph_r[32],
             Keys           *keys)
{
  guint8 dh[32], th[32], eh[32];
  guint8 i2r[32], r2i[32];

  if (crypto_scalarmult (dh, secret, self->initiator ? eph_r : eph_i) != 0)
    {
      g_debug ("peer ephemeral key is a low-order point");
      return FALSE;
    }
  ephemeral_hash (eph_i, eph_r, eh);
  transcript_hash (self, eph_i, eph_r, th);
  derive_key (dh, "hs-r2i", eh, keys->hs_key_response);
  derive_key (dh, "hs-i2r", eh, keys->hs_key_finish);
  derive_key (dh, "data-i2r", th, i2r);
  derive_key (dh, "data-r2i", th, r2i);
  memcpy (keys->tx_key, self->initiator ? i2r : r2i, 32);
  memcpy (keys->rx_key, self->initiator ? r2i : i2r, 32);
  sodium_memzero (dh, sizeof dh);
  sodium_memzero (i2r, sizeof i2r);
  sodium_memzero (r2i, sizeof r2i);
  return TRUE;
}

static GBytes *
transcript_message (PinholeSession *self,
                    const char     *label,
                    const guint8    eph_i[32],
                    const guint8    eph_r[32])
{
  guint8 th[32];
  g_autoptr(GByteArray) msg = g_byte_array_new ();

  transcript_hash (self, eph_i, eph_r, th);
  g_byte_array_append (msg, (const guint8 *) label, strlen (label));
  g_byte_array_append (msg, th, sizeof th);
  return g_byte_array_free_to_bytes (g_steal_pointer (&msg));
}

static GBytes *
sign_transcript (PinholeSession *self,
                 const char     *label,
                 const guint8    eph_i[32],
                 const guint8    eph_r[32])
{
  g_autoptr(GBytes) msg = transcript_message (self, label, eph_i, eph_r);

  return pinhole_identity_sign (self->identity, msg);
}

static gboolean
verify_transcript (PinholeSession *self,
                   const char     *label,
                   const guint8    eph_i[32],
                   const guint8    eph_r[32],
                   GBytes         *signature,
                   GError        **error)
{
  g_autoptr(GBytes) msg = transcript_message (self, label, eph_i, eph_r);

  return pinhole_verify_signature (self->peer_public_key, msg, signature, error);
}

void
_pinhole_session_new_ephemeral (PinholeSession *self)
{
  randombytes_buf (self->eph_secret, sizeof self->eph_secret);
  crypto_scalarmult_base (self->eph_public, self->eph_secret);
}

static void
attempt_clear (PinholeSessionAttempt *attempt)
{
  g_clear_pointer (&attempt->response, g_bytes_unref);
  sodium_memzero (attempt, sizeof *attempt);
}

/* the responder's pending attempts, and the initiator's handshake secrets */
void
_pinhole_session_wipe_handshake_secrets (PinholeSession *self)
{
  sodium_memzero (self->eph_secret, sizeof self->eph_secret);
  for (guint i = 0; i < self->n_attempts; i++)
    attempt_clear (&self->attempts[i]);
  self->n_attempts = 0;
}

void
_pinhole_session_establish (PinholeSession *self)
{
  g_autoptr(PinholeSession) hold G_GNUC_UNUSED = g_object_ref (self);
  gint64 now = g_get_monotonic_time ();

  _pinhole_session_wipe_handshake_secrets (self);
  self->last_rx_time = now;
  self->progress_time = now;
  self->backoff = 0;
  _pinhole_session_set_state (self, PINHOLE_SESSION_STATE_ESTABLISHED);
  g_debug ("session with %s established", self->peer_id);
  g_signal_emit (self, _pinhole_session_signals[PINHOLE_SESSION_SIGNAL_ESTABLISHED], 0);
  if (self->state != PINHOLE_SESSION_STATE_ESTABLISHED)
    return;

  if (!self->initiator)
    {
      /* the initiator learns from any DATA packet that we accepted its FINISH */
      g_clear_pointer (&self->hs_packet, g_bytes_unref);
      _pinhole_session_schedule_ack (self);
    }
  _pinhole_session_arm_ping (self);
  _pinhole_session_arm_liveness (self);
  _pinhole_session_restart_retransmit (self);
  _pinhole_session_pump (self);
}

/* Returns: (nullable): the responder's pending attempt for @eph_i */
static PinholeSessionAttempt *
find_attempt (PinholeSession *self,
              const guint8    eph_i[32])
{
  for (guint i = 0; i < self->n_attempts; i++)
    if (memcmp (self->attempts[i].peer_eph, eph_i, 32) == 0)
      return &self->attempts[i];
  return NULL;
}

/* Returns: a new attempt, the newest. When all are taken the oldest but the first makes
 * room: the first HELLO is most often the real one, and HELLOs injected after it must not
 * push it out. */
static PinholeSessionAttempt *
add_attempt (PinholeSession *self)
{
  if (self->n_attempts == PINHOLE_SESSION_HS_ATTEMPTS)
    {
      attempt_clear (&self->attempts[1]);
      memmove (&self->attempts[1], &self->attempts[2],
               (PINHOLE_SESSION_HS_ATTEMPTS - 2) * sizeof self->attempts[0]);
      memset (&self->attempts[PINHOLE_SESSION_HS_ATTEMPTS - 1], 0, sizeof self->attempts[0]);
      self->n_attempts--;
    }
  return &self->attempts[self->n_attempts++];
}

static void
remove_attempt (PinholeSession        *self,
                PinholeSessionAttempt *attempt)
{
  guint i = (guint) (attempt - self->attempts);

  attempt_clear (attempt);
  memmove (&self->attempts[i], &self->attempts[i + 1],
           (self->n_attempts - i - 1) * sizeof self->attempts[0]);
  self->n_attempts--;
  memset (&self->attempts[self->n_attempts], 0, sizeof self->attempts[0]);
}

/* A HELLO is not authenticated: anyone on the path (the relay, too) can send one. Each new
 * one opens an attempt of its own beside the others instead of replacing them, so a HELLO
 * injected after the real one cannot take the real one's place: the FINISH that arrives
 * later completes whichever attempt it opens under (docs/session.md §3). */
void
_pinhole_session_handle_hello (PinholeSession             *self,
                               const PinholeSessionPacket *packet)
{
  PinholeSessionAttempt *attempt;
  Keys keys;
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
  attempt = find_attempt (self, packet->ephemeral);
  if (attempt != NULL)
    {
      /* our RESPONSE was lost: send the same bytes again */
      _pinhole_session_send_packet (self, attempt->response);
      return;
    }

  _pinhole_session_new_ephemeral (self);
  {
    guint8 dh[32];
    int low_order = crypto_scalarmult (dh, self->eph_secret, packet->ephemeral);

    sodium_memzero (dh, sizeof dh);
    if (low_order != 0)
      {
        /* before it takes an attempt's place */
        g_debug ("HELLO with a low-order key dropped");
        sodium_memzero (self->eph_secret, sizeof self->eph_secret);
        return;
      }
  }
  attempt = add_attempt (self);
  memcpy (attempt->peer_eph, packet->ephemeral, 32);
  memcpy (attempt->eph_public, self->eph_public, 32);
  if (!derive_keys (self, self->eph_secret, attempt->peer_eph, attempt->eph_public, &keys))
    {
      sodium_memzero (self->eph_secret, sizeof self->eph_secret);
      remove_attempt (self, attempt);
      return;
    }
  /* the responder needs its ephemeral secret no longer */
  sodium_memzero (self->eph_secret, sizeof self->eph_secret);
  memcpy (attempt->hs_key_finish, keys.hs_key_finish, 32);
  memcpy (attempt->tx_key, keys.tx_key, 32);
  memcpy (attempt->rx_key, keys.rx_key, 32);

  sig = sign_transcript (self, SIG_LABEL_RESPONDER, attempt->peer_eph, attempt->eph_public);
  attempt->response = pinhole_session_packet_build_sealed (PINHOLE_SESSION_PACKET_RESPONSE,
                                                           attempt->eph_public, 0,
                                                           keys.hs_key_response, sig);
  sodium_memzero (&keys, sizeof keys);
  g_clear_pointer (&self->hs_packet, g_bytes_unref);
  self->hs_packet = g_bytes_ref (attempt->response);

  if (self->state == PINHOLE_SESSION_STATE_NEW)
    _pinhole_session_set_state (self, PINHOLE_SESSION_STATE_HANDSHAKING);
  self->progress_time = g_get_monotonic_time ();
  _pinhole_session_send_packet (self, self->hs_packet);
  _pinhole_session_restart_retransmit (self);
}

/**
 * _pinhole_session_restart_handshake:
 *
 * The initiator is established but has heard nothing from the responder since its FINISH:
 * perhaps the responder never completed our attempt (a forged HELLO took its place, or
 * FINISH keeps getting lost). A fresh HELLO starts another attempt; the keys in use stay
 * until a RESPONSE to it verifies, so a responder that did complete ours (and whose
 * packets were lost) still confirms the session under them.
 */
void
_pinhole_session_restart_handshake (PinholeSession *self)
{
  g_return_if_fail (self->initiator && self->state == PINHOLE_SESSION_STATE_ESTABLISHED &&
                    !self->peer_confirmed);

  g_debug ("no word from %s since FINISH: a fresh HELLO", self->peer_id);
  self->restarts++;
  _pinhole_session_new_ephemeral (self);
  g_clear_pointer (&self->hs_packet, g_bytes_unref);
  self->hs_packet = pinhole_session_packet_build_hello (self->eph_public);
  _pinhole_session_send_packet (self, self->hs_packet);
}

/* the initiator: a RESPONSE that opens and verifies; Returns: FALSE to drop it. One that opens
 * but whose signature does not verify fails the session with @fail, else it is dropped:
 * whoever saw our HELLO can make a RESPONSE that opens, so after a restart (the session
 * working under its keys) only a verified one counts. */
static gboolean
accept_response (PinholeSession             *self,
                 const PinholeSessionPacket *packet,
                 Keys                       *keys,
                 gboolean                    fail)
{
  g_autoptr(GBytes) sig = NULL;
  g_autoptr(GError) error = NULL;

  if (!derive_keys (self, self->eph_secret, self->eph_public, packet->ephemeral, keys))
    return FALSE;
  sig = pinhole_session_packet_open (packet, keys->hs_key_response, &error);
  if (sig == NULL)
    {
      /* not keyed to our HELLO (stale, replayed or forged): not a verdict on the peer */
      g_debug ("RESPONSE dropped: %s", error->message);
      return FALSE;
    }
  if (!verify_transcript (self, SIG_LABEL_RESPONDER, self->eph_public, packet->ephemeral,
                          sig, &error))
    {
      if (!fail)
        {
          g_debug ("RESPONSE to our fresh HELLO that does not verify dropped: %s",
                   error->message);
          return FALSE;
        }
      _pinhole_session_fail (self, PINHOLE_ERROR_AUTH, "Handshake signature from %s does not "
                             "verify: it does not hold the expected device key, or does not "
                             "know ours: %s", self->peer_id, error->message);
      return FALSE;
    }
  return TRUE;
}

/* the initiator takes the keys of a verified RESPONSE and sends FINISH */
static void
send_finish (PinholeSession             *self,
             const PinholeSessionPacket *packet,
             const Keys                 *keys)
{
  g_autoptr(GBytes) finish_sig = NULL;

  memcpy (self->peer_eph, packet->ephemeral, 32);
  self->have_peer_eph = TRUE;
  memcpy (self->tx_key, keys->tx_key, 32);
  memcpy (self->rx_key, keys->rx_key, 32);
  finish_sig = sign_transcript (self, SIG_LABEL_INITIATOR, self->eph_public, self->peer_eph);
  g_clear_pointer (&self->hs_packet, g_bytes_unref);
  self->hs_packet = pinhole_session_packet_build_sealed (PINHOLE_SESSION_PACKET_FINISH, NULL, 0,
                                                         keys->hs_key_finish, finish_sig);
  _pinhole_session_send_packet (self, self->hs_packet);
}

void
_pinhole_session_handle_response (PinholeSession             *self,
                                  const PinholeSessionPacket *packet)
{
  Keys keys;

  if (!self->initiator)
    {
      g_debug ("RESPONSE to a responder dropped");
      return;
    }
  if (self->state == PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      if (self->have_peer_eph && memcmp (self->peer_eph, packet->ephemeral, 32) == 0)
        {
          /* our FINISH was lost */
          if (self->hs_packet != NULL && self->restarts == self->finish_restarts)
            _pinhole_session_send_packet (self, self->hs_packet);
          return;
        }
      if (self->peer_confirmed || self->restarts == self->finish_restarts)
        return;
      /* the answer to a restarted HELLO: its keys replace the unconfirmed ones */
      if (accept_response (self, packet, &keys, FALSE))
        {
          g_debug ("session with %s handshaken again", self->peer_id);
          self->finish_restarts = self->restarts;
          memcpy (self->prev_tx_key, self->tx_key, sizeof self->prev_tx_key);
          memcpy (self->prev_rx_key, self->rx_key, sizeof self->prev_rx_key);
          self->have_prev_keys = TRUE;
          send_finish (self, packet, &keys);
          sodium_memzero (self->eph_secret, sizeof self->eph_secret);
          /* what was in flight goes again under the new keys */
          for (GList *l = self->in_flight.head; l != NULL; l = l->next)
            _pinhole_session_transmit_data (self, l->data);
          _pinhole_session_restart_retransmit (self);
        }
      sodium_memzero (&keys, sizeof keys);
      return;
    }
  if (self->state != PINHOLE_SESSION_STATE_HANDSHAKING)
    return;

  if (accept_response (self, packet, &keys, TRUE))
    {
      send_finish (self, packet, &keys);
      _pinhole_session_establish (self);
    }
  sodium_memzero (&keys, sizeof keys);
}

void
_pinhole_session_handle_finish (PinholeSession             *self,
                                const PinholeSessionPacket *packet)
{
  if (self->initiator || self->state != PINHOLE_SESSION_STATE_HANDSHAKING)
    {
      g_debug ("unexpected FINISH dropped");
      return;
    }

  /* the newest attempt first: the initiator's latest HELLO is the likeliest */
  for (guint i = self->n_attempts; i-- > 0;)
    {
      PinholeSessionAttempt *attempt = &self->attempts[i];
      g_autoptr(GBytes) sig = NULL;
      g_autoptr(GError) error = NULL;

      sig = pinhole_session_packet_open (packet, attempt->hs_key_finish, NULL);
      if (sig == NULL)
        continue;
      if (!verify_transcript (self, SIG_LABEL_INITIATOR, attempt->peer_eph, attempt->eph_public,
                              sig, &error))
        {
          /* whoever sent that HELLO knows its key, so the FINISH opens; only one signed by
           * the initiator's device key is a verdict on the peer: others are dropped while
           * another attempt is pending */
          if (self->n_attempts > 1)
            {
              g_debug ("FINISH that does not verify dropped: %s", error->message);
              remove_attempt (self, attempt);
              return;
            }
          _pinhole_session_fail (self, PINHOLE_ERROR_AUTH, "%s did not prove its device key: %s",
                                 self->peer_id, error->message);
          return;
        }
      memcpy (self->peer_eph, attempt->peer_eph, 32);
      self->have_peer_eph = TRUE;
      memcpy (self->tx_key, attempt->tx_key, 32);
      memcpy (self->rx_key, attempt->rx_key, 32);
      _pinhole_session_establish (self);
      return;
    }
  g_debug ("FINISH dropped: it opens under none of %u attempts", self->n_attempts);
}
