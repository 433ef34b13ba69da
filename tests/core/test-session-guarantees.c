/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-session-guarantees.c: properties of PinholeSession that a quiet bug would break while
 * the stream still gets through: frames in flight move to a new path at once, the receiver
 * delivers each frame once and in order, the initiator resends FINISH until an authenticated
 * packet confirms it, and the ephemeral secrets are wiped (docs/session.md §3, §6). */
#include <sodium.h>
#include <string.h>

#include "pinhole-session.h"
#include "pinhole-session-frame.h"
#include "pinhole-session-private.h"
#include "pinhole-test-util.h"
#include "pinhole-test-path.h"
#include "pinhole-test-session.h"

/* ---- a path switch resends what is in flight on the new path at once ---- */

typedef struct
{
  PinholeTestPeer *peer;
  guint            count;
} Received;

static gboolean
has_received (gpointer data)
{
  Received *r = data;

  return r->peer->received->len >= r->count;
}

/* docs/session.md §6: attaching a path resends every frame in flight on it. Waiting for the
 * retransmission timer instead would still deliver everything, only a second late, so the
 * property is the time: with no RTO below 1 s, frames in flight reach the peer within a few
 * round trips of the new path (2 x 20 ms), far below 1 s. */
static void
test_path_switch_resend (PinholeTestSessions *f,
                         gconstpointer        data)
{
  g_autoptr(PinholeTestPath) lan_a = NULL;
  g_autoptr(PinholeTestPath) lan_b = NULL;
  Received bob_all = { &f->bob, 20 };
  gint64 switched;
  gdouble elapsed_ms;

  /* the timer fires 1 s after the switch at the earliest: the estimate restarts on a new
   * path at the initial RTO, and no measured RTT brings it below the minimum */
  _pinhole_session_set_rto (f->alice.session, 1000, 1000);
  pinhole_test_sessions_establish (f);

  /* the relay goes dark under frames in flight */
  pinhole_test_path_set_silent (f->path_a, TRUE);
  pinhole_test_peer_send_numbered (&f->alice, 0, 20);
  g_assert_cmpuint (pinhole_test_path_get_n_dropped (f->path_a), >=, 20);
  ph_iterate_for (50);
  g_assert_cmpuint (f->bob.received->len, ==, 0);

  pinhole_test_path_new_pair (PINHOLE_PATH_KIND_LAN, 4, &lan_a, &lan_b);
  pinhole_test_path_set_delay (lan_a, 20);
  pinhole_test_path_set_delay (lan_b, 20);
  pinhole_session_attach_path (f->bob.session, PINHOLE_PATH (lan_b));
  switched = g_get_monotonic_time ();
  pinhole_session_attach_path (f->alice.session, PINHOLE_PATH (lan_a));
  g_assert_true (ph_iterate_until (has_received, &bob_all, 5000));
  elapsed_ms = (g_get_monotonic_time () - switched) / 1000.0;
  g_test_message ("frames in flight arrived %.1f ms after the switch", elapsed_ms);
  g_assert_cmpfloat (elapsed_ms, <, 300);
  pinhole_test_peer_assert_numbered (&f->bob, 20);
}

/* ---- the receiver: once and in order, with frames injected under known keys ---- */

static const guint8 alice_tx_key[32] = { 0xa1, 0x1c, 0xe0 };
static const guint8 bob_tx_key[32] = { 0xb0, 0xb0 };

typedef struct
{
  PinholeIdentity *identity;
  PinholeTestPeer  bob;
  guint64          counter;   /* of the next packet from alice */
} Receiver;

static void
receiver_setup (Receiver      *r,
                gconstpointer  data)
{
  g_autoptr(PinholeIdentity) alice = pinhole_identity_new ();
  g_autoptr(GBytes) alice_pk = pinhole_identity_dup_public_key (alice);

  r->identity = pinhole_identity_new ();
  pinhole_test_peer_init (&r->bob, r->identity, "bob/desktop", "alice/laptop", alice_pk, FALSE);
  _pinhole_session_establish_with_keys (r->bob.session, bob_tx_key, alice_tx_key);
}

