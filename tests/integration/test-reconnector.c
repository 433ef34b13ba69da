/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-reconnector.c: PinholeReconnector keeps an in-process PinholeClient online against a
 * real pinhole-server on loopback, as a view sees it through its properties: online at start,
 * offline with an error and a retry when the server goes, online again by itself when it is
 * back; at once on "Reconnect now" or a network change; refused without retrying. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-harness.h"

#include "pinhole-enum-strings.h"
#include "pinhole-reconnector.h"

#define WAIT_MS 15000

typedef struct
{
  PhServer           *server;
  char               *home;
  PinholeClient      *client;
  PinholeReconnector *reconnector;
  GPtrArray          *states;   /* char*: every state notified, as its nick */
} Fixture;

static void
state_cb (PinholeReconnector *reconnector,
          GParamSpec         *pspec,
          Fixture            *f)
{
  g_ptr_array_add (f->states,
                   g_strdup (pinhole_enum_to_nick (PINHOLE_TYPE_CONNECTION_STATE,
                                                   pinhole_reconnector_get_state (reconnector))));
}

static void
fixture_setup (Fixture      *f,
               gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeProfile) profile = NULL;
  g_autofree char *dir = NULL;
  const char *args[] = { "register", "alice", NULL };

  f->home = ph_make_tmp_dir ("pinhole-reconnector-XXXXXX");
  f->states = g_ptr_array_new_with_free_func (g_free);
  f->server = ph_server_start (&error);
  g_assert_no_error (error);
  if (f->server == NULL)
    return;
  dir = g_build_filename (f->home, "alice", NULL);
  {
    g_autoptr(PhResult) r = ph_cli_run (f->server->url, dir, "password-of-alice", NULL, args);
    g_assert_cmpint (r->status, ==, 0);
  }
  profile = pinhole_profile_open (dir, &error);
  g_assert_no_error (error);
  if (profile == NULL)
    return;
  f->client = pinhole_client_new (profile);
  /* loopback: the server connection is what is tested, not direct paths */
  pinhole_client_set_direct_paths (f->client, FALSE);
  f->reconnector = pinhole_reconnector_new (f->client, NULL);
  g_signal_connect (f->reconnector, "notify::state", G_CALLBACK (state_cb), f);
}

static void
fixture_teardown (Fixture      *f,
                  gconstpointer data)
{
  g_clear_object (&f->reconnector);
  g_clear_object (&f->client);
  g_clear_pointer (&f->states, g_ptr_array_unref);
  g_clear_pointer (&f->server, ph_server_free);
  ph_remove_tree (f->home);
  g_clear_pointer (&f->home, g_free);
}

/* ---- waits ---- */

typedef struct
{
  Fixture    *f;
  guint       from;    /* the first index of f->states to look at */
  const char *state;
} StateWait;

static gboolean
state_seen (gpointer data)
{
  StateWait *w = data;

  for (guint i = w->from; i < w->f->states->len; i++)
    if (g_str_equal (g_ptr_array_index (w->f->states, i), w->state))
      return TRUE;
  return FALSE;
}

/* waits for @state to be notified at or after index @from of the trace */
static gboolean
wait_state (Fixture    *f,
            guint       from,
            const char *state,
            guint       timeout_ms)
{
  StateWait w = { f, from, state };

  return ph_iterate_until (state_seen, &w, timeout_ms);
}

typedef struct
{
  PinholeReconnector *reconnector;
  guint               seconds;
} RetryWait;

static gboolean
retry_at_least (gpointer data)
{
  RetryWait *w = data;

  return pinhole_reconnector_get_retry_seconds (w->reconnector) >= w->seconds;
}

/* starts the reconnector and waits for it to be online */
static gboolean
start_online (Fixture *f)
{
  pinhole_reconnector_start (f->reconnector);
  if (!wait_state (f, 0, "online", WAIT_MS))
    return FALSE;
  g_assert_true (pinhole_client_is_connected (f->client));
  g_assert_null (pinhole_reconnector_get_error (f->reconnector));
  g_assert_cmpuint (pinhole_reconnector_get_retry_seconds (f->reconnector), ==, 0);
  return TRUE;
}

/* ---- tests ---- */

/* the server goes away: offline, with the reason and the time to the next attempt; it comes
 * back on the same port: online again, with nothing done but waiting */
