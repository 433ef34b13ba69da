/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-transfer-card.c: a transfer as a card in the conversation, on the side of whoever
 * sends: what is offered and its size, then by state: an offer to us (Accept into Downloads,
 * Decline, Save As… another folder), ours waiting for an answer (Cancel), a running one (the
 * progress, speed, time left and the path in the header's words; Pause or Resume, Cancel),
 * and at the end Open and Show in Folder, or a sentence on why it ended. It calls the
 * transfer's own accept/decline/pause/resume/cancel and binds to its notifying properties. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-transfer-card.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pinhole-transfer-text.h"

struct _PinholeTransferCard
{
  GtkListBoxRow         parent_instance;

  /* template children */
  GtkWidget            *card;
  GtkImage             *icon;
  GtkLabel             *title_label;
  GtkLabel             *size_label;
  GtkLabel             *status_label;
  GtkWidget            *progress_box;
  GtkProgressBar       *progress_bar;
  GtkLabel             *progress_label;
  GtkLabel             *path_label;
  GtkWidget            *save_as_button;
  GtkWidget            *decline_button;
  GtkWidget            *accept_button;
  GtkWidget            *pause_button;
  GtkImage             *pause_image;
  GtkWidget            *cancel_button;
  GtkWidget            *show_button;
  GtkWidget            *open_button;

  /* owned */
  PinholeTransfer      *transfer;
  GtkFileChooserNative *chooser;     /* Save As…, while open */
  char                 *title;
  char                 *problem;     /* why our own accept did not start, a sentence */
  guint                 progress_id; /* the next redraw of the numbers, while one waits */

  gboolean              ours;
  gboolean              accepting;   /* the folder is being made */
  gboolean              named;       /* the accessible exists and has its name */
};

G_DEFINE_FINAL_TYPE (PinholeTransferCard, pinhole_transfer_card, GTK_TYPE_LIST_BOX_ROW)

#define PROGRESS_INTERVAL_MS 200

/* Returns: (transfer full): where Accept saves: the XDG Downloads folder, else home */
char *
pinhole_transfer_card_dup_default_folder (void)
{
  const char *downloads = g_get_user_special_dir (G_USER_DIRECTORY_DOWNLOAD);

  return g_strdup (downloads != NULL ? downloads : g_get_home_dir ());
}

static const char *
peer (PinholeTransferCard *self)
{
  const char *p = pinhole_transfer_get_peer (self->transfer);

  return p != NULL ? p : "";
}

static void
update_name (PinholeTransferCard *self)
{
  g_autofree char *status =
    pinhole_transfer_text_status (pinhole_transfer_get_direction (self->transfer),
                                  pinhole_transfer_get_state (self->transfer), peer (self),
                                  pinhole_transfer_get_error (self->transfer));
  g_autofree char *name = NULL;

  /* read as "beach.jpg, from bob: bob wants to send you this" */
  if (self->ours)
    /* Translators: a screen reader's words for a transfer card: what, to whom, its state */
    name = g_strdup_printf (_("%s, to %s: %s"), self->title, peer (self), status);
  else
    /* Translators: a screen reader's words for a transfer card: what, from whom, its state */
    name = g_strdup_printf (_("%s, from %s: %s"), self->title, peer (self), status);
  atk_object_set_name (gtk_widget_get_accessible (GTK_WIDGET (self)), name);
}

static void
update (PinholeTransferCard *self)
{
  PinholeTransferState state = pinhole_transfer_get_state (self->transfer);
  gboolean offered = state == PINHOLE_TRANSFER_STATE_OFFERED ||
                     state == PINHOLE_TRANSFER_STATE_OFFERING;
  gboolean moving = state == PINHOLE_TRANSFER_STATE_RUNNING ||
                    state == PINHOLE_TRANSFER_STATE_PAUSED;
  gboolean paused = state == PINHOLE_TRANSFER_STATE_PAUSED;
  guint64 done = pinhole_transfer_get_bytes_done (self->transfer);
  guint64 total = pinhole_transfer_get_bytes_total (self->transfer);
  g_autofree char *status =
    pinhole_transfer_text_status (pinhole_transfer_get_direction (self->transfer), state,
                                  peer (self), pinhole_transfer_get_error (self->transfer));
  GtkStyleContext *style = gtk_widget_get_style_context (self->card);

  if (self->problem != NULL && offered)
    gtk_label_set_text (self->status_label, self->problem);
  else
    gtk_label_set_text (self->status_label, status);
  if (state == PINHOLE_TRANSFER_STATE_FAILED)
    gtk_style_context_add_class (style, "failed");
  else
    gtk_style_context_remove_class (style, "failed");

  gtk_widget_set_visible (self->progress_box, moving);
  if (moving)
    {
      g_autofree char *numbers =
        pinhole_transfer_text_progress (done, total, pinhole_transfer_get_rate (self->transfer),
                                        paused);
      g_autofree char *path =
        pinhole_transfer_text_path (pinhole_transfer_get_current_path (self->transfer));

      gtk_progress_bar_set_fraction (self->progress_bar,
                                     total > 0 ? (gdouble) done / (gdouble) total : 0);
      gtk_label_set_text (self->progress_label, numbers);
      gtk_label_set_text (self->path_label, path != NULL ? path : "");
      gtk_widget_set_visible (GTK_WIDGET (self->path_label), path != NULL);
      atk_object_set_description (gtk_widget_get_accessible (GTK_WIDGET (self->progress_bar)),
                                  numbers);
    }

  gtk_widget_set_visible (self->accept_button, !self->ours && offered);
  gtk_widget_set_visible (self->decline_button, !self->ours && offered);
  gtk_widget_set_visible (self->save_as_button, !self->ours && offered);
  gtk_widget_set_sensitive (self->accept_button, !self->accepting && self->chooser == NULL);
  gtk_widget_set_sensitive (self->save_as_button, !self->accepting && self->chooser == NULL);
  gtk_widget_set_visible (self->pause_button, moving);
  gtk_widget_set_visible (self->cancel_button, moving || (self->ours && offered));
  gtk_widget_set_visible (self->open_button, state == PINHOLE_TRANSFER_STATE_DONE);
  gtk_widget_set_visible (self->show_button, state == PINHOLE_TRANSFER_STATE_DONE);
  gtk_image_set_from_icon_name (self->pause_image,
                                paused ? "media-playback-start-symbolic"
                                       : "media-playback-pause-symbolic",
                                GTK_ICON_SIZE_BUTTON);
  gtk_widget_set_tooltip_text (self->pause_button, paused ? _("Resume") : _("Pause"));
  {
    g_autofree char *pause_name =
      paused ? g_strdup_printf (_("Resume %s"), self->title)
             : g_strdup_printf (_("Pause %s"), self->title);

    atk_object_set_name (gtk_widget_get_accessible (self->pause_button), pause_name);
  }
  if (self->named)
    update_name (self);
}

static gboolean
progress_cb (gpointer user_data)
{
  PinholeTransferCard *self = user_data;

  self->progress_id = 0;
  update (self);
  return G_SOURCE_REMOVE;
}

/* bytes-done notifies once a block (1 MiB): the numbers are redrawn at most 5 times a second */
static void
bytes_done_cb (PinholeTransferCard *self)
{
  if (self->progress_id == 0)
    self->progress_id = g_timeout_add (PROGRESS_INTERVAL_MS, progress_cb, self);
}

static AtkObject *
pinhole_transfer_card_get_accessible (GtkWidget *widget)
{
  PinholeTransferCard *self = PINHOLE_TRANSFER_CARD (widget);
  AtkObject *accessible =
    GTK_WIDGET_CLASS (pinhole_transfer_card_parent_class)->get_accessible (widget);

  if (!self->named && self->transfer != NULL)
    {
      self->named = TRUE;
      update_name (self);
    }
  return accessible;
}

static GtkWindow *
parent_window (PinholeTransferCard *self)
{
  GtkWidget *toplevel = gtk_widget_get_toplevel (GTK_WIDGET (self));

  return GTK_IS_WINDOW (toplevel) ? GTK_WINDOW (toplevel) : NULL;
}

static void
accept_into (PinholeTransferCard *self,
             const char          *folder)
{
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&self->problem, g_free);
  if (!pinhole_transfer_accept (self->transfer, folder, NULL, &error))
    /* Translators: %s says why, e.g. the offer was taken back meanwhile */
    self->problem = g_strdup_printf (_("Could not accept: %s"), error->message);
  update (self);
}

