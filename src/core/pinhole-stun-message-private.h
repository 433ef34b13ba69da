/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-stun-message-private.h: what pinhole-stun-message.c (framing, integrity) shares with
 * pinhole-stun-message-attrs.c (the attributes): big-endian byte helpers and the attribute
 * codec; not for the app. */
#pragma once

#include "pinhole-stun-message.h"

G_BEGIN_DECLS

static inline guint16
get_u16 (const guint8 *p)
{
  return (guint16) (p[0] << 8 | p[1]);
}

static inline guint32
get_u32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | (guint32) p[3];
}

static inline guint64
get_u64 (const guint8 *p)
{
  return (guint64) get_u32 (p) << 32 | get_u32 (p + 4);
}

static inline void
put_u16 (guint8  *p,
         guint16  v)
{
  p[0] = (guint8) (v >> 8);
  p[1] = (guint8) v;
}

static inline void
put_u32 (guint8  *p,
         guint32  v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
}

/* pinhole-stun-message-attrs.c */
gboolean _pinhole_stun_message_check_fixed_len    (guint16              type,
                                                   guint16              len,
                                                   guint16              expected,
                                                   GError             **error);
gboolean _pinhole_stun_message_decode_attribute   (PinholeStunMessage  *msg,
                                                   guint16              type,
                                                   const guint8        *v,
                                                   guint16              len,
                                                   GError             **error);
void     _pinhole_stun_message_put_attr           (GByteArray          *out,
                                                   guint16              type,
                                                   const guint8        *value,
                                                   gsize                len,
                                                   guint8               padding_byte);
gboolean _pinhole_stun_message_encode_attributes  (const PinholeStunMessage *msg,
                                                   GByteArray          *out,
                                                   GError             **error);

G_END_DECLS
