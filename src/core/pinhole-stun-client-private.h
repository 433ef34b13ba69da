/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-stun-client-private.h: what pinhole-stun-client.c (the request and what a response
 * means) shares with the UDP and TCP transactions in pinhole-stun-client-{udp,tcp}.c. */
#pragma once

#include "pinhole-stun-client.h"

G_BEGIN_DECLS

typedef enum
{
  RESPONSE_IGNORE,   /* not ours: keep waiting */
  RESPONSE_DONE,     /* *result or *error is set */
} ResponseVerdict;

char *_pinhole_stun_client_address_to_string (GSocketAddress *address);
void  _pinhole_stun_client_clear_source      (GSource       **source);

/* a Binding request with a fresh transaction id, written to @transaction_id */
GBytes *_pinhole_stun_client_build_request (const PinholeStunClientOptions  *options,
                                            guint8                          *transaction_id,
                                            GError                         **error);
/* RFC 8489 §6.3.3, §6.3.4: what a received message means for the transaction */
ResponseVerdict
_pinhole_stun_client_handle_response (const guint8                    *data,
                                      gsize                            len,
                                      const guint8                    *transaction_id,
                                      const PinholeStunClientOptions  *options,
                                      GSocketAddress                  *local,
                                      GSocketAddress                  *from,
                                      PinholeStunClientResult        **result,
                                      GError                         **error);

G_END_DECLS
