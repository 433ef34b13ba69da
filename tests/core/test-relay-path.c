/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-relay-path.c: a relay path on a real WebSocket over loopback TCP says what its
 * connection still holds for the socket (docs/session.md §6): with a server that reads
 * nothing, the queued bytes grow after at most a few hundred KiB that the kernel took (its
 * send buffer is held to TCP_NOTSENT_LOWAT), and ::drained comes once the server reads. */
#include "pinhole-path.h"
#include "pinhole-relay-path.h"
#include "pinhole-test-path.h"
#include "pinhole-test-util.h"
#include "pinhole-ws-stream.h"

#include <libsoup/soup.h>

#define PACKET_BYTES (16 * 1024)
/* what the kernel may take before the path counts anything: the receiver's buffer before
 * the reader first reads (tcp_rmem's default, 128 KiB), what is in flight, and at most
 * PINHOLE_PATH_TCP_NOTSENT_LOWAT unsent; without the low mark, the send buffer grows to MiBs */
#define KERNEL_TAKES_AT_MOST (1024 * 1024)

typedef struct
{
  guint drained;
} Counts;

static void
drained_cb (PinholePath *path,
            Counts      *counts)
{
  counts->drained++;
}

static gboolean
has_drained (gpointer data)
{
  return ((Counts *) data)->drained > 0;
}

static void
message_cb (SoupWebsocketConnection *ws,
            gint                     type,
            GBytes                  *message,
            guint64                 *received)
{
  *received += g_bytes_get_size (message);
}

static void
test_queued_and_drained (void)
{
  g_autoptr(GSocketConnection) client = NULL;
  g_autoptr(GSocketConnection) server = NULL;
  g_autoptr(PinholeWsStream) stream = NULL;
  g_autoptr(SoupWebsocketConnection) ws = NULL;
  g_autoptr(SoupWebsocketConnection) reader = NULL;
  g_autoptr(PinholeRelayPath) relay = NULL;
  g_autoptr(GUri) uri = g_uri_parse ("ws://127.0.0.1/pinhole", G_URI_FLAGS_NONE, NULL);
  g_autoptr(GBytes) packet = g_bytes_new_take (g_malloc0 (PACKET_BYTES), PACKET_BYTES);
  Counts counts = { 0 };
  guint64 sent = 0, received = 0;
  gsize queued = 0;

  pinhole_test_connect_tcp_pair (&client, &server);
  pinhole_path_tune_tcp_socket (g_socket_connection_get_socket (client), "test");
  stream = pinhole_ws_stream_new (G_IO_STREAM (client), FALSE, 1 << 20, 1 << 20);
  ws = soup_websocket_connection_new (G_IO_STREAM (stream), uri,
                                      SOUP_WEBSOCKET_CONNECTION_CLIENT, NULL, NULL, NULL);
  relay = pinhole_relay_path_new (ws, 7);
  g_signal_connect (relay, "drained", G_CALLBACK (drained_cb), &counts);
  g_assert_cmpuint (pinhole_path_get_queued_bytes (PINHOLE_PATH (relay)), ==, 0);

  /* nobody reads the server's end: sooner or later the socket takes no more */
  while (sent < 64 * 1024 * 1024)
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (pinhole_path_send (PINHOLE_PATH (relay), packet, &error));
      g_assert_no_error (error);
      sent += PACKET_BYTES;
      ph_iterate_for (0);
      queued = pinhole_path_get_queued_bytes (PINHOLE_PATH (relay));
      if (queued > 0)
        break;
    }
  g_test_message ("the kernel took %" G_GUINT64_FORMAT " KiB before the path held any",
                  (sent - PACKET_BYTES) / 1024);
  g_assert_cmpuint (queued, >, 0);
  g_assert_cmpuint (sent - queued, <=, KERNEL_TAKES_AT_MOST);
  g_assert_cmpuint (counts.drained, ==, 0);

  /* the server reads: what waited goes, and the path says so */
  reader = soup_websocket_connection_new (G_IO_STREAM (server), uri,
                                          SOUP_WEBSOCKET_CONNECTION_SERVER, NULL, NULL, NULL);
  g_signal_connect (reader, "message", G_CALLBACK (message_cb), &received);
  g_assert_true (ph_iterate_until (has_drained, &counts, 10000));
  g_assert_cmpuint (pinhole_path_get_queued_bytes (PINHOLE_PATH (relay)), ==, 0);
  pinhole_path_close (PINHOLE_PATH (relay));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relay-path/queued-and-drained", test_queued_and_drained);
  return g_test_run ();
}
