/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-session-priority.c: the session's scheduling classes (docs/session.md §6): a chat
 * frame sent during a bulk transfer goes out at once, behind at most one transfer frame in the
 * path; bulk frames go a few per turn of the main loop; the bulk window shrinks by delay so
 * that few frames wait in a slow link's queue; bulk channels take turns; the path's ::drained
 * keeps bulk frames flowing. */
#include <string.h>

#include "pinhole-session.h"
#include "pinhole-session-private.h"
#include "pinhole-tcp-path.h"
#include "pinhole-test-path.h"
#include "pinhole-test-session.h"
#include "pinhole-test-util.h"

#define BULK_PAYLOAD PINHOLE_SESSION_MAX_PAYLOAD
#define BULK_PER_CHANNEL 200

static GBytes *
bulk_payload (guint8  channel,
              guint32 n)
{
  guint8 *data = g_malloc (BULK_PAYLOAD);

  memset (data, channel, BULK_PAYLOAD);
  data[0] = (guint8) (n >> 24);
  data[1] = (guint8) (n >> 16);
  data[2] = (guint8) (n >> 8);
  data[3] = (guint8) n;
  return g_bytes_new_take (data, BULK_PAYLOAD);
}

static void
queue_bulk (PinholeSession *session,
            guint8          channel,
            guint32         count)
{
  for (guint32 n = 0; n < count; n++)
    {
      g_autoptr(GBytes) payload = bulk_payload (channel, n);
      g_autoptr(GError) error = NULL;

      g_assert_true (pinhole_session_send (session, channel, payload, NULL, &error));
      g_assert_no_error (error);
    }
}

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

static gboolean
has_chat (gpointer data)
{
  PinholeTestPeer *peer = data;

  for (guint i = 0; i < peer->channels->len; i++)
    if (g_array_index (peer->channels, guint, i) == PINHOLE_SESSION_CHANNEL_CHAT)
      return TRUE;
  return FALSE;
}

static TxFrame *
find_in_flight (PinholeSession *session,
                guint8          channel)
{
  for (GList *l = session->in_flight.head; l != NULL; l = l->next)
    if (((TxFrame *) l->data)->channel == channel)
      return l->data;
  return NULL;
}

typedef struct
{
  PinholeTestPath *path;
  guint            count;
} Held;

static gboolean
has_held (gpointer data)
{
  Held *h = data;

  return pinhole_test_path_get_n_held (h->path) >= h->count;
}

static gboolean
bulk_window_full (gpointer data)
{
  PinholeSession *session = data;

  return session->bulk_in_flight == session->bulk_window;
}

/* both sessions move onto one real TCP connection over loopback */
static void
attach_tcp (PinholeTestSessions *f,
            PinholePath        **out_a,
            PinholePath        **out_b)
{
  g_autoptr(GSocketConnection) client = NULL;
  g_autoptr(GSocketConnection) server = NULL;

  pinhole_test_connect_tcp_pair (&client, &server);
  *out_a = PINHOLE_PATH (pinhole_tcp_path_new (G_IO_STREAM (client), PINHOLE_PATH_KIND_LAN,
                                               "127.0.0.1:1"));
  *out_b = PINHOLE_PATH (pinhole_tcp_path_new (G_IO_STREAM (server), PINHOLE_PATH_KIND_LAN,
                                               "127.0.0.1:2"));
  pinhole_session_attach_path (f->alice.session, *out_a);
  pinhole_session_attach_path (f->bob.session, *out_b);
}

/* The property of issue 10: a chat message never waits behind more than one transfer frame
 * per path. Two transfers fill the session; when the chat frame is sent, it takes the next
 * sequence number at once and the TCP path holds at most one transfer packet ahead of it. */
