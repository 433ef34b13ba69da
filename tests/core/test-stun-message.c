/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-stun-message.c: the STUN codec against the RFC 5769 vectors, round trips, malformed
 * messages and every truncated prefix of the vectors. */
#include "pinhole-error.h"
#include "pinhole-stun-message.h"

#include <string.h>

/* RFC 5769 §2.1: sample request, short-term credentials */
static const guint8 rfc5769_request[] = {
  0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
  0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
  0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
  0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
  0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
  0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
  0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 §2.2: sample IPv4 response */
static const guint8 rfc5769_response_ipv4[] = {
  0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
  0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
  0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
  0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
  0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 §2.3: sample IPv6 response */
static const guint8 rfc5769_response_ipv6[] = {
  0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
  0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
  0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
  0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
  0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
  0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

/* RFC 5769 §2.4: sample request with long-term credentials */
static const guint8 rfc5769_request_long_term[] = {
  0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0,
  0x29, 0xda, 0x41, 0x2e, 0x00, 0x06, 0x00, 0x12, 0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83,
  0xaa, 0xe3, 0x83, 0x83, 0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00, 0x00, 0x15, 0x00, 0x1c,
  0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36, 0x4f, 0x4c, 0x33, 0x34,
  0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79, 0x36, 0x34, 0x73, 0x41, 0x00, 0x14, 0x00, 0x0b,
  0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x08, 0x00, 0x14,
  0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02, 0xb8, 0xe0, 0x71, 0x2e, 0x85, 0xc9, 0xa2,
  0x8c, 0xa8, 0x96, 0x66,
};

static const char short_term_password[] = "VOkJxbRl1RmTxUk/WvJxBt";

typedef struct
{
  const char   *name;
  const guint8 *data;
  gsize         len;
} Vector;

static const Vector vectors[] = {
  { "request", rfc5769_request, sizeof rfc5769_request },
  { "response-ipv4", rfc5769_response_ipv4, sizeof rfc5769_response_ipv4 },
  { "response-ipv6", rfc5769_response_ipv6, sizeof rfc5769_response_ipv6 },
  { "request-long-term", rfc5769_request_long_term, sizeof rfc5769_request_long_term },
};

static void
assert_address (GInetSocketAddress *address,
                const char         *ip,
                guint16             port)
{
  g_autofree char *s = NULL;

  g_assert_nonnull (address);
  s = g_inet_address_to_string (g_inet_socket_address_get_address (address));
  g_assert_cmpstr (s, ==, ip);
  g_assert_cmpuint (g_inet_socket_address_get_port (address), ==, port);
}

static void
assert_encodes_to (const PinholeStunMessage *msg,
                   const guint8             *key,
                   gsize                     key_len,
                   gboolean                  fingerprint,
                   const guint8             *expected,
                   gsize                     expected_len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  gsize len;
  const guint8 *data;

  bytes = pinhole_stun_message_encode (msg, key, key_len, fingerprint, &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (bytes, &len);
  g_assert_cmpmem (data, len, expected, expected_len);
}

static void
test_crc32 (void)
{
  /* the CRC-32 check value of the ASCII digits 1..9 */
  g_assert_cmphex (pinhole_stun_crc32 ((const guint8 *) "123456789", 9), ==, 0xCBF43926);
  g_assert_cmphex (pinhole_stun_crc32 (NULL, 0), ==, 0);
}

static void
test_decode_request (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) msg = NULL;
  static const guint8 tid[] = { 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
                                0xfa, 0x87, 0xdf, 0xae };

  msg = pinhole_stun_message_decode (rfc5769_request, sizeof rfc5769_request, &error);
  g_assert_no_error (error);
  g_assert_nonnull (msg);
  g_assert_cmpint (msg->klass, ==, PINHOLE_STUN_CLASS_REQUEST);
  g_assert_cmpuint (msg->method, ==, PINHOLE_STUN_METHOD_BINDING);
  g_assert_cmpmem (msg->transaction_id, 12, tid, sizeof tid);
  g_assert_cmpstr (msg->software, ==, "STUN test client");
  g_assert_cmpstr (msg->username, ==, "evtj:h6vY");
  g_assert_true (msg->has_priority);
  g_assert_cmphex (msg->priority, ==, 0x6e0001ff);
  g_assert_true (msg->has_ice_controlled);
  g_assert_cmphex (msg->ice_controlled, ==, G_GUINT64_CONSTANT (0x932ff9b151263b36));
  g_assert_false (msg->has_ice_controlling);
  g_assert_false (msg->use_candidate);
  g_assert_null (msg->unknown_required);
  g_assert_true (msg->has_message_integrity);
  g_assert_true (msg->has_fingerprint);

  g_assert_true (pinhole_stun_message_verify_integrity (msg, (const guint8 *) short_term_password,
                                                        strlen (short_term_password), &error));
  g_assert_no_error (error);
  g_assert_true (pinhole_stun_message_check_fingerprint (msg, &error));
  g_assert_no_error (error);

  g_assert_false (pinhole_stun_message_verify_integrity (msg, (const guint8 *) "wrong", 5,
                                                         &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
}

static void
test_decode_response_ipv4 (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) msg = NULL;

  msg = pinhole_stun_message_decode (rfc5769_response_ipv4, sizeof rfc5769_response_ipv4, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msg->klass, ==, PINHOLE_STUN_CLASS_SUCCESS);
  g_assert_cmpuint (msg->method, ==, PINHOLE_STUN_METHOD_BINDING);
  g_assert_cmpstr (msg->software, ==, "test vector");
  assert_address (msg->xor_mapped_address, "192.0.2.1", 32853);
  g_assert_null (msg->mapped_address);
  g_assert_true (pinhole_stun_message_verify_integrity (msg, (const guint8 *) short_term_password,
                                                        strlen (short_term_password), &error));
  g_assert_no_error (error);
  g_assert_true (pinhole_stun_message_check_fingerprint (msg, &error));
  g_assert_no_error (error);
}

static void
test_decode_response_ipv6 (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) msg = NULL;

  msg = pinhole_stun_message_decode (rfc5769_response_ipv6, sizeof rfc5769_response_ipv6, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msg->klass, ==, PINHOLE_STUN_CLASS_SUCCESS);
  g_assert_cmpstr (msg->software, ==, "test vector");
  assert_address (msg->xor_mapped_address, "2001:db8:1234:5678:11:2233:4455:6677", 32853);
  g_assert_true (pinhole_stun_message_verify_integrity (msg, (const guint8 *) short_term_password,
                                                        strlen (short_term_password), &error));
  g_assert_no_error (error);
  g_assert_true (pinhole_stun_message_check_fingerprint (msg, &error));
  g_assert_no_error (error);
}

/* RFC 5769 §2.4: key = MD5(username ":" realm ":" SASLprep(password)), RFC 8489 §9.2.2 */
static void
test_decode_long_term (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) msg = NULL;
  g_autoptr(GChecksum) md5 = g_checksum_new (G_CHECKSUM_MD5);
  g_autofree char *material = NULL;
  guint8 key[16];
  gsize key_len = sizeof key;

  msg = pinhole_stun_message_decode (rfc5769_request_long_term,
                                     sizeof rfc5769_request_long_term, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msg->klass, ==, PINHOLE_STUN_CLASS_REQUEST);
  g_assert_cmpstr (msg->username, ==, "\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9");
  g_assert_cmpstr (msg->nonce, ==, "f//499k954d6OL34oL9FSTvy64sA");
  g_assert_cmpstr (msg->realm, ==, "example.org");
  g_assert_false (msg->has_fingerprint);
  g_assert_null (msg->unknown_required);

  /* "The<U+00AD>M<U+00AA>tr<U+2168>" after SASLprep */
  material = g_strconcat (msg->username, ":", msg->realm, ":", "TheMatrIX", NULL);
  g_checksum_update (md5, (const guchar *) material, strlen (material));
  g_checksum_get_digest (md5, key, &key_len);
  g_assert_true (pinhole_stun_message_verify_integrity (msg, key, key_len, &error));
  g_assert_no_error (error);

  g_assert_false (pinhole_stun_message_check_fingerprint (msg, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
}

/* the encoder writes attributes in the vectors' order; with their padding byte (RFC 8489 §14
 * lets it be anything, RFC 5769 uses spaces) every vector re-encodes byte for byte */
static void
test_reencode_rfc5769 (void)
{
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      g_autoptr(PinholeStunMessage) msg = NULL;
      const guint8 *key = (const guint8 *) short_term_password;
      gsize key_len = strlen (short_term_password);
      guint8 md5_key[16];

      g_test_message ("vector %s", vectors[i].name);
      msg = pinhole_stun_message_decode (vectors[i].data, vectors[i].len, &error);
      g_assert_no_error (error);

      if (vectors[i].data == rfc5769_request_long_term)
        {
          g_autoptr(GChecksum) md5 = g_checksum_new (G_CHECKSUM_MD5);
          g_autofree char *material = g_strconcat (msg->username, ":", msg->realm,
                                                   ":TheMatrIX", NULL);

          g_checksum_update (md5, (const guchar *) material, strlen (material));
          key_len = sizeof md5_key;
          g_checksum_get_digest (md5, md5_key, &key_len);
          key = md5_key;
          msg->padding_byte = 0x00;
        }
      else
        {
          msg->padding_byte = 0x20;
        }
      assert_encodes_to (msg, key, key_len, msg->has_fingerprint, vectors[i].data,
                         vectors[i].len);
    }
}

static void
test_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) msg = NULL;
  g_autoptr(PinholeStunMessage) back = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GInetAddress) v4 = g_inet_address_new_from_string ("203.0.113.7");
  g_autoptr(GInetAddress) v6 = g_inet_address_new_from_string ("2001:db8::1");
  static const guint8 key[] = "secret";
  guint16 unknown[] = { 0x0031, 0x7fff };
  const guint8 *data;
  gsize len;

  msg = pinhole_stun_message_new (PINHOLE_STUN_CLASS_ERROR, PINHOLE_STUN_METHOD_BINDING, NULL);
  pinhole_stun_message_set_random_transaction_id (msg);
  msg->mapped_address = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (v4, 41000));
  msg->xor_mapped_address = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (v6, 3478));
  msg->response_origin = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (v4, 3478));
  msg->other_address = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (v6, 3479));
  msg->username = g_strdup ("alice:bob");
  msg->software = g_strdup ("Pinhole \u00e9");
  msg->error_code = 420;
  msg->error_reason = g_strdup ("Unknown Attribute");
  msg->unknown_attributes = g_array_new (FALSE, FALSE, sizeof (guint16));
  g_array_append_vals (msg->unknown_attributes, unknown, G_N_ELEMENTS (unknown));
  msg->has_priority = TRUE;
  msg->priority = 0x7e0000ff;
  msg->use_candidate = TRUE;
  msg->has_ice_controlling = TRUE;
  msg->ice_controlling = G_GUINT64_CONSTANT (0x0123456789abcdef);
  msg->has_ice_controlled = TRUE;
  msg->ice_controlled = G_GUINT64_CONSTANT (0xfedcba9876543210);
  msg->has_change_request = TRUE;
  msg->change_request = PINHOLE_STUN_CHANGE_IP | PINHOLE_STUN_CHANGE_PORT;

  bytes = pinhole_stun_message_encode (msg, key, sizeof key - 1, TRUE, &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (bytes, &len);
  g_assert_cmpuint (len % 4, ==, 0);
  g_assert_true (pinhole_stun_message_looks_like_stun (data, len));

  back = pinhole_stun_message_decode (data, len, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->klass, ==, PINHOLE_STUN_CLASS_ERROR);
  g_assert_cmpuint (back->method, ==, PINHOLE_STUN_METHOD_BINDING);
  g_assert_cmpmem (back->transaction_id, 12, msg->transaction_id, 12);
  assert_address (back->mapped_address, "203.0.113.7", 41000);
  assert_address (back->xor_mapped_address, "2001:db8::1", 3478);
  assert_address (back->response_origin, "203.0.113.7", 3478);
  assert_address (back->other_address, "2001:db8::1", 3479);
  g_assert_cmpstr (back->username, ==, "alice:bob");
  g_assert_cmpstr (back->software, ==, "Pinhole \u00e9");
  g_assert_cmpuint (back->error_code, ==, 420);
  g_assert_cmpstr (back->error_reason, ==, "Unknown Attribute");
  g_assert_nonnull (back->unknown_attributes);
  g_assert_cmpuint (back->unknown_attributes->len, ==, 2);
  g_assert_cmphex (g_array_index (back->unknown_attributes, guint16, 0), ==, 0x0031);
  g_assert_cmphex (g_array_index (back->unknown_attributes, guint16, 1), ==, 0x7fff);
  g_assert_true (back->has_priority);
  g_assert_cmphex (back->priority, ==, 0x7e0000ff);
  g_assert_true (back->use_candidate);
  g_assert_true (back->has_ice_controlling);
  g_assert_cmphex (back->ice_controlling, ==, msg->ice_controlling);
  g_assert_true (back->has_ice_controlled);
  g_assert_cmphex (back->ice_controlled, ==, msg->ice_controlled);
  g_assert_true (back->has_change_request);
  g_assert_cmphex (back->change_request, ==, 0x6);
  g_assert_null (back->unknown_required);
  g_assert_true (pinhole_stun_message_verify_integrity (back, key, sizeof key - 1, &error));
  g_assert_no_error (error);
  g_assert_true (pinhole_stun_message_check_fingerprint (back, &error));
  g_assert_no_error (error);
}