static void
test_server_restart (Fixture      *f,
                     gconstpointer data)
{
  guint mark;

  if (f->reconnector == NULL)
    return;
  g_assert_true (start_online (f));
  g_assert_cmpstr (g_ptr_array_index (f->states, 0), ==, "connecting");
  ph_return_if_failed ();

  mark = f->states->len;
  g_assert_true (ph_server_stop (f->server, NULL));
  g_assert_true (wait_state (f, mark, "offline", WAIT_MS));
  ph_return_if_failed ();
  g_assert_nonnull (pinhole_reconnector_get_error (f->reconnector));
  g_assert_cmpuint (pinhole_reconnector_get_retry_seconds (f->reconnector), >, 0);
  g_assert_false (pinhole_client_is_connected (f->client));

  g_assert_true (ph_server_restart (f->server, NULL));
  mark = f->states->len;
  /* the longest back-off, and the time to log in */
  g_assert_true (wait_state (f, mark, "online", (PINHOLE_RECONNECT_MAX_S + 5) * 1000));
  ph_return_if_failed ();
  g_assert_true (pinhole_client_is_connected (f->client));
  g_assert_null (pinhole_reconnector_get_error (f->reconnector));
  g_assert_cmpuint (pinhole_reconnector_get_retry_seconds (f->reconnector), ==, 0);

  /* stopped, it goes offline and stays so */
  pinhole_reconnector_stop (f->reconnector);
  g_assert_cmpint (pinhole_reconnector_get_state (f->reconnector), ==,
                   PINHOLE_CONNECTION_STATE_OFFLINE);
  g_assert_false (pinhole_client_is_connected (f->client));
  mark = f->states->len;
  ph_iterate_for (2 * PINHOLE_RECONNECT_MIN_S * 1000 + 500);
  g_assert_cmpuint (f->states->len, ==, mark);
}

/* with the next attempt seconds away, the network coming back (or the user) tries at once */
static void
test_retry_early (Fixture      *f,
                  gconstpointer data)
{
  gboolean by_network = GPOINTER_TO_INT (data);
  RetryWait backed_off = { f->reconnector, 4 };
  guint mark, waiting;

  if (f->reconnector == NULL)
    return;
  g_assert_true (start_online (f));
  g_assert_true (ph_server_stop (f->server, NULL));
  /* failed attempts after 1 s and 2 s: the next one is 4 s away */
  g_assert_true (ph_iterate_until (retry_at_least, &backed_off, WAIT_MS));
  g_assert_true (ph_server_restart (f->server, NULL));
  ph_return_if_failed ();
  waiting = pinhole_reconnector_get_retry_seconds (f->reconnector);
  g_assert_cmpuint (waiting, >=, 3);
  ph_return_if_failed ();

  mark = f->states->len;
  if (by_network)
    g_signal_emit_by_name (g_network_monitor_get_default (), "network-changed", TRUE);
  else
    pinhole_reconnector_retry_now (f->reconnector);
  /* well before the scheduled attempt, which is more than 2 s away */
  g_assert_true (wait_state (f, mark, "online", 1500));
  g_assert_true (pinhole_client_is_connected (f->client));
}

/* a token the server does not know: refused, with the server's reason, and no more tries */
static void
test_refused (Fixture      *f,
              gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint8 zeros[32] = { 0 };
  g_autofree char *bad_token = g_base64_encode (zeros, sizeof zeros);
  guint mark;

  if (f->reconnector == NULL)
    return;
  g_assert_true (pinhole_profile_set_setting (pinhole_client_get_profile (f->client), "token",
                                              bad_token, &error));
  g_assert_no_error (error);
  pinhole_reconnector_start (f->reconnector);
  g_assert_true (wait_state (f, 0, "refused", WAIT_MS));
  ph_return_if_failed ();
  g_assert_nonnull (pinhole_reconnector_get_error (f->reconnector));
  g_assert_cmpuint (pinhole_reconnector_get_retry_seconds (f->reconnector), ==, 0);
  g_assert_false (pinhole_client_is_connected (f->client));

  /* longer than the first two back-offs: nothing is tried again */
  mark = f->states->len;
  ph_iterate_for ((PINHOLE_RECONNECT_MIN_S * 3) * 1000 + 500);
  g_assert_cmpuint (f->states->len, ==, mark);
  g_assert_cmpint (pinhole_reconnector_get_state (f->reconnector), ==,
                   PINHOLE_CONNECTION_STATE_REFUSED);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
#define ADD(path, data, fn) \
  g_test_add (path, Fixture, data, fixture_setup, fn, fixture_teardown)
  ADD ("/integration/reconnector/server-restart", NULL, test_server_restart);
  ADD ("/integration/reconnector/network-changed", GINT_TO_POINTER (TRUE), test_retry_early);
  ADD ("/integration/reconnector/retry-now", GINT_TO_POINTER (FALSE), test_retry_early);
  ADD ("/integration/reconnector/refused", NULL, test_refused);
#undef ADD
  return g_test_run ();
}
