/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-reconnector.h: keeps a PinholeClient logged in to its server: logs in, and when the
 * connection drops or a log-in fails, tries again with back-off and at once when the network
 * comes back, until stopped or refused. A view binds to its state, error and retry-seconds. */
#pragma once

#include "pinhole-client.h"
#include "pinhole-enum-types.h"

G_BEGIN_DECLS

/* the back-off between attempts, doubled after each failure: 1, 2, 4, 8, 16, 16… seconds */
#define PINHOLE_RECONNECT_MIN_S 1
#define PINHOLE_RECONNECT_MAX_S 16

#define PINHOLE_TYPE_RECONNECTOR (pinhole_reconnector_get_type ())
G_DECLARE_FINAL_TYPE (PinholeReconnector, pinhole_reconnector, PINHOLE, RECONNECTOR, GObject)

PinholeReconnector    *pinhole_reconnector_new       (PinholeClient      *client,
                                                      const char         *server_url);
void                   pinhole_reconnector_set_password (PinholeReconnector *self,
                                                         const char         *password);
void                   pinhole_reconnector_start     (PinholeReconnector *self);
void                   pinhole_reconnector_stop      (PinholeReconnector *self);
void                   pinhole_reconnector_retry_now (PinholeReconnector *self);
PinholeConnectionState pinhole_reconnector_get_state (PinholeReconnector *self);
const char            *pinhole_reconnector_get_error (PinholeReconnector *self);
guint                  pinhole_reconnector_get_retry_seconds (PinholeReconnector *self);
PinholeClient         *pinhole_reconnector_get_client (PinholeReconnector *self);

G_END_DECLS
