/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-escape.c: shows the control characters in text from the network as visible escapes, so
 * that a contact's message, a name or a server's error cannot drive the terminal (set its
 * title, clear it, move the cursor) nor split one event over several lines. */
#define G_LOG_DOMAIN "pinhole-cli"

#include "cli-escape.h"

#include <string.h>

/**
 * cli_escape:
 * @text: UTF-8 text, possibly malformed
 *
 * Escapes the C0 controls (tab `\t`, newline `\n`, carriage return `\r`, ESC `\e`, the others
 * `\x07`), DEL (`\x7f`), the C1 controls U+0080–U+009F (`\u009b`) and each byte that is not
 * part of valid UTF-8 (`\xff`). Everything else, printable Unicode and backslashes included,
 * is kept as it is.
 *
 * Returns: (transfer full): the text to print
 */
char *
cli_escape (const char *text)
{
  const char *p = text;
  const char *end = text + strlen (text);
  GString *out = g_string_sized_new ((gsize) (end - text));

  while (p < end)
    {
      guchar c = (guchar) *p;

      if (c >= 0x80)
        {
          gunichar u = g_utf8_get_char_validated (p, end - p);

          if (u == (gunichar) -1 || u == (gunichar) -2)
            {
              /* a lone 0x9b byte is CSI to a terminal that is not in UTF-8 mode */
              g_string_append_printf (out, "\\x%02x", c);
              p++;
              continue;
            }
          if (u <= 0x9f)
            g_string_append_printf (out, "\\u%04x", u);
          else
            g_string_append_len (out, p, g_utf8_next_char (p) - p);
          p = g_utf8_next_char (p);
          continue;
        }
      switch (c)
        {
        case '\t':
          g_string_append (out, "\\t");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case 0x1b:
          g_string_append (out, "\\e");
          break;
        default:
          if (c < 0x20 || c == 0x7f)
            g_string_append_printf (out, "\\x%02x", c);
          else
            g_string_append_c (out, (char) c);
        }
      p++;
    }
  return g_string_free (out, FALSE);
}
