/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-tcp-path.h: a PinholePath over one connected TCP stream (LAN, mapped port or TCP
 * simultaneous open), each packet framed by a 4-byte big-endian length. */
#pragma once

#include "pinhole-path.h"

G_BEGIN_DECLS

/* bytes (frames with their headers) that may wait for the socket before send() fails with
 * PINHOLE_ERROR_LIMIT */
#define PINHOLE_TCP_PATH_MAX_QUEUED (4 * 1024 * 1024)

#define PINHOLE_TYPE_TCP_PATH (pinhole_tcp_path_get_type ())
G_DECLARE_FINAL_TYPE (PinholeTcpPath, pinhole_tcp_path, PINHOLE, TCP_PATH, GObject)

PinholeTcpPath *pinhole_tcp_path_new              (GIOStream       *stream,
                                                   PinholePathKind  kind,
                                                   const char      *remote);
gsize           pinhole_tcp_path_get_queued_bytes (PinholeTcpPath  *self);

G_END_DECLS
