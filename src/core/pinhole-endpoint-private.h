/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-endpoint-private.h: the state that pinhole-endpoint.c (the UDP socket and its
 * demultiplexer) shares with pinhole-endpoint-tcp.c (the TCP port); not for the app. */
#pragma once

#include "pinhole-endpoint.h"

G_BEGIN_DECLS

struct _PinholeEndpoint
{
  GObject     parent_instance;

  /* owned */
  GSocket    *udp;
  GSocket    *tcp_listener;
  GSource    *udp_source;
  GSource    *accept_source;
  GHashTable *transactions;   /* transaction id (GBytes) → GTask */
  GHashTable *ufrags;         /* ufrag → Handler */
  GHashTable *datagrams;      /* "ip:port" → Handler */
  guint8     *buffer;         /* MAX_DATAGRAM */

  guint16     udp_port;
  guint16     tcp_port;
  guint       n_accepting;    /* accepted TCP connections waiting for their first frame */
};

/* pinhole-endpoint.c: hands a STUN request to the handler of its USERNAME's ufrag */
void     _pinhole_endpoint_route_request (PinholeEndpoint    *self,
                                          PinholeStunMessage *request,
                                          GSocketAddress     *from,
                                          GIOStream          *stream);

/* pinhole-endpoint-tcp.c */
GSocket *_pinhole_endpoint_tcp_socket_on (guint16             port,
                                          GError            **error);
gboolean _pinhole_endpoint_accept_cb     (GSocket            *socket,
                                          GIOCondition        condition,
                                          gpointer            user_data);

G_END_DECLS