static void
folder_made_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(PinholeTransferCard) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_file_get_path (G_FILE (source));

  self->accepting = FALSE;
  /* the card went (its conversation closed) while the folder was being made */
  if (self->transfer == NULL)
    return;
  if (!g_file_make_directory_finish (G_FILE (source), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS))
    {
      g_clear_pointer (&self->problem, g_free);
      /* Translators: the first %s is a folder, the second why it cannot be made */
      self->problem = g_strdup_printf (_("Could not make the folder %s: %s"), path,
                                       error->message);
      update (self);
      return;
    }
  accept_into (self, path);
}

static void
accept_clicked_cb (PinholeTransferCard *self)
{
  g_autofree char *folder = pinhole_transfer_card_dup_default_folder ();
  g_autoptr(GFile) file = g_file_new_for_path (folder);

  /* Downloads may not exist yet: made off the main loop, then the offer is accepted */
  self->accepting = TRUE;
  update (self);
  g_file_make_directory_async (file, G_PRIORITY_DEFAULT, NULL, folder_made_cb,
                               g_object_ref (self));
}

static void
chooser_response_cb (PinholeTransferCard *self,
                     gint                 response)
{
  g_autoptr(GtkFileChooserNative) chooser = g_steal_pointer (&self->chooser);
  g_autoptr(GFile) folder = NULL;
  g_autofree char *path = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  path = folder != NULL ? g_file_get_path (folder) : NULL;
  if (path != NULL)
    accept_into (self, path);
  else
    update (self);
}

