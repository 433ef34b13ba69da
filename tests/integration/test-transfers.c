/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-transfers.c: file transfer end to end on loopback: a real pinhole-server, bob's
 * `listen --accept-files DIR` and alice's `send-file`: a small file, a binary file and a tree
 * with an empty file and an empty folder arrive byte for byte and send-file exits 0 only once
 * bob has verified them; a 1 GiB sparse file arrives with both ends under 64 MiB of RSS; bob
 * killed mid-transfer and started again gets only the blocks he lacks (alice's own count of
 * the bytes she put on the wire proves it); a name the recipient would refuse is refused
 * before anything goes. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-fixture.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define GIB (G_GUINT64_CONSTANT (1) << 30)
#define MAX_RSS_KIB (64 * 1024)

typedef struct
{
  PhFixture  f;
  char      *inbox;
  char      *outbox;
  PhProc    *bob;
} Fixture;

static void
fixture_set_up (Fixture       *x,
                gconstpointer  data)
{
  const char *args[] = { "listen", "--accept-files", NULL, NULL };
  guint cursor = 0;

  ph_fixture_setup (&x->f, data);
  x->inbox = g_build_filename (x->f.home, "inbox", NULL);
  x->outbox = g_build_filename (x->f.home, "outbox", NULL);
  g_assert_cmpint (g_mkdir (x->inbox, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (x->outbox, 0755), ==, 0);
  ph_fixture_register (&x->f, "alice");
  ph_fixture_register (&x->f, "bob");
  ph_fixture_contacts (&x->f, "alice", "bob");
  args[2] = x->inbox;
  x->bob = ph_fixture_spawn (&x->f, "bob", NULL, args);
  g_assert_nonnull (x->bob);
  if (ph_proc_wait_named (x->bob, &cursor, "online", "user", "bob", PH_EVENT_MS) == NULL)
    g_test_fail_printf ("bob's listen did not come online: %s", x->bob->err_text->str);
}

static void
fixture_tear_down (Fixture       *x,
                   gconstpointer  data)
{
  ph_fixture_teardown (&x->f, data);
  g_free (x->inbox);
  g_free (x->outbox);
}

static void
write_file (const char *dir,
            const char *rel,
            gsize       len,
            guint8      seed)
{
  g_autofree char *path = g_build_filename (dir, rel, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_autofree guint8 *bytes = g_malloc (len + 1);

  for (gsize i = 0; i < len; i++)
    bytes[i] = (guint8) (seed + i * 13 + i / 977);
  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, (const char *) bytes, (gssize) len, NULL));
}

static void
assert_same (const char *a,
             const char *b)
{
  g_autofree char *x = NULL, *y = NULL;
  gsize lx = 0, ly = 0;

  g_assert_true (g_file_get_contents (a, &x, &lx, NULL));
  if (!g_file_get_contents (b, &y, &ly, NULL))
    g_error ("%s did not arrive", b);
  g_assert_cmpmem (x, lx, y, ly);
}

