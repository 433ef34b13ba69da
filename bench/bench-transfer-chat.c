/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-transfer-chat.c: chat latency while a file transfer runs on the same session, beside
 * the idle latency in the same run (idle, transfer, idle, transfer, …), over the loopback
 * relay. Alice is a PinholeClient in this process that sends bob a file
 * (pinhole_client_send_files_async, what send-file calls) and, meanwhile, a stamped line
 * every few ms; bob is the real `pinhole-cli --json listen --accept-files DIR`, whose lines a
 * thread of this process stamps as it reads them (one clock, CLOCK_MONOTONIC).
 *
 *   bench-transfer-chat [--runs 3] [--count 500] [--interval-ms 5] [--mib 1024] [--direct]
 *                       [--build DIR]
 */
#include "bench-common.h"
#include "bench-transfer-file.h"
#include "bench-transfer-run.h"
#include "pinhole-client.h"
#include "pinhole-test-util.h"
#include "pinhole-transfer.h"

#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEP_MS     30000
#define WARMUP      20

typedef struct
{
  /* written by the reader thread, under lock */
  GMutex    lock;
  gint64   *arrived;      /* per sequence number, 0 until seen */
  guint     n_slots;
  gboolean  online;
  guint     done;         /* transfers bob verified */
  GString  *paths;        /* the path kinds bob's listen reported, in order */
  gboolean  eof;
} Bob;

static gpointer
reader_thread (gpointer data)
{
  GSubprocess *proc = data;
  Bob *bob = g_object_get_data (G_OBJECT (proc), "bob");
  g_autoptr(GDataInputStream) in =
    g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  g_autoptr(JsonParser) parser = json_parser_new ();
  char *line;

  while ((line = g_data_input_stream_read_line (in, NULL, NULL, NULL)) != NULL)
    {
      gint64 now = g_get_monotonic_time ();
      JsonObject *o;
      const char *event;

      if (json_parser_load_from_data (parser, line, -1, NULL) &&
          JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        {
          o = json_node_get_object (json_parser_get_root (parser));
          event = json_object_get_string_member_with_default (o, "event", "");
          g_mutex_lock (&bob->lock);
          if (strcmp (event, "message") == 0)
            {
              guint64 seq = g_ascii_strtoull (json_object_get_string_member_with_default (
                                                o, "text", ""), NULL, 10);

              if (seq < bob->n_slots && bob->arrived[seq] == 0)
                bob->arrived[seq] = now;
            }
          else if (strcmp (event, "online") == 0)
            bob->online = TRUE;
          else if (strcmp (event, "done") == 0)
            bob->done++;
          else if (strcmp (event, "path") == 0)
            {
              const char *path = json_object_get_string_member_with_default (o, "path", "?");
              const char *last = strrchr (bob->paths->str, ' ');

              if (g_strcmp0 (last ? last + 1 : bob->paths->str, path) != 0)
                g_string_append_printf (bob->paths, "%s%s", bob->paths->len ? " " : "", path);
            }
          g_mutex_unlock (&bob->lock);
        }
      g_free (line);
    }
  g_mutex_lock (&bob->lock);
  bob->eof = TRUE;
  g_mutex_unlock (&bob->lock);
  return NULL;
}

typedef struct
{
  PinholeClient   *client;
  PinholeTransfer *transfer;
  GError          *error;
  gboolean         finished;
  guint            sent_ok;
  guint            send_failed;
} Alice;

static void
login_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Alice *a = user_data;

  pinhole_client_login_finish (PINHOLE_CLIENT (source), result, &a->error);
  a->finished = TRUE;
}

static void
files_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Alice *a = user_data;

  a->transfer = pinhole_client_send_files_finish (PINHOLE_CLIENT (source), result, &a->error);
  a->finished = TRUE;
}

static void
message_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Alice *a = user_data;
  g_autoptr(GError) error = NULL;

  if (pinhole_client_send_message_finish (PINHOLE_CLIENT (source), result, NULL, NULL, &error))
    a->sent_ok++;
  else
    a->send_failed++;
}

static gboolean
bob_flag (Bob      *bob,
          gboolean *flag)
{
  gboolean v;

  g_mutex_lock (&bob->lock);
  v = *flag;
  g_mutex_unlock (&bob->lock);
  return v;
}

static guint
bob_done (Bob *bob)
{
  guint v;

  g_mutex_lock (&bob->lock);
  v = bob->done;
  g_mutex_unlock (&bob->lock);
  return v;
}

/* iterates the main context for @ms */
static void
iterate_for (guint ms)
{
  gboolean flag = FALSE;

  bench_wait_flag (&flag, ms);
}

typedef struct
{
  GArray *latency_us;   /* of the messages sent during the phase */
  GArray *late_us;      /* how late alice's timer fired: her main loop's own delay */
  guint   during;       /* messages sent while the transfer ran */
} Phase;

