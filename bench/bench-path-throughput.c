/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-path-throughput.c: bulk throughput of one direct path on 127.0.0.1: PinholeTcpPath
 * (kernel TCP) and PinholeQuicPath (QUIC over UDP) with the bench dropping a share of datagrams
 * in both directions. (The PseudoTcp UDP path it measured as `udp` is gone; its figures are in
 * docs/benchmarks.md §5.) Sends SIZE bytes as CHUNK packets, keeping the sender's queue under a
 * bound; prints MB/s (10^6 bytes) per run and the median.
 *
 *   bench-path-throughput [--mode tcp|quic] [--loss-percent 0] [--mib 64] [--runs 5]
 *                         [--chunk-kib 32] [--queue-kib 1024] [--timeout-s 120]
 */
#include "bench-common.h"
#include "pinhole-tcp-path.h"
#include "pinhole-quic-path.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

typedef struct
{
  GSocket        *socket;
  GSocketAddress *address;
  GSource        *source;
  PinholeQuicPath *quic;
  GRand          *rand;
  double          loss;      /* fraction of arriving datagrams dropped */
} UdpEnd;

typedef struct
{
  PinholePath *tx;
  PinholePath *rx;
  GBytes      *chunk;
  guint64      total;
  guint64      sent;
  guint64      received;
  gboolean     done;
  gboolean     closed;
} Run;

static char  *opt_mode = NULL;
static double opt_loss = 0;
static int    opt_mib = 64;
static int    opt_runs = 5;
static int    opt_chunk_kib = 32;
static int    opt_queue_kib = 1024;
static int    opt_timeout_s = 120;

static GOptionEntry entries[] = {
  { "mode", 0, 0, G_OPTION_ARG_STRING, &opt_mode, "tcp or quic", "MODE" },
  { "loss-percent", 0, 0, G_OPTION_ARG_DOUBLE, &opt_loss, "UDP datagrams dropped", "P" },
  { "mib", 0, 0, G_OPTION_ARG_INT, &opt_mib, "MiB per run", "N" },
  { "runs", 0, 0, G_OPTION_ARG_INT, &opt_runs, "runs", "N" },
  { "chunk-kib", 0, 0, G_OPTION_ARG_INT, &opt_chunk_kib, "packet size", "N" },
  { "queue-kib", 0, 0, G_OPTION_ARG_INT, &opt_queue_kib, "sender queue bound", "N" },
  { "timeout-s", 0, 0, G_OPTION_ARG_INT, &opt_timeout_s, "give up a run after", "S" },
  { NULL }
};

static void
received_cb (PinholePath *path,
             GBytes      *packet,
             gpointer     user_data)
{
  Run *run = user_data;

  run->received += g_bytes_get_size (packet);
  if (run->received >= run->total)
    run->done = TRUE;
}

static void
closed_cb (PinholePath  *path,
           const GError *error,
           gpointer      user_data)
{
  Run *run = user_data;

  run->closed = TRUE;
  if (error != NULL)
    g_printerr ("path closed: %s\n", error->message);
}

static gsize
queued_bytes (PinholePath *path)
{
  if (PINHOLE_IS_TCP_PATH (path))
    return pinhole_tcp_path_get_queued_bytes (PINHOLE_TCP_PATH (path));
  return pinhole_path_get_queued_bytes (path);
}

