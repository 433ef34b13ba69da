/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-client-early.c: what the server sends after a log-in's result but before the client
 * has handled that result (GTask may run the log-in's callback a turn of the main loop later)
 * waits for it, in order, and is handled once the log-in is (pinhole-client.c). The client's
 * WebSocket runs over a socket pair whose other end is a server-side WebSocket of the test. */
#include "pinhole-client-private.h"

#include "pinhole-test-util.h"

#include <string.h>
#include <sys/socket.h>

typedef struct
{
  PinholeClient           *client;
  SoupWebsocketConnection *server;   /* the test's end */
  GPtrArray               *heard;    /* char *: text messages the client sent */
  char                    *dir;
} Fixture;

static void
heard_cb (SoupWebsocketConnection *ws,
          gint                     type,
          GBytes                  *message,
          Fixture                 *f)
{
  if (type == SOUP_WEBSOCKET_DATA_TEXT)
    g_ptr_array_add (f->heard, g_strndup (g_bytes_get_data (message, NULL),
                                          g_bytes_get_size (message)));
}

static GSocketConnection *
connection_from_fd (int fd)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return g_socket_connection_factory_create_connection (socket);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeProfile) profile = NULL;
  g_autoptr(GSocketConnection) client_end = NULL;
  g_autoptr(GSocketConnection) server_end = NULL;
  g_autoptr(GUri) uri = g_uri_parse ("ws://127.0.0.1:1/pinhole", G_URI_FLAGS_NONE, NULL);
  int fds[2];

  f->dir = g_dir_make_tmp ("test-client-early-XXXXXX", &error);
  g_assert_no_error (error);
  profile = pinhole_profile_open (f->dir, &error);
  g_assert_no_error (error);
  f->client = pinhole_client_new (profile);
  f->heard = g_ptr_array_new_with_free_func (g_free);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  client_end = connection_from_fd (fds[0]);
  server_end = connection_from_fd (fds[1]);
  f->server = soup_websocket_connection_new (G_IO_STREAM (server_end), uri,
                                             SOUP_WEBSOCKET_CONNECTION_SERVER, NULL, NULL,
                                             NULL);
  g_signal_connect (f->server, "message", G_CALLBACK (heard_cb), f);
  /* takes the connection */
  _pinhole_client_connected (f->client,
                             soup_websocket_connection_new (G_IO_STREAM (client_end), uri,
                                                            SOUP_WEBSOCKET_CONNECTION_CLIENT,
                                                            NULL, NULL, NULL));
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_clear_object (&f->client);
  g_clear_object (&f->server);
  ph_iterate_for (10);
  g_ptr_array_unref (f->heard);
  ph_remove_tree (f->dir);
  g_free (f->dir);
}

static gboolean
heard_close (gpointer data)
{
  Fixture *f = data;

  for (guint i = 0; i < f->heard->len; i++)
    if (strstr (f->heard->pdata[i], "\"relay-close\"") != NULL)
      return TRUE;
  return FALSE;
}

/* A relay-open from a device the client does not know is refused with a relay-close: not
 * before the log-in is handled, and then at once */
static void
test_push_waits_for_login (Fixture       *f,
                           gconstpointer  data)
{
  static const char push[] =
    "{\"type\":\"relay-open\",\"user\":\"mallory\",\"device\":\"phone\",\"channel\":9}";

  soup_websocket_connection_send_text (f->server, push);
  /* it arrives, and waits: the client has not handled its log-in */
  g_assert_false (ph_iterate_until (heard_close, f, 300));
  g_assert_cmpuint (f->client->early.length, ==, 1);

  /* as login_result_cb does */
  f->client->user = g_strdup ("alice");
  f->client->device = g_strdup ("laptop");
  f->client->local_id = g_strdup ("alice/laptop");
  _pinhole_client_release_early (f->client);
  g_assert_cmpuint (f->client->early.length, ==, 0);
  g_assert_true (ph_iterate_until (heard_close, f, 5000));
}

/* a flood before the log-in is held up to PINHOLE_CLIENT_MAX_EARLY messages, no more */
static void
test_early_bounded (Fixture       *f,
                    gconstpointer  data)
{
  for (guint i = 0; i < PINHOLE_CLIENT_MAX_EARLY + 50; i++)
    soup_websocket_connection_send_text (f->server, "{\"type\":\"presence\",\"user\":\"bob\"}");
  ph_iterate_for (300);
  g_assert_cmpuint (f->client->early.length, ==, PINHOLE_CLIENT_MAX_EARLY);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/client/early/push-waits-for-login", Fixture, NULL, fixture_set_up,
              test_push_waits_for_login, fixture_tear_down);
  g_test_add ("/client/early/bounded", Fixture, NULL, fixture_set_up, test_early_bounded,
              fixture_tear_down);
  return g_test_run ();
}
