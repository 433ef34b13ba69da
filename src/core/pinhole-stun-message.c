/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-stun-message.c: STUN codec (RFC 8489 §5, §14, §15), validated at the boundary.
 * FINGERPRINT needs CRC-32 (§14.7); GLib has none and zlib is not otherwise needed, so a
 * 16-entry nibble table is written out here. */
#define G_LOG_DOMAIN "pinhole-stun"

#include "pinhole-stun-message.h"
#include "pinhole-error.h"

#include <sodium.h>
#include <string.h>

#define FINGERPRINT_XOR   0x5354554Eu
#define INTEGRITY_LEN     20
#define MAX_USERNAME_LEN  508  /* §14.3: "fewer than 509 bytes" */
#define MAX_TEXT_CHARS    127  /* §14.9, §14.10, §14.8: "fewer than 128 characters" */
#define MAX_TEXT_BYTES    763  /* "... as long as 763 bytes when decoding them" */

/* reflected CRC-32 (IEEE 802.3, polynomial 0xEDB88320), four bits at a time */
static const guint32 crc32_nibble_table[16] = {
  0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
  0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C, 0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
};

guint32
pinhole_stun_crc32 (const guint8 *data,
                    gsize         len)
{
  guint32 crc = 0xFFFFFFFFu;

  g_return_val_if_fail (data != NULL || len == 0, 0);

  for (gsize i = 0; i < len; i++)
    {
      crc ^= data[i];
      crc = (crc >> 4) ^ crc32_nibble_table[crc & 0xF];
      crc = (crc >> 4) ^ crc32_nibble_table[crc & 0xF];
    }
  return crc ^ 0xFFFFFFFFu;
}

/* bounds-checked reader over network bytes */
typedef struct
{
  const guint8 *data;
  gsize         len;
  gsize         pos;
} Reader;

static gsize
reader_left (const Reader *r)
{
  return r->len - r->pos;
}

static gboolean
reader_read_u16 (Reader  *r,
                 guint16 *out)
{
  if (reader_left (r) < 2)
    return FALSE;
  *out = (guint16) (r->data[r->pos] << 8 | r->data[r->pos + 1]);
  r->pos += 2;
  return TRUE;
}

static gboolean
reader_read_u32 (Reader  *r,
                 guint32 *out)
{
  if (reader_left (r) < 4)
    return FALSE;
  *out = (guint32) r->data[r->pos] << 24 | (guint32) r->data[r->pos + 1] << 16
         | (guint32) r->data[r->pos + 2] << 8 | (guint32) r->data[r->pos + 3];
  r->pos += 4;
  return TRUE;
}

static gboolean
reader_read_bytes (Reader        *r,
                   gsize          n,
                   const guint8 **out)
{
  if (reader_left (r) < n)
    return FALSE;
  *out = r->data + r->pos;
  r->pos += n;
  return TRUE;
}

static guint16
get_u16 (const guint8 *p)
{
  return (guint16) (p[0] << 8 | p[1]);
}

static guint32
get_u32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | (guint32) p[3];
}

static guint64
get_u64 (const guint8 *p)
{
  return (guint64) get_u32 (p) << 32 | get_u32 (p + 4);
}

static void
put_u16 (guint8  *p,
         guint16  v)
{
  p[0] = (guint8) (v >> 8);
  p[1] = (guint8) v;
}

static void
put_u32 (guint8  *p,
         guint32  v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
}

PinholeStunMessage *
pinhole_stun_message_new (PinholeStunClass  klass,
                          guint16           method,
                          const guint8     *transaction_id)
{
  PinholeStunMessage *msg;

  g_return_val_if_fail (klass <= PINHOLE_STUN_CLASS_ERROR, NULL);
  g_return_val_if_fail (method <= 0xFFF, NULL);

  msg = g_new0 (PinholeStunMessage, 1);
  msg->klass = klass;
  msg->method = method;
  if (transaction_id != NULL)
    memcpy (msg->transaction_id, transaction_id, PINHOLE_STUN_TRANSACTION_ID_LEN);
  return msg;
}

