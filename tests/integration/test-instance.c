/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-instance.c: one running connection per profile, with real programs on a session bus
 * of the test's own: with `listen` running, one-shot commands on its profile go through it
 * (contacts shows its live path and RTT, send arrives, nothing logs in again); a second
 * listen is refused; with listen stopped, commands log in themselves as before. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-instance-bus.h"
#include "pinhole-test-bus.h"
#include "pinhole-test-fixture.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  PhFixture f;
  PhBus    *bus;
} Fixture;

static void
fixture_setup (Fixture      *x,
               gconstpointer data)
{
  ph_fixture_setup (&x->f, data);
  x->bus = data != NULL ? ph_bus_start_anonymous () : ph_bus_start ();
}

static void
fixture_teardown (Fixture      *x,
                  gconstpointer data)
{
  /* the clients first: they are the bus's */
  ph_fixture_teardown (&x->f, data);
  g_clear_pointer (&x->bus, ph_bus_free);
}

/* `pinhole-cli --json ARGS… NULL` for @profile, on the test's bus */
#define cli_on_bus(x, profile, ...) \
  ph_fixture_cli_options (&(x)->f, (profile), &(PhCliOptions) { (const char *const[]) { \
                            (x)->bus->env, NULL }, FALSE }, __VA_ARGS__)

/* `listen` for @profile on the test's bus, its calls in its log; Returns: (transfer none)
 * (nullable) */
static PhProc *
listen_on_bus (Fixture    *x,
               const char *profile)
{
  const char *env[] = { x->bus->env, "G_MESSAGES_DEBUG=pinhole-instance", NULL };
  PhCliOptions options = { env, FALSE };
  const char *args[] = { "listen", NULL };
  PhProc *p = ph_fixture_spawn (&x->f, profile, &options, args);
  guint cursor = 0;

  if (p == NULL)
    return NULL;
  if (ph_proc_wait_named (p, &cursor, "online", "user", profile, PH_EVENT_MS) == NULL)
    g_test_fail_printf ("%s's listen did not come online: %s", profile, p->err_text->str);
  return p;
}

typedef struct
{
  PhProc     *proc;
  const char *text;
} Logged;

static gboolean
logged (gpointer data)
{
  Logged *l = data;

  for (guint i = 0; i < l->proc->lines->len; i++)
    if (strstr (g_ptr_array_index (l->proc->lines, i), l->text) != NULL)
      return TRUE;
  return FALSE;
}

/* waits for a listen's debug log (on its standard output, as GLib writes it) to show @text */
static void
assert_logged (PhProc     *listen,
               const char *text)
{
  Logged l = { listen, text };

  if (listen != NULL && !ph_iterate_until (logged, &l, PH_EVENT_MS))
    g_test_fail_printf ("the listen's log does not show \"%s\"", text);
}

/* alice and bob, each with a listen on the test's bus, made contacts through them;
 * Returns: whether the test goes on (there is a bus, and nothing failed) */
static gboolean
start_pair (Fixture  *x,
            PhProc  **alice,
            PhProc  **bob)
{
  if (x->bus == NULL || g_test_failed ())
    return FALSE;
  ph_fixture_register (&x->f, "alice");
  ph_fixture_register (&x->f, "bob");
  *alice = listen_on_bus (x, "alice");
  *bob = listen_on_bus (x, "bob");
  if (g_test_failed ())
    return FALSE;
  {
    g_autoptr(PhResult) r = cli_on_bus (x, "alice", "add", "bob", NULL);
    ph_assert_result_event (r, "contact", "relation", "requested");
  }
  {
    g_autoptr(PhResult) r = cli_on_bus (x, "bob", "accept", "alice", NULL);
    ph_assert_result_event (r, "contact", "relation", "mutual");
  }
  assert_logged (*alice, "Instance.Add from");
  assert_logged (*bob, "Instance.Accept from");
  return !g_test_failed ();
}

/* Returns: (transfer full) (nullable): alice's `contacts` line for bob once it has a path and
 * an RTT, through alice's instance; the last one seen after the deadline */
