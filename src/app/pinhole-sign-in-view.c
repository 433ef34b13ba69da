/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-sign-in-view.c: creating an account or signing in. The server address is
 * remembered in GSettings ("wss://host" alone is enough: the client completes the port).
 * Each failure gets its own sentence: wrong password, unknown user, name taken, server
 * unreachable, certificate not trusted (with its fingerprint and a button to trust it). */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-sign-in-view.h"

#include <glib/gi18n.h>
#include <handy.h>

#include "pinhole-error.h"

struct _PinholeSignInView
{
  GtkBox         parent_instance;

  /* template children */
  GtkEntry      *server_entry;
  GtkEntry      *user_entry;
  GtkEntry      *password_entry;
  GtkRevealer   *error_revealer;
  GtkLabel      *error_label;
  GtkRevealer   *certificate_revealer;
  GtkLabel      *fingerprint_label;
  GtkButton     *create_button;
  GtkButton     *sign_in_button;
  GtkSpinner    *spinner;

  /* owned */
  PinholeClient *client;
  GSettings     *settings;
  GCancellable  *cancellable;   /* the attempt under way; cancelled in dispose */
  gboolean       creating;      /* the attempt under way creates the account */
  char          *old_user;      /* the profile as it was before a sign-in attempt */
  char          *old_server;
  char          *old_token;
  GTlsCertificate *rejected;    /* the server's certificate, shown to be trusted or not */
};

G_DEFINE_FINAL_TYPE (PinholeSignInView, pinhole_sign_in_view, GTK_TYPE_BOX)

enum { SIGNAL_SIGNED_IN, N_SIGNALS };
static guint signals[N_SIGNALS];

static gboolean
busy (PinholeSignInView *self)
{
  return self->cancellable != NULL;
}

static void
update_sensitivity (PinholeSignInView *self)
{
  gboolean filled = *gtk_entry_get_text (self->server_entry) != '\0' &&
                    *gtk_entry_get_text (self->user_entry) != '\0' &&
                    *gtk_entry_get_text (self->password_entry) != '\0';

  gtk_widget_set_sensitive (GTK_WIDGET (self->create_button), filled && !busy (self));
  gtk_widget_set_sensitive (GTK_WIDGET (self->sign_in_button), filled && !busy (self));
  gtk_widget_set_sensitive (GTK_WIDGET (self->server_entry), !busy (self));
  gtk_widget_set_sensitive (GTK_WIDGET (self->user_entry), !busy (self));
  gtk_widget_set_sensitive (GTK_WIDGET (self->password_entry), !busy (self));
  g_object_set (self->spinner, "active", busy (self), NULL);
}

static void
show_error (PinholeSignInView *self,
            const char        *text)
{
  gtk_label_set_text (self->error_label, text ? text : "");
  gtk_revealer_set_reveal_child (self->error_revealer, text != NULL);
}

/* the one sentence a person reads for @error */
static char *
describe_error (PinholeSignInView *self,
                const GError      *error)
{
  const char *user = gtk_entry_get_text (self->user_entry);
  const char *server = gtk_entry_get_text (self->server_entry);

  if (error->domain == PINHOLE_ERROR)
    switch (error->code)
      {
      case PINHOLE_ERROR_AUTH:
        return self->creating ? g_strdup (error->message)
                              : g_strdup_printf (_("Wrong password for %s."), user);
      case PINHOLE_ERROR_NOT_FOUND:
        return g_strdup_printf (_("There is no user %s on this server. To make one, choose "
                                  "Create Account."), user);
      case PINHOLE_ERROR_EXISTS:
        return g_strdup_printf (_("The name %s is taken on this server. Choose another, or "
                                  "Sign In if it is yours."), user);
      case PINHOLE_ERROR_PROTOCOL:
        return g_strdup (error->message);
      default:
        break;
      }
  if (g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_CERTIFICATE))
    return g_strdup_printf (_("The certificate of %s is not signed by an authority this "
                              "computer trusts. If you run this server yourself, or its owner "
                              "gave you its fingerprint, compare it with the one below before "
                              "you trust it."), server);
  if (error->domain == G_TLS_ERROR)
    return g_strdup_printf (_("The server’s certificate is not trusted: %s"), error->message);
  if (error->domain == G_IO_ERROR || error->domain == G_RESOLVER_ERROR ||
      g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT) ||
      g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED))
    return g_strdup_printf (_("Cannot reach the server %s: %s"), server, error->message);
  return g_strdup (error->message);
}

