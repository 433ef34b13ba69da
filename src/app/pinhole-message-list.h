/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-message-list.h: a GtkListBox bound to a GListModel of PinholeMessage (oldest
 * first): a PinholeMessageRow per message, a PinholeDaySeparator above each new day. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

void pinhole_message_list_bind (GtkListBox *box,
                                GListModel *messages,
                                const char *peer);

G_END_DECLS
