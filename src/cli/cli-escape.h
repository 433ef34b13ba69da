/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-escape.h: makes text from the network safe to print on a terminal. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *cli_escape (const char *text);

G_END_DECLS
