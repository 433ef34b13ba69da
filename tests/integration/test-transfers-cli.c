/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-transfers-cli.c: `transfers`, `accept ID`, `decline ID`, `pause ID`, `resume ID` and
 * `cancel ID` with the real programs on loopback, through a running instance (on a session
 * bus of the test's own) and one-shot: the list, an accept that receives the files and exits
 * 0 with their SHA-256, a decline the sender hears of, pause and resume (kept in the profile
 * between one-shots), a cancel by the recipient that removes its partial, clear errors for
 * an unknown id and a transfer that is over; and two transfers and a chat at once. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-bus.h"
#include "pinhole-test-fixture.h"
#include "pinhole-test-transfer.h"
#include "pinhole-test-transfers.h"

#include <glib/gstdio.h>
#include <string.h>

#define MIB (1024 * 1024)
#define UNKNOWN_ID "0123456789abcdef0123456789abcdef"

typedef struct
{
  PhFixture  f;
  PhBus     *bus;
  char      *inbox;
  char      *outbox;
} Fixture;

static void
fixture_set_up (Fixture       *x,
                gconstpointer  data)
{
  ph_fixture_setup (&x->f, data);
  x->bus = ph_bus_start ();
  x->inbox = g_build_filename (x->f.home, "inbox", NULL);
  x->outbox = g_build_filename (x->f.home, "outbox", NULL);
  g_assert_cmpint (g_mkdir (x->inbox, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (x->outbox, 0755), ==, 0);
  ph_fixture_register (&x->f, "alice");
  ph_fixture_register (&x->f, "bob");
  ph_fixture_contacts (&x->f, "alice", "bob");
}

static void
fixture_tear_down (Fixture       *x,
                   gconstpointer  data)
{
  ph_fixture_teardown (&x->f, data);
  g_clear_pointer (&x->bus, ph_bus_free);
  g_free (x->inbox);
  g_free (x->outbox);
}

/* `pinhole-cli --json ARGS… NULL` for @profile, on the test's bus (its instance, if any) */
#define cli_on_bus(x, profile, ...) \
  ph_fixture_cli_options (&(x)->f, (profile), &(PhCliOptions) { (const char *const[]) { \
                            (x)->bus->env, "G_MESSAGES_DEBUG=pinhole-transfer", NULL }, \
                            FALSE }, __VA_ARGS__)

/* alice's send-file of @name, running; Returns: (transfer none) */
static PhProc *
send_file (Fixture    *x,
           const char *name,
           gsize       len)
{
  g_autofree char *path = g_build_filename (x->outbox, name, NULL);
  const char *args[] = { "send-file", "bob", path, NULL };

  ph_test_write_file (x->outbox, name, len, 4);
  return ph_fixture_spawn (&x->f, "alice", NULL, args);
}

/* the offer while bob is offline: Returns: (transfer full) its id */
static char *
send_offline (Fixture    *x,
              const char *name,
              gsize       len)
{
  g_autofree char *path = g_build_filename (x->outbox, name, NULL);
  g_autoptr(PhResult) r = NULL;

  ph_test_write_file (x->outbox, name, len, 6);
  r = ph_fixture_cli (&x->f, "alice", "send-file", "bob", path, NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (ph_result_event (r, "waiting"));
  return g_strdup (ph_event_string (ph_result_event (r, "waiting"), "id"));
}

/* the "transfer" line of @id in a `transfers` run */
static JsonObject *
row_of (PhResult   *r,
        const char *id)
{
  for (guint i = 0; i < r->events->len; i++)
    if (g_strcmp0 (ph_event_string (r->events->pdata[i], "id"), id) == 0)
      return r->events->pdata[i];
  return NULL;
}

static void
assert_row (PhResult   *r,
            const char *id,
            const char *direction,
            const char *peer,
            const char *name,
            const char *state)
{
  JsonObject *row = row_of (r, id);

  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (row);
  if (row == NULL)
    return;
  g_assert_cmpstr (ph_event_string (row, "direction"), ==, direction);
  g_assert_cmpstr (ph_event_string (row, "peer"), ==, peer);
  g_assert_cmpstr (ph_event_string (row, "state"), ==, state);
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (row, "names"),
                                                  0), ==, name);
}

static void
assert_fails (PhResult   *r,
              const char *words)
{
  g_assert_cmpint (r->status, ==, 1);
  if (strstr (r->err, words) == NULL)
    g_test_fail_printf ("\"%s\" not in: %s", words, r->err);
}

/* through bob's instance: transfers lists the offer, accept receives it and exits 0 */
static void
test_instance_accept (Fixture       *x,
                      gconstpointer  data)
{
  g_autofree char *src = g_build_filename (x->outbox, "report.pdf", NULL);
  g_autofree char *dst = g_build_filename (x->inbox, "report.pdf", NULL);
  g_autoptr(PhResult) list = NULL, accepted = NULL, again = NULL, unknown = NULL;
  g_autofree char *sha = NULL;
  PhProc *bob, *alice;
  JsonObject *offer, *done;
  guint cursor = 0;
  const char *id;

  ph_return_if_failed ();
  bob = ph_transfer_listen (&x->f, "bob", x->bus->env, NULL);
  alice = send_file (x, "report.pdf", 3 * MIB + 5);
  offer = ph_proc_wait_named (bob, &cursor, "offer", NULL, NULL, PH_EVENT_MS);
  g_assert_nonnull (offer);
  id = ph_event_string (offer, "id");
  list = cli_on_bus (x, "bob", "transfers", NULL);
  assert_row (list, id, "incoming", "alice", "report.pdf", "offered");
  accepted = cli_on_bus (x, "bob", "accept", id, "--to", x->inbox, NULL);
  g_assert_cmpint (accepted->status, ==, 0);
  done = ph_result_event (accepted, "done");
  g_assert_nonnull (done);
  g_assert_nonnull (ph_result_event (accepted, "progress"));
  {
    g_autofree char *contents = NULL;
    gsize len;

    g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
    sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, len);
  }
  g_assert_cmpstr (ph_event_string (done, "sha256"), ==, sha);
  g_assert_true (ph_proc_wait (alice, 20000));
  g_assert_cmpint (alice->status, ==, 0);
  ph_test_assert_same_file (src, dst);
  /* a transfer that is over, and one that never was */
  again = cli_on_bus (x, "bob", "accept", id, "--to", x->inbox, NULL);
  assert_fails (again, "is over (done)");
  unknown = cli_on_bus (x, "bob", "pause", UNKNOWN_ID, NULL);
  assert_fails (unknown, "no transfer " UNKNOWN_ID);
}

