/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-offline-banner.c: the banner bound to the reconnector's state: hidden while
 * online, "Offline — reconnecting" while it tries, and the server's reason when it refused
 * the log-in (retrying would not help then). */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-offline-banner.h"

#include <glib/gi18n.h>

struct _PinholeOfflineBanner
{
  GtkRevealer         parent_instance;

  /* template children */
  GtkLabel           *label;

  /* owned */
  PinholeReconnector *reconnector;
};

G_DEFINE_FINAL_TYPE (PinholeOfflineBanner, pinhole_offline_banner, GTK_TYPE_REVEALER)

static void
update (PinholeOfflineBanner *self)
{
  PinholeConnectionState state = pinhole_reconnector_get_state (self->reconnector);

  if (state == PINHOLE_CONNECTION_STATE_REFUSED)
    {
      g_autofree char *text = g_strdup_printf (_("Offline — the server refused the log-in: %s"),
                                               pinhole_reconnector_get_error (self->reconnector));
      gtk_label_set_text (self->label, text);
    }
  else
    gtk_label_set_text (self->label, _("Offline — reconnecting"));
  gtk_revealer_set_reveal_child (GTK_REVEALER (self), state != PINHOLE_CONNECTION_STATE_ONLINE);
}

static void
pinhole_offline_banner_dispose (GObject *object)
{
  PinholeOfflineBanner *self = PINHOLE_OFFLINE_BANNER (object);

  g_clear_object (&self->reconnector);
  G_OBJECT_CLASS (pinhole_offline_banner_parent_class)->dispose (object);
}

static void
pinhole_offline_banner_class_init (PinholeOfflineBannerClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = pinhole_offline_banner_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-offline-banner.ui");
  gtk_widget_class_bind_template_child (widget_class, PinholeOfflineBanner, label);
}

static void
pinhole_offline_banner_init (PinholeOfflineBanner *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

void
pinhole_offline_banner_set_reconnector (PinholeOfflineBanner *self,
                                        PinholeReconnector   *reconnector)
{
  g_return_if_fail (PINHOLE_IS_OFFLINE_BANNER (self));
  g_return_if_fail (PINHOLE_IS_RECONNECTOR (reconnector));

  if (self->reconnector == reconnector)
    return;
  if (self->reconnector != NULL)
    g_signal_handlers_disconnect_by_data (self->reconnector, self);
  g_set_object (&self->reconnector, reconnector);
  g_signal_connect_object (reconnector, "notify::state", G_CALLBACK (update), self,
                           G_CONNECT_SWAPPED);
  update (self);
}
