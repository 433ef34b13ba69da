/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-common.h: helpers shared by the C benchmarks: a pinhole-server subprocess on
 * 127.0.0.1 with its database in a temporary folder, and bounded main-context waits. */
#pragma once

#include <gio/gio.h>

typedef struct
{
  GSubprocess *process;
  char        *dir;     /* temporary folder, removed by bench_server_stop */
  char        *db;
  char        *url;     /* ws://127.0.0.1:PORT/pinhole */
  guint16      port;
} BenchServer;

/* creates the temporary folder and the database path */
BenchServer *bench_server_new     (void);
gboolean     bench_server_start   (BenchServer  *server,
                                   const char   *server_path,
                                   GError      **error);
/* stops the process and keeps the folder, so that the server can start again on it */
void         bench_server_halt    (BenchServer  *server);
/* stops the process, removes the folder, frees @server */
void         bench_server_stop    (BenchServer  *server);
int          bench_server_get_pid (BenchServer  *server);

/* iterates the default main context until *flag is TRUE or @timeout_ms passed */
gboolean     bench_wait_flag      (const gboolean *flag,
                                   guint           timeout_ms);

int          bench_compare_double (gconstpointer a,
                                   gconstpointer b);
double       bench_median         (double        *values,
                                   guint          n);

/* the median of a GArray of doubles (the array is left as it was), or -1 when empty */
double       bench_median_of      (GArray        *values);
/* the values of a GArray of doubles, each printed with @format, joined by spaces */
char        *bench_join_values    (GArray        *values,
                                   const char    *format);
/* the first three fields of /proc/loadavg */
char        *bench_loadavg        (void);

/* a "NAME:  N kB" line of /proc/PID/status (VmRSS, VmHWM) in KiB, or -1 */
gint64       bench_proc_status_kib (int         pid,
                                    const char *field);
/* VmRSS of @pid in KiB, or -1 */
gint64       bench_vm_rss_kib     (int pid);
/* user + system CPU time of @pid in seconds, or -1 */
double       bench_cpu_seconds    (int pid);
