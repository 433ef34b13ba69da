/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-contacts.c: loopback tests of contacts with real programs: presence is kept per device
 * (a second device of bob comes and goes on its own), and a declined request leaves no
 * contact on either side. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-fixture.h"

typedef struct
{
  const char *device;
  const char *show;
} PresenceMatch;

static gboolean
presence_match (JsonObject *event,
                gpointer    data)
{
  PresenceMatch *m = data;

  return g_strcmp0 (ph_event_string (event, "event"), "presence") == 0 &&
         g_strcmp0 (ph_event_string (event, "user"), "bob") == 0 &&
         g_strcmp0 (ph_event_string (event, "device"), m->device) == 0 &&
         g_strcmp0 (ph_event_string (event, "show"), m->show) == 0;
}

/* waits for alice's listen to print that bob's @device is @show */
static void
wait_presence (PhProc     *alice,
               const char *device,
               const char *show)
{
  PresenceMatch m = { device, show };
  guint cursor = 0;

  if (ph_proc_wait_event (alice, &cursor, presence_match, &m, PH_EVENT_MS) == NULL)
    g_test_fail_printf ("alice did not see bob's device %s %s", device, show);
}

static guint
count_presence (PhProc     *alice,
                const char *device,
                const char *show)
{
  PresenceMatch m = { device, show };
  guint n = 0;

  for (guint i = 0; i < alice->events->len; i++)
    n += presence_match (g_ptr_array_index (alice->events, i), &m);
  return n;
}

/* what `contacts` on alice's side says of bob: his device count and his best presence */
static void
assert_bob_in_contacts (PhFixture  *f,
                        gint64      devices,
                        const char *show)
{
  g_autoptr(PhResult) r = ph_fixture_cli (f, "alice", "contacts", NULL);
  JsonObject *bob = ph_result_event (r, "contact");

  g_assert_cmpint (r->status, ==, 0);
  g_assert_cmpuint (ph_result_count (r, "contact"), ==, 1);
  g_assert_nonnull (bob);
  if (bob == NULL)
    return;
  g_assert_cmpstr (ph_event_string (bob, "user"), ==, "bob");
  g_assert_cmpint (json_object_get_int_member_with_default (bob, "devices", -1), ==, devices);
  g_assert_cmpstr (ph_event_string (bob, "show"), ==, show);
}

/* bob on two devices: alice sees each one's presence on its own, and bob stays online while
 * either device is */
static void
test_presence_per_device (PhFixture    *f,
                          gconstpointer data)
{
  PhProc *alice, *bob, *bob_laptop;
  g_autofree char *laptop = NULL;
  g_autofree char *desk = NULL;

  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  ph_fixture_register (f, "bob");
  ph_fixture_contacts (f, "alice", "bob");
  laptop = ph_fixture_login (f, "bob-laptop", "bob");
  alice = ph_fixture_listen (f, "alice", "alice");
  bob = ph_fixture_listen (f, "bob", "bob");
  bob_laptop = ph_fixture_listen (f, "bob-laptop", "bob");
  ph_return_if_failed ();
  desk = g_strdup (ph_listen_device (bob));
  g_assert_cmpstr (desk, !=, laptop);

  wait_presence (alice, desk, "online");
  wait_presence (alice, laptop, "online");
  ph_return_if_failed ();
  assert_bob_in_contacts (f, 2, "online");

  g_assert_true (ph_proc_stop (bob));
  wait_presence (alice, desk, "offline");
  ph_return_if_failed ();
  assert_bob_in_contacts (f, 2, "online");
  /* after that round trip through the server, a wrong offline for the laptop would be here */
  g_assert_cmpuint (count_presence (alice, laptop, "offline"), ==, 0);

  g_assert_true (ph_proc_stop (bob_laptop));
  wait_presence (alice, laptop, "offline");
  ph_return_if_failed ();
  assert_bob_in_contacts (f, 2, "offline");
}

/* `send` that the client refuses before anything leaves, with its one line */
static void
assert_send_refused (PhFixture  *f,
                     const char *profile,
                     const char *to,
                     const char *line)
{
  g_autoptr(PhResult) r = ph_fixture_cli (f, profile, "send", to, "hello?", NULL);

  g_assert_cmpint (r->status, ==, 1);
  g_assert_cmpstr (r->err, ==, line);
}

/* bob declines alice's request: neither is the other's contact, alice's running client is
 * told, and neither can message the other */
static void
test_decline (PhFixture    *f,
              gconstpointer data)
{
  PhProc *alice;
  guint cursor = 0;

  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  ph_fixture_register (f, "bob");
  alice = ph_fixture_listen (f, "alice", "alice");
  ph_return_if_failed ();
  {
    g_autoptr(PhResult) r = ph_fixture_cli (f, "alice", "add", "bob", NULL);
    JsonObject *event = ph_result_event (r, "contact");

    g_assert_cmpint (r->status, ==, 0);
    g_assert_nonnull (event);
    if (event != NULL)
      g_assert_cmpstr (ph_event_string (event, "relation"), ==, "requested");
  }
  {
    g_autoptr(PhResult) r = ph_fixture_cli (f, "bob", "decline", "alice", NULL);
    JsonObject *event = ph_result_event (r, "contact");

    g_assert_cmpint (r->status, ==, 0);
    g_assert_nonnull (event);
    if (event != NULL)
      {
        g_assert_cmpstr (ph_event_string (event, "user"), ==, "alice");
        g_assert_cmpstr (ph_event_string (event, "relation"), ==, "none");
      }
  }
  {
    JsonObject *event = ph_proc_wait_named (alice, &cursor, "contact", "user", "bob",
                                            PH_EVENT_MS);

    g_assert_nonnull (event);
    if (event != NULL)
      g_assert_cmpstr (ph_event_string (event, "relation"), ==, "none");
  }
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(PhResult) r = ph_fixture_cli (f, i == 0 ? "alice" : "bob", "contacts", NULL);

      g_assert_cmpint (r->status, ==, 0);
      g_assert_cmpuint (ph_result_count (r, "contact"), ==, 0);
    }
  assert_send_refused (f, "alice", "bob", "pinhole-cli: bob is not your contact\n");
  assert_send_refused (f, "bob", "alice", "pinhole-cli: alice is not your contact\n");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
#define ADD(path, func) \
  g_test_add (path, PhFixture, NULL, ph_fixture_setup, func, ph_fixture_teardown)
  ADD ("/integration/contacts/presence-per-device", test_presence_per_device);
  ADD ("/integration/contacts/decline", test_decline);
#undef ADD
  return g_test_run ();
}
