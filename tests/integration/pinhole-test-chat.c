/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-chat.c: the steps the chat tests share, on a PhFixture. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-chat.h"

/* stops a listen with SIGTERM, which must end it cleanly */
void
ph_chat_listen_stop (PhProc *p)
{
  g_assert_true (ph_proc_stop (p));
  g_assert_cmpint (p->status, ==, 0);
}

/* the texts of the "message" events from @from, in order of arrival */
GPtrArray *
ph_chat_received_texts (PhProc     *p,
                        const char *from)
{
  GPtrArray *texts = g_ptr_array_new ();

  for (guint i = 0; i < p->events->len; i++)
    {
      JsonObject *o = g_ptr_array_index (p->events, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (o, "event", NULL),
                     "message") == 0 &&
          g_strcmp0 (json_object_get_string_member_with_default (o, "from", NULL), from) == 0)
        g_ptr_array_add (texts, (gpointer) json_object_get_string_member (o, "text"));
    }
  return texts;
}

typedef struct
{
  PhProc     *p;
  const char *from;
  guint       count;
} TextsWait;

static gboolean
texts_reached (gpointer data)
{
  TextsWait *w = data;
  g_autoptr(GPtrArray) texts = ph_chat_received_texts (w->p, w->from);

  return texts->len >= w->count || w->p->out_eof;
}

gboolean
ph_chat_wait_texts (PhProc     *p,
                    const char *from,
                    guint       count,
                    guint       timeout_ms)
{
  TextsWait w = { p, from, count };
  g_autoptr(GPtrArray) texts = NULL;

  ph_iterate_until (texts_reached, &w, timeout_ms);
  texts = ph_chat_received_texts (p, from);
  return texts->len >= count;
}

/* every "sent" event reports the message delivered or stored; Returns: how many were live */
guint
ph_chat_check_sent (PhResult *r,
                    guint     expected,
                    guint    *stored)
{
  guint n = 0, live = 0;

  *stored = 0;
  for (guint i = 0; i < r->events->len; i++)
    {
      JsonObject *o = g_ptr_array_index (r->events, i);
      gint64 d, s;

      if (g_strcmp0 (ph_event_string (o, "event"), "sent") != 0)
        continue;
      n++;
      d = json_object_get_int_member_with_default (o, "delivered", -1);
      s = json_object_get_int_member_with_default (o, "stored", -1);
      g_assert_cmpint (d, >=, 0);
      g_assert_cmpint (s, >=, 0);
      g_assert_cmpint (d + s, >=, 1);
      live += d > 0;
      *stored += d == 0 && s > 0;
    }
  g_assert_cmpuint (n, ==, expected);
  return live;
}

void
ph_chat_send_live (PhFixture  *f,
                   const char *from,
                   const char *to,
                   PhProc     *listener,
                   const char *text)
{
  g_autoptr(PhResult) r = ph_fixture_cli_full (f, from, NULL, NULL, NULL, "send", to, text, NULL);
  JsonObject *sent = ph_result_event (r, "sent");
  guint cursor = 0;
  JsonObject *got;

  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (sent);
  if (sent != NULL)
    {
      g_assert_cmpstr (ph_event_string (sent, "to"), ==, to);
      g_assert_cmpint (json_object_get_int_member_with_default (sent, "delivered", 0), >=, 1);
    }
  got = ph_proc_wait_named (listener, &cursor, "message", "text", text, PH_EVENT_MS);
  g_assert_nonnull (got);
  g_assert_cmpstr (ph_event_string (got, "from"), ==, from);
}

char *
ph_chat_numbered_lines (const char *prefix,
                        guint       first,
                        guint       last)
{
  GString *s = g_string_new (NULL);

  for (guint i = first; i <= last; i++)
    g_string_append_printf (s, "%s %03u\n", prefix, i);
  return g_string_free (s, FALSE);
}

/* each of @texts is "PREFIX NNN" for NNN in 1..@n, exactly once and in order */
void
ph_chat_assert_numbered (GPtrArray  *texts,
                         const char *prefix,
                         guint       n)
{
  g_assert_cmpuint (texts->len, ==, n);
  for (guint i = 0; i < texts->len && i < n; i++)
    {
      g_autofree char *want = g_strdup_printf ("%s %03u", prefix, i + 1);
      g_assert_cmpstr (g_ptr_array_index (texts, i), ==, want);
    }
}
