/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-stun-responder.h: a STUN Binding server on UDP and TCP (RFC 8489 §6.3), bounded in
 * connections, idle time and buffered bytes; embedded by pinhole-server --stun-port. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PINHOLE_TYPE_STUN_RESPONDER (pinhole_stun_responder_get_type ())
G_DECLARE_FINAL_TYPE (PinholeStunResponder, pinhole_stun_responder, PINHOLE, STUN_RESPONDER,
                      GObject)

PinholeStunResponder *pinhole_stun_responder_new                 (void);

gboolean              pinhole_stun_responder_listen              (PinholeStunResponder  *self,
                                                                  GInetAddress          *address,
                                                                  guint16                port,
                                                                  GError               **error);
void                  pinhole_stun_responder_stop                (PinholeStunResponder  *self);

guint16               pinhole_stun_responder_get_udp_port        (PinholeStunResponder  *self);
guint16               pinhole_stun_responder_get_tcp_port        (PinholeStunResponder  *self);
guint                 pinhole_stun_responder_get_n_connections   (PinholeStunResponder  *self);

guint                 pinhole_stun_responder_get_max_connections (PinholeStunResponder  *self);
void                  pinhole_stun_responder_set_max_connections (PinholeStunResponder  *self,
                                                                  guint                  max);
guint                 pinhole_stun_responder_get_idle_timeout_ms (PinholeStunResponder  *self);
void                  pinhole_stun_responder_set_idle_timeout_ms (PinholeStunResponder  *self,
                                                                  guint                  ms);
guint                 pinhole_stun_responder_get_max_buffer      (PinholeStunResponder  *self);
void                  pinhole_stun_responder_set_max_buffer      (PinholeStunResponder  *self,
                                                                  guint                  bytes);
const char           *pinhole_stun_responder_get_software        (PinholeStunResponder  *self);
void                  pinhole_stun_responder_set_software        (PinholeStunResponder  *self,
                                                                  const char            *software);

G_END_DECLS
