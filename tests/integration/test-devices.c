/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-devices.c: an account's devices against the real pinhole-server and pinhole-cli:
 * `devices` lists them, `revoke` logs one out for good (its token no longer works), a device
 * cannot revoke itself, and the server's cap on devices per account. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-fixture.h"

#include <string.h>

static JsonObject *
device_event (PhResult   *r,
              const char *device)
{
  for (guint i = 0; i < r->events->len; i++)
    {
      JsonObject *e = g_ptr_array_index (r->events, i);

      if (g_strcmp0 (ph_event_string (e, "event"), "device") == 0 &&
          g_strcmp0 (ph_event_string (e, "device"), device) == 0)
        return e;
    }
  return NULL;
}

static gboolean
listen_over (gpointer data)
{
  PhProc *p = data;

  return p->exited;
}

/* alice on a desktop and a laptop: the desktop lists both, revokes the laptop, whose running
 * listen is logged out and whose token no longer logs in */
static void
test_list_and_revoke (PhFixture    *f,
                      gconstpointer data)
{
  g_autofree char *desk = NULL, *laptop = NULL;
  g_autoptr(PhResult) list = NULL, revoke = NULL, self = NULL, after = NULL, again = NULL;
  PhProc *listen;
  JsonObject *e;

  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  laptop = ph_fixture_login (f, "alice-laptop", "alice");
  ph_return_if_failed ();
  listen = ph_fixture_listen (f, "alice-laptop", "alice");
  ph_return_if_failed ();

  list = ph_fixture_cli (f, "alice", "devices", NULL);
  g_assert_cmpint (list->status, ==, 0);
  g_assert_cmpuint (list->events->len, ==, 2);
  e = device_event (list, laptop);
  g_assert_nonnull (e);
  g_assert_true (json_object_get_boolean_member (e, "online"));
  g_assert_false (json_object_get_boolean_member (e, "this"));
  for (guint i = 0; i < list->events->len; i++)
    {
      JsonObject *d = g_ptr_array_index (list->events, i);

      if (json_object_get_boolean_member (d, "this"))
        desk = g_strdup (ph_event_string (d, "device"));
    }
  g_assert_nonnull (desk);
  g_assert_cmpstr (desk, !=, laptop);

  /* a device does not revoke itself */
  self = ph_fixture_cli (f, "alice", "revoke", desk, NULL);
  g_assert_cmpint (self->status, ==, 1);
  g_assert_nonnull (strstr (self->err, "the device you are using"));

  revoke = ph_fixture_cli (f, "alice", "revoke", laptop, NULL);
  g_assert_cmpint (revoke->status, ==, 0);
  ph_assert_result_event (revoke, "revoked", "device", laptop);

  /* the laptop's listen is logged out; without the password it cannot come back */
  g_assert_true (ph_iterate_until (listen_over, listen, PH_EVENT_MS));
  g_test_message ("the revoked listen: status %d: %s", listen->status, listen->err_text->str);
  g_assert_cmpint (listen->status, ==, 1);
  again = ph_fixture_cli (f, "alice-laptop", "contacts", NULL);
  g_assert_cmpint (again->status, ==, 1);
  g_assert_nonnull (strstr (again->err, "password"));

  after = ph_fixture_cli (f, "alice", "devices", NULL);
  g_assert_cmpint (after->status, ==, 0);
  g_assert_cmpuint (after->events->len, ==, 1);
  g_assert_null (device_event (after, laptop));
  g_assert_nonnull (device_event (after, desk));

  /* revoking what is not there says so */
  {
    g_autoptr(PhResult) twice = ph_fixture_cli (f, "alice", "revoke", laptop, NULL);

    g_assert_cmpint (twice->status, ==, 1);
    g_assert_nonnull (strstr (twice->err, "has no device"));
  }
}

/* --max-devices 2: a third device of the account is refused, with the way out in the error,
 * and gets in once another is revoked */
static void
test_device_cap (PhFixture    *f,
                 gconstpointer data)
{
  const char *args[] = { "--max-devices", "2", NULL };
  g_autofree char *password = ph_password_of ("alice");
  g_autofree char *second = NULL;
  const char *login[] = { "login", "alice", NULL };
  g_autoptr(PhResult) third = NULL, revoke = NULL, retry = NULL;

  if (!ph_fixture_start_server (f, args))
    return;
  ph_fixture_register (f, "alice");
  second = ph_fixture_login (f, "alice-2", "alice");
  ph_return_if_failed ();
  third = ph_fixture_cli_with (f, "alice-3", f->server->url, password, NULL, login);
  g_assert_cmpint (third->status, ==, 1);
  g_assert_nonnull (strstr (third->err, "has 2 devices already"));
  g_assert_nonnull (strstr (third->err, "pinhole-cli revoke"));

  revoke = ph_fixture_cli (f, "alice", "revoke", second, NULL);
  g_assert_cmpint (revoke->status, ==, 0);
  retry = ph_fixture_cli_with (f, "alice-3", f->server->url, password, NULL, login);
  g_assert_cmpint (retry->status, ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/integration/devices/list-and-revoke", PhFixture, NULL, ph_fixture_setup,
              test_list_and_revoke, ph_fixture_teardown);
  g_test_add ("/integration/devices/cap", PhFixture, NULL, ph_fixture_setup_bare,
              test_device_cap, ph_fixture_teardown);
  return g_test_run ();
}
