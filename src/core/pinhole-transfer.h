/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-transfer.h: one transfer of files and folders between two devices
 * (docs/transfer.md): the object views bind to, and the calls that answer an offer. */
#pragma once

#include <gio/gio.h>

#include "pinhole-manifest.h"

G_BEGIN_DECLS

typedef enum
{
  PINHOLE_TRANSFER_DIRECTION_OUTGOING,
  PINHOLE_TRANSFER_DIRECTION_INCOMING,
} PinholeTransferDirection;

/**
 * PinholeTransferState:
 * @PINHOLE_TRANSFER_STATE_OFFERING: the sender is sending the offer
 * @PINHOLE_TRANSFER_STATE_OFFERED: the offer waits for the recipient's answer
 * @PINHOLE_TRANSFER_STATE_RUNNING: blocks move
 * @PINHOLE_TRANSFER_STATE_PAUSED: either side paused it
 * @PINHOLE_TRANSFER_STATE_DONE: the recipient verified every accepted file
 * @PINHOLE_TRANSFER_STATE_DECLINED: the recipient declined
 * @PINHOLE_TRANSFER_STATE_CANCELLED: either side cancelled
 * @PINHOLE_TRANSFER_STATE_FAILED: over with an error (#PinholeTransfer:error)
 */
typedef enum
{
  PINHOLE_TRANSFER_STATE_OFFERING,
  PINHOLE_TRANSFER_STATE_OFFERED,
  PINHOLE_TRANSFER_STATE_RUNNING,
  PINHOLE_TRANSFER_STATE_PAUSED,
  PINHOLE_TRANSFER_STATE_DONE,
  PINHOLE_TRANSFER_STATE_DECLINED,
  PINHOLE_TRANSFER_STATE_CANCELLED,
  PINHOLE_TRANSFER_STATE_FAILED,
} PinholeTransferState;

/* what a person does to a transfer (pinhole_client_control_transfer()) */
typedef enum
{
  PINHOLE_TRANSFER_ACTION_ACCEPT,
  PINHOLE_TRANSFER_ACTION_DECLINE,
  PINHOLE_TRANSFER_ACTION_PAUSE,
  PINHOLE_TRANSFER_ACTION_RESUME,
  PINHOLE_TRANSFER_ACTION_CANCEL,
} PinholeTransferAction;

const char *pinhole_transfer_state_to_string (PinholeTransferState state);

#define PINHOLE_TYPE_TRANSFER (pinhole_transfer_get_type ())
G_DECLARE_FINAL_TYPE (PinholeTransfer, pinhole_transfer, PINHOLE, TRANSFER, GObject)

const char               *pinhole_transfer_get_id          (PinholeTransfer *self);
PinholeTransferDirection  pinhole_transfer_get_direction   (PinholeTransfer *self);
PinholeTransferState      pinhole_transfer_get_state       (PinholeTransfer *self);
PinholeManifest          *pinhole_transfer_get_manifest    (PinholeTransfer *self);
guint64                   pinhole_transfer_get_bytes_done  (PinholeTransfer *self);
guint64                   pinhole_transfer_get_bytes_total (PinholeTransfer *self);
guint64                   pinhole_transfer_get_bytes_sent  (PinholeTransfer *self);
gdouble                   pinhole_transfer_get_rate        (PinholeTransfer *self);
const char               *pinhole_transfer_get_error       (PinholeTransfer *self);
const char               *pinhole_transfer_get_current_path (PinholeTransfer *self);
gboolean                  pinhole_transfer_is_over         (PinholeTransfer *self);
const char               *pinhole_transfer_get_peer        (PinholeTransfer *self);
const char               *pinhole_transfer_get_peer_device (PinholeTransfer *self);
const char               *pinhole_transfer_get_folder      (PinholeTransfer *self);
char                     *pinhole_transfer_dup_local_path  (PinholeTransfer *self,
                                                            guint            entry);
GArray                   *pinhole_transfer_get_accepted    (PinholeTransfer *self);
gint64                    pinhole_transfer_get_created     (PinholeTransfer *self);
gboolean                  pinhole_transfer_is_linked       (PinholeTransfer *self);
gboolean                  pinhole_transfer_is_paused_here  (PinholeTransfer *self);
gboolean                  pinhole_transfer_is_flushed      (PinholeTransfer *self);

gboolean                  pinhole_transfer_accept          (PinholeTransfer *self,
                                                            const char      *folder,
                                                            GArray          *entries,
                                                            GError         **error);
void                      pinhole_transfer_decline         (PinholeTransfer *self);
void                      pinhole_transfer_pause           (PinholeTransfer *self);
void                      pinhole_transfer_resume          (PinholeTransfer *self);
void                      pinhole_transfer_cancel          (PinholeTransfer *self);

G_END_DECLS