static JsonObject *
wait_live_bob (Fixture *x)
{
  gint64 deadline = g_get_monotonic_time () + PH_EVENT_MS * G_TIME_SPAN_MILLISECOND;
  JsonObject *bob = NULL;

  do
    {
      g_autoptr(PhResult) r = cli_on_bus (x, "alice", "contacts", NULL);
      JsonObject *event = ph_result_event (r, "contact");

      g_assert_cmpint (r->status, ==, 0);
      g_clear_pointer (&bob, json_object_unref);
      if (event == NULL)
        break;
      bob = json_object_ref (event);
      if (ph_event_string (bob, "path") != NULL &&
          json_object_get_double_member_with_default (bob, "rtt_ms", -1) > 0)
        break;
      /* the session comes up and the device probes it; no sleep(): the loop runs */
      ph_iterate_for (200);
    }
  while (g_get_monotonic_time () < deadline);
  return bob;
}

static void
assert_live (JsonObject *bob)
{
  g_assert_nonnull (bob);
  if (bob == NULL)
    return;
  g_assert_cmpstr (ph_event_string (bob, "user"), ==, "bob");
  g_assert_cmpstr (ph_event_string (bob, "relation"), ==, "mutual");
  g_assert_cmpstr (ph_event_string (bob, "show"), ==, "online");
  g_assert_nonnull (ph_event_string (bob, "path"));
  g_assert_cmpfloat (json_object_get_double_member_with_default (bob, "rtt_ms", -1), >, 0);
}

static void
signal_server (Fixture *x,
               int      sig)
{
  kill ((pid_t) atol (ph_proc_get_pid (x->f.server->proc)), sig);
}

/* with listen running, `contacts` on its profile shows the path and RTT of listen's live
 * session with bob, and logs in nowhere: it answers while the server is stopped */
static void
test_contacts_live_path (Fixture      *x,
                         gconstpointer data)
{
  g_autoptr(JsonObject) bob_line = NULL;
  PhProc *alice = NULL, *bob = NULL;
  guint cursor = 0;

  if (!start_pair (x, &alice, &bob))
    return;
  {
    g_autoptr(PhResult) r = cli_on_bus (x, "alice", "send", "bob", "through the instance",
                                        NULL);
    JsonObject *sent = ph_result_event (r, "sent");

    g_assert_cmpint (r->status, ==, 0);
    g_assert_nonnull (sent);
    if (sent != NULL)
      g_assert_cmpint (json_object_get_int_member (sent, "delivered"), ==, 1);
  }
  g_assert_nonnull (ph_proc_wait_named (bob, &cursor, "message", "text",
                                        "through the instance", PH_EVENT_MS));
  assert_logged (alice, "Instance.Send from");
  ph_return_if_failed ();

  bob_line = wait_live_bob (x);
  assert_live (bob_line);
  ph_return_if_failed ();

  /* a command that logged in would wait for the stopped server until it was killed */
  signal_server (x, SIGSTOP);
  {
    g_autoptr(PhResult) r = cli_on_bus (x, "alice", "contacts", NULL);

    g_assert_cmpint (r->status, ==, 0);
    assert_live (ph_result_event (r, "contact"));
  }
  signal_server (x, SIGCONT);
  ph_return_if_failed ();

  /* path prints the live path and RTT once a second, as with a session of its own */
  {
    g_autoptr(PhResult) r = cli_on_bus (x, "alice", "path", "bob", "--count", "2", NULL);
    JsonObject *last;

    g_assert_cmpint (r->status, ==, 0);
    g_assert_cmpuint (ph_result_count (r, "path"), ==, 2);
    last = r->events->len > 0 ? g_ptr_array_index (r->events, r->events->len - 1) : NULL;
    g_assert_nonnull (last);
    if (last != NULL)
      {
        g_assert_cmpstr (ph_event_string (last, "user"), ==, "bob");
        /* not bob_line's: the session may have moved from the relay to lan since */
        g_assert_nonnull (ph_event_string (last, "path"));
        g_assert_cmpfloat (json_object_get_double_member_with_default (last, "rtt_ms", -1), >,
                           0);
      }
  }
  g_assert_cmpuint (ph_proc_count (alice, "disconnected"), ==, 0);
}

