/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-keys.c: loopback tests of contact key trust with real programs: a contact's device key
 * is trusted on first use, a new one (a re-install: `login` with a fresh profile) is held back
 * until `trust`, as is a changed key of a device already known, `fingerprint USER` shows
 * the keys each device shows of itself, and `verify USER DEVICE` marks one verified. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-fixture.h"

#include <sqlite3.h>

/* runs `send TO TEXT` for @profile and checks its report */
static void
send_ok (PhFixture  *f,
         const char *profile,
         const char *to,
         const char *text,
         gint64      delivered,
         gint64      stored)
{
  g_autoptr(PhResult) r = ph_fixture_cli (f, profile, "send", to, text, NULL);
  JsonObject *sent = ph_result_event (r, "sent");

  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (sent);
  if (sent == NULL)
    return;
  g_assert_cmpint (json_object_get_int_member_with_default (sent, "delivered", -1), ==,
                   delivered);
  g_assert_cmpint (json_object_get_int_member_with_default (sent, "stored", -1), ==, stored);
}

/* waits until @p has printed the message @text */
static void
wait_message (PhProc     *p,
              const char *text)
{
  guint cursor = 0;

  if (ph_proc_wait_named (p, &cursor, "message", "text", text, PH_EVENT_MS) == NULL)
    g_test_fail_printf ("no message \"%s\" arrived", text);
}

/* alice's one-shot send to bob is held before anything leaves, naming the device to trust */
static void
assert_send_held (PhFixture  *f,
                  const char *device)
{
  g_autoptr(PhResult) r = ph_fixture_cli (f, "alice", "send", "bob", "for an unchecked key?",
                                          NULL);
  g_autofree char *refusal = g_strdup_printf ("pinhole-cli: bob has a new or changed device "
                                              "key (device %s): compare fingerprints, then "
                                              "trust it; the message is held until "
                                              "then\n", device);

  g_assert_cmpint (r->status, ==, 1);
  g_assert_cmpstr (r->err, ==, refusal);
  g_assert_cmpuint (ph_result_count (r, "sent"), ==, 0);
}

static void
trust_bob (PhFixture *f)
{
  g_autoptr(PhResult) r = ph_fixture_cli (f, "alice", "trust", "bob", NULL);
  JsonObject *event = ph_result_event (r, "trust");

  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (event);
  if (event != NULL)
    g_assert_cmpstr (ph_event_string (event, "user"), ==, "bob");
}

/* the fingerprint this profile's own device prints */
static char *
own_fingerprint (PhFixture  *f,
                 const char *profile)
{
  g_autoptr(PhResult) r = ph_fixture_cli (f, profile, "fingerprint", NULL);
  JsonObject *event = ph_result_event (r, "fingerprint");

  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (event);
  return event ? g_strdup (ph_event_string (event, "fingerprint")) : NULL;
}

/* the lines `fingerprint USER` prints, "device: fingerprint[ (changed, not trusted)]" */
static GStrv
known_fingerprints (PhFixture  *f,
                    const char *profile,
                    const char *user)
{
  g_autoptr(PhResult) r = ph_fixture_cli (f, profile, "fingerprint", user, NULL);
  g_autoptr(GStrvBuilder) lines = g_strv_builder_new ();

  g_assert_cmpint (r->status, ==, 0);
  for (guint i = 0; i < r->events->len; i++)
    {
      JsonObject *o = g_ptr_array_index (r->events, i);

      g_assert_cmpstr (ph_event_string (o, "event"), ==, "fingerprint");
      g_assert_cmpstr (ph_event_string (o, "user"), ==, user);
      g_strv_builder_add (lines, ph_event_string (o, "fingerprint"));
    }
  return g_strv_builder_end (lines);
}

/* bob re-installs (a new profile, so a new device and key, for the same account): alice's
 * client sends nothing to any of bob's devices and accepts nothing from the new one until she
 * trusts it; her listen warns; after `trust bob` both devices get her messages, and what the
 * new device sent her meanwhile comes at her next log-in */
