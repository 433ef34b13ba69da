/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-conversation-view.c: the conversation with one contact, bound to its
 * PinholeContact (title, path, key state) and PinholeConversation (the messages, a
 * GListModel). Enter sends, Shift+Enter starts a new line; each contact keeps its draft. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-conversation-view.h"

#include <glib/gi18n.h>
#include <handy.h>

#include "pinhole-contact-dialog.h"
#include "pinhole-message-row.h"
#include "pinhole-path-button.h"

struct _PinholeConversationView
{
  GtkBox               parent_instance;

  /* template children */
  HdyHeaderBar        *header_bar;
  GtkButton           *back_button;
  GtkLabel            *title_label;
  GtkWidget           *verified_image;
  PinholePathButton   *path_button;
  GtkButton           *details_button;
  GtkRevealer         *offline_revealer;
  GtkRevealer         *key_revealer;
  GtkLabel            *key_title_label;
  GtkLabel            *key_label;
  GtkScrolledWindow   *scrolled;
  GtkListBox          *messages_box;
  GtkTextView         *text_view;
  GtkButton           *send_button;

  /* owned */
  PinholeClient       *client;
  PinholeContact      *contact;
  PinholeConversation *conversation;
  GHashTable          *drafts;       /* user → the text left in the entry */
};

G_DEFINE_FINAL_TYPE (PinholeConversationView, pinhole_conversation_view, GTK_TYPE_BOX)

enum { PROP_0, PROP_OFFLINE, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { SIGNAL_BACK, N_SIGNALS };
static guint signals[N_SIGNALS];

static GtkWidget *
create_message_row (gpointer item,
                    gpointer user_data)
{
  return pinhole_message_row_new (item);
}

/* the key banner and the verified mark: a changed key holds messages until it is accepted */
static void
update_key_state (PinholeConversationView *self)
{
  gboolean changed = pinhole_contact_get_key_state (self->contact) == PINHOLE_KEY_STATE_CHANGED;
  gboolean verified = FALSE;

  if (changed)
    {
      const char *user = pinhole_contact_get_user (self->contact);
      g_autofree char *title = g_strdup_printf (_("%s’s safety number changed"), user);
      g_autofree char *text =
        g_strdup_printf (_("They may have a new device or reinstalled Pinhole — or someone may "
                           "be in the middle. Your messages to %s are held until you compare "
                           "the new number with them and accept it."), user);

      gtk_label_set_text (self->key_title_label, title);
      gtk_label_set_text (self->key_label, text);
    }
  gtk_revealer_set_reveal_child (self->key_revealer, changed);
  /* TODO(core-trust): set_contact connects "notify::verified" to this function too */
#if 0 /* needs core-trust */
  g_object_get (self->contact, "verified", &verified, NULL);
#endif
  gtk_widget_set_visible (self->verified_image, verified && !changed);
}

static char *
take_entry_text (PinholeConversationView *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->text_view);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

static void
sent_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(PinholeConversationView) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeMessage) message =
    pinhole_conversation_send_finish (PINHOLE_CONVERSATION (source), result, &error);

  /* a message that could not even be queued (too long, not a contact): say so in place */
  if (message == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_message ("not sent: %s", error->message);
}

static void
send_now (PinholeConversationView *self)
{
  g_autofree char *text = take_entry_text (self);
  g_autofree char *stripped = g_strstrip (g_strdup (text));

  if (self->conversation == NULL || *stripped == '\0')
    return;
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), "", 0);
  pinhole_conversation_send_async (self->conversation, text, NULL, sent_cb, g_object_ref (self));
}

static void
send_clicked_cb (PinholeConversationView *self)
{
  send_now (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->text_view));
}

static gboolean
key_press_cb (PinholeConversationView *self,
              GdkEventKey             *event)
{
  if ((event->keyval == GDK_KEY_Return || event->keyval == GDK_KEY_KP_Enter) &&
      !(event->state & (GDK_SHIFT_MASK | GDK_CONTROL_MASK)))
    {
      send_now (self);
      return GDK_EVENT_STOP;
    }
  return GDK_EVENT_PROPAGATE;
}

static void
back_clicked_cb (PinholeConversationView *self)
{
  g_signal_emit (self, signals[SIGNAL_BACK], 0);
}

static void
details_clicked_cb (PinholeConversationView *self)
{
  GtkWidget *toplevel = gtk_widget_get_toplevel (GTK_WIDGET (self));
  GtkWidget *dialog;

  if (self->contact == NULL)
    return;
  dialog = pinhole_contact_dialog_new (GTK_IS_WINDOW (toplevel) ? GTK_WINDOW (toplevel) : NULL,
                                       self->client, self->contact);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
accept_key_clicked_cb (PinholeConversationView *self)
{
  g_autoptr(GError) error = NULL;

  if (!pinhole_client_trust (self->client, pinhole_contact_get_user (self->contact), &error))
    g_message ("could not accept the new key: %s", error->message);
}

static void
scroll_to_end (PinholeConversationView *self)
{
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->scrolled);

  gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj));
}

