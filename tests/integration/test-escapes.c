/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-escapes.c: loopback tests of what pinhole-cli prints of text from the network: a
 * contact's terminal escapes (title, clear screen, C1 CSI), newlines and DEL reach `listen`
 * and `history` as visible escapes on one line, printable Unicode unchanged, and history
 * --json still carries the text exactly; an error naming such text is escaped too. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-fixture.h"

#include <string.h>

typedef struct
{
  const char *text;      /* what bob sends */
  const char *shown;     /* what the plain-text output shows of it */
} Message;

static const Message messages[] = {
  { "\033]0;pwned\007title", "\\e]0;pwned\\x07title" },
  { "\033[2Jcleared", "\\e[2Jcleared" },
  { "\302\233" "31mred", "\\u009b31mred" },
  { "Grüße, Zoë! café 😀👍🏽 日本語", "Grüße, Zoë! café 😀👍🏽 日本語" },
  { "line one\nline two", "line one\\nline two" },
  { "tab\there\177 é\r", "tab\\there\\x7f é\\r" },
};

static const PhCliOptions text_output = { NULL, TRUE };

/* a line of plain-text output holds no control character: no C0 (the harness took the line
 * end), no DEL, no C1, and is valid UTF-8 */
static void
assert_printable (const char *line)
{
  g_assert_true (g_utf8_validate (line, -1, NULL));
  for (const char *p = line; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (c < 0x20 || c == 0x7f)
        g_test_fail_printf ("byte 0x%02x in the line \"%s\"", c, line);
    }
  if (!g_utf8_validate (line, -1, NULL))
    return;
  for (const char *p = line; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar u = g_utf8_get_char (p);

      if (u >= 0x80 && u <= 0x9f)
        g_test_fail_printf ("U+%04X in the line \"%s\"", u, line);
    }
}

/* Returns: whether some line of @lines is "[TIME] FROM: SHOWN" followed by @tail */
static gboolean
has_message_line (GPtrArray  *lines,
                  const char *from,
                  const char *shown,
                  const char *tail)
{
  g_autofree char *suffix = g_strdup_printf ("] %s: %s%s", from, shown, tail);

  for (guint i = 0; i < lines->len; i++)
    {
      const char *line = g_ptr_array_index (lines, i);

      if (line[0] == '[' && g_str_has_suffix (line, suffix) &&
          strchr (line, ']') == line + strlen (line) - strlen (suffix))
        return TRUE;
    }
  return FALSE;
}

typedef struct
{
  PhProc     *proc;
  const char *prefix;
  const char *shown;    /* with prefix NULL: a message line from bob */
} LineWait;

static gboolean
line_seen (gpointer data)
{
  LineWait *w = data;

  if (w->proc->out_eof)
    return TRUE;
  if (w->prefix == NULL)
    return has_message_line (w->proc->lines, "bob", w->shown, "");
  for (guint i = 0; i < w->proc->lines->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (w->proc->lines, i), w->prefix))
      return TRUE;
  return FALSE;
}

/* alice's plain-text listen, once it is online */
static PhProc *
listen_text (PhFixture *f)
{
  const char *args[] = { "listen", NULL };
  PhProc *p = ph_fixture_spawn (f, "alice", &text_output, args);
  LineWait w = { p, "online as alice (device ", NULL };

  if (p == NULL)
    return NULL;
  if (!ph_iterate_until (line_seen, &w, PH_EVENT_MS) || p->out_eof)
    g_test_fail_printf ("alice's plain-text listen did not come online: %s", p->err_text->str);
  return p;
}

static void
assert_history (PhFixture *f)
{
  const char *args[] = { "history", "bob", NULL };
  g_autoptr(PhResult) text = ph_fixture_cli_with (f, "alice", NULL, NULL, &text_output, args);
  g_autoptr(PhResult) json = ph_fixture_cli (f, "alice", "history", "bob", NULL);
  g_auto(GStrv) lines = g_strsplit (text->out, "\n", -1);
  g_autoptr(GPtrArray) shown = g_ptr_array_new ();

  g_assert_cmpint (text->status, ==, 0);
  g_assert_cmpint (json->status, ==, 0);
  /* every message is one line, and the output ends with a line end */
  g_assert_cmpuint (g_strv_length (lines), ==, G_N_ELEMENTS (messages) + 1);
  g_assert_cmpstr (lines[G_N_ELEMENTS (messages)], ==, "");
  for (guint i = 0; lines[i] != NULL; i++)
    {
      assert_printable (lines[i]);
      g_ptr_array_add (shown, lines[i]);
    }
  assert_printable (text->err);
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      JsonObject *event = i < json->events->len ? g_ptr_array_index (json->events, i) : NULL;

      if (!has_message_line (shown, "bob", messages[i].shown, ""))
        g_test_fail_printf ("history does not show \"%s\":\n%s", messages[i].shown, text->out);
      g_assert_nonnull (event);
      if (event != NULL)
        g_assert_cmpstr (ph_event_string (event, "text"), ==, messages[i].text);
    }
}

/* bob sends alice terminal escapes: her plain-text listen and history show them escaped, one
 * line each, and her history --json gives the text as it was sent */
static void
test_messages (PhFixture    *f,
               gconstpointer data)
{
  PhProc *text;

  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  ph_fixture_register (f, "bob");
  ph_fixture_contacts (f, "alice", "bob");
  text = listen_text (f);
  ph_return_if_failed ();

  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      g_autoptr(PhResult) r = ph_fixture_cli (f, "bob", "send", "alice", messages[i].text,
                                              NULL);

      g_assert_cmpint (r->status, ==, 0);
    }
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      LineWait w = { text, NULL, messages[i].shown };

      if (!ph_iterate_until (line_seen, &w, PH_EVENT_MS) || text->out_eof)
        g_test_fail_printf ("listen did not show \"%s\"", messages[i].shown);
    }
  ph_return_if_failed ();
  g_assert_true (ph_proc_stop (text));
  /* one line per event: the online line and the messages, perhaps presence, all printable */
  for (guint i = 0; i < text->lines->len; i++)
    assert_printable (g_ptr_array_index (text->lines, i));
  assert_printable (text->err_text->str);
  ph_return_if_failed ();
  assert_history (f);
}

/* an error that names what the user gave is escaped too: one line on standard error */
static void
test_error (PhFixture    *f,
            gconstpointer data)
{
  const char *args[] = { "send", "ev\033]0;x\007il\n\302\233", "hi", NULL };
  g_autoptr(PhResult) r = NULL;

  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  ph_return_if_failed ();
  r = ph_fixture_cli_with (f, "alice", NULL, NULL, &text_output, args);
  g_assert_cmpint (r->status, ==, 1);
  g_assert_cmpstr (r->err, ==, "pinhole-cli: ev\\e]0;x\\x07il\\n\\u009b is not your contact\n");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
#define ADD(path, func) \
  g_test_add (path, PhFixture, NULL, ph_fixture_setup, func, ph_fixture_teardown)
  ADD ("/integration/escapes/messages", test_messages);
  ADD ("/integration/escapes/error", test_error);
#undef ADD
  return g_test_run ();
}