void
pinhole_stun_message_free (PinholeStunMessage *msg)
{
  if (msg == NULL)
    return;
  g_clear_object (&msg->mapped_address);
  g_clear_object (&msg->xor_mapped_address);
  g_clear_object (&msg->response_origin);
  g_clear_object (&msg->other_address);
  g_free (msg->username);
  g_free (msg->software);
  g_free (msg->realm);
  g_free (msg->nonce);
  g_free (msg->error_reason);
  g_clear_pointer (&msg->unknown_attributes, g_array_unref);
  g_clear_pointer (&msg->unknown_required, g_array_unref);
  g_clear_pointer (&msg->raw, g_bytes_unref);
  g_free (msg);
}

void
pinhole_stun_message_set_random_transaction_id (PinholeStunMessage *msg)
{
  g_return_if_fail (msg != NULL);

  /* §6: "The transaction ID MUST be uniformly and randomly chosen ... cryptographically random" */
  if (sodium_init () < 0)
    g_error ("libsodium failed to initialise");
  randombytes_buf (msg->transaction_id, sizeof msg->transaction_id);
}

gboolean
pinhole_stun_message_looks_like_stun (const guint8 *data,
                                      gsize         len)
{
  if (data == NULL || len < PINHOLE_STUN_HEADER_LEN)
    return FALSE;
  return (data[0] & 0xC0) == 0 && get_u32 (data + 4) == PINHOLE_STUN_MAGIC_COOKIE;
}

static const char *
attr_name (guint16 type)
{
  switch (type)
    {
    case PINHOLE_STUN_ATTR_MAPPED_ADDRESS:     return "MAPPED-ADDRESS";
    case PINHOLE_STUN_ATTR_XOR_MAPPED_ADDRESS: return "XOR-MAPPED-ADDRESS";
    case PINHOLE_STUN_ATTR_RESPONSE_ORIGIN:    return "RESPONSE-ORIGIN";
    case PINHOLE_STUN_ATTR_OTHER_ADDRESS:      return "OTHER-ADDRESS";
    case PINHOLE_STUN_ATTR_USERNAME:           return "USERNAME";
    case PINHOLE_STUN_ATTR_SOFTWARE:           return "SOFTWARE";
    case PINHOLE_STUN_ATTR_REALM:              return "REALM";
    case PINHOLE_STUN_ATTR_NONCE:              return "NONCE";
    case PINHOLE_STUN_ATTR_ERROR_CODE:         return "ERROR-CODE";
    default:                                   return "attribute";
    }
}

static gboolean
decode_address (guint16              type,
                const guint8        *v,
                guint16              len,
                gboolean             xored,
                const guint8        *transaction_id,
                GInetSocketAddress **out,
                GError             **error)
{
  guint8 family;
  guint16 port;
  guint8 bytes[16];
  gsize addr_len;
  g_autoptr(GInetAddress) inet = NULL;

  if (len < 4)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "STUN %s (0x%04x) of %u bytes is too short", attr_name (type), type, len);
      return FALSE;
    }
  /* §14.1: "The address family can take on the following values: 0x01:IPv4 0x02:IPv6" */
  family = v[1];
  if (family == 0x01)
    addr_len = 4;
  else if (family == 0x02)
    addr_len = 16;
  else
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "STUN %s (0x%04x) has unknown address family 0x%02x",
                   attr_name (type), type, family);
      return FALSE;
    }
  if (len != 4 + addr_len)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "STUN %s (0x%04x) of family %s has %u bytes, expected %" G_GSIZE_FORMAT,
                   attr_name (type), type, family == 0x01 ? "IPv4" : "IPv6", len, 4 + addr_len);
      return FALSE;
    }

  port = get_u16 (v + 2);
  memcpy (bytes, v + 4, addr_len);
  if (xored)
    {
      guint8 mask[16];

      /* §14.2: X-Port is the port XOR the 16 most significant bits of the magic cookie;
       * X-Address is XOR the cookie (IPv4) or the cookie and the transaction ID (IPv6) */
      put_u32 (mask, PINHOLE_STUN_MAGIC_COOKIE);
      memcpy (mask + 4, transaction_id, PINHOLE_STUN_TRANSACTION_ID_LEN);
      port ^= (guint16) (PINHOLE_STUN_MAGIC_COOKIE >> 16);
      for (gsize i = 0; i < addr_len; i++)
        bytes[i] ^= mask[i];
    }

  inet = g_inet_address_new_from_bytes (bytes, family == 0x01 ? G_SOCKET_FAMILY_IPV4
                                                              : G_SOCKET_FAMILY_IPV6);
  *out = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (inet, port));
  return TRUE;
}