static void
test_round_trip_all_classes (void)
{
  for (guint klass = 0; klass <= PINHOLE_STUN_CLASS_ERROR; klass++)
    {
      static const guint16 methods[] = { 0x001, 0x003, 0x00f, 0x010, 0x0ff, 0x800, 0xfff };

      for (gsize i = 0; i < G_N_ELEMENTS (methods); i++)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(PinholeStunMessage) msg = pinhole_stun_message_new (klass, methods[i], NULL);
          g_autoptr(PinholeStunMessage) back = NULL;
          g_autoptr(GBytes) bytes = NULL;

          bytes = pinhole_stun_message_encode (msg, NULL, 0, FALSE, &error);
          g_assert_no_error (error);
          g_assert_cmpuint (g_bytes_get_size (bytes), ==, PINHOLE_STUN_HEADER_LEN);
          back = pinhole_stun_message_decode (g_bytes_get_data (bytes, NULL),
                                              g_bytes_get_size (bytes), &error);
          g_assert_no_error (error);
          g_assert_cmpint (back->klass, ==, klass);
          g_assert_cmphex (back->method, ==, methods[i]);
        }
    }
}

/* a request with comprehension-required and comprehension-optional attributes we do not know */
static void
test_unknown_attributes (void)
{
  static const guint8 data[] = {
    0x00, 0x01, 0x00, 0x14, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    0x00, 0x31, 0x00, 0x02, 0xaa, 0xbb, 0x00, 0x00,   /* required, 2 bytes + padding */
    0xc0, 0x57, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04,   /* optional: skipped */
    0x7f, 0xff, 0x00, 0x00,                           /* required, empty */
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) msg = NULL;

  msg = pinhole_stun_message_decode (data, sizeof data, &error);
  g_assert_no_error (error);
  g_assert_nonnull (msg->unknown_required);
  g_assert_cmpuint (msg->unknown_required->len, ==, 2);
  g_assert_cmphex (g_array_index (msg->unknown_required, guint16, 0), ==, 0x0031);
  g_assert_cmphex (g_array_index (msg->unknown_required, guint16, 1), ==, 0x7fff);
}

