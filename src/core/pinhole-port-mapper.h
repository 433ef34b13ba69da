/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-port-mapper.h: asks the home router to forward a port to us, with UPnP-IGD
 * (miniupnpc), PCP (RFC 6887, our own client) or NAT-PMP (RFC 6886, libnatpmp), renews the
 * leases and removes them on exit. */
#pragma once

#include <gio/gio.h>

#include "pinhole-path.h"

G_BEGIN_DECLS

typedef enum
{
  PINHOLE_PORT_MAP_PROTOCOL_UDP,
  PINHOLE_PORT_MAP_PROTOCOL_TCP,
} PinholePortMapProtocol;

/**
 * PinholePortMapMethods:
 * The methods the mapper may try, in this order: UPnP-IGD, PCP, NAT-PMP.
 */
typedef enum
{
  PINHOLE_PORT_MAP_METHOD_UPNP    = 1 << 0,
  PINHOLE_PORT_MAP_METHOD_NAT_PMP = 1 << 1,
  PINHOLE_PORT_MAP_METHOD_PCP     = 1 << 2,
  PINHOLE_PORT_MAP_METHOD_ALL     = PINHOLE_PORT_MAP_METHOD_UPNP | PINHOLE_PORT_MAP_METHOD_NAT_PMP
                                    | PINHOLE_PORT_MAP_METHOD_PCP,
} PinholePortMapMethods;

/* how long UPnP-IGD discovery (SSDP) waits for answers */
#define PINHOLE_PORT_MAPPER_UPNP_DISCOVER_MS 2000
/* how long NAT-PMP retransmits (RFC 6886 §3.1 timing, cut short) before giving up */
#define PINHOLE_PORT_MAPPER_NAT_PMP_DEADLINE_MS 2000
/* how long PCP retransmits (RFC 6887 §8.1.1, bounded) before giving up; a gateway silent on
 * port 5351 for this long is not asked NAT-PMP on the same port again */
#define PINHOLE_PORT_MAPPER_PCP_DEADLINE_MS 2000
/* the UPnP lease asked for when the caller asks for 0 (permanent) */
#define PINHOLE_PORT_MAPPER_DEFAULT_LEASE_S 3600

/**
 * PinholePortMapping:
 * @id: the mapper's number for this mapping, the same across renewals
 * @kind: %PINHOLE_PATH_KIND_UPNP, %PINHOLE_PATH_KIND_PCP or %PINHOLE_PATH_KIND_NAT_PMP
 * @protocol: UDP or TCP
 * @internal_address: (nullable): our LAN address the router forwards to, when known
 * @internal_port: our port
 * @external_address: (nullable): the router's external address, when it told us
 * @external_port: the port on the router's external address
 * @lifetime_s: the lease the router granted, in seconds; 0 for a permanent mapping
 * @reason: (nullable): why this method was used, e.g. what failed before it
 */
typedef struct
{
  guint                   id;
  PinholePathKind         kind;
  PinholePortMapProtocol  protocol;
  GInetAddress           *internal_address;
  guint16                 internal_port;
  GInetAddress           *external_address;
  guint16                 external_port;
  guint                   lifetime_s;
  char                   *reason;
} PinholePortMapping;

#define PINHOLE_TYPE_PORT_MAPPING (pinhole_port_mapping_get_type ())
GType               pinhole_port_mapping_get_type (void) G_GNUC_CONST;
PinholePortMapping *pinhole_port_mapping_copy     (const PinholePortMapping *mapping);
void                pinhole_port_mapping_free     (PinholePortMapping       *mapping);
/* (transfer full) "upnp udp 203.0.113.5:41000 -> 10.0.1.2:41000 lease 3600 s" */
char               *pinhole_port_mapping_to_string (const PinholePortMapping *mapping);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholePortMapping, pinhole_port_mapping_free)

#define PINHOLE_TYPE_PORT_MAPPER (pinhole_port_mapper_get_type ())
G_DECLARE_FINAL_TYPE (PinholePortMapper, pinhole_port_mapper, PINHOLE, PORT_MAPPER, GObject)

PinholePortMapper  *pinhole_port_mapper_new          (void);

void                pinhole_port_mapper_set_methods  (PinholePortMapper     *self,
                                                      PinholePortMapMethods  methods);
PinholePortMapMethods pinhole_port_mapper_get_methods (PinholePortMapper    *self);

/* internal_address: (nullable) the LAN address the router sees us on; NULL lets UPnP use
 * the address we reached the router from (PCP and NAT-PMP map the request's source) */
void                pinhole_port_mapper_map_async    (PinholePortMapper      *self,
                                                      PinholePortMapProtocol  protocol,
                                                      guint16                 internal_port,
                                                      GInetAddress           *internal_address,
                                                      guint                   lifetime_s,
                                                      GCancellable           *cancellable,
                                                      GAsyncReadyCallback     callback,
                                                      gpointer                user_data);
/* Returns: (transfer full): the mapping, kept and renewed by the mapper until shutdown;
 * PINHOLE_ERROR_NO_PATH naming what each method did when none worked */
PinholePortMapping *pinhole_port_mapper_map_finish   (PinholePortMapper      *self,
                                                      GAsyncResult           *result,
                                                      GError                **error);

/* deletes every mapping at the router, within a bounded time; later renewals stop */
void                pinhole_port_mapper_shutdown_async  (PinholePortMapper   *self,
                                                         GCancellable        *cancellable,
                                                         GAsyncReadyCallback  callback,
                                                         gpointer             user_data);
gboolean            pinhole_port_mapper_shutdown_finish (PinholePortMapper   *self,
                                                         GAsyncResult        *result,
                                                         GError             **error);

/* Returns: (transfer none) (nullable): the router's external address from the last answer */
GInetAddress       *pinhole_port_mapper_get_external_address (PinholePortMapper *self);
/* Returns: (transfer container): copies of the live mappings */
GPtrArray          *pinhole_port_mapper_dup_mappings  (PinholePortMapper *self);
/* Returns: (transfer full): what the routers did, for "why not direct":
 * "upnp: answered, pcp: none, nat-pmp: none" (each "answered", "none" or "not tried") */
char               *pinhole_port_mapper_dup_summary   (PinholePortMapper *self);

G_END_DECLS