static gboolean
decode_text (guint16        type,
             const guint8  *v,
             guint16        len,
             gsize          max_bytes,
             char         **out,
             GError       **error)
{
  if (len > max_bytes)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "STUN %s (0x%04x) of %u bytes exceeds %" G_GSIZE_FORMAT,
                   attr_name (type), type, len, max_bytes);
      return FALSE;
    }
  if (!g_utf8_validate_len ((const char *) v, len, NULL))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "STUN %s (0x%04x) of %u bytes is not valid UTF-8", attr_name (type), type, len);
      return FALSE;
    }
  *out = g_strndup ((const char *) v, len);
  return TRUE;
}

static gboolean
check_fixed_len (guint16   type,
                 guint16   len,
                 guint16   expected,
                 GError  **error)
{
  if (len == expected)
    return TRUE;
  g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
               "STUN attribute 0x%04x has %u bytes, expected %u", type, len, expected);
  return FALSE;
}

/* one attribute; a second occurrence of a known attribute is ignored (§14: "only the first
 * occurrence needs to be processed") */
static gboolean
decode_attribute (PinholeStunMessage  *msg,
                  guint16              type,
                  const guint8        *v,
                  guint16              len,
                  GError             **error)
{
  switch (type)
    {
    case PINHOLE_STUN_ATTR_MAPPED_ADDRESS:
      if (msg->mapped_address != NULL)
        return TRUE;
      return decode_address (type, v, len, FALSE, msg->transaction_id, &msg->mapped_address,
                             error);
    case PINHOLE_STUN_ATTR_XOR_MAPPED_ADDRESS:
      if (msg->xor_mapped_address != NULL)
        return TRUE;
      return decode_address (type, v, len, TRUE, msg->transaction_id, &msg->xor_mapped_address,
                             error);
    case PINHOLE_STUN_ATTR_RESPONSE_ORIGIN:
      if (msg->response_origin != NULL)
        return TRUE;
      return decode_address (type, v, len, FALSE, msg->transaction_id, &msg->response_origin,
                             error);
    case PINHOLE_STUN_ATTR_OTHER_ADDRESS:
      if (msg->other_address != NULL)
        return TRUE;
      return decode_address (type, v, len, FALSE, msg->transaction_id, &msg->other_address,
                             error);
    case PINHOLE_STUN_ATTR_USERNAME:
      if (msg->username != NULL)
        return TRUE;
      return decode_text (type, v, len, MAX_USERNAME_LEN, &msg->username, error);
    case PINHOLE_STUN_ATTR_SOFTWARE:
      if (msg->software != NULL)
        return TRUE;
      return decode_text (type, v, len, MAX_TEXT_BYTES, &msg->software, error);
    case PINHOLE_STUN_ATTR_REALM:
      if (msg->realm != NULL)
        return TRUE;
      return decode_text (type, v, len, MAX_TEXT_BYTES, &msg->realm, error);
    case PINHOLE_STUN_ATTR_NONCE:
      if (msg->nonce != NULL)
        return TRUE;
      return decode_text (type, v, len, MAX_TEXT_BYTES, &msg->nonce, error);

    case PINHOLE_STUN_ATTR_ERROR_CODE:
      {
        guint klass, number;

        if (msg->error_code != 0)
          return TRUE;
        if (len < 4)
          {
            g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                         "STUN ERROR-CODE of %u bytes is shorter than 4", len);
            return FALSE;
          }
        klass = v[2] & 0x7;
        number = v[3];
        /* §14.8: the Class "MUST be between 3 and 6", the Number "MUST be between 0 and 99" */
        if (klass < 3 || klass > 6 || number > 99)
          {
            g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                         "STUN ERROR-CODE has class %u and number %u", klass, number);
            return FALSE;
          }
        if (!decode_text (type, v + 4, len - 4, MAX_TEXT_BYTES, &msg->error_reason, error))
          return FALSE;
        msg->error_code = klass * 100 + number;
        return TRUE;
      }

    case PINHOLE_STUN_ATTR_UNKNOWN_ATTRIBUTES:
      if (msg->unknown_attributes != NULL)
        return TRUE;
      /* §14.9: "a list of 16-bit values" */
      if (len % 2 != 0)
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "STUN UNKNOWN-ATTRIBUTES has an odd length %u", len);
          return FALSE;
        }
      msg->unknown_attributes = g_array_sized_new (FALSE, FALSE, sizeof (guint16), len / 2);
      for (guint16 i = 0; i < len; i += 2)
        {
          guint16 t = get_u16 (v + i);
          g_array_append_val (msg->unknown_attributes, t);
        }
      return TRUE;

    case PINHOLE_STUN_ATTR_PRIORITY:
      if (!check_fixed_len (type, len, 4, error))
        return FALSE;
      if (!msg->has_priority)
        msg->priority = get_u32 (v);
      msg->has_priority = TRUE;
      return TRUE;
    case PINHOLE_STUN_ATTR_USE_CANDIDATE:
      if (!check_fixed_len (type, len, 0, error))
        return FALSE;
      msg->use_candidate = TRUE;
      return TRUE;
    case PINHOLE_STUN_ATTR_ICE_CONTROLLED:
      if (!check_fixed_len (type, len, 8, error))
        return FALSE;
      if (!msg->has_ice_controlled)
        msg->ice_controlled = get_u64 (v);
      msg->has_ice_controlled = TRUE;
      return TRUE;
    case PINHOLE_STUN_ATTR_ICE_CONTROLLING:
      if (!check_fixed_len (type, len, 8, error))
        return FALSE;
      if (!msg->has_ice_controlling)
        msg->ice_controlling = get_u64 (v);
      msg->has_ice_controlling = TRUE;
      return TRUE;
    case PINHOLE_STUN_ATTR_CHANGE_REQUEST:
      if (!check_fixed_len (type, len, 4, error))
        return FALSE;
      if (!msg->has_change_request)
        msg->change_request = get_u32 (v);
      msg->has_change_request = TRUE;
      return TRUE;

    default:
      /* §14: "Attributes with type values between 0x0000 and 0x7FFF are
       * comprehension-required attributes ... 0x8000 and 0xFFFF are comprehension-optional
       * attributes, which means that those attributes can be ignored" */
      if (type < 0x8000)
        {
          if (msg->unknown_required == NULL)
            msg->unknown_required = g_array_new (FALSE, FALSE, sizeof (guint16));
          g_array_append_val (msg->unknown_required, type);
        }
      return TRUE;
    }
}

