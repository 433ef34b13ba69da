/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-message-row.h: one message as a bubble, with its time and, for ours, its state;
 * a failed one says why and offers Retry (the conversation.retry action, by message id). */
#pragma once

#include <gtk/gtk.h>

#include "pinhole-message.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_MESSAGE_ROW (pinhole_message_row_get_type ())
G_DECLARE_FINAL_TYPE (PinholeMessageRow, pinhole_message_row, PINHOLE, MESSAGE_ROW, GtkListBoxRow)

GtkWidget      *pinhole_message_row_new          (PinholeMessage    *message,
                                                  const char        *peer);
PinholeMessage *pinhole_message_row_get_message  (PinholeMessageRow *self);
GtkWidget      *pinhole_message_row_get_retry    (PinholeMessageRow *self);
void            pinhole_message_row_set_grouped  (PinholeMessageRow *self,
                                                  gboolean           grouped);

G_END_DECLS
