/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-contact-dialog.c: a contact's details, bound to its PinholeContact and devices:
 * user, relation and presence; per device its presence, key state and safety number, with a
 * button to mark it verified once compared; our own safety number; the relay-only switch. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-contact-dialog.h"

#include <glib/gi18n.h>

#include "pinhole-enum-strings.h"
#include "pinhole-identity.h"
#include "pinhole-key-text.h"

struct _PinholeContactDialog
{
  HdyPreferencesWindow parent_instance;

  /* template children */
  HdyAvatar           *avatar;
  GtkLabel            *user_label;
  GtkWidget           *verified_image;
  GtkLabel            *status_label;
  HdyPreferencesGroup *devices_group;
  HdyActionRow        *own_row;
  GtkLabel            *own_number_label;
  HdyActionRow        *relay_only_row;
  GtkSwitch           *relay_only_switch;

  /* owned */
  PinholeClient       *client;
  PinholeContact      *contact;
  GPtrArray           *device_rows;   /* GtkWidget, in devices_group */
  GPtrArray           *devices;       /* PinholeDevice we follow the notify of */

  gboolean             syncing;       /* the switch is being set from the profile */
};

G_DEFINE_FINAL_TYPE (PinholeContactDialog, pinhole_contact_dialog, HDY_TYPE_PREFERENCES_WINDOW)

static void rebuild_devices (PinholeContactDialog *self);

/* Returns: (transfer full): the number both sides compare for @device */
static char *
device_number (PinholeDevice *device)
{
  return pinhole_device_dup_safety_number (device);
}

static char *
own_number (PinholeContactDialog *self)
{
  return pinhole_client_dup_safety_number (self->client);
}

static gboolean
device_is_verified (PinholeDevice *device)
{
  gboolean verified = FALSE;

  g_object_get (device, "verified", &verified, NULL);
  return verified;
}

static void
verify_clicked_cb (GtkButton            *button,
                   PinholeContactDialog *self)
{
  PinholeDevice *device = g_object_get_data (G_OBJECT (button), "device");

  g_autoptr(GError) error = NULL;

  if (!pinhole_client_set_verified (self->client, pinhole_device_get_user (device),
                                    pinhole_device_get_name (device),
                                    !device_is_verified (device), &error))
    g_message ("not marked: %s", error->message);
  /* the device's notify::verified rebuilds the rows */
}

static const char *
key_words (PinholeKeyState state)
{
  switch (state)
    {
    case PINHOLE_KEY_STATE_CHANGED:
      /* Translators: a device's key state, after its presence ("online · key trusted") */
      return _("new key, not accepted yet");
    case PINHOLE_KEY_STATE_UNVERIFIED:
      return _("key not seen before");
    case PINHOLE_KEY_STATE_TRUSTED:
    default:
      return _("key trusted");
    }
}

static GtkWidget *
device_header_row (PinholeContactDialog *self,
                   PinholeDevice        *device)
{
  const char *name = pinhole_device_get_name (device);
  gboolean verified = device_is_verified (device);
  g_autofree char *subtitle = g_strdup_printf (
    "%s · %s",
    pinhole_enum_to_sentence (PINHOLE_TYPE_PRESENCE, pinhole_device_get_presence (device)),
    /* Translators: a device whose safety number you compared, after its presence */
    verified ? _("verified") : key_words (pinhole_device_get_key_state (device)));
  /* Translators: a screen reader's name for the button; %s is the device's name */
  g_autofree char *button_name = g_strdup_printf (verified ? _("Unmark %s as verified")
                                                           : _("Mark %s as verified"), name);
  GtkWidget *row = hdy_action_row_new ();
  GtkWidget *button = gtk_button_new_with_mnemonic (verified ? _("_Unmark")
                                                             : _("_Mark as Verified"));

  hdy_preferences_row_set_title (HDY_PREFERENCES_ROW (row), name);
  hdy_action_row_set_subtitle (HDY_ACTION_ROW (row), subtitle);
  hdy_action_row_set_icon_name (HDY_ACTION_ROW (row),
                                verified ? "emblem-ok-symbolic" : "computer-symbolic");
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  atk_object_set_name (gtk_widget_get_accessible (button), button_name);
  g_object_set_data_full (G_OBJECT (button), "device", g_object_ref (device), g_object_unref);
  g_signal_connect (button, "clicked", G_CALLBACK (verify_clicked_cb), self);
  /* a changed key is compared first: the banner's Accept trusts it */
  gtk_widget_set_sensitive (button,
                            pinhole_device_get_key_state (device) != PINHOLE_KEY_STATE_CHANGED);
  gtk_container_add (GTK_CONTAINER (row), button);
  if (pinhole_device_get_key_state (device) == PINHOLE_KEY_STATE_CHANGED)
    gtk_style_context_add_class (gtk_widget_get_style_context (row), "key-changed");
  gtk_widget_show_all (row);
  return row;
}

