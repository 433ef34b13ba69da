/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-conversation-view.c: the conversation with one contact, bound to its
 * PinholeContact (title, path, key state) and PinholeConversation (the messages, a
 * GListModel). Enter sends, Shift+Enter starts a new line; each contact keeps its draft.
 * The list shows a window of the conversation (pinhole-message-window.c): pages come in as
 * the top or the bottom comes near and the far end goes, without moving what is on screen.
 * Transfers with the contact sit among the messages as cards (pinhole-timeline.c); files
 * dropped on the view or chosen with Send Files… are offered to the contact. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-conversation-view.h"

#include <string.h>

#include <glib/gi18n.h>
#include <handy.h>

#include "pinhole-contact-dialog.h"
#include "pinhole-error.h"
#include "pinhole-message-list.h"
#include "pinhole-message-window.h"
#include "pinhole-offline-banner.h"
#include "pinhole-path-button.h"
#include "pinhole-timeline.h"

/* one page of history per load, as the core reads it */
#define PAGE 50
/* the most rows the list holds: a few screens around the view */
#define WINDOW_ROWS 200
/* the rows a conversation opens with: more than a screen; the rest come as one scrolls */
#define OPEN_ROWS 25
/* within this many pixels of the end counts as being at the end */
#define BOTTOM_SLACK 8.0

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
  PinholeOfflineBanner *offline_banner;
  GtkRevealer         *key_revealer;
  GtkLabel            *key_title_label;
  GtkLabel            *key_label;
  GtkStack            *list_stack;
  HdyStatusPage       *empty_page;
  GtkScrolledWindow   *scrolled;
  GtkRevealer         *loading_revealer;
  GtkSpinner          *loading_spinner;
  GtkListBox          *messages_box;
  GtkRevealer         *jump_revealer;
  GtkInfoBar          *error_bar;
  GtkLabel            *error_label;
  GtkTextView         *text_view;
  GtkButton           *send_button;
  GtkMenuButton       *attach_button;
  GtkRevealer         *limit_revealer;
  GtkLabel            *limit_label;

  /* owned */
  PinholeClient       *client;
  PinholeContact      *contact;
  PinholeConversation *conversation;
  PinholeMessageWindow *window;      /* the part of the conversation in the list */
  PinholeTimeline     *timeline;     /* the window with the transfers among its messages */
  GtkFileChooserNative *chooser;     /* Send Files…, while open */
  GHashTable          *drafts;       /* user → the text left in the entry */
  guint                shift_id;     /* the idle that moves the window a page */
  gboolean             shift_older;  /* which way it moves */

  /* borrowed: the toplevel we watch for is-active */
  GtkWidget           *toplevel;

  /* the scroll position: stuck to the end, or kept while rows come and go around it: the
   * row at the top of the view stays @anchor_y pixels from the top */
  gboolean             stick_bottom;
  gboolean             keeping;
  GtkWidget           *anchor;       /* owned: a row of messages_box, while keeping */
  int                  anchor_y;
  gboolean             adjusting;    /* the value is being set by us, not the user */
};

G_DEFINE_FINAL_TYPE (PinholeConversationView, pinhole_conversation_view, GTK_TYPE_BOX)

enum { SIGNAL_BACK, N_SIGNALS };
static guint signals[N_SIGNALS];

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
  g_object_get (self->contact, "verified", &verified, NULL);
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
show_error (PinholeConversationView *self,
            const char              *text)
{
  gtk_label_set_text (self->error_label, text);
  gtk_info_bar_set_revealed (self->error_bar, TRUE);
}

static void
error_response_cb (PinholeConversationView *self)
{
  gtk_info_bar_set_revealed (self->error_bar, FALSE);
}

/* how many characters must go from the end for @text to fit PINHOLE_CHAT_MAX_TEXT bytes */
static guint
characters_over_limit (const char *text)
{
  size_t len = strlen (text);
  const char *end = text + len;
  guint over = 0;

  while ((size_t) (end - text) > PINHOLE_CHAT_MAX_TEXT)
    {
      end = g_utf8_find_prev_char (text, end);
      over++;
    }
  return over;
}

