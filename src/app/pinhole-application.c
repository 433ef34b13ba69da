/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-application.c: `pinhole`, a GtkApplication (org.pinhole.Pinhole) over one profile.
 * It opens the profile and takes its lock, keeps its client online (PinholeReconnector) and
 * puts it on the session bus as the profile's running instance, so that pinhole-cli commands
 * on the same profile go through this connection. `--profile DIR` runs a separate instance
 * on another profile (for a second account, and for the demo's two windows). */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-application.h"

#include <glib/gi18n.h>
#include <handy.h>

#include "pinhole-instance.h"
#include "pinhole-profile-lock.h"
#include "pinhole-window.h"

struct _PinholeApplication
{
  GtkApplication      parent_instance;

  /* owned */
  char               *profile_dir;
  char               *server_url;    /* --server: what the sign-in view offers */
  PinholeProfile     *profile;
  PinholeProfileLock *lock;
  PinholeClient      *client;
  PinholeReconnector *reconnector;   /* once signed in */
  PinholeInstance    *instance;      /* on the session bus, once started */
  GSettings          *settings;
  GCancellable       *cancellable;   /* cancelled at shutdown */
};

G_DEFINE_FINAL_TYPE (PinholeApplication, pinhole_application, GTK_TYPE_APPLICATION)

static char *
default_profile_dir (void)
{
  const char *env = g_getenv ("PINHOLE_PROFILE");

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  return g_build_filename (g_get_user_data_dir (), "pinhole", "default", NULL);
}

static gint
handle_local_options (GApplication *app,
                      GVariantDict *options)
{
  PinholeApplication *self = PINHOLE_APPLICATION (app);
  const char *dir = NULL;
  const char *server = NULL;

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("pinhole %s\n", PINHOLE_VERSION);
      return 0;
    }
  if (g_variant_dict_lookup (options, "server", "&s", &server))
    self->server_url = g_strdup (server);
  if (g_variant_dict_lookup (options, "profile", "^&ay", &dir))
    {
      /* another profile is another instance: not the default one's window */
      self->profile_dir = g_canonicalize_filename (dir, NULL);
      g_application_set_flags (app, g_application_get_flags (app) | G_APPLICATION_NON_UNIQUE);
    }
  else
    self->profile_dir = default_profile_dir ();
  return -1;
}

static void
instance_started_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* without a session bus the app works alone; CLI commands then log in themselves */
  if (!pinhole_instance_start_finish (PINHOLE_INSTANCE (source), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_message ("not the profile's running instance on the session bus: %s", error->message);
}

/* online again: the accepted incoming transfers the profile kept carry on (those already in
 * the list are left as they are) */
static void
reconnector_state_cb (PinholeApplication *self)
{
  if (pinhole_reconnector_get_state (self->reconnector) == PINHOLE_CONNECTION_STATE_ONLINE)
    pinhole_client_resume_transfers (self->client);
}

static void
start_online (PinholeApplication *self)
{
  g_autofree char *server = pinhole_profile_dup_setting (self->profile, "server");

  if (self->reconnector != NULL)
    return;
  self->reconnector = pinhole_reconnector_new (self->client, server);
  g_signal_connect_object (self->reconnector, "notify::state", G_CALLBACK (reconnector_state_cb),
                           self, G_CONNECT_SWAPPED);
  pinhole_reconnector_start (self->reconnector);
  self->instance = pinhole_instance_new (self->client);
  pinhole_instance_start_async (self->instance, NULL, self->cancellable, instance_started_cb,
                                self);
}

/**
 * pinhole_application_signed_in:
 * The sign-in view bound the profile to an account: from now on the app stays online.
 */
void
pinhole_application_signed_in (PinholeApplication *self)
{
  g_return_if_fail (PINHOLE_IS_APPLICATION (self));

  start_online (self);
}

gboolean
pinhole_application_is_signed_in (PinholeApplication *self)
{
  g_autofree char *token = NULL;

  g_return_val_if_fail (PINHOLE_IS_APPLICATION (self), FALSE);
  if (self->profile == NULL)
    return FALSE;
  token = pinhole_profile_dup_setting (self->profile, "token");
  return token != NULL;
}

static void
show_fatal (PinholeApplication *self,
            const char         *title,
            const char         *detail)
{
  GtkWidget *dialog = gtk_message_dialog_new (NULL, 0, GTK_MESSAGE_ERROR, GTK_BUTTONS_CLOSE,
                                              "%s", title);

  gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (dialog), "%s", detail);
  gtk_window_set_application (GTK_WINDOW (dialog), GTK_APPLICATION (self));
  g_signal_connect (dialog, "response", G_CALLBACK (gtk_widget_destroy), NULL);
  gtk_widget_show (dialog);
}

