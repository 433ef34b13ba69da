/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-session-conformance.c: PinholeSession's responder against an independent initiator
 * written from docs/session.md with libsodium only, over an in-memory path: a good handshake
 * and chat, and a finish whose signature is bad. */
#include <sodium.h>
#include <string.h>

#include "pinhole-error.h"
#include "pinhole-session.h"
#include "pinhole-session-private.h"
#include "pinhole-test-util.h"
#include "pinhole-test-path.h"
#include "pinhole-test-session.h"

typedef PinholeTestPeer Peer;

static gboolean
peer_ended (gpointer data)
{
  return ((Peer *) data)->n_closed > 0;
}

typedef struct
{
  GPtrArray *packets;   /* GBytes the responder sent */
} Capture;

static void
capture_cb (PinholePath *path,
            GBytes      *packet,
            Capture     *capture)
{
  g_ptr_array_add (capture->packets, g_bytes_ref (packet));
}

static gboolean
has_packets (gpointer data)
{
  return ((Capture *) data)->packets->len > 0;
}

static void
blake2b_parts (guint8        out[32],
               const guint8 *key,
               const char   *label,
               const guint8 *parts[],
               const gsize   lens[],
               guint         n_parts)
{
  crypto_generichash_state st;

  crypto_generichash_init (&st, key, key != NULL ? 32 : 0, 32);
  crypto_generichash_update (&st, (const guint8 *) label, strlen (label));
  for (guint i = 0; i < n_parts; i++)
    crypto_generichash_update (&st, parts[i], lens[i]);
  crypto_generichash_final (&st, out, 32);
}

