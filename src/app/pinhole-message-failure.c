/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-message-failure.c: the reason a message was not sent and its Retry button. Most
 * messages never fail, so a row builds this only when its message does: a conversation's
 * rows stay a bubble and two labels each. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-message-failure.h"

#include <glib/gi18n.h>

struct _PinholeMessageFailure
{
  GtkBox     parent_instance;

  /* template children */
  GtkLabel  *reason_label;
  GtkWidget *retry_button;
};

G_DEFINE_FINAL_TYPE (PinholeMessageFailure, pinhole_message_failure, GTK_TYPE_BOX)

static void
pinhole_message_failure_class_init (PinholeMessageFailureClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-message-failure.ui");
  gtk_widget_class_bind_template_child (widget_class, PinholeMessageFailure, reason_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeMessageFailure, retry_button);
}

static void
pinhole_message_failure_init (PinholeMessageFailure *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

/* @id: the failed message's, for Retry's action target */
GtkWidget *
pinhole_message_failure_new (const char *id)
{
  PinholeMessageFailure *self = g_object_new (PINHOLE_TYPE_MESSAGE_FAILURE, NULL);

  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->retry_button), "s", id);
  return GTK_WIDGET (self);
}

/* @reason: (nullable): why it was not sent, as the core said */
void
pinhole_message_failure_set_reason (PinholeMessageFailure *self,
                                    const char            *reason)
{
  g_autofree char *words = NULL;

  g_return_if_fail (PINHOLE_IS_MESSAGE_FAILURE (self));

  /* Translators: %s is why the message failed, e.g. "not connected to the server" */
  words = g_strdup_printf (_("Not sent: %s"),
                           reason != NULL && *reason != '\0' ? reason : _("unknown error"));
  gtk_label_set_text (self->reason_label, words);
}

/* Returns: (transfer none): the Retry button */
GtkWidget *
pinhole_message_failure_get_retry (PinholeMessageFailure *self)
{
  g_return_val_if_fail (PINHOLE_IS_MESSAGE_FAILURE (self), NULL);
  return self->retry_button;
}
