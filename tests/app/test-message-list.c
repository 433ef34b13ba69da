/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-message-list.c: the conversation's rows bound to a GListStore of PinholeMessage, as
 * the view binds a PinholeConversation: day headings, grouping, Retry, accessible names; and
 * the window of rows over a long history (PinholeMessageWindow), which stays bounded. */
#include <stdlib.h>
#include <string.h>

#include <gtk/gtk.h>

#include "pinhole-day-separator.h"
#include "pinhole-message-list.h"
#include "pinhole-message-row.h"
#include "pinhole-message-window.h"

/* local midnight of today, plus @hours (negative: earlier days) */
static gint64
today_at (double hours)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autoptr(GDateTime) midnight =
    g_date_time_new_local (g_date_time_get_year (now), g_date_time_get_month (now),
                           g_date_time_get_day_of_month (now), 0, 0, 0);

  return g_date_time_to_unix (midnight) + (gint64) (hours * 3600);
}

static void
add (GListStore              *store,
     const char              *id,
     PinholeMessageDirection  direction,
     const char              *text,
     gint64                   timestamp,
     PinholeMessageState      state)
{
  g_autoptr(PinholeMessage) m = pinhole_message_new (id, direction, text, timestamp, state);

  g_list_store_append (store, m);
}

static PinholeMessageRow *
row_at (GtkListBox *box,
        int         index)
{
  GtkListBoxRow *row = gtk_list_box_get_row_at_index (box, index);

  g_assert_nonnull (row);
  return PINHOLE_MESSAGE_ROW (row);
}

/* the heading above row @index, or NULL */
static const char *
heading_at (GtkListBox *box,
            int         index)
{
  GtkWidget *header = gtk_list_box_row_get_header (GTK_LIST_BOX_ROW (row_at (box, index)));

  if (header == NULL)
    return NULL;
  g_assert_true (PINHOLE_IS_DAY_SEPARATOR (header));
  return pinhole_day_separator_get_text (PINHOLE_DAY_SEPARATOR (header));
}

static gboolean
is_grouped (GtkListBox *box,
            int         index)
{
  GtkStyleContext *style = gtk_widget_get_style_context (GTK_WIDGET (row_at (box, index)));

  return gtk_style_context_has_class (style, "grouped");
}

static const char *
accessible_name (GtkWidget *widget)
{
  return atk_object_get_name (gtk_widget_get_accessible (widget));
}

static GtkListBox *
new_bound_box (GListStore *store)
{
  GtkListBox *box = GTK_LIST_BOX (gtk_list_box_new ());

  g_object_ref_sink (box);
  /* a list box keeps its headers up to date only while it is visible */
  gtk_widget_show (GTK_WIDGET (box));
  pinhole_message_list_bind (box, G_LIST_MODEL (store), "alice");
  return box;
}