/* through bob's instance: decline, heard by the sender */
static void
test_instance_decline (Fixture       *x,
                       gconstpointer  data)
{
  g_autoptr(PhResult) declined = NULL, again = NULL;
  PhProc *bob, *alice;
  JsonObject *offer;
  guint cursor = 0;
  const char *id;

  ph_return_if_failed ();
  bob = ph_transfer_listen (&x->f, "bob", x->bus->env, NULL);
  alice = send_file (x, "spam.zip", 1000);
  offer = ph_proc_wait_named (bob, &cursor, "offer", NULL, NULL, PH_EVENT_MS);
  g_assert_nonnull (offer);
  id = ph_event_string (offer, "id");
  declined = cli_on_bus (x, "bob", "decline", id, NULL);
  g_assert_cmpint (declined->status, ==, 0);
  g_assert_nonnull (ph_result_event (declined, "declined"));
  g_assert_true (ph_proc_wait (alice, 20000));
  g_assert_cmpint (alice->status, ==, 1);
  g_assert_nonnull (strstr (alice->err_text->str, "bob declined the files"));
  again = cli_on_bus (x, "bob", "decline", id, NULL);
  assert_fails (again, "is over (declined)");
  g_assert_cmpuint (ph_test_count_partials (x->inbox), ==, 0);
}

