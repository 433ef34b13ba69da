/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-common.c: a pinhole-server subprocess for the benchmarks, stopped by its PID, and
 * readers for its /proc figures. */
#include "bench-common.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

BenchServer *
bench_server_new (void)
{
  BenchServer *server = g_new0 (BenchServer, 1);

  server->dir = g_dir_make_tmp ("pinhole-bench-XXXXXX", NULL);
  g_assert (server->dir != NULL);
  server->db = g_build_filename (server->dir, "server.db", NULL);
  return server;
}

gboolean
bench_server_start (BenchServer  *server,
                    const char   *server_path,
                    GError      **error)
{
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *line = NULL;
  const char *url;
  const char *colon;

  /* every client of a benchmark comes from 127.0.0.1: no per-address cap */
  server->process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, error, server_path,
                                      "--listen", "127.0.0.1:0", "--stun-port", "0", "--db",
                                      server->db, "--max-per-address", "1000000", NULL);
  if (server->process == NULL)
    return FALSE;
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server->process));
  line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, error);
  if (line == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "pinhole-server printed nothing");
      return FALSE;
    }
  url = strstr (line, "ws://");
  if (url == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no URL in \"%s\"", line);
      return FALSE;
    }
  server->url = g_strdup (url);
  colon = strrchr (url, ':');
  server->port = (guint16) atoi (colon + 1);
  return TRUE;
}

int
bench_server_get_pid (BenchServer *server)
{
  const char *id = server->process ? g_subprocess_get_identifier (server->process) : NULL;

  return id ? atoi (id) : -1;
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      g_unlink (child);
    }
  g_rmdir (path);
}

void
bench_server_halt (BenchServer *server)
{
  if (server->process != NULL)
    {
      g_subprocess_send_signal (server->process, SIGTERM);
      g_subprocess_wait (server->process, NULL, NULL);
      g_clear_object (&server->process);
    }
  g_clear_pointer (&server->url, g_free);
}

void
bench_server_stop (BenchServer *server)
{
  bench_server_halt (server);
  remove_tree (server->dir);
  g_free (server->dir);
  g_free (server->db);
  g_free (server);
}

static gboolean
timeout_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
bench_wait_flag (const gboolean *flag,
                 guint           timeout_ms)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add (timeout_ms, timeout_cb, &expired);

  while (!*flag && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  return *flag;
}

int
bench_compare_double (gconstpointer a,
                      gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

double
bench_median (double *values,
              guint   n)
{
  g_autofree double *copy = g_memdup2 (values, n * sizeof (double));

  qsort (copy, n, sizeof (double), (int (*)(const void *, const void *)) bench_compare_double);
  return n % 2 ? copy[n / 2] : (copy[n / 2 - 1] + copy[n / 2]) / 2.0;
}

gint64
bench_proc_status_kib (int         pid,
                       const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *text = NULL;
  g_autofree char *key = g_strconcat ("\n", field, ":", NULL);
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  line = strstr (text, key);
  return line ? g_ascii_strtoll (line + strlen (key), NULL, 10) : -1;
}

gint64
bench_vm_rss_kib (int pid)
{
  return bench_proc_status_kib (pid, "VmRSS");
}

double
bench_median_of (GArray *values)
{
  return values->len ? bench_median ((double *) (gpointer) values->data, values->len) : -1;
}

char *
bench_join_values (GArray     *values,
                   const char *format)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < values->len; i++)
    {
      if (i > 0)
        g_string_append_c (s, ' ');
      g_string_append_printf (s, format, g_array_index (values, double, i));
    }
  return g_string_free (s, FALSE);
}

char *
bench_loadavg (void)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) f = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return g_strdup ("?");
  f = g_strsplit (text, " ", 4);
  return g_strv_length (f) >= 3 ? g_strdup_printf ("%s %s %s", f[0], f[1], f[2])
                                : g_strdup ("?");
}

double
bench_cpu_seconds (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;
  const char *after;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  /* the command name may hold spaces: fields are counted after its closing parenthesis */
  after = strrchr (text, ')');
  if (after == NULL)
    return -1;
  fields = g_strsplit (after + 2, " ", 0);
  if (g_strv_length (fields) < 13)
    return -1;
  /* utime and stime are fields 14 and 15 of proc(5), 11 and 12 counted from the state */
  return (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL)) /
         (double) sysconf (_SC_CLK_TCK);
}