static void
test_day_headings (void)
{
  g_autoptr(GListStore) store = g_list_store_new (PINHOLE_TYPE_MESSAGE);
  g_autoptr(GtkListBox) box = NULL;
  g_autoptr(PinholeMessage) older = NULL;

  add (store, "1", PINHOLE_MESSAGE_DIRECTION_IN, "hello", today_at (-14),
       PINHOLE_MESSAGE_STATE_RECEIVED);
  add (store, "2", PINHOLE_MESSAGE_DIRECTION_IN, "are you there?", today_at (-13.99),
       PINHOLE_MESSAGE_STATE_RECEIVED);
  add (store, "3", PINHOLE_MESSAGE_DIRECTION_OUT, "yes", today_at (-13.98),
       PINHOLE_MESSAGE_STATE_DELIVERED);
  add (store, "4", PINHOLE_MESSAGE_DIRECTION_OUT, "good morning", today_at (9),
       PINHOLE_MESSAGE_STATE_SENT);
  box = new_bound_box (store);

  g_assert_cmpstr (heading_at (box, 0), ==, "Yesterday");
  g_assert_null (heading_at (box, 1));
  g_assert_null (heading_at (box, 2));
  g_assert_cmpstr (heading_at (box, 3), ==, "Today");

  /* a run from one side groups; a new side or a new day does not */
  g_assert_false (is_grouped (box, 0));
  g_assert_true (is_grouped (box, 1));
  g_assert_false (is_grouped (box, 2));
  g_assert_false (is_grouped (box, 3));

  /* an older page goes in at the top: it gets its heading, and the old first row keeps its */
  older = pinhole_message_new ("0", PINHOLE_MESSAGE_DIRECTION_OUT, "long ago", today_at (-24 * 40),
                               PINHOLE_MESSAGE_STATE_DELIVERED);
  g_list_store_insert (store, 0, older);
  g_assert_nonnull (heading_at (box, 0));
  g_assert_cmpstr (heading_at (box, 0), !=, "Yesterday");
  g_assert_cmpstr (heading_at (box, 1), ==, "Yesterday");

  /* a message of the same day at the top takes the heading from the row below it */
  g_list_store_remove (store, 0);
  add (store, "5", PINHOLE_MESSAGE_DIRECTION_OUT, "later", today_at (9.5),
       PINHOLE_MESSAGE_STATE_QUEUED);
  g_assert_cmpstr (heading_at (box, 0), ==, "Yesterday");
  g_assert_null (heading_at (box, 4));
}

static void
test_failed_has_retry (void)
{
  g_autoptr(GListStore) store = g_list_store_new (PINHOLE_TYPE_MESSAGE);
  g_autoptr(GtkListBox) box = NULL;
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (today_at (14.05));
  g_autofree char *time = g_date_time_format (dt, "%H:%M");
  g_autofree char *theirs = g_strdup_printf ("alice, %s: hello", time);
  g_autofree char *ours = g_strdup_printf ("You, %s: hi, delivered", time);
  PinholeMessage *failed;
  GtkWidget *retry;
  GVariant *target;

  add (store, "a", PINHOLE_MESSAGE_DIRECTION_IN, "hello", today_at (14.05),
       PINHOLE_MESSAGE_STATE_RECEIVED);
  add (store, "b", PINHOLE_MESSAGE_DIRECTION_OUT, "hi", today_at (14.05),
       PINHOLE_MESSAGE_STATE_DELIVERED);
  add (store, "c", PINHOLE_MESSAGE_DIRECTION_OUT, "are you?", today_at (14.06),
       PINHOLE_MESSAGE_STATE_QUEUED);
  box = new_bound_box (store);

  g_assert_cmpstr (accessible_name (GTK_WIDGET (row_at (box, 0))), ==, theirs);
  g_assert_cmpstr (accessible_name (GTK_WIDGET (row_at (box, 1))), ==, ours);
  g_assert_null (pinhole_message_row_get_retry (row_at (box, 0)));
  g_assert_null (pinhole_message_row_get_retry (row_at (box, 2)));

  /* the state notifies: the same row turns into a failed one with Retry */
  failed = pinhole_message_row_get_message (row_at (box, 2));
  pinhole_message_set_state (failed, PINHOLE_MESSAGE_STATE_FAILED, "the key changed");
  retry = pinhole_message_row_get_retry (row_at (box, 2));
  g_assert_nonnull (retry);
  g_assert_true (GTK_IS_BUTTON (retry));
  g_assert_cmpstr (accessible_name (retry), ==, "Retry");
  g_assert_cmpint (atk_object_get_role (gtk_widget_get_accessible (retry)), ==,
                   ATK_ROLE_PUSH_BUTTON);
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (retry)), ==,
                   "conversation.retry");
  target = gtk_actionable_get_action_target_value (GTK_ACTIONABLE (retry));
  g_assert_cmpstr (g_variant_get_string (target, NULL), ==, "c");
  g_assert_nonnull (strstr (accessible_name (GTK_WIDGET (row_at (box, 2))), "the key changed"));
}