/* through bob's instance: pause, resume and cancel a running transfer */
static void
test_instance_controls (Fixture       *x,
                        gconstpointer  data)
{
  const gint64 past = 4 * MIB;
  g_autoptr(PhResult) paused = NULL, twice = NULL, list = NULL, resumed = NULL;
  g_autoptr(PhResult) not_paused = NULL, cancelled = NULL;
  PhProc *bob, *alice;
  JsonObject *offer;
  guint cursor = 0, alice_cursor = 0;
  const char *id;

  ph_return_if_failed ();
  bob = ph_transfer_listen (&x->f, "bob", x->bus->env, x->inbox);
  alice = send_file (x, "film.mkv", 256 * MIB);
  offer = ph_proc_wait_named (bob, &cursor, "offer", NULL, NULL, PH_EVENT_MS);
  g_assert_nonnull (offer);
  id = ph_event_string (offer, "id");
  g_assert_nonnull (ph_proc_wait_event (alice, &alice_cursor, ph_transfer_progress_past,
                                        (gpointer) &past, 20000));
  paused = cli_on_bus (x, "bob", "pause", id, NULL);
  g_assert_cmpint (paused->status, ==, 0);
  g_assert_nonnull (ph_result_event (paused, "paused"));
  twice = cli_on_bus (x, "bob", "pause", id, NULL);
  assert_fails (twice, "is paused already");
  list = cli_on_bus (x, "bob", "transfers", NULL);
  assert_row (list, id, "incoming", "alice", "film.mkv", "paused");
  resumed = cli_on_bus (x, "bob", "resume", id, NULL);
  g_assert_cmpint (resumed->status, ==, 0);
  not_paused = cli_on_bus (x, "bob", "resume", id, NULL);
  assert_fails (not_paused, "is not paused");
  /* the recipient cancels: the sender hears of it and the partial goes */
  cancelled = cli_on_bus (x, "bob", "cancel", id, NULL);
  g_assert_cmpint (cancelled->status, ==, 0);
  g_assert_true (ph_proc_wait (alice, 20000));
  g_assert_cmpint (alice->status, ==, 1);
  g_assert_true (ph_iterate_until (ph_transfer_no_partials, x->inbox, PH_EVENT_MS));
}

/* one-shot: transfers from the profile, accept that waits for the offer, decline */
static void
test_one_shot_answers (Fixture       *x,
                       gconstpointer  data)
{
  g_autofree char *first = send_offline (x, "a.txt", 1000);
  g_autofree char *second = send_offline (x, "b.txt", 2000);
  g_autofree char *src = g_build_filename (x->outbox, "a.txt", NULL);
  g_autofree char *dst = g_build_filename (x->inbox, "a.txt", NULL);
  g_autoptr(PhResult) list = NULL, accepted = NULL, declined = NULL, over = NULL;
  PhProc *alice;
  guint cursor = 0;

  ph_return_if_failed ();
  /* no instance runs: the profile's transfers, without logging in */
  list = ph_fixture_cli (&x->f, "alice", "transfers", NULL);
  assert_row (list, first, "outgoing", "bob", "a.txt", "offering");
  assert_row (list, second, "outgoing", "bob", "b.txt", "offering");
  alice = ph_transfer_listen (&x->f, "alice", x->bus->env, NULL);
  /* bob answers with one-shots: each logs in, gets the offer alice makes again, answers */
  accepted = ph_fixture_cli (&x->f, "bob", "accept", first, "--to", x->inbox, NULL);
  g_assert_cmpint (accepted->status, ==, 0);
  g_assert_nonnull (ph_result_event (accepted, "offer"));
  g_assert_nonnull (ph_result_event (accepted, "done"));
  ph_test_assert_same_file (src, dst);
  g_assert_nonnull (ph_proc_wait_named (alice, &cursor, "done", "id", first, PH_EVENT_MS));
  declined = ph_fixture_cli (&x->f, "bob", "decline", second, NULL);
  g_assert_cmpint (declined->status, ==, 0);
  g_assert_nonnull (ph_proc_wait_named (alice, &cursor, "declined", "id", second,
                                        PH_EVENT_MS));
  /* through alice's instance: that one is over */
  over = cli_on_bus (x, "alice", "cancel", second, NULL);
  assert_fails (over, "is over (declined)");
}

