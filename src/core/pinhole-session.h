/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-session.h: one end-to-end encrypted, reliable, ordered stream of frames with one
 * peer device, over whichever PinholePath is current (session protocol v1, docs/session.md). */
#pragma once

#include <gio/gio.h>

#include "pinhole-identity.h"
#include "pinhole-path.h"
#include "pinhole-session-frame.h"   /* PINHOLE_SESSION_MAX_PAYLOAD: a frame's largest payload */

G_BEGIN_DECLS

#define PINHOLE_SESSION_CHANNEL_CONTROL  0
#define PINHOLE_SESSION_CHANNEL_CHAT     1
#define PINHOLE_SESSION_CHANNEL_TRANSFER 2 /* transfer messages (docs/transfer.md §3) */
/* the first of the bulk channels (transfer data): they yield to channels 0-2 and share the
 * session round-robin (docs/session.md §6) */
#define PINHOLE_SESSION_CHANNEL_BULK     3
/* payload bytes waiting or unacknowledged that send() accepts before it fails with
 * PINHOLE_ERROR_LIMIT (send-queue-bytes) */
#define PINHOLE_SESSION_MAX_QUEUE        (16 * 1024 * 1024)

/**
 * PinholeSessionState:
 * @PINHOLE_SESSION_STATE_NEW: created, not started
 * @PINHOLE_SESSION_STATE_HANDSHAKING: the key exchange is under way
 * @PINHOLE_SESSION_STATE_ESTABLISHED: frames flow
 * @PINHOLE_SESSION_STATE_CLOSED: closed by either side
 * @PINHOLE_SESSION_STATE_FAILED: authentication failure or timeout
 */
typedef enum
{
  PINHOLE_SESSION_STATE_NEW,
  PINHOLE_SESSION_STATE_HANDSHAKING,
  PINHOLE_SESSION_STATE_ESTABLISHED,
  PINHOLE_SESSION_STATE_CLOSED,
  PINHOLE_SESSION_STATE_FAILED,
} PinholeSessionState;

GType pinhole_session_state_get_type (void);
#define PINHOLE_TYPE_SESSION_STATE (pinhole_session_state_get_type ())

#define PINHOLE_TYPE_SESSION (pinhole_session_get_type ())
G_DECLARE_FINAL_TYPE (PinholeSession, pinhole_session, PINHOLE, SESSION, GObject)

PinholeSession      *pinhole_session_new                (PinholeIdentity *identity,
                                                         const char      *local_id,
                                                         const char      *peer_id,
                                                         GBytes          *peer_public_key,
                                                         gboolean         initiator);
void                 pinhole_session_attach_path        (PinholeSession  *self,
                                                         PinholePath     *path);
void                 pinhole_session_add_backup_path    (PinholeSession  *self,
                                                         PinholePath     *path);
void                 pinhole_session_detach_path        (PinholeSession  *self,
                                                         PinholePath     *path);
PinholePath         *pinhole_session_get_path           (PinholeSession  *self);
void                 pinhole_session_start              (PinholeSession  *self);
gboolean             pinhole_session_send               (PinholeSession  *self,
                                                         guint8           channel,
                                                         GBytes          *payload,
                                                         guint64         *out_id,
                                                         GError         **error);
void                 pinhole_session_ping               (PinholeSession  *self);
void                 pinhole_session_close              (PinholeSession  *self);

PinholeSessionState  pinhole_session_get_state          (PinholeSession  *self);
gdouble              pinhole_session_get_rtt_ms         (PinholeSession  *self);
const char          *pinhole_session_get_peer_id        (PinholeSession  *self);
guint64              pinhole_session_get_send_queue_bytes (PinholeSession *self);

void                 pinhole_session_set_ping_interval  (PinholeSession  *self,
                                                         guint            interval_ms);
void                 pinhole_session_set_timeout        (PinholeSession  *self,
                                                         guint            timeout_ms);

G_END_DECLS