PinholeStunMessage *
pinhole_stun_message_decode (const guint8  *data,
                             gsize          len,
                             GError       **error)
{
  Reader r = { data, len, 0 };
  guint16 type, mlen;
  guint32 cookie;
  const guint8 *tid;
  gboolean seen_integrity = FALSE;
  gboolean seen_fingerprint = FALSE;
  g_autoptr(PinholeStunMessage) msg = NULL;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (len < PINHOLE_STUN_HEADER_LEN)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "STUN message of %" G_GSIZE_FORMAT " bytes is shorter than its 20-byte header",
                   len);
      return NULL;
    }
  if (len > PINHOLE_STUN_MAX_MESSAGE_LEN)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "STUN message of %" G_GSIZE_FORMAT " bytes exceeds %u", len,
                   (guint) PINHOLE_STUN_MAX_MESSAGE_LEN);
      return NULL;
    }

  if (!reader_read_u16 (&r, &type) || !reader_read_u16 (&r, &mlen)
      || !reader_read_u32 (&r, &cookie)
      || !reader_read_bytes (&r, PINHOLE_STUN_TRANSACTION_ID_LEN, &tid))
    g_assert_not_reached ();

  /* §5: "The most significant 2 bits of every STUN message MUST be zeroes." */
  if ((type & 0xC000) != 0)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "STUN message type 0x%04x has its top two bits set", type);
      return NULL;
    }
  /* §5: "The Magic Cookie field MUST contain the fixed value 0x2112A442" */
  if (cookie != PINHOLE_STUN_MAGIC_COOKIE)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "STUN magic cookie is 0x%08x, expected 0x%08x", cookie,
                   PINHOLE_STUN_MAGIC_COOKIE);
      return NULL;
    }
  /* §5: "Since all STUN attributes are padded to a multiple of 4 bytes, the last 2 bits of
   * this field are always zero." */
  if (mlen % 4 != 0)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "STUN message length %u is not a multiple of 4", mlen);
      return NULL;
    }
  /* §5: "The message length MUST contain the size of the message in bytes, not including the
   * 20-byte STUN header." */
  if (mlen != reader_left (&r))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "STUN message length field says %u bytes, %" G_GSIZE_FORMAT " present",
                   mlen, reader_left (&r));
      return NULL;
    }

  msg = g_new0 (PinholeStunMessage, 1);
  msg->klass = ((type & 0x0010) >> 4) | ((type & 0x0100) >> 7);
  msg->method = (type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2);
  memcpy (msg->transaction_id, tid, PINHOLE_STUN_TRANSACTION_ID_LEN);

  while (reader_left (&r) > 0)
    {
      gsize attr_offset = r.pos;
      guint16 atype, alen;
      gsize padded;
      const guint8 *value;

      if (!reader_read_u16 (&r, &atype) || !reader_read_u16 (&r, &alen))
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "STUN attribute header at offset %" G_GSIZE_FORMAT " is truncated",
                       attr_offset);
          return NULL;
        }
      /* §14.7: "When present, the FINGERPRINT attribute MUST be the last attribute in the
       * message" */
      if (seen_fingerprint)
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "STUN attribute 0x%04x follows FINGERPRINT", atype);
          return NULL;
        }
      /* §14.5: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT may
       * follow; anything else is refused rather than ignored, so that nothing unprotected
       * reaches the caller */
      if (seen_integrity && atype != PINHOLE_STUN_ATTR_FINGERPRINT
          && atype != PINHOLE_STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "STUN attribute 0x%04x follows MESSAGE-INTEGRITY", atype);
          return NULL;
        }
      if (alen > reader_left (&r))
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "STUN attribute 0x%04x claims %u bytes, %" G_GSIZE_FORMAT " left",
                       atype, alen, reader_left (&r));
          return NULL;
        }
      /* §14: "each STUN attribute MUST end on a 32-bit boundary" (padding is present; its
       * value "MUST be ignored by the receiver") */
      padded = ((gsize) alen + 3) & ~(gsize) 3;
      if (!reader_read_bytes (&r, padded, &value))
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "STUN attribute 0x%04x of %u bytes lacks its padding, %" G_GSIZE_FORMAT
                       " left", atype, alen, reader_left (&r));
          return NULL;
        }

      if (atype == PINHOLE_STUN_ATTR_MESSAGE_INTEGRITY)
        {
          /* §14.5: "The HMAC will be 20 bytes" */
          if (!check_fixed_len (atype, alen, INTEGRITY_LEN, error))
            return NULL;
          seen_integrity = TRUE;
          msg->has_message_integrity = TRUE;
          msg->integrity_offset = attr_offset;
        }
      else if (atype == PINHOLE_STUN_ATTR_FINGERPRINT)
        {
          guint32 expected;

          if (!check_fixed_len (atype, alen, 4, error))
            return NULL;
          /* §14.7: "the CRC-32 of the STUN message up to (but excluding) the FINGERPRINT
           * attribute itself, XOR'ed with the 32-bit value 0x5354554e" */
          expected = pinhole_stun_crc32 (data, attr_offset) ^ FINGERPRINT_XOR;
          if (get_u32 (value) != expected)
            {
              g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "STUN FINGERPRINT is 0x%08x, expected 0x%08x", get_u32 (value),
                           expected);
              return NULL;
            }
          seen_fingerprint = TRUE;
          msg->has_fingerprint = TRUE;
        }
      else if (!seen_integrity)
        {
          if (!decode_attribute (msg, atype, value, alen, error))
            return NULL;
        }
    }

  msg->raw = g_bytes_new (data, len);
  return g_steal_pointer (&msg);
}

