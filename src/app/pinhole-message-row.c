/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-message-row.c: a message bubble bound to its PinholeMessage: ours on the right,
 * theirs on the left, at most 70 % of the width; the time and the state (sending, sent,
 * stored for offline, delivered, failed) under the text, updated as the state notifies. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-message-row.h"

#include <glib/gi18n.h>

#include "pinhole-message-failure.h"

/* a bubble takes at most this share of the row, so that a long message still reads as
 * one side of the conversation */
#define BUBBLE_SHARE 0.7

struct _PinholeMessageRow
{
  GtkListBoxRow   parent_instance;

  /* template children */
  GtkWidget      *content;
  GtkWidget      *bubble;
  GtkLabel       *text_label;
  GtkLabel       *meta_label;
  GtkImage       *state_image;

  /* borrowed: a child of content, while the message is failed */
  GtkWidget      *failure;

  /* owned */
  PinholeMessage *message;
  char           *peer;      /* who "theirs" is, for the accessible name */

  gboolean        ours;
  gboolean        named;     /* the accessible exists and has its name */
};

G_DEFINE_FINAL_TYPE (PinholeMessageRow, pinhole_message_row, GTK_TYPE_LIST_BOX_ROW)

static const char *
state_words (PinholeMessageState state)
{
  switch (state)
    {
    case PINHOLE_MESSAGE_STATE_QUEUED:
      /* Translators: a sent message's state, after its time ("14:02 · Sent") */
      return _("Sending");
    case PINHOLE_MESSAGE_STATE_SENT:
      return _("Sent");
    case PINHOLE_MESSAGE_STATE_STORED_FOR_OFFLINE:
      /* Translators: the contact is offline; the server keeps the sealed message for them */
      return _("Stored for offline");
    case PINHOLE_MESSAGE_STATE_DELIVERED:
      return _("Delivered");
    case PINHOLE_MESSAGE_STATE_FAILED:
      return _("Failed");
    case PINHOLE_MESSAGE_STATE_HELD:
      /* TRANSLATORS: a message not sent yet because the contact's safety number changed */
      return _("Held until you accept the new key");
    case PINHOLE_MESSAGE_STATE_RECEIVED:
    default:
      return NULL;
    }
}

static const char *
state_icon (PinholeMessageState state)
{
  switch (state)
    {
    case PINHOLE_MESSAGE_STATE_QUEUED:
      return "content-loading-symbolic";
    case PINHOLE_MESSAGE_STATE_SENT:
      return "object-select-symbolic";
    case PINHOLE_MESSAGE_STATE_STORED_FOR_OFFLINE:
      return "network-server-symbolic";
    case PINHOLE_MESSAGE_STATE_DELIVERED:
      return "emblem-default-symbolic";
    case PINHOLE_MESSAGE_STATE_FAILED:
      return "dialog-error-symbolic";
    case PINHOLE_MESSAGE_STATE_HELD:
      return "changes-prevent-symbolic";
    case PINHOLE_MESSAGE_STATE_RECEIVED:
    default:
      return NULL;
    }
}

/* "Delivered" → "delivered" to follow a comma; only the first letter, so that a language that
 * capitalises nouns keeps them ("bis Sie den neuen Schlüssel annehmen") */
static char *
first_lower (const char *words)
{
  const char *rest = g_utf8_next_char (words);
  g_autofree char *first = g_utf8_strdown (words, rest - words);

  return g_strconcat (first, rest, NULL);
}

static char *
format_time (PinholeMessageRow *self)
{
  g_autoptr(GDateTime) dt =
    g_date_time_new_from_unix_local (pinhole_message_get_timestamp (self->message));

  return dt ? g_date_time_format (dt, "%H:%M") : g_strdup ("");
}

