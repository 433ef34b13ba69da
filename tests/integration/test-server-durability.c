/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-server-durability.c: the server's fsyncs are off its main loop (docs/architecture.md
 * "The server's durability"): a slow sync holds back only the answers that wait for it, one
 * sync serves the writes that came while another ran, a failed sync is an error to the client,
 * a shutdown lets the answers waiting for a sync go, and what waits behind one is bounded.
 * Raw clients of a real pinhole-server whose syncs the test hooks
 * PINHOLE_TEST_SERVER_SYNC_DELAY_MS and _FAIL make slow or fail. */
#include "pinhole-test-peer.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define SLOW_SYNC_MS 400
#define BURST        10
#define RELAY_WINDOW (256 * 1024)
#define FRAME_BYTES  (16 * 1024)
#define HELD_FRAMES  40

typedef struct
{
  PhServer *server;
  PhPeer   *alice;
  PhPeer   *bob;
  PhPeer   *carol;       /* no one's contact: nothing alice does is pushed to her */
} Fixture;

static gboolean
never (gpointer data)
{
  return FALSE;
}

/* lets the main loop run for @ms: the server's answers and log come in meanwhile */
static void
run_for (guint ms)
{
  ph_iterate_until (never, NULL, ms);
}

/* a server whose syncs each take @delay_ms (0: as the disk takes them), with its store's and
 * routing's debug lines in its log */
static void
start (Fixture *f,
       guint    delay_ms)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *delay = g_strdup_printf ("%u", delay_ms);

  g_setenv ("G_MESSAGES_DEBUG", "pinhole-store", TRUE);
  if (delay_ms > 0)
    g_setenv ("PINHOLE_TEST_SERVER_SYNC_DELAY_MS", delay, TRUE);
  f->server = ph_server_start (&error);
  g_unsetenv ("PINHOLE_TEST_SERVER_SYNC_DELAY_MS");
  g_unsetenv ("G_MESSAGES_DEBUG");
  g_assert_no_error (error);
  if (f->server == NULL)
    return;
  f->alice = ph_peer_new (f->server->url, "alice");
  f->bob = ph_peer_new (f->server->url, "bob");
  f->carol = ph_peer_new (f->server->url, "carol");
  g_assert_true (ph_peer_register (f->alice));
  g_assert_true (ph_peer_register (f->bob));
  g_assert_true (ph_peer_register (f->carol));
  ph_peer_befriend (f->alice, f->bob);
}

static void
fixture_teardown (Fixture      *f,
                  gconstpointer data)
{
  g_clear_pointer (&f->alice, ph_peer_free);
  g_clear_pointer (&f->bob, ph_peer_free);
  g_clear_pointer (&f->carol, ph_peer_free);
  if (f->server != NULL && g_test_failed ())
    {
      g_autofree char *log = ph_server_dup_log (f->server);

      g_test_message ("server log:\n%s", log);
    }
  g_clear_pointer (&f->server, ph_server_free);
}

/* alice seals a message for bob's device without waiting for the answer to request @id */
static void
send_sealed (Fixture    *f,
             const char *id,
             const char *message)
{
  g_autofree char *text =
    g_strdup_printf ("{\"type\":\"message\",\"id\":\"%s\",\"user\":\"bob\",\"device\":\"%s\","
                     "\"message\":\"%s\",\"sealed\":\"c2VhbGVk\"}", id, f->bob->device,
                     message);

  ph_ws_send (f->alice->ws, text);
}

/* Returns: the index of the answer to @id among what @ws received, or -1 */
static int
find_answer (PhWs       *ws,
             const char *id)
{
  g_autofree char *needle = g_strdup_printf ("\"id\":\"%s\"", id);

  for (guint i = 0; i < ws->texts->len; i++)
    {
      const char *text = g_ptr_array_index (ws->texts, i);

      if (strstr (text, needle) != NULL &&
          (strstr (text, "\"type\":\"result\"") || strstr (text, "\"type\":\"error\"")))
        return (int) i;
    }
  return -1;
}

typedef struct
{
  PhWs       *ws;
  const char *id;
} AnswerWait;

static gboolean
answer_arrived (gpointer data)
{
  AnswerWait *w = data;

  return find_answer (w->ws, w->id) >= 0 || w->ws->closed;
}

/* Returns: (transfer full) (nullable): the answer to @id, whichever requests came before
 * (ph_ws_wait_reply() moves a cursor past the answers of requests sent after @id) */