static void
restore_profile (PinholeSignInView *self)
{
  PinholeProfile *profile = pinhole_client_get_profile (self->client);

  pinhole_profile_set_setting (profile, "user", self->old_user, NULL);
  pinhole_profile_set_setting (profile, "server", self->old_server, NULL);
  pinhole_profile_set_setting (profile, "token", self->old_token, NULL);
}

static void
finish_attempt (PinholeSignInView *self,
                GError            *error)
{
  g_clear_object (&self->cancellable);
  if (error != NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error != NULL)
    {
      g_autofree char *text = describe_error (self, error);

      if (!self->creating)
        restore_profile (self);
      pinhole_client_disconnect (self->client);
      show_error (self, text);
      g_clear_object (&self->rejected);
      if (g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_CERTIFICATE))
        self->rejected = pinhole_client_dup_rejected_certificate (self->client);
      if (self->rejected != NULL)
        {
          g_autofree char *fingerprint = pinhole_certificate_dup_fingerprint (self->rejected);
          g_autofree char *line = g_strdup_printf (_("SHA-256 fingerprint: %s"), fingerprint);

          gtk_label_set_text (self->fingerprint_label, line);
        }
      gtk_revealer_set_reveal_child (self->certificate_revealer, self->rejected != NULL);
      update_sensitivity (self);
      gtk_widget_grab_focus (GTK_WIDGET (error->code == PINHOLE_ERROR_AUTH
                                         ? self->password_entry : self->user_entry));
      return;
    }
  g_settings_set_string (self->settings, "server-url", gtk_entry_get_text (self->server_entry));
  g_settings_set_string (self->settings, "last-user", gtk_entry_get_text (self->user_entry));
  gtk_entry_set_text (self->password_entry, "");
  update_sensitivity (self);
  g_signal_emit (self, signals[SIGNAL_SIGNED_IN], 0);
}

static void
register_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(PinholeSignInView) self = user_data;
  g_autoptr(GError) error = NULL;

  pinhole_client_register_finish (PINHOLE_CLIENT (source), result, &error);
  finish_attempt (self, error);
}

static void
login_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(PinholeSignInView) self = user_data;
  g_autoptr(GError) error = NULL;

  pinhole_client_login_finish (PINHOLE_CLIENT (source), result, &error);
  finish_attempt (self, error);
}

static void
start_attempt (PinholeSignInView *self,
               gboolean           creating)
{
  PinholeProfile *profile = pinhole_client_get_profile (self->client);
  const char *server = gtk_entry_get_text (self->server_entry);
  const char *user = gtk_entry_get_text (self->user_entry);
  const char *password = gtk_entry_get_text (self->password_entry);
  g_autoptr(GError) error = NULL;

  if (busy (self) || *server == '\0' || *user == '\0' || *password == '\0')
    return;
  show_error (self, NULL);
  gtk_revealer_set_reveal_child (self->certificate_revealer, FALSE);
  self->creating = creating;
  self->cancellable = g_cancellable_new ();
  update_sensitivity (self);
  if (creating)
    {
      pinhole_client_register_async (self->client, server, user, password, self->cancellable,
                                     register_cb, g_object_ref (self));
      return;
    }
  /* signing in binds this profile, as a further device, to the account (like `pinhole-cli
   * login`); a failure leaves the profile as it was */
  g_free (self->old_user);
  g_free (self->old_server);
  g_free (self->old_token);
  self->old_user = pinhole_profile_dup_setting (profile, "user");
  self->old_server = pinhole_profile_dup_setting (profile, "server");
  self->old_token = pinhole_profile_dup_setting (profile, "token");
  if (!pinhole_profile_set_setting (profile, "user", user, &error) ||
      !pinhole_profile_set_setting (profile, "server", server, &error) ||
      !pinhole_profile_set_setting (profile, "token", NULL, &error))
    {
      finish_attempt (self, error);
      return;
    }
  pinhole_client_login_async (self->client, server, password, TRUE, self->cancellable,
                              login_cb, g_object_ref (self));
}