/* sends, iterating the main context, until the receiver has it all; seconds, or -1 */
static double
run_transfer (Run *run)
{
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + (gint64) opt_timeout_s * G_USEC_PER_SEC;
  guint64 bound = (guint64) opt_queue_kib * 1024;

  g_signal_connect (run->rx, "received", G_CALLBACK (received_cb), run);
  g_signal_connect (run->rx, "closed", G_CALLBACK (closed_cb), run);
  g_signal_connect (run->tx, "closed", G_CALLBACK (closed_cb), run);
  while (!run->done && !run->closed && g_get_monotonic_time () < deadline)
    {
      while (run->sent < run->total && queued_bytes (run->tx) < bound)
        {
          g_autoptr(GError) error = NULL;

          if (!pinhole_path_send (run->tx, run->chunk, &error))
            {
              g_printerr ("send: %s\n", error->message);
              return -1;
            }
          run->sent += g_bytes_get_size (run->chunk);
        }
      g_main_context_iteration (NULL, TRUE);
    }
  if (!run->done)
    {
      g_printerr ("incomplete: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes\n",
                  run->received, run->total);
      return -1;
    }
  return (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
}

/* ---- TCP ---- */

static void
store_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  GSocketConnection **out = user_data;
  g_autoptr(GError) error = NULL;

  if (G_IS_SOCKET_LISTENER (source))
    *out = g_socket_listener_accept_finish (G_SOCKET_LISTENER (source), result, NULL, &error);
  else
    *out = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (error != NULL)
    g_printerr ("connect: %s\n", error->message);
}

static double
tcp_run (GBytes *chunk,
         guint64 total)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) a = NULL;
  g_autoptr(GSocketConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  Run run = { 0 };
  double seconds;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  if (!g_socket_listener_add_address (listener, any, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error))
    {
      g_printerr ("listen: %s\n", error->message);
      return -1;
    }
  g_socket_listener_accept_async (listener, NULL, store_cb, &b);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (bound), NULL, store_cb, &a);
  while ((a == NULL || b == NULL) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  if (a == NULL || b == NULL)
    return -1;

  run.tx = PINHOLE_PATH (pinhole_tcp_path_new (G_IO_STREAM (a), PINHOLE_PATH_KIND_LAN, "a"));
  run.rx = PINHOLE_PATH (pinhole_tcp_path_new (G_IO_STREAM (b), PINHOLE_PATH_KIND_LAN, "b"));
  run.chunk = chunk;
  run.total = total;
  seconds = run_transfer (&run);
  g_signal_handlers_disconnect_by_data (run.tx, &run);
  g_signal_handlers_disconnect_by_data (run.rx, &run);
  g_object_unref (run.tx);
  g_object_unref (run.rx);
  return seconds;
}

/* ---- UDP ---- */

static gboolean
udp_readable_cb (GSocket      *socket,
                 GIOCondition  condition,
                 gpointer      user_data)
{
  UdpEnd *end = user_data;
  static guint8 buf[65536];

  for (guint i = 0; i < 256; i++)
    {
      gssize n = g_socket_receive_from (socket, NULL, (gchar *) buf, sizeof buf, NULL, NULL);

      if (n < 0)
        break;
      if (end->loss > 0 && g_rand_double (end->rand) < end->loss)
        continue;
      if (end->quic != NULL)
        pinhole_quic_path_receive (end->quic, buf, (gsize) n);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
udp_end_init (UdpEnd *end,
              guint32 seed)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GError) error = NULL;

  memset (end, 0, sizeof *end);
  end->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                              G_SOCKET_PROTOCOL_UDP, &error);
  if (end->socket == NULL || !g_socket_bind (end->socket, any, FALSE, &error))
    {
      g_printerr ("udp socket: %s\n", error->message);
      return FALSE;
    }
  g_socket_set_blocking (end->socket, FALSE);
  g_socket_set_option (end->socket, SOL_SOCKET, SO_RCVBUF, 4 * 1024 * 1024, NULL);
  end->address = g_socket_get_local_address (end->socket, NULL);
  end->source = g_socket_create_source (end->socket, G_IO_IN, NULL);
  g_source_set_callback (end->source, G_SOURCE_FUNC (udp_readable_cb), end, NULL);
  g_source_attach (end->source, NULL);
  end->rand = g_rand_new_with_seed (seed);
  end->loss = opt_loss / 100.0;
  return TRUE;
}

