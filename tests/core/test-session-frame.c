/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-session-frame.c: the session packet and frame codec (docs/session.md). */
#include <string.h>

#include "pinhole-error.h"
#include "pinhole-session-frame.h"

static const guint8 test_key[32] = {
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};

static GBytes *
make_data_packet (guint64     counter,
                  guint64     seq,
                  const char *text)
{
  g_autoptr(GBytes) payload = g_bytes_new (text, strlen (text));
  g_autoptr(PinholeSessionFrame) frame =
    pinhole_session_frame_new (PINHOLE_SESSION_FRAME_DATA, seq, 7, 1, payload);
  g_autoptr(GBytes) plain = pinhole_session_frame_encode (frame);

  return pinhole_session_packet_build_sealed (PINHOLE_SESSION_PACKET_DATA, NULL, counter,
                                              test_key, plain);
}

static void
test_frame_round_trip (void)
{
  static const PinholeSessionFrameType types[] = {
    PINHOLE_SESSION_FRAME_DATA, PINHOLE_SESSION_FRAME_ACK, PINHOLE_SESSION_FRAME_PING,
    PINHOLE_SESSION_FRAME_PONG, PINHOLE_SESSION_FRAME_CLOSE,
  };

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      gboolean data = types[i] == PINHOLE_SESSION_FRAME_DATA;
      g_autoptr(GBytes) payload = g_bytes_new ("abc", data ? 3 : 0);
      g_autoptr(PinholeSessionFrame) frame =
        pinhole_session_frame_new (types[i], G_MAXUINT64 - i, 0x0102030405060708ull + i,
                                   data ? 200 : 0, payload);
      g_autoptr(GBytes) bytes = pinhole_session_frame_encode (frame);
      g_autoptr(GError) error = NULL;
      g_autoptr(PinholeSessionFrame) parsed = pinhole_session_frame_parse (bytes, &error);

      g_assert_no_error (error);
      g_assert_cmpint (parsed->type, ==, types[i]);
      g_assert_cmpuint (parsed->seq, ==, G_MAXUINT64 - i);
      g_assert_cmpuint (parsed->ack, ==, 0x0102030405060708ull + i);
      g_assert_cmpuint (parsed->channel, ==, data ? 200 : 0);
      g_assert_true (g_bytes_equal (parsed->payload, payload));
    }
}

static void
test_frame_layout (void)
{
  static const guint8 expected[] = {
    1, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 3, 4, 'h', 'i',
  };
  g_autoptr(GBytes) payload = g_bytes_new ("hi", 2);
  g_autoptr(PinholeSessionFrame) frame =
    pinhole_session_frame_new (PINHOLE_SESSION_FRAME_DATA, 258, 3, 4, payload);
  g_autoptr(GBytes) bytes = pinhole_session_frame_encode (frame);

  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                   expected, sizeof expected);
}

