/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-request-row.c: "bob wants to be your contact", answered with the client's accept
 * or decline; the row goes away when the roster no longer lists the request. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-request-row.h"

#include <glib/gi18n.h>
#include <handy.h>

struct _PinholeRequestRow
{
  GtkListBoxRow   parent_instance;

  /* template children */
  HdyAvatar      *avatar;
  GtkLabel       *label;
  GtkButton      *accept_button;
  GtkButton      *decline_button;
  GtkButton      *block_button;

  /* owned */
  PinholeClient  *client;
  PinholeContact *contact;
};

G_DEFINE_FINAL_TYPE (PinholeRequestRow, pinhole_request_row, GTK_TYPE_LIST_BOX_ROW)

static void
answered_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(PinholeRequestRow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *relation = pinhole_client_contact_finish (PINHOLE_CLIENT (source), result,
                                                             &error);

  if (relation != NULL)
    return;
  /* still listed: let the user try again, and say why it failed */
  gtk_widget_set_sensitive (GTK_WIDGET (self->accept_button), TRUE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->decline_button), TRUE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->block_button), TRUE);
  gtk_label_set_text (self->label, error->message);
}

static void
answer (PinholeRequestRow *self,
        const char        *verb)
{
  gtk_widget_set_sensitive (GTK_WIDGET (self->accept_button), FALSE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->decline_button), FALSE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->block_button), FALSE);
  pinhole_client_contact_async (self->client, verb, pinhole_contact_get_user (self->contact),
                                NULL, answered_cb, g_object_ref (self));
}

static void
accept_clicked_cb (PinholeRequestRow *self)
{
  answer (self, "accept");
}

static void
decline_clicked_cb (PinholeRequestRow *self)
{
  answer (self, "decline");
}

static void
block_clicked_cb (PinholeRequestRow *self)
{
  answer (self, "block");
}

static void
pinhole_request_row_dispose (GObject *object)
{
  PinholeRequestRow *self = PINHOLE_REQUEST_ROW (object);

  g_clear_object (&self->client);
  g_clear_object (&self->contact);
  G_OBJECT_CLASS (pinhole_request_row_parent_class)->dispose (object);
}

static void
pinhole_request_row_class_init (PinholeRequestRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pinhole_request_row_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-request-row.ui");
  gtk_widget_class_bind_template_child (widget_class, PinholeRequestRow, avatar);
  gtk_widget_class_bind_template_child (widget_class, PinholeRequestRow, label);
  gtk_widget_class_bind_template_child (widget_class, PinholeRequestRow, accept_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeRequestRow, decline_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeRequestRow, block_button);
  gtk_widget_class_bind_template_callback (widget_class, accept_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, decline_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, block_clicked_cb);
}

static void
pinhole_request_row_init (PinholeRequestRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
pinhole_request_row_new (PinholeClient  *client,
                         PinholeContact *contact)
{
  PinholeRequestRow *self = g_object_new (PINHOLE_TYPE_REQUEST_ROW, NULL);
  const char *user = pinhole_contact_get_user (contact);
  g_autofree char *text = g_strdup_printf (_("%s wants to be your contact"), user);
  g_autofree char *accept = g_strdup_printf (_("Accept %s"), user);
  g_autofree char *decline = g_strdup_printf (_("Decline %s"), user);
  g_autofree char *block = g_strdup_printf (_("Block %s"), user);

  self->client = g_object_ref (client);
  self->contact = g_object_ref (contact);
  hdy_avatar_set_text (self->avatar, user);
  gtk_label_set_text (self->label, text);
  /* "Accept" alone is ambiguous to a screen reader when two requests wait */
  atk_object_set_name (gtk_widget_get_accessible (GTK_WIDGET (self->accept_button)), accept);
  atk_object_set_name (gtk_widget_get_accessible (GTK_WIDGET (self->decline_button)), decline);
  atk_object_set_name (gtk_widget_get_accessible (GTK_WIDGET (self->block_button)), block);
  return GTK_WIDGET (self);
}