static JsonObject *
wait_answer (PhWs       *ws,
             const char *id,
             guint       timeout_ms)
{
  AnswerWait w = { ws, id };
  g_autoptr(JsonParser) parser = json_parser_new ();
  int at;

  ph_iterate_until (answer_arrived, &w, timeout_ms);
  at = find_answer (ws, id);
  if (at < 0 || !json_parser_load_from_data (parser, g_ptr_array_index (ws->texts, at), -1,
                                             NULL))
    return NULL;
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* while alice's sealed message waits for a slow sync, carol's ping is answered at once; alice
 * hears "stored" only after the sync, and the answer to her own ping sent after the message
 * comes after it, as it always did */
static void
test_slow_sync (Fixture      *f,
                gconstpointer data)
{
  g_autoptr(JsonObject) stored = NULL;
  g_autoptr(JsonObject) pong = NULL;
  gint64 sent, ponged, answered;

  start (f, SLOW_SYNC_MS);
  ph_return_if_failed ();

  sent = g_get_monotonic_time ();
  send_sealed (f, "slow", "slow-1");
  ph_ws_send (f->alice->ws, "{\"type\":\"ping\",\"id\":\"after\"}");
  /* the server has the message and its sync has begun */
  run_for (50);
  ph_ws_send (f->carol->ws, "{\"type\":\"ping\",\"id\":\"pong\"}");
  pong = wait_answer (f->carol->ws, "pong", 5000);
  ponged = g_get_monotonic_time ();
  g_assert_nonnull (pong);
  g_assert_cmpint (find_answer (f->alice->ws, "slow"), ==, -1);
  g_test_message ("carol's ping answered %" G_GINT64_FORMAT " ms after alice's message",
                  (ponged - sent) / 1000);
  g_assert_cmpint ((ponged - sent) / 1000, <, SLOW_SYNC_MS / 2);

  stored = wait_answer (f->alice->ws, "slow", 5000);
  answered = g_get_monotonic_time ();
  g_assert_nonnull (stored);
  g_assert_cmpstr (ph_json_get_string (stored, "type"), ==, "result");
  g_test_message ("alice's message answered %" G_GINT64_FORMAT " ms after it was sent",
                  (answered - sent) / 1000);
  g_assert_cmpint ((answered - sent) / 1000, >=, SLOW_SYNC_MS - 20);
  g_clear_pointer (&pong, json_object_unref);
  pong = wait_answer (f->alice->ws, "after", 5000);
  g_assert_nonnull (pong);
  g_assert_cmpint (find_answer (f->alice->ws, "after"), >, find_answer (f->alice->ws, "slow"));
  /* bob is pushed the message once it is on disk, too */
  ph_peer_expect_push (f->bob, "offline-message", "message", "slow-1", NULL);
}

/* "store synced (sync N): W write(s) waited" (g_debug: on standard output): walks back from
 * the last such line until the writes add up to @writes; Returns: the syncs it took, or 0
 * when the lines hold fewer */
static guint
syncs_for_last (PhServer *server,
                guint     writes)
{
  GPtrArray *lines = server->proc->lines;
  guint syncs = 0, sum = 0;

  for (guint i = lines->len; i > 0 && sum < writes; i--)
    {
      const char *at = strstr (g_ptr_array_index (lines, i - 1), "store synced (sync ");
      guint number, waited;

      if (at == NULL || sscanf (at, "store synced (sync %u): %u write(s) waited", &number,
                                &waited) != 2)
        continue;
      sum += waited;
      syncs++;
    }
  return sum >= writes ? syncs : 0;
}

/* BURST sealed messages sent at once share a few syncs (group commit), and their answers come
 * in the order of the requests */
static void
test_group_commit (Fixture      *f,
                   gconstpointer data)
{
  int last = -1;
  guint syncs;

  start (f, SLOW_SYNC_MS / 2);
  ph_return_if_failed ();
  for (guint i = 0; i < BURST; i++)
    {
      g_autofree char *id = g_strdup_printf ("burst-%u", i);

      send_sealed (f, id, id);
    }
  for (guint i = 0; i < BURST; i++)
    {
      g_autofree char *id = g_strdup_printf ("burst-%u", i);
      g_autoptr(JsonObject) reply = wait_answer (f->alice->ws, id, 10000);
      int at;

      g_assert_nonnull (reply);
      g_assert_cmpstr (ph_json_get_string (reply, "type"), ==, "result");
      at = find_answer (f->alice->ws, id);
      g_assert_cmpint (at, >, last);
      last = at;
    }
  /* the log lines of those syncs were written before the answers went */
  run_for (200);
  syncs = syncs_for_last (f->server, BURST);
  g_test_message ("%u messages took %u syncs", BURST, syncs);
  g_assert_cmpuint (syncs, >, 0);
  g_assert_cmpuint (syncs, <=, 3);
}

/* a server whose syncs fail answers a sealed message with an error, not "stored"; once its
 * disk works again the same message is stored */
static void
test_sync_fails (Fixture      *f,
                 gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) reply = NULL;

  start (f, 0);
  ph_return_if_failed ();
  ph_peer_close (f->alice);
  g_assert_true (ph_server_stop (f->server, NULL));
  g_setenv ("PINHOLE_TEST_SERVER_SYNC_FAIL", "1", TRUE);
  ph_server_restart (f->server, &error);
  g_unsetenv ("PINHOLE_TEST_SERVER_SYNC_FAIL");
  g_assert_no_error (error);
  /* a log-in with a token that needs no rotation writes nothing */
  g_assert_true (ph_peer_login (f->alice));
  ph_return_if_failed ();

  send_sealed (f, "doomed", "doomed-1");
  reply = wait_answer (f->alice->ws, "doomed", 5000);
  g_assert_nonnull (reply);
  g_assert_cmpstr (ph_json_get_string (reply, "type"), ==, "error");
  g_assert_cmpint (json_object_get_int_member_with_default (reply, "code", 0), ==, 500);
  g_assert_nonnull (strstr (ph_json_get_string (reply, "text"), "disk"));
  g_clear_pointer (&reply, json_object_unref);

  /* the disk back: the client's resend of the same message is stored */
  ph_peer_close (f->alice);
  g_assert_true (ph_server_stop (f->server, NULL));
  ph_server_restart (f->server, &error);
  g_assert_no_error (error);
  g_assert_true (ph_peer_login (f->alice));
  ph_return_if_failed ();
  send_sealed (f, "again", "doomed-1");
  reply = wait_answer (f->alice->ws, "again", 5000);
  g_assert_nonnull (reply);
  g_assert_cmpstr (ph_json_get_string (reply, "type"), ==, "result");
}