static void
udp_end_clear (UdpEnd *end)
{
  if (end->quic != NULL)
    pinhole_path_close (PINHOLE_PATH (end->quic));
  g_clear_object (&end->quic);
  if (end->source != NULL)
    g_source_destroy (end->source);
  g_clear_pointer (&end->source, g_source_unref);
  g_clear_object (&end->address);
  g_clear_object (&end->socket);
  g_clear_pointer (&end->rand, g_rand_free);
}

static double
quic_run (GBytes *chunk,
          guint64 total,
          guint   index)
{
  UdpEnd a, b;
  Run run = { 0 };
  double seconds = -1;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  g_autoptr(PinholeQuicCertificate) ca = pinhole_quic_certificate_new (NULL);
  g_autoptr(PinholeQuicCertificate) cb = pinhole_quic_certificate_new (NULL);

  if (ca == NULL || cb == NULL || !udp_end_init (&a, 1000 + index) ||
      !udp_end_init (&b, 2000 + index))
    return -1;
  a.quic = pinhole_quic_path_new (a.socket, b.address, PINHOLE_PATH_KIND_UDP_PUNCH, TRUE, ca,
                                  pinhole_quic_certificate_get_fingerprint (cb));
  b.quic = pinhole_quic_path_new (b.socket, a.address, PINHOLE_PATH_KIND_UDP_PUNCH, FALSE, cb,
                                  pinhole_quic_certificate_get_fingerprint (ca));
  while (!(pinhole_quic_path_is_connected (a.quic) && pinhole_quic_path_is_connected (b.quic)) &&
         g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  if (pinhole_quic_path_is_connected (a.quic) && pinhole_quic_path_is_connected (b.quic))
    {
      run.tx = PINHOLE_PATH (a.quic);
      run.rx = PINHOLE_PATH (b.quic);
      run.chunk = chunk;
      run.total = total;
      seconds = run_transfer (&run);
      g_signal_handlers_disconnect_by_data (run.tx, &run);
      g_signal_handlers_disconnect_by_data (run.rx, &run);
    }
  udp_end_clear (&a);
  udp_end_clear (&b);
  return seconds;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = g_option_context_new ("- direct path throughput");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) chunk = NULL;
  g_autofree double *rates = NULL;
  guint64 total;
  guint8 *data;
  guint n_ok = 0;
  gboolean quic;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  quic = g_strcmp0 (opt_mode, "quic") == 0;
  if ((!quic && g_strcmp0 (opt_mode, "tcp") != 0 && opt_mode != NULL) || opt_runs < 1 ||
      opt_mib < 1 || opt_chunk_kib < 1 || opt_chunk_kib > PINHOLE_PATH_MAX_PACKET / 1024)
    {
      g_printerr ("bad arguments\n");
      return 2;
    }
  total = (guint64) opt_mib * 1024 * 1024;
  data = g_malloc ((gsize) opt_chunk_kib * 1024);
  for (gsize i = 0; i < (gsize) opt_chunk_kib * 1024; i++)
    data[i] = (guint8) (i * 131 + 7);
  chunk = g_bytes_new_take (data, (gsize) opt_chunk_kib * 1024);
  rates = g_new0 (double, opt_runs);

  printf ("# %s path, %d MiB in %d KiB packets, loss %.1f%%, queue bound %d KiB\n",
          quic ? "quic" : "tcp", opt_mib, opt_chunk_kib, quic ? opt_loss : 0.0, opt_queue_kib);
  for (int i = 0; i < opt_runs; i++)
    {
      double seconds = quic ? quic_run (chunk, total, (guint) i) : tcp_run (chunk, total);

      if (seconds <= 0)
        {
          printf ("run %d: failed\n", i + 1);
          continue;
        }
      rates[n_ok] = (double) total / seconds / 1e6;
      printf ("run %d: %.2f s, %.1f MB/s\n", i + 1, seconds, rates[n_ok]);
      fflush (stdout);
      n_ok++;
    }
  if (n_ok == 0)
    return 1;
  printf ("median of %u: %.1f MB/s\n", n_ok, bench_median (rates, n_ok));
  return n_ok == (guint) opt_runs ? 0 : 1;
}