static void
test_frame_malformed (void)
{
  struct
  {
    guint8 type;
    guint64 seq;
    guint8 channel;
    gsize payload_len;
    const char *needle;
  } cases[] = {
    { 0, 1, 0, 0, "type 0" },
    { 6, 1, 0, 0, "type 6" },
    { 255, 1, 0, 0, "type 255" },
    { PINHOLE_SESSION_FRAME_DATA, 0, 1, 1, "sequence number 0" },
    { PINHOLE_SESSION_FRAME_DATA, 1, 1, PINHOLE_SESSION_MAX_PAYLOAD + 1, "32769" },
    { PINHOLE_SESSION_FRAME_ACK, 0, 0, 1, "1 payload" },
    { PINHOLE_SESSION_FRAME_PING, 0, 3, 0, "channel 3" },
    { PINHOLE_SESSION_FRAME_CLOSE, 0, 0, 5, "5 payload" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gsize len = PINHOLE_SESSION_FRAME_HEADER_BYTES + cases[i].payload_len;
      guint8 *raw = g_malloc0 (len);
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(PinholeSessionFrame) frame = NULL;

      raw[0] = cases[i].type;
      raw[8] = (guint8) cases[i].seq;
      raw[17] = cases[i].channel;
      bytes = g_bytes_new_take (raw, len);
      frame = pinhole_session_frame_parse (bytes, &error);
      g_assert_null (frame);
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
      if (strstr (error->message, cases[i].needle) == NULL)
        g_error ("case %u: \"%s\" does not name \"%s\"", i, error->message, cases[i].needle);
    }
}

static void
test_frame_truncated (void)
{
  g_autoptr(GBytes) payload = g_bytes_new ("x", 1);
  g_autoptr(PinholeSessionFrame) frame =
    pinhole_session_frame_new (PINHOLE_SESSION_FRAME_PING, 9, 9, 0, NULL);
  g_autoptr(GBytes) bytes = pinhole_session_frame_encode (frame);
  gsize len = g_bytes_get_size (bytes);

  g_assert_cmpuint (len, ==, PINHOLE_SESSION_FRAME_HEADER_BYTES);
  for (gsize n = 0; n < len; n++)
    {
      g_autofree guint8 *exact = g_memdup2 (g_bytes_get_data (bytes, NULL), n);
      g_autoptr(GBytes) prefix = g_bytes_new (exact, n);
      g_autoptr(GError) error = NULL;
      g_autoptr(PinholeSessionFrame) parsed = pinhole_session_frame_parse (prefix, &error);

      g_assert_null (parsed);
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
    }
}

static void
test_packet_round_trip (void)
{
  g_autoptr(GBytes) packet = make_data_packet (0x1122334455667788ull, 42, "hello");
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeSessionPacket) parsed = pinhole_session_packet_parse (packet, &error);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PinholeSessionFrame) frame = NULL;
  const guint8 *raw = g_bytes_get_data (packet, NULL);

  g_assert_no_error (error);
  g_assert_cmpuint (raw[0], ==, 1);
  g_assert_cmpuint (raw[1], ==, PINHOLE_SESSION_PACKET_DATA);
  g_assert_cmpuint (raw[2], ==, 0x11);
  g_assert_cmpuint (raw[9], ==, 0x88);
  g_assert_cmpuint (g_bytes_get_size (packet), ==,
                    10 + PINHOLE_SESSION_FRAME_HEADER_BYTES + 5 + PINHOLE_SESSION_TAG_BYTES);
  g_assert_cmpint (parsed->kind, ==, PINHOLE_SESSION_PACKET_DATA);
  g_assert_cmpuint (parsed->counter, ==, 0x1122334455667788ull);

  plain = pinhole_session_packet_open (parsed, test_key, &error);
  g_assert_no_error (error);
  frame = pinhole_session_frame_parse (plain, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (frame->seq, ==, 42);
  g_assert_cmpuint (frame->ack, ==, 7);
  g_assert_cmpmem (g_bytes_get_data (frame->payload, NULL), g_bytes_get_size (frame->payload),
                   "hello", 5);
}