static void
text_changed_cb (PinholeConversationView *self)
{
  g_autofree char *text = take_entry_text (self);
  g_autofree char *stripped = g_strstrip (g_strdup (text));
  guint over = characters_over_limit (text);

  if (over > 0)
    {
      g_autofree char *words =
        g_strdup_printf (g_dngettext (NULL, "Too long to send: remove %u character",
                                      "Too long to send: remove %u characters", over),
                         over);
      gtk_label_set_text (self->limit_label, words);
    }
  gtk_revealer_set_reveal_child (self->limit_revealer, over > 0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->send_button),
                            self->conversation != NULL && *stripped != '\0' && over == 0);
}

typedef struct
{
  PinholeConversationView *self;      /* owned */
  char                    *user;
  char                    *text;
} SendData;

static void
send_data_free (SendData *data)
{
  g_object_unref (data->self);
  g_free (data->user);
  g_free (data->text);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SendData, send_data_free)

static void
sent_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(SendData) data = user_data;
  PinholeConversationView *self = data->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeMessage) message =
    pinhole_conversation_send_finish (PINHOLE_CONVERSATION (source), result, &error);
  g_autofree char *entry = NULL;
  g_autofree char *words = NULL;

  /* a message that could not even be queued (too long, not a contact): say so in place,
   * and give the text back if the entry is still the one it came from and empty */
  if (message != NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  /* held for a changed key: it is in the list as held, and the banner says what to do */
  if (g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_KEY_CHANGED))
    return;
  words = g_strdup_printf (_("Your message could not be sent: %s"), error->message);
  show_error (self, words);
  if (self->contact == NULL || g_strcmp0 (pinhole_contact_get_user (self->contact), data->user))
    return;
  entry = take_entry_text (self);
  if (*entry == '\0')
    gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), data->text, -1);
}

/* the newest messages in the list, and the view stuck to them */
static void
follow_end (PinholeConversationView *self)
{
  if (self->window != NULL && !pinhole_message_window_get_at_end (self->window))
    pinhole_message_window_show_latest (self->window, PAGE);
  self->stick_bottom = TRUE;
  self->keeping = FALSE;
}

static void
send_text (PinholeConversationView *self,
           const char              *text)
{
  SendData *data = g_new0 (SendData, 1);

  data->self = g_object_ref (self);
  data->user = g_strdup (pinhole_contact_get_user (self->contact));
  data->text = g_strdup (text);
  /* what one sends, one wants to see */
  follow_end (self);
  pinhole_conversation_send_async (self->conversation, text, NULL, sent_cb, data);
}

static void
send_now (PinholeConversationView *self)
{
  g_autofree char *text = take_entry_text (self);
  g_autofree char *stripped = g_strstrip (g_strdup (text));

  if (self->conversation == NULL || *stripped == '\0' || characters_over_limit (text) > 0)
    return;
  gtk_info_bar_set_revealed (self->error_bar, FALSE);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), "", 0);
  send_text (self, text);
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
files_sent_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(SendData) data = user_data;   /* no text: files */
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeTransfer) transfer =
    pinhole_client_send_files_finish (PINHOLE_CLIENT (source), result, &error);
  g_autofree char *words = NULL;

  /* the card is in the list now: it says the rest */
  if (transfer != NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  /* Translators: the first %s is the contact's user name, the second why, a sentence */
  words = g_strdup_printf (_("Your files could not be offered to %s: %s"), data->user,
                           error->message);
  show_error (data->self, words);
}

/**
 * pinhole_conversation_view_send_files:
 * @paths: local files and folders
 * Offers @paths to the open conversation's contact: they are hashed off the main loop, and
 * the card comes in once the offer is made; a failure shows in the error bar.
 */
void
pinhole_conversation_view_send_files (PinholeConversationView *self,
                                      const char *const       *paths)
{
  SendData *data;

  g_return_if_fail (PINHOLE_IS_CONVERSATION_VIEW (self));

  if (self->contact == NULL || paths == NULL || paths[0] == NULL)
    return;
  data = g_new0 (SendData, 1);
  data->self = g_object_ref (self);
  data->user = g_strdup (pinhole_contact_get_user (self->contact));
  gtk_info_bar_set_revealed (self->error_bar, FALSE);
  follow_end (self);
  pinhole_client_send_files_async (self->client, data->user, paths, NULL, files_sent_cb, data);
}

/**
 * pinhole_conversation_view_uris_to_paths:
 * @uris: what a drop carried (text/uri-list)
 * Returns: (transfer full): the local paths among them; %NULL when none is local
 */
