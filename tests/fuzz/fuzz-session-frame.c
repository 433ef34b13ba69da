/* SPDX-License-Identifier: GPL-3.0-or-later
 * fuzz-session-frame.c: libFuzzer harness for the session codec and a session's receive path.
 * The first byte picks a mode: 0 packet parse and open, 1 frame parse and re-encode,
 * 2 raw packets into a responder session, 3 frames (sealed here) into an established one. */
#include "pinhole-session.h"
#include "pinhole-session-frame.h"
#include "pinhole-session-private.h"

#include <stdint.h>
#include <string.h>

#define MAX_CHUNKS 64

static const guint8 fuzz_key[32] = {
  0x70, 0x69, 0x6e, 0x68, 0x6f, 0x6c, 0x65, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x6b, 0x65, 0x79,
  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
};

static void
fuzz_packet (const guint8 *data,
             gsize         size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeSessionPacket) packet = pinhole_session_packet_parse (bytes, &error);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PinholeSessionFrame) frame = NULL;

  if (packet == NULL)
    {
      g_assert (error != NULL);
      return;
    }
  g_assert (size <= PINHOLE_SESSION_MAX_PACKET);
  if (packet->ciphertext == NULL)
    return;
  plain = pinhole_session_packet_open (packet, fuzz_key, &error);
  if (plain == NULL)
    return;
  frame = pinhole_session_frame_parse (plain, &error);
  (void) frame;
}

static void
fuzz_frame (const guint8 *data,
            gsize         size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeSessionFrame) frame = pinhole_session_frame_parse (bytes, &error);
  g_autoptr(GBytes) again = NULL;
  g_autoptr(GBytes) sealed = NULL;
  g_autoptr(PinholeSessionPacket) packet = NULL;
  g_autoptr(GBytes) opened = NULL;

  if (frame == NULL)
    {
      g_assert (error != NULL);
      return;
    }
  /* a frame that parses re-encodes to the same bytes and survives sealing */
  again = pinhole_session_frame_encode (frame);
  g_assert (g_bytes_equal (again, bytes));
  sealed = pinhole_session_packet_build_sealed (PINHOLE_SESSION_PACKET_DATA, NULL, size,
                                                fuzz_key, again);
  packet = pinhole_session_packet_parse (sealed, &error);
  g_assert (packet != NULL);
  opened = pinhole_session_packet_open (packet, fuzz_key, &error);
  g_assert (opened != NULL && g_bytes_equal (opened, again));
}

/* [u16 length][bytes] chunks, at most MAX_CHUNKS */
static GPtrArray *
split_chunks (const guint8 *data,
              gsize         size)
{
  GPtrArray *chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  gsize pos = 0;

  while (size - pos >= 2 && chunks->len < MAX_CHUNKS)
    {
      gsize len = (gsize) data[pos] << 8 | data[pos + 1];

      pos += 2;
      len = MIN (len, size - pos);
      g_ptr_array_add (chunks, g_bytes_new (data + pos, len));
      pos += len;
    }
  return chunks;
}

static PinholeSession *
new_session (gboolean initiator)
{
  g_autoptr(PinholeIdentity) identity = pinhole_identity_new ();
  g_autoptr(PinholeIdentity) peer = pinhole_identity_new ();
  g_autoptr(GBytes) peer_key = pinhole_identity_dup_public_key (peer);

  return pinhole_session_new (identity, "fuzz/a", "fuzz/b", peer_key, initiator);
}

static void
fuzz_responder (const guint8 *data,
                gsize         size)
{
  g_autoptr(PinholeSession) session = new_session (FALSE);
  g_autoptr(GPtrArray) chunks = split_chunks (data, size);

  pinhole_session_start (session);
  for (guint i = 0; i < chunks->len; i++)
    _pinhole_session_receive_packet (session, chunks->pdata[i]);
}

static void
fuzz_established (const guint8 *data,
                  gsize         size)
{
  g_autoptr(PinholeSession) session = new_session (data[0] & 1);
  g_autoptr(GPtrArray) chunks = split_chunks (data + 1, size - 1);
  g_autoptr(GBytes) hello = g_bytes_new_static ("queued by the fuzzer", 20);
  guint64 counter = 0;

  pinhole_session_set_ping_interval (session, 0);
  /* something in flight, so that acks in the input have frames to acknowledge */
  for (guint i = 0; i < 3; i++)
    pinhole_session_send (session, 1, hello, NULL, NULL);
  _pinhole_session_establish_with_keys (session, fuzz_key, fuzz_key);

  for (guint i = 0; i < chunks->len; i++)
    {
      GBytes *chunk = chunks->pdata[i];
      gsize len = g_bytes_get_size (chunk);
      const guint8 *raw = g_bytes_get_data (chunk, NULL);
      g_autoptr(GBytes) frame = NULL;
      g_autoptr(GBytes) packet = NULL;
      guint64 packet_counter;

      if (len == 0)
        continue;
      /* the first byte picks the counter: the next one, a jump ahead, or an old one again */
      if (raw[0] < 0x80)
        {
          counter += 1 + (raw[0] & 0x3f) * (raw[0] & 0x40 ? 64 : 1);
          packet_counter = counter;
        }
      else
        {
          packet_counter = counter - MIN (counter, (guint64) (raw[0] & 0x7f));
        }
      frame = g_bytes_new (raw + 1, len - 1);
      if (len - 1 > PINHOLE_SESSION_FRAME_HEADER_BYTES + PINHOLE_SESSION_MAX_PAYLOAD)
        continue;
      packet = pinhole_session_packet_build_sealed (PINHOLE_SESSION_PACKET_DATA, NULL,
                                                    packet_counter, fuzz_key, frame);
      _pinhole_session_receive_packet (session, packet);
    }
  g_assert (pinhole_session_get_state (session) == PINHOLE_SESSION_STATE_ESTABLISHED ||
            pinhole_session_get_state (session) == PINHOLE_SESSION_STATE_CLOSED);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  if (size < 1)
    return 0;

  switch (data[0] % 4)
    {
    case 0:
      fuzz_packet (data + 1, size - 1);
      break;
    case 1:
      fuzz_frame (data + 1, size - 1);
      break;
    case 2:
      fuzz_responder (data + 1, size - 1);
      break;
    case 3:
    default:
      if (size > 1)
        fuzz_established (data + 1, size - 1);
      break;
    }
  return 0;
}
