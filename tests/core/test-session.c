/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-session.c: PinholeSession over in-memory paths: handshake, authentication failures,
 * reliable ordered delivery under loss and reordering, path switches, RTT, close, timeout.
 * An initiator written from docs/session.md alone is test-session-conformance.c. */
#include <sodium.h>
#include <string.h>

#include "pinhole-error.h"
#include "pinhole-session-frame.h"
#include "pinhole-session.h"
#include "pinhole-session-private.h"
#include "pinhole-test-util.h"
#include "pinhole-test-path.h"
#include "pinhole-test-session.h"

/* the fixture: alice and bob on a relay test path (pinhole-test-session.h) */
typedef PinholeTestSessions Fixture;
typedef PinholeTestPeer Peer;

/* ---- helpers ---- */

static gboolean
both_ended (gpointer data)
{
  Fixture *f = data;

  return f->alice.n_closed > 0 && f->bob.n_closed > 0;
}

typedef struct
{
  Fixture *f;
  guint    count;
} CountCheck;

static gboolean
all_delivered_and_acked (gpointer data)
{
  CountCheck *c = data;

  return c->f->alice.received->len >= c->count && c->f->bob.received->len >= c->count &&
         c->f->alice.acked->len >= c->count && c->f->bob.acked->len >= c->count;
}

static gboolean
bob_has_one (gpointer data)
{
  return ((Fixture *) data)->bob.received->len == 1;
}

static gboolean
bob_has_two_acked (gpointer data)
{
  Fixture *f = data;

  return f->bob.received->len == 2 && f->alice.acked->len == 2;
}

static gboolean
alice_ended (gpointer data)
{
  return ((Fixture *) data)->alice.n_closed > 0;
}

static gboolean
window_plus_ten_acked (gpointer data)
{
  Fixture *f = data;

  return f->bob.received->len == PINHOLE_SESSION_WINDOW + 10 &&
         f->alice.acked->len == PINHOLE_SESSION_WINDOW + 10;
}

/* ---- tests ---- */

