/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-bench.c: see pinhole-bench.h. Each step waits for the frame after it to be painted
 * (GdkFrameClock "after-paint"), so the times include layout and drawing, not only the model.
 * Before it opens the conversation it waits for what the window leaves to its idle (the rest
 * of the contact list), so that the open and its RSS are those of a complete window. It pages
 * as a user does: it scrolls the conversation to its top, and the view brings in the next
 * page of history. Lines on standard output: "first-frame CPU", "settled-ms N CPU" (first
 * frame to idle), "open-ms N CPU" (CPU: the process's CPU time so far, in ms), "open-rss-kib N" (the conversation open, its first page drawn),
 * "scroll-ms N PAGES MESSAGES", "page-ms FIRST LAST" (the mean time of the first and of the
 * last ten pages), "rows N" (those the list holds at the end), "rss-kib N" (after paging). */
#define G_LOG_DOMAIN "pinhole-bench"

#include "pinhole-bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef enum { STEP_FIRST_FRAME, STEP_SETTLING, STEP_OPENED, STEP_PAGED, STEP_DONE } Step;

typedef struct
{
  PinholeWindow *window;   /* borrowed: quits with it */
  char          *user;
  Step           step;
  gint64         started_us;
  guint          pages;
  guint          seen;          /* messages read from the history when the last page drew */
  gint64         page_us;       /* when it did */
  GArray        *page_ms;       /* double: the time each page took */
  GtkWidget     *messages;      /* borrowed: the conversation's list */
  guint          max_messages;  /* PINHOLE_BENCH_MAX: stop paging at this many */
  gulong         handler;
} Bench;

/* the CPU time the process has used so far, all threads: on a shared machine it says more
 * than the wall clock about the app's own work */
static double
cpu_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static long
rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  line = strstr (status, "VmRSS:");
  return line ? strtol (line + 6, NULL, 10) : -1;
}

/* the conversation's list: the list box with the style class "messages" */
static GtkWidget *
find_messages (GtkWidget *widget)
{
  g_autoptr(GList) children = NULL;

  if (GTK_IS_LIST_BOX (widget) &&
      gtk_style_context_has_class (gtk_widget_get_style_context (widget), "messages"))
    return widget;
  if (!GTK_IS_CONTAINER (widget))
    return NULL;
  children = gtk_container_get_children (GTK_CONTAINER (widget));
  for (GList *l = children; l != NULL; l = l->next)
    {
      GtkWidget *found = find_messages (l->data);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static double
mean_ms (GArray *ms,
         guint   from,
         guint   count)
{
  double sum = 0;

  for (guint i = from; i < from + count; i++)
    sum += g_array_index (ms, double, i);
  return count > 0 ? sum / count : 0;
}

static int
count_rows (GtkListBox *box)
{
  int n = 0;

  while (gtk_list_box_get_row_at_index (box, n) != NULL)
    n++;
  return n;
}

/* what a user does to read further back: scroll to the top */
static void
scroll_to_top (Bench *bench)
{
  GtkWidget *scrolled = gtk_widget_get_ancestor (bench->messages, GTK_TYPE_SCROLLED_WINDOW);

  gtk_adjustment_set_value (
    gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled)), 0);
}

/* the window has done what it left for after its first frame (the rest of the contact
 * list): the user opens the conversation now */
static gboolean
settled_cb (gpointer user_data)
{
  Bench *bench = user_data;
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (bench->window));

  printf ("settled-ms %.1f %.1f\n", (g_get_monotonic_time () - bench->started_us) / 1000.0,
          cpu_ms ());
  fflush (stdout);
  bench->started_us = g_get_monotonic_time ();
  bench->step = STEP_OPENED;
  pinhole_window_open_conversation (bench->window, bench->user);
  gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
  return G_SOURCE_REMOVE;
}

static void
after_paint_cb (GdkFrameClock *clock,
                Bench         *bench)
{
  gint64 now = g_get_monotonic_time ();
  PinholeClient *client = pinhole_application_get_client (
    PINHOLE_APPLICATION (gtk_window_get_application (GTK_WINDOW (bench->window))));
  PinholeConversation *conversation = pinhole_client_get_conversation (client, bench->user);

  switch (bench->step)
    {
    case STEP_FIRST_FRAME:
      printf ("first-frame %.1f\n", cpu_ms ());
      fflush (stdout);
      bench->started_us = g_get_monotonic_time ();
      bench->step = STEP_SETTLING;
      /* after every idle of the app's own */
      g_idle_add_full (G_PRIORITY_LOW, settled_cb, bench, NULL);
      return;
    case STEP_SETTLING:
      return;
    case STEP_OPENED:
      printf ("open-ms %.1f %.1f\n", (now - bench->started_us) / 1000.0, cpu_ms ());
      printf ("open-rss-kib %ld\n", rss_kib ());
      fflush (stdout);
      bench->messages = find_messages (GTK_WIDGET (bench->window));
      bench->started_us = bench->page_us = g_get_monotonic_time ();
      bench->seen = g_list_model_get_n_items (G_LIST_MODEL (conversation));
      bench->step = STEP_PAGED;
      /* the first page of older messages */
      G_GNUC_FALLTHROUGH;
    case STEP_PAGED:
      if (g_list_model_get_n_items (G_LIST_MODEL (conversation)) > bench->seen)
        {
          double ms = (now - bench->page_us) / 1000.0;

          g_array_append_val (bench->page_ms, ms);
          bench->pages++;
          bench->page_us = now;
          bench->seen = g_list_model_get_n_items (G_LIST_MODEL (conversation));
        }
      if (pinhole_conversation_get_has_older (conversation) && bench->seen < bench->max_messages)
        {
          scroll_to_top (bench);
          break;
        }
      printf ("scroll-ms %.1f %u %u\n", (now - bench->started_us) / 1000.0, bench->pages,
              bench->seen);
      printf ("page-ms %.1f %.1f\n", mean_ms (bench->page_ms, 0, MIN (10, bench->pages)),
              mean_ms (bench->page_ms, bench->pages - MIN (10, bench->pages),
                       MIN (10, bench->pages)));
      printf ("rows %d\n", count_rows (GTK_LIST_BOX (bench->messages)));
      printf ("rss-kib %ld\n", rss_kib ());
      fflush (stdout);
      bench->step = STEP_DONE;
      g_signal_handler_disconnect (clock, bench->handler);
      g_application_quit (G_APPLICATION (gtk_window_get_application (GTK_WINDOW (bench->window))));
      return;
    case STEP_DONE:
    default:
      return;
    }
  gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
}

static void
realize_cb (GtkWidget *widget,
            Bench     *bench)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (widget);

  bench->handler = g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), bench);
}

static void
bench_free (gpointer data)
{
  Bench *bench = data;

  g_free (bench->user);
  g_array_unref (bench->page_ms);
  g_free (bench);
}

void
pinhole_bench_attach (PinholeWindow *window)
{
  const char *user = g_getenv ("PINHOLE_BENCH");
  Bench *bench;

  if (user == NULL || *user == '\0')
    return;
  bench = g_new0 (Bench, 1);
  bench->window = window;
  bench->user = g_strdup (user);
  bench->page_ms = g_array_new (FALSE, FALSE, sizeof (double));
  bench->max_messages = g_getenv ("PINHOLE_BENCH_MAX") ? (guint) atoi (g_getenv ("PINHOLE_BENCH_MAX"))
                                                      : G_MAXUINT;
  g_object_set_data_full (G_OBJECT (window), "pinhole-bench", bench, bench_free);
  g_signal_connect (window, "realize", G_CALLBACK (realize_cb), bench);
}