static void
receiver_teardown (Receiver      *r,
                   gconstpointer  data)
{
  pinhole_test_peer_clear (&r->bob);
  g_clear_object (&r->identity);
  /* bounded: a source that stays ready must not hold the test here */
  for (guint i = 0; i < 50 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

/* alice's DATA frame @seq, carrying numbered payload @seq - 1, in a packet of its own: a
 * retransmission of a frame has a new counter, like every packet */
static void
receive_frame (Receiver *r,
               guint64   seq)
{
  g_autoptr(GBytes) payload = pinhole_test_numbered_payload ((guint32) seq - 1);
  g_autoptr(PinholeSessionFrame) frame = pinhole_session_frame_new (
    PINHOLE_SESSION_FRAME_DATA, seq, 0, PINHOLE_SESSION_CHANNEL_CHAT, payload);
  g_autoptr(GBytes) plain = pinhole_session_frame_encode (frame);
  g_autoptr(GBytes) packet = pinhole_session_packet_build_sealed (
    PINHOLE_SESSION_PACKET_DATA, NULL, r->counter++, alice_tx_key, plain);

  _pinhole_session_receive_packet (r->bob.session, packet);
}

/* frames that overtake others wait for them: 128 down to 2, then 1 releases them all */
static void
test_receive_reorder (Receiver      *r,
                      gconstpointer  data)
{
  for (guint64 seq = PINHOLE_SESSION_RX_WINDOW; seq >= 2; seq--)
    receive_frame (r, seq);
  g_assert_cmpuint (r->bob.received->len, ==, 0);
  receive_frame (r, 1);
  pinhole_test_peer_assert_numbered (&r->bob, PINHOLE_SESSION_RX_WINDOW);
}

/* a frame that arrives again (our ack was lost, the sender resent it) is dropped and leaves
 * no trace: the whole receive window still buffers frames that overtake others */
static void
test_receive_duplicate (Receiver      *r,
                        gconstpointer  data)
{
  receive_frame (r, 1);
  receive_frame (r, 1);
  g_assert_cmpuint (r->bob.received->len, ==, 1);

  /* the farthest frame the window holds lands where the duplicate would have */
  receive_frame (r, 1 + PINHOLE_SESSION_RX_WINDOW);
  g_assert_cmpuint (r->bob.received->len, ==, 1);
  for (guint64 seq = 2; seq <= PINHOLE_SESSION_RX_WINDOW; seq++)
    receive_frame (r, seq);
  pinhole_test_peer_assert_numbered (&r->bob, 1 + PINHOLE_SESSION_RX_WINDOW);
}

/* ---- key confirmation: FINISH until an authenticated packet says it arrived ---- */

static gboolean
bob_answered (gpointer data)
{
  return pinhole_test_path_get_n_sent (((PinholeTestSessions *) data)->path_b) > 0;
}

static gboolean
alice_established (gpointer data)
{
  return pinhole_session_get_state (((PinholeTestSessions *) data)->alice.session) ==
         PINHOLE_SESSION_STATE_ESTABLISHED;
}

static gboolean
bob_established (gpointer data)
{
  return pinhole_session_get_state (((PinholeTestSessions *) data)->bob.session) ==
         PINHOLE_SESSION_STATE_ESTABLISHED;
}

/* docs/session.md §3: the initiator resends FINISH on its timer until the first
 * authenticated DATA packet from the responder arrives. FINISH is lost, bob's repeats of
 * RESPONSE are lost too (they would prompt a FINISH of their own), and a forged DATA packet
 * reaches alice: only alice's timer can still complete bob's handshake. */
static void
test_finish_lost (PinholeTestSessions *f,
                  gconstpointer        data)
{
  g_autoptr(GBytes) forged = NULL;
  g_autoptr(GBytes) hello = g_bytes_new_static ("hello", 5);
  Received alice_one = { &f->alice, 1 };
  guint8 junk[60] = { PINHOLE_SESSION_PROTOCOL_VERSION, PINHOLE_SESSION_PACKET_DATA };

  pinhole_session_start (f->bob.session);
  pinhole_session_start (f->alice.session);
  g_assert_true (ph_iterate_until (bob_answered, f, 5000));
  /* RESPONSE is on its way to alice; what alice and bob send next is lost */
  pinhole_test_path_set_silent (f->path_a, TRUE);
  pinhole_test_path_set_silent (f->path_b, TRUE);
  g_assert_true (ph_iterate_until (alice_established, f, 5000));
  g_assert_cmpint (pinhole_session_get_state (f->bob.session), ==,
                   PINHOLE_SESSION_STATE_HANDSHAKING);

  randombytes_buf (junk + 2, sizeof junk - 2);
  forged = g_bytes_new (junk, sizeof junk);
  _pinhole_session_receive_packet (f->alice.session, forged);

  pinhole_test_path_set_silent (f->path_a, FALSE);
  g_assert_true (ph_iterate_until (bob_established, f, 2000));

  /* bob's first packets are lost too; its DATA confirms alice's keys, and gets through */
  pinhole_test_path_set_silent (f->path_b, FALSE);
  g_assert_true (pinhole_session_send (f->bob.session, PINHOLE_SESSION_CHANNEL_CHAT, hello, NULL,
                                       NULL));
  g_assert_true (ph_iterate_until (has_received, &alice_one, 5000));
  g_assert_true (g_bytes_equal (f->alice.received->pdata[0], hello));
}

/* ---- forward secrecy ---- */

static gboolean
is_zero (const guint8 *secret)
{
  return sodium_is_zero (secret, 32);
}

static gboolean
bob_has_finish_key (gpointer data)
{
  return !is_zero (_pinhole_session_get_finish_key (((PinholeTestSessions *) data)->bob.session));
}

/* docs/session.md §3: x and y are erased after use, and the key of FINISH once the handshake
 * is over; with them, a recording of the handshake would give up the session keys */
static void
test_forward_secrecy (PinholeTestSessions *f,
                      gconstpointer        data)
{
  PinholeSession *alice = f->alice.session;
  PinholeSession *bob = f->bob.session;

  pinhole_session_start (bob);
  pinhole_session_start (alice);
  /* the accessors see the live secrets: x drawn with HELLO, bob's FINISH key with RESPONSE */
  g_assert_false (is_zero (_pinhole_session_get_ephemeral_secret (alice)));
  g_assert_true (ph_iterate_until (bob_has_finish_key, f, 5000));
  /* bob erases y as soon as RESPONSE is sealed, before FINISH */
  g_assert_cmpint (pinhole_session_get_state (bob), ==, PINHOLE_SESSION_STATE_HANDSHAKING);
  g_assert_true (is_zero (_pinhole_session_get_ephemeral_secret (bob)));

  g_assert_true (ph_iterate_until (pinhole_test_sessions_both_established, f, 5000));
  g_assert_true (is_zero (_pinhole_session_get_ephemeral_secret (alice)));
  g_assert_true (is_zero (_pinhole_session_get_finish_key (alice)));
  g_assert_true (is_zero (_pinhole_session_get_ephemeral_secret (bob)));
  g_assert_true (is_zero (_pinhole_session_get_finish_key (bob)));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, PinholeTestSessions, NULL, pinhole_test_sessions_setup, func, \
              pinhole_test_sessions_teardown)
  ADD ("/session/path-switch/resend-at-once", test_path_switch_resend);
  ADD ("/session/handshake/finish-lost", test_finish_lost);
  ADD ("/session/handshake/forward-secrecy", test_forward_secrecy);
#undef ADD
  g_test_add ("/session/receive/reorder", Receiver, NULL, receiver_setup, test_receive_reorder,
              receiver_teardown);
  g_test_add ("/session/receive/duplicate", Receiver, NULL, receiver_setup,
              test_receive_duplicate, receiver_teardown);

  return g_test_run ();
}
