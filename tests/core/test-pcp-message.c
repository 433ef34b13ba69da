/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-pcp-message.c: the PCP codec (RFC 6887): request layout byte by byte, responses that
 * decode, every malformed response §8.3 and §11.4 say to drop (short, every truncation,
 * wrong version, request bit, wrong opcode, wrong nonce/protocol/port, bad lengths,
 * truncated and unknown options), result codes, and the epoch rule of §8.5. */
#include "pinhole-error.h"
#include "pinhole-pcp-message.h"

#include <string.h>

static const guint8 client[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 2 };

static PinholePcpMap
request_map (void)
{
  PinholePcpMap map = { .nonce = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 },
                        .protocol = PINHOLE_PCP_PROTOCOL_UDP,
                        .internal_port = 41000,
                        .external_port = 41000,
                        .external_address = { [10] = 0xff, [11] = 0xff } };
  return map;
}

/* a MAP response as miniupnpd writes it: header, MAP payload, then extra bytes */
static gsize
map_response (guint8               *out,
              const PinholePcpMap  *map,
              guint8                result,
              guint32               lifetime,
              guint32               epoch,
              const guint8         *extra,
              gsize                 extra_len)
{
  memset (out, 0, PINHOLE_PCP_MAP_REQUEST_SIZE);
  out[0] = 2;
  out[1] = 0x80 | PINHOLE_PCP_OPCODE_MAP;
  out[3] = result;
  out[4] = lifetime >> 24; out[5] = lifetime >> 16; out[6] = lifetime >> 8; out[7] = lifetime;
  out[8] = epoch >> 24; out[9] = epoch >> 16; out[10] = epoch >> 8; out[11] = epoch;
  memcpy (out + 24, map->nonce, 12);
  out[36] = map->protocol;
  out[40] = map->internal_port >> 8;
  out[41] = map->internal_port & 0xff;
  out[42] = 0xa0;   /* assigned external port 41001 */
  out[43] = 0x29;
  out[54] = 0xff; out[55] = 0xff;
  out[56] = 203; out[57] = 0; out[58] = 113; out[59] = 21;
  if (extra_len > 0)
    memcpy (out + 60, extra, extra_len);
  return 60 + extra_len;
}