char **
pinhole_conversation_view_uris_to_paths (char **uris)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; uris != NULL && uris[i] != NULL; i++)
    {
      g_autoptr(GFile) file = g_file_new_for_uri (uris[i]);
      char *path = g_file_get_path (file);

      if (path != NULL)
        g_ptr_array_add (paths, path);
    }
  if (paths->len == 0)
    return NULL;
  g_ptr_array_add (paths, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&paths), FALSE);
}

static void
drag_data_received_cb (PinholeConversationView *self,
                       GdkDragContext          *context,
                       gint                     x,
                       gint                     y,
                       GtkSelectionData        *selection,
                       guint                    info,
                       guint                    time)
{
  g_auto(GStrv) uris = gtk_selection_data_get_uris (selection);
  g_auto(GStrv) paths = pinhole_conversation_view_uris_to_paths (uris);

  gtk_drag_finish (context, paths != NULL, FALSE, time);
  if (paths == NULL)
    {
      if (uris != NULL)
        show_error (self, _("Only files on this computer can be sent."));
      return;
    }
  pinhole_conversation_view_send_files (self, (const char *const *) paths);
}

static void
chooser_response_cb (PinholeConversationView *self,
                     gint                     response)
{
  g_autoptr(GtkFileChooserNative) chooser = g_steal_pointer (&self->chooser);
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  GSList *files;

  if (response != GTK_RESPONSE_ACCEPT)
    return;
  files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (chooser));
  for (GSList *l = files; l != NULL; l = l->next)
    {
      char *path = g_file_get_path (l->data);

      if (path != NULL)
        g_ptr_array_add (paths, path);
    }
  g_slist_free_full (files, g_object_unref);
  g_ptr_array_add (paths, NULL);
  pinhole_conversation_view_send_files (self, (const char *const *) paths->pdata);
}

/* Send Files… (several at once) or Send a Folder…: GTK 3's chooser picks one or the other */
static void
choose (PinholeConversationView *self,
        gboolean                 folder)
{
  GtkWidget *toplevel = gtk_widget_get_toplevel (GTK_WIDGET (self));
  g_autofree char *title = NULL;

  if (self->contact == NULL || self->chooser != NULL)
    return;
  title = folder
            /* Translators: the folder chooser's title; %s is the contact's user name */
            ? g_strdup_printf (_("Send a Folder to %s"), pinhole_contact_get_user (self->contact))
            /* Translators: the file chooser's title; %s is the contact's user name */
            : g_strdup_printf (_("Send Files to %s"), pinhole_contact_get_user (self->contact));
  self->chooser = gtk_file_chooser_native_new (title,
                                               GTK_IS_WINDOW (toplevel) ? GTK_WINDOW (toplevel)
                                                                        : NULL,
                                               folder ? GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER
                                                      : GTK_FILE_CHOOSER_ACTION_OPEN,
                                               _("_Send"), _("_Cancel"));
  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (self->chooser), !folder);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  g_signal_connect_object (self->chooser, "response", G_CALLBACK (chooser_response_cb), self,
                           G_CONNECT_SWAPPED);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
send_files_activated (GSimpleAction *action,
                      GVariant      *parameter,
                      gpointer       user_data)
{
  choose (user_data, FALSE);
}

static void
send_folder_activated (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  choose (user_data, TRUE);
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

static gboolean
is_seen (PinholeConversationView *self)
{
  return self->conversation != NULL && self->stick_bottom &&
         gtk_widget_get_mapped (GTK_WIDGET (self)) && GTK_IS_WINDOW (self->toplevel) &&
         gtk_window_is_active (GTK_WINDOW (self->toplevel));
}

/* the newest messages are on screen in the focused window: they count as read */
static void
mark_read_if_seen (PinholeConversationView *self)
{
  g_autoptr(GError) error = NULL;

  if (is_seen (self) && pinhole_conversation_get_unread (self->conversation) > 0 &&
      !pinhole_conversation_mark_read (self->conversation, &error))
    g_message ("could not keep the read mark: %s", error->message);
}

static void
retried_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(PinholeConversationView) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeMessage) message =
    pinhole_conversation_retry_finish (PINHOLE_CONVERSATION (source), result, &error);

  if (message == NULL &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *words =
        g_strdup_printf (_("Your message could not be sent: %s"), error->message);
      show_error (self, words);
    }
}

