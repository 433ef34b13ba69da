/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-devices-dialog.c: the devices signed in to one's account, as the server lists them
 * (pinhole_client_list_devices_async()): this one, and the others online or offline, each
 * with a button that removes it after a confirmation (pinhole_client_revoke_device_async()).
 * The list is read when the window opens and again after each removal. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-devices-dialog.h"

#include <glib/gi18n.h>

struct _PinholeDevicesDialog
{
  HdyPreferencesWindow parent_instance;

  /* template children */
  HdyPreferencesGroup *devices_group;
  GtkWidget           *spinner;
  GtkLabel            *error_label;

  /* owned */
  PinholeClient       *client;
  GCancellable        *cancellable;   /* the request on its way; cancelled when the window goes */
  GPtrArray           *rows;          /* GtkWidget in devices_group; destroyed by hand */
};

G_DEFINE_FINAL_TYPE (PinholeDevicesDialog, pinhole_devices_dialog, HDY_TYPE_PREFERENCES_WINDOW)

static void reload (PinholeDevicesDialog *self);

static void
show_error (PinholeDevicesDialog *self,
            const char           *text)
{
  gtk_label_set_text (self->error_label, text);
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), text != NULL);
}

static void
clear_rows (PinholeDevicesDialog *self)
{
  for (guint i = 0; i < self->rows->len; i++)
    gtk_widget_destroy (self->rows->pdata[i]);
  g_ptr_array_set_size (self->rows, 0);
}

static void
revoked_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  PinholeDevicesDialog *self;

  if (pinhole_client_revoke_device_finish (PINHOLE_CLIENT (source), result, &error) ||
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      self = PINHOLE_DEVICES_DIALOG (user_data);
      if (error != NULL)
        {
          /* Translators: %s says why, as the server or the connection put it */
          g_autofree char *text = g_strdup_printf (_("The device was not removed: %s"),
                                                   error->message);

          reload (self);
          show_error (self, text);
          return;
        }
      reload (self);
    }
}

static void
confirm_response_cb (GtkDialog *confirm,
                     int        response,
                     gpointer   user_data)
{
  PinholeDevicesDialog *self = PINHOLE_DEVICES_DIALOG (user_data);
  const char *device = g_object_get_data (G_OBJECT (confirm), "device");

  if (response == GTK_RESPONSE_ACCEPT)
    {
      show_error (self, NULL);
      clear_rows (self);
      gtk_widget_show (self->spinner);
      pinhole_client_revoke_device_async (self->client, device, self->cancellable, revoked_cb,
                                          self);
    }
  gtk_widget_destroy (GTK_WIDGET (confirm));
}

static void
remove_clicked_cb (GtkButton *button,
                   gpointer   user_data)
{
  PinholeDevicesDialog *self = PINHOLE_DEVICES_DIALOG (user_data);
  const char *device = g_object_get_data (G_OBJECT (button), "device");
  GtkWidget *confirm;
  GtkWidget *remove;

  confirm = gtk_message_dialog_new (GTK_WINDOW (self), GTK_DIALOG_MODAL |
                                    GTK_DIALOG_DESTROY_WITH_PARENT, GTK_MESSAGE_QUESTION,
                                    GTK_BUTTONS_NONE,
                                    /* Translators: %s is the name of a device of the account */
                                    _("Remove %s?"), device);
  gtk_message_dialog_format_secondary_text (
    GTK_MESSAGE_DIALOG (confirm), "%s",
    _("It is signed out at once, and the messages waiting for it are deleted. It can sign in "
      "again only with your password."));
  gtk_dialog_add_button (GTK_DIALOG (confirm), _("_Cancel"), GTK_RESPONSE_CANCEL);
  remove = gtk_dialog_add_button (GTK_DIALOG (confirm), _("_Remove"), GTK_RESPONSE_ACCEPT);
  gtk_style_context_add_class (gtk_widget_get_style_context (remove), "destructive-action");
  gtk_dialog_set_default_response (GTK_DIALOG (confirm), GTK_RESPONSE_CANCEL);
  g_object_set_data_full (G_OBJECT (confirm), "device", g_strdup (device), g_free);
  g_signal_connect_object (confirm, "response", G_CALLBACK (confirm_response_cb), self, 0);
  gtk_widget_show (confirm);
}

