/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-session-frame.c: session packets (handshake, ChaCha20-Poly1305 data) and frames,
 * per docs/session.md. Our own framing: no Debian library offers authenticated framing that
 * is independent of the path and survives a switch between relay, TCP and UDP. */
#define G_LOG_DOMAIN "pinhole-session"

#include "pinhole-session-frame.h"

#include <sodium.h>
#include <string.h>

#include "pinhole-error.h"

#define RESPONSE_BYTES (2 + PINHOLE_SESSION_EPHEMERAL_BYTES + PINHOLE_SESSION_SIGNATURE_BYTES + \
                        PINHOLE_SESSION_TAG_BYTES)
#define FINISH_BYTES   (2 + PINHOLE_SESSION_SIGNATURE_BYTES + PINHOLE_SESSION_TAG_BYTES)
#define HELLO_BYTES    (2 + PINHOLE_SESSION_EPHEMERAL_BYTES)

G_STATIC_ASSERT (crypto_aead_chacha20poly1305_ietf_KEYBYTES == PINHOLE_SESSION_KEY_BYTES);
G_STATIC_ASSERT (crypto_aead_chacha20poly1305_ietf_ABYTES == PINHOLE_SESSION_TAG_BYTES);
G_STATIC_ASSERT (crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12);

typedef struct
{
  const guint8 *data;
  gsize         len;
  gsize         pos;
} Reader;

static gboolean
reader_read_u8 (Reader *r,
                guint8 *out)
{
  if (r->len - r->pos < 1)
    return FALSE;
  *out = r->data[r->pos++];
  return TRUE;
}

static gboolean
reader_read_u64 (Reader  *r,
                 guint64 *out)
{
  guint64 v = 0;

  if (r->len - r->pos < 8)
    return FALSE;
  for (guint i = 0; i < 8; i++)
    v = v << 8 | r->data[r->pos + i];
  r->pos += 8;
  *out = v;
  return TRUE;
}

static gboolean
reader_read_bytes (Reader *r,
                   guint8 *out,
                   gsize   n)
{
  if (r->len - r->pos < n)
    return FALSE;
  memcpy (out, r->data + r->pos, n);
  r->pos += n;
  return TRUE;
}

static void
put_u64 (guint8  *out,
         guint64  v)
{
  for (guint i = 0; i < 8; i++)
    out[i] = (guint8) (v >> (56 - 8 * i));
}

static void
make_nonce (guint8  nonce[12],
            guint64 counter)
{
  /* 32 zero bits then the big-endian counter; each key has its own counter space */
  memset (nonce, 0, 4);
  put_u64 (nonce + 4, counter);
}

static const char *
kind_name (guint8 kind)
{
  switch (kind)
    {
    case PINHOLE_SESSION_PACKET_HELLO:
      return "HELLO";
    case PINHOLE_SESSION_PACKET_RESPONSE:
      return "RESPONSE";
    case PINHOLE_SESSION_PACKET_FINISH:
      return "FINISH";
    case PINHOLE_SESSION_PACKET_DATA:
      return "DATA";
    default:
      return "unknown";
    }
}

void
pinhole_session_packet_free (PinholeSessionPacket *packet)
{
  if (packet == NULL)
    return;
  g_clear_pointer (&packet->header, g_bytes_unref);
  g_clear_pointer (&packet->ciphertext, g_bytes_unref);
  g_free (packet);
}

/**
 * pinhole_session_packet_parse:
 * @bytes: one packet as a path delivered it
 *
 * Checks the version, the kind and the exact length the kind requires; the ciphertext
 * is not opened here.
 *
 * Returns: (transfer full) (nullable): the packet, or %NULL with a %PINHOLE_ERROR_PROTOCOL
 */