static gboolean
constant_time_equal (const guint8 *a,
                     const guint8 *b,
                     gsize         len)
{
  guint8 diff = 0;

  for (gsize i = 0; i < len; i++)
    diff |= a[i] ^ b[i];
  return diff == 0;
}

/* HMAC-SHA1 over data with its length field rewritten to end_len - 20 (§14.5) */
static void
compute_integrity (const guint8 *data,
                   gsize         covered_len,
                   gsize         length_field,
                   const guint8 *key,
                   gsize         key_len,
                   guint8       *out)
{
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA1, key, key_len);
  guint8 header[4];
  gsize digest_len = INTEGRITY_LEN;

  g_assert (covered_len >= PINHOLE_STUN_HEADER_LEN);
  header[0] = data[0];
  header[1] = data[1];
  put_u16 (header + 2, (guint16) length_field);
  g_hmac_update (hmac, header, 4);
  g_hmac_update (hmac, data + 4, covered_len - 4);
  g_hmac_get_digest (hmac, out, &digest_len);
  g_assert (digest_len == INTEGRITY_LEN);
}

gboolean
pinhole_stun_message_verify_integrity (const PinholeStunMessage  *msg,
                                       const guint8              *key,
                                       gsize                      key_len,
                                       GError                   **error)
{
  const guint8 *data;
  gsize len;
  guint8 digest[INTEGRITY_LEN];

  g_return_val_if_fail (msg != NULL, FALSE);
  g_return_val_if_fail (key != NULL || key_len == 0, FALSE);

  if (msg->raw == NULL || !msg->has_message_integrity)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                           "STUN message has no MESSAGE-INTEGRITY");
      return FALSE;
    }
  data = g_bytes_get_data (msg->raw, &len);
  g_assert (msg->integrity_offset + 4 + INTEGRITY_LEN <= len);

  /* §14.5: the length field covers the message up to and including MESSAGE-INTEGRITY */
  compute_integrity (data, msg->integrity_offset,
                     msg->integrity_offset + 4 + INTEGRITY_LEN - PINHOLE_STUN_HEADER_LEN,
                     key, key_len, digest);
  if (!constant_time_equal (digest, data + msg->integrity_offset + 4, INTEGRITY_LEN))
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                           "STUN MESSAGE-INTEGRITY does not match the key");
      return FALSE;
    }
  return TRUE;
}

