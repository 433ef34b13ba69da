/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-loop.h: waiting in tests without sleep(): iterate the default main context until
 * a condition holds or a deadline passes, bounded in iterations too. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef gboolean (*PinholeTestCondition) (gpointer data);

gboolean pinhole_test_iterate_until (PinholeTestCondition condition,
                                     gpointer             data,
                                     guint                timeout_ms);
void     pinhole_test_iterate_for   (guint                ms);

G_END_DECLS
