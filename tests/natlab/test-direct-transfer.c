/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-direct-transfer.c: the real pinhole-server and pinhole-cli programs in NAT lab
 * namespaces: a 1 GiB file that starts on the relay, moves onto a UDP hole punch, falls back
 * to the relay when the link between the sites is cut and goes direct again when it is open,
 * all in one transfer; it must arrive with the sender's SHA-256 and without a block sent
 * twice (docs/transfer.md §3: the transfer is a channel of the session, so a path switch is
 * invisible to it). */
#define G_LOG_DOMAIN "pinhole-test"

#include "direct-fixture.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GIB            (G_GUINT64_CONSTANT (1) << 30)
/* a dead direct path is noticed within about 4.25 s of its last reply (docs/session.md §6) */
#define FALLBACK_MS    5000
/* the whole transfer, switches included; on 2 loaded cores 1 GiB takes about a minute */
#define TRANSFER_MS    180000
/* on each path, at least this much of the file must move before the next switch */
#define MOVED_BYTES    (32 << 20)
#define MOVED_MS       30000
/* the lab's relay moves about 130 MB/s, faster than the UDP path: at full speed the file
 * would be over on the relay before a direct path is back, so the server's sends are
 * policed to this (TCP adapts to the drops) */
#define RELAY_MBYTES_S "12"

typedef DirectFixture Fixture;

/* polices what pinhole-server sends to RELAY_MBYTES_S; the rules go with the namespace */
static gboolean
slow_relay (Fixture *f)
{
  const char *ns = natlab_server_ns (f->lab);
  g_autoptr(GError) error = NULL;

  if (!natlab_run (f->lab, ns, NULL, &error, "nft", "add", "table", "inet", "slow", NULL) ||
      !natlab_run (f->lab, ns, NULL, &error, "nft", "add", "chain", "inet", "slow", "out",
                   "{ type filter hook output priority 0 ; }", NULL) ||
      !natlab_run (f->lab, ns, NULL, &error, "nft", "add", "rule", "inet", "slow", "out",
                   "tcp", "sport", SERVER_PORT, "limit", "rate", "over",
                   RELAY_MBYTES_S, "mbytes/second", "burst", "1", "mbytes", "drop", NULL))
    return direct_check (FALSE, error, "nft");
  return TRUE;
}

/* a 1 GiB sparse file with a few written spots, and its SHA-256 (hex) */
static char *
make_file (const char *path)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GMappedFile) map = NULL;
  g_autoptr(GError) error = NULL;
  int fd = open (path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, (off_t) GIB), ==, 0);
  /* a few bytes in every 64 MiB, so that a block put in the wrong place shows in the hash */
  for (guint64 at = 0; at < GIB; at += 64 << 20)
    {
      g_autofree char *mark = g_strdup_printf ("block at %" G_GUINT64_FORMAT, at);

      g_assert_cmpint (pwrite (fd, mark, strlen (mark), (off_t) (at + at / 4096 % 4000)), ==,
                       (gssize) strlen (mark));
    }
  close (fd);
  map = g_mapped_file_new (path, FALSE, &error);
  g_assert_no_error (error);
  g_checksum_update (sum, (const guchar *) g_mapped_file_get_contents (map),
                     (gssize) g_mapped_file_get_length (map));
  return g_strdup (g_checksum_get_string (sum));
}

static char *
sha256_of (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GMappedFile) map = g_mapped_file_new (path, FALSE, &error);

  if (map == NULL)
    {
      g_test_message ("%s: %s", path, error->message);
      return NULL;
    }
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                      (const guchar *) g_mapped_file_get_contents (map),
                                      g_mapped_file_get_length (map));
}

/* alice's progress lines: the bytes verified so far */
static gint64
bytes_done (PhProc *sender)
{
  gint64 bytes = -1;

  for (guint i = 0; i < sender->events->len; i++)
    {
      JsonObject *e = g_ptr_array_index (sender->events, i);

      if (g_strcmp0 (ph_event_string (e, "event"), "progress") == 0)
        bytes = json_object_get_int_member_with_default (e, "bytes", bytes);
    }
  return bytes;
}

static gboolean
transfer_over (PhProc *sender)
{
  return sender->exited || sender->out_eof;
}

