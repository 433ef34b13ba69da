/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-gatherer.h: this device's candidates (RFC 8445 §5.1.1): the addresses of its
 * interfaces, ports its router opened on request (UPnP-IGD, NAT-PMP), and the addresses a
 * STUN server saw over UDP and TCP; and what that tells about its NAT (RFC 5780 §4.3). */
#pragma once

#include "pinhole-candidate.h"
#include "pinhole-endpoint.h"
#include "pinhole-port-mapper.h"

G_BEGIN_DECLS

typedef enum
{
  PINHOLE_NAT_MAPPING_UNKNOWN,      /* no STUN answer (yet) */
  PINHOLE_NAT_MAPPING_NONE,         /* STUN saw one of our own addresses: no NAT */
  PINHOLE_NAT_MAPPING_INDEPENDENT,  /* the same mapping towards two server ports */
  PINHOLE_NAT_MAPPING_DEPENDENT,    /* a new mapping per destination: "symmetric" */
} PinholeNatMapping;

const char *pinhole_nat_mapping_to_string (PinholeNatMapping mapping);

#define PINHOLE_TYPE_GATHERER (pinhole_gatherer_get_type ())
G_DECLARE_FINAL_TYPE (PinholeGatherer, pinhole_gatherer, PINHOLE, GATHERER, GObject)

PinholeGatherer  *pinhole_gatherer_new             (PinholeEndpoint   *endpoint,
                                                    PinholePortMapper *mapper);
void              pinhole_gatherer_set_stun_server (PinholeGatherer   *self,
                                                    const char        *host,
                                                    guint16            port,
                                                    guint16            alt_port);
void              pinhole_gatherer_gather          (PinholeGatherer   *self);
gboolean          pinhole_gatherer_is_done         (PinholeGatherer   *self);
GPtrArray        *pinhole_gatherer_get_candidates  (PinholeGatherer   *self);
PinholeNatMapping pinhole_gatherer_get_nat_mapping (PinholeGatherer   *self);
gboolean          pinhole_gatherer_get_udp_works   (PinholeGatherer   *self);
gboolean          pinhole_gatherer_get_tcp_works   (PinholeGatherer   *self);
gboolean          pinhole_gatherer_has_mapping     (PinholeGatherer   *self);
char             *pinhole_gatherer_describe        (PinholeGatherer   *self);

G_END_DECLS
