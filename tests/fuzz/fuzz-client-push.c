/* SPDX-License-Identifier: GPL-3.0-or-later
 * fuzz-client-push.c: libFuzzer harness for the client's handling of whatever a server sends
 * as text (replies and pushes: presence, contact, contact-request, relay-open, relay-closed,
 * offline-message, delivered), fed to one logged-in PinholeClient whose profile lives in a
 * temporary folder and which has one mutual contact, bob. Its WebSocket runs over one end of
 * a socket pair whose other end the harness drains, so that what the client answers goes
 * somewhere. The client must neither crash nor hold more than its bounds, whatever the bytes. */
#include "pinhole-client-private.h"

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HELD 256   /* PINHOLE_CLIENT_MAX_HELD_OFFLINE */

static PinholeClient *client;
static int server_end = -1;

static void
drain (void)
{
  char buf[65536];

  while (read (server_end, buf, sizeof buf) > 0)
    ;
}

static void
feed (const char *text,
      gsize       len)
{
  g_autoptr(GBytes) message = g_bytes_new (text, len);

  _pinhole_client_handle_text (client, message);
  /* what the pushes scheduled, bounded: a debounced roster request, idle notifications */
  for (guint i = 0; i < 20 && g_main_context_iteration (NULL, FALSE); i++)
    drain ();
  drain ();
}

static void
set_up (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("fuzz-client-push-XXXXXX", &error);
  PinholeProfile *profile;
  static const char contact[] = "{\"type\":\"contact\",\"user\":\"bob\",\"relation\":\"mutual\"}";

  int fds[2];
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GUri) uri = g_uri_parse ("ws://127.0.0.1:1/pinhole", G_URI_FLAGS_NONE, NULL);
  SoupWebsocketConnection *ws;

  g_assert_no_error (error);
  profile = pinhole_profile_open (dir, &error);
  g_assert_no_error (error);
  client = pinhole_client_new (profile);
  g_object_unref (profile);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  server_end = fds[1];
  g_assert_cmpint (fcntl (server_end, F_SETFL, O_NONBLOCK), ==, 0);
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  connection = g_socket_connection_factory_create_connection (socket);
  ws = soup_websocket_connection_new (G_IO_STREAM (connection), uri,
                                      SOUP_WEBSOCKET_CONNECTION_CLIENT, NULL, NULL, NULL);
  _pinhole_client_connected (client, ws);   /* takes ws */
  /* as after a log-in */
  client->user = g_strdup ("alice");
  client->device = g_strdup ("alice-fuzz");
  client->local_id = g_strdup ("alice/alice-fuzz");
  client->roster_loaded = TRUE;
  feed (contact, strlen (contact));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  if (client == NULL)
    set_up ();
  feed ((const char *) data, size);
  g_assert_cmpuint (client->held_offline->len, <=, MAX_HELD);
  return 0;
}