static void
test_chat_during_bulk (PinholeTestSessions *f,
                       gconstpointer        data)
{
  g_autoptr(PinholePath) tcp_a = NULL;
  g_autoptr(PinholePath) tcp_b = NULL;
  g_autoptr(GBytes) chat = g_bytes_new_static ("hello during a transfer", 23);
  Received some = { &f->bob, 100 };
  Received all = { &f->bob, 2 * BULK_PER_CHANNEL + 1 };
  guint64 next_seq, queued;
  TxFrame *frame;
  gint64 sent_at, started;
  guint chat_index = G_MAXUINT, before_chat = 0, delivered_then;
  guint per_channel[2] = { 0, 0 };
  guint32 expected[2] = { 0, 0 };

  pinhole_test_sessions_establish (f);
  attach_tcp (f, &tcp_a, &tcp_b);
  started = g_get_monotonic_time ();
  queue_bulk (f->alice.session, PINHOLE_SESSION_CHANNEL_BULK, BULK_PER_CHANNEL);
  queue_bulk (f->alice.session, PINHOLE_SESSION_CHANNEL_BULK + 1, BULK_PER_CHANNEL);
  g_assert_true (ph_iterate_until (has_received, &some, 20000));
  g_assert_cmpuint (f->alice.session->bulk_waiting, >, 0);

  delivered_then = f->bob.received->len;
  queued = pinhole_path_get_queued_bytes (tcp_a);
  next_seq = f->alice.session->next_seq;
  sent_at = g_get_monotonic_time ();
  g_assert_true (pinhole_session_send (f->alice.session, PINHOLE_SESSION_CHANNEL_CHAT, chat,
                                       NULL, NULL));
  frame = find_in_flight (f->alice.session, PINHOLE_SESSION_CHANNEL_CHAT);
  g_assert_nonnull (frame);
  /* no transfer frame got a sequence number before it */
  g_assert_cmpuint (frame->seq, ==, next_seq);
  /* and the path held at most one transfer packet (with its frame header) ahead of it */
  g_assert_cmpuint (queued, <=, 4 + 10 + 18 + BULK_PAYLOAD + 16);

  g_assert_true (ph_iterate_until (has_chat, &f->bob, 10000));
  g_test_message ("chat delivered %.2f ms after it was sent, during the transfer",
                  (g_get_monotonic_time () - sent_at) / 1000.0);
  g_assert_true (ph_iterate_until (has_received, &all, 30000));
  g_test_message ("bulk: %.0f MB/s over loopback TCP",
                  2.0 * BULK_PER_CHANNEL * BULK_PAYLOAD / (g_get_monotonic_time () - started));

  for (guint i = 0; i < f->bob.received->len; i++)
    {
      guint channel = g_array_index (f->bob.channels, guint, i);
      GBytes *payload = f->bob.received->pdata[i];

      if (channel == PINHOLE_SESSION_CHANNEL_CHAT)
        {
          chat_index = i;
          g_assert_true (g_bytes_equal (payload, chat));
          continue;
        }
      g_assert_cmpuint (channel, >=, PINHOLE_SESSION_CHANNEL_BULK);
      g_assert_cmpuint (channel, <=, PINHOLE_SESSION_CHANNEL_BULK + 1);
      /* each channel in its own order, every frame once */
      {
        g_autoptr(GBytes) want = bulk_payload ((guint8) channel,
                                               expected[channel - PINHOLE_SESSION_CHANNEL_BULK]++);

        g_assert_true (g_bytes_equal (payload, want));
      }
      /* past the first window, which one channel may fill before the other has frames */
      if (i >= PINHOLE_SESSION_WINDOW && i < PINHOLE_SESSION_WINDOW + 200)
        per_channel[channel - PINHOLE_SESSION_CHANNEL_BULK]++;
      if (chat_index == G_MAXUINT)
        before_chat++;
    }
  g_assert_cmpuint (chat_index, !=, G_MAXUINT);
  g_assert_cmpuint (expected[0], ==, BULK_PER_CHANNEL);
  g_assert_cmpuint (expected[1], ==, BULK_PER_CHANNEL);
  /* the two transfers took turns: neither had the session to itself */
  g_assert_cmpuint (per_channel[0], >=, 90);
  g_assert_cmpuint (per_channel[1], >=, 90);
  /* what preceded the chat frame at bob had been sent before it: what bob had then, the bulk
   * frames in flight, and the one the path held */
  g_assert_cmpuint (before_chat, <=, delivered_then + PINHOLE_SESSION_WINDOW + 1);
  pinhole_session_detach_path (f->alice.session, tcp_a);
  pinhole_session_detach_path (f->bob.session, tcp_b);
}

/* Deterministic: a path that takes packets only when told. The session gives it one bulk frame
 * at a time; a chat frame sent meanwhile queues behind that one frame, never more. */
