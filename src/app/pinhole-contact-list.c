/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-contact-list.c: the sidebar bound to the client's two lists, contacts and pending
 * requests (GListModels of PinholeContact). Activating a contact emits "contact-activated";
 * the window opens its conversation. Files dropped on a contact's row emit "files-dropped". */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-contact-list.h"

#include <glib/gi18n.h>
#include <handy.h>

#include "pinhole-contact-row.h"
#include "pinhole-conversation-view.h"
#include "pinhole-list-prefix.h"
#include "pinhole-offline-banner.h"
#include "pinhole-request-row.h"

/* rows made before the first frame, a screen's worth, then so many more in each idle */
#define FIRST_ROWS 25
#define MORE_ROWS 25

struct _PinholeContactList
{
  GtkBox          parent_instance;

  /* template children */
  HdyHeaderBar   *header_bar;
  GtkMenuButton  *add_button;
  GtkPopover     *add_popover;
  GtkEntry       *add_entry;
  GtkButton      *add_confirm_button;
  GtkLabel       *add_error_label;
  GtkToggleButton *search_button;
  GtkSearchBar   *search_bar;
  GtkSearchEntry *search_entry;
  PinholeOfflineBanner *offline_banner;
  GtkStack       *list_stack;
  GtkRevealer    *requests_revealer;
  GtkListBox     *requests_box;
  GtkListBox     *contacts_box;

  /* owned */
  PinholeClient  *client;
  PinholeListPrefix *contacts;    /* the rows of the first screen at once, the rest soon */
  char           *selected;       /* the user whose conversation is open */
  gboolean        selection_visible;
};

G_DEFINE_FINAL_TYPE (PinholeContactList, pinhole_contact_list, GTK_TYPE_BOX)

enum { SIGNAL_CONTACT_ACTIVATED, SIGNAL_FILES_DROPPED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
row_drag_data_received_cb (GtkWidget        *row,
                           GdkDragContext   *context,
                           gint              x,
                           gint              y,
                           GtkSelectionData *selection,
                           guint             info,
                           guint             time,
                           gpointer          user_data)
{
  PinholeContactList *self = user_data;
  g_auto(GStrv) uris = gtk_selection_data_get_uris (selection);
  g_auto(GStrv) paths = pinhole_conversation_view_uris_to_paths (uris);

  gtk_drag_finish (context, paths != NULL, FALSE, time);
  if (paths != NULL)
    g_signal_emit (self, signals[SIGNAL_FILES_DROPPED], 0,
                   pinhole_contact_row_get_contact (PINHOLE_CONTACT_ROW (row)), paths);
}

static GtkWidget *
create_contact_row (gpointer item,
                    gpointer user_data)
{
  PinholeContactList *self = user_data;
  PinholeContact *contact = item;
  GtkWidget *row = pinhole_contact_row_new (contact,
                                            pinhole_client_get_conversation (
                                              self->client, pinhole_contact_get_user (contact)),
                                            pinhole_client_get_transfers (self->client));

  /* a contact blocked meanwhile leaves the list (filter_cb) */
  g_signal_connect_object (contact, "notify::relation", G_CALLBACK (gtk_list_box_row_changed),
                           row, G_CONNECT_SWAPPED);
  /* files dropped on a contact go to them, like files dropped on their conversation */
  gtk_drag_dest_set (row, GTK_DEST_DEFAULT_ALL, NULL, 0, GDK_ACTION_COPY);
  gtk_drag_dest_add_uri_targets (row);
  g_signal_connect_object (row, "drag-data-received", G_CALLBACK (row_drag_data_received_cb),
                           self, 0);
  return row;
}

static GtkWidget *
create_request_row (gpointer item,
                    gpointer user_data)
{
  PinholeContactList *self = user_data;

  return pinhole_request_row_new (self->client, item);
}

static gboolean
filter_cb (GtkListBoxRow *row,
           gpointer       user_data)
{
  PinholeContactList *self = user_data;
  const char *query = gtk_entry_get_text (GTK_ENTRY (self->search_entry));
  PinholeContact *contact = pinhole_contact_row_get_contact (PINHOLE_CONTACT_ROW (row));
  g_autofree char *folded_query = NULL;
  g_autofree char *folded_user = NULL;

  if (pinhole_contact_get_relation (contact) == PINHOLE_RELATION_BLOCKED)
    return FALSE;
  if (*query == '\0')
    return TRUE;
  folded_query = g_utf8_casefold (query, -1);
  folded_user = g_utf8_casefold (pinhole_contact_get_user (contact), -1);
  return strstr (folded_user, folded_query) != NULL;
}

static void
search_changed_cb (PinholeContactList *self)
{
  gtk_list_box_invalidate_filter (self->contacts_box);
}

static void
reselect (PinholeContactList *self)
{
  GtkListBoxRow *row;

  gtk_list_box_unselect_all (self->contacts_box);
  if (!self->selection_visible || self->selected == NULL)
    return;
  for (int i = 0; (row = gtk_list_box_get_row_at_index (self->contacts_box, i)) != NULL; i++)
    if (g_strcmp0 (pinhole_contact_get_user (pinhole_contact_row_get_contact (
                     PINHOLE_CONTACT_ROW (row))), self->selected) == 0)
      gtk_list_box_select_row (self->contacts_box, row);
}

static void
update_visibility (PinholeContactList *self)
{
  GListModel *contacts = pinhole_client_get_contacts (self->client);
  GListModel *requests = pinhole_client_get_pending_requests (self->client);
  gboolean any_request = g_list_model_get_n_items (requests) > 0;

  gtk_revealer_set_reveal_child (self->requests_revealer, any_request);
  gtk_stack_set_visible_child_name (self->list_stack,
                                    g_list_model_get_n_items (contacts) > 0 || any_request
                                      ? "list" : "empty");
  reselect (self);
}

static void
row_activated_cb (PinholeContactList *self,
                  GtkListBoxRow      *row)
{
  PinholeContact *contact = pinhole_contact_row_get_contact (PINHOLE_CONTACT_ROW (row));

  g_signal_emit (self, signals[SIGNAL_CONTACT_ACTIVATED], 0, contact);
}

static void
add_popover_show_cb (PinholeContactList *self)
{
  gtk_entry_set_text (self->add_entry, "");
  gtk_widget_hide (GTK_WIDGET (self->add_error_label));
  gtk_widget_grab_focus (GTK_WIDGET (self->add_entry));
}

static void
add_entry_changed_cb (PinholeContactList *self)
{
  gtk_widget_set_sensitive (GTK_WIDGET (self->add_confirm_button),
                            *gtk_entry_get_text (self->add_entry) != '\0');
}

static void
added_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(PinholeContactList) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *relation = pinhole_client_contact_finish (PINHOLE_CLIENT (source), result,
                                                             &error);