static void
test_looks_like_stun (void)
{
  guint8 copy[sizeof rfc5769_request];

  g_assert_true (pinhole_stun_message_looks_like_stun (rfc5769_request, sizeof rfc5769_request));
  g_assert_false (pinhole_stun_message_looks_like_stun (rfc5769_request, 19));
  g_assert_false (pinhole_stun_message_looks_like_stun (NULL, 0));
  memcpy (copy, rfc5769_request, sizeof copy);
  copy[0] |= 0x80;
  g_assert_false (pinhole_stun_message_looks_like_stun (copy, sizeof copy));
  memcpy (copy, rfc5769_request, sizeof copy);
  copy[7] ^= 1;
  g_assert_false (pinhole_stun_message_looks_like_stun (copy, sizeof copy));
}

typedef struct
{
  const char *name;
  const char *hex;            /* the message */
  const char *message_part;   /* expected in the error message */
} Malformed;

#define HDR(len) "0001" len "2112a442" "0102030405060708090a0b0c"

static const Malformed malformed[] = {
  { "short", "000100002112a442", "shorter than its 20-byte header" },
  { "bad-cookie", "00010000" "2112a443" "0102030405060708090a0b0c", "magic cookie is 0x2112a443" },
  { "top-bits", "c0010000" "2112a442" "0102030405060708090a0b0c", "top two bits" },
  { "length-not-multiple-of-4", HDR ("0002") "0000", "not a multiple of 4" },
  { "length-too-long", HDR ("0008") "80220000", "says 8 bytes, 4 present" },
  { "length-too-short", HDR ("0004") "8022000000000000", "says 4 bytes, 8 present" },
  { "attribute-overruns", HDR ("0010") "80220028" "616263646566676869707172",
    "STUN attribute 0x8022 claims 40 bytes, 12 left" },
  { "bad-padding", HDR ("0008") "80220005" "61626364", "claims 5 bytes, 4 left" },
  /* a sender that does not pad: the next header is read from the middle of the value */
  { "missing-padding", HDR ("000c") "00060001" "61" "802200" "04616263",
    "claims 25187 bytes, 0 left" },
  { "fingerprint-wrong", HDR ("0008") "80280004" "deadbeef", "FINGERPRINT is 0xdeadbeef" },
  { "fingerprint-length", HDR ("0008") "80280002" "deadbeef", "0x8028 has 2 bytes, expected 4" },
  { "attribute-after-integrity", HDR ("001c") "00080014" "0000000000000000000000000000000000000000"
    "80220000", "0x8022 follows MESSAGE-INTEGRITY" },
  { "integrity-length", HDR ("0014") "00080010" "00000000000000000000000000000000",
    "0x0008 has 16 bytes, expected 20" },
  { "bad-family", HDR ("000c") "00200008" "0003a147e112a643", "unknown address family 0x03" },
  { "ipv4-wrong-length", HDR ("0018") "00200014" "0001a147" "e112a643e112a643e112a643e112a643",
    "IPv4 has 20 bytes, expected 8" },
  { "ipv6-wrong-length", HDR ("000c") "00010008" "0002a147e112a643", "IPv6 has 8 bytes, expected 20" },
  { "address-too-short", HDR ("0008") "00010002" "00010000", "too short" },
  { "huge-attribute", HDR ("0004") "8022ffff", "claims 65535 bytes, 0 left" },
  { "huge-length", "0001fffc" "2112a442" "0102030405060708090a0b0c" "00000000",
    "says 65532 bytes, 4 present" },
  { "username-not-utf8", HDR ("0008") "00060002" "c3280000", "not valid UTF-8" },
  { "error-code-class", HDR ("0008") "00090004" "00000714", "class 7 and number 20" },
  { "error-code-number", HDR ("0008") "00090004" "00000464", "class 4 and number 100" },
  { "error-code-short", HDR ("0004") "00090000", "shorter than 4" },
  { "unknown-attributes-odd", HDR ("0008") "000a0003" "00310000", "odd length 3" },
  { "priority-length", HDR ("0004") "00240000", "0x0024 has 0 bytes, expected 4" },
  { "use-candidate-length", HDR ("0008") "00250004" "00000000", "0x0025 has 4 bytes, expected 0" },
  { "ice-controlled-length", HDR ("0008") "80290004" "00000000", "0x8029 has 4 bytes, expected 8" },
};

