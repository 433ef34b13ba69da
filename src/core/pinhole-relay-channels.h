/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-relay-channels.h: the client's relay channels by number: binary WebSocket messages
 * from the server go straight to the relay path of their channel, not through the code that
 * also uses the session above it. */
#pragma once

#include "pinhole-relay-path.h"

G_BEGIN_DECLS

typedef struct _PinholeRelayChannels PinholeRelayChannels;

PinholeRelayChannels *pinhole_relay_channels_new      (void);
void                  pinhole_relay_channels_free     (PinholeRelayChannels *self);
void                  pinhole_relay_channels_add      (PinholeRelayChannels *self,
                                                       PinholeRelayPath     *relay);
gboolean              pinhole_relay_channels_remove   (PinholeRelayChannels *self,
                                                       PinholeRelayPath     *relay);
PinholeRelayPath     *pinhole_relay_channels_lookup   (PinholeRelayChannels *self,
                                                       guint32               channel);
void                  pinhole_relay_channels_deliver  (PinholeRelayChannels *self,
                                                       GBytes               *message);
void                  pinhole_relay_channels_lose_all (PinholeRelayChannels *self,
                                                       const GError         *error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeRelayChannels, pinhole_relay_channels_free)

G_END_DECLS