static void
test_chat_behind_one_frame (PinholeTestSessions *f,
                            gconstpointer        data)
{
  g_autoptr(GBytes) chat = g_bytes_new_static ("hello", 5);
  Received all = { &f->bob, 41 };
  guint chat_index = G_MAXUINT, taken_before = 0;

  Held one = { f->path_a, 1 };

  pinhole_test_sessions_establish (f);
  /* no acks come back meanwhile (they would pump the session too): only ::drained lets the
   * next bulk frame go, within a window that no ack can change */
  pinhole_test_path_set_silent (f->path_b, TRUE);
  _pinhole_session_set_rto (f->alice.session, 10000, 10000);   /* and nothing is resent */
  f->alice.session->bulk_window = PINHOLE_SESSION_WINDOW;
  pinhole_test_path_set_holding (f->path_a, TRUE);
  queue_bulk (f->alice.session, PINHOLE_SESSION_CHANNEL_BULK, 40);
  for (int round = 0; round < 10; round++)
    {
      g_autoptr(GPtrArray) taken = NULL;

      /* one transfer frame in the path, the rest wait in the session, however long the main
       * loop turns */
      g_assert_true (ph_iterate_until (has_held, &one, 5000));
      ph_iterate_for (20);
      g_assert_cmpuint (pinhole_test_path_get_n_held (f->path_a), ==, 1);
      taken = pinhole_test_path_take_held (f->path_a, G_MAXUINT);
      taken_before += taken->len;
    }
  g_assert_true (ph_iterate_until (has_held, &one, 5000));
  g_assert_cmpuint (pinhole_test_path_get_n_held (f->path_a), ==, 1);
  g_assert_true (pinhole_session_send (f->alice.session, PINHOLE_SESSION_CHANNEL_CHAT, chat,
                                       NULL, NULL));
  /* the chat frame went to the path at once, behind the one transfer frame there */
  g_assert_cmpuint (pinhole_test_path_get_n_held (f->path_a), ==, 2);
  pinhole_test_path_set_silent (f->path_b, FALSE);
  pinhole_test_path_set_holding (f->path_a, FALSE);
  g_ptr_array_unref (pinhole_test_path_take_held (f->path_a, G_MAXUINT));
  g_assert_true (ph_iterate_until (has_received, &all, 20000));
  for (guint i = 0; i < f->bob.received->len && chat_index == G_MAXUINT; i++)
    if (g_array_index (f->bob.channels, guint, i) == PINHOLE_SESSION_CHANNEL_CHAT)
      chat_index = i;
  /* bob got what the path took before the chat was sent, the one frame held, then the chat */
  g_assert_cmpuint (taken_before, ==, 10);
  g_assert_cmpuint (chat_index, ==, taken_before + 1);
}

/* A full bulk window does not hold back chat: with every bulk frame in flight and nothing
 * acknowledged (the path went dark), a chat frame is still transmitted at once. */
static void
test_chat_beside_full_bulk_window (PinholeTestSessions *f,
                                   gconstpointer        data)
{
  g_autoptr(GBytes) chat = g_bytes_new_static ("hi", 2);
  guint sent;

  pinhole_test_sessions_establish (f);
  pinhole_test_path_set_silent (f->path_a, TRUE);
  /* the bulk window at its largest, as on a fast path */
  f->alice.session->bulk_window = PINHOLE_SESSION_WINDOW;
  queue_bulk (f->alice.session, PINHOLE_SESSION_CHANNEL_BULK, PINHOLE_SESSION_WINDOW + 20);
  g_assert_true (ph_iterate_until (bulk_window_full, f->alice.session, 5000));
  g_assert_cmpuint (f->alice.session->bulk_in_flight, ==, PINHOLE_SESSION_WINDOW);
  g_assert_cmpuint (f->alice.session->bulk_waiting, ==, 20);

  sent = pinhole_test_path_get_n_sent (f->path_a);
  g_assert_true (pinhole_session_send (f->alice.session, PINHOLE_SESSION_CHANNEL_CHAT, chat,
                                       NULL, NULL));
  g_assert_cmpuint (pinhole_test_path_get_n_sent (f->path_a), ==, sent + 1);
  g_assert_nonnull (find_in_flight (f->alice.session, PINHOLE_SESSION_CHANNEL_CHAT));
}

/* However many bulk frames a transfer queues at once, the session seals and sends only
 * PINHOLE_SESSION_BULK_PER_TURN of them in one turn of the main loop, so that a chat message
 * the app sends from its own callback goes out after at most that much work */
static void
test_bulk_per_turn (PinholeTestSessions *f,
                    gconstpointer        data)
{
  g_autoptr(GBytes) chat = g_bytes_new_static ("between two turns", 17);
  guint sent;

  pinhole_test_sessions_establish (f);
  pinhole_test_path_set_silent (f->path_a, TRUE);
  sent = pinhole_test_path_get_n_sent (f->path_a);
  queue_bulk (f->alice.session, PINHOLE_SESSION_CHANNEL_BULK, 40);
  /* queued, not sent: the first turn comes when the main loop next runs */
  g_assert_cmpuint (pinhole_test_path_get_n_sent (f->path_a), ==, sent);
  for (guint turn = 1; turn <= 3; turn++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_assert_cmpuint (pinhole_test_path_get_n_sent (f->path_a), ==,
                        sent + turn * PINHOLE_SESSION_BULK_PER_TURN);
    }
  /* a chat frame goes at once, between two turns */
  sent = pinhole_test_path_get_n_sent (f->path_a);
  g_assert_true (pinhole_session_send (f->alice.session, PINHOLE_SESSION_CHANNEL_CHAT, chat,
                                       NULL, NULL));
  g_assert_cmpuint (pinhole_test_path_get_n_sent (f->path_a), ==, sent + 1);
  g_assert_nonnull (find_in_flight (f->alice.session, PINHOLE_SESSION_CHANNEL_CHAT));
  /* and more bulk frames follow, turn by turn, up to the window (nothing is acknowledged) */
  g_assert_true (ph_iterate_until (bulk_window_full, f->alice.session, 5000));
  ph_iterate_for (20);
  g_assert_cmpuint (f->alice.session->bulk_in_flight, ==, PINHOLE_SESSION_BULK_WINDOW_START);
}