static void
save_as_clicked_cb (PinholeTransferCard *self)
{
  g_autofree char *downloads = pinhole_transfer_card_dup_default_folder ();

  if (self->chooser != NULL)
    return;
  self->chooser = gtk_file_chooser_native_new (_("Save In"), parent_window (self),
                                               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                               _("_Save Here"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (self->chooser), downloads);
  g_signal_connect_object (self->chooser, "response", G_CALLBACK (chooser_response_cb), self,
                           G_CONNECT_SWAPPED);
  update (self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
decline_clicked_cb (PinholeTransferCard *self)
{
  pinhole_transfer_decline (self->transfer);
}

static void
pause_clicked_cb (PinholeTransferCard *self)
{
  if (pinhole_transfer_get_state (self->transfer) == PINHOLE_TRANSFER_STATE_PAUSED)
    pinhole_transfer_resume (self->transfer);
  else
    pinhole_transfer_pause (self->transfer);
}

static void
cancel_clicked_cb (PinholeTransferCard *self)
{
  pinhole_transfer_cancel (self->transfer);
}

/* Returns: (transfer full) (nullable): what Open opens: the one file, the folder the offer is
 * in ("photos" for photos/a.jpg and photos/2024/b.jpg), else the folder it was saved in or
 * sent from */
static GFile *
main_file (PinholeTransferCard *self)
{
  PinholeManifest *manifest = pinhole_transfer_get_manifest (self->transfer);
  const char *folder = pinhole_transfer_get_folder (self->transfer);
  g_autofree char *common = pinhole_transfer_text_common_folder (manifest);
  g_autofree char *first = NULL;
  g_autofree char *path = NULL;
  guint with_path = 0;

  /* the first entry with a place here (a folder offered has none of its own) */
  for (; with_path < pinhole_manifest_get_n_entries (manifest) && first == NULL; with_path++)
    first = pinhole_transfer_dup_local_path (self->transfer, with_path);
  if (first != NULL)
    with_path--;

  if (common == NULL && pinhole_manifest_get_n_entries (manifest) == 1)
    path = g_strdup (first);
  else if (common != NULL && !self->ours && folder != NULL)
    path = g_build_filename (folder, common, NULL);
  else if (common != NULL && self->ours && first != NULL)
    {
      /* the source of entry 0 ends with its path in the offer: cut that, add the folder */
      const char *rel = pinhole_manifest_get_entry (manifest, with_path)->path;
      g_autofree char *base = g_str_has_suffix (first, rel)
                                ? g_strndup (first, strlen (first) - strlen (rel)) : NULL;

      if (base != NULL)
        path = g_build_filename (*base != '\0' ? base : "/", common, NULL);
    }
  if (path == NULL && !self->ours && folder != NULL)
    path = g_strdup (folder);
  if (path == NULL && self->ours && first != NULL)
    path = g_path_get_dirname (first);
  return path != NULL ? g_file_new_for_path (path) : NULL;
}

static void
show_uri (PinholeTransferCard *self,
          GFile               *file)
{
  g_autofree char *uri = g_file_get_uri (file);
  g_autoptr(GError) error = NULL;

  if (!gtk_show_uri_on_window (parent_window (self), uri, GDK_CURRENT_TIME, &error))
    {
      g_clear_pointer (&self->problem, g_free);
      g_message ("could not open %s: %s", uri, error->message);
      gtk_label_set_text (self->status_label, error->message);
    }
}

static void
open_clicked_cb (PinholeTransferCard *self)
{
  g_autoptr(GFile) file = main_file (self);

  if (file != NULL)
    show_uri (self, file);
}

typedef struct
{
  PinholeTransferCard *self;   /* owned */
  GFile               *file;   /* owned */
} ShowData;

static void
show_data_free (ShowData *data)
{
  g_object_unref (data->self);
  g_object_unref (data->file);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ShowData, show_data_free)

/* no file manager answered: the folder itself, in whatever opens folders */
static void
show_folder_instead (ShowData *data)
{
  g_autoptr(GFile) parent = g_file_get_parent (data->file);

  show_uri (data->self, parent != NULL ? parent : data->file);
}

static void
shown_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(ShowData) data = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  if (reply == NULL)
    {
      g_debug ("no file manager to show the file: %s", error->message);
      show_folder_instead (data);
    }
}

static void
bus_cb (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  g_autoptr(ShowData) data = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = g_bus_get_finish (result, &error);
  g_autofree char *uri = g_file_get_uri (data->file);
  const char *uris[] = { uri, NULL };

  if (bus == NULL)
    {
      show_folder_instead (data);
      return;
    }
  /* the file selected in its folder: the freedesktop.org file manager interface */
  g_dbus_connection_call (bus, "org.freedesktop.FileManager1", "/org/freedesktop/FileManager1",
                          "org.freedesktop.FileManager1", "ShowItems",
                          g_variant_new ("(^ass)", uris, ""), NULL, G_DBUS_CALL_FLAGS_NONE,
                          5000, NULL, shown_cb, g_steal_pointer (&data));
}

static void
show_clicked_cb (PinholeTransferCard *self)
{
  g_autoptr(GFile) file = main_file (self);
  ShowData *data;

  if (file == NULL)
    return;
  data = g_new0 (ShowData, 1);
  data->self = g_object_ref (self);
  data->file = g_steal_pointer (&file);
  g_bus_get (G_BUS_TYPE_SESSION, NULL, bus_cb, data);
}

static void
pinhole_transfer_card_dispose (GObject *object)
{
  PinholeTransferCard *self = PINHOLE_TRANSFER_CARD (object);

  if (self->chooser != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->chooser, self);
      gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
      g_clear_object (&self->chooser);
    }
  g_clear_handle_id (&self->progress_id, g_source_remove);
  g_clear_object (&self->transfer);
  G_OBJECT_CLASS (pinhole_transfer_card_parent_class)->dispose (object);
}

static void
pinhole_transfer_card_finalize (GObject *object)
{
  PinholeTransferCard *self = PINHOLE_TRANSFER_CARD (object);

  g_free (self->title);
  g_free (self->problem);
  G_OBJECT_CLASS (pinhole_transfer_card_parent_class)->finalize (object);
}

static void
pinhole_transfer_card_class_init (PinholeTransferCardClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pinhole_transfer_card_dispose;
  object_class->finalize = pinhole_transfer_card_finalize;
  widget_class->get_accessible = pinhole_transfer_card_get_accessible;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-transfer-card.ui");
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, card);
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, icon);
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, title_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, size_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, status_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, progress_box);
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, progress_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, path_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, save_as_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, decline_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, accept_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, pause_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, pause_image);
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, show_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeTransferCard, open_button);
  gtk_widget_class_bind_template_callback (widget_class, accept_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, decline_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, save_as_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, pause_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, cancel_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, open_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, show_clicked_cb);
}

