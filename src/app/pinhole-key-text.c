/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-key-text.c: a safety number's groups in even lines, so that two people compare it
 * line by line: six groups (a device fingerprint) as two lines of three, twelve (a pair's
 * safety number) as three lines of four. */
#include "pinhole-key-text.h"

/* Returns: (transfer full): @number's groups, single-spaced, a newline between lines */
char *
pinhole_key_text_layout (const char *number)
{
  g_auto(GStrv) groups = g_strsplit_set (number, " \n", -1);
  GString *out = g_string_new (NULL);
  guint n = 0, per_line;

  for (guint i = 0; groups[i] != NULL; i++)
    if (*groups[i] != '\0')
      n++;
  per_line = n == 6 ? 3 : 4;
  n = 0;
  for (guint i = 0; groups[i] != NULL; i++)
    {
      if (*groups[i] == '\0')
        continue;
      if (n > 0)
        g_string_append_c (out, n % per_line == 0 ? '\n' : ' ');
      g_string_append (out, groups[i]);
      n++;
    }
  return g_string_free (out, FALSE);
}
