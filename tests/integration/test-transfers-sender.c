/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-transfers-sender.c: the sender's side of docs/transfer.md §8 with the real programs on
 * loopback: alice's send-file killed mid-transfer (SIGKILL by PID) and her profile taken up
 * again by `listen`, which sends only the blocks bob lacks (her own count of the bytes she
 * put on the wire says so); an offer made while bob is offline, delivered after alice
 * restarted, when bob comes online; bob's two devices, the first accept winning and the
 * other told `taken`; a source file changed since the offer, failed with its sentence; a
 * one-shot cancel by the restarted sender, after which bob's partial is gone; an offer
 * nobody answered for 7 days expires. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-bus.h"
#include "pinhole-test-fixture.h"
#include "pinhole-test-transfer.h"
#include "pinhole-test-transfers.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <utime.h>

#define MIB (1024 * 1024)

typedef struct
{
  PhFixture  f;
  char      *inbox;
  char      *inbox2;
  char      *outbox;
  PhBus     *bus;      /* for the test of two devices: each answers through its instance */
} Fixture;

static const char *debug_env[] = { "G_MESSAGES_DEBUG=pinhole-transfer,pinhole-device", NULL };
static const PhCliOptions debug = { debug_env, FALSE };

static void
fixture_set_up (Fixture       *x,
                gconstpointer  data)
{
  ph_fixture_setup (&x->f, data);
  x->inbox = g_build_filename (x->f.home, "inbox", NULL);
  x->inbox2 = g_build_filename (x->f.home, "inbox2", NULL);
  x->outbox = g_build_filename (x->f.home, "outbox", NULL);
  g_assert_cmpint (g_mkdir (x->inbox, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (x->inbox2, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (x->outbox, 0755), ==, 0);
  ph_fixture_register (&x->f, "alice");
  ph_fixture_register (&x->f, "bob");
  /* bob's second device, before alice first sees bob's devices (so she trusts both) */
  if (data != NULL)
    {
      g_free (ph_fixture_login (&x->f, "bob-laptop", "bob"));
      x->bus = ph_bus_start ();
    }
  ph_fixture_contacts (&x->f, "alice", "bob");
  if (data != NULL)
    {
      /* alice meets bob's two devices (a further device's key waits for her word), then
       * trusts the laptop after comparing its safety number */
      g_autoptr(PhResult) hello = ph_fixture_cli (&x->f, "alice", "send", "bob", "hello", NULL);
      g_autoptr(PhResult) r = ph_fixture_cli (&x->f, "alice", "trust", "bob", NULL);

      g_assert_cmpint (r->status, ==, 0);
    }
}

static void
fixture_tear_down (Fixture       *x,
                   gconstpointer  data)
{
  ph_fixture_teardown (&x->f, data);
  g_clear_pointer (&x->bus, ph_bus_free);
  g_free (x->inbox);
  g_free (x->inbox2);
  g_free (x->outbox);
}

/* the debug lines of @procs, when a wait failed */
static void
dump (PhProc *a,
      PhProc *b)
{
  PhProc *procs[] = { a, b };

  for (guint j = 0; j < G_N_ELEMENTS (procs); j++)
    for (guint i = 0; procs[j] != NULL && i < procs[j]->lines->len; i++)
      g_printerr ("%s: %s\n", procs[j]->name, (char *) procs[j]->lines->pdata[i]);
}

/* alice's send-file of @name (@total bytes) to bob, killed once bob verified @past bytes;
 * Returns: the transfer's id */
static char *
send_and_kill (Fixture    *x,
               const char *name,
               gsize       total,
               gint64      past)
{
  g_autofree char *path = g_build_filename (x->outbox, name, NULL);
  const char *args[] = { "send-file", "bob", path, NULL };
  PhProc *alice;
  JsonObject *progress;
  guint cursor = 0;

  ph_test_write_file (x->outbox, name, total, 5);
  alice = ph_fixture_spawn (&x->f, "alice", &debug, args);
  progress = ph_proc_wait_event (alice, &cursor, ph_transfer_progress_past, &past, 30000);
  if (progress == NULL)
    {
      dump (alice, NULL);
      g_test_fail_printf ("no progress past %" G_GINT64_FORMAT " bytes", past);
      return NULL;
    }
  /* at once, without a word: nothing is saved on the way out */
  ph_proc_kill (alice);
  return g_strdup (ph_event_string (progress, "id"));
}

static void
test_sender_restarts (Fixture       *x,
                      gconstpointer  data)
{
  const gsize total = 256 * MIB + 777;
  g_autofree char *src = g_build_filename (x->outbox, "video.mkv", NULL);
  g_autofree char *dst = g_build_filename (x->inbox, "video.mkv", NULL);
  g_autofree char *id = NULL;
  PhProc *bob, *alice;
  JsonObject *run, *done;
  guint cursor = 0, bob_cursor = 0;
  gint64 missing, sent;

  ph_return_if_failed ();
  bob = ph_transfer_listen (&x->f, "bob", NULL, x->inbox);
  id = send_and_kill (x, "video.mkv", total, 8 * MIB);
  ph_return_if_failed ();

  /* the profile kept it: the new run takes it up and bob's haves say what is left */
  alice = ph_transfer_listen (&x->f, "alice", NULL, NULL);
  g_assert_nonnull (ph_proc_wait_named (alice, &cursor, "resumed", "id", id, PH_EVENT_MS));
  run = ph_proc_wait_named (alice, &cursor, "run", "id", id, 30000);
  done = ph_proc_wait_named (alice, &cursor, "done", "id", id, 60000);
  if (run == NULL || done == NULL)
    {
      dump (alice, bob);
      g_test_fail_printf ("the restarted sender did not finish %s", id);
      return;
    }
  g_assert_nonnull (ph_proc_wait_named (bob, &bob_cursor, "done", "id", id, PH_EVENT_MS));
  ph_test_assert_same_file (src, dst);
  missing = json_object_get_int_member (run, "missing");
  sent = json_object_get_int_member (done, "sent");
  g_test_message ("bob held %" G_GINT64_FORMAT " of %" G_GSIZE_FORMAT " bytes when alice came "
                  "back; she sent %" G_GINT64_FORMAT, (gint64) total - missing, total, sent);
  /* bob held at least what he had verified when alice died, and only the rest went */
  g_assert_cmpint (json_object_get_int_member (run, "sent"), ==, 0);
  g_assert_cmpint (missing, <=, (gint64) total - 8 * MIB);
  g_assert_cmpint (missing, >, 0);   /* else alice died too late for this test */
  g_assert_cmpint (sent, ==, missing);
}

static void
test_offline_offer (Fixture       *x,
                    gconstpointer  data)
{
  g_autofree char *src = g_build_filename (x->outbox, "notes.txt", NULL);
  g_autofree char *dst = g_build_filename (x->inbox, "notes.txt", NULL);
  g_autoptr(PhResult) r = NULL;
  const char *id;
  PhProc *alice, *bob;
  guint cursor = 0, bob_cursor = 0;

  ph_return_if_failed ();
  ph_test_write_file (x->outbox, "notes.txt", 300 * 1024 + 3, 1);
  /* bob has no device online: the offer waits in alice's profile */
  r = ph_fixture_cli (&x->f, "alice", "send-file", "bob", src, NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (ph_result_event (r, "waiting"));
  id = ph_event_string (ph_result_event (r, "waiting"), "id");
  g_assert_nonnull (id);

  /* alice starts again (another process), then bob comes online */
  alice = ph_transfer_listen (&x->f, "alice", NULL, NULL);
  g_assert_nonnull (ph_proc_wait_named (alice, &cursor, "resumed", "id", id, PH_EVENT_MS));
  bob = ph_transfer_listen (&x->f, "bob", NULL, x->inbox);
  if (ph_proc_wait_named (bob, &bob_cursor, "offer", "id", id, 20000) == NULL ||
      ph_proc_wait_named (bob, &bob_cursor, "done", "id", id, 20000) == NULL ||
      ph_proc_wait_named (alice, &cursor, "done", "id", id, 20000) == NULL)
    {
      dump (alice, bob);
      g_test_fail_printf ("the offer that waited was not delivered");
      return;
    }
  ph_test_assert_same_file (src, dst);
}

/* `pinhole-cli --json ARGS… NULL` for @profile, on the test's bus */
#define cli_on_bus(x, profile, ...) \
  ph_fixture_cli_options (&(x)->f, (profile), &(PhCliOptions) { (const char *const[]) { \
                            (x)->bus->env, NULL }, FALSE }, __VA_ARGS__)

static void
test_first_accept_wins (Fixture       *x,
                        gconstpointer  data)
{
  g_autofree char *src = g_build_filename (x->outbox, "photo.jpg", NULL);
  g_autofree char *dst = g_build_filename (x->inbox2, "photo.jpg", NULL);
  const char *args[] = { "send-file", "bob", src, NULL };
  g_autoptr(PhResult) accepted = NULL;
  g_autoptr(PhResult) late = NULL;
  PhProc *phone, *laptop, *alice;
  JsonObject *offer, *failed;
  guint phone_cursor = 0, laptop_cursor = 0;
  const char *id;

  ph_return_if_failed ();
  ph_test_write_file (x->outbox, "photo.jpg", 2 * MIB + 99, 2);
  phone = ph_transfer_listen (&x->f, "bob", x->bus->env, NULL);
  laptop = ph_transfer_listen (&x->f, "bob-laptop", x->bus->env, NULL);
  alice = ph_fixture_spawn (&x->f, "alice", &debug, args);
  /* the offer goes to both of bob's devices */
  offer = ph_proc_wait_named (laptop, &laptop_cursor, "offer", NULL, NULL, PH_EVENT_MS);
  if (offer == NULL ||
      ph_proc_wait_named (phone, &phone_cursor, "offer", NULL, NULL, PH_EVENT_MS) == NULL)
    {
      dump (alice, phone);
      g_test_fail_printf ("the offer did not reach both devices");
      return;
    }
  id = ph_event_string (offer, "id");
  /* the laptop answers first, through its running instance */
  accepted = cli_on_bus (x, "bob-laptop", "accept", id, "--to", x->inbox2, NULL);
  g_assert_cmpint (accepted->status, ==, 0);
  g_assert_nonnull (ph_result_event (accepted, "done"));
  g_assert_true (ph_proc_wait (alice, 30000));
  g_assert_cmpint (alice->status, ==, 0);
  ph_test_assert_same_file (src, dst);
  /* the phone learns that the laptop took it, and can no longer accept it */
  failed = ph_proc_wait_named (phone, &phone_cursor, "failed", "id", id, PH_EVENT_MS);
  if (failed == NULL)
    {
      dump (alice, phone);
      g_test_fail_printf ("the other device was not told the transfer was taken");
      return;
    }
  g_assert_nonnull (strstr (ph_event_string (failed, "reason"), "another device"));
  late = cli_on_bus (x, "bob", "accept", id, "--to", x->inbox, NULL);
  g_assert_cmpint (late->status, ==, 1);
  g_assert_nonnull (strstr (late->err, "is over (failed)"));
  g_assert_cmpuint (ph_test_count_partials (x->inbox), ==, 0);
  (void) laptop;
}

static void
test_changed_source (Fixture       *x,
                     gconstpointer  data)
{
  g_autofree char *src = g_build_filename (x->outbox, "beach.jpg", NULL);
  g_autofree char *id = NULL;
  struct utimbuf times = { 1000000000, 1000000000 };
  PhProc *bob, *alice;
  JsonObject *failed;
  guint cursor = 0, bob_cursor = 0;

  ph_return_if_failed ();
  bob = ph_transfer_listen (&x->f, "bob", NULL, x->inbox);
  id = send_and_kill (x, "beach.jpg", 256 * MIB + 1, 4 * MIB);
  ph_return_if_failed ();
  /* the file changes while alice is away: same size, another mtime */
  g_assert_cmpint (utime (src, &times), ==, 0);
  alice = ph_transfer_listen (&x->f, "alice", NULL, NULL);
  failed = ph_proc_wait_named (alice, &cursor, "failed", "id", id, 30000);
  if (failed == NULL)
    {
      dump (alice, bob);
      g_test_fail_printf ("a changed source was not refused");
      return;
    }
  g_assert_cmpstr (ph_event_string (failed, "reason"), ==,
                   "beach.jpg changed since it was offered");
  failed = ph_proc_wait_named (bob, &bob_cursor, "failed", "id", id, PH_EVENT_MS);
  g_assert_nonnull (failed);
  g_assert_cmpstr (ph_event_string (failed, "reason"), ==,
                   "beach.jpg changed since it was offered");
}

static void
test_sender_cancels (Fixture       *x,
                     gconstpointer  data)
{
  g_autofree char *id = NULL;
  g_autoptr(PhResult) r = NULL;
  g_autoptr(PhResult) again = NULL;
  PhProc *bob;
  guint bob_cursor = 0;

  ph_return_if_failed ();
  bob = ph_transfer_listen (&x->f, "bob", NULL, x->inbox);
  id = send_and_kill (x, "big.iso", 256 * MIB, 4 * MIB);
  ph_return_if_failed ();
  g_assert_cmpuint (ph_test_count_partials (x->inbox), ==, 1);
  /* a one-shot on alice's profile: logs in, waits for bob's session, cancels, exits */
  r = ph_fixture_cli_options (&x->f, "alice", &debug, "cancel", id, NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (ph_result_event (r, "cancelled"));
  g_assert_nonnull (ph_proc_wait_named (bob, &bob_cursor, "cancelled", "id", id, PH_EVENT_MS));
  g_assert_true (ph_iterate_until (ph_transfer_no_partials, x->inbox, PH_EVENT_MS));
  /* it is over and forgotten: a second cancel names no transfer */
  again = ph_fixture_cli (&x->f, "alice", "cancel", id, NULL);
  g_assert_cmpint (again->status, ==, 1);
  g_assert_nonnull (strstr (again->err, "no transfer"));
}

/* the offer was made 8 days ago: ages the record in alice's profile (the clock of a test
 * cannot wait a week) */
static void
age_offer (Fixture    *x,
           const char *profile,
           const char *id)
{
  g_autofree char *dir = ph_fixture_profile (&x->f, profile);
  g_autofree char *path = g_build_filename (dir, "profile.db", NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL);

  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (db, "UPDATE transfers SET created = created - 8 * 86400"
                             " WHERE id = ?", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    {
      sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
      rc = sqlite3_step (stmt) == SQLITE_DONE && sqlite3_changes (db) == 1 ? SQLITE_OK
                                                                            : SQLITE_ERROR;
    }
  if (rc != SQLITE_OK)
    g_test_fail_printf ("the offer %s was not aged in %s", id, path);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
}

static void
test_offer_expires (Fixture       *x,
                    gconstpointer  data)
{
  g_autofree char *src = g_build_filename (x->outbox, "old.txt", NULL);
  g_autoptr(PhResult) r = NULL;
  g_autoptr(PhResult) list = NULL;
  g_autofree char *id = NULL;
  PhProc *alice;
  JsonObject *failed;
  guint cursor = 0;

  ph_return_if_failed ();
  ph_test_write_file (x->outbox, "old.txt", 100, 3);
  r = ph_fixture_cli (&x->f, "alice", "send-file", "bob", src, NULL);
  g_assert_cmpint (r->status, ==, 0);
  id = g_strdup (ph_event_string (ph_result_event (r, "waiting"), "id"));
  age_offer (x, "alice", id);
  ph_return_if_failed ();
  alice = ph_transfer_listen (&x->f, "alice", NULL, NULL);
  failed = ph_proc_wait_named (alice, &cursor, "failed", "id", id, PH_EVENT_MS);
  g_assert_nonnull (failed);
  g_assert_cmpstr (ph_event_string (failed, "reason"), ==,
                   "the offer expired: nobody answered it within 7 days");
  g_assert_true (ph_proc_stop (alice));
  /* and it is forgotten */
  list = ph_fixture_cli (&x->f, "alice", "transfers", NULL);
  g_assert_cmpint (list->status, ==, 0);
  g_assert_null (ph_result_event (list, "transfer"));
}

/* the recipient's copy of an offer expires as well */
static void
test_received_offer_expires (Fixture       *x,
                             gconstpointer  data)
{
  g_autofree char *src = g_build_filename (x->outbox, "old.txt", NULL);
  const char *args[] = { "send-file", "bob", src, NULL };
  PhProc *alice, *bob;
  JsonObject *offer, *failed;
  g_autofree char *id = NULL;
  guint cursor = 0;

  ph_return_if_failed ();
  ph_test_write_file (x->outbox, "old.txt", 100, 3);
  bob = ph_transfer_listen (&x->f, "bob", NULL, NULL);
  alice = ph_fixture_spawn (&x->f, "alice", &debug, args);
  offer = ph_proc_wait_named (bob, &cursor, "offer", NULL, NULL, PH_EVENT_MS);
  g_assert_nonnull (offer);
  id = g_strdup (ph_event_string (offer, "id"));
  ph_proc_kill (alice);
  g_assert_true (ph_proc_stop (bob));
  /* bob's profile kept the offer; a week later his next run lets it go */
  age_offer (x, "bob", id);
  ph_return_if_failed ();
  cursor = 0;
  bob = ph_transfer_listen (&x->f, "bob", NULL, NULL);
  failed = ph_proc_wait_named (bob, &cursor, "failed", "id", id, PH_EVENT_MS);
  g_assert_nonnull (failed);
  g_assert_cmpstr (ph_event_string (failed, "reason"), ==,
                   "the offer expired: nobody answered it within 7 days");
}

/* an offer bob's profile kept from an earlier run is accepted by a later --accept-files run
 * once alice offers it again */
/* bob's listen with --accept-files takes an offer its profile kept from an earlier run. The
 * kept offer must be unlinked when the new listen meets it (alice is offline then), so that
 * it is accepted on the link that comes later, not by chance on one made first. */
static void
test_kept_offer_accepted (Fixture       *x,
                          gconstpointer  data)
{
  g_autofree char *src = g_build_filename (x->outbox, "later.txt", NULL);
  g_autofree char *dst = g_build_filename (x->inbox, "later.txt", NULL);
  const char *args[] = { "send-file", "bob", src, NULL };
  PhProc *alice, *bob;
  JsonObject *offer;
  guint cursor = 0, alice_cursor = 0;
  g_autofree char *id = NULL;

  ph_return_if_failed ();
  ph_test_write_file (x->outbox, "later.txt", 5000, 8);
  bob = ph_transfer_listen (&x->f, "bob", NULL, NULL);
  alice = ph_fixture_spawn (&x->f, "alice", &debug, args);
  offer = ph_proc_wait_named (bob, &cursor, "offer", NULL, NULL, PH_EVENT_MS);
  g_assert_nonnull (offer);
  ph_return_if_failed ();
  id = g_strdup (ph_event_string (offer, "id"));
  g_assert_true (ph_proc_stop (bob));
  /* alice goes too; her profile keeps the offer for her next run */
  ph_proc_kill (alice);

  cursor = 0;
  bob = ph_transfer_listen (&x->f, "bob", NULL, x->inbox);
  if (ph_proc_wait_named (bob, &cursor, "offer", "id", id, PH_EVENT_MS) == NULL)
    {
      dump (NULL, bob);
      g_test_fail_printf ("bob's new listen did not show the kept offer");
      return;
    }
  alice = ph_transfer_listen (&x->f, "alice", NULL, NULL);
  g_assert_nonnull (ph_proc_wait_named (alice, &alice_cursor, "resumed", "id", id,
                                        PH_EVENT_MS));
  if (ph_proc_wait_named (bob, &cursor, "done", "id", id, 20000) == NULL)
    {
      dump (alice, bob);
      g_test_fail_printf ("the kept offer was not accepted");
      return;
    }
  ph_test_assert_same_file (src, dst);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, data, fn) \
  g_test_add ("/integration/transfers-sender/" path, Fixture, data, fixture_set_up, fn, \
              fixture_tear_down)
  ADD ("sender-restarts", NULL, test_sender_restarts);
  ADD ("offline-offer", NULL, test_offline_offer);
  ADD ("first-accept-wins", "two devices", test_first_accept_wins);
  ADD ("changed-source", NULL, test_changed_source);
  ADD ("sender-cancels", NULL, test_sender_cancels);
  ADD ("offer-expires", NULL, test_offer_expires);
  ADD ("received-offer-expires", NULL, test_received_offer_expires);
  ADD ("kept-offer-accepted", NULL, test_kept_offer_accepted);
#undef ADD
  return g_test_run ();
}
