/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-iterate.c: the waits the tests and benchmarks share (tests/pinhole-test-util.c). Once a
 * test case has failed, its later waits are cut short; but the benchmarks run outside any test
 * case, where GLib counts the run as failed, and their waits (an scp of a large file, say) must
 * last as long as asked. Measured before g_test_init() and inside a passing case. */
#include "pinhole-test-util.h"

#define WAIT_MS 1600

static gboolean
never (gpointer data)
{
  return FALSE;
}

/* Returns: how long a wait for something that never comes lasted, in ms */
static gint64
wait_ms (void)
{
  gint64 t0 = g_get_monotonic_time ();

  ph_iterate_until (never, NULL, WAIT_MS);
  return (g_get_monotonic_time () - t0) / 1000;
}

static gint64 outside_ms;

static void
test_outside (void)
{
  /* measured in main(), before any test case ran */
  g_assert_cmpint (outside_ms, >=, WAIT_MS - 50);
}

static void
test_inside (void)
{
  g_assert_cmpint (wait_ms (), >=, WAIT_MS - 50);
}

int
main (int    argc,
      char **argv)
{
  outside_ms = wait_ms ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/iterate/outside-a-test-waits-in-full", test_outside);
  g_test_add_func ("/iterate/passing-test-waits-in-full", test_inside);
  return g_test_run ();
}
