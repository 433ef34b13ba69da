/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-ws-limit.h: a WebSocket (RFC 6455 §5.2) frame-header scanner that bounds the size of
 * whole messages, fragments included, on bytes on their way to libsoup; on a server's side it
 * first passes the one HTTP request head that opens the WebSocket. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PINHOLE_WS_LIMIT_MAX_HEAD (16 * 1024)

typedef struct
{
  /* the HTTP head before the frames (a server's side), while in_head */
  gboolean in_head;
  guint    head_bytes;
  guint    line_len;
  char     line[24];       /* the start of the current line, lower-cased */
  gboolean cr;             /* the last byte was a CR */

  guint64 max_text;        /* a whole text message, in bytes */
  guint64 max_binary;      /* a whole binary message */

  /* the frame being read */
  guint8  header[14];
  guint   header_len;
  guint64 payload_left;    /* bytes of its payload still to pass */

  /* the message being assembled from data frames */
  guint8  message_opcode;  /* 1 text, 2 binary; 0 between messages */
  guint64 message_len;
} PinholeWsLimit;

void  pinhole_ws_limit_init (PinholeWsLimit *limit,
                             gboolean        http_head,
                             guint64         max_text,
                             guint64         max_binary);
gsize pinhole_ws_limit_scan (PinholeWsLimit *limit,
                             const guint8   *data,
                             gsize           len,
                             GError        **error);

G_END_DECLS