static GtkWidget *
device_row (PinholeDevicesDialog *self,
            PinholeAccountDevice *device)
{
  GtkWidget *row = hdy_action_row_new ();
  const char *state = device->is_this ? _("This device")
                      : device->online ? C_("device", "Online") : C_("device", "Offline");

  g_autofree char *spoken = NULL;

  hdy_preferences_row_set_title (HDY_PREFERENCES_ROW (row), device->name);
  hdy_action_row_set_subtitle (HDY_ACTION_ROW (row), state);
  /* what a screen reader says for the row, as for a contact's: "NAME, STATE" */
  spoken = g_strdup_printf ("%s, %s", device->name, state);
  atk_object_set_name (gtk_widget_get_accessible (row), spoken);
  if (!device->is_this)
    {
      GtkWidget *button = gtk_button_new_from_icon_name ("user-trash-symbolic",
                                                         GTK_ICON_SIZE_BUTTON);
      /* Translators: the accessible name of the button that removes the device %s */
      g_autofree char *name = g_strdup_printf (_("Remove %s"), device->name);

      gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
      gtk_widget_set_tooltip_text (button, _("Remove from account"));
      atk_object_set_name (gtk_widget_get_accessible (button), name);
      gtk_style_context_add_class (gtk_widget_get_style_context (button), "flat");
      g_object_set_data_full (G_OBJECT (button), "device", g_strdup (device->name), g_free);
      g_signal_connect_object (button, "clicked", G_CALLBACK (remove_clicked_cb), self, 0);
      /* a child added to an action row goes at its end */
      gtk_container_add (GTK_CONTAINER (row), button);
    }
  gtk_widget_show_all (row);
  return row;
}

static void
listed_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) devices = pinhole_client_list_devices_finish (PINHOLE_CLIENT (source),
                                                                     result, &error);
  PinholeDevicesDialog *self;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = PINHOLE_DEVICES_DIALOG (user_data);
  gtk_widget_hide (self->spinner);
  clear_rows (self);
  if (devices == NULL)
    {
      /* Translators: %s says why, as the server or the connection put it */
      g_autofree char *text = g_strdup_printf (_("The devices could not be listed: %s"),
                                               error->message);

      show_error (self, text);
      return;
    }
  /* this device first, then the others in the server's order */
  for (guint pass = 0; pass < 2; pass++)
    for (guint i = 0; i < devices->len; i++)
      {
        PinholeAccountDevice *device = devices->pdata[i];
        GtkWidget *row;

        if (device->is_this != (pass == 0))
          continue;
        row = device_row (self, device);
        gtk_container_add (GTK_CONTAINER (self->devices_group), row);
        g_ptr_array_add (self->rows, row);
      }
}

static void
reload (PinholeDevicesDialog *self)
{
  gtk_widget_show (self->spinner);
  pinhole_client_list_devices_async (self->client, self->cancellable, listed_cb, self);
}

static void
pinhole_devices_dialog_dispose (GObject *object)
{
  PinholeDevicesDialog *self = PINHOLE_DEVICES_DIALOG (object);

  /* the callbacks of requests on their way then find the cancellation, not a freed window */
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  g_clear_pointer (&self->rows, g_ptr_array_unref);
  G_OBJECT_CLASS (pinhole_devices_dialog_parent_class)->dispose (object);
}

static void
pinhole_devices_dialog_class_init (PinholeDevicesDialogClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = pinhole_devices_dialog_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-devices-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, PinholeDevicesDialog, devices_group);
  gtk_widget_class_bind_template_child (widget_class, PinholeDevicesDialog, spinner);
  gtk_widget_class_bind_template_child (widget_class, PinholeDevicesDialog, error_label);
}

static void
pinhole_devices_dialog_init (PinholeDevicesDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  self->rows = g_ptr_array_new ();
}

GtkWidget *
pinhole_devices_dialog_new (GtkWindow     *parent,
                            PinholeClient *client)
{
  PinholeDevicesDialog *self;

  g_return_val_if_fail (PINHOLE_IS_CLIENT (client), NULL);
  self = g_object_new (PINHOLE_TYPE_DEVICES_DIALOG, "transient-for", parent, NULL);
  self->client = g_object_ref (client);
  reload (self);
  return GTK_WIDGET (self);
}
