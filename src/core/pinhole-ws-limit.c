/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-ws-limit.c: reads WebSocket frame headers (RFC 6455 §5.2) as the bytes stream past
 * and refuses a message, before its payload arrives, once its fragments together would pass
 * the limit. libsoup 3.2 applies max-incoming-payload-size to each frame only and assembles
 * fragments without bound (soup-websocket-connection.c, process_contents), and offers no hook
 * per fragment; so the bound is kept here, below it, on the stream it reads. Only the headers
 * are read: payloads are counted and passed on untouched, and libsoup still checks everything
 * else (masking, opcodes, UTF-8, the order of fragments). */
#define G_LOG_DOMAIN "pinhole-ws"

#include "pinhole-ws-limit.h"
#include "pinhole-error.h"

#include <string.h>

/**
 * pinhole_ws_limit_init:
 * @http_head: the stream starts with the HTTP request that opens the WebSocket (a server's
 *   side); a client's scanner starts after the server's answer
 */
void
pinhole_ws_limit_init (PinholeWsLimit *limit,
                       gboolean        http_head,
                       guint64         max_text,
                       guint64         max_binary)
{
  *limit = (PinholeWsLimit) { 0 };
  limit->in_head = http_head;
  limit->max_text = max_text;
  limit->max_binary = max_binary;
}

/* the header's full length once its first two bytes are in */
static guint
header_size (const guint8 *h)
{
  guint size = 2;

  if ((h[1] & 0x7f) == 126)
    size += 2;
  else if ((h[1] & 0x7f) == 127)
    size += 8;
  if (h[1] & 0x80)
    size += 4;
  return size;
}

static guint64
payload_length (const guint8 *h)
{
  guint64 len = h[1] & 0x7f;

  if (len == 126)
    return (guint64) h[2] << 8 | h[3];
  if (len == 127)
    {
      len = 0;
      for (guint i = 2; i < 10; i++)
        len = len << 8 | h[i];
    }
  return len;
}

/* a whole header: whether its frame keeps its message within the limit */
static gboolean
check_frame (PinholeWsLimit *limit,
             GError        **error)
{
  const guint8 *h = limit->header;
  gboolean fin = (h[0] & 0x80) != 0;
  guint8 opcode = h[0] & 0x0f;
  guint64 len = payload_length (h);
  guint64 max;

  limit->payload_left = len;
  if (opcode & 0x08)
    {
      /* RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less" */
      if (len > 125)
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                       "a control frame of %" G_GUINT64_FORMAT " bytes (at most 125)", len);
          return FALSE;
        }
      return TRUE;
    }
  if (opcode != 0)
    {
      /* a new message (one that interrupts another is libsoup's protocol error) */
      limit->message_opcode = opcode;
      limit->message_len = 0;
    }
  max = limit->message_opcode == 2 ? limit->max_binary : limit->max_text;
  /* compared with what remains: message_len + len may overflow */
  if (len > max - MIN (limit->message_len, max))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "a %s message of more than %" G_GUINT64_FORMAT " bytes",
                   limit->message_opcode == 2 ? "binary" : "text", max);
      return FALSE;
    }
  limit->message_len += len;
  if (fin)
    {
      limit->message_opcode = 0;
      limit->message_len = 0;
    }
  return TRUE;
}

/* the end of a header line: a body, or a folded line, would put the frames somewhere this
 * scanner does not look */
static gboolean
check_line (PinholeWsLimit *limit,
            GError        **error)
{
  guint n = MIN (limit->line_len, sizeof limit->line);
  const char *colon = memchr (limit->line, ':', n);
  gsize name_len = colon != NULL ? (gsize) (colon - limit->line) : n;

  while (name_len > 0 && (limit->line[name_len - 1] == ' ' || limit->line[name_len - 1] == '\t'))
    name_len--;
  if (limit->line[0] == ' ' || limit->line[0] == '\t')
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "a folded header line in the WebSocket request");
      return FALSE;
    }
  if (colon != NULL &&
      ((name_len == 14 && memcmp (limit->line, "content-length", 14) == 0) ||
       (name_len == 17 && memcmp (limit->line, "transfer-encoding", 17) == 0)))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "a WebSocket request with a body (%.*s)", (int) name_len, limit->line);
      return FALSE;
    }
  return TRUE;
}

/* one byte of the HTTP head; Returns: FALSE with @error set when the head is refused */
static gboolean
scan_head_byte (PinholeWsLimit *limit,
                guint8          byte,
                GError        **error)
{
  if (++limit->head_bytes > PINHOLE_WS_LIMIT_MAX_HEAD)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "a WebSocket request head of more than %u bytes", PINHOLE_WS_LIMIT_MAX_HEAD);
      return FALSE;
    }
  if (limit->cr != (byte == '\n'))
    {
      /* lines end in CRLF and nothing else: libsoup looks for the head's end as "\r\n\r\n" */
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "a bare CR or LF in the WebSocket request");
      return FALSE;
    }
  limit->cr = byte == '\r';
  if (byte == '\r')
    return TRUE;
  if (byte != '\n')
    {
      if (limit->line_len < sizeof limit->line)
        limit->line[limit->line_len] = g_ascii_tolower ((char) byte);
      limit->line_len++;
      return TRUE;
    }
  if (limit->line_len == 0)
    {
      if (limit->head_bytes == 2)
        {
          g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                               "an empty line before the WebSocket request");
          return FALSE;
        }
      /* the blank line: frames follow */
      limit->in_head = FALSE;
      return TRUE;
    }
  if (limit->head_bytes > limit->line_len + 2 && !check_line (limit, error))
    return FALSE;
  limit->line_len = 0;
  return TRUE;
}

/**
 * pinhole_ws_limit_scan:
 * @data: the next @len bytes of the stream
 *
 * Returns: how many of the @len bytes may pass: all of them, or, with @error set, those
 *   before the header of the first frame that would take its message past the limit. After
 *   an error the stream must not go on.
 */
gsize
pinhole_ws_limit_scan (PinholeWsLimit *limit,
                       const guint8   *data,
                       gsize           len,
                       GError        **error)
{
  gsize pos = 0;
  gsize frame_start = 0;

  while (pos < len && limit->in_head)
    {
      if (!scan_head_byte (limit, data[pos], error))
        return pos;
      pos++;
    }
  while (pos < len)
    {
      guint need;

      if (limit->payload_left > 0)
        {
          guint64 skip = MIN (limit->payload_left, (guint64) (len - pos));

          limit->payload_left -= skip;
          pos += skip;
          continue;
        }
      if (limit->header_len == 0)
        frame_start = pos;
      limit->header[limit->header_len++] = data[pos++];
      if (limit->header_len < 2)
        continue;
      need = header_size (limit->header);
      if (limit->header_len < need)
        continue;
      limit->header_len = 0;
      if (!check_frame (limit, error))
        return frame_start;
    }
  return len;
}
