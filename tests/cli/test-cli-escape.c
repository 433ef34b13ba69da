/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-cli-escape.c: cli_escape() shows every C0 and C1 control, DEL and malformed UTF-8 as a
 * visible escape and keeps every other character as it is. */
#include "cli-escape.h"

static void
assert_escape (const char *text,
               const char *expected)
{
  g_autofree char *escaped = cli_escape (text);

  g_assert_cmpstr (escaped, ==, expected);
}

static void
test_controls (void)
{
  assert_escape ("\033]0;title\007", "\\e]0;title\\x07");
  assert_escape ("\033[2J", "\\e[2J");
  assert_escape ("one\ntwo\r\n", "one\\ntwo\\r\\n");
  assert_escape ("a\tb", "a\\tb");
  assert_escape ("\001\010\037\177", "\\x01\\x08\\x1f\\x7f");
  /* C1: U+0080, CSI U+009B, U+009F */
  assert_escape ("\302\200\302\233" "31m\302\237", "\\u0080\\u009b31m\\u009f");
}

static void
test_every_control (void)
{
  for (gunichar c = 1; c <= 0xa0; c++)
    {
      char utf8[8] = { 0 };
      g_autofree char *escaped = NULL;

      if (c >= 0x20 && c < 0x7f)
        continue;
      g_unichar_to_utf8 (c, utf8);
      escaped = cli_escape (utf8);
      if (c == 0xa0)
        {
          /* NO-BREAK SPACE is printable */
          g_assert_cmpstr (escaped, ==, utf8);
          continue;
        }
      g_assert_cmpint (escaped[0], ==, '\\');
      for (const char *p = escaped; *p != '\0'; p++)
        g_assert_true (*p >= 0x20 && *p < 0x7f);
    }
}

static void
test_printable_kept (void)
{
  const char *text = "Grüße, Zoë! café naïve — 日本語 😀👍🏽 \\e is a backslash and an e ~";

  assert_escape (text, text);
  assert_escape ("", "");
}

static void
test_malformed (void)
{
  /* a lone C1 byte, a truncated sequence, an overlong ESC, a byte never in UTF-8 */
  assert_escape ("a\233b", "a\\x9bb");
  assert_escape ("\303", "\\xc3");
  assert_escape ("\300\233", "\\xc0\\x9b");
  assert_escape ("\377ok", "\\xffok");
  /* a valid character whose continuation byte is 0x9b stays */
  assert_escape ("\304\233", "\304\233");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/escape/controls", test_controls);
  g_test_add_func ("/cli/escape/every-control", test_every_control);
  g_test_add_func ("/cli/escape/printable-kept", test_printable_kept);
  g_test_add_func ("/cli/escape/malformed", test_malformed);
  return g_test_run ();
}
