/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-transfer-card.h: one transfer in the conversation, bound to its PinholeTransfer. */
#pragma once

#include <gtk/gtk.h>

#include "pinhole-transfer.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_TRANSFER_CARD (pinhole_transfer_card_get_type ())
G_DECLARE_FINAL_TYPE (PinholeTransferCard, pinhole_transfer_card, PINHOLE, TRANSFER_CARD,
                      GtkListBoxRow)

GtkWidget       *pinhole_transfer_card_new          (PinholeTransfer     *transfer);
PinholeTransfer *pinhole_transfer_card_get_transfer (PinholeTransferCard *self);
char            *pinhole_transfer_card_dup_default_folder (void);

G_END_DECLS
