/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-device.h: one device of a contact, as this client sees it: its key, its presence,
 * whether the user verified that key (compared its safety number), and, while the two
 * devices talk, the end-to-end session between them, the path it runs on and why it is
 * relayed. The device owns its session, the relay channel under it and the agent that looks
 * for a direct path; views bind to its properties, which notify. */
#pragma once

#include <gio/gio.h>

#include "pinhole-enum-types.h"
#include "pinhole-nat-info.h"
#include "pinhole-path.h"
#include "pinhole-session.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_DEVICE (pinhole_device_get_type ())
G_DECLARE_FINAL_TYPE (PinholeDevice, pinhole_device, PINHOLE, DEVICE, GObject)

const char        *pinhole_device_get_user           (PinholeDevice *self);
const char        *pinhole_device_get_name           (PinholeDevice *self);
const char        *pinhole_device_get_id             (PinholeDevice *self);
GBytes            *pinhole_device_get_key            (PinholeDevice *self);
PinholePresence    pinhole_device_get_presence       (PinholeDevice *self);
PinholeKeyState    pinhole_device_get_key_state      (PinholeDevice *self);
gboolean           pinhole_device_get_verified       (PinholeDevice *self);
char              *pinhole_device_dup_safety_number  (PinholeDevice *self);
PinholeSession    *pinhole_device_get_session        (PinholeDevice *self);
PinholePathKind    pinhole_device_get_path_kind      (PinholeDevice *self);
gdouble            pinhole_device_get_rtt_ms         (PinholeDevice *self);
const char        *pinhole_device_get_remote         (PinholeDevice *self);
PinholeRelayReason pinhole_device_get_relay_reason   (PinholeDevice *self);
const char        *pinhole_device_get_relay_reason_text (PinholeDevice *self);
const PinholeNatInfo *pinhole_device_get_nat         (PinholeDevice *self);
GPtrArray         *pinhole_device_dup_checks         (PinholeDevice *self);
gboolean           pinhole_device_is_connected       (PinholeDevice *self);
void               pinhole_device_hold_probes        (PinholeDevice *self);
void               pinhole_device_release_probes     (PinholeDevice *self);
void               pinhole_device_retry_direct       (PinholeDevice *self);

G_END_DECLS
