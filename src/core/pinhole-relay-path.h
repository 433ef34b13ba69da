/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-relay-path.h: a PinholePath through one relay channel of the rendezvous server. */
#pragma once

#include <libsoup/soup.h>
#include "pinhole-path.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_RELAY_PATH (pinhole_relay_path_get_type ())
G_DECLARE_FINAL_TYPE (PinholeRelayPath, pinhole_relay_path, PINHOLE, RELAY_PATH, GObject)

PinholeRelayPath *pinhole_relay_path_new          (SoupWebsocketConnection *ws,
                                                   guint32                  channel);
guint32           pinhole_relay_path_get_channel  (PinholeRelayPath        *self);

/* for the client that owns the WebSocket */
void              _pinhole_relay_path_deliver     (PinholeRelayPath        *self,
                                                   GBytes                  *packet);
void              _pinhole_relay_path_release     (PinholeRelayPath        *self);
void              _pinhole_relay_path_lost        (PinholeRelayPath        *self,
                                                   const GError            *error);

G_END_DECLS
