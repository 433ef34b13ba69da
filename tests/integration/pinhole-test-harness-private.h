/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-harness-private.h: what the harness's files share and its tests do not call:
 * the tool every program runs under (ph_set_wrapper ()) and the deadlines it stretches. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

const char **_ph_wrapper_argv (void);
guint        _ph_scaled       (guint ms);

G_END_DECLS