static void
test_packet_handshake (void)
{
  guint8 eph[32], sig[64];
  g_autoptr(GBytes) hello = NULL;
  g_autoptr(GBytes) response = NULL;
  g_autoptr(GBytes) finish = NULL;
  g_autoptr(GBytes) sig_bytes = NULL;
  g_autoptr(GBytes) opened = NULL;
  g_autoptr(PinholeSessionPacket) p1 = NULL;
  g_autoptr(PinholeSessionPacket) p2 = NULL;
  g_autoptr(PinholeSessionPacket) p3 = NULL;
  g_autoptr(GError) error = NULL;

  memset (eph, 0xAB, sizeof eph);
  memset (sig, 0x5A, sizeof sig);
  sig_bytes = g_bytes_new (sig, sizeof sig);

  hello = pinhole_session_packet_build_hello (eph);
  g_assert_cmpuint (g_bytes_get_size (hello), ==, 34);
  p1 = pinhole_session_packet_parse (hello, &error);
  g_assert_no_error (error);
  g_assert_cmpint (p1->kind, ==, PINHOLE_SESSION_PACKET_HELLO);
  g_assert_cmpmem (p1->ephemeral, 32, eph, 32);
  g_assert_null (p1->ciphertext);

  response = pinhole_session_packet_build_sealed (PINHOLE_SESSION_PACKET_RESPONSE, eph, 0,
                                                  test_key, sig_bytes);
  g_assert_cmpuint (g_bytes_get_size (response), ==, 2 + 32 + 64 + 16);
  p2 = pinhole_session_packet_parse (response, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (p2->ephemeral, 32, eph, 32);
  opened = pinhole_session_packet_open (p2, test_key, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (opened, sig_bytes));
  g_clear_pointer (&opened, g_bytes_unref);

  finish = pinhole_session_packet_build_sealed (PINHOLE_SESSION_PACKET_FINISH, NULL, 0,
                                                test_key, sig_bytes);
  g_assert_cmpuint (g_bytes_get_size (finish), ==, 2 + 64 + 16);
  p3 = pinhole_session_packet_parse (finish, &error);
  g_assert_no_error (error);
  opened = pinhole_session_packet_open (p3, test_key, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (opened, sig_bytes));
}

static void
test_packet_malformed (void)
{
  struct
  {
    const guint8 *data;
    gsize len;
    const char *needle;
  } cases[] = {
    { (const guint8 *) "\x02\x10", 2, "version 2" },
    { (const guint8 *) "\x00\x01", 2, "version 0" },
    { (const guint8 *) "\x01\x04", 2, "kind 4" },
    { (const guint8 *) "\x01\x11", 2, "kind 17" },
    { (const guint8 *) "\x01\x01" "abc", 5, "HELLO packet has 5 bytes" },
    { (const guint8 *) "\x01\x03", 2, "FINISH packet has 2 bytes" },
    { (const guint8 *) "\x01\x10\0\0\0\0\0\0\0\0", 10, "DATA packet has 10 bytes" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (cases[i].data, cases[i].len);
      g_autoptr(GError) error = NULL;
      g_autoptr(PinholeSessionPacket) packet = pinhole_session_packet_parse (bytes, &error);

      g_assert_null (packet);
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
      if (strstr (error->message, cases[i].needle) == NULL)
        g_error ("case %u: \"%s\" does not name \"%s\"", i, error->message, cases[i].needle);
    }

  /* too long: a DATA packet beyond the largest frame */
  {
    gsize len = PINHOLE_SESSION_MAX_PACKET + 1;
    guint8 *raw = g_malloc0 (len);
    g_autoptr(GBytes) bytes = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(PinholeSessionPacket) packet = NULL;

    raw[0] = 1;
    raw[1] = PINHOLE_SESSION_PACKET_DATA;
    bytes = g_bytes_new_take (raw, len);
    packet = pinhole_session_packet_parse (bytes, &error);
    g_assert_null (packet);
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  }
}

static void
test_packet_tampered (void)
{
  g_autoptr(GBytes) packet = make_data_packet (5, 1, "secret");
  gsize len = g_bytes_get_size (packet);
  guint8 wrong_key[32];

  /* every flipped bit, header included, fails authentication or parsing */
  for (gsize i = 0; i < len; i++)
    {
      g_autofree guint8 *raw = g_memdup2 (g_bytes_get_data (packet, NULL), len);
      g_autoptr(GBytes) bad = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(PinholeSessionPacket) parsed = NULL;
      g_autoptr(GBytes) plain = NULL;

      raw[i] ^= 0x80;
      bad = g_bytes_new (raw, len);
      parsed = pinhole_session_packet_parse (bad, &error);
      if (parsed == NULL)
        {
          g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
          continue;
        }
      plain = pinhole_session_packet_open (parsed, test_key, &error);
      g_assert_null (plain);
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
    }

  memcpy (wrong_key, test_key, sizeof wrong_key);
  wrong_key[31] ^= 1;
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(PinholeSessionPacket) parsed = pinhole_session_packet_parse (packet, &error);
    g_autoptr(GBytes) plain = NULL;

    g_assert_no_error (error);
    plain = pinhole_session_packet_open (parsed, wrong_key, &error);
    g_assert_null (plain);
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
  }
}

static void
test_packet_truncated (void)
{
  guint8 eph[32] = { 0 };
  guint8 zeros[64] = { 0 };
  g_autoptr(GBytes) sig = g_bytes_new (zeros, sizeof zeros);
  GBytes *packets[3];

  packets[0] = make_data_packet (3, 9, "truncate me");
  packets[1] = pinhole_session_packet_build_hello (eph);
  packets[2] = pinhole_session_packet_build_sealed (PINHOLE_SESSION_PACKET_FINISH, NULL, 0,
                                                    test_key, sig);

  for (guint p = 0; p < G_N_ELEMENTS (packets); p++)
    {
      gsize len = g_bytes_get_size (packets[p]);

      for (gsize n = 0; n < len; n++)
        {
          /* an exact-size copy so that sanitizers catch any over-read */
          g_autofree guint8 *exact = g_memdup2 (g_bytes_get_data (packets[p], NULL), n);
          g_autoptr(GBytes) prefix = g_bytes_new (exact, n);
          g_autoptr(GError) error = NULL;
          g_autoptr(PinholeSessionPacket) parsed = pinhole_session_packet_parse (prefix, &error);
          g_autoptr(GBytes) plain = NULL;

          if (parsed == NULL)
            {
              g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
              continue;
            }
          /* a DATA prefix long enough to parse must still fail to authenticate */
          g_assert_cmpint (parsed->kind, ==, PINHOLE_SESSION_PACKET_DATA);
          plain = pinhole_session_packet_open (parsed, test_key, &error);
          g_assert_null (plain);
          g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
        }
      g_bytes_unref (packets[p]);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/session/frame/round-trip", test_frame_round_trip);
  g_test_add_func ("/session/frame/layout", test_frame_layout);
  g_test_add_func ("/session/frame/malformed", test_frame_malformed);
  g_test_add_func ("/session/frame/truncated", test_frame_truncated);
  g_test_add_func ("/session/packet/round-trip", test_packet_round_trip);
  g_test_add_func ("/session/packet/handshake", test_packet_handshake);
  g_test_add_func ("/session/packet/malformed", test_packet_malformed);
  g_test_add_func ("/session/packet/tampered", test_packet_tampered);
  g_test_add_func ("/session/packet/truncated", test_packet_truncated);

  return g_test_run ();
}
