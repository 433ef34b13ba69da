/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-pcp-message.c: the PCP codec (RFC 6887 §7 common header, §7.3 options, §8.3
 * response checks, §8.5 epoch, §11 MAP, §14.1 ANNOUNCE). Debian has no PCP library, so we
 * write the few fixed-layout messages a client needs, through a bounds-checked reader. */
#include "pinhole-pcp-message.h"

#include <string.h>

#include "pinhole-error.h"

#define R_BIT 0x80

/* option codes we may see in a response (§7.3, §19.3): 1-127 must be understood */
#define OPTION_THIRD_PARTY    1
#define OPTION_PREFER_FAILURE 2
#define OPTION_FILTER         3

typedef struct
{
  const guint8 *data;
  gsize         len;
  gsize         pos;
} Reader;

static gboolean
read_u8 (Reader *r,
         guint8 *out)
{
  if (r->len - r->pos < 1)
    return FALSE;
  *out = r->data[r->pos++];
  return TRUE;
}

/* a big-endian number of n <= 4 bytes */
static gboolean
read_be (Reader  *r,
         gsize    n,
         guint32 *out)
{
  guint32 v = 0;

  if (r->len - r->pos < n)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    v = v << 8 | r->data[r->pos + i];
  r->pos += n;
  *out = v;
  return TRUE;
}

static gboolean
read_u16 (Reader  *r,
          guint16 *out)
{
  guint32 v;

  if (!read_be (r, 2, &v))
    return FALSE;
  *out = (guint16) v;
  return TRUE;
}

static gboolean
read_bytes (Reader *r,
            guint8 *out,
            gsize   n)
{
  if (r->len - r->pos < n)
    return FALSE;
  if (out != NULL)
    memcpy (out, r->data + r->pos, n);
  r->pos += n;
  return TRUE;
}

static guint8 *
put_u16 (guint8  *p,
         guint16  v)
{
  p[0] = (guint8) (v >> 8);
  p[1] = (guint8) v;
  return p + 2;
}

static guint8 *
put_u32 (guint8  *p,
         guint32  v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
  return p + 4;
}

/* §7.1: version, R=0 and opcode, reserved, requested lifetime, client's address */
static guint8 *
put_request_header (guint8       *p,
                    guint8        opcode,
                    guint32       lifetime_s,
                    const guint8  client_address[16])
{
  *p++ = PINHOLE_PCP_VERSION;
  *p++ = opcode;
  p = put_u16 (p, 0);
  p = put_u32 (p, lifetime_s);
  memcpy (p, client_address, 16);
  return p + 16;
}

void
pinhole_pcp_encode_map (guint8               out[PINHOLE_PCP_MAP_REQUEST_SIZE],
                        guint32              lifetime_s,
                        const guint8         client_address[16],
                        const PinholePcpMap *map)
{
  guint8 *p;

  g_return_if_fail (out != NULL && client_address != NULL && map != NULL);

  p = put_request_header (out, PINHOLE_PCP_OPCODE_MAP, lifetime_s, client_address);
  memcpy (p, map->nonce, PINHOLE_PCP_NONCE_SIZE);
  p += PINHOLE_PCP_NONCE_SIZE;
  *p++ = map->protocol;
  memset (p, 0, 3);
  p += 3;
  p = put_u16 (p, map->internal_port);
  p = put_u16 (p, map->external_port);
  memcpy (p, map->external_address, 16);
}

void
pinhole_pcp_encode_announce (guint8       out[PINHOLE_PCP_HEADER_SIZE],
                             const guint8 client_address[16])
{
  g_return_if_fail (out != NULL && client_address != NULL);

  /* §14.1: an ANNOUNCE request carries lifetime 0 */
  put_request_header (out, PINHOLE_PCP_OPCODE_ANNOUNCE, 0, client_address);
}

static gboolean
drop (GError    **error,
      const char *format,
      ...) G_GNUC_PRINTF (2, 3);

static gboolean
drop (GError    **error,
      const char *format,
      ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL, message);
  return FALSE;
}

/* §7.3: code, reserved, length, data padded to 4; the whole rest of the message */
static gboolean
read_options (Reader  *r,
              GError **error)
{
  while (r->pos < r->len)
    {
      guint8 code, reserved;
      guint16 length;
      gsize padded;

      if (!read_u8 (r, &code) || !read_u8 (r, &reserved) || !read_u16 (r, &length))
        return drop (error, "PCP option header truncated at byte %" G_GSIZE_FORMAT, r->pos);
      padded = ((gsize) length + 3) & ~(gsize) 3;
      if (!read_bytes (r, NULL, padded))
        return drop (error, "PCP option %u claims %u bytes, %" G_GSIZE_FORMAT " left", code,
                     length, r->len - r->pos);
      /* §7.3: options 0-127 are mandatory to process; we understand those a server may
       * echo, and drop a response that has another */
      if (code < 128 && code != OPTION_THIRD_PARTY && code != OPTION_PREFER_FAILURE
          && code != OPTION_FILTER)
        return drop (error, "PCP response has unknown mandatory option %u", code);
    }
  return TRUE;
}