/* sends @count stamped lines, one every @interval_ms, numbered from @first; with @transfer,
 * only while it runs (the rest are not counted) */
static gboolean
chat_phase (Alice           *a,
            Bob             *bob,
            guint            first,
            guint            count,
            guint            interval_ms,
            PinholeTransfer *transfer,
            Phase           *out,
            GError         **error)
{
  g_autofree gint64 *sent = g_new0 (gint64, count);
  gint64 due = g_get_monotonic_time ();
  gint64 deadline;
  guint n = 0;

  for (guint i = 0; i < count; i++)
    {
      g_autofree char *text = NULL;
      gint64 now;

      while ((now = g_get_monotonic_time ()) < due)
        g_main_context_iteration (NULL, FALSE) || (g_usleep (200), TRUE);
      if (transfer != NULL &&
          pinhole_transfer_get_state (transfer) != PINHOLE_TRANSFER_STATE_RUNNING)
        break;
      sent[i] = now;
      text = g_strdup_printf ("%u %" G_GINT64_FORMAT, first + i, now);
      pinhole_client_send_message_async (a->client, "bob", text, NULL, message_cb, a);
      {
        double late = (double) (now - due);

        g_array_append_val (out->late_us, late);
      }
      n++;
      due += interval_ms * 1000;
    }
  out->during = n;
  /* wait for every line sent to arrive */
  deadline = g_get_monotonic_time () + STEP_MS * G_GINT64_CONSTANT (1000);
  for (guint i = 0; i < n; i++)
    {
      gint64 got;

      while (TRUE)
        {
          g_mutex_lock (&bob->lock);
          got = bob->arrived[first + i];
          g_mutex_unlock (&bob->lock);
          if (got != 0 || g_get_monotonic_time () > deadline)
            break;
          iterate_for (5);
        }
      if (got == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "line %u never reached bob",
                       first + i);
          return FALSE;
        }
      {
        double us = (double) (got - sent[i]);

        g_array_append_val (out->latency_us, us);
      }
    }
  return TRUE;
}

static double
percentile (GArray *v,
            double  p)
{
  g_autoptr(GArray) c = g_array_copy (v);
  guint k;

  if (c->len == 0)
    return -1;
  g_array_sort (c, bench_compare_double);
  k = (guint) MAX (0, (gint) (p / 100.0 * c->len + 0.5) - 1);
  k = MIN (k, c->len - 1);
  return g_array_index (c, double, k);
}

static void
print_phase (const char *name,
             guint       run,
             Phase      *p)
{
  printf ("| %u | %s | %u | %.0f | %.0f | %.0f | %.0f | %.0f |\n", run, name,
          p->latency_us->len, percentile (p->latency_us, 50), percentile (p->latency_us, 90),
          percentile (p->latency_us, 99), percentile (p->latency_us, 100),
          percentile (p->late_us, 50));
  fflush (stdout);
}

static void
bob_exited_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  gboolean *flag = data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *flag = TRUE;
}

/* SIGTERM to bob's listen by its PID, SIGKILL after 5 s */
static void
stop_bob (GSubprocess *proc)
{
  static gboolean exited;

  exited = FALSE;
  g_subprocess_wait_async (proc, NULL, bob_exited_cb, &exited);
  g_subprocess_send_signal (proc, SIGTERM);
  if (!bench_wait_flag (&exited, 5000))
    {
      g_subprocess_force_exit (proc);
      bench_wait_flag (&exited, 5000);
    }
}