typedef struct
{
  gint64   bytes;    /* at least this many verified */
  gboolean direct;   /* on a direct path, else on the relay */
} Progress;

static gboolean
progress_on_path (JsonObject *event,
                  gpointer    data)
{
  const Progress *want = data;
  const char *path = ph_event_string (event, "path");

  if (g_strcmp0 (ph_event_string (event, "event"), "progress") != 0 || path == NULL ||
      json_object_get_int_member_with_default (event, "bytes", 0) < want->bytes)
    return FALSE;
  return want->direct ? strcmp (path, "relay") != 0 && strcmp (path, "none") != 0
                      : strcmp (path, "relay") == 0;
}

/* waits until alice reports MOVED_BYTES more verified over the path bob just reported */
static gboolean
wait_data_on_path (PhProc     *sender,
                   guint      *cursor,
                   gboolean    direct,
                   const char *what)
{
  Progress want = { bytes_done (sender) + MOVED_BYTES, direct };
  JsonObject *event = ph_proc_wait_event (sender, cursor, progress_on_path, &want, MOVED_MS);

  if (event == NULL || transfer_over (sender))
    {
      g_test_fail_printf ("%s: no %d MiB moved there before the end", what, MOVED_BYTES >> 20);
      return FALSE;
    }
  g_test_message ("%s: %" G_GINT64_FORMAT " MiB verified, via %s", what,
                  json_object_get_int_member (event, "bytes") >> 20,
                  ph_event_string (event, "path"));
  return TRUE;
}

/* waits for bob's next path event matching @match while the transfer runs; fails the test and
 * returns FALSE when the transfer ended first or the path never came */
static gboolean
wait_path_mid_transfer (PhProc      *bob,
                        PhProc      *sender,
                        guint       *cursor,
                        PhEventMatch match,
                        guint        timeout_ms,
                        const char  *what)
{
  JsonObject *event = ph_proc_wait_event (bob, cursor, match, NULL, timeout_ms);
  gint64 done = bytes_done (sender);

  if (event == NULL)
    {
      g_test_fail_printf ("%s: not within %u ms", what, timeout_ms);
      return FALSE;
    }
  if (transfer_over (sender) || done >= (gint64) GIB)
    {
      g_test_fail_printf ("%s: only after the transfer ended (make the file larger)", what);
      return FALSE;
    }
  g_test_message ("%s: %s with %" G_GINT64_FORMAT " MiB verified", what, path_of (event),
                  done >> 20);
  return TRUE;
}

