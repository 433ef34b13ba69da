/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-stun.c: loopback sockets, a responder and Binding outcomes for the STUN tests. */
#include "pinhole-test-stun.h"

GInetAddress *
pinhole_test_loopback (void)
{
  return g_inet_address_new_from_string ("127.0.0.1");
}

PinholeStunResponder *
pinhole_test_start_responder (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) lo = pinhole_test_loopback ();
  PinholeStunResponder *responder = pinhole_stun_responder_new ();

  g_assert_true (pinhole_stun_responder_listen (responder, lo, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pinhole_stun_responder_get_udp_port (responder), >, 0);
  g_assert_cmpuint (pinhole_stun_responder_get_udp_port (responder), ==,
                    pinhole_stun_responder_get_tcp_port (responder));
  return responder;
}

GSocketAddress *
pinhole_test_loopback_address (guint16 port)
{
  g_autoptr(GInetAddress) lo = pinhole_test_loopback ();

  return g_inet_socket_address_new (lo, port);
}

GSocket *
pinhole_test_udp_socket (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) local = pinhole_test_loopback_address (0);

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP,
                         &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, local, FALSE, &error));
  g_assert_no_error (error);
  g_socket_set_blocking (socket, FALSE);
  return g_steal_pointer (&socket);
}

guint16
pinhole_test_local_port (GSocket *socket)
{
  g_autoptr(GSocketAddress) local = g_socket_get_local_address (socket, NULL);

  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
}

void
pinhole_test_assert_loopback (GInetSocketAddress *address,
                              guint16             port)
{
  g_autofree char *ip = NULL;

  g_assert_nonnull (address);
  ip = g_inet_address_to_string (g_inet_socket_address_get_address (address));
  g_assert_cmpstr (ip, ==, "127.0.0.1");
  g_assert_cmpuint (g_inet_socket_address_get_port (address), ==, port);
}

void
pinhole_test_outcome_clear (PinholeTestOutcome *o)
{
  g_clear_pointer (&o->result, pinhole_stun_client_result_free);
  g_clear_error (&o->error);
  o->done = FALSE;
}

void
pinhole_test_udp_done_cb (GObject      *source,
                          GAsyncResult *res,
                          gpointer      user_data)
{
  PinholeTestOutcome *o = user_data;

  o->result = pinhole_stun_client_binding_udp_finish (res, &o->error);
  o->finished_us = g_get_monotonic_time ();
  o->done = TRUE;
}

void
pinhole_test_tcp_done_cb (GObject      *source,
                          GAsyncResult *res,
                          gpointer      user_data)
{
  PinholeTestOutcome *o = user_data;

  o->result = pinhole_stun_client_binding_tcp_finish (res, &o->error);
  o->finished_us = g_get_monotonic_time ();
  o->done = TRUE;
}
