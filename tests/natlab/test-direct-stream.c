/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-direct-stream.c: the real pinhole-server and pinhole-cli programs in NAT lab namespaces:
 * a numbered stream that must arrive whole and in order across relay/direct switches, and
 * round-trip times on the relay and the direct path over delayed links, and a move from a TCP
 * to a UDP direct path that never passes through the relay. */
#define G_LOG_DOMAIN "pinhole-test"

#include "direct-fixture.h"

#include <string.h>

/* a dead direct path is noticed within about 4.25 s of its last reply (docs/session.md §6) */
#define FALLBACK_MS      5000
#define STREAM_MIN_LINES 3000
#define STREAM_PERIOD_MS 2

/* the fixture: direct-fixture.h */
typedef DirectFixture Fixture;

/* ---- 7. a numbered stream across path switches ---- */

typedef struct
{
  PhProc  *sender;
  guint    next;        /* the next number to write */
  guint    limit;       /* write up to here (grows while the path sequence runs) */
  GString *pending;
  gboolean writing;
  gboolean failed;
  guint    timer;
} Feeder;

static void feeder_flush (Feeder *feeder);

static void
feeder_written_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Feeder *feeder = user_data;
  g_autoptr(GError) error = NULL;
  gsize written = 0;

  feeder->writing = FALSE;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &written, &error))
    {
      g_test_message ("writing to alice's send: %s", error->message);
      feeder->failed = TRUE;
      return;
    }
  g_string_erase (feeder->pending, 0, (gssize) written);
  feeder_flush (feeder);
}

static void
feeder_flush (Feeder *feeder)
{
  if (feeder->writing || feeder->failed || feeder->pending->len == 0)
    return;
  feeder->writing = TRUE;
  g_output_stream_write_all_async (feeder->sender->stdin_pipe, feeder->pending->str,
                                   feeder->pending->len, G_PRIORITY_DEFAULT, NULL,
                                   feeder_written_cb, feeder);
}

