/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-message-row.c: a message bubble bound to its PinholeMessage: ours on the right,
 * theirs on the left, the time and the state (sending, sent, stored for offline, delivered,
 * failed) under the text, updated as the state notifies. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-message-row.h"

#include <glib/gi18n.h>

struct _PinholeMessageRow
{
  GtkListBoxRow   parent_instance;

  /* template children */
  GtkWidget      *bubble;
  GtkLabel       *text_label;
  GtkLabel       *meta_label;

  /* owned */
  PinholeMessage *message;
};

G_DEFINE_FINAL_TYPE (PinholeMessageRow, pinhole_message_row, GTK_TYPE_LIST_BOX_ROW)

static const char *
state_words (PinholeMessageState state)
{
  switch (state)
    {
    case PINHOLE_MESSAGE_STATE_QUEUED:
      return _("Sending");
    case PINHOLE_MESSAGE_STATE_SENT:
      return _("Sent");
    case PINHOLE_MESSAGE_STATE_STORED_FOR_OFFLINE:
      return _("Stored for offline");
    case PINHOLE_MESSAGE_STATE_DELIVERED:
      return _("Delivered");
    case PINHOLE_MESSAGE_STATE_FAILED:
      return _("Failed");
    case PINHOLE_MESSAGE_STATE_RECEIVED:
    default:
      return NULL;
    }
}

static void
update_state (PinholeMessageRow *self)
{
  g_autoptr(GDateTime) dt =
    g_date_time_new_from_unix_local (pinhole_message_get_timestamp (self->message));
  g_autofree char *time = dt ? g_date_time_format (dt, "%H:%M") : g_strdup ("");
  const char *state = state_words (pinhole_message_get_state (self->message));
  g_autofree char *meta = state ? g_strdup_printf ("%s · %s", time, state) : g_strdup (time);
  GtkStyleContext *style = gtk_widget_get_style_context (self->bubble);

  gtk_label_set_text (self->meta_label, meta);
  if (pinhole_message_get_state (self->message) == PINHOLE_MESSAGE_STATE_FAILED)
    gtk_style_context_add_class (style, "failed");
  else
    gtk_style_context_remove_class (style, "failed");
}

static void
pinhole_message_row_dispose (GObject *object)
{
  PinholeMessageRow *self = PINHOLE_MESSAGE_ROW (object);

  g_clear_object (&self->message);
  G_OBJECT_CLASS (pinhole_message_row_parent_class)->dispose (object);
}

static void
pinhole_message_row_class_init (PinholeMessageRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pinhole_message_row_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-message-row.ui");
  gtk_widget_class_bind_template_child (widget_class, PinholeMessageRow, bubble);
  gtk_widget_class_bind_template_child (widget_class, PinholeMessageRow, text_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeMessageRow, meta_label);
}

static void
pinhole_message_row_init (PinholeMessageRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
pinhole_message_row_new (PinholeMessage *message)
{
  PinholeMessageRow *self = g_object_new (PINHOLE_TYPE_MESSAGE_ROW, NULL);
  gboolean ours = pinhole_message_get_direction (message) == PINHOLE_MESSAGE_DIRECTION_OUT;
  GtkStyleContext *style = gtk_widget_get_style_context (self->bubble);

  self->message = g_object_ref (message);
  gtk_label_set_text (self->text_label, pinhole_message_get_text (message));
  gtk_widget_set_halign (self->bubble, ours ? GTK_ALIGN_END : GTK_ALIGN_START);
  gtk_style_context_add_class (style, ours ? "outgoing" : "incoming");
  g_signal_connect_object (message, "notify::state", G_CALLBACK (update_state), self,
                           G_CONNECT_SWAPPED);
  update_state (self);
  return GTK_WIDGET (self);
}

PinholeMessage *
pinhole_message_row_get_message (PinholeMessageRow *self)
{
  g_return_val_if_fail (PINHOLE_IS_MESSAGE_ROW (self), NULL);
  return self->message;
}