static void
test_changed_key_held (PhFixture    *f,
                       gconstpointer data)
{
  PhProc *alice, *bob, *bob_new;
  g_autofree char *device = NULL;
  guint cursor = 0;

  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  ph_fixture_register (f, "bob");
  ph_fixture_contacts (f, "alice", "bob");
  alice = ph_fixture_listen (f, "alice", "alice");
  bob = ph_fixture_listen (f, "bob", "bob");
  ph_return_if_failed ();
  /* alice's client records bob's first device key as it encrypts to it */
  send_ok (f, "alice", "bob", "before the re-install", 1, 0);
  wait_message (bob, "before the re-install");

  device = ph_fixture_login (f, "bob-reinstalled", "bob");
  bob_new = ph_fixture_listen (f, "bob-reinstalled", "bob");
  ph_return_if_failed ();
  g_assert_nonnull (ph_proc_wait_named (alice, &cursor, "presence", "device", device,
                                        PH_EVENT_MS));

  assert_send_held (f, device);
  ph_return_if_failed ();

  /* the new device writes first: alice's client refuses its session, and its sealed copy
   * waits on the server, unread */
  send_ok (f, "bob-reinstalled", "alice", "hello from my new phone", 0, 1);
  cursor = 0;
  g_assert_nonnull (ph_proc_wait_named (alice, &cursor, "key-changed", "user", "bob",
                                        PH_EVENT_MS));

  /* trusted (in the profile: this test has no session bus, so no instance): the next client
   * to log in sends the held message to both devices, before the new one */
  trust_bob (f);
  send_ok (f, "alice", "bob", "after the check", 2, 0);
  ph_return_if_failed ();
  wait_message (bob_new, "after the check");
  wait_message (bob, "after the check");
  wait_message (bob_new, "for an unchecked key?");
  wait_message (bob, "for an unchecked key?");
  ph_return_if_failed ();
  g_assert_cmpuint (ph_proc_count (bob_new, "message"), ==, 2);
  g_assert_cmpuint (ph_proc_count (bob, "message"), ==, 3);
  g_assert_cmpuint (ph_proc_count (alice, "message"), ==, 0);

  g_assert_true (ph_proc_stop (alice));
  alice = ph_fixture_listen (f, "alice", "alice");
  ph_return_if_failed ();
  wait_message (alice, "hello from my new phone");
}

/* `fingerprint bob` on alice's side prints, per device, the fingerprint bob's device prints of
 * itself, a new device's marked as not trusted until `trust bob` */
static void
test_fingerprint (PhFixture    *f,
                  gconstpointer data)
{
  g_autofree char *device = NULL;
  g_autofree char *device_new = NULL;
  g_autofree char *fp = NULL;
  g_autofree char *fp_new = NULL;
  g_autofree char *line = NULL;
  g_autofree char *line_new = NULL;
  g_autofree char *line_pending = NULL;

  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  ph_fixture_register (f, "bob");
  ph_fixture_contacts (f, "alice", "bob");
  device = g_strdup (ph_listen_device (ph_fixture_listen (f, "bob", "bob")));
  ph_return_if_failed ();
  fp = own_fingerprint (f, "bob");
  send_ok (f, "alice", "bob", "hello", 1, 0);
  ph_return_if_failed ();
  line = g_strdup_printf ("%s: %s", device, fp);
  {
    g_auto(GStrv) known = known_fingerprints (f, "alice", "bob");
    const char *const expected[] = { line, NULL };

    g_assert_cmpstrv (known, expected);
  }

  device_new = ph_fixture_login (f, "bob-reinstalled", "bob");
  fp_new = own_fingerprint (f, "bob-reinstalled");
  ph_return_if_failed ();
  g_assert_cmpstr (fp_new, !=, fp);
  /* alice's client learns the new key as it refuses to use it */
  assert_send_held (f, device_new);
  line_pending = g_strdup_printf ("%s: %s (changed, not trusted)", device_new, fp_new);
  line_new = g_strdup_printf ("%s: %s", device_new, fp_new);
  {
    g_auto(GStrv) known = known_fingerprints (f, "alice", "bob");
    /* ordered by device */
    gboolean first = g_strcmp0 (device, device_new) < 0;
    const char *const expected[] = { first ? line : line_pending, first ? line_pending : line,
                                     NULL };

    g_assert_cmpstrv (known, expected);
  }
  {
    g_autoptr(PhResult) r = ph_fixture_cli (f, "alice", "trust", "bob", NULL);
    g_auto(GStrv) known = NULL;
    gboolean first = g_strcmp0 (device, device_new) < 0;
    const char *const expected[] = { first ? line : line_new, first ? line_new : line, NULL };

    g_assert_cmpint (r->status, ==, 0);
    known = known_fingerprints (f, "alice", "bob");
    g_assert_cmpstrv (known, expected);
  }
}