static GtkWidget *
number_row (const char *number,
            const char *accessible_name)
{
  g_autofree char *text = pinhole_key_text_layout (number);
  /* a preferences row, so that the group puts it in the card under its device */
  GtkWidget *row = GTK_WIDGET (hdy_preferences_row_new ());
  GtkWidget *label = gtk_label_new (text);

  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);
  gtk_list_box_row_set_selectable (GTK_LIST_BOX_ROW (row), FALSE);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_widget_set_can_focus (label, FALSE);
  gtk_label_set_justify (GTK_LABEL (label), GTK_JUSTIFY_CENTER);
  gtk_style_context_add_class (gtk_widget_get_style_context (label), "safety-number");
  atk_object_set_name (gtk_widget_get_accessible (label), accessible_name);
  atk_object_set_description (gtk_widget_get_accessible (label), number);
  gtk_container_add (GTK_CONTAINER (row), label);
  gtk_widget_show_all (row);
  return row;
}

static void
add_device_row (PinholeContactDialog *self,
                GtkWidget            *row)
{
  gtk_container_add (GTK_CONTAINER (self->devices_group), row);
  g_ptr_array_add (self->device_rows, row);
}

static void
forget_devices (PinholeContactDialog *self)
{
  for (guint i = 0; i < self->devices->len; i++)
    g_signal_handlers_disconnect_by_data (g_ptr_array_index (self->devices, i), self);
  g_ptr_array_set_size (self->devices, 0);
  for (guint i = 0; i < self->device_rows->len; i++)
    gtk_widget_destroy (g_ptr_array_index (self->device_rows, i));
  g_ptr_array_set_size (self->device_rows, 0);
}

static void
update_contact (PinholeContactDialog *self)
{
  PinholeContact *contact = self->contact;
  g_autofree char *status = g_strdup_printf (
    "%s · %s",
    pinhole_enum_to_sentence (PINHOLE_TYPE_RELATION, pinhole_contact_get_relation (contact)),
    pinhole_enum_to_sentence (PINHOLE_TYPE_PRESENCE, pinhole_contact_get_presence (contact)));
  gboolean verified = FALSE;

  g_object_get (contact, "verified", &verified, NULL);
  gtk_label_set_text (self->status_label, status);
  gtk_widget_set_visible (self->verified_image, verified);
}

