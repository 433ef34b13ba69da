/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-contact-row.c: a contact row bound to its PinholeContact (presence, path kind), its
 * PinholeConversation (the last message, the unread count) and the client's transfers (an
 * offer from the contact that waits for an answer shows in place of the last message). */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-contact-row.h"

#include <glib/gi18n.h>
#include <handy.h>

#include "pinhole-enum-strings.h"
#include "pinhole-path-text.h"
#include "pinhole-transfer.h"
#include "pinhole-transfer-text.h"

struct _PinholeContactRow
{
  GtkListBoxRow        parent_instance;

  /* template children */
  HdyAvatar           *avatar;
  GtkWidget           *presence_dot;
  GtkLabel            *name_label;
  GtkLabel            *path_badge;
  GtkLabel            *preview_label;
  GtkLabel            *unread_label;

  /* owned */
  PinholeContact      *contact;
  PinholeConversation *conversation;
  GListModel          *transfers;   /* the client's, every contact's */
};

G_DEFINE_FINAL_TYPE (PinholeContactRow, pinhole_contact_row, GTK_TYPE_LIST_BOX_ROW)

static void
update_presence (PinholeContactRow *self)
{
  GtkStyleContext *style = gtk_widget_get_style_context (self->presence_dot);
  PinholePresence presence = pinhole_contact_get_presence (self->contact);
  PinholeRelation relation = pinhole_contact_get_relation (self->contact);
  g_autofree char *name = NULL;

  gtk_style_context_remove_class (style, "online");
  gtk_style_context_remove_class (style, "away");
  if (presence == PINHOLE_PRESENCE_ONLINE)
    gtk_style_context_add_class (style, "online");
  else if (presence == PINHOLE_PRESENCE_AWAY)
    gtk_style_context_add_class (style, "away");
  gtk_widget_set_visible (self->presence_dot, presence != PINHOLE_PRESENCE_OFFLINE);

  /* what a screen reader says for the row */
  if (relation == PINHOLE_RELATION_REQUESTED)
    name = g_strdup_printf (_("%s, contact request sent"), pinhole_contact_get_user (self->contact));
  else
    name = g_strdup_printf ("%s, %s", pinhole_contact_get_user (self->contact),
                            pinhole_enum_to_sentence (PINHOLE_TYPE_PRESENCE, presence));
  atk_object_set_name (gtk_widget_get_accessible (GTK_WIDGET (self)), name);
}

static void
update_path (PinholeContactRow *self)
{
  PinholePathKind kind = pinhole_contact_get_path_kind (self->contact);
  GtkStyleContext *style = gtk_widget_get_style_context (GTK_WIDGET (self->path_badge));

  gtk_label_set_text (self->path_badge, pinhole_path_text_badge (kind));
  gtk_widget_set_visible (GTK_WIDGET (self->path_badge), kind != PINHOLE_PATH_KIND_NONE);
  if (kind == PINHOLE_PATH_KIND_RELAY)
    gtk_style_context_remove_class (style, "direct");
  else
    gtk_style_context_add_class (style, "direct");
}

/* Returns: (transfer full) (nullable): the newest offer from the contact that waits for an
 * answer here */
static PinholeTransfer *
find_offer (PinholeContactRow *self)
{
  PinholeTransfer *offer = NULL;

  for (guint i = 0; i < g_list_model_get_n_items (self->transfers); i++)
    {
      g_autoptr(PinholeTransfer) t = g_list_model_get_item (self->transfers, i);

      if (pinhole_transfer_get_direction (t) == PINHOLE_TRANSFER_DIRECTION_INCOMING &&
          pinhole_transfer_get_state (t) == PINHOLE_TRANSFER_STATE_OFFERED &&
          g_strcmp0 (pinhole_transfer_get_peer (t), pinhole_contact_get_user (self->contact)) == 0 &&
          (offer == NULL || pinhole_transfer_get_created (t) >= pinhole_transfer_get_created (offer)))
        g_set_object (&offer, t);
    }
  return offer;
}

