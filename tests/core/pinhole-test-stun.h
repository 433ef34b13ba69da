/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-stun.h: what the STUN tests share (test-stun-client, test-stun-responder):
 * loopback sockets and addresses, a listening PinholeStunResponder, and the outcome of a
 * Binding request. */
#pragma once

#include "pinhole-stun-client.h"
#include "pinhole-stun-responder.h"

#include <gio/gio.h>

G_BEGIN_DECLS

/* what a Binding request came to, filled by pinhole_test_{udp,tcp}_done_cb */
typedef struct
{
  gboolean                 done;
  PinholeStunClientResult *result;
  GError                  *error;
  gint64                   finished_us;
} PinholeTestOutcome;

GInetAddress         *pinhole_test_loopback         (void);
GSocketAddress       *pinhole_test_loopback_address (guint16             port);
GSocket              *pinhole_test_udp_socket       (void);
guint16               pinhole_test_local_port       (GSocket            *socket);
void                  pinhole_test_assert_loopback  (GInetSocketAddress *address,
                                                     guint16             port);
PinholeStunResponder *pinhole_test_start_responder  (void);

void                  pinhole_test_outcome_clear    (PinholeTestOutcome *o);
/* GAsyncReadyCallbacks that fill the PinholeTestOutcome in user_data */
void                  pinhole_test_udp_done_cb      (GObject            *source,
                                                     GAsyncResult       *res,
                                                     gpointer            user_data);
void                  pinhole_test_tcp_done_cb      (GObject            *source,
                                                     GAsyncResult       *res,
                                                     gpointer            user_data);

G_END_DECLS