static void
test_handshake_and_chat (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GBytes) early = g_bytes_new_static ("sent before the handshake", 25);
  g_autoptr(GBytes) hi_bob = g_bytes_new_static ("hi bob", 6);
  g_autoptr(GBytes) hi_alice = g_bytes_new_static ("hi alice", 8);
  g_autoptr(GError) error = NULL;
  g_autofree char *peer_id = NULL;
  guint64 seq_early = 0, seq_bob = 0, seq_alice = 0;
  CountCheck check = { f, 2 };

  g_assert_cmpint (pinhole_session_get_state (f->alice.session), ==, PINHOLE_SESSION_STATE_NEW);
  g_assert_cmpfloat (pinhole_session_get_rtt_ms (f->alice.session), ==, -1);
  g_assert_true (pinhole_session_get_path (f->alice.session) == PINHOLE_PATH (f->path_a));
  g_assert_cmpuint (f->alice.n_path_changed, ==, 1);
  g_object_get (f->alice.session, "peer-id", &peer_id, NULL);
  g_assert_cmpstr (peer_id, ==, "bob/desktop");

  /* held until the handshake completes */
  g_assert_true (pinhole_session_send (f->alice.session, 1, early, &seq_early, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (seq_early, ==, 1);
  g_assert_cmpuint (pinhole_session_get_send_queue_bytes (f->alice.session), ==, 25);

  pinhole_test_sessions_establish (f);
  g_assert_cmpuint (f->alice.n_established, ==, 1);
  g_assert_cmpuint (f->bob.n_established, ==, 1);

  g_assert_true (pinhole_session_send (f->alice.session, 1, hi_bob, &seq_bob, &error));
  g_assert_no_error (error);
  g_assert_true (pinhole_session_send (f->bob.session, 1, hi_alice, &seq_alice, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (seq_bob, ==, 2);
  g_assert_cmpuint (seq_alice, ==, 1);

  check.count = 1;
  g_assert_true (ph_iterate_until (all_delivered_and_acked, &check, 5000));
  g_assert_true (ph_iterate_until (bob_has_two_acked, f, 5000));

  g_assert_cmpuint (f->bob.received->len, ==, 2);
  g_assert_true (g_bytes_equal (f->bob.received->pdata[0], early));
  g_assert_true (g_bytes_equal (f->bob.received->pdata[1], hi_bob));
  g_assert_cmpuint (g_array_index (f->bob.channels, guint, 1), ==, 1);
  g_assert_cmpuint (f->alice.received->len, ==, 1);
  g_assert_true (g_bytes_equal (f->alice.received->pdata[0], hi_alice));
  g_assert_cmpuint (g_array_index (f->alice.acked, guint64, 0), ==, 1);
  g_assert_cmpuint (g_array_index (f->alice.acked, guint64, 1), ==, 2);
  g_assert_cmpuint (g_array_index (f->bob.acked, guint64, 0), ==, 1);
  g_assert_cmpuint (pinhole_session_get_send_queue_bytes (f->alice.session), ==, 0);
  g_assert_cmpuint (f->alice.n_closed, ==, 0);
  g_assert_cmpuint (f->bob.n_closed, ==, 0);
}

static void
test_wrong_key_initiator (void)
{
  Fixture fx = { 0 }, *f = &fx;

  /* alice expects a different key for bob: bob's RESPONSE signature fails */
  pinhole_test_sessions_setup_keys (f, TRUE, FALSE);
  pinhole_session_set_timeout (f->bob.session, 500);
  pinhole_session_start (f->bob.session);
  pinhole_session_start (f->alice.session);
  g_assert_true (ph_iterate_until (both_ended, f, 10000));

  g_assert_cmpint (pinhole_session_get_state (f->alice.session), ==,
                   PINHOLE_SESSION_STATE_FAILED);
  g_assert_error (f->alice.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
  /* bob never hears a valid FINISH */
  g_assert_cmpint (pinhole_session_get_state (f->bob.session), ==, PINHOLE_SESSION_STATE_FAILED);
  g_assert_error (f->bob.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT);
  g_assert_cmpuint (f->alice.n_established + f->bob.n_established, ==, 0);
  g_assert_cmpuint (f->alice.n_closed, ==, 1);
  pinhole_test_sessions_teardown (f, NULL);
}

static void
test_wrong_key_responder (void)
{
  Fixture fx = { 0 }, *f = &fx;
  g_autoptr(GBytes) secret = g_bytes_new_static ("for bob", 7);
  g_autoptr(GError) error = NULL;

  /* bob expects a different key for alice: the signed transcript holds both device keys,
   * so alice already refuses bob's RESPONSE, and bob hears no FINISH */
  pinhole_test_sessions_setup_keys (f, FALSE, TRUE);
  pinhole_session_set_timeout (f->bob.session, 500);
  g_assert_true (pinhole_session_send (f->alice.session, 1, secret, NULL, &error));
  pinhole_session_start (f->bob.session);
  pinhole_session_start (f->alice.session);
  g_assert_true (ph_iterate_until (both_ended, f, 10000));

  g_assert_cmpint (pinhole_session_get_state (f->alice.session), ==,
                   PINHOLE_SESSION_STATE_FAILED);
  g_assert_error (f->alice.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
  g_assert_cmpint (pinhole_session_get_state (f->bob.session), ==, PINHOLE_SESSION_STATE_FAILED);
  g_assert_error (f->bob.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT);
  g_assert_cmpuint (f->alice.n_established + f->bob.n_established, ==, 0);
  g_assert_cmpuint (f->bob.received->len, ==, 0);
  g_assert_cmpuint (f->alice.acked->len, ==, 0);
  pinhole_test_sessions_teardown (f, NULL);
}

static void
test_lossy_bulk (Fixture       *f,
                 gconstpointer  data)
{
  CountCheck check = { f, 2000 };

  pinhole_test_path_set_faults (f->path_a, 0.05, 0.05, 0.02);
  pinhole_test_path_set_faults (f->path_b, 0.05, 0.05, 0.02);
  pinhole_test_path_set_delay (f->path_a, 1);
  pinhole_test_path_set_delay (f->path_b, 1);

  /* queued before the (also lossy) handshake */
  pinhole_test_peer_send_numbered (&f->alice, 0, 2000);
  pinhole_test_peer_send_numbered (&f->bob, 0, 2000);
  g_assert_cmpuint (pinhole_session_get_send_queue_bytes (f->alice.session), >, 0);
  pinhole_test_sessions_establish (f);

  g_assert_true (ph_iterate_until (all_delivered_and_acked, &check, 60000));
  /* let any late duplicates and retransmissions arrive */
  ph_iterate_for (100);

  pinhole_test_peer_assert_numbered (&f->alice, 2000);
  pinhole_test_peer_assert_numbered (&f->bob, 2000);
  g_assert_cmpuint (f->alice.acked->len, ==, 2000);
  g_assert_cmpuint (f->bob.acked->len, ==, 2000);
  for (guint i = 0; i < 2000; i++)
    g_assert_cmpuint (g_array_index (f->alice.acked, guint64, i), ==, i + 1);
  g_assert_cmpuint (pinhole_session_get_send_queue_bytes (f->alice.session), ==, 0);
  g_assert_cmpuint (pinhole_session_get_send_queue_bytes (f->bob.session), ==, 0);
  /* the faults really happened and were repaired */
  g_assert_cmpuint (pinhole_test_path_get_n_dropped (f->path_a), >, 50);
  g_assert_cmpuint (pinhole_test_path_get_n_dropped (f->path_b), >, 50);
  g_assert_cmpuint (_pinhole_session_get_retransmissions (f->alice.session), >, 0);
  g_test_message ("alice sent %u packets (%u dropped), %" G_GUINT64_FORMAT " retransmissions",
                  pinhole_test_path_get_n_sent (f->path_a),
                  pinhole_test_path_get_n_dropped (f->path_a),
                  _pinhole_session_get_retransmissions (f->alice.session));
  g_assert_cmpint (pinhole_session_get_state (f->alice.session), ==,
                   PINHOLE_SESSION_STATE_ESTABLISHED);
}

static gboolean
some_delivered (gpointer data)
{
  Fixture *f = data;

  return f->alice.received->len >= 100 && f->bob.received->len >= 100;
}

static void
test_path_switch (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(PinholeTestPath) lan_a = NULL;
  g_autoptr(PinholeTestPath) lan_b = NULL;
  CountCheck check = { f, 600 };

  pinhole_test_sessions_establish (f);
  pinhole_test_path_set_delay (f->path_a, 2);
  pinhole_test_path_set_delay (f->path_b, 2);
  pinhole_test_peer_send_numbered (&f->alice, 0, 600);
  pinhole_test_peer_send_numbered (&f->bob, 0, 600);
  g_assert_true (ph_iterate_until (some_delivered, f, 10000));
  g_assert_cmpuint (f->alice.received->len, <, 600);

  /* the relay goes dark with frames in flight; a direct path appears */
  g_assert_cmpuint (pinhole_session_get_send_queue_bytes (f->alice.session), >, 0);
  pinhole_test_path_set_silent (f->path_a, TRUE);
  pinhole_test_path_set_silent (f->path_b, TRUE);
  pinhole_test_path_new_pair (PINHOLE_PATH_KIND_LAN, 2, &lan_a, &lan_b);
  pinhole_session_attach_path (f->alice.session, PINHOLE_PATH (lan_a));
  g_assert_true (pinhole_session_get_path (f->alice.session) == PINHOLE_PATH (lan_a));
  ph_iterate_for (20);
  pinhole_session_attach_path (f->bob.session, PINHOLE_PATH (lan_b));
  pinhole_path_close (PINHOLE_PATH (f->path_a));

  g_assert_true (ph_iterate_until (all_delivered_and_acked, &check, 30000));
  ph_iterate_for (50);
  pinhole_test_peer_assert_numbered (&f->alice, 600);
  pinhole_test_peer_assert_numbered (&f->bob, 600);
  g_assert_true (pinhole_session_get_path (f->alice.session) == PINHOLE_PATH (lan_a));
  g_assert_true (pinhole_session_get_path (f->bob.session) == PINHOLE_PATH (lan_b));
  /* attach relay, attach lan; the relay's close changed nothing current */
  g_assert_cmpuint (f->alice.n_path_changed, ==, 2);
  g_assert_cmpuint (f->bob.n_path_changed, ==, 2);
  g_assert_true (pinhole_test_path_is_closed (f->path_b));
  g_assert_cmpint (pinhole_session_get_state (f->bob.session), ==,
                   PINHOLE_SESSION_STATE_ESTABLISHED);

  /* the direct path dies: back to nothing, then to a new relay */
  pinhole_path_close (PINHOLE_PATH (lan_a));
  ph_iterate_for (20);
  g_assert_null (pinhole_session_get_path (f->alice.session));
  g_assert_cmpuint (f->alice.n_path_changed, ==, 3);
}

static void
test_path_fallback (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(PinholeTestPath) lan_a = NULL;
  g_autoptr(PinholeTestPath) lan_b = NULL;
  CountCheck check = { f, 300 };

  pinhole_test_sessions_establish (f);
  pinhole_test_path_new_pair (PINHOLE_PATH_KIND_LAN, 3, &lan_a, &lan_b);
  pinhole_session_attach_path (f->alice.session, PINHOLE_PATH (lan_a));
  pinhole_session_attach_path (f->bob.session, PINHOLE_PATH (lan_b));
  pinhole_test_path_set_delay (lan_a, 2);
  pinhole_test_path_set_delay (lan_b, 2);
  pinhole_test_peer_send_numbered (&f->alice, 0, 300);
  pinhole_test_peer_send_numbered (&f->bob, 0, 300);
  g_assert_true (ph_iterate_until (some_delivered, f, 10000));

  /* the direct path dies mid-stream: both sides fall back to the relay, still attached */
  pinhole_test_path_set_silent (lan_a, TRUE);
  pinhole_test_path_set_silent (lan_b, TRUE);
  pinhole_path_close (PINHOLE_PATH (lan_a));
  g_assert_true (ph_iterate_until (all_delivered_and_acked, &check, 30000));
  ph_iterate_for (50);

  pinhole_test_peer_assert_numbered (&f->alice, 300);
  pinhole_test_peer_assert_numbered (&f->bob, 300);
  g_assert_true (pinhole_session_get_path (f->alice.session) == PINHOLE_PATH (f->path_a));
  g_assert_true (pinhole_session_get_path (f->bob.session) == PINHOLE_PATH (f->path_b));
  /* relay, lan, relay again */
  g_assert_cmpuint (f->alice.n_path_changed, ==, 3);
  g_assert_cmpuint (f->bob.n_path_changed, ==, 3);
}

static void
path_lost_cb (PinholeSession *session,
              PinholePath    *path,
              PinholePath   **out_lost)
{
  *out_lost = path;
}

static gboolean
both_back_on_relay (gpointer data)
{
  Fixture *f = data;

  return pinhole_session_get_path (f->alice.session) == PINHOLE_PATH (f->path_a) &&
         pinhole_session_get_path (f->bob.session) == PINHOLE_PATH (f->path_b);
}

/* a direct path that goes silent without closing is found dead by its heartbeats, and the
 * session is back on the relay within the liveness bound, losing nothing */
static void
test_path_silent (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(PinholeTestPath) lan_a = NULL;
  g_autoptr(PinholeTestPath) lan_b = NULL;
  CountCheck check = { f, 200 };
  PinholePath *lost_a = NULL, *lost_b = NULL;
  gint64 silent_since;
  gdouble elapsed_ms;

  pinhole_test_sessions_establish (f);
  pinhole_test_path_new_pair (PINHOLE_PATH_KIND_UDP_PUNCH, 5, &lan_a, &lan_b);
  g_signal_connect (f->alice.session, "path-lost", G_CALLBACK (path_lost_cb), &lost_a);
  g_signal_connect (f->bob.session, "path-lost", G_CALLBACK (path_lost_cb), &lost_b);
  pinhole_session_attach_path (f->alice.session, PINHOLE_PATH (lan_a));
  pinhole_session_attach_path (f->bob.session, PINHOLE_PATH (lan_b));
  pinhole_test_peer_send_numbered (&f->alice, 0, 100);
  pinhole_test_peer_send_numbered (&f->bob, 0, 100);
  g_assert_true (ph_iterate_until (some_delivered, f, 10000));

  /* the NAT mapping vanishes: nothing gets through any more, and nobody says so */
  pinhole_test_path_set_silent (lan_a, TRUE);
  pinhole_test_path_set_silent (lan_b, TRUE);
  silent_since = g_get_monotonic_time ();
  pinhole_test_peer_send_numbered (&f->alice, 100, 100);
  pinhole_test_peer_send_numbered (&f->bob, 100, 100);
  g_assert_true (ph_iterate_until (both_back_on_relay, f, 12000));
  elapsed_ms = (g_get_monotonic_time () - silent_since) / 1000.0;
  g_test_message ("back on the relay %.0f ms after the path went silent", elapsed_ms);
  /* dead once 4 s went by with nothing from the path and a probe unanswered for 3 s, seen
   * within a 250 ms tick: within 5 s of the last reply (just before the silence) */
  g_assert_cmpfloat (elapsed_ms, <, 5000);
  g_assert_true (lost_a == PINHOLE_PATH (lan_a));
  g_assert_true (lost_b == PINHOLE_PATH (lan_b));

  g_assert_true (ph_iterate_until (all_delivered_and_acked, &check, 30000));
  ph_iterate_for (50);
  pinhole_test_peer_assert_numbered (&f->alice, 200);
  pinhole_test_peer_assert_numbered (&f->bob, 200);
}

static void
rtt_notify_cb (GObject    *object,
               GParamSpec *pspec,
               guint      *count)
{
  (*count)++;
}

static gboolean
rtt_measured (gpointer data)
{
  Fixture *f = data;

  return pinhole_session_get_rtt_ms (f->alice.session) >= 0;
}

static void
test_rtt (Fixture       *f,
          gconstpointer  data)
{
  guint notified = 0;
  gdouble rtt = -1;

  pinhole_test_path_set_delay (f->path_a, 15);
  pinhole_test_path_set_delay (f->path_b, 15);
  pinhole_test_sessions_establish (f);
  g_signal_connect (f->alice.session, "notify::rtt-ms", G_CALLBACK (rtt_notify_cb), &notified);
  g_assert_cmpfloat (pinhole_session_get_rtt_ms (f->alice.session), ==, -1);

  pinhole_session_ping (f->alice.session);
  g_assert_true (ph_iterate_until (rtt_measured, f, 5000));
  g_object_get (f->alice.session, "rtt-ms", &rtt, NULL);
  g_test_message ("measured rtt %.2f ms over a 2 x 15 ms path", rtt);
  g_assert_cmpfloat (rtt, >=, 29.0);
  g_assert_cmpfloat (rtt, <, 1000.0);
  g_assert_cmpuint (notified, ==, 1);
}

static void
test_auto_ping (Fixture       *f,
                gconstpointer  data)
{
  pinhole_session_set_ping_interval (f->bob.session, 30);
  pinhole_test_sessions_establish (f);
  g_assert_cmpfloat (pinhole_session_get_rtt_ms (f->bob.session), ==, -1);
  ph_iterate_for (200);
  g_assert_cmpfloat (pinhole_session_get_rtt_ms (f->bob.session), >=, 0);
}

static gboolean
chat_delivered (gpointer data)
{
  Fixture *f = data;

  return f->bob.received->len >= 2;
}

static void
test_garbage (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GBytes) one = g_bytes_new_static ("one", 3);
  g_autoptr(GBytes) two = g_bytes_new_static ("two", 3);
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);
  g_autoptr(GPtrArray) replay = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  GPtrArray *captured;

  pinhole_test_path_set_capture (f->path_a, TRUE);
  pinhole_test_sessions_establish (f);
  g_assert_true (pinhole_session_send (f->alice.session, 1, one, NULL, NULL));
  g_assert_true (ph_iterate_until (bob_has_one, f, 5000));

  /* everything alice sent so far, handshake included, replayed */
  captured = pinhole_test_path_get_captured (f->path_a);
  g_assert_cmpuint (captured->len, >, 2);
  for (guint i = 0; i < captured->len; i++)
    g_ptr_array_add (replay, g_bytes_ref (captured->pdata[i]));
  for (guint i = 0; i < replay->len; i++)
    pinhole_test_path_inject (f->path_b, replay->pdata[i]);

  /* random bytes, random bytes with a valid header, and damaged real packets */
  for (guint i = 0; i < 500; i++)
    {
      gsize len = g_rand_int_range (rand, 0, 200);
      guint8 *buf = g_malloc (len + 2);

      for (gsize j = 0; j < len + 2; j++)
        buf[j] = (guint8) g_rand_int (rand);
      if (i % 3 == 1)
        {
          static const guint8 kinds[] = { 1, 2, 3, 16 };

          buf[0] = 1;
          buf[1] = kinds[i % 4];
        }
      else if (i % 3 == 2)
        {
          GBytes *real = replay->pdata[i % replay->len];
          gsize real_len = g_bytes_get_size (real);

          g_free (buf);
          buf = g_memdup2 (g_bytes_get_data (real, NULL), real_len);
          buf[g_rand_int_range (rand, 0, real_len)] ^= 0x10;
          len = real_len - 2;
        }
      {
        g_autoptr(GBytes) junk = g_bytes_new_take (buf, len + 2);

        pinhole_test_path_inject (f->path_b, junk);
      }
    }

  g_assert_true (pinhole_session_send (f->alice.session, 1, two, NULL, NULL));
  g_assert_true (ph_iterate_until (chat_delivered, f, 5000));
  ph_iterate_for (50);
  g_assert_cmpuint (f->bob.received->len, ==, 2);
  g_assert_true (g_bytes_equal (f->bob.received->pdata[0], one));
  g_assert_true (g_bytes_equal (f->bob.received->pdata[1], two));
  g_assert_cmpint (pinhole_session_get_state (f->bob.session), ==,
                   PINHOLE_SESSION_STATE_ESTABLISHED);
  g_assert_cmpint (pinhole_session_get_state (f->alice.session), ==,
                   PINHOLE_SESSION_STATE_ESTABLISHED);
  g_assert_cmpuint (f->bob.n_closed, ==, 0);
}

static gboolean
three_acked (gpointer data)
{
  Fixture *f = data;

  return f->bob.received->len == 3 && f->alice.acked->len == 3;
}

static void
test_replay (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GBytes) msg = g_bytes_new_static ("once", 4);
  g_autoptr(GPtrArray) replay = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  GPtrArray *captured;
  guint bob_sent;

  pinhole_test_path_set_capture (f->path_a, TRUE);
  pinhole_test_sessions_establish (f);
  for (guint i = 0; i < 3; i++)
    g_assert_true (pinhole_session_send (f->alice.session, 1, msg, NULL, NULL));
  g_assert_true (ph_iterate_until (three_acked, f, 5000));
  ph_iterate_for (50);

  /* replayed packets are refused before decryption: no redelivery, and not even an ack */
  captured = pinhole_test_path_get_captured (f->path_a);
  for (guint i = 0; i < captured->len; i++)
    g_ptr_array_add (replay, g_bytes_ref (captured->pdata[i]));
  bob_sent = pinhole_test_path_get_n_sent (f->path_b);
  for (guint round = 0; round < 3; round++)
    for (guint i = 0; i < replay->len; i++)
      pinhole_test_path_inject (f->path_b, replay->pdata[i]);
  ph_iterate_for (50);

  g_assert_cmpuint (f->bob.received->len, ==, 3);
  g_assert_cmpuint (pinhole_test_path_get_n_sent (f->path_b), ==, bob_sent);
  g_assert_cmpint (pinhole_session_get_state (f->bob.session), ==,
                   PINHOLE_SESSION_STATE_ESTABLISHED);
}

static void
test_peer_close (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GBytes) bye = g_bytes_new_static ("bye", 3);
  g_autoptr(GError) error = NULL;

  pinhole_test_sessions_establish (f);
  pinhole_session_close (f->alice.session);
  g_assert_cmpint (pinhole_session_get_state (f->alice.session), ==,
                   PINHOLE_SESSION_STATE_CLOSED);
  g_assert_cmpuint (f->alice.n_closed, ==, 1);
  g_assert_null (f->alice.closed_error);

  g_assert_true (ph_iterate_until (both_ended, f, 5000));
  g_assert_cmpint (pinhole_session_get_state (f->bob.session), ==, PINHOLE_SESSION_STATE_CLOSED);
  g_assert_null (f->bob.closed_error);
  g_assert_cmpuint (f->bob.n_closed, ==, 1);

  g_assert_false (pinhole_session_send (f->bob.session, 1, bye, NULL, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED);
  /* closing again changes nothing */
  pinhole_session_close (f->bob.session);
  g_assert_cmpuint (f->bob.n_closed, ==, 1);
}

static void
test_retransmit_timeout (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GBytes) lost = g_bytes_new_static ("into the void", 13);
  gint64 start;

  pinhole_test_sessions_establish (f);
  pinhole_session_set_timeout (f->alice.session, 400);
  pinhole_test_path_set_silent (f->path_a, TRUE);
  pinhole_test_path_set_silent (f->path_b, TRUE);

  start = g_get_monotonic_time ();
  g_assert_true (pinhole_session_send (f->alice.session, 1, lost, NULL, NULL));
  g_assert_true (ph_iterate_until (alice_ended, f, 5000));
  g_assert_cmpint (pinhole_session_get_state (f->alice.session), ==,
                   PINHOLE_SESSION_STATE_FAILED);
  g_assert_error (f->alice.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 400 * 1000);
  g_assert_cmpuint (_pinhole_session_get_retransmissions (f->alice.session), >=, 1);
  g_assert_cmpuint (f->bob.received->len, ==, 0);
}

static void
test_handshake_timeout (Fixture       *f,
                        gconstpointer  data)
{
  pinhole_test_path_set_silent (f->path_a, TRUE);
  pinhole_session_set_timeout (f->alice.session, 300);
  pinhole_session_start (f->alice.session);
  g_assert_true (ph_iterate_until (alice_ended, f, 5000));
  g_assert_error (f->alice.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT);
  /* HELLO was sent and retransmitted */
  g_assert_cmpuint (pinhole_test_path_get_n_sent (f->path_a), >=, 2);
}

static void
test_limits (Fixture       *f,
             gconstpointer  data)
{
  g_autofree guint8 *big = g_malloc0 (PINHOLE_SESSION_MAX_PAYLOAD + 1);
  g_autoptr(GBytes) too_big = g_bytes_new (big, PINHOLE_SESSION_MAX_PAYLOAD + 1);
  g_autoptr(GBytes) max = g_bytes_new (big, PINHOLE_SESSION_MAX_PAYLOAD);
  g_autoptr(GError) error = NULL;

  g_assert_false (pinhole_session_send (f->alice.session, 1, too_big, NULL, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
  g_clear_error (&error);

  /* the largest payload crosses intact; more than a window's worth waits in the queue */
  for (guint i = 0; i < PINHOLE_SESSION_WINDOW + 10; i++)
    g_assert_true (pinhole_session_send (f->alice.session, 2, max, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pinhole_session_get_send_queue_bytes (f->alice.session), ==,
                    (guint64) (PINHOLE_SESSION_WINDOW + 10) * PINHOLE_SESSION_MAX_PAYLOAD);
  pinhole_test_sessions_establish (f);
  g_assert_true (ph_iterate_until (window_plus_ten_acked, f, 10000));
  g_assert_true (g_bytes_equal (f->bob.received->pdata[0], max));
  g_assert_cmpuint (pinhole_session_get_send_queue_bytes (f->alice.session), ==, 0);
}

/* ---- a HELLO injected by someone on the path (issue: the relay forging one) ---- */

static gboolean
alice_sent_one (gpointer data)
{
  return pinhole_test_path_get_captured (((Fixture *) data)->path_a)->len >= 1;
}

static gboolean
alice_established (gpointer data)
{
  return pinhole_session_get_state (((Fixture *) data)->alice.session) ==
         PINHOLE_SESSION_STATE_ESTABLISHED;
}

static gboolean
both_have_one (gpointer data)
{
  Fixture *f = data;

  return f->bob.received->len >= 1 && f->alice.received->len >= 1;
}

static void
inject_forged_hellos (Fixture *f,
                      guint    n)
{
  for (guint i = 0; i < n; i++)
    {
      guint8 eph[32];
      g_autoptr(GBytes) forged = NULL;

      randombytes_buf (eph, sizeof eph);
      forged = pinhole_session_packet_build_hello (eph);
      pinhole_test_path_inject (f->path_b, forged);
    }
}

/* @n_before HELLOs of strangers reach bob, then alice's real one, bob's RESPONSE reaches
 * alice, and then @n_forged more HELLOs reach bob before alice's FINISH does; the session
 * must still form and carry chat both ways within @within_ms */
static void
forged_hellos_after_the_real_one (Fixture *f,
                                  guint    n_before,
                                  guint    n_forged,
                                  guint    within_ms)
{
  g_autoptr(GBytes) ping = g_bytes_new_static ("after the forgery", 17);
  g_autoptr(GPtrArray) from_alice = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  GPtrArray *captured;
  gint64 t0;

  pinhole_test_path_set_capture (f->path_a, TRUE);
  pinhole_test_path_set_silent (f->path_a, TRUE);
  pinhole_session_start (f->bob.session);
  pinhole_session_start (f->alice.session);
  g_assert_true (ph_iterate_until (alice_sent_one, f, 5000));
  captured = pinhole_test_path_get_captured (f->path_a);
  inject_forged_hellos (f, n_before);
  pinhole_test_path_inject (f->path_b, captured->pdata[0]);
  g_assert_true (ph_iterate_until (alice_established, f, 5000));
  inject_forged_hellos (f, n_forged);
  /* alice's FINISH (and whatever else she sent meanwhile) now arrives */
  for (guint i = 1; i < captured->len; i++)
    g_ptr_array_add (from_alice, g_bytes_ref (captured->pdata[i]));
  pinhole_test_path_set_silent (f->path_a, FALSE);
  for (guint i = 0; i < from_alice->len; i++)
    pinhole_test_path_inject (f->path_b, from_alice->pdata[i]);

  t0 = g_get_monotonic_time ();
  g_assert_true (pinhole_session_send (f->alice.session, 1, ping, NULL, NULL));
  g_assert_true (pinhole_session_send (f->bob.session, 1, ping, NULL, NULL));
  g_assert_true (ph_iterate_until (both_have_one, f, within_ms));
  g_test_message ("%u forged HELLO(s): chat both ways %" G_GINT64_FORMAT " ms later", n_forged,
                  (g_get_monotonic_time () - t0) / 1000);
  g_assert_true (g_bytes_equal (f->bob.received->pdata[0], ping));
  g_assert_true (g_bytes_equal (f->alice.received->pdata[0], ping));
  g_assert_cmpuint (f->alice.n_closed + f->bob.n_closed, ==, 0);
}

/* one forged HELLO: bob keeps alice's attempt beside the stranger's, so her first FINISH
 * completes it (well before her restart would) */
static void
test_forged_hello (Fixture       *f,
                   gconstpointer  data)
{
  forged_hellos_after_the_real_one (f, 0, 1, 1500);
  g_assert_cmpuint (f->alice.session->restarts, ==, 0);
}

/* many HELLOs forged after the real one, which came first: bob keeps the first attempt, so
 * alice's FINISH completes it without a restart */
static void
test_forged_hello_flood_after (Fixture       *f,
                               gconstpointer  data)
{
  forged_hellos_after_the_real_one (f, 0, 3 * PINHOLE_SESSION_HS_ATTEMPTS, 1500);
  g_assert_cmpuint (f->alice.session->restarts, ==, 0);
}

/* a HELLO forged before the real one takes the first attempt, which bob never gives up; more
 * forged after it than bob keeps attempts push the real one out: alice, confirmed by nothing,
 * starts a fresh attempt, and that one completes */
static void
test_forged_hello_flood (Fixture       *f,
                         gconstpointer  data)
{
  forged_hellos_after_the_real_one (f, 1, PINHOLE_SESSION_HS_ATTEMPTS + 2, 15000);
  g_assert_cmpuint (f->alice.session->restarts, >=, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, pinhole_test_sessions_setup, func, \
              pinhole_test_sessions_teardown)

  ADD ("/session/handshake-and-chat", test_handshake_and_chat);
  g_test_add_func ("/session/wrong-key/initiator", test_wrong_key_initiator);
  g_test_add_func ("/session/wrong-key/responder", test_wrong_key_responder);
  ADD ("/session/lossy-bulk", test_lossy_bulk);
  ADD ("/session/path-switch", test_path_switch);
  ADD ("/session/path-fallback", test_path_fallback);
  ADD ("/session/path-silent", test_path_silent);
  ADD ("/session/rtt", test_rtt);
  ADD ("/session/auto-ping", test_auto_ping);
  ADD ("/session/garbage", test_garbage);
  ADD ("/session/replay", test_replay);
  ADD ("/session/peer-close", test_peer_close);
  ADD ("/session/retransmit-timeout", test_retransmit_timeout);
  ADD ("/session/handshake-timeout", test_handshake_timeout);
  ADD ("/session/limits", test_limits);
  ADD ("/session/forged-hello", test_forged_hello);
  ADD ("/session/forged-hello-flood", test_forged_hello_flood);
  ADD ("/session/forged-hello-flood-after", test_forged_hello_flood_after);

#undef ADD

  return g_test_run ();
}