static void
test_day_words (void)
{
  gint64 now = today_at (12);
  g_autoptr(GDateTime) three = g_date_time_new_from_unix_local (today_at (-24 * 3 + 12));
  g_autofree char *weekday = g_date_time_format (three, "%A");
  g_autofree char *today = pinhole_day_describe (today_at (0.01), now);
  g_autofree char *yesterday = pinhole_day_describe (today_at (-0.01), now);
  g_autofree char *third = pinhole_day_describe (today_at (-24 * 3 + 12), now);
  g_autofree char *old = pinhole_day_describe (today_at (-24 * 400), now);

  g_assert_cmpstr (today, ==, "Today");
  g_assert_cmpstr (yesterday, ==, "Yesterday");
  g_assert_cmpstr (third, ==, weekday);
  /* beyond a week, the date, with its year when it is another one */
  g_assert_nonnull (strpbrk (old, "0123456789"));
  g_assert_cmpint (pinhole_day_of (today_at (1)), ==, pinhole_day_of (today_at (23)));
  g_assert_cmpint (pinhole_day_of (today_at (-1)), <, pinhole_day_of (today_at (1)));
}

/* a conversation of HISTORY messages "0".."HISTORY-1", oldest first, of which the store holds
 * the newest ones read so far; read_older() puts a page more at its start, as
 * pinhole_conversation_load_older() does */
#define HISTORY 1000
#define PAGE 50
#define BOUND 200

typedef struct
{
  GListStore *store;
  guint       unread;    /* how many of the history are not in the store yet */
} History;

static void
read_older (History *h)
{
  guint count = MIN (PAGE, h->unread);
  g_autoptr(GPtrArray) page = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = h->unread - count; i < h->unread; i++)
    {
      g_autofree char *id = g_strdup_printf ("%u", i);

      g_ptr_array_add (page, pinhole_message_new (id, i % 3 ? PINHOLE_MESSAGE_DIRECTION_OUT
                                                              : PINHOLE_MESSAGE_DIRECTION_IN,
                                                  "a line of an ordinary conversation",
                                                  today_at (-24 * 30) + i * 60,
                                                  i % 3 ? PINHOLE_MESSAGE_STATE_DELIVERED
                                                        : PINHOLE_MESSAGE_STATE_RECEIVED));
    }
  h->unread -= count;
  g_list_store_splice (h->store, 0, 0, page->pdata, page->len);
}

static guint
row_id (GtkListBox *box,
        int         index)
{
  return (guint) atoi (pinhole_message_get_id (pinhole_message_row_get_message (
                         row_at (box, index))));
}

/* the rows are the window's messages, in order, none twice, none missing between the first
 * and the last, and no more of them than the bound; @seen counts each message shown */
static void
check_rows (GtkListBox           *box,
            PinholeMessageWindow *window,
            GListStore           *store,
            guint                *seen)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (window));
  guint start = pinhole_message_window_get_start (window);
  g_autoptr(PinholeMessage) first = NULL;

  g_assert_cmpuint (n, >, 0);
  g_assert_cmpuint (n, <=, BOUND);
  g_assert_null (gtk_list_box_get_row_at_index (box, n));
  first = g_list_model_get_item (G_LIST_MODEL (store), start);
  g_assert_true (pinhole_message_row_get_message (row_at (box, 0)) == first);
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpuint (row_id (box, i), ==, row_id (box, 0) + i);
      seen[row_id (box, i)]++;
    }
}

