/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-chat-devices.c: loopback tests of one device's connections: a one-shot command beside
 * a running listen of the same profile, a second listen refused, and the presence a listen
 * learns when it starts. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-fixture.h"

#include <string.h>

static int
run (PhFixture  *f,
     const char *user,
     gboolean    with_password,
     const char *arg1,
     const char *arg2,
     const char *arg3)
{
  g_autofree char *dir = ph_fixture_profile (f, user);
  g_autofree char *password = ph_password_of (user);
  const char *args[] = { arg1, arg2, arg3, NULL };
  g_autoptr(PhResult) r = ph_cli_run (f->server->url, dir, with_password ? password : NULL, NULL,
                                      args);

  return r->status;
}

static void
setup_pair (PhFixture *f)
{
  g_assert_cmpint (run (f, "alice", TRUE, "register", "alice", NULL), ==, 0);
  g_assert_cmpint (run (f, "bob", TRUE, "register", "bob", NULL), ==, 0);
  g_assert_cmpint (run (f, "alice", FALSE, "add", "bob", NULL), ==, 0);
  g_assert_cmpint (run (f, "bob", FALSE, "accept", "alice", NULL), ==, 0);
}

static PhProc *
listen_start (PhFixture  *f,
              const char *user)
{
  g_autofree char *dir = ph_fixture_profile (f, user);
  const char *args[] = { "listen", NULL };
  PhProc *p = ph_cli_spawn (NULL, dir, NULL, FALSE, args);
  guint cursor = 0;

  if (p == NULL)
    return NULL;
  g_ptr_array_add (f->procs, p);
  g_assert_nonnull (ph_proc_wait_named (p, &cursor, "online", "user", user, PH_EVENT_MS));
  return p;
}

/* a one-shot command (contacts, send, accept…) run with the profile a listen is using logs in
 * as the same device without announcing it: the listen's connection must stay the device's,
 * online, and keep receiving live */
static void
test_own_command_keeps_listen (PhFixture    *f,
                               gconstpointer data)
{
  PhProc *bob;
  guint cursor = 0;

  ph_return_if_failed ();
  setup_pair (f);
  bob = listen_start (f, "bob");
  ph_return_if_failed ();
  g_assert_cmpint (run (f, "bob", FALSE, "contacts", NULL, NULL), ==, 0);
  g_assert_cmpint (run (f, "alice", FALSE, "send", "bob", "are you still there?"), ==, 0);
  g_assert_nonnull (ph_proc_wait_named (bob, &cursor, "message", "text",
                                        "are you still there?", PH_EVENT_MS));
  g_assert_cmpuint (ph_proc_count (bob, "disconnected"), ==, 0);
}

/* one running listen per profile: a second one says who holds the profile and leaves the
 * first alone; the profile is free again once its holder is gone, even when it was killed */
static void
test_second_listen_refused (PhFixture    *f,
                            gconstpointer data)
{
  g_autofree char *dir = ph_fixture_profile (f, "bob");
  g_autofree char *expected = NULL;
  const char *args[] = { "listen", NULL };
  PhProc *bob;
  guint cursor = 0;

  ph_return_if_failed ();
  setup_pair (f);
  bob = listen_start (f, "bob");
  ph_return_if_failed ();
  {
    g_autoptr(PhResult) r = ph_cli_run (NULL, dir, NULL, NULL, args);

    expected = g_strdup_printf ("pinhole-cli: the profile %s is in use by another Pinhole "
                                "(process %s)\n", dir, ph_proc_get_pid (bob));
    g_assert_cmpint (r->status, ==, 1);
    g_assert_cmpstr (r->err, ==, expected);
    g_assert_cmpuint (ph_result_count (r, "online"), ==, 0);
  }
  /* the first listen kept its connection */
  g_assert_cmpint (run (f, "alice", FALSE, "send", "bob", "still yours?"), ==, 0);
  g_assert_nonnull (ph_proc_wait_named (bob, &cursor, "message", "text", "still yours?",
                                        PH_EVENT_MS));
  g_assert_cmpuint (ph_proc_count (bob, "disconnected"), ==, 0);

  /* the kernel drops the lock of a killed holder */
  ph_proc_kill (bob);
  bob = listen_start (f, "bob");
  g_assert_nonnull (bob);
}

/* a listen that starts while a contact is online prints that contact's presence, although
 * the server pushes it before the client has fetched its roster */
static void
test_listen_reports_online_contacts (PhFixture    *f,
                                     gconstpointer data)
{
  PhProc *bob;
  guint cursor = 0;

  ph_return_if_failed ();
  setup_pair (f);
  listen_start (f, "alice");
  bob = listen_start (f, "bob");
  ph_return_if_failed ();
  g_assert_nonnull (ph_proc_wait_named (bob, &cursor, "presence", "user", "alice",
                                        PH_EVENT_MS));
  ph_return_if_failed ();
  /* alice has been online all along: the first word about her is that she is online */
  g_assert_cmpstr (json_object_get_string_member_with_default (
                     g_ptr_array_index (bob->events, cursor - 1), "show", NULL), ==, "online");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
  g_test_add ("/integration/chat/own-command-keeps-listen", PhFixture, NULL,
              ph_fixture_setup, test_own_command_keeps_listen, ph_fixture_teardown);
  g_test_add ("/integration/chat/second-listen-refused", PhFixture, NULL,
              ph_fixture_setup, test_second_listen_refused, ph_fixture_teardown);
  g_test_add ("/integration/chat/listen-reports-online-contacts", PhFixture, NULL,
              ph_fixture_setup, test_listen_reports_online_contacts, ph_fixture_teardown);
  return g_test_run ();
}
