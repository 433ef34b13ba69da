/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-util.c: bounded main-context waits and temporary folders for every test
 * program (tests/core, tests/server, tests/integration, tests/natlab). */
/* nftw() */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-util.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>

/* a safety bound beside the deadline, for a condition source that wakes the loop for ever */
#define MAX_ITERATIONS 20000000
/* once the running test has failed (with nonfatal assertions it carries on to its teardown),
 * a wait lasts at most this long: the later steps of a broken test, each waiting its whole
 * timeout for what will not come, made a failure cost minutes */
#define AFTER_FAILURE_MS 1000

/* ---- waiting ---- */

static gboolean
set_flag_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* whether a test case runs and has failed: outside one (in the benchmarks, which share this
 * file) g_test_failed() is TRUE, since GLib counts a run as failed until a test passes */
static gboolean
running_test_failed (void)
{
  const char *path = g_test_get_path ();

  return path != NULL && *path != '\0' && g_test_failed ();
}

/**
 * ph_iterate_context_until:
 * @context: (nullable): the context to iterate, %NULL for the default one
 * Iterates @context until @done returns TRUE or @timeout_ms pass (at most AFTER_FAILURE_MS
 * once the running test has failed).
 * Returns: what @done returns at the end
 */
gboolean
ph_iterate_context_until (GMainContext    *context,
                          PhTestCondition  done,
                          gpointer         data,
                          guint            timeout_ms)
{
  gboolean expired = FALSE;
  GSource *deadline;
  guint n = 0;

  if (done (data))
    return TRUE;
  if (running_test_failed ())
    timeout_ms = MIN (timeout_ms, AFTER_FAILURE_MS);
  deadline = g_timeout_source_new (timeout_ms);
  g_source_set_callback (deadline, set_flag_cb, &expired, NULL);
  g_source_attach (deadline, context);
  while (!done (data) && !expired && n++ < MAX_ITERATIONS)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (deadline);
  g_source_unref (deadline);
  return done (data);
}

/* iterates the default main context until @done returns TRUE or @timeout_ms pass;
 * Returns: what @done returns at the end */
gboolean
ph_iterate_until (PhTestCondition done,
                  gpointer        data,
                  guint           timeout_ms)
{
  return ph_iterate_context_until (NULL, done, data, timeout_ms);
}

static gboolean
flag_set (gpointer data)
{
  return *(const gboolean *) data;
}

/* iterates @context until *@flag is set or @timeout_ms pass; Returns: *@flag */
gboolean
ph_wait_flag_in (GMainContext   *context,
                 const gboolean *flag,
                 guint           timeout_ms)
{
  return ph_iterate_context_until (context, flag_set, (gpointer) flag, timeout_ms);
}

/* iterates the default main context until *@flag is set or @timeout_ms pass */
gboolean
ph_wait_flag (const gboolean *flag,
              guint           timeout_ms)
{
  return ph_wait_flag_in (NULL, flag, timeout_ms);
}

static gboolean
pointer_set (gpointer data)
{
  return *(gpointer const *) data != NULL;
}

/* iterates the default main context until *@pointer is set (an async result, say) or
 * @timeout_ms pass; Returns: whether it is set */
gboolean
ph_wait_pointer (gpointer const *pointer,
                 guint           timeout_ms)
{
  return ph_iterate_context_until (NULL, pointer_set, (gpointer) pointer, timeout_ms);
}

/* iterates the default main context for @ms */
void
ph_iterate_for (guint ms)
{
  const gboolean never = FALSE;

  ph_wait_flag (&never, ms);
}

/* ---- temporary folders ---- */

/* Returns: (transfer full): a new folder under the temporary folder; the test fails without */
char *
ph_make_tmp_dir (const char *tmpl)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp (tmpl, &error);

  if (dir == NULL)
    g_test_fail_printf ("cannot make a temporary folder: %s", error->message);
  return dir;
}

static gboolean remove_failed;

static int
remove_cb (const char        *path,
           const struct stat *st,
           int                flag,
           struct FTW        *ftw)
{
  if (remove (path) != 0)
    {
      remove_failed = TRUE;
      g_test_message ("cannot remove %s: %s", path, g_strerror (errno));
    }
  return 0;
}

/* removes @path and everything under it, without following symbolic links;
 * Returns: whether all of it went (and it was there) */
gboolean
ph_remove_tree (const char *path)
{
  if (path == NULL)
    return FALSE;
  remove_failed = FALSE;
  return nftw (path, remove_cb, 16, FTW_DEPTH | FTW_PHYS) == 0 && !remove_failed;
}