/* conversation.retry, with the id of a failed message of ours */
static void
retry_activated (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       user_data)
{
  PinholeConversationView *self = user_data;
  PinholeMessage *message;

  if (self->conversation == NULL)
    return;
  message = pinhole_conversation_lookup (self->conversation,
                                         g_variant_get_string (parameter, NULL));
  if (message == NULL || pinhole_message_get_state (message) != PINHOLE_MESSAGE_STATE_FAILED)
    return;
  gtk_info_bar_set_revealed (self->error_bar, FALSE);
  follow_end (self);
  pinhole_conversation_retry_async (self->conversation, message, NULL, retried_cb,
                                    g_object_ref (self));
}

static void
set_value (PinholeConversationView *self,
           double                   value)
{
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->scrolled);

  self->adjusting = TRUE;
  gtk_adjustment_set_value (adj, value);
  self->adjusting = FALSE;
}

static void
update_jump (PinholeConversationView *self)
{
  gtk_revealer_set_reveal_child (self->jump_revealer,
                                 self->conversation != NULL && !self->stick_bottom);
}

static void
update_empty (PinholeConversationView *self)
{
  gboolean empty = self->conversation == NULL ||
                   (g_list_model_get_n_items (G_LIST_MODEL (self->conversation)) == 0 &&
                    !pinhole_conversation_get_has_older (self->conversation) &&
                    (self->timeline == NULL ||
                     pinhole_timeline_count_transfers (self->timeline) == 0));

  gtk_stack_set_visible_child_name (self->list_stack, empty ? "empty" : "messages");
}

/* whether there is more above the list's first row, in the conversation or the history */
static gboolean
has_older (PinholeConversationView *self)
{
  return self->conversation != NULL &&
         (pinhole_message_window_get_start (self->window) > 0 ||
          pinhole_conversation_get_has_older (self->conversation));
}

static void
update_loading (PinholeConversationView *self)
{
  gboolean more = has_older (self);

  /* shown while there is more above, so that reaching it is what loads it */
  gtk_revealer_set_reveal_child (self->loading_revealer, more);
  if (more)
    gtk_spinner_start (self->loading_spinner);
  else
    gtk_spinner_stop (self->loading_spinner);
}

/* the message row at the top of the view: it stays where it is while the window moves */
static void
take_anchor (PinholeConversationView *self)
{
  GtkListBoxRow *row;
  int x, y;

  g_clear_object (&self->anchor);
  self->keeping = FALSE;
  if (self->stick_bottom ||
      !gtk_widget_translate_coordinates (GTK_WIDGET (self->scrolled),
                                         GTK_WIDGET (self->messages_box), 0, 0, &x, &y))
    return;
  row = gtk_list_box_get_row_at_y (self->messages_box, MAX (y, 0));
  if (row == NULL ||
      !gtk_widget_translate_coordinates (GTK_WIDGET (row), GTK_WIDGET (self->scrolled), 0, 0,
                                         &x, &self->anchor_y))
    return;
  self->anchor = g_object_ref (GTK_WIDGET (row));
  self->keeping = TRUE;
}

/* the rows have their new places: scroll so that the anchor is back where it was */
static void
messages_allocated_cb (PinholeConversationView *self)
{
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->scrolled);
  int x, y;

  if (!self->keeping || self->anchor == NULL ||
      gtk_widget_get_parent (self->anchor) != GTK_WIDGET (self->messages_box) ||
      !gtk_widget_translate_coordinates (self->anchor, GTK_WIDGET (self->scrolled), 0, 0,
                                         &x, &y) ||
      y == self->anchor_y)
    return;
  set_value (self, gtk_adjustment_get_value (adj) + y - self->anchor_y);
}

static gboolean
shift_cb (gpointer user_data)
{
  PinholeConversationView *self = user_data;
  g_autoptr(GError) error = NULL;

  self->shift_id = 0;
  if (self->conversation == NULL)
    return G_SOURCE_REMOVE;
  take_anchor (self);
  if (!self->shift_older)
    pinhole_message_window_show_newer (self->window, PAGE);
  else
    {
      /* the window is at the oldest message read so far: read a page more */
      if (pinhole_message_window_get_start (self->window) == 0)
        pinhole_conversation_load_older (self->conversation, PAGE, &error);
      pinhole_message_window_show_older (self->window, PAGE);
    }
  if (error != NULL)
    {
      g_autofree char *words =
        g_strdup_printf (_("Older messages could not be read: %s"), error->message);
      show_error (self, words);
    }
  update_loading (self);
  update_empty (self);
  update_jump (self);
  return G_SOURCE_REMOVE;
}