gboolean
pinhole_stun_message_check_fingerprint (const PinholeStunMessage  *msg,
                                        GError                   **error)
{
  const guint8 *data;
  gsize len;
  guint32 expected;

  g_return_val_if_fail (msg != NULL, FALSE);

  if (msg->raw == NULL || !msg->has_fingerprint)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "STUN message has no FINGERPRINT");
      return FALSE;
    }
  data = g_bytes_get_data (msg->raw, &len);
  g_assert (len >= PINHOLE_STUN_HEADER_LEN + 8);
  expected = pinhole_stun_crc32 (data, len - 8) ^ FINGERPRINT_XOR;
  if (get_u32 (data + len - 4) != expected)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "STUN FINGERPRINT is 0x%08x, expected 0x%08x", get_u32 (data + len - 4),
                   expected);
      return FALSE;
    }
  return TRUE;
}

/* encoding */

static void
put_attr (GByteArray   *out,
          guint16       type,
          const guint8 *value,
          gsize         len,
          guint8        padding_byte)
{
  guint8 header[4];
  static const guint8 zeros[4] = { 0, 0, 0, 0 };

  g_assert (len <= 0xFFFF);
  put_u16 (header, type);
  put_u16 (header + 2, (guint16) len);
  g_byte_array_append (out, header, 4);
  if (len > 0)
    g_byte_array_append (out, value, (guint) len);
  for (gsize i = len; i % 4 != 0; i++)
    g_byte_array_append (out, padding_byte == 0 ? zeros : &padding_byte, 1);
}

