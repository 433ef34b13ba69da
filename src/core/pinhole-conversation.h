/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-conversation.h: the chat with one contact as a GListModel of PinholeMessage,
 * oldest first: the latest page from the profile's history at once, older pages on demand,
 * new messages appended live as they are sent or arrive; `unread` counts the messages received
 * since pinhole_conversation_mark_read() (the mark is kept in the profile, so the count
 * survives a restart) and `last-message` is the newest, for a contact row's preview. A failed
 * outgoing message can be sent again with pinhole_conversation_retry_async(). */
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
guint           pinhole_conversation_get_unread     (PinholeConversation *self);
PinholeMessage *pinhole_conversation_get_last_message (PinholeConversation *self);
gboolean        pinhole_conversation_mark_read      (PinholeConversation *self,
                                                     GError             **error);

void            pinhole_conversation_send_async     (PinholeConversation *self,
                                                     const char          *text,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
PinholeMessage *pinhole_conversation_send_finish    (PinholeConversation *self,
                                                     GAsyncResult        *result,
                                                     GError             **error);
void            pinhole_conversation_retry_async    (PinholeConversation *self,
                                                     PinholeMessage      *failed,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
PinholeMessage *pinhole_conversation_retry_finish   (PinholeConversation *self,
                                                     GAsyncResult        *result,
                                                     GError             **error);

G_END_DECLS