static void
rebuild_devices (PinholeContactDialog *self)
{
  GListModel *devices = pinhole_contact_get_devices (self->contact);
  guint n = g_list_model_get_n_items (devices);

  forget_devices (self);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(PinholeDevice) device = g_list_model_get_item (devices, i);
      g_autofree char *number = device_number (device);
      /* Translators: %s is the device's name */
      g_autofree char *name = g_strdup_printf (_("Safety number of %s"),
                                               pinhole_device_get_name (device));

      add_device_row (self, device_header_row (self, device));
      add_device_row (self, number_row (number, name));
      g_ptr_array_add (self->devices, g_object_ref (device));
      g_signal_connect_object (device, "notify::presence", G_CALLBACK (rebuild_devices), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (device, "notify::key-state", G_CALLBACK (rebuild_devices), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (device, "notify::verified", G_CALLBACK (rebuild_devices), self,
                               G_CONNECT_SWAPPED);
    }
  if (n == 0)
    {
      GtkWidget *row = hdy_action_row_new ();

      hdy_preferences_row_set_title (HDY_PREFERENCES_ROW (row), _("No devices known yet"));
      gtk_widget_show (row);
      add_device_row (self, row);
    }
}

static void
sync_relay_only (PinholeContactDialog *self)
{
  self->syncing = TRUE;
  gtk_switch_set_active (self->relay_only_switch,
                         pinhole_profile_get_relay_only (pinhole_client_get_profile (self->client),
                                                         pinhole_contact_get_user (self->contact)));
  self->syncing = FALSE;
}

static void
relay_only_cb (PinholeContactDialog *self)
{
  g_autoptr(GError) error = NULL;
  const char *user = pinhole_contact_get_user (self->contact);

  if (self->syncing)
    return;
  if (!pinhole_client_set_relay_only (self->client, user,
                                      gtk_switch_get_active (self->relay_only_switch), &error))
    {
      g_message ("relay-only not changed: %s", error->message);
      sync_relay_only (self);
    }
}

static void
pinhole_contact_dialog_dispose (GObject *object)
{
  PinholeContactDialog *self = PINHOLE_CONTACT_DIALOG (object);

  if (self->devices != NULL)
    {
      for (guint i = 0; i < self->devices->len; i++)
        g_signal_handlers_disconnect_by_data (g_ptr_array_index (self->devices, i), self);
      g_clear_pointer (&self->devices, g_ptr_array_unref);
    }
  g_clear_pointer (&self->device_rows, g_ptr_array_unref);
  if (self->contact != NULL)
    g_signal_handlers_disconnect_by_data (self->contact, self);
  g_clear_object (&self->contact);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (pinhole_contact_dialog_parent_class)->dispose (object);
}

static void
pinhole_contact_dialog_class_init (PinholeContactDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pinhole_contact_dialog_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-contact-dialog.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, PinholeContactDialog, name)
  BIND (avatar);
  BIND (user_label);
  BIND (verified_image);
  BIND (status_label);
  BIND (devices_group);
  BIND (own_row);
  BIND (own_number_label);
  BIND (relay_only_row);
  BIND (relay_only_switch);
#undef BIND
  gtk_widget_class_bind_template_callback (widget_class, relay_only_cb);
}

static void
pinhole_contact_dialog_init (PinholeContactDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  /* rows are destroyed by hand before the group goes; the array only lists them */
  self->device_rows = g_ptr_array_new ();
  self->devices = g_ptr_array_new_with_free_func (g_object_unref);
}

GtkWidget *
pinhole_contact_dialog_new (GtkWindow      *parent,
                            PinholeClient  *client,
                            PinholeContact *contact)
{
  PinholeContactDialog *self;
  const char *user;
  g_autofree char *title = NULL;
  g_autofree char *own = NULL;
  g_autofree char *own_text = NULL;
  g_autofree char *subtitle = NULL;

  g_return_val_if_fail (PINHOLE_IS_CLIENT (client), NULL);
  g_return_val_if_fail (PINHOLE_IS_CONTACT (contact), NULL);

  self = g_object_new (PINHOLE_TYPE_CONTACT_DIALOG, "transient-for", parent, NULL);
  self->client = g_object_ref (client);
  self->contact = g_object_ref (contact);
  user = pinhole_contact_get_user (contact);
  /* Translators: the contact dialog's title; %s is the contact's user name */
  title = g_strdup_printf (_("%s — Details"), user);
  gtk_window_set_title (GTK_WINDOW (self), title);
  hdy_avatar_set_text (self->avatar, user);
  gtk_label_set_text (self->user_label, user);

  hdy_preferences_row_set_title (HDY_PREFERENCES_ROW (self->own_row),
                                 pinhole_client_get_device (client));
  own = own_number (self);
  own_text = pinhole_key_text_layout (own);
  gtk_label_set_text (self->own_number_label, own_text);
  atk_object_set_name (gtk_widget_get_accessible (GTK_WIDGET (self->own_number_label)),
                       _("Your safety number"));
  atk_object_set_description (gtk_widget_get_accessible (GTK_WIDGET (self->own_number_label)),
                              own);

  /* Translators: the "Relay only for this contact" switch; %s is the contact's user name */
  subtitle = g_strdup_printf (_("%s never learns your addresses; messages always go through "
                                "the server."), user);
  hdy_action_row_set_subtitle (self->relay_only_row, subtitle);
  sync_relay_only (self);

  g_signal_connect_object (contact, "notify::relation", G_CALLBACK (update_contact), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (contact, "notify::presence", G_CALLBACK (update_contact), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (contact, "notify::verified", G_CALLBACK (update_contact), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (pinhole_contact_get_devices (contact), "items-changed",
                           G_CALLBACK (rebuild_devices), self, G_CONNECT_SWAPPED);
  update_contact (self);
  rebuild_devices (self);
  return GTK_WIDGET (self);
}
