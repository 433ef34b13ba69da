/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-loop.c: bounded main-loop waits for tests. */
#include "pinhole-test-loop.h"

/* a safety bound beside the deadline, for a condition source that wakes the loop for ever */
#define MAX_ITERATIONS 20000000

static gboolean
deadline_cb (gpointer user_data)
{
  gboolean *expired = user_data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

/* iterates the default main context until @condition holds or @timeout_ms pass; returns it */
gboolean
pinhole_test_iterate_until (PinholeTestCondition condition,
                            gpointer             data,
                            guint                timeout_ms)
{
  gboolean expired = FALSE;
  guint source = g_timeout_add (timeout_ms, deadline_cb, &expired);
  guint n = 0;
  gboolean ok;

  while (!(ok = condition (data)) && !expired && n++ < MAX_ITERATIONS)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (source);
  return ok;
}

/* iterates the default main context for @ms */
void
pinhole_test_iterate_for (guint ms)
{
  gboolean expired = FALSE;
  guint n = 0;

  g_timeout_add (ms, deadline_cb, &expired);
  while (!expired && n++ < MAX_ITERATIONS)
    g_main_context_iteration (NULL, TRUE);
}
