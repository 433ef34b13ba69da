/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-conversation.h: the chat with one contact as a GListModel of PinholeMessage,
 * oldest first: the latest page from the profile's history at once, older pages on demand,
 * new messages appended live as they are sent or arrive. */
#pragma once

#include <gio/gio.h>

#include "pinhole-message.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_CONVERSATION (pinhole_conversation_get_type ())
G_DECLARE_FINAL_TYPE (PinholeConversation, pinhole_conversation, PINHOLE, CONVERSATION, GObject)

const char     *pinhole_conversation_get_user       (PinholeConversation *self);
gboolean        pinhole_conversation_get_has_older  (PinholeConversation *self);
guint           pinhole_conversation_load_older     (PinholeConversation *self,
                                                     guint                count,
                                                     GError             **error);
PinholeMessage *pinhole_conversation_lookup         (PinholeConversation *self,
                                                     const char          *id);

void            pinhole_conversation_send_async     (PinholeConversation *self,
                                                     const char          *text,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
PinholeMessage *pinhole_conversation_send_finish    (PinholeConversation *self,
                                                     GAsyncResult        *result,
                                                     GError             **error);

G_END_DECLS
