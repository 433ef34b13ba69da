/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-session.c: the two-session fixture of the session tests. */
#include "pinhole-test-session.h"

#include "pinhole-session-private.h"
#include "pinhole-test-util.h"

static void
frame_received_cb (PinholeSession  *session,
                   guint            channel,
                   GBytes          *payload,
                   PinholeTestPeer *peer)
{
  g_ptr_array_add (peer->received, g_bytes_ref (payload));
  g_array_append_val (peer->channels, channel);
}

static void
acked_cb (PinholeSession  *session,
          guint64          seq,
          PinholeTestPeer *peer)
{
  g_array_append_val (peer->acked, seq);
}

static void
established_cb (PinholeSession  *session,
                PinholeTestPeer *peer)
{
  peer->n_established++;
}

static void
path_changed_cb (PinholeSession  *session,
                 PinholeTestPeer *peer)
{
  peer->n_path_changed++;
}

static void
closed_cb (PinholeSession  *session,
           const GError    *error,
           PinholeTestPeer *peer)
{
  peer->n_closed++;
  g_clear_error (&peer->closed_error);
  if (error != NULL)
    peer->closed_error = g_error_copy (error);
}

void
pinhole_test_peer_init (PinholeTestPeer *peer,
                        PinholeIdentity *identity,
                        const char      *local_id,
                        const char      *peer_id,
                        GBytes          *peer_key,
                        gboolean         initiator)
{
  peer->session = pinhole_session_new (identity, local_id, peer_id, peer_key, initiator);
  peer->received = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  peer->channels = g_array_new (FALSE, FALSE, sizeof (guint));
  peer->acked = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_signal_connect (peer->session, "frame-received", G_CALLBACK (frame_received_cb), peer);
  g_signal_connect (peer->session, "acked", G_CALLBACK (acked_cb), peer);
  g_signal_connect (peer->session, "established", G_CALLBACK (established_cb), peer);
  g_signal_connect (peer->session, "path-changed", G_CALLBACK (path_changed_cb), peer);
  g_signal_connect (peer->session, "closed", G_CALLBACK (closed_cb), peer);
  /* fast enough for tests; the RTO still comes from measured RTTs */
  _pinhole_session_set_rto (peer->session, 100, 20);
  pinhole_session_set_timeout (peer->session, 10000);
}

void
pinhole_test_peer_clear (PinholeTestPeer *peer)
{
  g_clear_object (&peer->session);
  g_clear_pointer (&peer->received, g_ptr_array_unref);
  g_clear_pointer (&peer->channels, g_array_unref);
  g_clear_pointer (&peer->acked, g_array_unref);
  g_clear_error (&peer->closed_error);
}

/* 4-byte number then a length that varies with it, so frames differ in size */
GBytes *
pinhole_test_numbered_payload (guint32 n)
{
  gsize len = 4 + (n * 37) % 300;
  guint8 *data = g_malloc (len);

  data[0] = (guint8) (n >> 24);
  data[1] = (guint8) (n >> 16);
  data[2] = (guint8) (n >> 8);
  data[3] = (guint8) n;
  for (gsize i = 4; i < len; i++)
    data[i] = (guint8) (n + i);
  return g_bytes_new_take (data, len);
}

/* frames @first .. @first + @count - 1 on channel 2, as the first frames @peer sends */
void
pinhole_test_peer_send_numbered (PinholeTestPeer *peer,
                                 guint32          first,
                                 guint32          count)
{
  for (guint32 n = first; n < first + count; n++)
    {
      g_autoptr(GBytes) payload = pinhole_test_numbered_payload (n);
      g_autoptr(GError) error = NULL;
      guint64 seq = 0;

      g_assert_true (pinhole_session_send (peer->session, 2, payload, &seq, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (seq, ==, n + 1);
    }
}

/* every numbered frame exactly once, in order */
void
pinhole_test_peer_assert_numbered (PinholeTestPeer *peer,
                                   guint32          count)
{
  g_assert_cmpuint (peer->received->len, ==, count);
  for (guint32 n = 0; n < count; n++)
    {
      g_autoptr(GBytes) expected = pinhole_test_numbered_payload (n);

      if (!g_bytes_equal (peer->received->pdata[n], expected))
        g_error ("frame %u out of order, duplicated or damaged", n);
    }
}

/* alice initiates; either side may be given a wrong key for the other */
void
pinhole_test_sessions_setup_keys (PinholeTestSessions *f,
                                  gboolean             alice_knows_wrong_key,
                                  gboolean             bob_knows_wrong_key)
{
  g_autoptr(PinholeIdentity) stranger = pinhole_identity_new ();
  g_autoptr(GBytes) alice_pk = NULL;
  g_autoptr(GBytes) bob_pk = NULL;

  f->alice_id = pinhole_identity_new ();
  f->bob_id = pinhole_identity_new ();
  alice_pk = pinhole_identity_dup_public_key (bob_knows_wrong_key ? stranger : f->alice_id);
  bob_pk = pinhole_identity_dup_public_key (alice_knows_wrong_key ? stranger : f->bob_id);

  pinhole_test_peer_init (&f->alice, f->alice_id, "alice/laptop", "bob/desktop", bob_pk, TRUE);
  pinhole_test_peer_init (&f->bob, f->bob_id, "bob/desktop", "alice/laptop", alice_pk, FALSE);
  pinhole_test_path_new_pair (PINHOLE_PATH_KIND_RELAY, 1, &f->path_a, &f->path_b);
  pinhole_session_attach_path (f->alice.session, PINHOLE_PATH (f->path_a));
  pinhole_session_attach_path (f->bob.session, PINHOLE_PATH (f->path_b));
}

void
pinhole_test_sessions_setup (PinholeTestSessions *f,
                             gconstpointer        data)
{
  pinhole_test_sessions_setup_keys (f, FALSE, FALSE);
}

void
pinhole_test_sessions_teardown (PinholeTestSessions *f,
                                gconstpointer        data)
{
  pinhole_test_peer_clear (&f->alice);
  pinhole_test_peer_clear (&f->bob);
  g_clear_object (&f->path_a);
  g_clear_object (&f->path_b);
  g_clear_object (&f->alice_id);
  g_clear_object (&f->bob_id);
  /* let idle sources of the objects just freed run out */
  /* bounded: a source that stays ready must not hold the test here */
  for (guint i = 0; i < 50 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

/* a PhTestCondition on a PinholeTestSessions */
gboolean
pinhole_test_sessions_both_established (gpointer data)
{
  PinholeTestSessions *f = data;

  return pinhole_session_get_state (f->alice.session) == PINHOLE_SESSION_STATE_ESTABLISHED &&
         pinhole_session_get_state (f->bob.session) == PINHOLE_SESSION_STATE_ESTABLISHED;
}

void
pinhole_test_sessions_establish (PinholeTestSessions *f)
{
  pinhole_session_start (f->bob.session);
  pinhole_session_start (f->alice.session);
  g_assert_true (ph_iterate_until (pinhole_test_sessions_both_established, f, 10000));
}
