/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-window.c: the main window. On first run it shows the sign-in view; once the profile
 * has an account, the contact list and the conversation, side by side or, below 720 px, one at
 * a time. It binds the views to the application's client, keeps its size in GSettings and
 * notifies of messages, file offers and finished files that arrive while it is not focused. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-window.h"

#include <glib/gi18n.h>

#include "pinhole-bench.h"
#include "pinhole-contact-list.h"
#include "pinhole-conversation-view.h"
#include "pinhole-devices-dialog.h"
#include "pinhole-sign-in-view.h"
#include "pinhole-transfer-text.h"

struct _PinholeWindow
{
  HdyApplicationWindow  parent_instance;

  /* template children */
  GtkStack                *main_stack;
  PinholeSignInView       *sign_in_view;
  HdyLeaflet              *leaflet;
  PinholeContactList      *contact_list;
  GtkStack                *content_stack;
  PinholeConversationView *conversation_view;
  HdyHeaderBar            *empty_header;

  /* owned */
  HdyHeaderGroup          *header_group;  /* one set of window buttons across the panes */

  /* borrowed: the application outlives its windows */
  PinholeApplication      *app;
};

G_DEFINE_FINAL_TYPE (PinholeWindow, pinhole_window, HDY_TYPE_APPLICATION_WINDOW)

static PinholeClient *
client (PinholeWindow *self)
{
  return pinhole_application_get_client (self->app);
}

/**
 * pinhole_window_open_conversation:
 * Shows the conversation with @user, on top of the list when the window is narrow.
 */
void
pinhole_window_open_conversation (PinholeWindow *self,
                                  const char    *user)
{
  PinholeContact *contact;

  g_return_if_fail (PINHOLE_IS_WINDOW (self));

  contact = pinhole_client_lookup_contact (client (self), user);
  if (contact == NULL)
    return;
  pinhole_contact_list_select (self->contact_list, user);
  pinhole_conversation_view_set_contact (self->conversation_view, client (self), contact);
  gtk_stack_set_visible_child_name (self->content_stack, "conversation");
  hdy_leaflet_set_visible_child_name (self->leaflet, "content");
}

static void
contact_activated_cb (PinholeWindow  *self,
                      PinholeContact *contact)
{
  pinhole_window_open_conversation (self, pinhole_contact_get_user (contact));
}

/* files dropped on a contact in the sidebar: their conversation opens and shows the card */
static void
files_dropped_cb (PinholeWindow  *self,
                  PinholeContact *contact,
                  char          **paths)
{
  pinhole_window_open_conversation (self, pinhole_contact_get_user (contact));
  pinhole_conversation_view_send_files (self->conversation_view, (const char *const *) paths);
}

static void
back_cb (PinholeWindow *self)
{
  hdy_leaflet_navigate (self->leaflet, HDY_NAVIGATION_DIRECTION_BACK);
}

static void
folded_cb (PinholeWindow *self)
{
  gboolean folded = hdy_leaflet_get_folded (self->leaflet);

  pinhole_conversation_view_set_show_back (self->conversation_view, folded);
  pinhole_contact_list_set_selection_visible (self->contact_list, !folded);
}

static void
message_received_cb (PinholeClient *client,
                     const char    *from,
                     const char    *id,
                     const char    *text,
                     gint64         ts,
                     PinholeWindow *self)
{
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *target = NULL;

  if (gtk_window_is_active (GTK_WINDOW (self)) ||
      !g_settings_get_boolean (pinhole_application_get_settings (self->app), "notifications"))
    return;
  notification = g_notification_new (from);
  g_notification_set_body (notification, text);
  g_notification_set_default_action_and_target (notification, "app.open-conversation", "s",
                                                from);
  target = g_strconcat ("message-", from, NULL);
  g_application_send_notification (G_APPLICATION (self->app), target, notification);
}

static void
notify_transfer (PinholeWindow   *self,
                 PinholeTransfer *transfer,
                 const char      *title,
                 const char      *body)
{
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *target = NULL;
  const char *from = pinhole_transfer_get_peer (transfer);

  if (from == NULL || gtk_window_is_active (GTK_WINDOW (self)) ||
      !g_settings_get_boolean (pinhole_application_get_settings (self->app), "notifications"))
    return;
  notification = g_notification_new (title);
  g_notification_set_body (notification, body);
  g_notification_set_default_action_and_target (notification, "app.open-conversation", "s",
                                                from);
  target = g_strconcat ("transfer-", pinhole_transfer_get_id (transfer), NULL);
  g_application_send_notification (G_APPLICATION (self->app), target, notification);
}

