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

void
_pinhole_session_wipe_handshake_secrets (PinholeSession *self)
{
  sodium_memzero (self->eph_secret, sizeof self->eph_secret);
  sodium_memzero (self->hs_key_finish, sizeof self->hs_key_finish);
}

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

void
_pinhole_session_new_ephemeral (PinholeSession *self)
{
  randombytes_buf (self->eph_secret, sizeof self->eph_secret);
  crypto_scalarmult_base (self->eph_public, self->eph_secret);
}

void
_pinhole_session_establish (PinholeSession *self)
{
  g_autoptr(PinholeSession) hold = g_object_ref (self);
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

void
_pinhole_session_handle_hello (PinholeSession             *self,
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
        _pinhole_session_send_packet (self, self->hs_packet);
      return;
    }

  /* a new attempt (or the first): the latest HELLO wins until FINISH arrives */
  memcpy (self->peer_eph, packet->ephemeral, 32);
  self->have_peer_eph = TRUE;
  _pinhole_session_new_ephemeral (self);
  if (!derive_keys (self, hs_key_response))
    {
      self->have_peer_eph = FALSE;
      _pinhole_session_wipe_handshake_secrets (self);
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
    _pinhole_session_set_state (self, PINHOLE_SESSION_STATE_HANDSHAKING);
  self->progress_time = g_get_monotonic_time ();
  _pinhole_session_send_packet (self, self->hs_packet);
  _pinhole_session_restart_retransmit (self);
}

void
_pinhole_session_handle_response (PinholeSession             *self,
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
        _pinhole_session_send_packet (self, self->hs_packet);
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
      _pinhole_session_fail (self, PINHOLE_ERROR_AUTH, "Handshake signature from %s does not "
                             "verify: it does not hold the expected device key, or does not "
                             "know ours: %s", self->peer_id, error->message);
      return;
    }

  self->have_peer_eph = TRUE;
  finish_sig = sign_transcript (self, SIG_LABEL_INITIATOR);
  g_clear_pointer (&self->hs_packet, g_bytes_unref);
  self->hs_packet = pinhole_session_packet_build_sealed (PINHOLE_SESSION_PACKET_FINISH, NULL, 0,
                                                         self->hs_key_finish, finish_sig);
  _pinhole_session_send_packet (self, self->hs_packet);
  _pinhole_session_establish (self);
}

void
_pinhole_session_handle_finish (PinholeSession             *self,
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
      _pinhole_session_fail (self, PINHOLE_ERROR_AUTH, "%s did not prove its device key: %s",
                             self->peer_id, error->message);
      return;
    }
  _pinhole_session_establish (self);
}
