/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-stun-message.h: STUN message codec (RFC 8489 §5, §14; RFC 8445 §16.1 ICE attributes;
 * RFC 5780 §7 NAT discovery attributes), with MESSAGE-INTEGRITY and FINGERPRINT. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PINHOLE_STUN_MAGIC_COOKIE      0x2112A442u
#define PINHOLE_STUN_HEADER_LEN        20
#define PINHOLE_STUN_TRANSACTION_ID_LEN 12
/* the largest message the codec decodes or encodes: the 16-bit length field plus the header */
#define PINHOLE_STUN_MAX_MESSAGE_LEN   (PINHOLE_STUN_HEADER_LEN + 0xFFFC)

/* RFC 8489 §5: the two class bits C1 C0 */
typedef enum
{
  PINHOLE_STUN_CLASS_REQUEST    = 0,
  PINHOLE_STUN_CLASS_INDICATION = 1,
  PINHOLE_STUN_CLASS_SUCCESS    = 2,
  PINHOLE_STUN_CLASS_ERROR      = 3,
} PinholeStunClass;

#define PINHOLE_STUN_METHOD_BINDING 0x001

/* attribute types the codec reads and writes (RFC 8489 §18.3, RFC 8445 §16.1, RFC 5780 §9.1) */
typedef enum
{
  PINHOLE_STUN_ATTR_MAPPED_ADDRESS     = 0x0001,
  PINHOLE_STUN_ATTR_CHANGE_REQUEST     = 0x0003,
  PINHOLE_STUN_ATTR_USERNAME           = 0x0006,
  PINHOLE_STUN_ATTR_MESSAGE_INTEGRITY  = 0x0008,
  PINHOLE_STUN_ATTR_ERROR_CODE         = 0x0009,
  PINHOLE_STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
  PINHOLE_STUN_ATTR_REALM              = 0x0014,
  PINHOLE_STUN_ATTR_NONCE              = 0x0015,
  PINHOLE_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
  PINHOLE_STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
  PINHOLE_STUN_ATTR_PRIORITY           = 0x0024,
  PINHOLE_STUN_ATTR_USE_CANDIDATE      = 0x0025,
  PINHOLE_STUN_ATTR_SOFTWARE           = 0x8022,
  PINHOLE_STUN_ATTR_FINGERPRINT        = 0x8028,
  PINHOLE_STUN_ATTR_ICE_CONTROLLED     = 0x8029,
  PINHOLE_STUN_ATTR_ICE_CONTROLLING    = 0x802A,
  PINHOLE_STUN_ATTR_RESPONSE_ORIGIN    = 0x802B,
  PINHOLE_STUN_ATTR_OTHER_ADDRESS      = 0x802C,
} PinholeStunAttrType;

/* RFC 5780 §7.2 CHANGE-REQUEST flags */
#define PINHOLE_STUN_CHANGE_IP   0x4u
#define PINHOLE_STUN_CHANGE_PORT 0x2u

/**
 * PinholeStunMessage:
 * A decoded STUN message, or one to encode. Address fields and strings are owned and
 * nullable; the has_* flags say whether a fixed-size attribute is present.
 */
typedef struct _PinholeStunMessage
{
  PinholeStunClass    klass;
  guint16             method;   /* 12 bits */
  guint8              transaction_id[PINHOLE_STUN_TRANSACTION_ID_LEN];

  /* owned, nullable */
  GInetSocketAddress *mapped_address;
  GInetSocketAddress *xor_mapped_address;
  GInetSocketAddress *response_origin;
  GInetSocketAddress *other_address;
  char               *username;
  char               *software;
  char               *realm;
  char               *nonce;
  char               *error_reason;
  GArray             *unknown_attributes;  /* guint16: the UNKNOWN-ATTRIBUTES attribute */

  guint               error_code;          /* 300..699, 0 when there is no ERROR-CODE */

  gboolean            has_priority;
  guint32             priority;
  gboolean            use_candidate;
  gboolean            has_ice_controlled;
  guint64             ice_controlled;
  gboolean            has_ice_controlling;
  guint64             ice_controlling;
  gboolean            has_change_request;
  guint32             change_request;

  /* encoding only: the value of padding bytes. RFC 8489 §14 lets it be anything; 0 by default,
   * RFC 5769 uses 0x20 */
  guint8              padding_byte;

  /* decoding only */
  GArray             *unknown_required;    /* guint16: comprehension-required types not understood */
  gboolean            has_message_integrity;
  gboolean            has_fingerprint;
  GBytes             *raw;                 /* owned: the bytes decoded, for the checks below */
  gsize               integrity_offset;    /* offset of the MESSAGE-INTEGRITY attribute header */
} PinholeStunMessage;

PinholeStunMessage *pinhole_stun_message_new           (PinholeStunClass  klass,
                                                        guint16           method,
                                                        const guint8     *transaction_id);
void                pinhole_stun_message_free          (PinholeStunMessage *msg);

void                pinhole_stun_message_set_random_transaction_id (PinholeStunMessage *msg);

PinholeStunMessage *pinhole_stun_message_decode        (const guint8     *data,
                                                        gsize             len,
                                                        GError          **error);

GBytes             *pinhole_stun_message_encode        (const PinholeStunMessage *msg,
                                                        const guint8     *integrity_key,
                                                        gsize             integrity_key_len,
                                                        gboolean          add_fingerprint,
                                                        GError          **error);

gboolean            pinhole_stun_message_verify_integrity (const PinholeStunMessage *msg,
                                                           const guint8     *key,
                                                           gsize             key_len,
                                                           GError          **error);
gboolean            pinhole_stun_message_check_fingerprint (const PinholeStunMessage *msg,
                                                            GError          **error);

gboolean            pinhole_stun_message_looks_like_stun (const guint8 *data,
                                                          gsize         len);

guint32             pinhole_stun_crc32                 (const guint8 *data,
                                                        gsize         len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeStunMessage, pinhole_stun_message_free)

G_END_DECLS