  gtk_widget_set_sensitive (GTK_WIDGET (self->add_entry), TRUE);
  add_entry_changed_cb (self);
  if (relation == NULL)
    {
      gtk_label_set_text (self->add_error_label, error->message);
      gtk_widget_show (GTK_WIDGET (self->add_error_label));
      return;
    }
  gtk_popover_popdown (self->add_popover);
}

static void
add_confirm_cb (PinholeContactList *self)
{
  const char *user = gtk_entry_get_text (self->add_entry);

  if (*user == '\0' || self->client == NULL)
    return;
  gtk_widget_set_sensitive (GTK_WIDGET (self->add_entry), FALSE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->add_confirm_button), FALSE);
  pinhole_client_contact_async (self->client, "subscribe", user, NULL, added_cb,
                                g_object_ref (self));
}

static void
pinhole_contact_list_dispose (GObject *object)
{
  PinholeContactList *self = PINHOLE_CONTACT_LIST (object);

  if (self->client != NULL)
    {
      g_signal_handlers_disconnect_by_data (pinhole_client_get_contacts (self->client), self);
      g_signal_handlers_disconnect_by_data (pinhole_client_get_pending_requests (self->client),
                                            self);
    }
  g_clear_object (&self->contacts);
  g_clear_object (&self->client);
  g_clear_pointer (&self->selected, g_free);
  G_OBJECT_CLASS (pinhole_contact_list_parent_class)->dispose (object);
}

