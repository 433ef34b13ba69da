/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-relay-throughput.c: bulk throughput of one session over the server relay. Starts a
 * pinhole-server on 127.0.0.1, registers alice and bob (two PinholeClients in this process),
 * makes them contacts, opens a session and streams SIZE bytes as 32 KiB frames on a transfer
 * channel, keeping the session's send-queue-bytes under a bound; prints MB/s per run.
 *
 *   bench-relay-throughput SERVER-PROGRAM [--mib 200] [--runs 1] [--queue-kib 4096]
 */
#include "bench-common.h"
#include "pinhole-client.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#define PASSWORD "bench-password-1"
#define STEP_TIMEOUT_MS 30000

typedef struct
{
  gboolean        done;
  GError         *error;
  PinholeSession *session;
} Step;

typedef struct
{
  PinholeSession *tx;
  PinholeSession *rx;
  GBytes         *chunk;
  guint64         total;
  guint64         queued;
  guint64         received;
  guint64         queue_bound;
  gint64          started;
  gint64          finished;
  gboolean        done;
  GError         *error;
} Transfer;

static void
register_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Step *step = user_data;

  pinhole_client_register_finish (PINHOLE_CLIENT (source), result, &step->error);
  step->done = TRUE;
}

static void
contact_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Step *step = user_data;
  /* the relation the server answered with does not matter here */
  g_free (pinhole_client_contact_finish (PINHOLE_CLIENT (source), result, &step->error));

  step->done = TRUE;
}

static void
session_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Step *step = user_data;

  step->session = pinhole_client_open_session_finish (PINHOLE_CLIENT (source), result,
                                                      &step->error);
  step->done = TRUE;
}

static gboolean
finish_step (Step       *step,
             const char *what)
{
  if (!bench_wait_flag (&step->done, STEP_TIMEOUT_MS))
    {
      fprintf (stderr, "bench-relay-throughput: %s timed out\n", what);
      return FALSE;
    }
  if (step->error != NULL)
    {
      fprintf (stderr, "bench-relay-throughput: %s: %s\n", what, step->error->message);
      g_clear_error (&step->error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
sees_online (PinholeClient *client,
             const char    *user)
{
  PinholeContact *contact = pinhole_client_lookup_contact (client, user);

  return contact != NULL && pinhole_contact_get_relation (contact) == PINHOLE_RELATION_MUTUAL &&
         pinhole_contact_get_presence (contact) == PINHOLE_PRESENCE_ONLINE;
}

static gboolean
wait_online (PinholeClient *client,
             const char    *user)
{
  gint64 deadline = g_get_monotonic_time () + STEP_TIMEOUT_MS * G_GINT64_CONSTANT (1000);

  while (!sees_online (client, user) && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  return sees_online (client, user);
}

static void
fill (Transfer *t)
{
  while (t->queued < t->total && t->error == NULL &&
         pinhole_session_get_send_queue_bytes (t->tx) < t->queue_bound)
    {
      if (!pinhole_session_send (t->tx, PINHOLE_SESSION_CHANNEL_TRANSFER, t->chunk, NULL,
                                 &t->error))
        {
          t->done = TRUE;
          return;
        }
      t->queued += g_bytes_get_size (t->chunk);
    }
}

static void
queue_notify_cb (GObject    *object,
                 GParamSpec *pspec,
                 Transfer   *t)
{
  fill (t);
}

static void
frame_cb (PinholeSession *session,
          guint           channel,
          GBytes         *payload,
          Transfer       *t)
{
  if (channel != PINHOLE_SESSION_CHANNEL_TRANSFER)
    return;
  t->received += g_bytes_get_size (payload);
  if (t->received >= t->total && !t->done)
    {
      t->finished = g_get_monotonic_time ();
      t->done = TRUE;
    }
}

static PinholeClient *
new_client (const char *dir,
            const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeProfile) profile = pinhole_profile_open (path, &error);

  if (profile == NULL)
    g_error ("cannot open a profile in %s: %s", path, error->message);
  return pinhole_client_new (profile);
}

static void
remove_profile (const char *dir,
                const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GDir) d = g_dir_open (path, 0, NULL);
  const char *entry;

  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, entry, NULL);

      g_unlink (child);
    }
  g_rmdir (path);
}