PinholeSessionPacket *
pinhole_session_packet_parse (GBytes  *bytes,
                              GError **error)
{
  g_autoptr(PinholeSessionPacket) packet = NULL;
  Reader r = { 0 };
  guint8 version, kind;
  gsize header_len;

  g_return_val_if_fail (bytes != NULL, NULL);

  r.data = g_bytes_get_data (bytes, &r.len);
  if (!reader_read_u8 (&r, &version) || !reader_read_u8 (&r, &kind))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "Session packet of %" G_GSIZE_FORMAT " bytes is too short for its header",
                   r.len);
      return NULL;
    }
  if (version != PINHOLE_SESSION_PROTOCOL_VERSION)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "Session packet version %u, expected %u", version,
                   PINHOLE_SESSION_PROTOCOL_VERSION);
      return NULL;
    }

  packet = g_new0 (PinholeSessionPacket, 1);
  packet->kind = kind;
  switch (kind)
    {
    case PINHOLE_SESSION_PACKET_HELLO:
    case PINHOLE_SESSION_PACKET_RESPONSE:
    case PINHOLE_SESSION_PACKET_FINISH:
      {
        gsize expected = kind == PINHOLE_SESSION_PACKET_HELLO ? HELLO_BYTES :
                         kind == PINHOLE_SESSION_PACKET_RESPONSE ? RESPONSE_BYTES : FINISH_BYTES;

        if (r.len != expected)
          {
            g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                         "Session %s packet has %" G_GSIZE_FORMAT " bytes, expected %"
                         G_GSIZE_FORMAT, kind_name (kind), r.len, expected);
            return NULL;
          }
        if (kind != PINHOLE_SESSION_PACKET_FINISH &&
            !reader_read_bytes (&r, packet->ephemeral, sizeof packet->ephemeral))
          g_assert_not_reached ();
      }
      break;

    case PINHOLE_SESSION_PACKET_DATA:
      if (!reader_read_u64 (&r, &packet->counter) ||
          r.len - r.pos < PINHOLE_SESSION_FRAME_HEADER_BYTES + PINHOLE_SESSION_TAG_BYTES)
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "Session DATA packet has %" G_GSIZE_FORMAT " bytes, at least %u needed",
                       r.len, PINHOLE_SESSION_DATA_HEADER_BYTES +
                       PINHOLE_SESSION_FRAME_HEADER_BYTES + PINHOLE_SESSION_TAG_BYTES);
          return NULL;
        }
      if (r.len > PINHOLE_SESSION_MAX_PACKET)
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "Session DATA packet has %" G_GSIZE_FORMAT " bytes, at most %u allowed",
                       r.len, PINHOLE_SESSION_MAX_PACKET);
          return NULL;
        }
      break;

    default:
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "Unknown session packet kind %u", kind);
      return NULL;
    }

  header_len = r.pos;
  packet->header = g_bytes_new_from_bytes (bytes, 0, header_len);
  if (kind != PINHOLE_SESSION_PACKET_HELLO)
    packet->ciphertext = g_bytes_new_from_bytes (bytes, header_len, r.len - header_len);
  return g_steal_pointer (&packet);
}

/**
 * pinhole_session_packet_open:
 * @packet: a RESPONSE, FINISH or DATA packet
 * @key: the 32-byte key of the sender's direction
 *
 * Returns: (transfer full) (nullable): the plaintext, or %NULL with %PINHOLE_ERROR_AUTH
 *   when the ciphertext, tag or header do not authenticate under @key
 */
GBytes *
pinhole_session_packet_open (const PinholeSessionPacket *packet,
                             const guint8               *key,
                             GError                    **error)
{
  guint8 nonce[12];
  const guint8 *ct, *ad;
  gsize ct_len, ad_len;
  guint8 *out;
  unsigned long long out_len = 0;

  g_return_val_if_fail (packet != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  if (packet->ciphertext == NULL)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "Session %s packet carries no ciphertext", kind_name (packet->kind));
      return NULL;
    }
  ct = g_bytes_get_data (packet->ciphertext, &ct_len);
  ad = g_bytes_get_data (packet->header, &ad_len);
  if (ct_len < PINHOLE_SESSION_TAG_BYTES)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "Session ciphertext of %" G_GSIZE_FORMAT " bytes is shorter than its tag",
                   ct_len);
      return NULL;
    }

  make_nonce (nonce, packet->kind == PINHOLE_SESSION_PACKET_DATA ? packet->counter : 0);
  out = g_malloc (ct_len - PINHOLE_SESSION_TAG_BYTES + 1);
  if (crypto_aead_chacha20poly1305_ietf_decrypt (out, &out_len, NULL, ct, ct_len, ad, ad_len,
                                                 nonce, key) != 0)
    {
      g_free (out);
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                   "Session %s packet (counter %" G_GUINT64_FORMAT ") does not authenticate",
                   kind_name (packet->kind), packet->counter);
      return NULL;
    }
  return g_bytes_new_take (out, (gsize) out_len);
}

