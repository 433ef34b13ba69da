/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-path-private.h: what the paths that frame packets in a byte stream share
 * (pinhole-tcp-path.c over TCP, pinhole-quic-path.c over a QUIC stream): the far end and kind,
 * the bound on queued frames, the frame-length limit, and closing once. */
#pragma once

#include "pinhole-path.h"

G_BEGIN_DECLS

/**
 * PinholePathStream:
 * The state a framed path embeds in its instance; pinhole-path-stream.c keeps the rules.
 */
typedef struct
{
  /* borrowed: the path that embeds this */
  PinholePath     *path;
  /* static strings: the path's log domain, and "TCP" or "UDP" for messages */
  const char      *log_domain;
  const char      *transport;
  /* stops all I/O and sets closed; emits nothing */
  void           (*shut_down) (PinholePath *path);
  /* frame bytes (headers included) that may wait before a send fails */
  gsize            max_queued;

  /* owned */
  char            *remote;        /* for display: "203.0.113.7:41000" */

  PinholePathKind  kind;
  gsize            queued;        /* frame bytes sent and not yet taken by the transport */
  gboolean         closed;
} PinholePathStream;

void     _pinhole_path_stream_init        (PinholePathStream  *stream,
                                           PinholePath        *path,
                                           const char         *log_domain,
                                           const char         *transport,
                                           gsize               max_queued,
                                           void              (*shut_down) (PinholePath *path));
void     _pinhole_path_stream_clear       (PinholePathStream  *stream);
gboolean _pinhole_path_stream_reserve     (PinholePathStream  *stream,
                                           gsize               len,
                                           GError            **error);
gboolean _pinhole_path_stream_check_frame (PinholePathStream  *stream,
                                           gsize               len);
void     _pinhole_path_stream_close       (PinholePathStream  *stream,
                                           const GError       *error);

G_END_DECLS