static void
test_small_and_binary (Fixture       *x,
                       gconstpointer  data)
{
  g_autofree char *small = g_build_filename (x->outbox, "hello.txt", NULL);
  g_autofree char *binary = g_build_filename (x->outbox, "blob.bin", NULL);
  g_autofree char *small_in = g_build_filename (x->inbox, "hello.txt", NULL);
  g_autofree char *binary_in = g_build_filename (x->inbox, "blob.bin", NULL);
  g_autoptr(PhResult) r = NULL;
  guint cursor = 0;

  ph_return_if_failed ();
  g_assert_true (g_file_set_contents (small, "hello, bob\n", -1, NULL));
  write_file (x->outbox, "blob.bin", 5 * 1024 * 1024 + 17, 3);
  r = ph_fixture_cli (&x->f, "alice", "send-file", "bob", small, binary, NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (ph_result_event (r, "done"));
  g_assert_nonnull (ph_result_event (r, "progress"));
  /* one run, which put every byte on the wire once */
  g_assert_cmpuint (ph_result_count (r, "run"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (ph_result_event (r, "run"), "missing"), ==,
                   11 + 5 * 1024 * 1024 + 17);
  g_assert_cmpint (json_object_get_int_member (ph_result_event (r, "done"), "sent"), ==,
                   11 + 5 * 1024 * 1024 + 17);
  assert_same (small, small_in);
  assert_same (binary, binary_in);
  g_assert_nonnull (ph_proc_wait_named (x->bob, &cursor, "offer", NULL, NULL, PH_EVENT_MS));
  g_assert_nonnull (ph_proc_wait_named (x->bob, &cursor, "done", NULL, NULL, PH_EVENT_MS));
}

static void
test_tree (Fixture       *x,
           gconstpointer  data)
{
  g_autofree char *tree = g_build_filename (x->outbox, "project", NULL);
  g_autofree char *empty_dir = g_build_filename (tree, "build/empty", NULL);
  g_autofree char *empty_in = g_build_filename (x->inbox, "project/build/empty", NULL);
  const char *files[] = { "project/README", "project/src/main.c", "project/src/zero" };
  gsize sizes[] = { 300, 70000, 0 };
  g_autoptr(PhResult) r = NULL;

  ph_return_if_failed ();
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    write_file (x->outbox, files[i], sizes[i], (guint8) i);
  g_assert_cmpint (g_mkdir_with_parents (empty_dir, 0755), ==, 0);
  r = ph_fixture_cli (&x->f, "alice", "send-file", "bob", tree, NULL);
  g_assert_cmpint (r->status, ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *a = g_build_filename (x->outbox, files[i], NULL);
      g_autofree char *b = g_build_filename (x->inbox, files[i], NULL);

      assert_same (a, b);
    }
  g_assert_true (g_file_test (empty_in, G_FILE_TEST_IS_DIR));
}

/* kB of a /proc/PID/status field, 0 when the process is gone */
static guint64
proc_kib (const char *pid,
          const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", pid);
  g_autofree char *text = NULL;
  const char *line;

  if (pid == NULL || !g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  line = strstr (text, field);
  return line != NULL ? g_ascii_strtoull (line + strlen (field) + 1, NULL, 10) : 0;
}

typedef struct
{
  const char *pid;
  guint64     max_kib;
} RssSample;

static gboolean
sample_cb (gpointer data)
{
  RssSample *s = data;

  s->max_kib = MAX (s->max_kib, proc_kib (s->pid, "VmRSS:"));
  return G_SOURCE_CONTINUE;
}

static void
test_large_sparse (Fixture       *x,
                   gconstpointer  data)
{
  g_autofree char *big = g_build_filename (x->outbox, "disk.img", NULL);
  g_autofree char *big_in = g_build_filename (x->inbox, "disk.img", NULL);
  const char *args[] = { "send-file", "bob", big, NULL };
  PhProc *alice;
  RssSample sender = { NULL, 0 };
  guint sampler;
  guint64 bob_peak;
  gint64 started;
  int fd;

  ph_return_if_failed ();
  /* 1 GiB, a few written blocks in a sparse file */
  fd = open (big, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, (off_t) GIB), ==, 0);
  g_assert_cmpint (pwrite (fd, "start", 5, 0), ==, 5);
  g_assert_cmpint (pwrite (fd, "middle", 6, (off_t) (GIB / 2 + 12345)), ==, 6);
  g_assert_cmpint (pwrite (fd, "end", 3, (off_t) (GIB - 3)), ==, 3);
  close (fd);

  started = g_get_monotonic_time ();
  alice = ph_fixture_spawn (&x->f, "alice", NULL, args);
  g_assert_nonnull (alice);
  sender.pid = ph_proc_get_pid (alice);
  sampler = g_timeout_add (50, sample_cb, &sender);
  g_assert_true (ph_proc_wait (alice, 50000));
  g_source_remove (sampler);
  g_assert_cmpint (alice->status, ==, 0);
  bob_peak = proc_kib (ph_proc_get_pid (x->bob), "VmHWM:");
  g_test_message ("1 GiB in %.1f s; peak RSS: sender about %" G_GUINT64_FORMAT
                  " KiB (sampled every 50 ms), recipient %" G_GUINT64_FORMAT " KiB (VmHWM)",
                  (g_get_monotonic_time () - started) / 1e6, sender.max_kib, bob_peak);
  g_assert_cmpuint (sender.max_kib, >, 0);
  g_assert_cmpuint (sender.max_kib, <, MAX_RSS_KIB);
  g_assert_cmpuint (bob_peak, >, 0);
  g_assert_cmpuint (bob_peak, <, MAX_RSS_KIB);
  {
    g_autofree char *a = NULL, *b = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GMappedFile) ma = g_mapped_file_new (big, FALSE, &error);
    g_autoptr(GMappedFile) mb = g_mapped_file_new (big_in, FALSE, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (g_mapped_file_get_length (mb), ==, GIB);
    a = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                     (const guchar *) g_mapped_file_get_contents (ma), GIB);
    b = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                     (const guchar *) g_mapped_file_get_contents (mb), GIB);
    g_assert_cmpstr (a, ==, b);
  }
}

static gboolean
progress_past (JsonObject *event,
               gpointer    data)
{
  return g_strcmp0 (ph_event_string (event, "event"), "progress") == 0 &&
         json_object_get_int_member_with_default (event, "bytes", 0) >= *(gint64 *) data;
}