/**
 * pinhole_session_packet_build_hello:
 * @ephemeral: the initiator's 32-byte X25519 ephemeral public key
 *
 * Returns: (transfer full): the HELLO packet
 */
GBytes *
pinhole_session_packet_build_hello (const guint8 *ephemeral)
{
  guint8 *out = g_malloc (HELLO_BYTES);

  g_return_val_if_fail (ephemeral != NULL, NULL);

  out[0] = PINHOLE_SESSION_PROTOCOL_VERSION;
  out[1] = PINHOLE_SESSION_PACKET_HELLO;
  memcpy (out + 2, ephemeral, PINHOLE_SESSION_EPHEMERAL_BYTES);
  return g_bytes_new_take (out, HELLO_BYTES);
}

/**
 * pinhole_session_packet_build_sealed:
 * @kind: RESPONSE, FINISH or DATA
 * @ephemeral: (nullable): RESPONSE: the responder's X25519 ephemeral public key
 * @counter: DATA: the transmission counter, never reused with @key
 * @key: the 32-byte key of this direction
 * @plaintext: RESPONSE and FINISH: a 64-byte signature; DATA: an encoded frame
 *
 * Returns: (transfer full): the packet
 */
GBytes *
pinhole_session_packet_build_sealed (PinholeSessionPacketKind  kind,
                                     const guint8             *ephemeral,
                                     guint64                   counter,
                                     const guint8             *key,
                                     GBytes                   *plaintext)
{
  guint8 nonce[12];
  const guint8 *pt;
  gsize pt_len, header_len = 2;
  guint8 *out;
  unsigned long long ct_len = 0;

  g_return_val_if_fail (kind == PINHOLE_SESSION_PACKET_RESPONSE ||
                        kind == PINHOLE_SESSION_PACKET_FINISH ||
                        kind == PINHOLE_SESSION_PACKET_DATA, NULL);
  g_return_val_if_fail (kind != PINHOLE_SESSION_PACKET_RESPONSE || ephemeral != NULL, NULL);
  g_return_val_if_fail (key != NULL && plaintext != NULL, NULL);

  pt = g_bytes_get_data (plaintext, &pt_len);
  g_return_val_if_fail (pt_len <= PINHOLE_SESSION_MAX_PACKET, NULL);

  /* the longest header is RESPONSE's: version, kind, ephemeral key */
  out = g_malloc (2 + PINHOLE_SESSION_EPHEMERAL_BYTES + pt_len + PINHOLE_SESSION_TAG_BYTES);
  out[0] = PINHOLE_SESSION_PROTOCOL_VERSION;
  out[1] = (guint8) kind;
  if (kind == PINHOLE_SESSION_PACKET_RESPONSE)
    {
      memcpy (out + 2, ephemeral, PINHOLE_SESSION_EPHEMERAL_BYTES);
      header_len += PINHOLE_SESSION_EPHEMERAL_BYTES;
    }
  else if (kind == PINHOLE_SESSION_PACKET_DATA)
    {
      put_u64 (out + 2, counter);
      header_len += 8;
    }

  make_nonce (nonce, kind == PINHOLE_SESSION_PACKET_DATA ? counter : 0);
  crypto_aead_chacha20poly1305_ietf_encrypt (out + header_len, &ct_len, pt, pt_len,
                                             out, header_len, NULL, nonce, key);
  return g_bytes_new_take (out, header_len + (gsize) ct_len);
}

/**
 * pinhole_session_frame_new:
 * @payload: (nullable): DATA payload; %NULL means empty
 *
 * Returns: (transfer full): a frame
 */
