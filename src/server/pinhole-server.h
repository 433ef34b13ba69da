/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server.h: the rendezvous and relay service: accounts, rosters, presence, sealed
 * offline messages, signalling and relay channels over WebSocket (docs/protocol.md). */
#pragma once

#include <gio/gio.h>
#include "pinhole-store.h"

G_BEGIN_DECLS

typedef struct
{
  guint max_offline_per_device;  /* sealed messages waiting for one device */
  guint max_offline_per_sender;  /* of those, from one user: no contact fills it for all */
  guint offline_days;            /* a sealed message not fetched by then is dropped, and a
                                  * receipt likewise */
  guint max_receipts_per_device; /* receipts waiting for the device that sent the messages:
                                  * the oldest beyond it are dropped */
  guint max_sealed_bytes;        /* one sealed offline message */
  guint stanzas_per_second;      /* sustained request rate per connection */
  guint stanza_burst;            /* requests allowed at once before the rate applies */
  guint max_connections;         /* open at once, upgraded to WebSocket or not */
  guint max_per_address;         /* open at once from one source address */
  guint handshake_timeout_s;     /* to upgrade to WebSocket, and then to log in */
  guint max_devices;             /* devices of one account */
  guint max_registrations;       /* accounts one address creates in an hour without waiting */
  guint token_days;              /* a login token not replaced by then no longer logs in */
  guint token_rotate_s;          /* a token older than this is replaced at its next log-in */
  guint relay_window_bytes;      /* queued for a connection: relay frames to it are dropped */
  guint max_queued_bytes;        /* queued at once: the connection is closed */
  guint stall_timeout_s;         /* queued over the relay window with nothing taken: closed */
  guint relay_frames_per_second; /* sustained relay frames per connection; more are dropped */
  guint relay_frame_burst;
  guint max_rate_strikes;        /* requests or frames over the rate before it is closed */
} PinholeServerLimits;

#define PINHOLE_TYPE_SERVER (pinhole_server_get_type ())
G_DECLARE_FINAL_TYPE (PinholeServer, pinhole_server, PINHOLE, SERVER, GObject)

PinholeServer *pinhole_server_new         (PinholeStore              *store,
                                           const PinholeServerLimits *limits);
gboolean       pinhole_server_listen      (PinholeServer   *self,
                                           GInetSocketAddress *address,
                                           GTlsCertificate *certificate,
                                           GError         **error);
guint16        pinhole_server_get_port    (PinholeServer   *self);
void           pinhole_server_set_stun_ports (PinholeServer *self,
                                              guint16        port,
                                              guint16        alt_port);
guint          pinhole_server_get_n_connections (PinholeServer *self);
gboolean       pinhole_server_listen_metrics (PinholeServer      *self,
                                              GInetSocketAddress *address,
                                              GError            **error);
guint16        pinhole_server_get_metrics_port (PinholeServer *self);
void           pinhole_server_shutdown    (PinholeServer   *self);

void           pinhole_server_limits_init_default (PinholeServerLimits *limits);

G_END_DECLS