/* an incoming transfer is over: a notification when its files arrived */
static void
transfer_state_cb (PinholeTransfer *transfer,
                   GParamSpec      *pspec,
                   PinholeWindow   *self)
{
  g_autofree char *what = NULL;
  g_autofree char *title = NULL;

  if (pinhole_transfer_get_state (transfer) != PINHOLE_TRANSFER_STATE_DONE)
    return;
  what = pinhole_transfer_text_title (pinhole_transfer_get_manifest (transfer));
  /* Translators: a notification's title; %s is the contact's user name */
  title = g_strdup_printf (_("Files from %s arrived"), pinhole_transfer_get_peer (transfer));
  notify_transfer (self, transfer, title, what);
}

/* a transfer comes into the client's list: an offer to us notifies */
static void
transfers_changed_cb (PinholeWindow *self,
                      guint          position,
                      guint          removed,
                      guint          added,
                      GListModel    *transfers)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(PinholeTransfer) t = g_list_model_get_item (transfers, i);
      g_autofree char *what = NULL;
      g_autofree char *size = NULL;
      g_autofree char *title = NULL;
      g_autofree char *body = NULL;

      if (pinhole_transfer_get_direction (t) != PINHOLE_TRANSFER_DIRECTION_INCOMING ||
          pinhole_transfer_is_over (t))
        continue;
      g_signal_connect_object (t, "notify::state", G_CALLBACK (transfer_state_cb), self, 0);
      if (pinhole_transfer_get_state (t) != PINHOLE_TRANSFER_STATE_OFFERED)
        continue;
      what = pinhole_transfer_text_title (pinhole_transfer_get_manifest (t));
      size = pinhole_transfer_text_size (pinhole_transfer_get_manifest (t));
      /* Translators: a notification's title; %s is the contact's user name */
      title = g_strdup_printf (_("%s wants to send you files"), pinhole_transfer_get_peer (t));
      /* Translators: a notification's text: what is offered and its size, "beach.jpg, 2.5 MB" */
      body = g_strdup_printf (_("%s, %s"), what, size);
      notify_transfer (self, t, title, body);
    }
}

/* the views bind to the client once the profile has an account */
static void
show_chats (PinholeWindow *self)
{
  PinholeReconnector *reconnector = pinhole_application_get_reconnector (self->app);

  pinhole_contact_list_set_client (self->contact_list, client (self));
  pinhole_offline_banner_set_reconnector (
    pinhole_contact_list_get_offline_banner (self->contact_list), reconnector);
  pinhole_offline_banner_set_reconnector (
    pinhole_conversation_view_get_offline_banner (self->conversation_view), reconnector);
  g_signal_connect_object (client (self), "message-received", G_CALLBACK (message_received_cb),
                           self, 0);
  g_signal_connect_object (pinhole_client_get_transfers (client (self)), "items-changed",
                           G_CALLBACK (transfers_changed_cb), self, G_CONNECT_SWAPPED);
  gtk_stack_set_visible_child_name (self->main_stack, "chats");
}

static void
signed_in_cb (PinholeWindow *self)
{
  pinhole_application_signed_in (self->app);
  show_chats (self);
}

static void
add_contact_activated (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  PinholeWindow *self = user_data;

  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->main_stack), "chats") != 0)
    return;
  hdy_leaflet_set_visible_child_name (self->leaflet, "contacts");
  pinhole_contact_list_add_contact (self->contact_list);
}

static void
search_activated (GSimpleAction *action,
                  GVariant      *parameter,
                  gpointer       user_data)
{
  PinholeWindow *self = user_data;

  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->main_stack), "chats") != 0)
    return;
  hdy_leaflet_set_visible_child_name (self->leaflet, "contacts");
  pinhole_contact_list_start_search (self->contact_list);
}

static void
devices_activated (GSimpleAction *action,
                   GVariant      *parameter,
                   gpointer       user_data)
{
  PinholeWindow *self = user_data;

  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->main_stack), "chats") != 0)
    return;
  gtk_widget_show (pinhole_devices_dialog_new (GTK_WINDOW (self), client (self)));
}

static const GActionEntry win_actions[] = {
  { "add-contact", add_contact_activated },
  { "search", search_activated },
  { "devices", devices_activated },
};

