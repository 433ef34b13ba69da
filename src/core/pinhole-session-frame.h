/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-session-frame.h: the wire codec of session packets and the frames sealed inside
 * them (session protocol version 1, docs/session.md). Plain data, no I/O. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PINHOLE_SESSION_PROTOCOL_VERSION 1

/* the largest payload of one DATA frame */
#define PINHOLE_SESSION_MAX_PAYLOAD 32768

#define PINHOLE_SESSION_KEY_BYTES       32
#define PINHOLE_SESSION_EPHEMERAL_BYTES 32
#define PINHOLE_SESSION_SIGNATURE_BYTES 64
#define PINHOLE_SESSION_TAG_BYTES       16
/* [u8 type][u64 seq][u64 ack][u8 channel] */
#define PINHOLE_SESSION_FRAME_HEADER_BYTES 18
/* [u8 version][u8 kind][u64 counter] */
#define PINHOLE_SESSION_DATA_HEADER_BYTES  10
#define PINHOLE_SESSION_MAX_PACKET \
  (PINHOLE_SESSION_DATA_HEADER_BYTES + PINHOLE_SESSION_FRAME_HEADER_BYTES + \
   PINHOLE_SESSION_MAX_PAYLOAD + PINHOLE_SESSION_TAG_BYTES)

typedef enum
{
  PINHOLE_SESSION_PACKET_HELLO = 1,
  PINHOLE_SESSION_PACKET_RESPONSE = 2,
  PINHOLE_SESSION_PACKET_FINISH = 3,
  PINHOLE_SESSION_PACKET_DATA = 16,
} PinholeSessionPacketKind;

typedef enum
{
  PINHOLE_SESSION_FRAME_DATA = 1,
  PINHOLE_SESSION_FRAME_ACK = 2,
  PINHOLE_SESSION_FRAME_PING = 3,
  PINHOLE_SESSION_FRAME_PONG = 4,
  PINHOLE_SESSION_FRAME_CLOSE = 5,
} PinholeSessionFrameType;

/**
 * PinholeSessionPacket:
 * @kind: what the packet is
 * @ephemeral: the sender's X25519 ephemeral key (HELLO and RESPONSE only)
 * @counter: the per-direction transmission counter that forms the nonce (DATA only)
 * @header: every byte before @ciphertext; authenticated as associated data
 * @ciphertext: (nullable): the AEAD ciphertext with its tag (all kinds but HELLO)
 */
typedef struct
{
  PinholeSessionPacketKind kind;
  guint8                   ephemeral[PINHOLE_SESSION_EPHEMERAL_BYTES];
  guint64                  counter;

  /* owned */
  GBytes                  *header;
  GBytes                  *ciphertext;
} PinholeSessionPacket;

PinholeSessionPacket *pinhole_session_packet_parse       (GBytes                     *bytes,
                                                          GError                    **error);
void                  pinhole_session_packet_free        (PinholeSessionPacket       *packet);
GBytes               *pinhole_session_packet_open        (const PinholeSessionPacket *packet,
                                                          const guint8               *key,
                                                          GError                    **error);
GBytes               *pinhole_session_packet_build_hello (const guint8               *ephemeral);
GBytes               *pinhole_session_packet_build_sealed (PinholeSessionPacketKind  kind,
                                                           const guint8             *ephemeral,
                                                           guint64                   counter,
                                                           const guint8             *key,
                                                           GBytes                   *plaintext);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeSessionPacket, pinhole_session_packet_free)

/**
 * PinholeSessionFrame:
 * @type: what the frame does
 * @seq: DATA: its sequence number (from 1); PING/PONG: the ping id; otherwise 0
 * @ack: the highest sequence number up to which the sender received every DATA frame
 * @channel: DATA: 0 control, 1 chat, 2+ transfers; otherwise 0
 * @payload: DATA: up to %PINHOLE_SESSION_MAX_PAYLOAD bytes; otherwise empty
 */
typedef struct
{
  PinholeSessionFrameType type;
  guint64                 seq;
  guint64                 ack;
  guint8                  channel;

  /* owned, never NULL */
  GBytes                 *payload;
} PinholeSessionFrame;

PinholeSessionFrame *pinhole_session_frame_new    (PinholeSessionFrameType    type,
                                                   guint64                    seq,
                                                   guint64                    ack,
                                                   guint8                     channel,
                                                   GBytes                    *payload);
PinholeSessionFrame *pinhole_session_frame_parse  (GBytes                    *bytes,
                                                   GError                   **error);
GBytes              *pinhole_session_frame_encode (const PinholeSessionFrame *frame);
void                 pinhole_session_frame_free   (PinholeSessionFrame       *frame);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeSessionFrame, pinhole_session_frame_free)

G_END_DECLS
