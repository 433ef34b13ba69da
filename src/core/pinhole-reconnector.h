/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-reconnector.h: first cut, one log-in attempt and no back-off yet; the full
 * reconnector (back-off, network changes, refused logins) replaces it. */
#pragma once
#include "pinhole-client.h"
G_BEGIN_DECLS
typedef enum { PINHOLE_CONNECTION_STATE_OFFLINE, PINHOLE_CONNECTION_STATE_CONNECTING,
  PINHOLE_CONNECTION_STATE_ONLINE, PINHOLE_CONNECTION_STATE_REFUSED } PinholeConnectionState;
#define PINHOLE_TYPE_RECONNECTOR (pinhole_reconnector_get_type ())
G_DECLARE_FINAL_TYPE (PinholeReconnector, pinhole_reconnector, PINHOLE, RECONNECTOR, GObject)
PinholeReconnector *pinhole_reconnector_new (PinholeClient *client, const char *server_url);
void pinhole_reconnector_start (PinholeReconnector *self);
void pinhole_reconnector_stop (PinholeReconnector *self);
void pinhole_reconnector_retry_now (PinholeReconnector *self);
PinholeConnectionState pinhole_reconnector_get_state (PinholeReconnector *self);
const char *pinhole_reconnector_get_error (PinholeReconnector *self);
guint pinhole_reconnector_get_retry_seconds (PinholeReconnector *self);
G_END_DECLS