/* the profile and its lock: one app or listen per profile */
static gboolean
open_profile (PinholeApplication *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *ca_file = NULL;

  if (g_mkdir_with_parents (self->profile_dir, 0700) != 0)
    {
      g_autofree char *detail = g_strdup_printf (_("Could not create the folder %s: %s"),
                                                 self->profile_dir, g_strerror (errno));
      show_fatal (self, _("Pinhole cannot start"), detail);
      return FALSE;
    }
  self->lock = pinhole_profile_lock_acquire (self->profile_dir, &error);
  if (self->lock == NULL)
    {
      show_fatal (self, _("This profile is open elsewhere"), error->message);
      return FALSE;
    }
  self->profile = pinhole_profile_open (self->profile_dir, &error);
  if (self->profile == NULL)
    {
      show_fatal (self, _("Pinhole cannot open its profile"), error->message);
      return FALSE;
    }
  self->client = pinhole_client_new (self->profile);
  pinhole_client_set_direct_paths (self->client, TRUE);
  ca_file = pinhole_profile_dup_setting (self->profile, "ca-file");
  if (ca_file != NULL && !pinhole_client_set_ca_file (self->client, ca_file, &error))
    g_message ("ignoring the profile's CA file: %s", error->message);
  return TRUE;
}

static void
activate (GApplication *app)
{
  PinholeApplication *self = PINHOLE_APPLICATION (app);
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (window == NULL)
    {
      if (self->profile == NULL && !open_profile (self))
        return;
      if (pinhole_application_is_signed_in (self))
        start_online (self);
      window = GTK_WINDOW (pinhole_window_new (self, self->server_url));
    }
  gtk_window_present (window);
}

static void
about_activated (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       user_data)
{
  GtkApplication *app = user_data;
  const char *authors[] = { "The Pinhole developers", NULL };

  gtk_show_about_dialog (gtk_application_get_active_window (app),
                         "program-name", _("Pinhole"),
                         "logo-icon-name", "org.pinhole.Pinhole",
                         "version", PINHOLE_VERSION,
                         "comments", _("Chat with your contacts, directly peer to peer whenever "
                                       "the network allows it"),
                         "license-type", GTK_LICENSE_GPL_3_0,
                         "authors", authors,
                         /* Translators: your names, one per line, for the about dialog */
                         "translator-credits", _("translator-credits"),
                         NULL);
}

static void
quit_activated (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  GList *windows = gtk_application_get_windows (user_data);

  /* closing the windows lets shutdown end the sessions in order */
  while (windows != NULL)
    {
      GList *next = windows->next;
      gtk_widget_destroy (windows->data);
      windows = next;
    }
}

static void
apply_color_scheme (GSettings  *settings,
                    const char *key,
                    gpointer    user_data)
{
  g_autofree char *scheme = g_settings_get_string (settings, "color-scheme");
  HdyColorScheme value = HDY_COLOR_SCHEME_PREFER_LIGHT;

  if (g_strcmp0 (scheme, "dark") == 0)
    value = HDY_COLOR_SCHEME_FORCE_DARK;
  else if (g_strcmp0 (scheme, "light") == 0)
    value = HDY_COLOR_SCHEME_FORCE_LIGHT;
  hdy_style_manager_set_color_scheme (hdy_style_manager_get_default (), value);
}

/* the menu's "Dark Style" check: forces the dark style, or follows the system again */
static void
dark_style_changed (GSimpleAction *action,
                    GVariant      *state,
                    gpointer       user_data)
{
  PinholeApplication *self = user_data;

  g_simple_action_set_state (action, state);
  g_settings_set_string (self->settings, "color-scheme",
                         g_variant_get_boolean (state) ? "dark" : "default");
}

/* a notification's click: the conversation it was about */
static void
open_conversation_activated (GSimpleAction *action,
                             GVariant      *parameter,
                             gpointer       user_data)
{
  PinholeApplication *self = user_data;
  GtkWindow *window;

  g_application_activate (G_APPLICATION (self));
  window = gtk_application_get_active_window (GTK_APPLICATION (self));
  if (PINHOLE_IS_WINDOW (window))
    pinhole_window_open_conversation (PINHOLE_WINDOW (window),
                                      g_variant_get_string (parameter, NULL));
}

static const GActionEntry app_actions[] = {
  { "about", about_activated },
  { "quit", quit_activated },
  { "dark-style", NULL, NULL, "false", dark_style_changed },
  { "open-conversation", open_conversation_activated, "s" },
};

