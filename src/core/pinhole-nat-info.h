/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-nat-info.h: what one side knows of its own network, as it tells its peer inside
 * the session with its candidates: structured fields, never prose (docs/protocol.md §8). */
#pragma once

#include <json-glib/json-glib.h>

#include "pinhole-gatherer.h"

G_BEGIN_DECLS

typedef struct
{
  PinholeNatMapping mapping;
  gboolean          udp;           /* STUN over UDP answered */
  gboolean          tcp;           /* STUN over TCP answered */
  gboolean          port_mapping;  /* the router gave a UPnP-IGD or NAT-PMP mapping */
} PinholeNatInfo;

#define PINHOLE_TYPE_NAT_INFO (pinhole_nat_info_get_type ())
GType           pinhole_nat_info_get_type  (void);
PinholeNatInfo *pinhole_nat_info_copy      (const PinholeNatInfo *info);
void            pinhole_nat_info_free      (PinholeNatInfo       *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeNatInfo, pinhole_nat_info_free)

void            pinhole_nat_info_of_gatherer (PinholeGatherer *gatherer,
                                              PinholeNatInfo  *out_info);
JsonObject     *pinhole_nat_info_to_json   (const PinholeNatInfo *info);
gboolean        pinhole_nat_info_from_json (JsonObject           *object,
                                            PinholeNatInfo       *out_info,
                                            GError              **error);
char           *pinhole_nat_info_describe  (const PinholeNatInfo *info);

G_END_DECLS
