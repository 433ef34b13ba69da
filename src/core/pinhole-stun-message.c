/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-stun-message.c: STUN message framing (RFC 8489 §5), validated at the boundary, with
 * MESSAGE-INTEGRITY (§14.5) and FINGERPRINT (§14.7); attributes: pinhole-stun-message-attrs.c.
 * CRC-32: GLib has none and zlib is not otherwise needed, so a nibble table is written out. */
#define G_LOG_DOMAIN "pinhole-stun"

#include "pinhole-stun-message-private.h"
#include "pinhole-error.h"

#include <sodium.h>
#include <string.h>

#define FINGERPRINT_XOR   0x5354554Eu
#define INTEGRITY_LEN     20

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
          if (!_pinhole_stun_message_check_fixed_len (atype, alen, INTEGRITY_LEN, error))
            return NULL;
          seen_integrity = TRUE;
          msg->has_message_integrity = TRUE;
          msg->integrity_offset = attr_offset;
        }
      else if (atype == PINHOLE_STUN_ATTR_FINGERPRINT)
        {
          guint32 expected;

          if (!_pinhole_stun_message_check_fixed_len (atype, alen, 4, error))
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
          if (!_pinhole_stun_message_decode_attribute (msg, atype, value, alen, error))
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

  if (!_pinhole_stun_message_encode_attributes (msg, out, error))
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
      _pinhole_stun_message_put_attr (out, PINHOLE_STUN_ATTR_MESSAGE_INTEGRITY, digest,
                                      INTEGRITY_LEN, pad);
    }

  if (add_fingerprint)
    {
      put_u16 (out->data + 2, (guint16) (out->len + 8 - PINHOLE_STUN_HEADER_LEN));
      put_u32 (value, pinhole_stun_crc32 (out->data, out->len) ^ FINGERPRINT_XOR);
      _pinhole_stun_message_put_attr (out, PINHOLE_STUN_ATTR_FINGERPRINT, value, 4, pad);
    }

  put_u16 (out->data + 2, (guint16) (out->len - PINHOLE_STUN_HEADER_LEN));
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}