/* what a screen reader says for the row: made when one first asks for the row's accessible */
static void
update_name (PinholeMessageRow *self)
{
  PinholeMessageState state = pinhole_message_get_state (self->message);
  g_autofree char *time = format_time (self);
  const char *words = state_words (state);
  const char *failure = pinhole_message_get_failure (self->message);
  gboolean failed = state == PINHOLE_MESSAGE_STATE_FAILED;
  g_autofree char *lower = words ? first_lower (words) : NULL;
  g_autofree char *name = NULL;

  /* read as "alice, 14:02: hello" or "You, 14:03: hi, delivered" */
  if (!self->ours)
    /* Translators: a screen reader's words for a message received: sender, time, text */
    name = g_strdup_printf (_("%s, %s: %s"), self->peer, time,
                            pinhole_message_get_text (self->message));
  else if (failed && failure != NULL && *failure != '\0')
    /* Translators: a screen reader's words for a message sent: time, text, why it failed */
    name = g_strdup_printf (_("You, %s: %s, failed: %s"), time,
                            pinhole_message_get_text (self->message), failure);
  else
    /* Translators: a screen reader's words for a message sent: time, text, state ("sent") */
    name = g_strdup_printf (_("You, %s: %s, %s"), time,
                            pinhole_message_get_text (self->message), lower ? lower : "");
  atk_object_set_name (gtk_widget_get_accessible (GTK_WIDGET (self)), name);
}

static void
update_state (PinholeMessageRow *self)
{
  PinholeMessageState state = pinhole_message_get_state (self->message);
  g_autofree char *time = format_time (self);
  const char *words = state_words (state);
  const char *icon = state_icon (state);
  gboolean failed = state == PINHOLE_MESSAGE_STATE_FAILED;
  g_autofree char *meta = words ? g_strdup_printf ("%s · %s", time, words) : g_strdup (time);

  gtk_label_set_text (self->meta_label, meta);
  if (icon != NULL)
    gtk_image_set_from_icon_name (self->state_image, icon, GTK_ICON_SIZE_MENU);
  gtk_widget_set_visible (GTK_WIDGET (self->state_image), icon != NULL);

  if (failed && self->failure == NULL)
    {
      self->failure = pinhole_message_failure_new (pinhole_message_get_id (self->message));
      gtk_widget_set_halign (self->failure, self->ours ? GTK_ALIGN_END : GTK_ALIGN_START);
      gtk_container_add (GTK_CONTAINER (self->content), self->failure);
      gtk_widget_show (self->failure);
    }
  else if (!failed && self->failure != NULL)
    g_clear_pointer (&self->failure, gtk_widget_destroy);
  if (failed)
    {
      pinhole_message_failure_set_reason (PINHOLE_MESSAGE_FAILURE (self->failure),
                                          pinhole_message_get_failure (self->message));
      gtk_style_context_add_class (gtk_widget_get_style_context (self->bubble), "failed");
    }
  else
    gtk_style_context_remove_class (gtk_widget_get_style_context (self->bubble), "failed");
  if (self->named)
    update_name (self);
}

static AtkObject *
pinhole_message_row_get_accessible (GtkWidget *widget)
{
  PinholeMessageRow *self = PINHOLE_MESSAGE_ROW (widget);
  AtkObject *accessible =
    GTK_WIDGET_CLASS (pinhole_message_row_parent_class)->get_accessible (widget);

  if (!self->named && self->message != NULL)
    {
      self->named = TRUE;
      update_name (self);
    }
  return accessible;
}

/* the bubble's width for a row @width wide: its natural width, up to BUBBLE_SHARE */
static gint
bubble_width (PinholeMessageRow *self,
              gint               width)
{
  gint min = 0, nat = 0;

  gtk_widget_get_preferred_width (self->content, &min, &nat);
  return CLAMP (MIN (nat, (gint) (width * BUBBLE_SHARE)), MIN (min, width), width);
}

static void
pinhole_message_row_get_preferred_height_for_width (GtkWidget *widget,
                                                    gint       width,
                                                    gint      *minimum,
                                                    gint      *natural)
{
  PinholeMessageRow *self = PINHOLE_MESSAGE_ROW (widget);

  gtk_widget_get_preferred_height_for_width (self->content, bubble_width (self, width),
                                             minimum, natural);
}

static GtkSizeRequestMode
pinhole_message_row_get_request_mode (GtkWidget *widget)
{
  return GTK_SIZE_REQUEST_HEIGHT_FOR_WIDTH;
}