/* The bulk window grows on a fast path; when the path slows down and queues what it is given,
 * as a router or a socket buffer does, it shrinks by the delay it sees until only a few frames
 * wait in that queue, so a chat frame sent during the transfer waits behind those few and not
 * behind a whole window of them */
static void
test_bulk_window_by_delay (PinholeTestSessions *f,
                           gconstpointer        data)
{
  g_autoptr(GBytes) chat = g_bytes_new_static ("hello through the queue", 23);
  Received fast = { &f->bob, 100 };
  Received slow = { &f->bob, 200 };
  Received all = { &f->bob, 301 };
  gint64 sent_at, latency_us;
  guint window;

  pinhole_test_sessions_establish (f);
  queue_bulk (f->alice.session, PINHOLE_SESSION_CHANNEL_BULK, 300);
  g_assert_true (ph_iterate_until (has_received, &fast, 20000));
  window = f->alice.session->bulk_window;
  g_test_message ("bulk window after 100 frames on a fast path: %u", window);
  g_assert_cmpuint (window, ==, PINHOLE_SESSION_WINDOW);

  /* 8 MB/s: a bulk frame takes 4.1 ms on the link, and a window of 64 is 262 ms of queue */
  pinhole_test_path_set_rate (f->path_a, 8 * 1000 * 1000);
  g_assert_true (ph_iterate_until (has_received, &slow, 20000));
  window = f->alice.session->bulk_window;
  g_test_message ("bulk window after 100 frames more on a slow one: %u", window);
  g_assert_cmpuint (window, <=, 16);

  sent_at = g_get_monotonic_time ();
  g_assert_true (pinhole_session_send (f->alice.session, PINHOLE_SESSION_CHANNEL_CHAT, chat,
                                       NULL, NULL));
  g_assert_true (ph_iterate_until (has_chat, &f->bob, 10000));
  latency_us = g_get_monotonic_time () - sent_at;
  g_test_message ("chat delivered %.1f ms after it was sent", latency_us / 1000.0);
  /* behind at most 16 frames on the link (65 ms); a full window would be 262 ms */
  g_assert_cmpint (latency_us, <, 120 * 1000);
  g_assert_true (ph_iterate_until (has_received, &all, 20000));
}

/* The ids that ::acked reports are the ones send() gave, even when chat overtakes bulk */
static void
test_acked_ids (PinholeTestSessions *f,
                gconstpointer        data)
{
  g_autoptr(GBytes) chat = g_bytes_new_static ("hi", 2);
  Received all = { &f->bob, PINHOLE_SESSION_WINDOW + 21 };
  guint64 chat_id = 0;
  gboolean seen = FALSE;

  pinhole_test_sessions_establish (f);
  pinhole_test_path_set_silent (f->path_a, TRUE);
  queue_bulk (f->alice.session, PINHOLE_SESSION_CHANNEL_BULK, PINHOLE_SESSION_WINDOW + 20);
  g_assert_true (pinhole_session_send (f->alice.session, PINHOLE_SESSION_CHANNEL_CHAT, chat,
                                       &chat_id, NULL));
  g_assert_cmpuint (chat_id, ==, PINHOLE_SESSION_WINDOW + 21);
  pinhole_test_path_set_silent (f->path_a, FALSE);
  g_assert_true (ph_iterate_until (has_received, &all, 20000));
  ph_iterate_for (100);
  g_assert_cmpuint (f->alice.acked->len, ==, PINHOLE_SESSION_WINDOW + 21);
  for (guint i = 0; i < f->alice.acked->len; i++)
    if (g_array_index (f->alice.acked, guint64, i) == chat_id)
      seen = TRUE;
  g_assert_true (seen);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) \
  g_test_add ("/session/priority/" path, PinholeTestSessions, NULL, \
              pinhole_test_sessions_setup, fn, pinhole_test_sessions_teardown)
  ADD ("chat-during-bulk", test_chat_during_bulk);
  ADD ("chat-behind-one-frame", test_chat_behind_one_frame);
  ADD ("chat-beside-full-bulk-window", test_chat_beside_full_bulk_window);
  ADD ("bulk-per-turn", test_bulk_per_turn);
  ADD ("bulk-window-by-delay", test_bulk_window_by_delay);
  ADD ("acked-ids", test_acked_ids);
#undef ADD
  return g_test_run ();
}
