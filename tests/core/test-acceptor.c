/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-acceptor.c: the server's accept loop on a real loopback listener: what it hands on is
 * tuned for small frames, and it holds no more connections than its bounds allow. */
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "pinhole-acceptor.h"
#include "pinhole-test-util.h"

typedef struct
{
  PinholeAcceptor *acceptor;
  GPtrArray       *incoming;   /* GSocketConnection, as the server would keep them */
  GPtrArray       *clients;    /* GSocket, the far ends */
  guint            n_taken;    /* how many ::incoming handed on in all */
  guint16          port;
} Fixture;

static void
incoming_cb (PinholeAcceptor   *acceptor,
             GSocketConnection *connection,
             gpointer           user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->incoming, g_object_ref (connection));
  f->n_taken++;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocket) listening = NULL;
  g_autoptr(GError) error = NULL;

  listening = pinhole_acceptor_listen_tcp (G_INET_SOCKET_ADDRESS (any), &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (listening, &error);
  g_assert_no_error (error);
  f->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  /* at most 3 in all, 2 from one address */
  f->acceptor = pinhole_acceptor_new (listening, 3, 2);
  f->incoming = g_ptr_array_new_with_free_func (g_object_unref);
  f->clients = g_ptr_array_new_with_free_func (g_object_unref);
  g_signal_connect (f->acceptor, "incoming", G_CALLBACK (incoming_cb), f);
  pinhole_acceptor_start (f->acceptor);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  pinhole_acceptor_stop (f->acceptor);
  g_ptr_array_unref (f->incoming);
  g_ptr_array_unref (f->clients);
  g_object_unref (f->acceptor);
}

/* connects from 127.0.0.N to the listener, blocking (the kernel completes the handshake from
 * the listen backlog, before the acceptor takes it) */
static void
connect_from (Fixture    *f,
              const char *source)
{
  g_autoptr(GInetAddress) from = g_inet_address_new_from_string (source);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) local = g_inet_socket_address_new (from, 0);
  g_autoptr(GSocketAddress) remote = g_inet_socket_address_new (loopback, f->port);
  g_autoptr(GError) error = NULL;
  GSocket *client;

  client = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  g_assert_no_error (error);
  g_socket_bind (client, local, FALSE, &error);
  g_assert_no_error (error);
  g_socket_connect (client, remote, NULL, &error);
  g_assert_no_error (error);
  g_ptr_array_add (f->clients, client);
}

typedef struct
{
  Fixture *f;
  guint    n;
} Handled;

static gboolean
handled (gpointer data)
{
  Handled *h = data;

  return h->f->n_taken + pinhole_acceptor_get_n_refused (h->f->acceptor) >= h->n;
}

/* runs the main loop until the acceptor has taken or refused `n` connections in all */
static void
wait_handled (Fixture *f,
              guint    n)
{
  Handled h = { f, n };

  g_assert_true (ph_iterate_until (handled, &h, 5000));
  g_assert_cmpuint (f->n_taken + pinhole_acceptor_get_n_refused (f->acceptor), ==, n);
}

/* chat lines, acks and pushes are small: the server must not hold them back for Nagle's
 * wait for more data (40 ms on Linux, behind a delayed ACK) */
static void
test_no_delay (Fixture       *f,
               gconstpointer  data)
{
  GSocket *accepted;
  gint value = -1;
  g_autoptr(GError) error = NULL;

  connect_from (f, "127.0.0.1");
  wait_handled (f, 1);
  g_assert_cmpuint (f->incoming->len, ==, 1);
  accepted = g_socket_connection_get_socket (f->incoming->pdata[0]);
  g_assert_true (g_socket_get_option (accepted, IPPROTO_TCP, TCP_NODELAY, &value, &error));
  g_assert_no_error (error);
  g_assert_cmpint (value, !=, 0);
}

static void
test_bounds (Fixture       *f,
             gconstpointer  data)
{
  /* a third from one address is refused; another address still gets in up to the total */
  connect_from (f, "127.0.0.1");
  connect_from (f, "127.0.0.1");
  connect_from (f, "127.0.0.1");
  wait_handled (f, 3);
  g_assert_cmpuint (f->incoming->len, ==, 2);
  g_assert_cmpuint (pinhole_acceptor_get_n_refused (f->acceptor), ==, 1);

  connect_from (f, "127.0.0.2");
  connect_from (f, "127.0.0.3");
  wait_handled (f, 5);
  g_assert_cmpuint (f->incoming->len, ==, 3);
  g_assert_cmpuint (pinhole_acceptor_get_n_connections (f->acceptor), ==, 3);

  /* a connection the server lets go frees its place */
  g_ptr_array_remove_index (f->incoming, 0);
  g_assert_cmpuint (pinhole_acceptor_get_n_connections (f->acceptor), ==, 2);
  connect_from (f, "127.0.0.4");
  wait_handled (f, 6);
  g_assert_cmpuint (f->n_taken, ==, 4);
  g_assert_cmpuint (f->incoming->len, ==, 3);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/acceptor/no-delay", Fixture, NULL, fixture_setup, test_no_delay,
              fixture_teardown);
  g_test_add ("/acceptor/bounds", Fixture, NULL, fixture_setup, test_bounds, fixture_teardown);
  return g_test_run ();
}