gboolean
pinhole_pcp_decode_response (const guint8         *data,
                             gsize                 len,
                             const PinholePcpMap  *request,
                             PinholePcpResponse   *out,
                             GError              **error)
{
  Reader r = { data, len, 0 };
  PinholePcpResponse resp = { 0 };
  guint8 version, op, reserved;
  guint8 reserved3[3];

  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (len < 2)
    return drop (error, "PCP response of %" G_GSIZE_FORMAT " bytes is too short", len);
  version = data[0];
  if (version != PINHOLE_PCP_VERSION)
    {
      /* §9: a NAT-PMP server answers a PCP request with version 0 */
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED,
                   "the server speaks %s version %u, not PCP version %u",
                   version == 0 ? "NAT-PMP" : "PCP", version, PINHOLE_PCP_VERSION);
      return FALSE;
    }
  /* §8.3: "MUST be silently dropped" when shorter than 4 or longer than 1100 octets, or
   * not a multiple of 4; a response has at least the 24-byte header */
  if (len < PINHOLE_PCP_HEADER_SIZE)
    return drop (error, "PCP response of %" G_GSIZE_FORMAT " bytes is shorter than its header",
                 len);
  if (len > PINHOLE_PCP_MAX_MESSAGE || len % 4 != 0)
    return drop (error, "PCP response of %" G_GSIZE_FORMAT " bytes is not a multiple of 4 up "
                 "to %d", len, PINHOLE_PCP_MAX_MESSAGE);

  read_u8 (&r, &version);
  read_u8 (&r, &op);
  /* §8.3: a message without the R bit is a request, not ours to read */
  if (!(op & R_BIT))
    return drop (error, "PCP message with opcode %u is a request, not a response", op);
  op &= (guint8) ~R_BIT;
  read_u8 (&r, &reserved);
  read_u8 (&r, &resp.result);
  read_be (&r, 4, &resp.lifetime_s);
  read_be (&r, 4, &resp.epoch_s);
  read_bytes (&r, NULL, 12);

  if (op == PINHOLE_PCP_OPCODE_ANNOUNCE)
    resp.opcode = PINHOLE_PCP_OPCODE_ANNOUNCE;
  else if (op == PINHOLE_PCP_OPCODE_MAP && request != NULL)
    {
      resp.opcode = PINHOLE_PCP_OPCODE_MAP;
      if (!read_bytes (&r, resp.map.nonce, PINHOLE_PCP_NONCE_SIZE) ||
          !read_u8 (&r, &resp.map.protocol) || !read_bytes (&r, reserved3, 3) ||
          !read_u16 (&r, &resp.map.internal_port) || !read_u16 (&r, &resp.map.external_port) ||
          !read_bytes (&r, resp.map.external_address, 16))
        return drop (error, "PCP MAP response of %" G_GSIZE_FORMAT " bytes is shorter than "
                     "its %d", len, PINHOLE_PCP_MAP_REQUEST_SIZE);
      /* §11.4: a response is ours when nonce, protocol and internal port match */
      if (memcmp (resp.map.nonce, request->nonce, PINHOLE_PCP_NONCE_SIZE) != 0)
        return drop (error, "PCP MAP response has another mapping nonce");
      if (resp.map.protocol != request->protocol ||
          resp.map.internal_port != request->internal_port)
        return drop (error, "PCP MAP response is for protocol %u port %u, not %u port %u",
                     resp.map.protocol, resp.map.internal_port, request->protocol,
                     request->internal_port);
    }
  else
    return drop (error, "PCP response has opcode %u, not %s", op,
                 request != NULL ? "MAP or ANNOUNCE" : "ANNOUNCE");

  if (!read_options (&r, error))
    return FALSE;
  *out = resp;
  return TRUE;
}

const char *
pinhole_pcp_result_to_string (guint8 result)
{
  static const char *const names[] = {
    "SUCCESS", "UNSUPP_VERSION", "NOT_AUTHORIZED", "MALFORMED_REQUEST", "UNSUPP_OPCODE",
    "UNSUPP_OPTION", "MALFORMED_OPTION", "NETWORK_FAILURE", "NO_RESOURCES", "UNSUPP_PROTOCOL",
    "USER_EX_QUOTA", "CANNOT_PROVIDE_EXTERNAL", "ADDRESS_MISMATCH", "EXCESSIVE_REMOTE_PEERS",
  };

  if (result < G_N_ELEMENTS (names))
    return names[result];
  return "unknown result";
}

gboolean
pinhole_pcp_result_is_transient (guint8 result)
{
  /* §7.4: the short-term errors; the rest are long-term until the network changes */
  return result == PINHOLE_PCP_RESULT_NETWORK_FAILURE
         || result == PINHOLE_PCP_RESULT_NO_RESOURCES
         || result == PINHOLE_PCP_RESULT_USER_EX_QUOTA;
}

gboolean
pinhole_pcp_epoch_update (PinholePcpEpoch *epoch,
                          guint32          server_s,
                          gint64           client_us)
{
  gboolean valid = TRUE;

  g_return_val_if_fail (epoch != NULL, FALSE);

  if (epoch->known)
    {
      gint64 server_delta = (gint64) server_s - epoch->server_s;
      gint64 client_delta = (client_us - epoch->client_us) / G_USEC_PER_SEC;

      /* §8.5: an epoch more than one second behind the last is invalid; otherwise the two
       * clocks may drift apart by 1/16 of the elapsed time plus 2 s */
      if (server_delta < -1)
        valid = FALSE;
      else if (client_delta + 2 < server_delta - server_delta / 16
               || server_delta + 2 < client_delta - client_delta / 16)
        valid = FALSE;
    }
  epoch->known = TRUE;
  epoch->server_s = server_s;
  epoch->client_us = client_us;
  return valid;
}