int
main (int    argc,
      char **argv)
{
  gint mib = 200, runs = 1, queue_kib = 4096;
  GOptionEntry entries[] = {
    { "mib", 0, 0, G_OPTION_ARG_INT, &mib, "MiB to send per run (200)", "N" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "transfers over the same session (1)", "N" },
    { "queue-kib", 0, 0, G_OPTION_ARG_INT, &queue_kib, "send-queue-bytes bound (4096)", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("SERVER-PROGRAM");
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeClient) alice = NULL;
  g_autoptr(PinholeClient) bob = NULL;
  g_autofree double *rates = NULL;
  BenchServer *server;
  Step step = { 0 };
  PinholeSession *tx = NULL, *rx = NULL;
  int status = 1;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 2 || mib < 1 ||
      runs < 1 || runs > 100 || queue_kib < 32)
    {
      fprintf (stderr, "usage: bench-relay-throughput SERVER-PROGRAM [--mib N] [--runs N] "
               "[--queue-kib N]\n");
      return 2;
    }

  server = bench_server_new ();
  if (!bench_server_start (server, argv[1], &error))
    {
      fprintf (stderr, "bench-relay-throughput: %s\n", error->message);
      bench_server_stop (server);
      return 1;
    }
  alice = new_client (server->dir, "alice");
  bob = new_client (server->dir, "bob");

  pinhole_client_register_async (alice, server->url, "alice", PASSWORD, NULL, register_cb, &step);
  if (!finish_step (&step, "register alice"))
    goto out;
  step = (Step) { 0 };
  pinhole_client_register_async (bob, server->url, "bob", PASSWORD, NULL, register_cb, &step);
  if (!finish_step (&step, "register bob"))
    goto out;
  step = (Step) { 0 };
  pinhole_client_contact_async (alice, "subscribe", "bob", NULL, contact_cb, &step);
  if (!finish_step (&step, "alice adds bob"))
    goto out;
  step = (Step) { 0 };
  pinhole_client_contact_async (bob, "accept", "alice", NULL, contact_cb, &step);
  if (!finish_step (&step, "bob accepts alice"))
    goto out;
  if (!wait_online (alice, "bob") || !wait_online (bob, "alice"))
    {
      fprintf (stderr, "bench-relay-throughput: the contacts never saw each other online\n");
      goto out;
    }
  /* both relay-only: on one machine the pair would otherwise find a LAN path and move to it */
  if (!pinhole_client_set_relay_only (alice, "bob", TRUE, &error) ||
      !pinhole_client_set_relay_only (bob, "alice", TRUE, &error))
    {
      fprintf (stderr, "bench-relay-throughput: relay-only: %s\n", error->message);
      goto out;
    }
  step = (Step) { 0 };
  pinhole_client_open_session_async (alice, "bob", NULL, session_cb, &step);
  if (!finish_step (&step, "alice opens a session"))
    goto out;
  tx = g_steal_pointer (&step.session);
  /* bob's end of the same session: reused once established */
  step = (Step) { 0 };
  pinhole_client_open_session_async (bob, "alice", NULL, session_cb, &step);
  if (!finish_step (&step, "bob's end of the session"))
    goto out;
  rx = g_steal_pointer (&step.session);

  rates = g_new0 (double, runs);
  for (int r = 0; r < runs; r++)
    {
      g_autofree guint8 *data = g_malloc (PINHOLE_SESSION_MAX_PAYLOAD);
      Transfer t = { 0 };
      gulong notify_id, frame_id;
      gint64 drain_deadline;
      double seconds;

      for (guint i = 0; i < PINHOLE_SESSION_MAX_PAYLOAD; i++)
        data[i] = (guint8) (i * 31 + r);
      t.tx = tx;
      t.rx = rx;
      t.chunk = g_bytes_new (data, PINHOLE_SESSION_MAX_PAYLOAD);
      t.total = (guint64) mib * 1024 * 1024;
      t.queue_bound = (guint64) queue_kib * 1024;
      notify_id = g_signal_connect (tx, "notify::send-queue-bytes",
                                    G_CALLBACK (queue_notify_cb), &t);
      frame_id = g_signal_connect (rx, "frame-received", G_CALLBACK (frame_cb), &t);
      t.started = g_get_monotonic_time ();
      fill (&t);
      /* at 1 MB/s, 200 MiB would take 210 s: allow 1 s per MiB and 30 s more */
      bench_wait_flag (&t.done, (guint) mib * 1000 + 30000);
      g_signal_handler_disconnect (tx, notify_id);
      g_signal_handler_disconnect (rx, frame_id);
      g_bytes_unref (t.chunk);
      if (t.error != NULL || t.received < t.total)
        {
          fprintf (stderr, "bench-relay-throughput: run %d: %s (%" G_GUINT64_FORMAT
                   " of %" G_GUINT64_FORMAT " bytes)\n", r + 1,
                   t.error ? t.error->message : "timed out", t.received, t.total);
          g_clear_error (&t.error);
          goto out;
        }
      seconds = (t.finished - t.started) / 1e6;
      rates[r] = t.total / seconds / 1e6;
      printf ("run %d: %" G_GUINT64_FORMAT " bytes in %.3f s = %.1f MB/s (path: %s)\n", r + 1,
              t.total, seconds, rates[r],
              pinhole_path_kind_to_string (pinhole_path_get_kind (pinhole_session_get_path (tx))));
      fflush (stdout);
      /* let the last acknowledgements drain before the next run */
      drain_deadline = g_get_monotonic_time () + STEP_TIMEOUT_MS * G_GINT64_CONSTANT (1000);
      while (pinhole_session_get_send_queue_bytes (tx) > 0 &&
             g_get_monotonic_time () < drain_deadline)
        if (!g_main_context_iteration (NULL, FALSE))
          g_usleep (1000);
    }
  printf ("median %.1f MB/s over %d run%s of %d MiB, 32 KiB frames, send queue under %d KiB\n",
          bench_median (rates, runs), runs, runs == 1 ? "" : "s", mib, queue_kib);
  fflush (stdout);
  status = 0;

out:
  g_clear_object (&tx);
  g_clear_object (&rx);
  pinhole_client_disconnect (alice);
  pinhole_client_disconnect (bob);
  g_clear_object (&alice);
  g_clear_object (&bob);
  remove_profile (server->dir, "alice");
  remove_profile (server->dir, "bob");
  bench_server_stop (server);
  return status;
}