static void
create_clicked_cb (PinholeSignInView *self)
{
  start_attempt (self, TRUE);
}

static void
sign_in_clicked_cb (PinholeSignInView *self)
{
  start_attempt (self, FALSE);
}

static void
entry_activate_cb (PinholeSignInView *self,
                   GtkEntry          *entry)
{
  if (*gtk_entry_get_text (entry) == '\0')
    return;
  if (entry == self->server_entry)
    gtk_widget_grab_focus (GTK_WIDGET (self->user_entry));
  else if (entry == self->user_entry)
    gtk_widget_grab_focus (GTK_WIDGET (self->password_entry));
  else
    start_attempt (self, FALSE);
}

static void
entry_changed_cb (PinholeSignInView *self)
{
  update_sensitivity (self);
}

/* the user compared the fingerprint: the profile pins this certificate, then tries again */
static void
trust_clicked_cb (PinholeSignInView *self)
{
  g_autoptr(GError) error = NULL;

  if (self->rejected == NULL || busy (self))
    return;
  if (!pinhole_client_trust_certificate (self->client, self->rejected, &error))
    {
      show_error (self, error->message);
      return;
    }
  g_clear_object (&self->rejected);
  gtk_revealer_set_reveal_child (self->certificate_revealer, FALSE);
  start_attempt (self, self->creating);
}

static void
pinhole_sign_in_view_dispose (GObject *object)
{
  PinholeSignInView *self = PINHOLE_SIGN_IN_VIEW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  g_clear_object (&self->settings);
  g_clear_object (&self->rejected);
  G_OBJECT_CLASS (pinhole_sign_in_view_parent_class)->dispose (object);
}

static void
pinhole_sign_in_view_finalize (GObject *object)
{
  PinholeSignInView *self = PINHOLE_SIGN_IN_VIEW (object);

  g_free (self->old_user);
  g_free (self->old_server);
  g_free (self->old_token);
  G_OBJECT_CLASS (pinhole_sign_in_view_parent_class)->finalize (object);
}

static void
pinhole_sign_in_view_class_init (PinholeSignInViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pinhole_sign_in_view_dispose;
  object_class->finalize = pinhole_sign_in_view_finalize;
  signals[SIGNAL_SIGNED_IN] =
    g_signal_new ("signed-in", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-sign-in-view.ui");
  gtk_widget_class_bind_template_child (widget_class, PinholeSignInView, server_entry);
  gtk_widget_class_bind_template_child (widget_class, PinholeSignInView, user_entry);
  gtk_widget_class_bind_template_child (widget_class, PinholeSignInView, password_entry);
  gtk_widget_class_bind_template_child (widget_class, PinholeSignInView, error_revealer);
  gtk_widget_class_bind_template_child (widget_class, PinholeSignInView, error_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeSignInView, certificate_revealer);
  gtk_widget_class_bind_template_child (widget_class, PinholeSignInView, fingerprint_label);
  gtk_widget_class_bind_template_child (widget_class, PinholeSignInView, create_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeSignInView, sign_in_button);
  gtk_widget_class_bind_template_child (widget_class, PinholeSignInView, spinner);
  gtk_widget_class_bind_template_callback (widget_class, create_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, sign_in_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, entry_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, entry_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, trust_clicked_cb);
}

static void
pinhole_sign_in_view_init (PinholeSignInView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  update_sensitivity (self);
}

void
pinhole_sign_in_view_set_client (PinholeSignInView *self,
                                 PinholeClient     *client,
                                 GSettings         *settings,
                                 const char        *server_url)
{
  g_autofree char *saved_server = NULL;
  g_autofree char *saved_user = NULL;

  g_return_if_fail (PINHOLE_IS_SIGN_IN_VIEW (self));

  g_set_object (&self->client, client);
  g_set_object (&self->settings, settings);
  saved_server = g_settings_get_string (settings, "server-url");
  saved_user = g_settings_get_string (settings, "last-user");
  gtk_entry_set_text (self->server_entry, server_url ? server_url : saved_server);
  gtk_entry_set_text (self->user_entry, saved_user);
  update_sensitivity (self);
}