/* SIGTERM while a sealed message waits for its sync: the answer still goes, then the
 * connection closes */
static void
test_shutdown_waits (Fixture      *f,
                     gconstpointer data)
{
  g_autoptr(JsonObject) reply = NULL;
  int status = -1;

  start (f, SLOW_SYNC_MS);
  ph_return_if_failed ();
  send_sealed (f, "last", "last-1");
  run_for (50);
  g_subprocess_send_signal (f->server->proc->proc, SIGTERM);
  reply = wait_answer (f->alice->ws, "last", 5000);
  g_assert_nonnull (reply);
  g_assert_cmpstr (ph_json_get_string (reply, "type"), ==, "result");
  g_assert_true (ph_ws_wait_closed (f->alice->ws, 5000));
  g_assert_true (ph_server_stop (f->server, &status));
  g_assert_cmpint (status, ==, 0);
}

/* relay frames to a connection whose answer waits for a sync wait behind it, within the relay
 * window (256 KiB): the rest are dropped as for a slow reader, and the connection stays */
static void
test_held_frames_bounded (Fixture      *f,
                          gconstpointer data)
{
  g_autoptr(JsonObject) stored = NULL;
  g_autofree guint8 *frame = g_malloc0 (FRAME_BYTES);
  guint32 channel;
  guint got;

  start (f, SLOW_SYNC_MS * 2);
  ph_return_if_failed ();
  channel = ph_peer_open_channel (f->bob, f->alice);
  ph_return_if_failed ();
  ph_peer_mark (f->alice);
  send_sealed (f, "held", "held-1");
  run_for (50);
  frame[0] = channel >> 24;
  frame[1] = channel >> 16;
  frame[2] = channel >> 8;
  frame[3] = channel;
  for (guint i = 0; i < HELD_FRAMES; i++)
    soup_websocket_connection_send_binary (f->bob->ws->ws, frame, FRAME_BYTES);
  run_for (SLOW_SYNC_MS);
  g_assert_cmpuint (f->alice->ws->n_binary, ==, f->alice->mark_binary);
  g_assert_cmpint (find_answer (f->alice->ws, "held"), ==, -1);

  stored = wait_answer (f->alice->ws, "held", 5000);
  g_assert_nonnull (stored);
  g_assert_cmpstr (ph_json_get_string (stored, "type"), ==, "result");
  run_for (300);
  got = f->alice->ws->n_binary - f->alice->mark_binary;
  g_test_message ("alice got %u of %u frames of %u bytes sent behind her answer", got,
                  HELD_FRAMES, FRAME_BYTES);
  g_assert_cmpuint (got, >, 0);
  g_assert_cmpuint (got, <=, RELAY_WINDOW / FRAME_BYTES + 1);
  g_assert_false (f->alice->ws->closed);
  ph_peer_sync (f->alice);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, NULL, fn, fixture_teardown)
  ADD ("/integration/server-durability/slow-sync", test_slow_sync);
  ADD ("/integration/server-durability/group-commit", test_group_commit);
  ADD ("/integration/server-durability/sync-fails", test_sync_fails);
  ADD ("/integration/server-durability/shutdown-waits", test_shutdown_waits);
  ADD ("/integration/server-durability/held-frames-bounded", test_held_frames_bounded);
  return g_test_run ();
}
