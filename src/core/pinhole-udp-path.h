/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-udp-path.h: a PinholePath over UDP to one remote address, made reliable, ordered and
 * congestion-controlled by libnice's PseudoTcp, on a socket it shares with STUN checks. */
#pragma once

#include "pinhole-path.h"

G_BEGIN_DECLS

/* bytes (frames with their headers) that may wait for PseudoTcp before send() fails with
 * PINHOLE_ERROR_LIMIT */
#define PINHOLE_UDP_PATH_MAX_QUEUED (4 * 1024 * 1024)

/* The PseudoTcp conversation id, the first 32 bits of every datagram the path sends. Its top
 * two bits are 01, and a STUN message starts with two zero bits (RFC 8489 §5), so the owner of
 * the socket never takes a path datagram for STUN. */
#define PINHOLE_UDP_PATH_CONVERSATION 0x50484e4cu /* "PHNL" */

/* the largest datagram the path sends, IP and UDP headers included (safe on tunnels and
 * IPv6 minimum-MTU links) */
#define PINHOLE_UDP_PATH_MTU 1200

#define PINHOLE_TYPE_UDP_PATH (pinhole_udp_path_get_type ())
G_DECLARE_FINAL_TYPE (PinholeUdpPath, pinhole_udp_path, PINHOLE, UDP_PATH, GObject)

PinholeUdpPath *pinhole_udp_path_new              (GSocket         *socket,
                                                   GSocketAddress  *remote,
                                                   PinholePathKind  kind,
                                                   gboolean         initiator);
void            pinhole_udp_path_receive          (PinholeUdpPath  *self,
                                                   const guint8    *data,
                                                   gsize            len);
gboolean        pinhole_udp_path_is_connected     (PinholeUdpPath  *self);
gsize           pinhole_udp_path_get_queued_bytes (PinholeUdpPath  *self);

G_END_DECLS
