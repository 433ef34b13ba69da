/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-natlab-helper.h: test-natlab's traffic helper (test-natlab-helper.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* `--helper MODE ARGS…`: argv[2] is the mode; Returns: the exit status */
int natlab_helper_main (int    argc,
                        char **argv);

G_END_DECLS
