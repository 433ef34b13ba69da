/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-path.h: a way to carry session packets to one peer device (the server relay, a
 * direct TCP or UDP connection). A path moves whole packets; it need not be reliable: the
 * session above it numbers, acknowledges and retransmits its frames. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* the largest packet any path must carry */
#define PINHOLE_PATH_MAX_PACKET 65536

/* over byte streams (direct TCP, a QUIC stream, STUN over TCP) each packet follows its length:
 * 4 bytes, big-endian */
#define PINHOLE_PATH_FRAME_HEADER 4

static inline void
pinhole_path_frame_header_put (guint8  *out,
                               guint32  len)
{
  out[0] = (guint8) (len >> 24);
  out[1] = (guint8) (len >> 16);
  out[2] = (guint8) (len >> 8);
  out[3] = (guint8) len;
}

static inline guint32
pinhole_path_frame_header_get (const guint8 *in)
{
  return (guint32) in[0] << 24 | (guint32) in[1] << 16 | (guint32) in[2] << 8 | in[3];
}

/**
 * PinholePathKind:
 * The kinds of path, in the order of preference used when several are confirmed
 * (lower is better). Their names on the wire, in the CLI and on D-Bus are the enum nicks
 * (pinhole_path_kind_to_string()); pinhole-enum-strings.c has the sentences.
 */
typedef enum
{
  PINHOLE_PATH_KIND_LAN,
  PINHOLE_PATH_KIND_UPNP,
  PINHOLE_PATH_KIND_NAT_PMP,
  PINHOLE_PATH_KIND_PCP,         /* a port mapping by PCP (RFC 6887) */
  PINHOLE_PATH_KIND_UDP_PUNCH,
  PINHOLE_PATH_KIND_TCP_PUNCH,
  PINHOLE_PATH_KIND_RELAY,
  PINHOLE_PATH_KIND_NONE,        /* no session: not a path, the model's "not connected" */
} PinholePathKind;

#define PINHOLE_TYPE_PATH (pinhole_path_get_type ())
G_DECLARE_INTERFACE (PinholePath, pinhole_path, PINHOLE, PATH, GObject)

struct _PinholePathInterface
{
  GTypeInterface g_iface;

  /* queue one packet for sending; never blocks */
  gboolean        (*send)       (PinholePath *self,
                                 GBytes      *packet,
                                 GError     **error);
  PinholePathKind (*get_kind)   (PinholePath *self);
  /* human-readable far end: "203.0.113.7:41000", or "server" for the relay */
  const char *    (*get_remote) (PinholePath *self);
  /* stop using the path; emits ::closed once with no error */
  void            (*close)      (PinholePath *self);
  /* optional: the same path turns out to be of another kind (a router mapping found after
   * the hole was punched through the same port) */
  void            (*set_kind)   (PinholePath     *self,
                                 PinholePathKind  kind);
  /* optional: bytes accepted by send() and not yet taken by the socket; a path that has it
   * emits ::drained when they fall to 0, so that bulk frames wait in the session instead */
  gsize           (*get_queued_bytes) (PinholePath *self);
};

gboolean        pinhole_path_send        (PinholePath *self,
                                          GBytes      *packet,
                                          GError     **error);
PinholePathKind pinhole_path_get_kind    (PinholePath *self);
const char     *pinhole_path_get_remote  (PinholePath *self);
void            pinhole_path_close       (PinholePath *self);
void            pinhole_path_set_kind    (PinholePath     *self,
                                          PinholePathKind  kind);
gsize           pinhole_path_get_queued_bytes (PinholePath *self);

/* for implementations: emit ::received (GBytes *packet) and ::closed (GError *nullable) */
void            pinhole_path_emit_received (PinholePath  *self,
                                            GBytes       *packet);
void            pinhole_path_emit_closed   (PinholePath  *self,
                                            const GError *error);
/* and ::drained, when the bytes of get_queued_bytes() fall to 0 */
void            pinhole_path_emit_drained  (PinholePath  *self);

/* unsent bytes a TCP socket that carries session packets holds in the kernel at most */
#define PINHOLE_PATH_TCP_NOTSENT_LOWAT (128 * 1024)
void            pinhole_path_tune_tcp_socket (GSocket    *socket,
                                              const char *what);

const char     *pinhole_path_kind_to_string (PinholePathKind kind);
gboolean        pinhole_path_kind_from_string (const char      *name,
                                               PinholePathKind *out_kind);

G_END_DECLS
