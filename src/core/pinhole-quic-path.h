/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-quic-path.h: a PinholePath over QUIC (RFC 9000) to one remote address, on a UDP
 * socket it shares with STUN checks, each end's certificate pinned by the fingerprint the peer
 * sent inside the end-to-end encrypted session. */
#pragma once

#include "pinhole-path.h"
#include "pinhole-quic-certificate.h"

G_BEGIN_DECLS

/* bytes (frames with their headers) that may wait for QUIC's flow and congestion control
 * before send() fails with PINHOLE_ERROR_LIMIT */
#define PINHOLE_QUIC_PATH_MAX_QUEUED (4 * 1024 * 1024)

/* stream bytes handed to QUIC and not yet acknowledged by the peer, at most: QUIC keeps them
 * for retransmission */
#define PINHOLE_QUIC_PATH_MAX_UNACKED (16 * 1024 * 1024)

/* the path closes with PINHOLE_ERROR_TIMEOUT after this long without a packet from the peer
 * (QUIC's idle timeout, the smaller of both ends' wins); an idle path sends a PING every
 * PINHOLE_QUIC_PATH_KEEPALIVE_MS, so only a dead peer or path goes quiet that long */
#define PINHOLE_QUIC_PATH_IDLE_TIMEOUT_MS 6000
#define PINHOLE_QUIC_PATH_KEEPALIVE_MS 1500

/* the handshake gives up after this long */
#define PINHOLE_QUIC_PATH_HANDSHAKE_TIMEOUT_MS 10000

/* the ALPN protocol id both ends require */
#define PINHOLE_QUIC_PATH_ALPN "pinhole/1"

/* Telling QUIC from STUN on the shared socket: a STUN message starts with two zero bits and
 * has the magic cookie at offset 4 (RFC 8489 §5, pinhole_stun_message_looks_like_stun());
 * the socket's owner hands every other datagram from the path's remote address to the path.
 * RFC 9443's first-byte rule (QUIC has the fixed bit 0x40 set) does not hold alone: ngtcp2
 * 0.12 always offers RFC 9287's greasing of that bit and clears it on about half of its
 * connections, so a short header may start with 00. The path therefore picks its own
 * connection ids, which the peer's short headers carry from offset 1, so that bytes 4…7 of
 * such a packet are never the cookie; long headers start with 1 and are never STUN. */

#define PINHOLE_TYPE_QUIC_PATH (pinhole_quic_path_get_type ())
G_DECLARE_FINAL_TYPE (PinholeQuicPath, pinhole_quic_path, PINHOLE, QUIC_PATH, GObject)

PinholeQuicPath *pinhole_quic_path_new           (GSocket                *socket,
                                                  GSocketAddress         *remote,
                                                  PinholePathKind         kind,
                                                  gboolean                initiator,
                                                  PinholeQuicCertificate *certificate,
                                                  const char             *peer_fingerprint);
void             pinhole_quic_path_receive       (PinholeQuicPath        *self,
                                                  const guint8           *data,
                                                  gsize                   len);
gboolean         pinhole_quic_path_is_connected  (PinholeQuicPath        *self);

G_END_DECLS