static void
pinhole_message_row_size_allocate (GtkWidget     *widget,
                                   GtkAllocation *allocation)
{
  PinholeMessageRow *self = PINHOLE_MESSAGE_ROW (widget);
  GtkAllocation child = *allocation;
  GtkAllocation clip;

  /* the row keeps its own box (focus, state); only its child gets the narrower width */
  GTK_WIDGET_CLASS (pinhole_message_row_parent_class)->size_allocate (widget, allocation);
  child.width = bubble_width (self, allocation->width);
  if (self->ours)
    child.x = allocation->x + allocation->width - child.width;
  gtk_widget_size_allocate (self->content, &child);
  gtk_widget_get_clip (self->content, &clip);
  gdk_rectangle_union (&clip, allocation, &clip);
  gtk_widget_set_clip (widget, &clip);
}

static void
pinhole_message_row_dispose (GObject *object)
{
  PinholeMessageRow *self = PINHOLE_MESSAGE_ROW (object);

  g_clear_object (&self->message);
  G_OBJECT_CLASS (pinhole_message_row_parent_class)->dispose (object);
}

static void
pinhole_message_row_finalize (GObject *object)
{
  PinholeMessageRow *self = PINHOLE_MESSAGE_ROW (object);

  g_free (self->peer);
  G_OBJECT_CLASS (pinhole_message_row_parent_class)->finalize (object);
}

static void
pinhole_message_row_class_init (PinholeMessageRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pinhole_message_row_dispose;
  object_class->finalize = pinhole_message_row_finalize;
  widget_class->get_request_mode = pinhole_message_row_get_request_mode;
  widget_class->get_preferred_height_for_width =
    pinhole_message_row_get_preferred_height_for_width;
  widget_class->size_allocate = pinhole_message_row_size_allocate;
  widget_class->get_accessible = pinhole_message_row_get_accessible;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-message-row.ui");
  gtk_widget_class_bind_template_child (widget_class, PinholeMessageRow, content);
  gtk_widget_class_bind_template_child (widget_class, PinholeMessageRow, bubble);
  gtk_widget_class_bind_template_child (widget_class, PinholeMessageRow, text_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeMessageRow, meta_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeMessageRow, state_image);
}

static void
pinhole_message_row_init (PinholeMessageRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

/**
 * pinhole_message_row_new:
 * @peer: the contact's name, for the accessible name of their messages
 */
GtkWidget *
pinhole_message_row_new (PinholeMessage *message,
                         const char     *peer)
{
  PinholeMessageRow *self = g_object_new (PINHOLE_TYPE_MESSAGE_ROW, NULL);
  const char *side;

  self->message = g_object_ref (message);
  self->peer = g_strdup (peer);
  self->ours = pinhole_message_get_direction (message) == PINHOLE_MESSAGE_DIRECTION_OUT;
  side = self->ours ? "outgoing" : "incoming";
  gtk_label_set_text (self->text_label, pinhole_message_get_text (message));
  gtk_style_context_add_class (gtk_widget_get_style_context (self->bubble), side);
  gtk_style_context_add_class (gtk_widget_get_style_context (GTK_WIDGET (self)), side);
  gtk_widget_set_halign (self->bubble, self->ours ? GTK_ALIGN_END : GTK_ALIGN_START);
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

/* Returns: (transfer none) (nullable): the Retry button, if the message failed */
GtkWidget *
pinhole_message_row_get_retry (PinholeMessageRow *self)
{
  g_return_val_if_fail (PINHOLE_IS_MESSAGE_ROW (self), NULL);
  return self->failure != NULL
           ? pinhole_message_failure_get_retry (PINHOLE_MESSAGE_FAILURE (self->failure))
           : NULL;
}

/* a message that follows one from the same side within minutes sits closer to it */
void
pinhole_message_row_set_grouped (PinholeMessageRow *self,
                                 gboolean           grouped)
{
  GtkStyleContext *style;

  g_return_if_fail (PINHOLE_IS_MESSAGE_ROW (self));

  style = gtk_widget_get_style_context (GTK_WIDGET (self));
  if (grouped)
    gtk_style_context_add_class (style, "grouped");
  else
    gtk_style_context_remove_class (style, "grouped");
}