/* a page more above when less than a screen is left there, or nothing fills the view; a page
 * more below likewise, when the window does not reach the newest message */
static void
maybe_shift (PinholeConversationView *self)
{
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->scrolled);
  double value = gtk_adjustment_get_value (adj);
  double page = gtk_adjustment_get_page_size (adj);
  double upper = gtk_adjustment_get_upper (adj);

  if (self->conversation == NULL || self->shift_id != 0)
    return;
  if (has_older (self) && (value <= page || upper <= page))
    self->shift_older = TRUE;
  else if (!pinhole_message_window_get_at_end (self->window) && upper - page - value <= page)
    self->shift_older = FALSE;
  else
    return;
  /* not from inside the layout pass that told us */
  self->shift_id = g_idle_add (shift_cb, self);
}

static void
edge_reached_cb (PinholeConversationView *self,
                 GtkPositionType          position)
{
  if (position == GTK_POS_TOP || position == GTK_POS_BOTTOM)
    maybe_shift (self);
}

/* the content or the window changed size: follow the end, or look for the next page */
static void
adjustment_changed_cb (PinholeConversationView *self,
                       GtkAdjustment           *adj)
{
  if (self->stick_bottom)
    set_value (self, gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
  maybe_shift (self);
}

static void
value_changed_cb (PinholeConversationView *self,
                  GtkAdjustment           *adj)
{
  double end = gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj);

  if (self->adjusting)
    return;
  /* the user scrolled: this is now the place to keep */
  self->keeping = FALSE;
  g_clear_object (&self->anchor);
  self->stick_bottom = end - gtk_adjustment_get_value (adj) < BOTTOM_SLACK &&
                       (self->window == NULL || pinhole_message_window_get_at_end (self->window));
  update_jump (self);
  maybe_shift (self);
  mark_read_if_seen (self);
}

static void
jump_clicked_cb (PinholeConversationView *self)
{
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->scrolled);

  follow_end (self);
  g_clear_object (&self->anchor);
  set_value (self, gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
  update_loading (self);
  update_jump (self);
  mark_read_if_seen (self);
}

static void
messages_changed_cb (PinholeConversationView *self,
                     guint                    position,
                     guint                    removed,
                     guint                    added)
{
  /* a message that comes in may push the oldest row out of the window: keep the view */
  if (!self->stick_bottom && !self->keeping)
    take_anchor (self);
  update_empty (self);
  update_jump (self);
  mark_read_if_seen (self);
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
toplevel_active_cb (PinholeConversationView *self)
{
  mark_read_if_seen (self);
}

static void
pinhole_conversation_view_hierarchy_changed (GtkWidget *widget,
                                             GtkWidget *previous_toplevel)
{
  PinholeConversationView *self = PINHOLE_CONVERSATION_VIEW (widget);
  GtkWidget *toplevel = gtk_widget_get_toplevel (widget);

  if (!GTK_IS_WINDOW (toplevel))
    toplevel = NULL;
  if (toplevel == self->toplevel)
    return;
  if (self->toplevel != NULL)
    g_signal_handlers_disconnect_by_func (self->toplevel, toplevel_active_cb, self);
  self->toplevel = toplevel;
  if (toplevel != NULL)
    g_signal_connect_object (toplevel, "notify::is-active", G_CALLBACK (toplevel_active_cb),
                             self, G_CONNECT_SWAPPED);
}

static void
pinhole_conversation_view_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (pinhole_conversation_view_parent_class)->map (widget);
  mark_read_if_seen (PINHOLE_CONVERSATION_VIEW (widget));
}

static void
pinhole_conversation_view_dispose (GObject *object)
{
  PinholeConversationView *self = PINHOLE_CONVERSATION_VIEW (object);

  if (self->contact != NULL)
    pinhole_conversation_view_set_contact (self, NULL, NULL);
  g_clear_handle_id (&self->shift_id, g_source_remove);
  g_clear_object (&self->anchor);
  if (self->chooser != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->chooser, self);
      gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
      g_clear_object (&self->chooser);
    }
  if (self->toplevel != NULL)
    g_signal_handlers_disconnect_by_func (self->toplevel, toplevel_active_cb, self);
  self->toplevel = NULL;
  g_clear_pointer (&self->drafts, g_hash_table_unref);
  G_OBJECT_CLASS (pinhole_conversation_view_parent_class)->dispose (object);
}