/* the other one-shot commands through the instance: the same lines as their own */
static void
test_commands (Fixture      *x,
               gconstpointer data)
{
  PhProc *alice = NULL, *bob = NULL;
  g_autofree char *long_text = g_strnfill (8193, 'x');

  if (!start_pair (x, &alice, &bob))
    return;
  {
    g_autoptr(PhResult) r = cli_on_bus (x, "alice", "set", "bob", "relay-only", "on", NULL);
    JsonObject *event = ph_result_event (r, "set");

    g_assert_cmpint (r->status, ==, 0);
    g_assert_nonnull (event);
    if (event != NULL)
      g_assert_true (json_object_get_boolean_member (event, "relay_only"));
  }
  {
    g_autoptr(PhResult) r = cli_on_bus (x, "alice", "trust", "bob", NULL);

    g_assert_cmpint (r->status, ==, 0);
    g_assert_nonnull (ph_result_event (r, "trust"));
  }
  /* what a caller can make the instance hold is bounded: the client's own limit */
  {
    g_autoptr(PhResult) r = cli_on_bus (x, "alice", "send", "bob", long_text, NULL);

    g_assert_cmpint (r->status, ==, 1);
    g_assert_cmpstr (r->err, ==, "pinhole-cli: a message is 1 to 8192 bytes of UTF-8 text\n");
  }
  {
    g_autoptr(PhResult) r = cli_on_bus (x, "alice", "send", "nobody", "hello?", NULL);

    g_assert_cmpint (r->status, ==, 1);
    g_assert_cmpstr (r->err, ==, "pinhole-cli: nobody is not your contact\n");
  }
  {
    g_autoptr(PhResult) r = cli_on_bus (x, "alice", "remove", "bob", NULL);
    ph_assert_result_event (r, "contact", "relation", "none");
  }
  assert_logged (alice, "Instance.SetRelayOnly from");
  assert_logged (alice, "Instance.Trust from");
  assert_logged (alice, "Instance.Remove from");
}

/* a second listen on the profile says who holds it and leaves the first on the bus; once
 * the first is gone, the next one takes the bus name too */
static void
test_second_listen_refused (Fixture      *x,
                            gconstpointer data)
{
  g_autofree char *dir = ph_fixture_profile (&x->f, "alice");
  g_autofree char *expected = NULL;
  PhProc *alice = NULL, *bob = NULL;

  if (!start_pair (x, &alice, &bob))
    return;
  {
    g_autoptr(PhResult) r = cli_on_bus (x, "alice", "listen", NULL);

    expected = g_strdup_printf ("pinhole-cli: the profile %s is in use by another Pinhole "
                                "(process %s)\n", dir, ph_proc_get_pid (alice));
    g_assert_cmpint (r->status, ==, 1);
    g_assert_cmpstr (r->err, ==, expected);
  }
  {
    g_autoptr(PhResult) r = cli_on_bus (x, "alice", "send", "bob", "still yours?", NULL);

    g_assert_cmpint (r->status, ==, 0);
  }
  assert_logged (alice, "Instance.Send from");

  g_assert_true (ph_proc_stop (alice));
  alice = listen_on_bus (x, "alice");
  ph_return_if_failed ();
  {
    g_autoptr(PhResult) r = cli_on_bus (x, "alice", "send", "bob", "back again", NULL);

    g_assert_cmpint (r->status, ==, 0);
  }
  assert_logged (alice, "Instance.Send from");
}

/* with listen stopped, the commands on the bus log in themselves, as without a bus */
static void
test_without_listen (Fixture      *x,
                     gconstpointer data)
{
  PhProc *alice = NULL, *bob = NULL;
  guint cursor = 0;

  if (!start_pair (x, &alice, &bob))
    return;
  g_assert_true (ph_proc_stop (alice));
  {
    g_autoptr(PhResult) r = cli_on_bus (x, "alice", "send", "bob", "on my own", NULL);

    g_assert_cmpint (r->status, ==, 0);
    g_assert_nonnull (ph_result_event (r, "sent"));
  }
  g_assert_nonnull (ph_proc_wait_named (bob, &cursor, "message", "text", "on my own",
                                        PH_EVENT_MS));
  {
    g_autoptr(PhResult) r = cli_on_bus (x, "alice", "contacts", NULL);
    JsonObject *line = ph_result_event (r, "contact");

    g_assert_cmpint (r->status, ==, 0);
    g_assert_nonnull (line);
    if (line != NULL)
      {
        g_assert_cmpstr (ph_event_string (line, "user"), ==, "bob");
        /* a one-shot log-in has no live session */
        g_assert_true (json_object_get_null_member (line, "path"));
      }
  }
}

