/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-server-loss.c: the real pinhole-server and pinhole-cli programs in NAT lab namespaces:
 * two users behind port-restricted NATs, each with a running `listen` (the running instance of
 * the profile, on a session bus of the test's own), on a direct path. The server is killed:
 * messages sent through the instances keep flowing both ways, each arriving exactly once; it is
 * started again, both listens log in again, and the same session carries on: no second
 * handshake, no path event, and messages still arrive once. */
#define G_LOG_DOMAIN "pinhole-test"

#include "direct-fixture.h"
#include "pinhole-test-bus.h"

#include <string.h>

#define MESSAGES 5

typedef DirectFixture Fixture;

/* how many "message" events of @p carry @text */
static guint
count_text (PhProc     *p,
            const char *text)
{
  guint n = 0;

  for (guint i = 0; i < p->events->len; i++)
    {
      JsonObject *e = g_ptr_array_index (p->events, i);

      if (g_strcmp0 (ph_event_string (e, "event"), "message") == 0 &&
          g_strcmp0 (ph_event_string (e, "text"), text) == 0)
        n++;
    }
  return n;
}

/* the lines of @p that say a session came up: one per handshake */
static guint
count_handshakes (PhProc *p)
{
  guint n = 0;

  for (guint i = 0; i < p->lines->len; i++)
    if (strstr (g_ptr_array_index (p->lines, i), "established") != NULL &&
        strstr (g_ptr_array_index (p->lines, i), "session with") != NULL)
      n++;
  return n;
}

typedef struct
{
  PhProc     *p;
  const char *text;
} TextWait;

static gboolean
has_text (gpointer data)
{
  TextWait *w = data;

  return count_text (w->p, w->text) >= 1;
}

/* @from sends through its running listen; @to's listen prints it exactly once */
static gboolean
send_once (Fixture    *f,
           const char *from,
           const char *to,
           PhProc     *to_listen,
           const char *text)
{
  g_autoptr(GError) error = NULL;
  TextWait w = { to_listen, text };

  gboolean sent = natlab_pinhole_cli_run (f->ph, from, 0,
                                          (const char *[]) { "send", to, text, NULL }, &error);

  if (!direct_check (sent, error, "send"))
    return FALSE;
  if (!ph_iterate_until (has_text, &w, PH_EVENT_MS))
    {
      g_test_fail_printf ("%s never printed \"%s\"", to, text);
      return FALSE;
    }
  /* a duplicate would come right behind it */
  ph_iterate_for (300);
  g_assert_cmpuint (count_text (to_listen, text), ==, 1);
  return TRUE;
}

static gboolean
send_both_ways (Fixture    *f,
                PhProc     *alice,
                PhProc     *bob,
                const char *phase)
{
  for (guint i = 0; i < MESSAGES; i++)
    {
      g_autofree char *a = g_strdup_printf ("alice %s %u", phase, i);
      g_autofree char *b = g_strdup_printf ("bob %s %u", phase, i);

      if (!send_once (f, "alice", "bob", bob, a) || !send_once (f, "bob", "alice", alice, b))
        return FALSE;
    }
  return TRUE;
}

static void
test_server_loss (Fixture      *f,
                  gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  PhBus *bus = NULL;
  PhProc *alice = NULL, *bob = NULL;
  guint a_cursor = 0, b_cursor = 0, a_paths = 0, b_paths = 0;

  CHECK_LAB (f);
  if (!direct_add_site (f, WEST, NATLAB_NAT_PORT_RESTRICTED) ||
      !direct_add_site (f, EAST, NATLAB_NAT_PORT_RESTRICTED) ||
      !direct_add_user_host (f, WEST, "alice") || !direct_add_user_host (f, EAST, "bob") ||
      !direct_server_start (f, SERVER_PORT) || !direct_make_pair (f, "alice", "bob"))
    return;
  bus = ph_bus_start ();
  if (bus == NULL)
    return;
  /* the instances on the bus, and the session's own words on their standard output */
  f->ph->cli_env = g_strdupv ((char *[]) { bus->env, (char *) "G_MESSAGES_DEBUG=pinhole-session",
                                           NULL });
  alice = direct_listen_start (f, "alice", 0);
  bob = direct_listen_start (f, "bob", 0);
  if (alice == NULL || bob == NULL)
    goto done;

  /* a first message opens the session; the agents move it onto a direct path */
  if (!send_once (f, "alice", "bob", bob, "hello"))
    goto done;
  if (ph_proc_wait_event (alice, &a_cursor, is_direct_event, NULL, DIRECT_MS) == NULL ||
      ph_proc_wait_event (bob, &b_cursor, is_direct_event, NULL, DIRECT_MS) == NULL)
    {
      g_test_fail_printf ("no direct path within %d ms", DIRECT_MS);
      goto done;
    }
  /* let the agents settle on their best pair before the server goes */
  ph_iterate_for (2000);
  a_paths = ph_proc_count (alice, "path");
  b_paths = ph_proc_count (bob, "path");
  g_assert_cmpuint (count_handshakes (alice), ==, 1);
  g_assert_cmpuint (count_handshakes (bob), ==, 1);

  /* the server dies: both see it, and the conversation carries on peer to peer */
  g_assert_true (natlab_pinhole_stop_server (f->ph));
  if (ph_proc_wait_named (alice, &a_cursor, "disconnected", NULL, NULL, PH_EVENT_MS) == NULL ||
      ph_proc_wait_named (bob, &b_cursor, "disconnected", NULL, NULL, PH_EVENT_MS) == NULL)
    {
      g_test_fail_printf ("a listen did not notice the server was gone");
      goto done;
    }
  if (!send_both_ways (f, alice, bob, "without the server"))
    goto done;

  /* it comes back on the same database; the listens log in again by themselves */
  if (!direct_server_start (f, SERVER_PORT))
    goto done;
  if (ph_proc_wait_named (alice, &a_cursor, "online", NULL, NULL, 3 * PH_EVENT_MS) == NULL ||
      ph_proc_wait_named (bob, &b_cursor, "online", NULL, NULL, 3 * PH_EVENT_MS) == NULL)
    {
      g_test_fail_printf ("a listen did not come back online");
      goto done;
    }
  if (!send_both_ways (f, alice, bob, "with the server again"))
    goto done;

  /* the same session all along: one handshake each, and the path never moved */
  g_assert_cmpuint (count_handshakes (alice), ==, 1);
  g_assert_cmpuint (count_handshakes (bob), ==, 1);
  g_assert_cmpuint (ph_proc_count (alice, "path"), ==, a_paths);
  g_assert_cmpuint (ph_proc_count (bob, "path"), ==, b_paths);

done:
  if (g_test_failed ())
    {
      if (alice != NULL)
        direct_log_proc (alice);
      if (bob != NULL)
        direct_log_proc (bob);
    }
  /* the listens go before their bus */
  g_ptr_array_set_size (f->ph->procs, 0);
  g_clear_pointer (&bus, ph_bus_free);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
  g_test_add ("/natlab/server-loss/direct-carries-on", Fixture, NULL, direct_fixture_setup,
              test_server_loss, direct_fixture_teardown);
  return g_test_run ();
}
