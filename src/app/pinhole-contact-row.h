/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-contact-row.h: one contact in the sidebar: avatar, name, presence dot, a small path
 * badge, the last message (or an offer of files that waits for an answer) and the unread
 * count. */
#pragma once

#include <gtk/gtk.h>

#include "pinhole-contact.h"
#include "pinhole-conversation.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_CONTACT_ROW (pinhole_contact_row_get_type ())
G_DECLARE_FINAL_TYPE (PinholeContactRow, pinhole_contact_row, PINHOLE, CONTACT_ROW, GtkListBoxRow)

GtkWidget      *pinhole_contact_row_new         (PinholeContact      *contact,
                                                 PinholeConversation *conversation,
                                                 GListModel          *transfers);
PinholeContact *pinhole_contact_row_get_contact (PinholeContactRow   *self);

G_END_DECLS