/* runs one statement on the SQLite file @path, with the parameters ?1 (a blob), ?2 and ?3
 * (text) where not %NULL; Returns: (transfer full) (nullable): the first row's first column */
static GBytes *
sql_exec (const char *path,
          const char *sql,
          GBytes     *blob1,
          const char *text2,
          const char *text3)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  GBytes *out = NULL;
  int rc;

  rc = sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    {
      if (blob1 != NULL)
        sqlite3_bind_blob (stmt, 1, g_bytes_get_data (blob1, NULL),
                           (int) g_bytes_get_size (blob1), SQLITE_TRANSIENT);
      if (text2 != NULL)
        sqlite3_bind_text (stmt, 2, text2, -1, SQLITE_TRANSIENT);
      if (text3 != NULL)
        sqlite3_bind_text (stmt, 3, text3, -1, SQLITE_TRANSIENT);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        out = g_bytes_new (sqlite3_column_blob (stmt, 0),
                           (gsize) sqlite3_column_bytes (stmt, 0));
      if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        rc = SQLITE_OK;
    }
  if (rc != SQLITE_OK)
    g_test_fail_printf ("%s on %s: %s", sql, path, db ? sqlite3_errmsg (db) : "no memory");
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return out;
}

/* the server (or whoever holds its database) swaps the key of the device of bob's that alice
 * knows for the key of a profile it controls, which then logs in as that device: alice's
 * client holds the key back like a new device's, and uses it only once she trusts it */
static void
test_swapped_key_held (PhFixture    *f,
                       gconstpointer data)
{
  g_autofree char *device = NULL;
  g_autofree char *fp = NULL;
  g_autofree char *fp_new = NULL;
  g_autofree char *logged_in = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *profile_db = NULL;
  g_autoptr(GBytes) key = NULL;
  g_autoptr(GError) error = NULL;
  PhProc *bob;

  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  ph_fixture_register (f, "bob");
  ph_fixture_contacts (f, "alice", "bob");
  bob = ph_fixture_listen (f, "bob", "bob");
  device = g_strdup (ph_listen_device (bob));
  fp = own_fingerprint (f, "bob");
  send_ok (f, "alice", "bob", "to the first key", 1, 0);
  ph_return_if_failed ();
  g_assert_true (ph_proc_stop (bob));

  /* a new key (the public half ends the stored secret) that calls itself the known device */
  fp_new = own_fingerprint (f, "bob-swapped");
  dir = ph_fixture_profile (f, "bob-swapped");
  profile_db = g_build_filename (dir, "profile.db", NULL);
  key = sql_exec (profile_db, "SELECT substr (secret, 33, 32) FROM identity", NULL, NULL, NULL);
  g_assert_null (sql_exec (profile_db, "INSERT OR REPLACE INTO settings (key, value) "
                                      "VALUES ('device', ?2)", NULL, device, NULL));
  ph_return_if_failed ();
  g_assert_cmpuint (key ? g_bytes_get_size (key) : 0, ==, 32);
  g_assert_cmpstr (fp_new, !=, fp);

  g_assert_true (ph_server_stop (f->server, NULL));
  g_assert_null (sql_exec (f->server->db_path, "UPDATE devices SET key = ?1 "
                                              "WHERE user = ?2 AND device = ?3",
                          key, "bob", device));
  ph_server_restart (f->server, &error);
  g_assert_no_error (error);
  logged_in = ph_fixture_login (f, "bob-swapped", "bob");
  g_assert_cmpstr (logged_in, ==, device);
  bob = ph_fixture_listen (f, "bob-swapped", "bob");
  ph_return_if_failed ();

  assert_send_held (f, device);
  ph_return_if_failed ();
  {
    g_autofree char *line = g_strdup_printf ("%s: %s", device, fp);
    g_autofree char *line_pending = g_strdup_printf ("%s: %s (changed, not trusted)", device,
                                                     fp_new);
    g_auto(GStrv) known = known_fingerprints (f, "alice", "bob");
    const char *const expected[] = { line, line_pending, NULL };

    g_assert_cmpstrv (known, expected);
  }
  /* trusted with no client running: the next one to log in sends the held message, and
   * waits for it before it leaves */
  trust_bob (f);
  send_ok (f, "alice", "bob", "to the checked key", 1, 0);
  ph_return_if_failed ();
  wait_message (bob, "to the checked key");
  wait_message (bob, "for an unchecked key?");
  g_assert_cmpuint (ph_proc_count (bob, "message"), ==, 2);
  {
    g_autoptr(PhResult) r = ph_fixture_cli (f, "alice", "history", "bob", NULL);

    g_assert_cmpint (r->status, ==, 0);
    g_assert_cmpuint (ph_result_count (r, "history"), ==, 3);
    for (guint i = 0; i < r->events->len; i++)
      g_assert_cmpstr (ph_event_string (g_ptr_array_index (r->events, i), "state"), ==,
                       "delivered");
  }
}