typedef struct
{
  guint answered;
  guint refused;   /* LimitsExceeded */
} Calls;

static void
add_answered_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Calls *calls = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  calls->answered++;
  calls->refused += g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED);
}

static gboolean
refusals_in (gpointer data)
{
  return ((Calls *) data)->refused > 0;
}

static gboolean
all_answered (gpointer data)
{
  return ((Calls *) data)->answered == PINHOLE_INSTANCE_MAX_CALLS + 6;
}

/* a caller cannot make the instance hold more than PINHOLE_INSTANCE_MAX_CALLS calls: with
 * the server stopped each Add waits for it; the calls past the bound are refused at once, and
 * the held ones are answered once the server is back */
static void
test_calls_bounded (Fixture      *x,
                    gconstpointer data)
{
  g_autofree char *dir = ph_fixture_profile (&x->f, "alice");
  g_autofree char *name = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GError) error = NULL;
  PhProc *alice = NULL, *bob = NULL;
  Calls calls = { 0 };

  if (!start_pair (x, &alice, &bob))
    return;
  name = pinhole_instance_dup_bus_name (dir);
  /* the test's own connection: a blocking connect is the test's to wait for */
  bus = g_dbus_connection_new_for_address_sync (x->bus->address,
                                                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                NULL, NULL, &error);
  g_assert_no_error (error);
  ph_return_if_failed ();
  signal_server (x, SIGSTOP);
  for (guint i = 0; i < PINHOLE_INSTANCE_MAX_CALLS + 6; i++)
    {
      g_autofree char *user = g_strdup_printf ("carol%u", i);

      g_dbus_connection_call (bus, name, "/org/pinhole/Pinhole", "org.pinhole.Pinhole.Instance",
                              "Add", g_variant_new ("(s)", user), G_VARIANT_TYPE ("(s)"),
                              G_DBUS_CALL_FLAGS_NONE, -1, NULL, add_answered_cb, &calls);
    }
  g_assert_true (ph_iterate_until (refusals_in, &calls, PH_EVENT_MS));
  /* a moment for any further refusal to arrive */
  ph_iterate_for (200);
  g_assert_cmpuint (calls.refused, ==, 6);
  g_assert_cmpuint (calls.answered, ==, 6);
  signal_server (x, SIGCONT);
  g_assert_true (ph_iterate_until (all_answered, &calls, PH_EVENT_MS));
  g_assert_cmpuint (calls.refused, ==, 6);
}

/* a caller whose uid the bus cannot vouch for (here: anonymous, as another user would be
 * on a bus opened to others) is refused, and nothing is sent */
static void
test_unknown_uid_refused (Fixture      *x,
                          gconstpointer data)
{
  PhProc *alice = NULL, *bob = NULL;

  if (x->bus == NULL)
    return;
  ph_return_if_failed ();
  ph_fixture_register (&x->f, "alice");
  ph_fixture_register (&x->f, "bob");
  ph_fixture_contacts (&x->f, "alice", "bob");
  alice = listen_on_bus (x, "alice");
  bob = listen_on_bus (x, "bob");
  ph_return_if_failed ();
  {
    g_autoptr(PhResult) r = cli_on_bus (x, "alice", "send", "bob", "not from alice", NULL);

    g_assert_cmpint (r->status, ==, 1);
    g_assert_cmpstr (r->err, ==, "pinhole-cli: only the user who runs this Pinhole may call "
                                 "it\n");
  }
  assert_logged (alice, "refused a call from");
  g_assert_cmpuint (ph_proc_count (bob, "message"), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/integration/instance/contacts-live-path", test_contacts_live_path);
  ADD ("/integration/instance/commands", test_commands);
  ADD ("/integration/instance/second-listen-refused", test_second_listen_refused);
  ADD ("/integration/instance/without-listen", test_without_listen);
  ADD ("/integration/instance/calls-bounded", test_calls_bounded);
#undef ADD
  g_test_add ("/integration/instance/unknown-uid-refused", Fixture, "anonymous", fixture_setup,
              test_unknown_uid_refused, fixture_teardown);
  return g_test_run ();
}