PinholeSessionFrame *
pinhole_session_frame_new (PinholeSessionFrameType type,
                           guint64                 seq,
                           guint64                 ack,
                           guint8                  channel,
                           GBytes                 *payload)
{
  PinholeSessionFrame *frame = g_new0 (PinholeSessionFrame, 1);

  frame->type = type;
  frame->seq = seq;
  frame->ack = ack;
  frame->channel = channel;
  frame->payload = payload != NULL ? g_bytes_ref (payload) : g_bytes_new (NULL, 0);
  return frame;
}

void
pinhole_session_frame_free (PinholeSessionFrame *frame)
{
  if (frame == NULL)
    return;
  g_clear_pointer (&frame->payload, g_bytes_unref);
  g_free (frame);
}

/**
 * pinhole_session_frame_parse:
 * @bytes: the plaintext of a DATA packet
 *
 * Returns: (transfer full) (nullable): the frame, or %NULL with a %PINHOLE_ERROR_PROTOCOL
 *   naming the bad field
 */
PinholeSessionFrame *
pinhole_session_frame_parse (GBytes  *bytes,
                             GError **error)
{
  Reader r = { 0 };
  guint8 type, channel;
  guint64 seq, ack;
  gsize payload_len;

  g_return_val_if_fail (bytes != NULL, NULL);

  r.data = g_bytes_get_data (bytes, &r.len);
  if (!reader_read_u8 (&r, &type) || !reader_read_u64 (&r, &seq) ||
      !reader_read_u64 (&r, &ack) || !reader_read_u8 (&r, &channel))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "Session frame of %" G_GSIZE_FORMAT " bytes is shorter than its %u-byte "
                   "header", r.len, PINHOLE_SESSION_FRAME_HEADER_BYTES);
      return NULL;
    }
  payload_len = r.len - r.pos;

  switch (type)
    {
    case PINHOLE_SESSION_FRAME_DATA:
      if (seq == 0)
        {
          g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                               "Session DATA frame has sequence number 0; they start at 1");
          return NULL;
        }
      if (payload_len > PINHOLE_SESSION_MAX_PAYLOAD)
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "Session DATA frame payload has %" G_GSIZE_FORMAT " bytes, at most %u "
                       "allowed", payload_len, PINHOLE_SESSION_MAX_PAYLOAD);
          return NULL;
        }
      break;

    case PINHOLE_SESSION_FRAME_ACK:
    case PINHOLE_SESSION_FRAME_PING:
    case PINHOLE_SESSION_FRAME_PONG:
    case PINHOLE_SESSION_FRAME_CLOSE:
      if (channel != 0 || payload_len != 0)
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "Session control frame type %u has channel %u and %" G_GSIZE_FORMAT
                       " payload bytes; both must be 0", type, channel, payload_len);
          return NULL;
        }
      break;

    default:
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "Unknown session frame type %u", type);
      return NULL;
    }

  {
    g_autoptr(GBytes) payload = g_bytes_new_from_bytes (bytes, r.pos, payload_len);

    return pinhole_session_frame_new (type, seq, ack, channel, payload);
  }
}

/**
 * pinhole_session_frame_encode:
 *
 * Returns: (transfer full): the frame's bytes, to be sealed into a DATA packet
 */
GBytes *
pinhole_session_frame_encode (const PinholeSessionFrame *frame)
{
  const guint8 *payload;
  gsize payload_len;
  guint8 *out;

  g_return_val_if_fail (frame != NULL, NULL);

  payload = g_bytes_get_data (frame->payload, &payload_len);
  g_return_val_if_fail (payload_len <= PINHOLE_SESSION_MAX_PAYLOAD, NULL);

  out = g_malloc (PINHOLE_SESSION_FRAME_HEADER_BYTES + payload_len);
  out[0] = (guint8) frame->type;
  put_u64 (out + 1, frame->seq);
  put_u64 (out + 9, frame->ack);
  out[17] = frame->channel;
  if (payload_len > 0)
    memcpy (out + PINHOLE_SESSION_FRAME_HEADER_BYTES, payload, payload_len);
  return g_bytes_new_take (out, PINHOLE_SESSION_FRAME_HEADER_BYTES + payload_len);
}