static void
pinhole_transfer_card_init (PinholeTransferCard *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

static void
name_button (GtkWidget  *button,
             const char *format,
             const char *title)
{
  g_autofree char *name = g_strdup_printf (format, title);

  atk_object_set_name (gtk_widget_get_accessible (button), name);
}

static GIcon *
icon_for (PinholeManifest *manifest)
{
  gint main = pinhole_transfer_text_main_entry (manifest);
  g_autofree char *common = pinhole_transfer_text_common_folder (manifest);
  PinholeManifestEntry *e;
  g_autofree char *type = NULL;

  if (common != NULL)
    return g_themed_icon_new ("folder-symbolic");
  if (main < 0)
    return g_themed_icon_new ("folder-documents-symbolic");
  e = pinhole_manifest_get_entry (manifest, (guint) main);
  if (e->folder)
    return g_themed_icon_new ("folder-symbolic");
  /* by the name only: nothing is read to guess it */
  type = g_content_type_guess (e->path, NULL, 0, NULL);
  return g_content_type_get_symbolic_icon (type);
}

GtkWidget *
pinhole_transfer_card_new (PinholeTransfer *transfer)
{
  PinholeTransferCard *self = g_object_new (PINHOLE_TYPE_TRANSFER_CARD, NULL);
  PinholeManifest *manifest = pinhole_transfer_get_manifest (transfer);
  g_autofree char *size = pinhole_transfer_text_size (manifest);
  g_autoptr(GIcon) icon = icon_for (manifest);
  const char *side;

  self->transfer = g_object_ref (transfer);
  self->ours = pinhole_transfer_get_direction (transfer) == PINHOLE_TRANSFER_DIRECTION_OUTGOING;
  self->title = pinhole_transfer_text_title (manifest);
  side = self->ours ? "outgoing" : "incoming";
  gtk_style_context_add_class (gtk_widget_get_style_context (self->card), side);
  gtk_style_context_add_class (gtk_widget_get_style_context (GTK_WIDGET (self)), side);
  gtk_widget_set_halign (self->card, self->ours ? GTK_ALIGN_END : GTK_ALIGN_START);
  gtk_label_set_text (self->title_label, self->title);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->title_label), self->title);
  gtk_label_set_text (self->size_label, size);
  gtk_image_set_from_gicon (self->icon, icon, GTK_ICON_SIZE_DND);
  /* Translators: the accessible names of a transfer card's buttons; %s is what is offered */
  name_button (self->accept_button, _("Accept %s"), self->title);
  name_button (self->decline_button, _("Decline %s"), self->title);
  name_button (self->save_as_button, _("Save %s in another folder"), self->title);
  name_button (self->cancel_button, _("Cancel %s"), self->title);
  name_button (self->open_button, _("Open %s"), self->title);
  name_button (self->show_button, _("Show %s in its folder"), self->title);
  g_signal_connect_object (transfer, "notify::state", G_CALLBACK (update), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (transfer, "notify::bytes-done", G_CALLBACK (bytes_done_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (transfer, "notify::bytes-total", G_CALLBACK (update), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (transfer, "notify::rate", G_CALLBACK (update), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (transfer, "notify::error", G_CALLBACK (update), self,
                           G_CONNECT_SWAPPED);
  update (self);
  return GTK_WIDGET (self);
}

PinholeTransfer *
pinhole_transfer_card_get_transfer (PinholeTransferCard *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER_CARD (self), NULL);
  return self->transfer;
}