static void
pinhole_conversation_view_class_init (PinholeConversationViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pinhole_conversation_view_dispose;
  widget_class->hierarchy_changed = pinhole_conversation_view_hierarchy_changed;
  widget_class->map = pinhole_conversation_view_map;
  signals[SIGNAL_BACK] =
    g_signal_new ("back", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);

  g_type_ensure (PINHOLE_TYPE_PATH_BUTTON);
  g_type_ensure (PINHOLE_TYPE_OFFLINE_BANNER);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-conversation-view.ui");
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, header_bar);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, back_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, title_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, verified_image);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, path_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, details_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, offline_banner);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, key_revealer);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, key_title_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, key_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, list_stack);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, empty_page);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, scrolled);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, loading_revealer);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, loading_spinner);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, messages_box);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, jump_revealer);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, error_bar);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, error_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, text_view);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, send_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, attach_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, limit_revealer);
  gtk_widget_class_bind_template_child (widget_class, PinholeConversationView, limit_label);
  gtk_widget_class_bind_template_callback (widget_class, send_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, key_press_cb);
  gtk_widget_class_bind_template_callback (widget_class, back_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, details_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, accept_key_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, edge_reached_cb);
  gtk_widget_class_bind_template_callback (widget_class, jump_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, error_response_cb);
}

static const GActionEntry conversation_actions[] = {
  { "retry", retry_activated, "s" },
  { "send-files", send_files_activated },
  { "send-folder", send_folder_activated },
};

static void
name_close_button (GtkWidget *widget,
                   gpointer   user_data)
{
  if (GTK_IS_BUTTON (widget))
    atk_object_set_name (gtk_widget_get_accessible (widget), _("Dismiss"));
  else if (GTK_IS_CONTAINER (widget))
    gtk_container_forall (GTK_CONTAINER (widget), name_close_button, NULL);
}