static void
update_preview (PinholeContactRow *self)
{
  PinholeMessage *last = pinhole_conversation_get_last_message (self->conversation);
  g_autoptr(PinholeTransfer) offer = find_offer (self);
  GtkStyleContext *style = gtk_widget_get_style_context (GTK_WIDGET (self->preview_label));

  /* an offer asks for an answer: it reads like an unread message, not dimmed */
  if (offer != NULL)
    gtk_style_context_remove_class (style, "dim-label");
  else
    gtk_style_context_add_class (style, "dim-label");
  if (pinhole_contact_get_relation (self->contact) == PINHOLE_RELATION_REQUESTED)
    gtk_label_set_text (self->preview_label, _("Waiting for them to accept"));
  else if (offer != NULL)
    {
      g_autofree char *title = pinhole_transfer_text_title (pinhole_transfer_get_manifest (offer));
      /* TRANSLATORS: the sidebar's line under a contact who offers files: "Offers you beach.jpg",
       * "Offers you 3 files" */
      g_autofree char *text = g_strdup_printf (_("Offers you %s"), title);

      gtk_label_set_text (self->preview_label, text);
    }
  else if (last == NULL)
    gtk_label_set_text (self->preview_label, "");
  else if (pinhole_message_get_direction (last) == PINHOLE_MESSAGE_DIRECTION_OUT)
    {
      g_autofree char *text = g_strdup_printf (_("You: %s"), pinhole_message_get_text (last));
      gtk_label_set_text (self->preview_label, text);
    }
  else
    gtk_label_set_text (self->preview_label, pinhole_message_get_text (last));
}

static void
update_unread (PinholeContactRow *self)
{
  guint unread = pinhole_conversation_get_unread (self->conversation);

  if (unread > 0)
    {
      g_autofree char *count = g_strdup_printf ("%u", unread);
      g_autofree char *name = g_strdup_printf (g_dngettext (NULL, "%u unread message",
                                                            "%u unread messages", unread),
                                               unread);

      gtk_label_set_text (self->unread_label, count);
      atk_object_set_name (gtk_widget_get_accessible (GTK_WIDGET (self->unread_label)), name);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->unread_label), unread > 0);
}

static void
transfers_changed_cb (GListModel        *list,
                      guint              position,
                      guint              removed,
                      guint              added,
                      PinholeContactRow *self)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(PinholeTransfer) t = g_list_model_get_item (list, i);

      if (g_strcmp0 (pinhole_transfer_get_peer (t), pinhole_contact_get_user (self->contact)) == 0)
        g_signal_connect_object (t, "notify::state", G_CALLBACK (update_preview), self,
                                 G_CONNECT_SWAPPED);
    }
  update_preview (self);
}

static void
pinhole_contact_row_dispose (GObject *object)
{
  PinholeContactRow *self = PINHOLE_CONTACT_ROW (object);

  g_clear_object (&self->transfers);
  g_clear_object (&self->contact);
  g_clear_object (&self->conversation);
  G_OBJECT_CLASS (pinhole_contact_row_parent_class)->dispose (object);
}

static void
pinhole_contact_row_class_init (PinholeContactRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pinhole_contact_row_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-contact-row.ui");
  gtk_widget_class_bind_template_child (widget_class, PinholeContactRow, avatar);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactRow, presence_dot);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactRow, name_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactRow, path_badge);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactRow, preview_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactRow, unread_label);
}

static void
pinhole_contact_row_init (PinholeContactRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

/**
 * pinhole_contact_row_new:
 * @transfers: a GListModel of PinholeTransfer (the client's)
 * Returns: (transfer floating)
 */
GtkWidget *
pinhole_contact_row_new (PinholeContact      *contact,
                         PinholeConversation *conversation,
                         GListModel          *transfers)
{
  PinholeContactRow *self = g_object_new (PINHOLE_TYPE_CONTACT_ROW, NULL);
  const char *user = pinhole_contact_get_user (contact);

  self->contact = g_object_ref (contact);
  self->conversation = g_object_ref (conversation);
  self->transfers = g_object_ref (transfers);
  g_signal_connect_object (transfers, "items-changed", G_CALLBACK (transfers_changed_cb), self,
                           0);
  transfers_changed_cb (transfers, 0, 0, g_list_model_get_n_items (transfers), self);
  hdy_avatar_set_text (self->avatar, user);
  gtk_label_set_text (self->name_label, user);
  g_signal_connect_object (contact, "notify::presence", G_CALLBACK (update_presence), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (contact, "notify::relation", G_CALLBACK (update_presence), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (contact, "notify::relation", G_CALLBACK (update_preview), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (contact, "notify::path-kind", G_CALLBACK (update_path), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (conversation, "notify::last-message", G_CALLBACK (update_preview),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (conversation, "notify::unread", G_CALLBACK (update_unread), self,
                           G_CONNECT_SWAPPED);
  update_presence (self);
  update_path (self);
  update_preview (self);
  update_unread (self);
  return GTK_WIDGET (self);
}

PinholeContact *
pinhole_contact_row_get_contact (PinholeContactRow *self)
{
  g_return_val_if_fail (PINHOLE_IS_CONTACT_ROW (self), NULL);
  return self->contact;
}