/* one-shot pause and resume on the sender: kept in the profile, said on the next session */
static void
test_one_shot_pause (Fixture       *x,
                     gconstpointer  data)
{
  const gint64 past = 4 * MIB;
  g_autofree char *src = g_build_filename (x->outbox, "tape.bin", NULL);
  g_autofree char *dst = g_build_filename (x->inbox, "tape.bin", NULL);
  g_autoptr(PhResult) paused = NULL, list = NULL, resumed = NULL, list2 = NULL;
  PhProc *bob, *alice, *alice2;
  JsonObject *progress;
  guint cursor = 0, bob_cursor = 0;
  g_autofree char *id = NULL;

  ph_return_if_failed ();
  bob = ph_transfer_listen (&x->f, "bob", x->bus->env, x->inbox);
  alice = send_file (x, "tape.bin", 256 * MIB);
  progress = ph_proc_wait_event (alice, &cursor, ph_transfer_progress_past, (gpointer) &past,
                                 20000);
  g_assert_nonnull (progress);
  id = g_strdup (ph_event_string (progress, "id"));
  ph_proc_kill (alice);
  paused = ph_fixture_cli (&x->f, "alice", "pause", id, NULL);
  g_assert_cmpint (paused->status, ==, 0);
  list = ph_fixture_cli (&x->f, "alice", "transfers", NULL);
  assert_row (list, id, "outgoing", "bob", "tape.bin", "paused");
  resumed = ph_fixture_cli (&x->f, "alice", "resume", id, NULL);
  g_assert_cmpint (resumed->status, ==, 0);
  list2 = ph_fixture_cli (&x->f, "alice", "transfers", NULL);
  assert_row (list2, id, "outgoing", "bob", "tape.bin", "running");
  /* and a later run of alice's finishes it */
  cursor = 0;
  alice2 = ph_transfer_listen (&x->f, "alice", x->bus->env, NULL);
  if (ph_proc_wait_named (alice2, &cursor, "done", "id", id, 60000) == NULL)
    {
      PhProc *procs[] = { alice2, bob };

      for (guint j = 0; j < G_N_ELEMENTS (procs); j++)
        for (guint i = 0; i < procs[j]->lines->len; i++)
          if (strstr (procs[j]->lines->pdata[i], "\"progress\"") == NULL)
            g_printerr ("%s: %s\n", procs[j]->name, (char *) procs[j]->lines->pdata[i]);
      g_test_fail_printf ("alice's later run did not finish %s", id);
      return;
    }
  g_assert_nonnull (ph_proc_wait_named (bob, &bob_cursor, "done", "id", id, PH_EVENT_MS));
  ph_test_assert_same_file (src, dst);
}

/* send-file through alice's instance: to bob while he is offline it waits there, and goes
 * out when he comes online; while he is online it follows the transfer to its end. The
 * instance takes no more than 256 paths at once. */