static void
pinhole_conversation_view_init (PinholeConversationView *self)
{
  g_autoptr(GSimpleActionGroup) actions = g_simple_action_group_new ();
  GtkAdjustment *adj;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->drafts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  /* the info bar's own close button has an icon and no name */
  gtk_container_forall (GTK_CONTAINER (self->error_bar), name_close_button, NULL);
  self->stick_bottom = TRUE;
  g_action_map_add_action_entries (G_ACTION_MAP (actions), conversation_actions,
                                   G_N_ELEMENTS (conversation_actions), self);
  gtk_widget_insert_action_group (GTK_WIDGET (self), "conversation", G_ACTION_GROUP (actions));
  adj = gtk_scrolled_window_get_vadjustment (self->scrolled);
  g_signal_connect_object (adj, "changed", G_CALLBACK (adjustment_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (adj, "value-changed", G_CALLBACK (value_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->messages_box, "size-allocate",
                           G_CALLBACK (messages_allocated_cb), self,
                           G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  g_signal_connect_object (gtk_text_view_get_buffer (self->text_view), "changed",
                           G_CALLBACK (text_changed_cb), self, G_CONNECT_SWAPPED);
  /* files and folders dropped anywhere on the conversation are offered to the contact */
  gtk_drag_dest_set (GTK_WIDGET (self), GTK_DEST_DEFAULT_ALL, NULL, 0, GDK_ACTION_COPY);
  gtk_drag_dest_add_uri_targets (GTK_WIDGET (self));
  g_signal_connect (self, "drag-data-received", G_CALLBACK (drag_data_received_cb), NULL);
  update_empty (self);
}

static void
session_opened_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeSession) session =
    pinhole_client_open_session_finish (PINHOLE_CLIENT (source), result, &error);

  /* the path indicator says where it stands; a message still goes stored for offline */
  if (session == NULL)
    g_debug ("no session yet: %s", error->message);
}

/* an open conversation with an online contact has a session, so that the path indicator
 * shows the relay at once and the direct path as soon as the devices find one */
static void
connect_contact (PinholeConversationView *self)
{
  if (self->contact == NULL ||
      pinhole_contact_get_relation (self->contact) != PINHOLE_RELATION_MUTUAL ||
      pinhole_contact_get_presence (self->contact) == PINHOLE_PRESENCE_OFFLINE ||
      pinhole_contact_get_path_kind (self->contact) != PINHOLE_PATH_KIND_NONE ||
      !pinhole_client_is_connected (self->client))
    return;
  pinhole_client_open_session_async (self->client, pinhole_contact_get_user (self->contact),
                                     NULL, session_opened_cb, NULL);
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
  const char *user;
  g_autofree char *hello = NULL;

  g_return_if_fail (PINHOLE_IS_CONVERSATION_VIEW (self));

  if (contact == self->contact)
    return;
  save_draft (self);
  if (self->contact != NULL)
    g_signal_handlers_disconnect_by_data (self->contact, self);
  if (self->conversation != NULL)
    g_signal_handlers_disconnect_by_data (self->conversation, self);
  g_clear_object (&self->conversation);
  if (self->timeline != NULL)
    g_signal_handlers_disconnect_by_data (self->timeline, self);
  g_clear_object (&self->timeline);
  g_clear_object (&self->window);
  g_clear_object (&self->anchor);
  g_clear_handle_id (&self->shift_id, g_source_remove);
  g_set_object (&self->contact, contact);
  g_set_object (&self->client, client);
  pinhole_path_button_set_contact (self->path_button, client, contact);
  gtk_info_bar_set_revealed (self->error_bar, FALSE);
  self->stick_bottom = TRUE;
  self->keeping = FALSE;
  if (contact == NULL)
    {
      pinhole_message_list_bind (self->messages_box, NULL, NULL);
      gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), "", 0);
      update_empty (self);
      update_loading (self);
      update_jump (self);
      return;
    }
  user = pinhole_contact_get_user (contact);
  self->conversation = g_object_ref (pinhole_client_get_conversation (client, user));
  gtk_label_set_text (self->title_label, user);
  hello = g_strdup_printf (_("Say hello to %s"), user);
  hdy_status_page_set_description (self->empty_page, hello);
  self->window = pinhole_message_window_new (G_LIST_MODEL (self->conversation), WINDOW_ROWS);
  self->timeline = pinhole_timeline_new (self->window, pinhole_client_get_transfers (client),
                                         user);
  pinhole_message_list_bind (self->messages_box, G_LIST_MODEL (self->timeline), user);
  pinhole_message_window_show_latest (self->window, OPEN_ROWS);
  g_signal_connect_object (self->timeline, "items-changed", G_CALLBACK (update_empty), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "items-changed", G_CALLBACK (messages_changed_cb),
                           self, G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  g_signal_connect_object (self->conversation, "notify::has-older", G_CALLBACK (update_loading),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (contact, "notify::key-state", G_CALLBACK (update_key_state), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (contact, "notify::presence", G_CALLBACK (connect_contact), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (contact, "notify::verified", G_CALLBACK (update_key_state), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (contact, "notify::relation", G_CALLBACK (connect_contact), self,
                           G_CONNECT_SWAPPED);
  update_key_state (self);
  update_empty (self);
  update_loading (self);
  update_jump (self);
  connect_contact (self);
  draft = g_hash_table_lookup (self->drafts, user);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), draft ? draft : "", -1);
  gtk_widget_grab_focus (GTK_WIDGET (self->text_view));
  mark_read_if_seen (self);
}

/* Returns: (transfer none): the conversation's offline banner, which the window binds */
PinholeOfflineBanner *
pinhole_conversation_view_get_offline_banner (PinholeConversationView *self)
{
  g_return_val_if_fail (PINHOLE_IS_CONVERSATION_VIEW (self), NULL);
  return self->offline_banner;
}

/* Returns: (transfer none): the conversation's header bar, for the window's HdyHeaderGroup */
HdyHeaderBar *
pinhole_conversation_view_get_header_bar (PinholeConversationView *self)
{
  g_return_val_if_fail (PINHOLE_IS_CONVERSATION_VIEW (self), NULL);
  return self->header_bar;
}

void
pinhole_conversation_view_set_show_back (PinholeConversationView *self,
                                         gboolean                 show)
{
  g_return_if_fail (PINHOLE_IS_CONVERSATION_VIEW (self));

  gtk_widget_set_visible (GTK_WIDGET (self->back_button), show);
}