static void
test_malformed (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (malformed); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PinholeStunMessage) msg = NULL;
      g_autoptr(GByteArray) bytes = g_byte_array_new ();
      const char *hex = malformed[i].hex;
      gsize n = strlen (hex);

      g_assert_cmpuint (n % 2, ==, 0);
      for (gsize j = 0; j < n; j += 2)
        {
          guint8 b = (guint8) (g_ascii_xdigit_value (hex[j]) << 4
                               | g_ascii_xdigit_value (hex[j + 1]));
          g_byte_array_append (bytes, &b, 1);
        }
      g_test_message ("case %s", malformed[i].name);
      msg = pinhole_stun_message_decode (bytes->data, bytes->len, &error);
      g_assert_null (msg);
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
      if (strstr (error->message, malformed[i].message_part) == NULL)
        g_error ("case %s: \"%s\" lacks \"%s\"", malformed[i].name, error->message,
                 malformed[i].message_part);
    }
}

/* a flipped bit in a protected part of a vector */
/* recomputes the FINGERPRINT that ends @data (RFC 8489 §14.7) after a change before it */
static void
rewrite_fingerprint (guint8 *data,
                     gsize   len)
{
  guint32 crc = pinhole_stun_crc32 (data, len - 8) ^ 0x5354554e;

  data[len - 4] = (guint8) (crc >> 24);
  data[len - 3] = (guint8) (crc >> 16);
  data[len - 2] = (guint8) (crc >> 8);
  data[len - 1] = (guint8) crc;
}