static void
test_instance_send (Fixture       *x,
                    gconstpointer  data)
{
  g_autofree char *early = g_build_filename (x->outbox, "early.bin", NULL);
  g_autofree char *later = g_build_filename (x->outbox, "later.bin", NULL);
  g_autofree char *early_in = g_build_filename (x->inbox, "early.bin", NULL);
  g_autofree char *later_in = g_build_filename (x->inbox, "later.bin", NULL);
  g_autoptr(PhResult) waiting = NULL, sent = NULL, too_many = NULL;
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  PhProc *alice, *bob;
  guint cursor = 0;
  JsonObject *done;

  ph_return_if_failed ();
  alice = ph_transfer_listen (&x->f, "alice", x->bus->env, NULL);
  ph_test_write_file (x->outbox, "early.bin", 2 * MIB + 3, 7);
  waiting = cli_on_bus (x, "alice", "send-file", "bob", early, NULL);
  g_assert_cmpint (waiting->status, ==, 0);
  g_assert_nonnull (ph_result_event (waiting, "waiting"));
  bob = ph_transfer_listen (&x->f, "bob", x->bus->env, x->inbox);
  g_assert_nonnull (ph_proc_wait_named (alice, &cursor, "done", "id",
                                        ph_event_string (ph_result_event (waiting, "waiting"),
                                                         "id"), 30000));
  ph_test_assert_same_file (early, early_in);

  ph_test_write_file (x->outbox, "later.bin", 5 * MIB + 1, 8);
  sent = cli_on_bus (x, "alice", "send-file", "bob", later, NULL);
  g_assert_cmpint (sent->status, ==, 0);
  done = ph_result_event (sent, "done");
  g_assert_nonnull (done);
  g_assert_cmpint (json_object_get_int_member (done, "bytes"), ==, 5 * MIB + 1);
  g_assert_nonnull (ph_result_event (sent, "progress"));
  ph_test_assert_same_file (later, later_in);
  g_assert_nonnull (bob);

  g_ptr_array_add (args, "send-file");
  g_ptr_array_add (args, "bob");
  for (guint i = 0; i < 257; i++)
    g_ptr_array_add (args, later);
  g_ptr_array_add (args, NULL);
  too_many = ph_fixture_cli_with (&x->f, "alice", NULL, NULL,
                                  &(PhCliOptions) { (const char *const[]) { x->bus->env, NULL },
                                                    FALSE },
                                  (const char *const *) args->pdata);
  assert_fails (too_many, "send 1 to 256 files or folders at once");
}

/* two transfers and a chat message at once, between two running instances */
static void
test_two_and_chat (Fixture       *x,
                   gconstpointer  data)
{
  g_autofree char *one = send_offline (x, "one.bin", 48 * MIB + 1);
  g_autofree char *two = send_offline (x, "two.bin", 40 * MIB + 2);
  g_autoptr(PhResult) said = NULL;
  PhProc *alice, *bob;
  guint cursor = 0, bob_cursor = 0;
  const char *names[] = { "one.bin", "two.bin" };

  ph_return_if_failed ();
  alice = ph_transfer_listen (&x->f, "alice", x->bus->env, NULL);
  bob = ph_transfer_listen (&x->f, "bob", x->bus->env, x->inbox);
  g_assert_nonnull (ph_proc_wait_named (bob, &bob_cursor, "offer", "id", one, PH_EVENT_MS));
  /* while the files move, a chat message through alice's instance */
  said = cli_on_bus (x, "alice", "send", "bob", "files on their way", NULL);
  g_assert_cmpint (said->status, ==, 0);
  g_assert_nonnull (ph_proc_wait_named (bob, &bob_cursor, "message", "text",
                                        "files on their way", PH_EVENT_MS));
  g_assert_nonnull (ph_proc_wait_named (alice, &cursor, "done", "id", one, 60000));
  cursor = 0;
  g_assert_nonnull (ph_proc_wait_named (alice, &cursor, "done", "id", two, 60000));
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *a = g_build_filename (x->outbox, names[i], NULL);
      g_autofree char *b = g_build_filename (x->inbox, names[i], NULL);

      ph_test_assert_same_file (a, b);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) \
  g_test_add ("/integration/transfers-cli/" path, Fixture, NULL, fixture_set_up, fn, \
              fixture_tear_down)
  ADD ("instance-accept", test_instance_accept);
  ADD ("instance-decline", test_instance_decline);
  ADD ("instance-controls", test_instance_controls);
  ADD ("instance-send", test_instance_send);
  ADD ("one-shot-answers", test_one_shot_answers);
  ADD ("one-shot-pause", test_one_shot_pause);
  ADD ("two-and-chat", test_two_and_chat);
#undef ADD
  return g_test_run ();
}
