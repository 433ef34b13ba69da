/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-endpoint.h: this device's sockets for direct paths. One UDP socket carries STUN (to
 * servers and connectivity checks) and the UDP paths, demultiplexed here; one TCP port both
 * listens and connects out (SO_REUSEPORT), so that TCP simultaneous open leaves from the port
 * that STUN over TCP saw. STUN over TCP uses the TCP path's framing: a 4-byte length. */
#pragma once

#include <gio/gio.h>

#include "pinhole-stun-message.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_ENDPOINT (pinhole_endpoint_get_type ())
G_DECLARE_FINAL_TYPE (PinholeEndpoint, pinhole_endpoint, PINHOLE, ENDPOINT, GObject)

/**
 * PinholeEndpointRequestFunc:
 * @request: a STUN Binding request whose USERNAME starts with a registered ufrag; its
 *   MESSAGE-INTEGRITY is not checked yet
 * @from: where it came from
 * @stream: (nullable): the TCP connection it came on, or %NULL for UDP
 */
typedef void (*PinholeEndpointRequestFunc) (PinholeEndpoint    *endpoint,
                                            PinholeStunMessage *request,
                                            GSocketAddress     *from,
                                            GIOStream          *stream,
                                            gpointer            user_data);
/* a datagram that is not STUN, from a registered remote address */
typedef void (*PinholeEndpointDatagramFunc) (const guint8 *data,
                                             gsize         len,
                                             gpointer      user_data);

PinholeEndpoint *pinhole_endpoint_new              (GError          **error);
guint16          pinhole_endpoint_get_udp_port     (PinholeEndpoint  *self);
guint16          pinhole_endpoint_get_tcp_port     (PinholeEndpoint  *self);
GSocket         *pinhole_endpoint_get_udp_socket   (PinholeEndpoint  *self);

gboolean         pinhole_endpoint_send_to          (PinholeEndpoint  *self,
                                                    GSocketAddress   *to,
                                                    GBytes           *datagram,
                                                    GError          **error);

void             pinhole_endpoint_stun_request_async  (PinholeEndpoint     *self,
                                                       GSocketAddress      *to,
                                                       GBytes              *request,
                                                       const guint8        *transaction_id,
                                                       guint                rto_ms,
                                                       guint                tries,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
PinholeStunMessage *pinhole_endpoint_stun_request_finish (PinholeEndpoint  *self,
                                                          GAsyncResult     *result,
                                                          GError          **error);

void             pinhole_endpoint_register_ufrag   (PinholeEndpoint            *self,
                                                    const char                 *ufrag,
                                                    PinholeEndpointRequestFunc  func,
                                                    gpointer                    user_data);
void             pinhole_endpoint_unregister_ufrag (PinholeEndpoint  *self,
                                                    const char       *ufrag);
void             pinhole_endpoint_add_datagram_handler    (PinholeEndpoint             *self,
                                                           GSocketAddress              *remote,
                                                           PinholeEndpointDatagramFunc  func,
                                                           gpointer                     user_data,
                                                           GDestroyNotify               destroy);
void             pinhole_endpoint_remove_datagram_handler (PinholeEndpoint *self,
                                                           GSocketAddress  *remote);

void             pinhole_endpoint_tcp_connect_async  (PinholeEndpoint     *self,
                                                      GSocketAddress      *remote,
                                                      guint                timeout_ms,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
GIOStream       *pinhole_endpoint_tcp_connect_finish (PinholeEndpoint  *self,
                                                      GAsyncResult     *result,
                                                      GError          **error);

gboolean         pinhole_socket_bind_shared        (GSocket          *socket,
                                                    GSocketAddress   *address,
                                                    GError          **error);

/* one framed STUN message over TCP */
void             pinhole_tcp_stun_write           (GIOStream           *stream,
                                                   GBytes              *message);
void             pinhole_tcp_stun_read_async      (GIOStream           *stream,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
PinholeStunMessage *pinhole_tcp_stun_read_finish  (GIOStream           *stream,
                                                   GAsyncResult        *result,
                                                   GError             **error);

G_END_DECLS