static void
test_transfer_switches (Fixture      *f,
                        gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *outbox = g_build_filename (f->ph->home, "outbox", NULL);
  g_autofree char *inbox = g_build_filename (f->ph->home, "inbox", NULL);
  g_autofree char *big = g_build_filename (outbox, "disk.img", NULL);
  g_autofree char *big_in = g_build_filename (inbox, "disk.img", NULL);
  g_autofree char *sent_sum = NULL, *got_sum = NULL, *history = NULL;
  JsonObject *done = NULL, *sent_done;
  PhProc *bob, *alice;
  guint bob_cursor = 0, alice_cursor = 0;
  gint64 t0, cut_us;
  gint64 bytes_sent;

  CHECK_LAB (f);
  g_assert_cmpint (g_mkdir_with_parents (outbox, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (inbox, 0700), ==, 0);
  sent_sum = make_file (big);
  if (!direct_add_site (f, WEST, NATLAB_NAT_PORT_RESTRICTED) ||
      !direct_add_site (f, EAST, NATLAB_NAT_PORT_RESTRICTED) ||
      !direct_add_user_host (f, WEST, "alice") || !direct_add_user_host (f, EAST, "bob") ||
      !direct_server_start (f, SERVER_PORT) || !direct_make_pair (f, "alice", "bob") ||
      !slow_relay (f))
    return;
  bob = direct_cli_spawnv (f, "bob", 0,
                           (const char *[]) { "listen", "--accept-files", inbox, NULL });
  if (bob == NULL)
    return;
  g_ptr_array_add (f->ph->procs, bob);
  if (ph_proc_wait_named (bob, &bob_cursor, "online", NULL, NULL, PH_EVENT_MS) == NULL)
    {
      g_test_fail_printf ("bob's listen did not come online: %s", bob->err_text->str);
      return;
    }
  alice = direct_cli_spawnv (f, "alice", 0,
                             (const char *[]) { "send-file", "bob", big, NULL });
  if (alice == NULL)
    return;
  g_ptr_array_add (f->ph->procs, alice);
  t0 = g_get_monotonic_time ();

  /* the offer goes over the relay, then the session finds its hole punch */
  if (ph_proc_wait_named (alice, &alice_cursor, "progress", NULL, NULL, PH_EVENT_MS) == NULL)
    {
      g_test_fail_printf ("no progress from alice's send-file: %s", alice->err_text->str);
      goto out;
    }
  if (!wait_path_mid_transfer (bob, alice, &bob_cursor, is_direct_event, DIRECT_MS,
                               "direct under the transfer") ||
      !wait_data_on_path (alice, &alice_cursor, TRUE, "data on the first direct path"))
    goto out;

  /* cut the direct path: back on the relay, the transfer going on */
  if (!natlab_block_between (f->lab, WEST, EAST, TRUE, &error))
    {
      g_test_fail_printf ("natlab_block_between: %s", error->message);
      goto out;
    }
  cut_us = g_get_monotonic_time ();
  if (!wait_path_mid_transfer (bob, alice, &bob_cursor, is_relay_event, 3 * FALLBACK_MS,
                               "relay after the cut") ||
      !wait_data_on_path (alice, &alice_cursor, FALSE, "data on the relay"))
    goto out;
  g_test_message ("relay %" G_GINT64_FORMAT " ms after the cut",
                  (g_get_monotonic_time () - cut_us) / 1000);

  /* open again: direct again before the end */
  if (!natlab_block_between (f->lab, WEST, EAST, FALSE, &error))
    {
      g_test_fail_printf ("natlab_block_between: %s", error->message);
      goto out;
    }
  if (!wait_path_mid_transfer (bob, alice, &bob_cursor, is_direct_event, 3 * DIRECT_MS,
                               "direct again after the unblock") ||
      !wait_data_on_path (alice, &alice_cursor, TRUE, "data on the second direct path"))
    goto out;

out:
  /* after a failed step, only long enough to log what the programs printed */
  if (g_test_failed ())
    ph_proc_wait (alice, 2000);
  else if (!ph_proc_wait (alice, TRANSFER_MS))
    g_test_fail_printf ("alice's send-file still running after %d ms", TRANSFER_MS);
  done = ph_proc_wait_named (bob, &bob_cursor, "done", NULL, NULL,
                             g_test_failed () ? 0 : PH_EVENT_MS);
  history = direct_path_history (bob);
  g_test_message ("1 GiB in %.1f s; bob's paths: %s",
                  (g_get_monotonic_time () - t0) / 1e6, history);
  if (g_test_failed ())
    {
      direct_log_proc (bob);
      direct_log_proc (alice);
      return;
    }
  g_assert_cmpint (alice->status, ==, 0);
  g_assert_nonnull (done);
  /* the sha256 bob's listen reports is the one it verified; the bytes on disk agree */
  g_assert_cmpstr (ph_event_string (done, "sha256"), ==, sent_sum);
  got_sum = sha256_of (big_in);
  g_assert_cmpstr (got_sum, ==, sent_sum);
  /* one transfer, never restarted: one run, each block sent once (the session, not the
   * transfer, retransmits what a dead path lost) */
  sent_done = ph_proc_wait_named (alice, &alice_cursor, "done", NULL, NULL, 0);
  g_assert_nonnull (sent_done);
  bytes_sent = json_object_get_int_member_with_default (sent_done, "sent", -1);
  g_test_message ("alice sent %" G_GINT64_FORMAT " bytes of file data in %u run(s)",
                  bytes_sent, ph_proc_count (alice, "run"));
  g_assert_cmpuint (ph_proc_count (alice, "run"), ==, 1);
  g_assert_cmpint (bytes_sent, ==, (gint64) GIB);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/natlab/direct/transfer-switches", Fixture, NULL, direct_fixture_setup,
              test_transfer_switches, direct_fixture_teardown);
  return g_test_run ();
}