/* `contacts` says whether alice verified bob's device */
static gboolean
bob_verified (PhFixture *f)
{
  g_autoptr(PhResult) r = ph_fixture_cli (f, "alice", "contacts", NULL);
  JsonObject *contact = ph_result_event (r, "contact");

  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (contact);
  return contact != NULL && json_object_get_boolean_member_with_default (contact, "verified",
                                                                           FALSE);
}

/* `verify bob DEVICE` prints the number bob's device shows of itself and marks the device
 * verified, which `contacts` shows; --off takes the mark away, and an unknown device fails */
static void
test_verify (PhFixture    *f,
             gconstpointer data)
{
  g_autofree char *device = NULL;
  g_autofree char *fp = NULL;

  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  ph_fixture_register (f, "bob");
  ph_fixture_contacts (f, "alice", "bob");
  device = g_strdup (ph_listen_device (ph_fixture_listen (f, "bob", "bob")));
  fp = own_fingerprint (f, "bob");
  send_ok (f, "alice", "bob", "hello", 1, 0);
  ph_return_if_failed ();
  g_assert_false (bob_verified (f));
  {
    g_autoptr(PhResult) r = ph_fixture_cli (f, "alice", "verify", "bob", device, NULL);
    JsonObject *event = ph_result_event (r, "verify");

    g_assert_cmpint (r->status, ==, 0);
    g_assert_nonnull (event);
    if (event != NULL)
      {
        g_assert_cmpstr (ph_event_string (event, "safety_number"), ==, fp);
        g_assert_true (json_object_get_boolean_member (event, "verified"));
      }
  }
  g_assert_true (bob_verified (f));
  {
    g_autoptr(PhResult) r = ph_fixture_cli (f, "alice", "verify", "bob", device, "--off", NULL);

    g_assert_cmpint (r->status, ==, 0);
  }
  g_assert_false (bob_verified (f));
  {
    g_autoptr(PhResult) r = ph_fixture_cli (f, "alice", "verify", "bob", "no-such-device",
                                            NULL);

    g_assert_cmpint (r->status, ==, 1);
    g_assert_cmpstr (r->err, ==, "pinhole-cli: unknown device no-such-device of bob\n");
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
#define ADD(path, func) \
  g_test_add (path, PhFixture, NULL, ph_fixture_setup, func, ph_fixture_teardown)
  ADD ("/integration/keys/changed-key-held", test_changed_key_held);
  ADD ("/integration/keys/swapped-key-held", test_swapped_key_held);
  ADD ("/integration/keys/fingerprint", test_fingerprint);
  ADD ("/integration/keys/verify", test_verify);
#undef ADD
  return g_test_run ();
}