static void
test_recipient_restarts (Fixture       *x,
                         gconstpointer  data)
{
  const gint64 total = 160 * 1024 * 1024 + 4321, past = 16 * 1024 * 1024;
  g_autofree char *big = g_build_filename (x->outbox, "video.mkv", NULL);
  g_autofree char *big_in = g_build_filename (x->inbox, "video.mkv", NULL);
  const char *args[] = { "send-file", "bob", big, NULL };
  const char *listen_args[] = { "listen", "--accept-files", x->inbox, NULL };
  PhProc *alice, *bob2;
  JsonObject *run2, *done;
  guint cursor = 0, bob_cursor = 0;
  gint64 missing, sent_before;
  const char *debug_env[] = { "G_MESSAGES_DEBUG=pinhole-transfer,pinhole-device", NULL };
  PhCliOptions debug = { debug_env, FALSE };

  ph_return_if_failed ();
  write_file (x->outbox, "video.mkv", (gsize) total, 7);
  alice = ph_fixture_spawn (&x->f, "alice", &debug, args);
  g_assert_nonnull (ph_proc_wait_event (alice, &cursor, progress_past, (gpointer) &past, 30000));

  /* bob's program dies at once, without a word (its debug lines say why, should it fail) */
  ph_proc_kill (x->bob);
  bob2 = ph_fixture_spawn (&x->f, "bob", &debug, listen_args);
  g_assert_nonnull (ph_proc_wait_named (bob2, &bob_cursor, "online", "user", "bob",
                                        PH_EVENT_MS));
  /* (it says so before it says it is online) */
  bob_cursor = 0;
  g_assert_nonnull (ph_proc_wait_named (bob2, &bob_cursor, "resumed", NULL, NULL, PH_EVENT_MS));

  if (!ph_proc_wait (alice, 40000))
    {
      for (guint i = 0; i < alice->lines->len; i++)
        if (strstr (alice->lines->pdata[i], "DEBUG") != NULL)
          g_printerr ("alice: %s\n", (char *) alice->lines->pdata[i]);
      for (guint i = 0; i < bob2->lines->len; i++)
        if (strstr (bob2->lines->pdata[i], "DEBUG") != NULL)
          g_printerr ("bob: %s\n", (char *) bob2->lines->pdata[i]);
      g_error ("send-file did not end");
    }
  g_assert_cmpint (alice->status, ==, 0);
  g_assert_nonnull (ph_proc_wait_named (bob2, &bob_cursor, "done", NULL, NULL, PH_EVENT_MS));
  assert_same (big, big_in);

  /* two runs: the second sent what bob lacked, and nothing else */
  g_assert_cmpuint (ph_proc_count (alice, "run"), ==, 2);
  cursor = 0;
  ph_proc_wait_named (alice, &cursor, "run", NULL, NULL, 0);
  run2 = ph_proc_wait_named (alice, &cursor, "run", NULL, NULL, 0);
  done = ph_proc_wait_named (alice, &cursor, "done", NULL, NULL, 0);
  g_assert_nonnull (run2);
  g_assert_nonnull (done);
  missing = json_object_get_int_member (run2, "missing");
  sent_before = json_object_get_int_member (run2, "sent");
  g_test_message ("bob held %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " bytes when he came "
                  "back; alice had sent %" G_GINT64_FORMAT ", then %" G_GINT64_FORMAT,
                  total - missing, total, sent_before,
                  json_object_get_int_member (done, "sent") - sent_before);
  g_assert_cmpint (missing, <=, total - past);
  g_assert_cmpint (json_object_get_int_member (done, "sent") - sent_before, ==, missing);
}

static void
test_refused_name (Fixture       *x,
                   gconstpointer  data)
{
  g_autofree char *bad = g_build_filename (x->outbox, "what?.txt", NULL);
  g_autoptr(PhResult) r = NULL;
  g_autoptr(GDir) inbox = NULL;

  ph_return_if_failed ();
  g_assert_true (g_file_set_contents (bad, "x", -1, NULL));
  r = ph_fixture_cli (&x->f, "alice", "send-file", "bob", bad, NULL);
  g_assert_cmpint (r->status, ==, 1);
  g_assert_nonnull (strstr (r->err, "Windows or macOS"));
  inbox = g_dir_open (x->inbox, 0, NULL);
  g_assert_null (g_dir_read_name (inbox));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) \
  g_test_add ("/integration/transfers/" path, Fixture, NULL, fixture_set_up, fn, \
              fixture_tear_down)
  ADD ("small-and-binary", test_small_and_binary);
  ADD ("tree", test_tree);
  ADD ("refused-name", test_refused_name);
  ADD ("large-sparse", test_large_sparse);
  ADD ("recipient-restarts", test_recipient_restarts);
#undef ADD
  return g_test_run ();
}