static void
test_integrity_and_fingerprint_wrong (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) msg = NULL;
  guint8 copy[sizeof rfc5769_response_ipv4];
  g_autoptr(GBytes) reencoded = NULL;

  /* a wrong FINGERPRINT is refused by the decoder */
  memcpy (copy, rfc5769_response_ipv4, sizeof copy);
  copy[sizeof copy - 1] ^= 0x01;
  msg = pinhole_stun_message_decode (copy, sizeof copy, &error);
  g_assert_null (msg);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_clear_error (&error);

  /* a changed XOR-MAPPED-ADDRESS with the FINGERPRINT recomputed: MESSAGE-INTEGRITY fails */
  memcpy (copy, rfc5769_response_ipv4, sizeof copy);
  copy[47] ^= 0x01;
  rewrite_fingerprint (copy, sizeof copy);
  msg = pinhole_stun_message_decode (copy, sizeof copy, &error);
  g_assert_no_error (error);
  g_assert_true (pinhole_stun_message_check_fingerprint (msg, &error));
  g_assert_no_error (error);
  g_assert_false (pinhole_stun_message_verify_integrity (msg, (const guint8 *) short_term_password,
                                                         strlen (short_term_password), &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
  g_clear_error (&error);

  /* a message built here has no MESSAGE-INTEGRITY to verify */
  g_clear_pointer (&msg, pinhole_stun_message_free);
  msg = pinhole_stun_message_new (PINHOLE_STUN_CLASS_REQUEST, PINHOLE_STUN_METHOD_BINDING, NULL);
  reencoded = pinhole_stun_message_encode (msg, NULL, 0, TRUE, &error);
  g_assert_no_error (error);
  g_assert_false (pinhole_stun_message_verify_integrity (msg, (const guint8 *) "k", 1, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
}

/* every byte of the HMAC counts: a MESSAGE-INTEGRITY wrong in any one of its 20 bytes fails,
 * even with the FINGERPRINT made right again */
static void
test_integrity_every_byte (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) valid = pinhole_stun_message_decode (rfc5769_request,
                                                                     sizeof rfc5769_request,
                                                                     &error);
  gsize value;

  g_assert_no_error (error);
  g_assert_true (valid->has_message_integrity);
  value = valid->integrity_offset + 4;
  g_assert_cmpuint (value + 20 + 8, ==, sizeof rfc5769_request);
  for (gsize i = 0; i < 20; i++)
    {
      g_autoptr(PinholeStunMessage) msg = NULL;
      guint8 copy[sizeof rfc5769_request];

      memcpy (copy, rfc5769_request, sizeof copy);
      copy[value + i] ^= 0x01;
      rewrite_fingerprint (copy, sizeof copy);
      msg = pinhole_stun_message_decode (copy, sizeof copy, &error);
      g_assert_no_error (error);
      if (pinhole_stun_message_verify_integrity (msg, (const guint8 *) short_term_password,
                                                 strlen (short_term_password), &error))
        g_error ("MESSAGE-INTEGRITY wrong in byte %" G_GSIZE_FORMAT " verifies", i);
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
      g_clear_error (&error);
    }
}

/* RFC 8489 §14.7: FINGERPRINT MUST be the last attribute, even when its value is right */
static void
test_attribute_after_fingerprint (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) msg = NULL;
  guint8 data[PINHOLE_STUN_HEADER_LEN + 12] = {
    0x00, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    0x80, 0x28, 0x00, 0x04, 0, 0, 0, 0,
    0x80, 0x22, 0x00, 0x00,
  };
  guint32 crc = pinhole_stun_crc32 (data, PINHOLE_STUN_HEADER_LEN) ^ 0x5354554e;

  data[24] = (guint8) (crc >> 24);
  data[25] = (guint8) (crc >> 16);
  data[26] = (guint8) (crc >> 8);
  data[27] = (guint8) crc;
  msg = pinhole_stun_message_decode (data, sizeof data, &error);
  g_assert_null (msg);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "0x8022 follows FINGERPRINT"));
  g_clear_error (&error);

  /* the same message without the trailing attribute is fine */
  data[3] = 0x08;
  crc = pinhole_stun_crc32 (data, PINHOLE_STUN_HEADER_LEN) ^ 0x5354554e;
  data[24] = (guint8) (crc >> 24);
  data[25] = (guint8) (crc >> 16);
  data[26] = (guint8) (crc >> 8);
  data[27] = (guint8) crc;
  msg = pinhole_stun_message_decode (data, sizeof data - 4, &error);
  g_assert_no_error (error);
  g_assert_true (msg->has_fingerprint);
}