static void
save_size (PinholeWindow *self)
{
  GSettings *settings = pinhole_application_get_settings (self->app);
  int width, height;

  if (gtk_window_is_maximized (GTK_WINDOW (self)))
    {
      g_settings_set_boolean (settings, "window-maximized", TRUE);
      return;
    }
  gtk_window_get_size (GTK_WINDOW (self), &width, &height);
  g_settings_set_boolean (settings, "window-maximized", FALSE);
  g_settings_set_int (settings, "window-width", width);
  g_settings_set_int (settings, "window-height", height);
}

static gboolean
pinhole_window_delete_event (GtkWidget   *widget,
                             GdkEventAny *event)
{
  save_size (PINHOLE_WINDOW (widget));
  return GTK_WIDGET_CLASS (pinhole_window_parent_class)->delete_event
           ? GTK_WIDGET_CLASS (pinhole_window_parent_class)->delete_event (widget, event)
           : FALSE;
}

static void
pinhole_window_dispose (GObject *object)
{
  PinholeWindow *self = PINHOLE_WINDOW (object);

  g_clear_object (&self->header_group);
  G_OBJECT_CLASS (pinhole_window_parent_class)->dispose (object);
}

static void
pinhole_window_class_init (PinholeWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = pinhole_window_dispose;

  g_type_ensure (PINHOLE_TYPE_SIGN_IN_VIEW);
  g_type_ensure (PINHOLE_TYPE_CONTACT_LIST);
  g_type_ensure (PINHOLE_TYPE_CONVERSATION_VIEW);
  widget_class->delete_event = pinhole_window_delete_event;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-window.ui");
  gtk_widget_class_bind_template_child (widget_class, PinholeWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, PinholeWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, PinholeWindow, contact_list);
  gtk_widget_class_bind_template_child (widget_class, PinholeWindow, content_stack);
  gtk_widget_class_bind_template_child (widget_class, PinholeWindow, conversation_view);
  gtk_widget_class_bind_template_child (widget_class, PinholeWindow, empty_header);
  gtk_widget_class_bind_template_callback (widget_class, contact_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, files_dropped_cb);
  gtk_widget_class_bind_template_callback (widget_class, back_cb);
  gtk_widget_class_bind_template_callback (widget_class, folded_cb);
}

static void
pinhole_window_init (PinholeWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->header_group = hdy_header_group_new ();
  hdy_header_group_add_header_bar (self->header_group,
                                   pinhole_contact_list_get_header_bar (self->contact_list));
  hdy_header_group_add_header_bar (
    self->header_group, pinhole_conversation_view_get_header_bar (self->conversation_view));
  /* the right pane's other header bar, while no conversation is open: in the group too, or
   * the sidebar's would take the window buttons as well */
  hdy_header_group_add_header_bar (self->header_group, self->empty_header);
  g_object_bind_property (self->leaflet, "folded", self->header_group, "decorate-all",
                          G_BINDING_SYNC_CREATE);
  g_action_map_add_action_entries (G_ACTION_MAP (self), win_actions, G_N_ELEMENTS (win_actions),
                                   self);
}

PinholeWindow *
pinhole_window_new (PinholeApplication *app,
                    const char         *server_url)
{
  PinholeWindow *self = g_object_new (PINHOLE_TYPE_WINDOW, "application", app, NULL);
  GSettings *settings = pinhole_application_get_settings (app);

  self->app = app;
  gtk_window_set_default_size (GTK_WINDOW (self), g_settings_get_int (settings, "window-width"),
                               g_settings_get_int (settings, "window-height"));
  if (g_settings_get_boolean (settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));
  /* the sign-in view is made only when it is needed: a signed-in profile opens faster */
  if (pinhole_application_is_signed_in (app))
    show_chats (self);
  else
    {
      self->sign_in_view = g_object_new (PINHOLE_TYPE_SIGN_IN_VIEW, "visible", TRUE, NULL);
      g_signal_connect_object (self->sign_in_view, "signed-in", G_CALLBACK (signed_in_cb), self,
                               G_CONNECT_SWAPPED);
      pinhole_sign_in_view_set_client (self->sign_in_view, pinhole_application_get_client (app),
                                       pinhole_application_get_settings (app), server_url);
      gtk_stack_add_named (self->main_stack, GTK_WIDGET (self->sign_in_view), "sign-in");
      gtk_stack_set_visible_child_full (self->main_stack, "sign-in",
                                        GTK_STACK_TRANSITION_TYPE_NONE);
    }
  folded_cb (self);
  pinhole_bench_attach (self);
  return self;
}