static void
put_address (GByteArray               *out,
             guint16                   type,
             GInetSocketAddress       *address,
             gboolean                  xored,
             const PinholeStunMessage *msg)
{
  GInetAddress *inet = g_inet_socket_address_get_address (address);
  guint16 port = g_inet_socket_address_get_port (address);
  gsize addr_len = g_inet_address_get_native_size (inet);
  guint8 value[20] = { 0 };
  guint8 mask[16];

  g_assert (addr_len == 4 || addr_len == 16);
  value[1] = addr_len == 4 ? 0x01 : 0x02;
  memcpy (value + 4, g_inet_address_to_bytes (inet), addr_len);
  if (xored)
    {
      put_u32 (mask, PINHOLE_STUN_MAGIC_COOKIE);
      memcpy (mask + 4, msg->transaction_id, PINHOLE_STUN_TRANSACTION_ID_LEN);
      port ^= (guint16) (PINHOLE_STUN_MAGIC_COOKIE >> 16);
      for (gsize i = 0; i < addr_len; i++)
        value[4 + i] ^= mask[i];
    }
  put_u16 (value + 2, port);
  put_attr (out, type, value, 4 + addr_len, msg->padding_byte);
}

static gboolean
put_text (GByteArray   *out,
          guint16       type,
          const char   *text,
          gsize         max_bytes,
          glong         max_chars,
          guint8        padding_byte,
          GError      **error)
{
  gsize len;

  if (text == NULL)
    return TRUE;
  len = strlen (text);
  if (!g_utf8_validate_len (text, len, NULL))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                   "STUN %s to encode is not valid UTF-8", attr_name (type));
      return FALSE;
    }
  if (len > max_bytes || (max_chars > 0 && g_utf8_strlen (text, len) > max_chars))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "STUN %s to encode has %" G_GSIZE_FORMAT " bytes, too long",
                   attr_name (type), len);
      return FALSE;
    }
  put_attr (out, type, (const guint8 *) text, len, padding_byte);
  return TRUE;
}

