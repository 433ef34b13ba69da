/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-bench.c: see pinhole-bench.h. Each step waits for the frame after it to be painted
 * (GdkFrameClock "after-paint"), so the times include layout and drawing, not only the model.
 * Lines on standard output: "first-frame", "open-ms N", "open-rss-kib N" (the conversation
 * open, its first page drawn), "scroll-ms N PAGES MESSAGES", "rss-kib N" (after paging). */
#define G_LOG_DOMAIN "pinhole-bench"

#include "pinhole-bench.h"

#include <stdio.h>
#include <stdlib.h>

typedef enum { STEP_FIRST_FRAME, STEP_OPENED, STEP_PAGED, STEP_DONE } Step;

typedef struct
{
  PinholeWindow *window;   /* borrowed: quits with it */
  char          *user;
  Step           step;
  gint64         started_us;
  guint          pages;
  guint          max_messages;  /* PINHOLE_BENCH_MAX: stop paging at this many */
  gulong         handler;
} Bench;

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
      printf ("first-frame\n");
      fflush (stdout);
      bench->started_us = g_get_monotonic_time ();
      bench->step = STEP_OPENED;
      pinhole_window_open_conversation (bench->window, bench->user);
      break;
    case STEP_OPENED:
      printf ("open-ms %.1f\n", (now - bench->started_us) / 1000.0);
      printf ("open-rss-kib %ld\n", rss_kib ());
      fflush (stdout);
      bench->started_us = g_get_monotonic_time ();
      bench->step = STEP_PAGED;
      /* the first page of older messages */
      G_GNUC_FALLTHROUGH;
    case STEP_PAGED:
      if (pinhole_conversation_get_has_older (conversation) &&
          g_list_model_get_n_items (G_LIST_MODEL (conversation)) < bench->max_messages)
        {
          bench->pages++;
          pinhole_conversation_load_older (conversation, 50, NULL);
          break;
        }
      printf ("scroll-ms %.1f %u %u\n", (now - bench->started_us) / 1000.0, bench->pages,
              g_list_model_get_n_items (G_LIST_MODEL (conversation)));
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
  bench->max_messages = g_getenv ("PINHOLE_BENCH_MAX") ? (guint) atoi (g_getenv ("PINHOLE_BENCH_MAX"))
                                                      : G_MAXUINT;
  g_object_set_data_full (G_OBJECT (window), "pinhole-bench", bench, bench_free);
  g_signal_connect (window, "realize", G_CALLBACK (realize_cb), bench);
}
