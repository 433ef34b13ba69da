/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-valgrind.c: pinhole-server and a day of pinhole-cli commands (register, add, accept,
 * send, listen stopped by SIGTERM, path, contacts, history) on loopback, each under valgrind's
 * memcheck: every run must exit with 0, with no memory error and no definitely-lost block
 * outside tests/valgrind.supp. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-harness.h"
#include "../pinhole-test-missing.h"

#include <stdarg.h>
#include <string.h>

/* what valgrind exits with when it found an error: no pinhole program exits with it */
#define VALGRIND_ERROR_STATUS 97
/* memcheck makes the programs about this many times slower to start, run and stop */
#define VALGRIND_SLOWDOWN 4

static char *log_dir;   /* valgrind's logs, one per process: vg-PID.log */

typedef struct
{
  PhServer *server;
  char     *server_pid;
  char     *home;       /* profiles, one folder per user */
  PhProc   *listen;
} Fixture;

static void
fixture_setup (Fixture      *f,
               gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->home = ph_make_tmp_dir ("pinhole-test-XXXXXX");
  f->server = ph_server_start (&error);
  g_assert_no_error (error);
  if (f->server != NULL)
    f->server_pid = g_strdup (ph_proc_get_pid (f->server->proc));
}

static void
fixture_teardown (Fixture      *f,
                  gconstpointer data)
{
  g_clear_pointer (&f->listen, ph_proc_free);
  g_clear_pointer (&f->server, ph_server_free);
  g_clear_pointer (&f->server_pid, g_free);
  ph_remove_tree (f->home);
  g_clear_pointer (&f->home, g_free);
}

/* asserts that the process @pid, which ran @what, exited with 0 and that its valgrind log
 * reports no error and no definitely-lost block; prints the log when it does not */
static void
assert_clean (const char *what,
              const char *pid,
              int         status)
{
  g_autofree char *name = g_strdup_printf ("vg-%s.log", pid ? pid : "?");
  g_autofree char *path = g_build_filename (log_dir, name, NULL);
  g_autofree char *log = NULL;
  gboolean clean;

  g_test_message ("%s (pid %s) exited with %d under valgrind", what, pid, status);
  g_assert_nonnull (pid);
  if (!g_file_get_contents (path, &log, NULL, NULL))
    {
      g_test_fail_printf ("%s left no valgrind log %s", what, path);
      return;
    }
  clean = strstr (log, "ERROR SUMMARY: 0 errors") != NULL &&
          strstr (log, "definitely lost: 0 bytes in 0 blocks") != NULL;
  if (status != 0 || !clean)
    g_test_message ("valgrind's log of %s:\n%s", what, log);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (log, "ERROR SUMMARY: 0 errors"));
  g_assert_nonnull (strstr (log, "definitely lost: 0 bytes in 0 blocks"));
}

/* runs `pinhole-cli [--server URL] --profile HOME/USER --json ARGS… NULL` to its end and
 * asserts that it ran clean; Returns: (transfer full) */
static PhResult * G_GNUC_NULL_TERMINATED
cli (Fixture    *f,
     const char *user,
     gboolean    registering,
     ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *dir = g_build_filename (f->home, user, NULL);
  g_autofree char *password = g_strconcat ("password-of-", user, NULL);
  g_autofree char *what = NULL;
  PhResult *r;
  const char *arg;
  va_list ap;

  va_start (ap, registering);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  r = ph_cli_run (registering ? f->server->url : NULL, dir, registering ? password : NULL, NULL,
                  (const char *const *) args->pdata);
  what = g_strjoinv (" ", (char **) args->pdata);
  assert_clean (what, r->pid, r->status);
  return r;
}

