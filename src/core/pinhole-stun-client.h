/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-stun-client.h: asynchronous STUN Binding client over UDP (RFC 8489 §6.2.1
 * retransmissions) and TCP (§6.2.2), with optional short-term credentials (§9.1). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * PinholeStunClientOptions:
 * @rto_ms: UDP initial retransmission timeout (RFC 8489 §6.2.1: 500 ms)
 * @rc: UDP number of requests sent before giving up (Rc = 7)
 * @rm: UDP last wait, as a multiple of the initial RTO (Rm = 16)
 * @tcp_timeout_ms: TCP deadline for connect, request and response (Ti = 39.5 s)
 * @username: (nullable): USERNAME for short-term credentials
 * @password: (nullable): short-term password; when set the request carries
 *   MESSAGE-INTEGRITY and a success response must carry a valid one
 * @software: (nullable): SOFTWARE attribute of the request
 * @tcp_local_address: (nullable): bind the TCP socket here, with SO_REUSEADDR and
 *   SO_REUSEPORT, so that a later simultaneous open can share the port
 */
typedef struct _PinholeStunClientOptions
{
  guint           rto_ms;
  guint           rc;
  guint           rm;
  guint           tcp_timeout_ms;
  char           *username;
  char           *password;
  char           *software;
  GSocketAddress *tcp_local_address;
} PinholeStunClientOptions;

PinholeStunClientOptions *pinhole_stun_client_options_new  (void);
PinholeStunClientOptions *pinhole_stun_client_options_copy (const PinholeStunClientOptions *options);
void                      pinhole_stun_client_options_free (PinholeStunClientOptions *options);

/**
 * PinholeStunClientResult:
 * @mapped_address: XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS from an RFC 3489 server)
 * @other_address: (nullable): OTHER-ADDRESS (RFC 5780)
 * @response_origin: (nullable): RESPONSE-ORIGIN (RFC 5780)
 * @local_address: the local address the request went out from
 * @server_address: the address the response came from
 * @requests_sent: how many requests went out (1 for TCP)
 */
typedef struct _PinholeStunClientResult
{
  GInetSocketAddress *mapped_address;
  GInetSocketAddress *other_address;
  GInetSocketAddress *response_origin;
  GInetSocketAddress *local_address;
  GInetSocketAddress *server_address;
  guint               requests_sent;
} PinholeStunClientResult;

void pinhole_stun_client_result_free (PinholeStunClientResult *result);

void                     pinhole_stun_client_binding_udp_async  (GSocket                        *socket,
                                                                 GSocketAddress                 *server,
                                                                 const PinholeStunClientOptions *options,
                                                                 GCancellable                   *cancellable,
                                                                 GAsyncReadyCallback             callback,
                                                                 gpointer                        user_data);
PinholeStunClientResult *pinhole_stun_client_binding_udp_finish (GAsyncResult                   *result,
                                                                 GError                        **error);

void                     pinhole_stun_client_binding_tcp_async  (GSocketAddress                 *server,
                                                                 const PinholeStunClientOptions *options,
                                                                 GCancellable                   *cancellable,
                                                                 GAsyncReadyCallback             callback,
                                                                 gpointer                        user_data);
PinholeStunClientResult *pinhole_stun_client_binding_tcp_finish (GAsyncResult                   *result,
                                                                 GError                        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeStunClientOptions, pinhole_stun_client_options_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeStunClientResult, pinhole_stun_client_result_free)

G_END_DECLS
