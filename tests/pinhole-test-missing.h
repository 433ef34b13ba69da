/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-missing.h: what a test does when something it needs is not on the machine
 * (a tool, network namespaces, root). It fails and names what is missing, so that a missing
 * install step can never hide behind a green run; whoever runs the tests on a machine that
 * cannot have it may choose to skip instead with PINHOLE_TEST_ALLOW_SKIP=1. */
#pragma once

#include <glib.h>

static inline gboolean
ph_test_skips_allowed (void)
{
  return g_strcmp0 (g_getenv ("PINHOLE_TEST_ALLOW_SKIP"), "1") == 0;
}

/* ends nothing by itself: the caller returns from the test after it */
static inline void
ph_test_missing (const char *what)
{
  if (ph_test_skips_allowed ())
    g_test_skip (what);
  else
    g_test_fail_printf ("%s (PINHOLE_TEST_ALLOW_SKIP=1 skips such tests instead)", what);
}