static void
expect_dropped (const guint8        *data,
                gsize                len,
                const PinholePcpMap *map,
                const char          *words)
{
  g_autoptr(GError) error = NULL;
  PinholePcpResponse resp;

  g_assert_false (pinhole_pcp_decode_response (data, len, map, &resp, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  if (words != NULL && strstr (error->message, words) == NULL)
    g_error ("\"%s\" does not say \"%s\"", error->message, words);
}

static void
test_encode_map (void)
{
  PinholePcpMap map = request_map ();
  guint8 out[PINHOLE_PCP_MAP_REQUEST_SIZE];
  static const guint8 expected[PINHOLE_PCP_MAP_REQUEST_SIZE] = {
    2, 1, 0, 0, 0, 0, 0x02, 0x58,                       /* version, MAP, lifetime 600 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 2,    /* client ::ffff:10.1.0.2 */
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,              /* nonce */
    17, 0, 0, 0, 0xa0, 0x28, 0xa0, 0x28,                 /* UDP, 41000 -> 41000 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0,     /* no preferred address */
  };

  pinhole_pcp_encode_map (out, 600, client, &map);
  g_assert_cmpmem (out, sizeof out, expected, sizeof expected);

  /* lifetime 0 deletes (§15) */
  pinhole_pcp_encode_map (out, 0, client, &map);
  g_assert_cmpint (out[4] | out[5] | out[6] | out[7], ==, 0);
}

static void
test_encode_announce (void)
{
  guint8 out[PINHOLE_PCP_HEADER_SIZE];

  pinhole_pcp_encode_announce (out, client);
  g_assert_cmpint (out[0], ==, 2);
  g_assert_cmpint (out[1], ==, PINHOLE_PCP_OPCODE_ANNOUNCE);
  g_assert_cmpint (out[4] | out[5] | out[6] | out[7], ==, 0);
  g_assert_cmpmem (out + 8, 16, client, 16);
}

static void
test_decode_map (void)
{
  PinholePcpMap map = request_map ();
  guint8 buf[PINHOLE_PCP_MAX_MESSAGE + 8];
  g_autoptr(GError) error = NULL;
  PinholePcpResponse resp;
  gsize len = map_response (buf, &map, 0, 600, 1234, NULL, 0);

  g_assert_true (pinhole_pcp_decode_response (buf, len, &map, &resp, &error));
  g_assert_no_error (error);
  g_assert_cmpint (resp.opcode, ==, PINHOLE_PCP_OPCODE_MAP);
  g_assert_cmpint (resp.result, ==, PINHOLE_PCP_RESULT_SUCCESS);
  g_assert_cmpuint (resp.lifetime_s, ==, 600);
  g_assert_cmpuint (resp.epoch_s, ==, 1234);
  g_assert_cmpuint (resp.map.external_port, ==, 41001);
  g_assert_cmpint (resp.map.external_address[12], ==, 203);
  g_assert_cmpint (resp.map.external_address[15], ==, 21);
}

/* an error result decodes: the caller reads it */
static void
test_decode_error_result (void)
{
  PinholePcpMap map = request_map ();
  guint8 buf[128];
  PinholePcpResponse resp;
  gsize len = map_response (buf, &map, PINHOLE_PCP_RESULT_NO_RESOURCES, 30, 1, NULL, 0);

  g_assert_true (pinhole_pcp_decode_response (buf, len, &map, &resp, NULL));
  g_assert_cmpint (resp.result, ==, PINHOLE_PCP_RESULT_NO_RESOURCES);
  g_assert_cmpstr (pinhole_pcp_result_to_string (resp.result), ==, "NO_RESOURCES");
  g_assert_true (pinhole_pcp_result_is_transient (resp.result));
  g_assert_false (pinhole_pcp_result_is_transient (PINHOLE_PCP_RESULT_NOT_AUTHORIZED));
  g_assert_cmpstr (pinhole_pcp_result_to_string (PINHOLE_PCP_RESULT_NOT_AUTHORIZED), ==,
                   "NOT_AUTHORIZED");

  /* a result code RFC 6887 does not define stays as it came */
  len = map_response (buf, &map, 200, 30, 1, NULL, 0);
  g_assert_true (pinhole_pcp_decode_response (buf, len, &map, &resp, NULL));
  g_assert_cmpint (resp.result, ==, 200);
  g_assert_cmpstr (pinhole_pcp_result_to_string (200), ==, "unknown result");
}

static void
test_decode_announce (void)
{
  PinholePcpMap map = request_map ();
  guint8 buf[PINHOLE_PCP_HEADER_SIZE] = { 2, 0x80 | PINHOLE_PCP_OPCODE_ANNOUNCE, 0, 0,
                                          0, 0, 0, 0, 0, 0, 0x01, 0x00 };
  PinholePcpResponse resp;

  /* expected alone, and while waiting for a MAP answer (the epoch may have changed) */
  g_assert_true (pinhole_pcp_decode_response (buf, sizeof buf, NULL, &resp, NULL));
  g_assert_cmpint (resp.opcode, ==, PINHOLE_PCP_OPCODE_ANNOUNCE);
  g_assert_cmpuint (resp.epoch_s, ==, 256);
  g_assert_true (pinhole_pcp_decode_response (buf, sizeof buf, &map, &resp, NULL));
  g_assert_cmpint (resp.opcode, ==, PINHOLE_PCP_OPCODE_ANNOUNCE);
}

/* every prefix of a valid response fails cleanly */
static void
test_truncated (void)
{
  PinholePcpMap map = request_map ();
  guint8 buf[128];
  gsize len = map_response (buf, &map, 0, 600, 1, NULL, 0);

  for (gsize n = 0; n < len; n++)
    {
      guint8 *copy = g_memdup2 (buf, n ? n : 1);

      expect_dropped (copy, n, &map, NULL);
      g_free (copy);
    }
  expect_dropped (buf, 2, &map, "shorter than its header");
  expect_dropped (buf, 24, &map, "shorter than its 60");
}

static void
test_wrong_version (void)
{
  PinholePcpMap map = request_map ();
  guint8 buf[128];
  gsize len = map_response (buf, &map, 0, 600, 1, NULL, 0);
  /* a NAT-PMP server's "unsupported version" (RFC 6886 §3.5) */
  static const guint8 nat_pmp[8] = { 0, 0x80, 0, 1, 0, 0, 0, 5 };
  g_autoptr(GError) error = NULL;
  PinholePcpResponse resp;

  g_assert_false (pinhole_pcp_decode_response (nat_pmp, sizeof nat_pmp, &map, &resp, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED);
  g_assert_nonnull (strstr (error->message, "NAT-PMP"));
  g_clear_error (&error);

  buf[0] = 1;
  g_assert_false (pinhole_pcp_decode_response (buf, len, &map, &resp, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED);
}

static void
test_wrong_opcode (void)
{
  PinholePcpMap map = request_map ();
  guint8 buf[128];
  gsize len = map_response (buf, &map, 0, 600, 1, NULL, 0);

  /* PEER (2) and an unassigned opcode */
  buf[1] = 0x80 | 2;
  expect_dropped (buf, len, &map, "opcode 2");
  buf[1] = 0x80 | 0x7f;
  expect_dropped (buf, len, &map, "opcode 127");
  /* our own request reflected back: no R bit */
  buf[1] = PINHOLE_PCP_OPCODE_MAP;
  expect_dropped (buf, len, &map, "is a request");
  /* a MAP response when only an ANNOUNCE was asked for */
  buf[1] = 0x80 | PINHOLE_PCP_OPCODE_MAP;
  expect_dropped (buf, len, NULL, "not ANNOUNCE");
}

static void
test_wrong_nonce (void)
{
  PinholePcpMap map = request_map ();
  PinholePcpMap other = request_map ();
  guint8 buf[128];
  gsize len;

  other.nonce[11] ^= 1;
  len = map_response (buf, &other, 0, 600, 1, NULL, 0);
  expect_dropped (buf, len, &map, "another mapping nonce");

  other = request_map ();
  other.protocol = PINHOLE_PCP_PROTOCOL_TCP;
  len = map_response (buf, &other, 0, 600, 1, NULL, 0);
  expect_dropped (buf, len, &map, "protocol 6 port 41000");

  other = request_map ();
  other.internal_port = 41002;
  len = map_response (buf, &other, 0, 600, 1, NULL, 0);
  expect_dropped (buf, len, &map, "port 41002");
}

static void
test_bad_length (void)
{
  PinholePcpMap map = request_map ();
  guint8 buf[PINHOLE_PCP_MAX_MESSAGE + 8] = { 0 };
  gsize len = map_response (buf, &map, 0, 600, 1, NULL, 0);

  /* §8.3: not a multiple of 4, or over 1100 bytes */
  expect_dropped (buf, len + 1, &map, "multiple of 4");
  expect_dropped (buf, len + 2, &map, "multiple of 4");
  expect_dropped (buf, PINHOLE_PCP_MAX_MESSAGE + 4, &map, "multiple of 4 up to 1100");
}

static void
test_options (void)
{
  PinholePcpMap map = request_map ();
  guint8 buf[256];
  PinholePcpResponse resp;
  /* PREFER_FAILURE (no data), then an optional option 200 with 5 bytes padded to 8 */
  static const guint8 fine[] = { 2, 0, 0, 0, 200, 0, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0 };
  /* an option that claims 8 bytes where 4 are left */
  static const guint8 overrun[] = { 200, 0, 0, 8, 1, 2, 3, 4 };
  /* 5 bytes of data, padded to 8, where 4 are left */
  static const guint8 unpadded[] = { 200, 0, 0, 5, 1, 2, 3, 4 };
  /* option 42: mandatory to process, unknown to us */
  static const guint8 mandatory[] = { 42, 0, 0, 0 };
  gsize len;

  len = map_response (buf, &map, 0, 600, 1, fine, sizeof fine);
  g_assert_true (pinhole_pcp_decode_response (buf, len, &map, &resp, NULL));

  len = map_response (buf, &map, 0, 600, 1, overrun, sizeof overrun);
  expect_dropped (buf, len, &map, "claims 8 bytes, 4 left");
  len = map_response (buf, &map, 0, 600, 1, unpadded, sizeof unpadded);
  expect_dropped (buf, len, &map, "claims 5 bytes, 4 left");
  len = map_response (buf, &map, 0, 600, 1, mandatory, sizeof mandatory);
  expect_dropped (buf, len, &map, "mandatory option 42");
  /* every truncation of the options, in steps of 4 as the length rule allows */
  len = map_response (buf, &map, 0, 600, 1, fine, sizeof fine);
  expect_dropped (buf, len - 4, &map, "claims 5 bytes");
}

static void
test_epoch (void)
{
  PinholePcpEpoch epoch = { 0 };
  gint64 t = 1000 * G_USEC_PER_SEC;

  /* the first one is taken as it is */
  g_assert_true (pinhole_pcp_epoch_update (&epoch, 5000, t));
  /* 100 s later on both clocks, with a little drift */
  g_assert_true (pinhole_pcp_epoch_update (&epoch, 5101, t + 100 * G_USEC_PER_SEC));
  /* the same second again, and one second behind: allowed */
  g_assert_true (pinhole_pcp_epoch_update (&epoch, 5100, t + 100 * G_USEC_PER_SEC));
  /* more than a second behind: the server rebooted */
  g_assert_false (pinhole_pcp_epoch_update (&epoch, 10, t + 101 * G_USEC_PER_SEC));
  /* from the new epoch on, all is well again */
  g_assert_true (pinhole_pcp_epoch_update (&epoch, 40, t + 131 * G_USEC_PER_SEC));
  /* the server's clock ran 100 s in 10 s of ours: it lost state */
  g_assert_false (pinhole_pcp_epoch_update (&epoch, 140, t + 141 * G_USEC_PER_SEC));
  /* ours ran 100 s in 10 s of the server's (it restarted and counted up from less) */
  g_assert_false (pinhole_pcp_epoch_update (&epoch, 150, t + 241 * G_USEC_PER_SEC));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pcp/message/encode-map", test_encode_map);
  g_test_add_func ("/pcp/message/encode-announce", test_encode_announce);
  g_test_add_func ("/pcp/message/decode-map", test_decode_map);
  g_test_add_func ("/pcp/message/decode-error-result", test_decode_error_result);
  g_test_add_func ("/pcp/message/decode-announce", test_decode_announce);
  g_test_add_func ("/pcp/message/truncated", test_truncated);
  g_test_add_func ("/pcp/message/wrong-version", test_wrong_version);
  g_test_add_func ("/pcp/message/wrong-opcode", test_wrong_opcode);
  g_test_add_func ("/pcp/message/wrong-nonce", test_wrong_nonce);
  g_test_add_func ("/pcp/message/bad-length", test_bad_length);
  g_test_add_func ("/pcp/message/options", test_options);
  g_test_add_func ("/pcp/message/epoch", test_epoch);

  return g_test_run ();
}
