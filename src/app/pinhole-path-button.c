/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-path-button.c: the path indicator, bound to the contact's path-kind and rtt-ms, so
 * that a path change shows as soon as the model notifies; it opens the path popover. While it
 * is shown, the contact's current device probes every second (pinhole_device_hold_probes), so
 * the time is fresh, in the header and in the popover alike. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-path-button.h"

#include <glib/gi18n.h>

#include "pinhole-path-popover.h"
#include "pinhole-path-text.h"

struct _PinholePathButton
{
  GtkMenuButton   parent_instance;

  /* template children */
  GtkImage       *icon;
  GtkLabel       *label;
  GtkLabel       *short_label;
  GtkImage       *short_icon;

  /* owned */
  PinholeClient  *client;
  PinholeContact *contact;
  PinholeDevice  *held;      /* the device whose probes we hold, while mapped */
  PinholePathPopover *popover;  /* a reference: the menu button holds another */
};

G_DEFINE_FINAL_TYPE (PinholePathButton, pinhole_path_button, GTK_TYPE_MENU_BUTTON)

static void
update (PinholePathButton *self)
{
  PinholePathKind kind;
  g_autofree char *title = NULL;
  g_autofree char *short_title = NULL;
  g_autofree char *name = NULL;
  GtkStyleContext *style = gtk_widget_get_style_context (GTK_WIDGET (self));

  if (self->contact == NULL)
    return;
  kind = pinhole_contact_get_path_kind (self->contact);
  title = pinhole_path_text_title (kind, pinhole_contact_get_rtt_ms (self->contact));
  short_title = pinhole_path_text_short_title (kind, pinhole_contact_get_rtt_ms (self->contact));
  gtk_label_set_text (self->label, title);
  gtk_label_set_text (self->short_label, short_title);
  gtk_image_set_from_icon_name (self->icon, pinhole_path_text_icon_name (kind),
                                GTK_ICON_SIZE_MENU);
  gtk_image_set_from_icon_name (self->short_icon, pinhole_path_text_icon_name (kind),
                                GTK_ICON_SIZE_MENU);
  if (kind == PINHOLE_PATH_KIND_RELAY || kind == PINHOLE_PATH_KIND_NONE)
    gtk_style_context_remove_class (style, "direct");
  else
    gtk_style_context_add_class (style, "direct");
  name = g_strdup_printf (_("Connection path: %s"), title);
  atk_object_set_name (gtk_widget_get_accessible (GTK_WIDGET (self)), name);
}

/* hold the probes of the device the contact uses now, only while the button is on screen */
static void
update_held (PinholePathButton *self)
{
  PinholeDevice *want = NULL;

  if (self->contact != NULL && gtk_widget_get_mapped (GTK_WIDGET (self)))
    want = pinhole_contact_get_current_device (self->contact);
  if (want == self->held)
    return;
  if (self->held != NULL)
    pinhole_device_release_probes (self->held);
  g_clear_object (&self->held);
  if (want != NULL)
    {
      self->held = g_object_ref (want);
      pinhole_device_hold_probes (want);
    }
}

static void
pinhole_path_button_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (pinhole_path_button_parent_class)->map (widget);
  update_held (PINHOLE_PATH_BUTTON (widget));
}

static void
pinhole_path_button_unmap (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (pinhole_path_button_parent_class)->unmap (widget);
  update_held (PINHOLE_PATH_BUTTON (widget));
}

static void
pinhole_path_button_dispose (GObject *object)
{
  PinholePathButton *self = PINHOLE_PATH_BUTTON (object);

  pinhole_path_button_set_contact (self, NULL, NULL);
  g_clear_object (&self->popover);
  G_OBJECT_CLASS (pinhole_path_button_parent_class)->dispose (object);
}

static void
pinhole_path_button_class_init (PinholePathButtonClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pinhole_path_button_dispose;
  widget_class->map = pinhole_path_button_map;
  widget_class->unmap = pinhole_path_button_unmap;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-path-button.ui");
  gtk_widget_class_bind_template_child (widget_class, PinholePathButton, icon);
  gtk_widget_class_bind_template_child (widget_class, PinholePathButton, label);
  gtk_widget_class_bind_template_child (widget_class, PinholePathButton, short_label);
  gtk_widget_class_bind_template_child (widget_class, PinholePathButton, short_icon);
}

static void
pinhole_path_button_init (PinholePathButton *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->popover = g_object_ref_sink (PINHOLE_PATH_POPOVER (pinhole_path_popover_new ()));
  gtk_menu_button_set_popover (GTK_MENU_BUTTON (self), GTK_WIDGET (self->popover));
}

void
pinhole_path_button_set_contact (PinholePathButton *self,
                                 PinholeClient     *client,
                                 PinholeContact    *contact)
{
  g_return_if_fail (PINHOLE_IS_PATH_BUTTON (self));

  if (self->contact != NULL)
    g_signal_handlers_disconnect_by_data (self->contact, self);
  g_set_object (&self->client, client);
  g_set_object (&self->contact, contact);
  pinhole_path_popover_set_contact (self->popover, client, contact);
  update_held (self);
  if (contact == NULL)
    return;
  g_signal_connect_object (contact, "notify::current-device", G_CALLBACK (update_held), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (contact, "notify::path-kind", G_CALLBACK (update), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (contact, "notify::rtt-ms", G_CALLBACK (update), self,
                           G_CONNECT_SWAPPED);
  update (self);
}