static void
startup (GApplication *app)
{
  PinholeApplication *self = PINHOLE_APPLICATION (app);
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *shortcuts_accels[] = { "<Control>question", NULL };
  static const char *search_accels[] = { "<Control>f", NULL };
  static const char *add_accels[] = { "<Control>n", NULL };
  g_autoptr(GtkCssProvider) css = NULL;

  G_APPLICATION_CLASS (pinhole_application_parent_class)->startup (app);
  hdy_init ();
  /* GTK 3 does not load the resource base path's style.css by itself (libadwaita would) */
  css = gtk_css_provider_new ();
  gtk_css_provider_load_from_resource (css, "/org/pinhole/Pinhole/style.css");
  gtk_style_context_add_provider_for_screen (gdk_screen_get_default (), GTK_STYLE_PROVIDER (css),
                                             GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions, G_N_ELEMENTS (app_actions),
                                   app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.show-help-overlay",
                                         shortcuts_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.search", search_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.add-contact", add_accels);

  self->settings = g_settings_new ("org.pinhole.Pinhole");
  g_signal_connect (self->settings, "changed::color-scheme", G_CALLBACK (apply_color_scheme),
                    self);
  apply_color_scheme (self->settings, "color-scheme", self);
  {
    g_autofree char *scheme = g_settings_get_string (self->settings, "color-scheme");
    g_action_change_state (g_action_map_lookup_action (G_ACTION_MAP (app), "dark-style"),
                           g_variant_new_boolean (g_strcmp0 (scheme, "dark") == 0));
  }
}

static void
shutdown_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  *(gboolean *) user_data = TRUE;
}

static void
shutdown (GApplication *app)
{
  PinholeApplication *self = PINHOLE_APPLICATION (app);

  g_cancellable_cancel (self->cancellable);
  /* what is on its way, and the acknowledgements of what came, go before the connection */
  if (self->client != NULL && pinhole_client_is_connected (self->client))
    {
      gboolean done = FALSE;

      pinhole_client_settle_async (self->client, NULL, shutdown_done_cb, &done);
      while (!done)
        g_main_context_iteration (NULL, TRUE);
    }
  if (self->reconnector != NULL)
    pinhole_reconnector_stop (self->reconnector);
  if (self->instance != NULL)
    {
      gboolean done = FALSE;

      pinhole_instance_stop_async (self->instance, NULL, shutdown_done_cb, &done);
      while (!done)
        g_main_context_iteration (NULL, TRUE);
    }
  if (self->client != NULL && pinhole_client_is_connected (self->client))
    {
      gboolean done = FALSE;

      /* tells the contacts' devices and the server goodbye, bounded by the client */
      pinhole_client_shutdown_async (self->client, NULL, shutdown_done_cb, &done);
      while (!done)
        g_main_context_iteration (NULL, TRUE);
    }
  G_APPLICATION_CLASS (pinhole_application_parent_class)->shutdown (app);
}

static void
pinhole_application_dispose (GObject *object)
{
  PinholeApplication *self = PINHOLE_APPLICATION (object);

  g_clear_object (&self->instance);
  g_clear_object (&self->reconnector);
  g_clear_object (&self->client);
  g_clear_object (&self->profile);
  g_clear_pointer (&self->lock, pinhole_profile_lock_release);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (pinhole_application_parent_class)->dispose (object);
}

static void
pinhole_application_finalize (GObject *object)
{
  PinholeApplication *self = PINHOLE_APPLICATION (object);

  g_free (self->profile_dir);
  g_free (self->server_url);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (pinhole_application_parent_class)->finalize (object);
}

static void
pinhole_application_class_init (PinholeApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = pinhole_application_dispose;
  object_class->finalize = pinhole_application_finalize;
  app_class->handle_local_options = handle_local_options;
  app_class->startup = startup;
  app_class->activate = activate;
  app_class->shutdown = shutdown;
}

static void
pinhole_application_init (PinholeApplication *self)
{
  const GOptionEntry options[] = {
    { "profile", 0, 0, G_OPTION_ARG_FILENAME, NULL,
      N_("Profile folder, one identity each (default: ~/.local/share/pinhole/default)"),
      N_("DIR") },
    { "server", 0, 0, G_OPTION_ARG_STRING, NULL,
      N_("Server address to offer when signing in"), N_("URL") },
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Print the version and exit"), NULL },
    { NULL }
  };

  self->cancellable = g_cancellable_new ();
  g_application_add_main_option_entries (G_APPLICATION (self), options);
}

PinholeApplication *
pinhole_application_new (void)
{
  return g_object_new (PINHOLE_TYPE_APPLICATION,
                       "application-id", "org.pinhole.Pinhole",
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/org/pinhole/Pinhole",
                       NULL);
}

PinholeClient *
pinhole_application_get_client (PinholeApplication *self)
{
  g_return_val_if_fail (PINHOLE_IS_APPLICATION (self), NULL);
  return self->client;
}

/* Returns: (nullable): the reconnector, once signed in */
PinholeReconnector *
pinhole_application_get_reconnector (PinholeApplication *self)
{
  g_return_val_if_fail (PINHOLE_IS_APPLICATION (self), NULL);
  return self->reconnector;
}

GSettings *
pinhole_application_get_settings (PinholeApplication *self)
{
  g_return_val_if_fail (PINHOLE_IS_APPLICATION (self), NULL);
  return self->settings;
}
