/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-contact.h: one contact user: how they relate to us, their devices, their best
 * presence, the worst key state of its devices and whether all are verified, and the path,
 * RTT and relay reason of the device the conversation currently uses (the one with a live
 * session on the best path). Every property notifies. */
#pragma once

#include <gio/gio.h>

#include "pinhole-device.h"
#include "pinhole-enum-types.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_CONTACT (pinhole_contact_get_type ())
G_DECLARE_FINAL_TYPE (PinholeContact, pinhole_contact, PINHOLE, CONTACT, GObject)

const char        *pinhole_contact_get_user           (PinholeContact *self);
PinholeRelation    pinhole_contact_get_relation       (PinholeContact *self);
PinholePresence    pinhole_contact_get_presence       (PinholeContact *self);
GListModel        *pinhole_contact_get_devices        (PinholeContact *self);
PinholeDevice     *pinhole_contact_get_current_device (PinholeContact *self);
PinholePathKind    pinhole_contact_get_path_kind      (PinholeContact *self);
gdouble            pinhole_contact_get_rtt_ms         (PinholeContact *self);
const char        *pinhole_contact_get_remote         (PinholeContact *self);
PinholeRelayReason pinhole_contact_get_relay_reason   (PinholeContact *self);
const char        *pinhole_contact_get_relay_reason_text (PinholeContact *self);
PinholeKeyState    pinhole_contact_get_key_state      (PinholeContact *self);
gboolean           pinhole_contact_get_verified       (PinholeContact *self);
PinholeDevice     *pinhole_contact_lookup_device      (PinholeContact *self,
                                                       const char     *device);

G_END_DECLS
