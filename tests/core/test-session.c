/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-session.c: PinholeSession over in-memory paths: handshake, authentication failures,
 * reliable ordered delivery under loss and reordering, path switches, RTT, close, timeout. */
#include <sodium.h>
#include <string.h>

#include "pinhole-error.h"
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
peer_ended (gpointer data)
{
  return ((Peer *) data)->n_closed > 0;
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
  /* heartbeat every 2 s while active, dead 4 s after an unanswered probe: at most 8 s */
  g_assert_cmpfloat (elapsed_ms, <, 8000);
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

/* ---- an independent initiator written from docs/session.md, with libsodium only ---- */

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
  g_test_add_func ("/session/conformance/independent-initiator", test_independent_initiator);
  g_test_add_func ("/session/conformance/bad-finish-signature", test_independent_bad_finish);

#undef ADD

  return g_test_run ();
}