static void
messages_changed_cb (PinholeConversationView *self)
{
  scroll_to_end (self);
}

static void
save_draft (PinholeConversationView *self)
{
  if (self->contact == NULL)
    return;
  g_hash_table_replace (self->drafts, g_strdup (pinhole_contact_get_user (self->contact)),
                        take_entry_text (self));
}

static void
pinhole_conversation_view_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  PinholeConversationView *self = PINHOLE_CONVERSATION_VIEW (object);

  switch (prop_id)
    {
    case PROP_OFFLINE:
      g_value_set_boolean (value, gtk_revealer_get_reveal_child (self->offline_revealer));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pinhole_conversation_view_set_property (GObject      *object,
                                        guint         prop_id,
                                        const GValue *value,
                                        GParamSpec   *pspec)
{
  PinholeConversationView *self = PINHOLE_CONVERSATION_VIEW (object);

  switch (prop_id)
    {
    case PROP_OFFLINE:
      if (gtk_revealer_get_reveal_child (self->offline_revealer) == g_value_get_boolean (value))
        return;
      gtk_revealer_set_reveal_child (self->offline_revealer, g_value_get_boolean (value));
      g_object_notify_by_pspec (object, pspec);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pinhole_conversation_view_dispose (GObject *object)
{
  PinholeConversationView *self = PINHOLE_CONVERSATION_VIEW (object);

  if (self->contact != NULL)
    pinhole_conversation_view_set_contact (self, NULL, NULL);
  g_clear_pointer (&self->drafts, g_hash_table_unref);
  G_OBJECT_CLASS (pinhole_conversation_view_parent_class)->dispose (object);
}

static void
pinhole_conversation_view_class_init (PinholeConversationViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = pinhole_conversation_view_get_property;
  object_class->set_property = pinhole_conversation_view_set_property;
  object_class->dispose = pinhole_conversation_view_dispose;
  properties[PROP_OFFLINE] =
    g_param_spec_boolean ("offline", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  signals[SIGNAL_BACK] =
    g_signal_new ("back", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);

  g_type_ensure (PINHOLE_TYPE_PATH_BUTTON);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-conversation-view.ui");
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, header_bar);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, back_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, title_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, verified_image);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, path_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, details_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, offline_revealer);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, key_revealer);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, key_title_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, key_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, scrolled);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, messages_box);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, text_view);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, send_button);
  gtk_widget_class_bind_template_callback (widget_class, send_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, key_press_cb);
  gtk_widget_class_bind_template_callback (widget_class, back_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, details_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, accept_key_clicked_cb);
}

static void
pinhole_conversation_view_init (PinholeConversationView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->drafts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/**
 * pinhole_conversation_view_set_contact:
 * @contact: (nullable): the contact to show, or %NULL for none
 */
void
pinhole_conversation_view_set_contact (PinholeConversationView *self,
                                       PinholeClient           *client,
                                       PinholeContact          *contact)
{
  const char *draft;
  GtkTextBuffer *buffer;

  g_return_if_fail (PINHOLE_IS_CONVERSATION_VIEW (self));

  if (contact == self->contact)
    return;
  save_draft (self);
  if (self->contact != NULL)
    g_signal_handlers_disconnect_by_data (self->contact, self);
  if (self->conversation != NULL)
    g_signal_handlers_disconnect_by_data (self->conversation, self);
  g_clear_object (&self->conversation);
  g_set_object (&self->contact, contact);
  g_set_object (&self->client, client);
  pinhole_path_button_set_contact (self->path_button, client, contact);
  if (contact == NULL)
    {
      gtk_list_box_bind_model (self->messages_box, NULL, NULL, NULL, NULL);
      return;
    }
  self->conversation = g_object_ref (
    pinhole_client_get_conversation (client, pinhole_contact_get_user (contact)));
  gtk_label_set_text (self->title_label, pinhole_contact_get_user (contact));
  gtk_list_box_bind_model (self->messages_box, G_LIST_MODEL (self->conversation),
                           create_message_row, self, NULL);
  g_signal_connect_object (self->conversation, "items-changed", G_CALLBACK (messages_changed_cb),
                           self, G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  g_signal_connect_object (contact, "notify::key-state", G_CALLBACK (update_key_state), self,
                           G_CONNECT_SWAPPED);
  update_key_state (self);
  buffer = gtk_text_view_get_buffer (self->text_view);
  draft = g_hash_table_lookup (self->drafts, pinhole_contact_get_user (contact));
  gtk_text_buffer_set_text (buffer, draft ? draft : "", -1);
  gtk_widget_grab_focus (GTK_WIDGET (self->text_view));
  scroll_to_end (self);
}

void
pinhole_conversation_view_set_show_back (PinholeConversationView *self,
                                         gboolean                 show)
{
  g_return_if_fail (PINHOLE_IS_CONVERSATION_VIEW (self));

  gtk_widget_set_visible (GTK_WIDGET (self->back_button), show);
}
