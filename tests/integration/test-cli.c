/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-cli.c: pinhole-cli as people type it, against a real pinhole-server on loopback: the
 * global options after the command, a server URL without its path, and the JSON events'
 * names (README.md, "pinhole-cli"). */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-fixture.h"

#include <string.h>

/* the harness adds no --server, --profile or --json: the arguments say where they go */
static const PhCliOptions as_typed = { NULL, TRUE };

/* `pinhole-cli ARGS…` exactly as given, with @user's password */
static PhResult *
run (const char        *user,
     const char *const *args)
{
  g_autofree char *password = ph_password_of (user);

  return ph_cli_run_with (NULL, NULL, password, &as_typed, NULL, args);
}

static const char *
str_member (JsonObject *o,
            const char *member)
{
  return json_object_get_string_member_with_default (o, member, NULL);
}

/* Returns: (transfer none) (nullable): the first @event of @r */
static JsonObject *
first_event (PhResult   *r,
             const char *event)
{
  for (guint i = 0; i < r->events->len; i++)
    if (g_strcmp0 (str_member (g_ptr_array_index (r->events, i), "event"), event) == 0)
      return g_ptr_array_index (r->events, i);
  return NULL;
}

/* asserts that @r succeeded and printed {"event": "registered", "user": @user} */
static void
assert_registered (PhResult   *r,
                   const char *user)
{
  JsonObject *event = first_event (r, "registered");

  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (event);
  if (event != NULL)
    g_assert_cmpstr (str_member (event, "user"), ==, user);
}

/* registers @user with the global options before the command, as the harness does */
static void
register_user (PhFixture  *f,
               const char *user)
{
  g_autofree char *dir = ph_fixture_profile (f, user);
  const char *args[] = { "--server", f->server->url, "--profile", dir, "--json", "register", user,
                         NULL };
  g_autoptr(PhResult) r = run (user, args);

  assert_registered (r, user);
}

static void
contact_command (PhFixture  *f,
                 const char *user,
                 const char *verb,
                 const char *other)
{
  g_autofree char *dir = ph_fixture_profile (f, user);
  const char *args[] = { "--profile", dir, "--json", verb, other, NULL };
  g_autoptr(PhResult) r = run (user, args);

  g_assert_cmpint (r->status, ==, 0);
}

static void
make_contacts (PhFixture *f)
{
  register_user (f, "alice");
  register_user (f, "bob");
  contact_command (f, "alice", "add", "bob");
  contact_command (f, "bob", "accept", "alice");
}

/* starts `pinhole-cli ARGS…` (a listen of @user) and waits for its JSON "online" event */
static PhProc *
listen_start (PhFixture         *f,
              const char        *user,
              const char *const *args)
{
  PhProc *p = ph_cli_spawn_with (NULL, NULL, NULL, &as_typed, FALSE, args);
  guint cursor = 0;

  if (p == NULL)
    return NULL;
  g_ptr_array_add (f->procs, p);
  if (ph_proc_wait_named (p, &cursor, "online", "user", user, PH_EVENT_MS) == NULL)
    g_test_fail_printf ("%s's listen printed no JSON \"online\" event: %s", user,
                        p->err_text->str);
  return p;
}

/* `listen --json` and `--json listen` both print JSON events, and a listen stopped by
 * SIGTERM exits with 0 */
static void
test_json_either_side (PhFixture    *f,
                       gconstpointer data)
{
  g_autofree char *dir = ph_fixture_profile (f, "alice");
  const char *after[] = { "--profile", dir, "listen", "--json", NULL };
  const char *before[] = { "--profile", dir, "--json", "listen", NULL };
  PhProc *p;

  ph_return_if_failed ();
  register_user (f, "alice");
  ph_return_if_failed ();
  p = listen_start (f, "alice", after);
  ph_return_if_failed ();
  g_assert_true (ph_proc_stop (p));
  g_assert_cmpint (p->status, ==, 0);
  p = listen_start (f, "alice", before);
  ph_return_if_failed ();
  g_assert_true (ph_proc_stop (p));
  g_assert_cmpint (p->status, ==, 0);
}

/* every global option may follow the command, and one given after it wins */
static void
test_globals_after_command (PhFixture    *f,
                            gconstpointer data)
{
  g_autofree char *alice = ph_fixture_profile (f, "alice");
  g_autofree char *bob = ph_fixture_profile (f, "bob");
  g_autofree char *ca_file = g_build_filename (f->home, "no-such-ca.pem", NULL);
  const char *all_after[] = { "register", "alice", "--server", f->server->url,
                              "--profile", alice, "--json", NULL };
  /* nothing listens on port 1 of this machine */
  const char *overridden[] = { "--server", "ws://127.0.0.1:1/pinhole", "--profile", bob,
                               "register", "bob", "--json", "--server", f->server->url, NULL };
  const char *ca_after[] = { "--profile", alice, "contacts", "--ca-file", ca_file, NULL };
  g_autoptr(PhResult) r1 = NULL;
  g_autoptr(PhResult) r2 = NULL;
  g_autoptr(PhResult) r3 = NULL;

  ph_return_if_failed ();
  r1 = run ("alice", all_after);
  assert_registered (r1, "alice");
  r2 = run ("bob", overridden);
  assert_registered (r2, "bob");
  /* taken as the CA file (and refused: it does not exist), not as an unknown option */
  r3 = run ("alice", ca_after);
  g_assert_cmpint (r3->status, ==, 1);
  g_assert_nonnull (strstr (r3->err, ca_file));
}