static void
test_window_bounded (void)
{
  History h = { g_list_store_new (PINHOLE_TYPE_MESSAGE), HISTORY };
  g_autoptr(PinholeMessageWindow) window = NULL;
  g_autoptr(GtkListBox) box = GTK_LIST_BOX (gtk_list_box_new ());
  g_autoptr(PinholeMessage) live = NULL;
  g_autofree guint *seen = g_new0 (guint, HISTORY);
  guint steps = 0;

  g_object_ref_sink (box);
  gtk_widget_show (GTK_WIDGET (box));
  read_older (&h);
  window = pinhole_message_window_new (G_LIST_MODEL (h.store), BOUND);
  pinhole_message_list_bind (box, G_LIST_MODEL (window), "alice");
  pinhole_message_window_show_latest (window, PAGE);
  check_rows (box, window, h.store, seen);
  g_assert_cmpuint (row_id (box, 0), ==, HISTORY - PAGE);
  g_assert_true (pinhole_message_window_get_at_end (window));

  /* up to the first message, a page at a time, reading the history as the view does */
  while (h.unread > 0 || pinhole_message_window_get_start (window) > 0)
    {
      if (pinhole_message_window_get_start (window) == 0)
        read_older (&h);
      g_assert_cmpuint (pinhole_message_window_show_older (window, PAGE), ==, PAGE);
      check_rows (box, window, h.store, seen);
      steps++;
    }
  g_assert_cmpuint (steps, ==, HISTORY / PAGE - 1);
  g_assert_cmpuint (row_id (box, 0), ==, 0);
  g_assert_false (pinhole_message_window_get_at_end (window));
  g_assert_cmpuint (pinhole_message_window_show_older (window, PAGE), ==, 0);

  /* a message that comes in now is not in the window, which does not reach the end */
  live = pinhole_message_new ("1000", PINHOLE_MESSAGE_DIRECTION_IN, "new", today_at (0.5),
                              PINHOLE_MESSAGE_STATE_RECEIVED);
  g_list_store_append (h.store, live);
  check_rows (box, window, h.store, seen);
  g_assert_cmpuint (row_id (box, 0), ==, 0);

  /* and back down from what is read already, to the live end */
  while (!pinhole_message_window_get_at_end (window))
    {
      g_assert_cmpuint (pinhole_message_window_show_newer (window, PAGE), >, 0);
      check_rows (box, window, h.store, seen);
    }
  g_assert_cmpuint (row_id (box, g_list_model_get_n_items (G_LIST_MODEL (window)) - 1), ==,
                    HISTORY);

  /* every message of the history was a row, on the way up and again on the way down */
  for (guint i = 0; i < HISTORY; i++)
    g_assert_cmpuint (seen[i], >=, 2);

  /* at the end, appended messages come in and the oldest rows go */
  for (guint i = 1; i <= 10; i++)
    {
      g_autofree char *id = g_strdup_printf ("%u", HISTORY + i);
      g_autoptr(PinholeMessage) m = pinhole_message_new (id, PINHOLE_MESSAGE_DIRECTION_OUT,
                                                         "more", today_at (0.6),
                                                         PINHOLE_MESSAGE_STATE_QUEUED);

      g_list_store_append (h.store, m);
      g_assert_cmpuint (row_id (box, g_list_model_get_n_items (G_LIST_MODEL (window)) - 1), ==,
                        HISTORY + i);
      g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (window)), ==, BOUND);
    }

  /* the jump to the end: the newest page alone */
  pinhole_message_window_show_older (window, 3 * PAGE);
  pinhole_message_window_show_latest (window, PAGE);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (window)), ==, PAGE);
  g_assert_cmpuint (row_id (box, PAGE - 1), ==, HISTORY + 10);
  g_object_unref (h.store);
}

int
main (int   argc,
      char *argv[])
{
  /* the words under test are the untranslated ones */
  g_setenv ("LANGUAGE", "C", TRUE);
  gtk_test_init (&argc, &argv, NULL);

  g_test_add_func ("/app/message-list/day-headings", test_day_headings);
  g_test_add_func ("/app/message-list/failed-has-retry", test_failed_has_retry);
  g_test_add_func ("/app/message-list/day-words", test_day_words);
  g_test_add_func ("/app/message-list/window-bounded", test_window_bounded);
  return g_test_run ();
}
