/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-conversation-view.h: the chat with one contact: the header bar with the live path
 * indicator, banners (offline, key changed), the messages with transfer cards among them, and
 * the entry with Send Files…; a drop of files offers them. */
#pragma once

#include <handy.h>

#include "pinhole-client.h"
#include "pinhole-offline-banner.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_CONVERSATION_VIEW (pinhole_conversation_view_get_type ())
G_DECLARE_FINAL_TYPE (PinholeConversationView, pinhole_conversation_view, PINHOLE,
                      CONVERSATION_VIEW, GtkBox)

void pinhole_conversation_view_set_contact   (PinholeConversationView *self,
                                              PinholeClient           *client,
                                              PinholeContact          *contact);
void pinhole_conversation_view_set_show_back (PinholeConversationView *self,
                                              gboolean                 show);
void pinhole_conversation_view_send_files    (PinholeConversationView *self,
                                              const char *const       *paths);
char **pinhole_conversation_view_uris_to_paths (char **uris);

HdyHeaderBar *pinhole_conversation_view_get_header_bar (PinholeConversationView *self);
PinholeOfflineBanner *pinhole_conversation_view_get_offline_banner (
  PinholeConversationView *self);

G_END_DECLS