static void
test_cli_runs (Fixture      *f,
               gconstpointer data)
{
  g_autofree char *bob_dir = g_build_filename (f->home, "bob", NULL);
  const char *listen[] = { "listen", NULL };
  g_autofree char *listen_pid = NULL;
  g_autoptr(PhResult) r = NULL;
  guint cursor = 0;
  int status = -1;

  ph_return_if_failed ();
  r = cli (f, "alice", TRUE, "register", "alice", NULL);
  g_clear_pointer (&r, ph_result_free);
  r = cli (f, "bob", TRUE, "register", "bob", NULL);
  g_clear_pointer (&r, ph_result_free);
  r = cli (f, "alice", FALSE, "add", "bob", NULL);
  g_clear_pointer (&r, ph_result_free);
  r = cli (f, "bob", FALSE, "accept", "alice", NULL);
  /* bob is offline: sealed and stored on the server */
  g_clear_pointer (&r, ph_result_free);
  r = cli (f, "alice", FALSE, "send", "bob", "while you were away", NULL);
  ph_return_if_failed ();

  f->listen = ph_cli_spawn (NULL, bob_dir, NULL, FALSE, listen);
  g_assert_nonnull (f->listen);
  ph_return_if_failed ();
  listen_pid = g_strdup (ph_proc_get_pid (f->listen));
  g_assert_nonnull (ph_proc_wait_named (f->listen, &cursor, "message", "text",
                                        "while you were away",
                                        VALGRIND_SLOWDOWN * PH_EVENT_MS));
  ph_return_if_failed ();
  /* live, over the relay session, and the path to a listening contact */
  g_clear_pointer (&r, ph_result_free);
  r = cli (f, "alice", FALSE, "send", "bob", "live", NULL);
  g_assert_nonnull (ph_proc_wait_named (f->listen, &cursor, "message", "text", "live",
                                        VALGRIND_SLOWDOWN * PH_EVENT_MS));
  g_clear_pointer (&r, ph_result_free);
  r = cli (f, "alice", FALSE, "path", "bob", "--count", "1", NULL);
  g_assert_cmpuint (ph_result_count (r, "path"), ==, 1);
  g_assert_true (ph_proc_stop (f->listen));
  assert_clean ("listen (SIGTERM)", listen_pid, f->listen->status);
  ph_return_if_failed ();

  g_clear_pointer (&r, ph_result_free);
  r = cli (f, "alice", FALSE, "contacts", NULL);
  g_assert_cmpuint (ph_result_count (r, "contact"), ==, 1);
  g_clear_pointer (&r, ph_result_free);
  r = cli (f, "bob", FALSE, "history", "alice", NULL);
  g_assert_cmpuint (ph_result_count (r, "history"), ==, 2);

  g_assert_true (ph_server_stop (f->server, &status));
  assert_clean ("pinhole-server (SIGTERM)", f->server_pid, status);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *valgrind = g_find_program_in_path ("valgrind");
  g_autofree char *log_file = NULL;
  g_autofree char *supp_file = NULL;
  g_autofree char *suppressions = NULL;
  g_autofree char *error_status = g_strdup_printf ("--error-exitcode=%d",
                                                   VALGRIND_ERROR_STATUS);
  int status;

  g_test_init (&argc, &argv, NULL);
  /* a failed check ends its test through the fixture's teardown, which stops every process */
  g_test_set_nonfatal_assertions ();
  /* GLib 2.74's slice allocator hides freed and leaked blocks from memcheck */
  g_setenv ("G_SLICE", "always-malloc", TRUE);
  log_dir = ph_make_tmp_dir ("pinhole-valgrind-XXXXXX");
  log_file = g_strdup_printf ("--log-file=%s/vg-%%p.log", log_dir ? log_dir : ".");
  supp_file = g_test_build_filename (G_TEST_DIST, "valgrind.supp", NULL);
  suppressions = g_strconcat ("--suppressions=", supp_file, NULL);
  if (valgrind != NULL)
    {
      const char *wrapper[] = { valgrind, "--leak-check=full", "--errors-for-leak-kinds=definite",
                                "--show-leak-kinds=definite", error_status,
                                "--gen-suppressions=all", "--num-callers=40", suppressions,
                                log_file, NULL };

      ph_set_wrapper (wrapper, VALGRIND_SLOWDOWN);
      g_test_add ("/integration/valgrind/cli-runs", Fixture, NULL, fixture_setup,
                  test_cli_runs, fixture_teardown);
    }
  else
    g_test_add_data_func ("/integration/valgrind/cli-runs",
                          "valgrind (Debian package valgrind) is not installed",
                          (GTestDataFunc) ph_test_missing);
  status = g_test_run ();
  ph_set_wrapper (NULL, 1);
  ph_remove_tree (log_dir);
  g_free (log_dir);
  return status;
}