static void
test_encode_limits (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) msg = NULL;
  g_autoptr(GBytes) bytes = NULL;

  msg = pinhole_stun_message_new (PINHOLE_STUN_CLASS_REQUEST, PINHOLE_STUN_METHOD_BINDING, NULL);
  msg->software = g_strnfill (128, 'x');
  bytes = pinhole_stun_message_encode (msg, NULL, 0, FALSE, &error);
  g_assert_null (bytes);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
  g_clear_error (&error);
  g_clear_pointer (&msg->software, g_free);

  msg->username = g_strnfill (509, 'u');
  bytes = pinhole_stun_message_encode (msg, NULL, 0, FALSE, &error);
  g_assert_null (bytes);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
  g_clear_error (&error);
  g_clear_pointer (&msg->username, g_free);

  msg->error_code = 200;
  bytes = pinhole_stun_message_encode (msg, NULL, 0, FALSE, &error);
  g_assert_null (bytes);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED);
}

/* every proper prefix of every vector fails with a GError, never a crash or an over-read */
static void
test_truncated (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      for (gsize n = 0; n < vectors[i].len; n++)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(PinholeStunMessage) msg = NULL;
          g_autofree guint8 *prefix = g_memdup2 (vectors[i].data, n);

          msg = pinhole_stun_message_decode (prefix, n, &error);
          g_assert_null (msg);
          g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
        }
    }
}