static gboolean
feeder_tick_cb (gpointer data)
{
  Feeder *feeder = data;

  if (feeder->next <= feeder->limit)
    {
      g_string_append_printf (feeder->pending, "%u\n", feeder->next++);
      feeder_flush (feeder);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
feeder_idle (gpointer data)
{
  Feeder *feeder = data;

  return feeder->failed || (!feeder->writing && feeder->pending->len == 0);
}

typedef struct
{
  PhProc *listen;
  guint   want;
} CountMessages;

static guint
count_messages (PhProc *p)
{
  guint n = 0;

  for (guint i = 0; i < p->events->len; i++)
    n += g_strcmp0 (json_object_get_string_member_with_default (
                      g_ptr_array_index (p->events, i), "event", ""), "message") == 0;
  return n;
}

static gboolean
messages_reached (gpointer data)
{
  CountMessages *c = data;

  return count_messages (c->listen) >= c->want || c->listen->out_eof;
}

/* bob's listen and alice's `send bob -`, fed a number every STREAM_PERIOD_MS */
static gboolean
stream_start (Fixture  *f,
              Feeder   *feeder,
              PhProc  **out_bob)
{
  PhProc *sender;

  *out_bob = direct_listen_start (f, "bob", 0);
  if (*out_bob == NULL)
    return FALSE;
  sender = direct_cli_spawnv (f, "alice", NATLAB_PINHOLE_STDIN,
                              (const char *[]) { "send", "bob", "-", NULL });
  if (sender == NULL)
    return FALSE;
  g_ptr_array_add (f->ph->procs, sender);
  feeder->sender = sender;
  feeder->next = 1;
  feeder->limit = G_MAXUINT;
  feeder->pending = g_string_new (NULL);
  feeder->timer = g_timeout_add (STREAM_PERIOD_MS, feeder_tick_cb, feeder);
  return TRUE;
}

/* ends the stream (at least STREAM_MIN_LINES) and checks that bob printed every number once
 * and in order; Returns: (transfer full): bob's path history */
static char *
stream_finish (Feeder *feeder,
               PhProc *bob)
{
  PhProc *sender = feeder->sender;
  guint expected = 1, duplicates = 0, out_of_order = 0;
  CountMessages wait_all;
  char *history;

  /* the rest of the stream, at least STREAM_MIN_LINES in all */
  feeder->limit = MAX (feeder->next + 200, STREAM_MIN_LINES);
  {
    gint64 end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

    while (feeder->next <= feeder->limit && !feeder->failed && g_get_monotonic_time () < end)
      g_main_context_iteration (NULL, TRUE);
  }
  g_source_remove (feeder->timer);
  ph_iterate_until (feeder_idle, feeder, PH_CLI_MS);
  ph_proc_close_stdin (sender);
  if (!ph_proc_wait (sender, PH_CLI_MS) || sender->status != 0)
    g_test_fail_printf ("alice's send: status %d: %s", sender->status, sender->err_text->str);
  g_assert_false (feeder->failed);

  wait_all.listen = bob;
  wait_all.want = feeder->next - 1;
  ph_iterate_until (messages_reached, &wait_all, PH_CLI_MS);
  for (guint i = 0; i < bob->events->len; i++)
    {
      JsonObject *m = g_ptr_array_index (bob->events, i);
      guint64 n;

      if (g_strcmp0 (json_object_get_string_member_with_default (m, "event", ""), "message"))
        continue;
      n = g_ascii_strtoull (json_object_get_string_member_with_default (m, "text", "0"),
                            NULL, 10);
      if (n == expected)
        expected++;
      else if (n < expected)
        duplicates++;
      else
        {
          if (out_of_order++ < 5)
            g_test_message ("message %" G_GUINT64_FORMAT " where %u was due", n, expected);
          expected = (guint) n + 1;
        }
    }
  history = direct_path_history (bob);
  g_test_message ("stream: %u lines written, bob printed %u messages; paths: %s",
                  feeder->next - 1, count_messages (bob), history);
  g_string_free (feeder->pending, TRUE);
  if (g_test_failed ())
    {
      direct_log_proc (bob);
      direct_log_proc (sender);
    }
  g_assert_cmpuint (duplicates, ==, 0);
  g_assert_cmpuint (out_of_order, ==, 0);
  g_assert_cmpuint (expected - 1, ==, feeder->next - 1);
  g_assert_cmpuint (count_messages (bob), ==, feeder->next - 1);
  return history;
}

/* alice and bob behind port-restricted NATs on two sites, the server, and the pair */
static gboolean
two_sites (Fixture *f)
{
  return direct_add_site (f, WEST, NATLAB_NAT_PORT_RESTRICTED) &&
         direct_add_site (f, EAST, NATLAB_NAT_PORT_RESTRICTED) &&
         direct_add_user_host (f, WEST, "alice") && direct_add_user_host (f, EAST, "bob") &&
         direct_server_start (f, SERVER_PORT) && direct_make_pair (f, "alice", "bob");
}

/* (nullable) bob's first direct path event under the stream; NULL fails the test */
static JsonObject *
first_direct (PhProc *bob,
              guint  *cursor)
{
  JsonObject *event = ph_proc_wait_event (bob, cursor, is_direct_event, NULL, DIRECT_MS);

  if (event == NULL)
    g_test_fail_printf ("no direct path under the stream within %d ms", DIRECT_MS);
  return event;
}

/* cuts the direct path between the sites under a running stream; Returns: the
 * milliseconds from the cut to bob's relay event, or -1 (the test failed) */
static gint64
cut_to_relay (Fixture *f,
              PhProc  *bob,
              guint   *cursor,
              Feeder  *feeder)
{
  g_autoptr(GError) error = NULL;
  gint64 cut_us, ms;

  if (!natlab_block_between (f->lab, WEST, EAST, TRUE, &error))
    {
      g_test_fail_printf ("natlab_block_between: %s", error->message);
      return -1;
    }
  cut_us = g_get_monotonic_time ();
  if (ph_proc_wait_event (bob, cursor, is_relay_event, NULL, 3 * FALLBACK_MS) == NULL)
    {
      g_test_fail_printf ("still not back on the relay %d ms after the cut", 3 * FALLBACK_MS);
      return -1;
    }
  ms = (g_get_monotonic_time () - cut_us) / 1000;
  g_test_message ("stream: relay %" G_GINT64_FORMAT " ms after the cut (%u lines written)",
                  ms, feeder->next - 1);
  return ms;
}

/* fails the test unless @history (from direct_path_history) is @want, ignoring the "none"
 * once alice's send has left */
static void
assert_history (const char *history,
                const char *want)
{
  g_autofree char *got = g_strdup (history);

  if (g_str_has_suffix (got, " none"))
    got[strlen (got) - strlen (" none")] = '\0';
  g_assert_cmpstr (got, ==, want);
}

static void
test_stream_switch (Fixture      *f,
                    gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  Feeder feeder = { 0 };
  PhProc *bob;
  guint cursor = 0;
  JsonObject *event;
  gint64 t0, cut_us, fallback_ms = -1, redirect_ms = -1, direct_ms = -1;
  g_autofree char *history = NULL;

  CHECK_LAB (f);
  if (!two_sites (f))
    return;
  if (!stream_start (f, &feeder, &bob))
    return;
  t0 = g_get_monotonic_time ();

  /* relay, then a direct path */
  event = first_direct (bob, &cursor);
  if (event == NULL)
    goto done;
  direct_ms = (g_get_monotonic_time () - t0) / 1000;
  g_test_message ("stream: %s after %" G_GINT64_FORMAT " ms (%u lines written)",
                  path_of (event), direct_ms, feeder.next - 1);

  /* cut the direct path: back on the relay within FALLBACK_MS */
  fallback_ms = cut_to_relay (f, bob, &cursor, &feeder);
  if (fallback_ms < 0)
    goto done;

  /* open again: a direct path again */
  if (!natlab_block_between (f->lab, WEST, EAST, FALSE, &error))
    {
      g_test_fail_printf ("natlab_block_between: %s", error->message);
      goto done;
    }
  cut_us = g_get_monotonic_time ();
  event = ph_proc_wait_event (bob, &cursor, is_direct_event, NULL, 3 * DIRECT_MS);
  if (event == NULL)
    {
      g_test_fail_printf ("no direct path again within %d ms of the unblock", 3 * DIRECT_MS);
      goto done;
    }
  redirect_ms = (g_get_monotonic_time () - cut_us) / 1000;
  g_test_message ("stream: %s again %" G_GINT64_FORMAT " ms after the unblock",
                  path_of (event), redirect_ms);

done:
  history = stream_finish (&feeder, bob);
  /* relay first, then UDP hole punching (both NATs are port-restricted), the relay, and
   * UDP hole punching again */
  if (redirect_ms >= 0)
    assert_history (history, "relay udp-punch relay udp-punch");
  g_assert_cmpint (fallback_ms, >=, 0);
  g_assert_cmpint (fallback_ms, <=, FALLBACK_MS);
}

/* ---- 9. a TCP path gives way to a UDP path on the direct paths, never via the relay ---- */

static gboolean
is_udp_punch_event (JsonObject *event,
                    gpointer    data)
{
  return g_strcmp0 (path_of (event), "udp-punch") == 0;
}

/* UDP between the sites dropped at first, so the first direct path is tcp-punch; once UDP
 * passes, the UDP checks still running succeed and udp-punch replaces tcp-punch (make before
 * break, issue 12 item 11): bob's path events read "relay tcp-punch udp-punch" with no relay
 * between the direct kinds. Then the direct path is cut: bob is on the relay within
 * FALLBACK_MS of the path's last reply, plus REPORT_MARGIN_MS (see below). */
#define MOVE_MS          15000
/* the stream keeps data flowing both ways every STREAM_PERIOD_MS, so the last reply bob got
 * came at most a few ms before the cut; the margin covers the relay event's way from bob's
 * listen through its standard output to this test on a loaded 2-core machine */
#define REPORT_MARGIN_MS 250

static void
test_tcp_to_udp (Fixture      *f,
                 gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  Feeder feeder = { 0 };
  PhProc *bob;
  guint cursor = 0;
  JsonObject *event;
  gint64 t0, tcp_us = 0, fallback_ms = -1;
  g_autofree char *history = NULL;

  CHECK_LAB (f);
  if (!two_sites (f))
    return;
  if (!natlab_block_udp_between (f->lab, WEST, EAST, TRUE, &error))
    {
      g_test_fail_printf ("natlab_block_udp_between: %s", error->message);
      return;
    }
  if (!stream_start (f, &feeder, &bob))
    return;
  t0 = g_get_monotonic_time ();

  /* relay, then the only direct path that gets through: TCP */
  event = first_direct (bob, &cursor);
  if (event == NULL)
    goto done;
  tcp_us = g_get_monotonic_time ();
  g_test_message ("stream: %s after %" G_GINT64_FORMAT " ms with UDP blocked",
                  path_of (event), (tcp_us - t0) / 1000);
  if (!natlab_block_udp_between (f->lab, WEST, EAST, FALSE, &error))
    {
      g_test_fail_printf ("natlab_block_udp_between: %s", error->message);
      goto done;
    }

  /* UDP open: the UDP path takes over */
  event = ph_proc_wait_event (bob, &cursor, is_udp_punch_event, NULL, MOVE_MS);
  if (event == NULL)
    {
      g_test_fail_printf ("no udp-punch within %d ms of UDP passing", MOVE_MS);
      goto done;
    }
  g_test_message ("stream: udp-punch %" G_GINT64_FORMAT " ms after the TCP path (%u lines "
                  "written)", (g_get_monotonic_time () - tcp_us) / 1000, feeder.next - 1);

  /* cut the direct path: the relay within FALLBACK_MS of its last reply */
  fallback_ms = cut_to_relay (f, bob, &cursor, &feeder);

done:
  history = stream_finish (&feeder, bob);
  assert_history (history, "relay tcp-punch udp-punch relay");
  g_assert_cmpint (fallback_ms, >=, 0);
  g_assert_cmpint (fallback_ms, <=, FALLBACK_MS + REPORT_MARGIN_MS);
}

/* ---- 8. 40 ms on each site's link ---- */

static gint
compare_double (gconstpointer a,
                gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return x < y ? -1 : x > y;
}

static void
test_delay (Fixture      *f,
            gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  PhProc *p;
  gdouble relay_rtt = -1, direct_rtt = -1;
  g_autoptr(GArray) direct_rtts = g_array_new (FALSE, FALSE, sizeof (gdouble));
  const char *first = NULL, *last = NULL;
  gint64 t0;
  guint direct_at = 0;

  CHECK_LAB (f);
  if (!direct_add_site (f, WEST, NATLAB_NAT_PORT_RESTRICTED) ||
      !direct_add_site (f, EAST, NATLAB_NAT_PORT_RESTRICTED) ||
      !direct_add_user_host (f, WEST, "alice") || !direct_add_user_host (f, EAST, "bob"))
    return;
  if (!natlab_set_link (f->lab, WEST, 40, 0, &error) ||
      !natlab_set_link (f->lab, EAST, 40, 0, &error))
    {
      g_test_fail_printf ("natlab_set_link: %s", error->message);
      return;
    }
  if (!direct_server_start (f, SERVER_PORT) || !direct_make_pair (f, "alice", "bob") ||
      direct_listen_start (f, "bob", 0) == NULL)
    return;
  t0 = g_get_monotonic_time ();
  p = direct_path_run (f, 12);
  if (p == NULL)
    return;
  for (guint i = 0; i < p->events->len; i++)
    {
      JsonObject *event = g_ptr_array_index (p->events, i);
      const char *path = path_of (event);
      JsonNode *rtt = json_object_get_member (event, "rtt_ms");
      gdouble ms = rtt && !json_node_is_null (rtt) ? json_node_get_double (rtt) : -1;

      if (path == NULL)
        continue;
      g_test_message ("probe %u: %s rtt %.1f ms", i, path, ms);
      if (first == NULL)
        first = path;
      last = path;
      if (strcmp (path, "relay") == 0 && direct_at == 0 && ms >= 0)
        relay_rtt = ms;
      if (strcmp (path, "relay") != 0 && direct_at == 0)
        direct_at = i + 1;
      if (strcmp (path, "relay") != 0 && ms >= 0)
        g_array_append_val (direct_rtts, ms);
    }
  if (direct_rtts->len > 0)
    {
      g_array_sort (direct_rtts, compare_double);
      direct_rtt = g_array_index (direct_rtts, gdouble, direct_rtts->len / 2);
    }
  g_test_message ("relay rtt %.1f ms, direct median %.1f ms", relay_rtt, direct_rtt);
  if (direct_at > 0)
    g_test_message ("40 ms links: direct from probe %u (~%u s after path started; run took "
                    "%" G_GINT64_FORMAT " ms)", direct_at, direct_at,
                    (g_get_monotonic_time () - t0) / 1000);
  g_assert_cmpstr (first, ==, "relay");
  g_assert_cmpstr (last, ==, "udp-punch");
  g_assert_cmpfloat (relay_rtt, >, 0);
  g_assert_cmpfloat (direct_rtt, >, 0);
  g_assert_cmpfloat (direct_rtt, <, relay_rtt);
  ph_proc_free (p);
}

#define ADD(path, fn) \
  g_test_add (path, Fixture, NULL, direct_fixture_setup, fn, direct_fixture_teardown)

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();

  ADD ("/natlab/direct/stream-switch", test_stream_switch);
  ADD ("/natlab/direct/delay", test_delay);
  ADD ("/natlab/direct/tcp-to-udp", test_tcp_to_udp);

  return g_test_run ();
}