static void
run_independent_initiator (gboolean good_signature)
{
  g_autoptr(PinholeIdentity) alice = pinhole_identity_new ();
  g_autoptr(PinholeIdentity) bob = pinhole_identity_new ();
  g_autoptr(PinholeIdentity) mallory = pinhole_identity_new ();
  g_autoptr(GBytes) alice_pk = pinhole_identity_dup_public_key (alice);
  g_autoptr(GBytes) bob_pk = pinhole_identity_dup_public_key (bob);
  g_autoptr(PinholeTestPath) end_a = NULL;
  g_autoptr(PinholeTestPath) end_b = NULL;
  Capture capture = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  Peer responder = { 0 };
  const char *id_i = "alice/laptop", *id_r = "bob/desktop";
  guint8 x[32], eph_i[32], eph_r[32], dh[32], eh[32], th[32];
  guint8 k_hs_r2i[32], k_hs_i2r[32], k_i2r[32], k_r2i[32];
  guint8 nonce[12] = { 0 }, sig_r[64], packet[256];
  unsigned long long out_len;
  const guint8 *resp;
  gsize resp_len;

  pinhole_test_peer_init (&responder, bob, id_r, id_i, alice_pk, FALSE);
  pinhole_test_path_new_pair (PINHOLE_PATH_KIND_RELAY, 7, &end_a, &end_b);
  pinhole_session_attach_path (responder.session, PINHOLE_PATH (end_b));
  g_signal_connect (end_a, "received", G_CALLBACK (capture_cb), &capture);
  pinhole_session_start (responder.session);

  /* HELLO: 01 01 eph_i */
  randombytes_buf (x, sizeof x);
  crypto_scalarmult_base (eph_i, x);
  packet[0] = 1;
  packet[1] = 1;
  memcpy (packet + 2, eph_i, 32);
  {
    g_autoptr(GBytes) hello = g_bytes_new (packet, 34);
    g_assert_true (pinhole_path_send (PINHOLE_PATH (end_a), hello, NULL));
  }
  g_assert_true (ph_iterate_until (has_packets, &capture, 5000));

  /* RESPONSE: 01 02 eph_r AEAD(k_hs_r2i, nonce 0, ad = first 34 bytes, sig_r) */
  resp = g_bytes_get_data (capture.packets->pdata[0], &resp_len);
  g_assert_cmpuint (resp_len, ==, 114);
  g_assert_cmpuint (resp[0], ==, 1);
  g_assert_cmpuint (resp[1], ==, 2);
  memcpy (eph_r, resp + 2, 32);
  g_assert_cmpint (crypto_scalarmult (dh, x, eph_r), ==, 0);
  {
    const guint8 *parts[] = { eph_i, eph_r };
    const gsize lens[] = { 32, 32 };

    blake2b_parts (eh, NULL, "pinhole-session-v1", parts, lens, 2);
  }
  {
    guint8 li = strlen (id_i), lr = strlen (id_r);
    guint8 len_i[2] = { 0, li }, len_r[2] = { 0, lr };
    const guint8 *parts[] = { len_i, (const guint8 *) id_i, len_r, (const guint8 *) id_r,
                              g_bytes_get_data (alice_pk, NULL), g_bytes_get_data (bob_pk, NULL),
                              eph_i, eph_r };
    const gsize lens[] = { 2, li, 2, lr, 32, 32, 32, 32 };

    blake2b_parts (th, NULL, "pinhole-session-v1", parts, lens, 8);
  }
  {
    const guint8 *parts[] = { eh };
    const gsize lens[] = { 32 };
    const guint8 *tparts[] = { th };

    blake2b_parts (k_hs_r2i, dh, "hs-r2i", parts, lens, 1);
    blake2b_parts (k_hs_i2r, dh, "hs-i2r", parts, lens, 1);
    blake2b_parts (k_i2r, dh, "data-i2r", tparts, lens, 1);
    blake2b_parts (k_r2i, dh, "data-r2i", tparts, lens, 1);
  }
  g_assert_cmpint (crypto_aead_chacha20poly1305_ietf_decrypt (sig_r, &out_len, NULL, resp + 34,
                                                              80, resp, 34, nonce, k_hs_r2i),
                   ==, 0);
  g_assert_cmpuint (out_len, ==, 64);
  {
    guint8 msg[28 + 32];

    memcpy (msg, "pinhole-session-v1 responder", 28);
    memcpy (msg + 28, th, 32);
    g_assert_cmpint (crypto_sign_verify_detached (sig_r, msg, sizeof msg,
                                                  g_bytes_get_data (bob_pk, NULL)), ==, 0);
  }

  /* FINISH: 01 03 AEAD(k_hs_i2r, nonce 0, ad = 01 03, sig_i) */
  {
    guint8 msg[28 + 32];
    g_autoptr(GBytes) msg_bytes = NULL;
    g_autoptr(GBytes) sig_i = NULL;
    g_autoptr(GBytes) finish = NULL;

    memcpy (msg, "pinhole-session-v1 initiator", 28);
    memcpy (msg + 28, th, 32);
    msg_bytes = g_bytes_new (msg, sizeof msg);
    sig_i = pinhole_identity_sign (good_signature ? alice : mallory, msg_bytes);
    packet[0] = 1;
    packet[1] = 3;
    crypto_aead_chacha20poly1305_ietf_encrypt (packet + 2, &out_len,
                                               g_bytes_get_data (sig_i, NULL), 64,
                                               packet, 2, NULL, nonce, k_hs_i2r);
    g_assert_cmpuint (out_len, ==, 80);
    finish = g_bytes_new (packet, 82);
    g_assert_true (pinhole_path_send (PINHOLE_PATH (end_a), finish, NULL));
  }

  if (!good_signature)
    {
      g_assert_true (ph_iterate_until (peer_ended, &responder, 5000));
      g_assert_error (responder.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
      g_assert_cmpint (pinhole_session_get_state (responder.session), ==,
                       PINHOLE_SESSION_STATE_FAILED);
    }
  else
    {
      /* DATA: 01 10 u64 counter AEAD(k_i2r, nonce(counter), ad = first 10 bytes, frame) */
      static const guint8 frame[] = {
        1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'h', 'e', 'l', 'l', 'o',
      };
      gboolean acked = FALSE;
      g_autoptr(GBytes) data = NULL;

      memset (packet, 0, 10);
      packet[0] = 1;
      packet[1] = 16;   /* counter 0 */
      crypto_aead_chacha20poly1305_ietf_encrypt (packet + 10, &out_len, frame, sizeof frame,
                                                 packet, 10, NULL, nonce, k_i2r);
      data = g_bytes_new (packet, 10 + out_len);
      g_ptr_array_set_size (capture.packets, 0);
      g_assert_true (pinhole_path_send (PINHOLE_PATH (end_a), data, NULL));
      g_assert_true (ph_iterate_until (has_packets, &capture, 5000));
      ph_iterate_for (20);

      g_assert_cmpint (pinhole_session_get_state (responder.session), ==,
                       PINHOLE_SESSION_STATE_ESTABLISHED);
      g_assert_cmpuint (responder.received->len, ==, 1);
      g_assert_cmpmem (g_bytes_get_data (responder.received->pdata[0], NULL), 5, "hello", 5);
      g_assert_cmpuint (g_array_index (responder.channels, guint, 0), ==, 1);

      /* the responder's packets open with k_r2i and acknowledge seq 1 */
      for (guint i = 0; i < capture.packets->len; i++)
        {
          const guint8 *p = g_bytes_get_data (capture.packets->pdata[i], &resp_len);
          guint8 plain[64], n[12] = { 0 };

          if (resp_len < 44 || resp_len > 10 + sizeof plain + 16 || p[1] != 16)
            continue;
          memcpy (n + 4, p + 2, 8);
          g_assert_cmpint (crypto_aead_chacha20poly1305_ietf_decrypt (plain, &out_len, NULL,
                                                                      p + 10, resp_len - 10,
                                                                      p, 10, n, k_r2i), ==, 0);
          g_assert_cmpuint (out_len, >=, 18);
          if (plain[16] == 1)   /* low byte of the u64 ack */
            acked = TRUE;
        }
      g_assert_true (acked);
    }

  g_signal_handlers_disconnect_by_data (end_a, &capture);
  g_ptr_array_unref (capture.packets);
  pinhole_test_peer_clear (&responder);
  /* bounded: a source that stays ready must not hold the test here */
  for (guint i = 0; i < 50 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

static void
test_independent_initiator (void)
{
  run_independent_initiator (TRUE);
}

static void
test_independent_bad_finish (void)
{
  run_independent_initiator (FALSE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/session/conformance/independent-initiator", test_independent_initiator);
  g_test_add_func ("/session/conformance/bad-finish-signature", test_independent_bad_finish);

  return g_test_run ();
}