GBytes *
pinhole_stun_message_encode (const PinholeStunMessage  *msg,
                             const guint8              *integrity_key,
                             gsize                      integrity_key_len,
                             gboolean                   add_fingerprint,
                             GError                   **error)
{
  g_autoptr(GByteArray) out = NULL;
  guint8 header[PINHOLE_STUN_HEADER_LEN];
  guint8 value[8];
  guint16 type;
  guint8 pad;

  g_return_val_if_fail (msg != NULL, NULL);
  g_return_val_if_fail (msg->klass <= PINHOLE_STUN_CLASS_ERROR, NULL);
  g_return_val_if_fail (msg->method <= 0xFFF, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  pad = msg->padding_byte;
  type = (msg->method & 0x000F) | ((msg->method & 0x0070) << 1) | ((msg->method & 0x0F80) << 2)
         | ((msg->klass & 1) << 4) | ((msg->klass & 2) << 7);
  put_u16 (header, type);
  put_u16 (header + 2, 0);
  put_u32 (header + 4, PINHOLE_STUN_MAGIC_COOKIE);
  memcpy (header + 8, msg->transaction_id, PINHOLE_STUN_TRANSACTION_ID_LEN);
  out = g_byte_array_sized_new (256);
  g_byte_array_append (out, header, sizeof header);

  /* the order of RFC 5769's vectors, so that they re-encode byte for byte */
  if (!put_text (out, PINHOLE_STUN_ATTR_SOFTWARE, msg->software, MAX_TEXT_BYTES, MAX_TEXT_CHARS,
                 pad, error))
    return NULL;

  if (msg->error_code != 0)
    {
      g_autoptr(GByteArray) ec = g_byte_array_new ();
      guint8 head[4] = { 0, 0, 0, 0 };
      gsize reason_len = msg->error_reason != NULL ? strlen (msg->error_reason) : 0;

      if (msg->error_code < 300 || msg->error_code > 699)
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                       "STUN error code %u is outside 300..699", msg->error_code);
          return NULL;
        }
      if (reason_len > MAX_TEXT_BYTES
          || !g_utf8_validate_len (msg->error_reason ? msg->error_reason : "", reason_len, NULL))
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                       "STUN error reason of %" G_GSIZE_FORMAT " bytes is too long or not UTF-8",
                       reason_len);
          return NULL;
        }
      head[2] = (guint8) (msg->error_code / 100);
      head[3] = (guint8) (msg->error_code % 100);
      g_byte_array_append (ec, head, 4);
      if (reason_len > 0)
        g_byte_array_append (ec, (const guint8 *) msg->error_reason, (guint) reason_len);
      put_attr (out, PINHOLE_STUN_ATTR_ERROR_CODE, ec->data, ec->len, pad);
    }

  if (msg->unknown_attributes != NULL && msg->unknown_attributes->len > 0)
    {
      g_autofree guint8 *list = NULL;
      guint n = MIN (msg->unknown_attributes->len, 0xFFFF / 2);

      list = g_malloc (n * 2);
      for (guint i = 0; i < n; i++)
        put_u16 (list + 2 * i, g_array_index (msg->unknown_attributes, guint16, i));
      put_attr (out, PINHOLE_STUN_ATTR_UNKNOWN_ATTRIBUTES, list, n * 2, pad);
    }

  if (msg->mapped_address != NULL)
    put_address (out, PINHOLE_STUN_ATTR_MAPPED_ADDRESS, msg->mapped_address, FALSE, msg);
  if (msg->xor_mapped_address != NULL)
    put_address (out, PINHOLE_STUN_ATTR_XOR_MAPPED_ADDRESS, msg->xor_mapped_address, TRUE, msg);
  if (msg->response_origin != NULL)
    put_address (out, PINHOLE_STUN_ATTR_RESPONSE_ORIGIN, msg->response_origin, FALSE, msg);
  if (msg->other_address != NULL)
    put_address (out, PINHOLE_STUN_ATTR_OTHER_ADDRESS, msg->other_address, FALSE, msg);

  if (msg->has_change_request)
    {
      put_u32 (value, msg->change_request);
      put_attr (out, PINHOLE_STUN_ATTR_CHANGE_REQUEST, value, 4, pad);
    }
  if (msg->has_priority)
    {
      put_u32 (value, msg->priority);
      put_attr (out, PINHOLE_STUN_ATTR_PRIORITY, value, 4, pad);
    }
  if (msg->use_candidate)
    put_attr (out, PINHOLE_STUN_ATTR_USE_CANDIDATE, NULL, 0, pad);
  if (msg->has_ice_controlled)
    {
      put_u32 (value, (guint32) (msg->ice_controlled >> 32));
      put_u32 (value + 4, (guint32) msg->ice_controlled);
      put_attr (out, PINHOLE_STUN_ATTR_ICE_CONTROLLED, value, 8, pad);
    }
  if (msg->has_ice_controlling)
    {
      put_u32 (value, (guint32) (msg->ice_controlling >> 32));
      put_u32 (value + 4, (guint32) msg->ice_controlling);
      put_attr (out, PINHOLE_STUN_ATTR_ICE_CONTROLLING, value, 8, pad);
    }

  if (!put_text (out, PINHOLE_STUN_ATTR_USERNAME, msg->username, MAX_USERNAME_LEN, 0, pad, error)
      || !put_text (out, PINHOLE_STUN_ATTR_NONCE, msg->nonce, MAX_TEXT_BYTES, MAX_TEXT_CHARS,
                    pad, error)
      || !put_text (out, PINHOLE_STUN_ATTR_REALM, msg->realm, MAX_TEXT_BYTES, MAX_TEXT_CHARS,
                    pad, error))
    return NULL;

  if (out->len + 24 + 8 > PINHOLE_STUN_MAX_MESSAGE_LEN)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "STUN message of %u bytes is too long to encode", out->len);
      return NULL;
    }

  if (integrity_key != NULL)
    {
      guint8 digest[INTEGRITY_LEN];

      compute_integrity (out->data, out->len, out->len + 4 + INTEGRITY_LEN
                         - PINHOLE_STUN_HEADER_LEN, integrity_key, integrity_key_len, digest);
      put_attr (out, PINHOLE_STUN_ATTR_MESSAGE_INTEGRITY, digest, INTEGRITY_LEN, pad);
    }

  if (add_fingerprint)
    {
      put_u16 (out->data + 2, (guint16) (out->len + 8 - PINHOLE_STUN_HEADER_LEN));
      put_u32 (value, pinhole_stun_crc32 (out->data, out->len) ^ FINGERPRINT_XOR);
      put_attr (out, PINHOLE_STUN_ATTR_FINGERPRINT, value, 4, pad);
    }

  put_u16 (out->data + 2, (guint16) (out->len - PINHOLE_STUN_HEADER_LEN));
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}