/* TRUE when @n bytes of @v end just after one of its attributes (type, length, value padded
 * to 4 bytes: RFC 8489 §14) */
static gboolean
ends_on_attribute (const Vector *v,
                   gsize         n)
{
  gsize pos = PINHOLE_STUN_HEADER_LEN;

  while (pos < n && v->len - pos >= 4)
    pos += 4 + (((gsize) v->data[pos + 2] << 8 | v->data[pos + 3]) + 3) / 4 * 4;
  return pos == n;
}

/* prefixes with the length field patched to match: a prefix that ends on an attribute
 * boundary is a shorter valid message, and every other prefix cuts an attribute, which the
 * attribute walk itself must reject */
static void
test_truncated_consistent_length (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      for (gsize n = PINHOLE_STUN_HEADER_LEN; n < vectors[i].len; n += 4)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(PinholeStunMessage) msg = NULL;
          g_autofree guint8 *prefix = g_memdup2 (vectors[i].data, n);

          prefix[2] = (guint8) ((n - PINHOLE_STUN_HEADER_LEN) >> 8);
          prefix[3] = (guint8) (n - PINHOLE_STUN_HEADER_LEN);
          msg = pinhole_stun_message_decode (prefix, n, &error);
          if (ends_on_attribute (&vectors[i], n))
            {
              g_assert_no_error (error);
              g_assert_nonnull (msg);
            }
          else
            {
              g_assert_null (msg);
              g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
            }
        }
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/stun/message/crc32", test_crc32);
  g_test_add_func ("/stun/message/decode-rfc5769", test_decode_request);
  g_test_add_func ("/stun/message/decode-rfc5769-ipv4", test_decode_response_ipv4);
  g_test_add_func ("/stun/message/decode-rfc5769-ipv6", test_decode_response_ipv6);
  g_test_add_func ("/stun/message/decode-rfc5769-long-term", test_decode_long_term);
  g_test_add_func ("/stun/message/reencode-rfc5769", test_reencode_rfc5769);
  g_test_add_func ("/stun/message/round-trip", test_round_trip);
  g_test_add_func ("/stun/message/round-trip-classes", test_round_trip_all_classes);
  g_test_add_func ("/stun/message/unknown-attributes", test_unknown_attributes);
  g_test_add_func ("/stun/message/looks-like-stun", test_looks_like_stun);
  g_test_add_func ("/stun/message/malformed", test_malformed);
  g_test_add_func ("/stun/message/integrity-fingerprint-wrong",
                   test_integrity_and_fingerprint_wrong);
  g_test_add_func ("/stun/message/integrity-every-byte", test_integrity_every_byte);
  g_test_add_func ("/stun/message/attribute-after-fingerprint",
                   test_attribute_after_fingerprint);
  g_test_add_func ("/stun/message/encode-limits", test_encode_limits);
  g_test_add_func ("/stun/message/truncated", test_truncated);
  g_test_add_func ("/stun/message/truncated-consistent-length", test_truncated_consistent_length);

  return g_test_run ();
}
