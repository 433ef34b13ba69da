/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-gtk-baseline.c: the baseline of bench-app.py, what GTK itself costs for the same
 * steps: a window with a header bar and a list, first frame; then a list of 50 two-label rows
 * shown; then pages of 50 more rows prepended until N, each page drawn, all of them kept in
 * the list. Same output lines as the app's probe (src/app/pinhole-bench.c). */
#include <gtk/gtk.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

typedef struct
{
  GtkWidget *window;
  GtkWidget *list;
  int        step;
  guint      rows;
  guint      total;
  guint      pages;
  gint64     started_us;
  gint64     page_us;
  GArray    *page_ms;     /* double: the time each page took */
} Baseline;

static double
cpu_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
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

static void
add_rows (Baseline *b,
          guint     count)
{
  for (guint i = 0; i < count && b->rows < b->total; i++, b->rows++)
    {
      g_autofree char *text = g_strdup_printf ("message %u of the baseline conversation", b->rows);
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);

      gtk_container_add (GTK_CONTAINER (box), gtk_label_new (text));
      gtk_container_add (GTK_CONTAINER (box), gtk_label_new ("12:00 · Delivered"));
      gtk_widget_show_all (box);
      gtk_list_box_prepend (GTK_LIST_BOX (b->list), box);
    }
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

static void
after_paint_cb (GdkFrameClock *clock,
                Baseline      *b)
{
  gint64 now = g_get_monotonic_time ();

  if (b->step == 0)
    {
      printf ("first-frame %.1f\n", cpu_ms ());
      fflush (stdout);
      b->step = 1;
      b->started_us = now;
      add_rows (b, 50);
    }
  else if (b->step == 1)
    {
      printf ("open-ms %.1f %.1f\n", (now - b->started_us) / 1000.0, cpu_ms ());
      printf ("open-rss-kib %ld\n", rss_kib ());
      b->step = 2;
      b->started_us = b->page_us = g_get_monotonic_time ();
      b->pages++;
      add_rows (b, 50);
    }
  else if (b->step == 2)
    {
      double ms = (now - b->page_us) / 1000.0;

      g_array_append_val (b->page_ms, ms);
      b->page_us = now;
      if (b->rows < b->total)
        {
          b->pages++;
          add_rows (b, 50);
        }
      else
        {
          printf ("scroll-ms %.1f %u %u\n", (now - b->started_us) / 1000.0, b->pages, b->rows);
          printf ("page-ms %.1f %.1f\n", mean_ms (b->page_ms, 0, MIN (10, b->pages)),
                  mean_ms (b->page_ms, b->pages - MIN (10, b->pages), MIN (10, b->pages)));
          printf ("rss-kib %ld\n", rss_kib ());
          fflush (stdout);
          b->step = 3;
          gtk_main_quit ();
          return;
        }
    }
  gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
}

static void
realize_cb (GtkWidget *widget,
            Baseline  *b)
{
  g_signal_connect (gtk_widget_get_frame_clock (widget), "after-paint",
                    G_CALLBACK (after_paint_cb), b);
}

int
main (int    argc,
      char **argv)
{
  Baseline b = { 0 };
  GtkWidget *scrolled, *header;

  gtk_init (&argc, &argv);
  b.total = argc > 1 ? (guint) atoi (argv[1]) : 10000;
  b.page_ms = g_array_new (FALSE, FALSE, sizeof (double));
  b.window = gtk_window_new (GTK_WINDOW_TOPLEVEL);
  gtk_window_set_default_size (GTK_WINDOW (b.window), 900, 640);
  header = gtk_header_bar_new ();
  gtk_header_bar_set_title (GTK_HEADER_BAR (header), "Baseline");
  gtk_window_set_titlebar (GTK_WINDOW (b.window), header);
  scrolled = gtk_scrolled_window_new (NULL, NULL);
  b.list = gtk_list_box_new ();
  gtk_container_add (GTK_CONTAINER (scrolled), b.list);
  gtk_container_add (GTK_CONTAINER (b.window), scrolled);
  g_signal_connect (b.window, "realize", G_CALLBACK (realize_cb), &b);
  g_signal_connect (b.window, "destroy", G_CALLBACK (gtk_main_quit), NULL);
  gtk_widget_show_all (b.window);
  gtk_main ();
  return 0;
}
