/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-session-private.h: PinholeSession internals for tests and fuzzers; not for the app. */
#pragma once

#include "pinhole-session.h"

G_BEGIN_DECLS

/* frames in flight before the sender waits for acknowledgements */
#define PINHOLE_SESSION_WINDOW        64
/* out-of-order frames the receiver buffers (sequence numbers past the cumulative ack) */
#define PINHOLE_SESSION_RX_WINDOW     128
/* payload bytes send() accepts before it fails with PINHOLE_ERROR_LIMIT */
#define PINHOLE_SESSION_MAX_QUEUE     (16 * 1024 * 1024)

void     _pinhole_session_set_rto         (PinholeSession *self,
                                           guint           initial_ms,
                                           guint           min_ms);
void     _pinhole_session_receive_packet  (PinholeSession *self,
                                           GBytes         *packet);
guint64  _pinhole_session_get_retransmissions (PinholeSession *self);
/* skip the handshake: for fuzzing the frame layer with known keys */
void     _pinhole_session_establish_with_keys (PinholeSession *self,
                                               const guint8   *tx_key,
                                               const guint8   *rx_key);
/* the handshake-only secrets, 32 bytes each: the X25519 ephemeral private key and the key of
 * FINISH; for tests to see them wiped once the handshake is over (forward secrecy,
 * docs/session.md §3) */
const guint8 *_pinhole_session_get_ephemeral_secret (PinholeSession *self);
const guint8 *_pinhole_session_get_finish_key       (PinholeSession *self);

G_END_DECLS
