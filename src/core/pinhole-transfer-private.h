/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-transfer-private.h: what a transfer and the link of its session call on each other;
 * not for the app. */
#pragma once

#include "pinhole-transfer.h"
#include "pinhole-transfer-link.h"
#include "pinhole-transfer-message.h"
#include "pinhole-error.h"

G_BEGIN_DECLS

#define PINHOLE_TRANSFER_WINDOW 8     /* blocks the recipient lets the sender have out */

/* the transfer (pinhole-transfer.c) */
PinholeTransfer *_pinhole_transfer_new_outgoing   (const char             *id,
                                                   PinholeManifest        *manifest,
                                                   GPtrArray              *sources);
PinholeTransfer *_pinhole_transfer_new_outgoing_accepted (const char      *id,
                                                          PinholeManifest *manifest,
                                                          GPtrArray       *sources,
                                                          GArray          *accepted);
PinholeTransferLink *_pinhole_transfer_get_link   (PinholeTransfer        *self);
GPtrArray       *_pinhole_transfer_get_sources    (PinholeTransfer        *self);
void             _pinhole_transfer_set_created    (PinholeTransfer        *self,
                                                   gint64                  created);
void             _pinhole_transfer_set_paused_here (PinholeTransfer       *self);
PinholeTransferState _pinhole_transfer_get_kept_state (PinholeTransfer    *self);
void             _pinhole_transfer_fail           (PinholeTransfer        *self,
                                                   PinholeError            code,
                                                   const char             *reason);
PinholeTransfer *_pinhole_transfer_new_offered    (const char             *id,
                                                   PinholeManifest        *manifest);
void             _pinhole_transfer_set_link       (PinholeTransfer        *self,
                                                   PinholeTransferLink    *link);
void             _pinhole_transfer_start          (PinholeTransfer        *self);
void             _pinhole_transfer_handle_message (PinholeTransfer        *self,
                                                   PinholeTransferMessage *message);
void             _pinhole_transfer_handle_data    (PinholeTransfer        *self,
                                                   PinholeTransferData    *data);
void             _pinhole_transfer_link_lost      (PinholeTransfer        *self);
void             _pinhole_transfer_set_peer       (PinholeTransfer        *self,
                                                   const char             *user,
                                                   const char             *device);

/* the link (pinhole-transfer-link.c) */
gboolean         _pinhole_transfer_link_send      (PinholeTransferLink    *self,
                                                   PinholeTransferMessage *message);
gboolean         _pinhole_transfer_link_reserve_block (PinholeTransferLink *self);
void             _pinhole_transfer_link_release_block (PinholeTransferLink *self);
void             _pinhole_transfer_pump           (PinholeTransfer        *self);
gboolean         _pinhole_transfer_link_send_data (PinholeTransferLink    *self,
                                                   guint                   channel,
                                                   GBytes                 *frame);
guint            _pinhole_transfer_link_claim_channel   (PinholeTransferLink *self);
void             _pinhole_transfer_link_release_channel (PinholeTransferLink *self,
                                                         guint                channel);
void             _pinhole_transfer_link_map_incoming    (PinholeTransferLink *self,
                                                         guint                channel,
                                                         PinholeTransfer     *transfer);
const char      *_pinhole_transfer_link_get_path_text   (PinholeTransferLink *self);
gboolean         _pinhole_transfer_link_is_flushed      (PinholeTransferLink *self);
void             _pinhole_transfer_emit_flushed         (PinholeTransfer     *self);
gboolean         _pinhole_transfer_link_withdraw        (PinholeTransferLink *self,
                                                         PinholeTransfer     *transfer,
                                                         PinholeTransferMessageType type);

G_END_DECLS
