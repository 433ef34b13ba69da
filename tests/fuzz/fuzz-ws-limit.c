/* SPDX-License-Identifier: GPL-3.0-or-later
 * fuzz-ws-limit.c: libFuzzer harness for PinholeWsLimit, the WebSocket frame-header scanner
 * that bounds whole messages under libsoup. The first byte chooses a server's side (with a
 * request head) or a client's and the piece size; the rest is scanned once in pieces and once
 * a byte at a time, and both must refuse at the same frame, or neither. */
#include "pinhole-ws-limit.h"

#include <stdint.h>

/* Returns: the bytes that passed before a refusal, or @len */
static gsize
scan_in_pieces (gboolean       http_head,
                const guint8  *data,
                gsize          len,
                gsize          piece,
                gboolean      *refused)
{
  PinholeWsLimit limit;
  gsize pos = 0;

  pinhole_ws_limit_init (&limit, http_head, 300, 70000);
  *refused = FALSE;
  while (pos < len)
    {
      g_autoptr(GError) error = NULL;
      gsize n = MIN (piece, len - pos);
      gsize pass = pinhole_ws_limit_scan (&limit, data + pos, n, &error);

      g_assert (pass <= n);
      g_assert ((pass < n) == (error != NULL));
      if (error != NULL)
        {
          *refused = TRUE;
          return pos + pass;
        }
      pos += n;
    }
  return len;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  gboolean http_head, refused_a, refused_b;
  gsize piece, a, b;

  if (size < 1)
    return 0;
  http_head = data[0] & 1;
  piece = (data[0] >> 1) + 1;
  a = scan_in_pieces (http_head, data + 1, size - 1, piece, &refused_a);
  b = scan_in_pieces (http_head, data + 1, size - 1, 1, &refused_b);
  g_assert (refused_a == refused_b);
  /* in pieces, a refused header's first bytes may already have passed: at most 13 */
  g_assert (b >= a || a - b < 14);
  g_assert (a >= b || b - a < 14);
  return 0;
}