static void
pinhole_contact_list_class_init (PinholeContactListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pinhole_contact_list_dispose;

  signals[SIGNAL_CONTACT_ACTIVATED] =
    g_signal_new ("contact-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, PINHOLE_TYPE_CONTACT);
  /**
   * PinholeContactList::files-dropped:
   * @contact: the contact whose row they were dropped on
   * @paths: the local files and folders
   */
  signals[SIGNAL_FILES_DROPPED] =
    g_signal_new ("files-dropped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 2, PINHOLE_TYPE_CONTACT, G_TYPE_STRV);

  g_type_ensure (PINHOLE_TYPE_OFFLINE_BANNER);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-contact-list.ui");
  gtk_widget_class_bind_template_child (widget_class, PinholeContactList, header_bar);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactList, add_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactList, add_popover);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactList, add_entry);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactList, add_confirm_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactList, add_error_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactList, search_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactList, search_bar);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactList, search_entry);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactList, offline_banner);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactList, list_stack);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactList, requests_revealer);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactList, requests_box);
  gtk_widget_class_bind_template_child (widget_class, PinholeContactList, contacts_box);
  gtk_widget_class_bind_template_callback (widget_class, search_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, row_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, add_popover_show_cb);
  gtk_widget_class_bind_template_callback (widget_class, add_entry_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, add_confirm_cb);
}

static void
pinhole_contact_list_init (PinholeContactList *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->selection_visible = TRUE;
  g_object_bind_property (self->search_button, "active", self->search_bar, "search-mode-enabled",
                          G_BINDING_BIDIRECTIONAL);
  gtk_search_bar_connect_entry (self->search_bar, GTK_ENTRY (self->search_entry));
}

void
pinhole_contact_list_set_client (PinholeContactList *self,
                                 PinholeClient      *client)
{
  g_return_if_fail (PINHOLE_IS_CONTACT_LIST (self));

  if (self->client == client)
    return;
  g_set_object (&self->client, client);
  g_clear_object (&self->contacts);
  self->contacts = pinhole_list_prefix_new (pinhole_client_get_contacts (client), FIRST_ROWS,
                                            MORE_ROWS);
  gtk_list_box_bind_model (self->contacts_box, G_LIST_MODEL (self->contacts),
                           create_contact_row, self, NULL);
  /* after the model: a list box warns of a filter set before it, yet applies one set after */
  gtk_list_box_set_filter_func (self->contacts_box, filter_cb, self, NULL);
  gtk_list_box_bind_model (self->requests_box, pinhole_client_get_pending_requests (client),
                           create_request_row, self, NULL);
  g_signal_connect_object (pinhole_client_get_contacts (client), "items-changed",
                           G_CALLBACK (update_visibility), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (pinhole_client_get_pending_requests (client), "items-changed",
                           G_CALLBACK (update_visibility), self, G_CONNECT_SWAPPED);
  /* the open conversation's row may come in later */
  g_signal_connect_object (self->contacts, "items-changed", G_CALLBACK (reselect), self,
                           G_CONNECT_SWAPPED);
  update_visibility (self);
}

/* marks @user's row as the open conversation (when the list and conversation show together) */
void
pinhole_contact_list_select (PinholeContactList *self,
                             const char         *user)
{
  g_return_if_fail (PINHOLE_IS_CONTACT_LIST (self));

  g_free (self->selected);
  self->selected = g_strdup (user);
  reselect (self);
}

void
pinhole_contact_list_set_selection_visible (PinholeContactList *self,
                                            gboolean            visible)
{
  g_return_if_fail (PINHOLE_IS_CONTACT_LIST (self));

  self->selection_visible = visible;
  reselect (self);
}

void
pinhole_contact_list_add_contact (PinholeContactList *self)
{
  g_return_if_fail (PINHOLE_IS_CONTACT_LIST (self));

  gtk_popover_popup (self->add_popover);
}

/* Returns: (transfer none): the sidebar's offline banner, which the window binds */
PinholeOfflineBanner *
pinhole_contact_list_get_offline_banner (PinholeContactList *self)
{
  g_return_val_if_fail (PINHOLE_IS_CONTACT_LIST (self), NULL);
  return self->offline_banner;
}

/* Returns: (transfer none): the sidebar's header bar, for the window's HdyHeaderGroup */
HdyHeaderBar *
pinhole_contact_list_get_header_bar (PinholeContactList *self)
{
  g_return_val_if_fail (PINHOLE_IS_CONTACT_LIST (self), NULL);
  return self->header_bar;
}

void
pinhole_contact_list_start_search (PinholeContactList *self)
{
  g_return_if_fail (PINHOLE_IS_CONTACT_LIST (self));

  gtk_search_bar_set_search_mode (self->search_bar, TRUE);
  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}
