/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-message-failure.h: what a failed message of ours shows under its bubble: why it was
 * not sent, and Retry (the conversation.retry action, with the message's id). A message row
 * makes one only when its message fails. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define PINHOLE_TYPE_MESSAGE_FAILURE (pinhole_message_failure_get_type ())
G_DECLARE_FINAL_TYPE (PinholeMessageFailure, pinhole_message_failure, PINHOLE, MESSAGE_FAILURE,
                      GtkBox)

GtkWidget *pinhole_message_failure_new        (const char            *id);
void       pinhole_message_failure_set_reason (PinholeMessageFailure *self,
                                               const char            *reason);
GtkWidget *pinhole_message_failure_get_retry  (PinholeMessageFailure *self);

G_END_DECLS