int
main (int   argc,
      char *argv[])
{
  gint runs = 3, count = 500, interval_ms = 5, mib = 1024;
  gboolean direct = FALSE;
  char *build = NULL;
  GOptionEntry entries[] = {
    { "runs", 'n', 0, G_OPTION_ARG_INT, &runs, "idle and transfer phases each (3)", "N" },
    { "count", 0, 0, G_OPTION_ARG_INT, &count, "lines per phase (500)", "N" },
    { "interval-ms", 0, 0, G_OPTION_ARG_INT, &interval_ms, "ms between lines (5)", "MS" },
    { "mib", 0, 0, G_OPTION_ARG_INT, &mib, "MiB of the file sent meanwhile (1024)", "N" },
    { "direct", 0, 0, G_OPTION_ARG_NONE, &direct,
      "let the session find a direct path (on loopback: the LAN) instead of relay-only", NULL },
    { "build", 'b', 0, G_OPTION_ARG_FILENAME, &build, "build folder (_build-bench)", "DIR" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- chat latency during a transfer");
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL, *server_path = NULL, *cli = NULL, *tmp = NULL, *home = NULL;
  g_autofree char *inbox = NULL, *file = NULL, *sha256 = NULL, *bob_profile = NULL;
  g_autofree char *alice_profile = NULL;
  g_autoptr(PinholeProfile) profile = NULL;
  g_autoptr(GSubprocess) bob_proc = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  GThread *reader = NULL;
  BenchServer *server = NULL;
  BenchPeers peers = { 0 };
  Bob bob = { 0 };
  Alice alice = { 0 };
  g_autoptr(GArray) idle_all = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) busy_all = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) idle_med = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) busy_med = g_array_new (FALSE, FALSE, sizeof (double));
  guint next_seq = 0, transfers = 0;
  int status = 1;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || runs < 1 || runs > 20 ||
      count < 10 || count > 100000 || interval_ms < 1 || interval_ms > 1000 || mib < 1 ||
      mib > 4096)
    {
      fprintf (stderr, "bench-transfer-chat: %s\n", error ? error->message : "bad arguments");
      return 2;
    }
  dir = g_canonicalize_filename (build ? build : "_build-bench", NULL);
  server_path = g_build_filename (dir, "src", "server", "pinhole-server", NULL);
  cli = g_build_filename (dir, "src", "cli", "pinhole-cli", NULL);
  g_setenv ("PINHOLE_NO_PORT_MAPPING", "1", TRUE);
  g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
  tmp = g_dir_make_tmp ("pinhole-bench-chat-XXXXXX", &error);
  if (tmp == NULL)
    goto out;
  home = g_build_filename (tmp, "profiles", NULL);
  inbox = g_build_filename (tmp, "inbox", NULL);
  g_mkdir_with_parents (home, 0700);
  g_mkdir_with_parents (inbox, 0700);
  file = bench_transfer_file (tmp, (guint) mib, &sha256, &error);
  server = bench_server_new ();
  if (file == NULL || !bench_server_start (server, server_path, &error))
    goto out;
  peers = (BenchPeers) { cli, server->url, home, NULL, NULL };
  if (!bench_peers_make_pair (&peers, &error) ||
      (!direct &&
       (!bench_peers_cli (&peers, "alice", (const char *[]) { "set", "bob", "relay-only", "on",
                                                              NULL }, &error) ||
        !bench_peers_cli (&peers, "bob", (const char *[]) { "set", "alice", "relay-only", "on",
                                                            NULL }, &error))))
    goto out;

  /* bob: the real listen, its lines stamped by a thread as they come */
  bob.n_slots = (guint) (2 * runs * (count + WARMUP) + 16);
  bob.arrived = g_new0 (gint64, bob.n_slots);
  bob.paths = g_string_new (NULL);
  g_mutex_init (&bob.lock);
  bob_profile = g_build_filename (home, "bob", NULL);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  bob_proc = g_subprocess_launcher_spawn (launcher, &error, cli, "--server", server->url,
                                          "--profile", bob_profile, "--json", "listen",
                                          "--accept-files", inbox, NULL);
  if (bob_proc == NULL)
    goto out;
  g_object_set_data (G_OBJECT (bob_proc), "bob", &bob);
  reader = g_thread_new ("bob-reader", reader_thread, bob_proc);
  for (guint i = 0; i < 200 && !bob_flag (&bob, &bob.online); i++)
    iterate_for (50);
  if (!bob_flag (&bob, &bob.online))
    {
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "bob's listen never came online");
      goto out;
    }

  /* alice: a client in this process */
  alice_profile = g_build_filename (home, "alice", NULL);
  profile = pinhole_profile_open (alice_profile, &error);
  if (profile == NULL)
    goto out;
  alice.client = pinhole_client_new (profile);
  pinhole_client_login_async (alice.client, server->url, NULL, TRUE, NULL, login_cb, &alice);
  if (!bench_wait_flag (&alice.finished, STEP_MS) || alice.error != NULL)
    {
      g_propagate_prefixed_error (&error, g_steal_pointer (&alice.error), "alice's log-in: ");
      if (error == NULL)
        g_set_error (&error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "alice's log-in timed out");
      goto out;
    }
  for (guint i = 0; i < 200; i++)
    {
      PinholeContact *c = pinhole_client_lookup_contact (alice.client, "bob");

      if (c != NULL && pinhole_contact_get_presence (c) == PINHOLE_PRESENCE_ONLINE)
        break;
      iterate_for (50);
    }

  printf ("| run | phase | lines | median µs | p90 µs | p99 µs | max µs | alice's timer late, "
          "median µs |\n|---|---|---|---|---|---|---|---|\n");
  fflush (stdout);
  for (guint r = 1; r <= (guint) runs; r++)
    {
      Phase idle = { g_array_new (FALSE, FALSE, sizeof (double)),
                     g_array_new (FALSE, FALSE, sizeof (double)), 0 };
      Phase busy = { g_array_new (FALSE, FALSE, sizeof (double)),
                     g_array_new (FALSE, FALSE, sizeof (double)), 0 };
      Phase warm = { g_array_new (FALSE, FALSE, sizeof (double)),
                     g_array_new (FALSE, FALSE, sizeof (double)), 0 };
      const char *paths[] = { file, NULL };
      gint64 running_at = 0, done_at = 0;
      gboolean ok;

      /* warm-up lines (the first opens the session), then the idle phase */
      ok = chat_phase (&alice, &bob, next_seq, WARMUP, (guint) interval_ms, NULL, &warm, &error);
      next_seq += WARMUP;
      ok = ok && chat_phase (&alice, &bob, next_seq, (guint) count, (guint) interval_ms, NULL,
                             &idle, &error);
      next_seq += (guint) count;
      if (ok)
        {
          alice.finished = FALSE;
          g_clear_object (&alice.transfer);
          pinhole_client_send_files_async (alice.client, "bob", paths, NULL, files_cb, &alice);
          ok = bench_wait_flag (&alice.finished, STEP_MS) && alice.transfer != NULL;
          if (!ok && alice.error != NULL)
            g_propagate_prefixed_error (&error, g_steal_pointer (&alice.error), "send files: ");
          /* until bob accepted and blocks move */
          for (guint i = 0; ok && i < 600 && pinhole_transfer_get_state (alice.transfer) !=
                                             PINHOLE_TRANSFER_STATE_RUNNING; i++)
            iterate_for (50);
          running_at = g_get_monotonic_time ();
          ok = ok && chat_phase (&alice, &bob, next_seq, (guint) count, (guint) interval_ms,
                                 alice.transfer, &busy, &error);
          next_seq += (guint) count;
          transfers++;
          /* the transfer ends before the next idle phase */
          for (guint i = 0; ok && i < 6000 && bob_done (&bob) < transfers; i++)
            iterate_for (50);
          done_at = g_get_monotonic_time ();
          if (ok && bob_done (&bob) < transfers)
            {
              g_set_error (&error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "transfer %u never done",
                           transfers);
              ok = FALSE;
            }
          ph_remove_tree (inbox);
          g_mkdir_with_parents (inbox, 0700);
        }
      if (ok)
        {
          print_phase ("idle", r, &idle);
          print_phase ("during a transfer", r, &busy);
          if (busy.during < (guint) count)
            printf ("| | (the transfer ended after %u of %u lines) | | | | | | |\n",
                    busy.during, count);
          /* from running to bob's done, to within the 50 ms steps of the waits */
          printf ("| | (the transfer: %.1f MB/s, %d MiB in %.2f s) | | | | | | |\n",
                  mib * 1048576.0 / (done_at - running_at), mib,
                  (done_at - running_at) / 1e6);
          g_array_append_vals (idle_all, idle.latency_us->data, idle.latency_us->len);
          g_array_append_vals (busy_all, busy.latency_us->data, busy.latency_us->len);
          {
            double a = percentile (idle.latency_us, 50), b = percentile (busy.latency_us, 50);

            g_array_append_val (idle_med, a);
            g_array_append_val (busy_med, b);
          }
        }
      g_array_unref (idle.latency_us);
      g_array_unref (idle.late_us);
      g_array_unref (busy.latency_us);
      g_array_unref (busy.late_us);
      g_array_unref (warm.latency_us);
      g_array_unref (warm.late_us);
      if (!ok)
        goto out;
    }
  printf ("\nmedian of the runs' medians: idle %.0f µs, during a transfer %.0f µs, ratio %.1f; "
          "p99 of all lines: idle %.0f µs, during %.0f µs; %u lines not acknowledged as sent\n",
          bench_median_of (idle_med), bench_median_of (busy_med),
          bench_median_of (busy_med) / bench_median_of (idle_med), percentile (idle_all, 99),
          percentile (busy_all, 99), alice.send_failed);
  g_mutex_lock (&bob.lock);
  printf ("paths bob's listen reported, in order: %s\n", bob.paths->str);
  g_mutex_unlock (&bob.lock);
  status = 0;

out:
  if (error != NULL)
    fprintf (stderr, "bench-transfer-chat: %s\n", error->message);
  g_clear_object (&alice.transfer);
  if (alice.client != NULL)
    pinhole_client_disconnect (alice.client);
  g_clear_object (&alice.client);
  if (bob_proc != NULL)
    stop_bob (bob_proc);
  if (reader != NULL)
    g_thread_join (reader);
  if (server != NULL)
    bench_server_stop (server);
  if (tmp != NULL)
    ph_remove_tree (tmp);
  g_free (bob.arrived);
  if (bob.paths != NULL)
    g_string_free (bob.paths, TRUE);
  g_free (build);
  return status;
}