/* after `--`, an argument that looks like a global option is the command's: here the text */
static void
test_double_dash_ends_options (PhFixture    *f,
                               gconstpointer data)
{
  g_autofree char *alice = ph_fixture_profile (f, "alice");
  const char *send[] = { "--profile", alice, "--json", "send", "bob", "--", "--json", NULL };
  const char *history[] = { "--profile", alice, "history", "bob", "--json", NULL };
  g_autoptr(PhResult) sent = NULL;
  g_autoptr(PhResult) shown = NULL;
  JsonObject *event;

  ph_return_if_failed ();
  make_contacts (f);
  ph_return_if_failed ();
  sent = run ("alice", send);
  g_assert_cmpint (sent->status, ==, 0);
  g_assert_nonnull (first_event (sent, "sent"));
  shown = run ("alice", history);
  g_assert_cmpint (shown->status, ==, 0);
  g_assert_cmpuint (ph_result_count (shown, "history"), ==, 1);
  event = first_event (shown, "history");
  g_assert_nonnull (event);
  if (event != NULL)
    g_assert_cmpstr (str_member (event, "text"), ==, "--json");
}

/* `ws://127.0.0.1:PORT` and `ws://127.0.0.1:PORT/` mean the server's /pinhole endpoint, and
 * the profile keeps an address that works */
static void
test_server_url_without_path (PhFixture    *f,
                              gconstpointer data)
{
  g_autofree char *alice = ph_fixture_profile (f, "alice");
  g_autofree char *bob = ph_fixture_profile (f, "bob");
  g_autofree char *bare = g_strdup_printf ("ws://127.0.0.1:%u", f->server->port);
  g_autofree char *slash = g_strdup_printf ("ws://127.0.0.1:%u/", f->server->port);
  const char *reg_alice[] = { "--server", bare, "--profile", alice, "--json", "register",
                              "alice", NULL };
  const char *reg_bob[] = { "--server", slash, "--profile", bob, "--json", "register", "bob",
                            NULL };
  const char *add[] = { "--profile", alice, "--json", "add", "bob", NULL };
  g_autoptr(PhResult) r1 = NULL;
  g_autoptr(PhResult) r2 = NULL;
  g_autoptr(PhResult) r3 = NULL;

  ph_return_if_failed ();
  r1 = run ("alice", reg_alice);
  assert_registered (r1, "alice");
  r2 = run ("bob", reg_bob);
  assert_registered (r2, "bob");
  /* without --server: the address the profile remembered from register */
  r3 = run ("alice", add);
  g_assert_cmpint (r3->status, ==, 0);
  g_assert_nonnull (first_event (r3, "contact"));
}

/* a URL with a path of its own is used as given: here a path the server does not serve */
static void
test_server_url_path_kept (PhFixture    *f,
                           gconstpointer data)
{
  g_autofree char *dir = ph_fixture_profile (f, "alice");
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/elsewhere", f->server->port);
  const char *args[] = { "--server", url, "--profile", dir, "--json", "register", "alice",
                         NULL };
  g_autoptr(PhResult) r = NULL;

  ph_return_if_failed ();
  r = run ("alice", args);
  g_assert_cmpint (r->status, ==, 1);
  g_assert_nonnull (strstr (r->err, url));
  g_assert_null (first_event (r, "registered"));
}

/* asserts that @event is a "path" event naming @user as "user" and as "contact" */
static void
assert_path_event (JsonObject *event,
                   const char *user)
{
  g_assert_cmpstr (str_member (event, "event"), ==, "path");
  g_assert_cmpstr (str_member (event, "user"), ==, user);
  g_assert_cmpstr (str_member (event, "contact"), ==, user);
}

/* the path events of `path` and of `listen` name the contact "user", and "contact" too */
static void
test_path_event_user (PhFixture    *f,
                      gconstpointer data)
{
  g_autofree char *alice = ph_fixture_profile (f, "alice");
  g_autofree char *bob = ph_fixture_profile (f, "bob");
  const char *listen[] = { "--profile", bob, "--json", "listen", NULL };
  const char *path[] = { "--profile", alice, "--json", "path", "bob", "--count", "1", NULL };
  g_autoptr(PhResult) r = NULL;
  JsonObject *event;
  PhProc *p;
  guint cursor = 0;

  ph_return_if_failed ();
  make_contacts (f);
  p = listen_start (f, "bob", listen);
  ph_return_if_failed ();
  r = run ("alice", path);
  g_assert_cmpint (r->status, ==, 0);
  g_assert_cmpuint (ph_result_count (r, "path"), ==, 1);
  for (guint i = 0; i < r->events->len; i++)
    if (g_strcmp0 (str_member (g_ptr_array_index (r->events, i), "event"), "path") == 0)
      assert_path_event (g_ptr_array_index (r->events, i), "bob");
  /* bob's side of the same session */
  event = ph_proc_wait_named (p, &cursor, "path", NULL, NULL, PH_EVENT_MS);
  g_assert_nonnull (event);
  if (event != NULL)
    assert_path_event (event, "alice");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  /* a failed check ends its test through the fixture's teardown, which stops every process */
  g_test_set_nonfatal_assertions ();

#define ADD(path, func) \
  g_test_add (path, PhFixture, NULL, ph_fixture_setup, func, ph_fixture_teardown)
  ADD ("/integration/cli/json-either-side", test_json_either_side);
  ADD ("/integration/cli/globals-after-command", test_globals_after_command);
  ADD ("/integration/cli/double-dash-ends-options", test_double_dash_ends_options);
  ADD ("/integration/cli/server-url-without-path", test_server_url_without_path);
  ADD ("/integration/cli/server-url-path-kept", test_server_url_path_kept);
  ADD ("/integration/cli/path-event-user", test_path_event_user);
#undef ADD

  return g_test_run ();
}
