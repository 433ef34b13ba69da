/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-key-text.h: a safety number laid out to be read aloud and compared: groups of five
 * digits in even lines. No GTK: the unit tests check it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *pinhole_key_text_layout (const char *number);

G_END_DECLS
