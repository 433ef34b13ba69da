/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-stun-message-attrs.c: the STUN attributes the codec knows, decoded from validated
 * bytes into PinholeStunMessage and encoded from it (RFC 8489 §14, RFC 8445 §16.1, RFC 5780 §7);
 * the message framing around them is in pinhole-stun-message.c. */
#define G_LOG_DOMAIN "pinhole-stun"

#include "pinhole-stun-message-private.h"
#include "pinhole-error.h"

#include <string.h>

#define MAX_USERNAME_LEN  508  /* §14.3: "fewer than 509 bytes" */
#define MAX_TEXT_CHARS    127  /* §14.9, §14.10, §14.8: "fewer than 128 characters" */
#define MAX_TEXT_BYTES    763  /* "... as long as 763 bytes when decoding them" */

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

gboolean
_pinhole_stun_message_check_fixed_len (guint16   type,
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
gboolean
_pinhole_stun_message_decode_attribute (PinholeStunMessage  *msg,
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
      if (!_pinhole_stun_message_check_fixed_len (type, len, 4, error))
        return FALSE;
      if (!msg->has_priority)
        msg->priority = get_u32 (v);
      msg->has_priority = TRUE;
      return TRUE;
    case PINHOLE_STUN_ATTR_USE_CANDIDATE:
      if (!_pinhole_stun_message_check_fixed_len (type, len, 0, error))
        return FALSE;
      msg->use_candidate = TRUE;
      return TRUE;
    case PINHOLE_STUN_ATTR_ICE_CONTROLLED:
      if (!_pinhole_stun_message_check_fixed_len (type, len, 8, error))
        return FALSE;
      if (!msg->has_ice_controlled)
        msg->ice_controlled = get_u64 (v);
      msg->has_ice_controlled = TRUE;
      return TRUE;
    case PINHOLE_STUN_ATTR_ICE_CONTROLLING:
      if (!_pinhole_stun_message_check_fixed_len (type, len, 8, error))
        return FALSE;
      if (!msg->has_ice_controlling)
        msg->ice_controlling = get_u64 (v);
      msg->has_ice_controlling = TRUE;
      return TRUE;
    case PINHOLE_STUN_ATTR_CHANGE_REQUEST:
      if (!_pinhole_stun_message_check_fixed_len (type, len, 4, error))
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

/* encoding */

void
_pinhole_stun_message_put_attr (GByteArray   *out,
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
  _pinhole_stun_message_put_attr (out, type, value, 4 + addr_len, msg->padding_byte);
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
  _pinhole_stun_message_put_attr (out, type, (const guint8 *) text, len, padding_byte);
  return TRUE;
}

/* every attribute but MESSAGE-INTEGRITY and FINGERPRINT, in the order of RFC 5769's vectors,
 * so that they re-encode byte for byte */
gboolean
_pinhole_stun_message_encode_attributes (const PinholeStunMessage  *msg,
                                         GByteArray                *out,
                                         GError                   **error)
{
  guint8 value[8];
  guint8 pad = msg->padding_byte;

  if (!put_text (out, PINHOLE_STUN_ATTR_SOFTWARE, msg->software, MAX_TEXT_BYTES, MAX_TEXT_CHARS,
                 pad, error))
    return FALSE;

  if (msg->error_code != 0)
    {
      g_autoptr(GByteArray) ec = g_byte_array_new ();
      guint8 head[4] = { 0, 0, 0, 0 };
      gsize reason_len = msg->error_reason != NULL ? strlen (msg->error_reason) : 0;

      if (msg->error_code < 300 || msg->error_code > 699)
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                       "STUN error code %u is outside 300..699", msg->error_code);
          return FALSE;
        }
      if (reason_len > MAX_TEXT_BYTES
          || !g_utf8_validate_len (msg->error_reason ? msg->error_reason : "", reason_len, NULL))
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                       "STUN error reason of %" G_GSIZE_FORMAT " bytes is too long or not UTF-8",
                       reason_len);
          return FALSE;
        }
      head[2] = (guint8) (msg->error_code / 100);
      head[3] = (guint8) (msg->error_code % 100);
      g_byte_array_append (ec, head, 4);
      if (reason_len > 0)
        g_byte_array_append (ec, (const guint8 *) msg->error_reason, (guint) reason_len);
      _pinhole_stun_message_put_attr (out, PINHOLE_STUN_ATTR_ERROR_CODE, ec->data, ec->len, pad);
    }

  if (msg->unknown_attributes != NULL && msg->unknown_attributes->len > 0)
    {
      g_autofree guint8 *list = NULL;
      guint n = MIN (msg->unknown_attributes->len, 0xFFFF / 2);

      list = g_malloc (n * 2);
      for (guint i = 0; i < n; i++)
        put_u16 (list + 2 * i, g_array_index (msg->unknown_attributes, guint16, i));
      _pinhole_stun_message_put_attr (out, PINHOLE_STUN_ATTR_UNKNOWN_ATTRIBUTES, list, n * 2, pad);
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
      _pinhole_stun_message_put_attr (out, PINHOLE_STUN_ATTR_CHANGE_REQUEST, value, 4, pad);
    }
  if (msg->has_priority)
    {
      put_u32 (value, msg->priority);
      _pinhole_stun_message_put_attr (out, PINHOLE_STUN_ATTR_PRIORITY, value, 4, pad);
    }
  if (msg->use_candidate)
    _pinhole_stun_message_put_attr (out, PINHOLE_STUN_ATTR_USE_CANDIDATE, NULL, 0, pad);
  if (msg->has_ice_controlled)
    {
      put_u32 (value, (guint32) (msg->ice_controlled >> 32));
      put_u32 (value + 4, (guint32) msg->ice_controlled);
      _pinhole_stun_message_put_attr (out, PINHOLE_STUN_ATTR_ICE_CONTROLLED, value, 8, pad);
    }
  if (msg->has_ice_controlling)
    {
      put_u32 (value, (guint32) (msg->ice_controlling >> 32));
      put_u32 (value + 4, (guint32) msg->ice_controlling);
      _pinhole_stun_message_put_attr (out, PINHOLE_STUN_ATTR_ICE_CONTROLLING, value, 8, pad);
    }

  if (!put_text (out, PINHOLE_STUN_ATTR_USERNAME, msg->username, MAX_USERNAME_LEN, 0, pad, error)
      || !put_text (out, PINHOLE_STUN_ATTR_NONCE, msg->nonce, MAX_TEXT_BYTES, MAX_TEXT_CHARS,
                    pad, error)
      || !put_text (out, PINHOLE_STUN_ATTR_REALM, msg->realm, MAX_TEXT_BYTES, MAX_TEXT_CHARS,
                    pad, error))
    return FALSE;
  return TRUE;
}
