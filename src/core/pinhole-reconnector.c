/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-reconnector.c: the policy that keeps a client online, shared by `pinhole-cli listen`
 * and the app: log in, and after a lost connection or a failed log-in try again with
 * exponential back-off, or at once when the network comes back; stop at a refusal that
 * retrying cannot fix. */
#define G_LOG_DOMAIN "pinhole-reconnector"

#include "pinhole-reconnector.h"
#include "pinhole-enum-strings.h"
#include "pinhole-error.h"

#include <string.h>

struct _PinholeReconnector
{
  GObject                 parent_instance;

  /* owned */
  PinholeClient          *client;
  char                   *server_url;   /* nullable: the profile's */
  char                   *password;     /* nullable: for a token the server no longer takes */
  GCancellable           *cancellable;  /* the log-in in flight, if any */
  char                   *error;        /* nullable: the last failure */

  /* borrowed: the default monitor lives as long as the process */
  GNetworkMonitor        *monitor;

  gulong                  monitor_id;
  gulong                  disconnected_id;
  guint                   tick;         /* counts retry_seconds down to the next attempt */
  guint                   backoff_s;    /* the wait after the next failure */
  guint                   retry_seconds;
  PinholeConnectionState  state;
  gboolean                running;
};

G_DEFINE_FINAL_TYPE (PinholeReconnector, pinhole_reconnector, G_TYPE_OBJECT)

enum { PROP_0, PROP_STATE, PROP_ERROR, PROP_RETRY_SECONDS, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void connect_now (PinholeReconnector *self);

static void
set_state (PinholeReconnector     *self,
           PinholeConnectionState  state)
{
  if (self->state == state)
    return;
  g_debug ("%s", pinhole_enum_to_nick (PINHOLE_TYPE_CONNECTION_STATE, state));
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
set_error (PinholeReconnector *self,
           const char         *error)
{
  if (g_strcmp0 (self->error, error) == 0)
    return;
  g_free (self->error);
  self->error = g_strdup (error);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
}

static void
set_retry_seconds (PinholeReconnector *self,
                   guint               seconds)
{
  if (self->retry_seconds == seconds)
    return;
  self->retry_seconds = seconds;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RETRY_SECONDS]);
}

static gboolean
tick_cb (gpointer user_data)
{
  PinholeReconnector *self = user_data;

  if (self->retry_seconds > 1)
    {
      set_retry_seconds (self, self->retry_seconds - 1);
      return G_SOURCE_CONTINUE;
    }
  self->tick = 0;
  connect_now (self);
  return G_SOURCE_REMOVE;
}

/* offline because of @error: the next attempt after the back-off, which doubles */
static void
schedule_retry (PinholeReconnector *self,
                const char         *error)
{
  g_clear_handle_id (&self->tick, g_source_remove);
  set_error (self, error);
  set_retry_seconds (self, self->backoff_s);
  self->backoff_s = MIN (self->backoff_s * 2, PINHOLE_RECONNECT_MAX_S);
  self->tick = g_timeout_add (1000, tick_cb, self);
  set_state (self, PINHOLE_CONNECTION_STATE_OFFLINE);
}

/* the server said no, or the certificate is not trusted: only the user can change that */
static gboolean
is_refusal (const GError *error)
{
  return g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH) ||
         g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND) ||
         g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_CERTIFICATE);
}

static void
login_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  PinholeReconnector *self;

  /* cancelled by stop or dispose: self may be gone */
  if (!pinhole_client_login_finish (PINHOLE_CLIENT (source), result, &error) &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = user_data;
  g_clear_object (&self->cancellable);
  if (error == NULL)
    {
      self->backoff_s = PINHOLE_RECONNECT_MIN_S;
      set_error (self, NULL);
      set_state (self, PINHOLE_CONNECTION_STATE_ONLINE);
      return;
    }
  g_debug ("log-in failed: %s", error->message);
  /* a WebSocket that opened before the log-in failed goes too */
  pinhole_client_disconnect (self->client);
  if (is_refusal (error))
    {
      set_error (self, error->message);
      set_state (self, PINHOLE_CONNECTION_STATE_REFUSED);
      return;
    }
  schedule_retry (self, error->message);
}

static void
connect_now (PinholeReconnector *self)
{
  g_clear_handle_id (&self->tick, g_source_remove);
  set_retry_seconds (self, 0);
  if (self->cancellable != NULL)
    return;
  if (pinhole_client_is_connected (self->client))
    {
      set_state (self, PINHOLE_CONNECTION_STATE_ONLINE);
      return;
    }
  set_state (self, PINHOLE_CONNECTION_STATE_CONNECTING);
  self->cancellable = g_cancellable_new ();
  pinhole_client_login_async (self->client, self->server_url, self->password, TRUE,
                              self->cancellable, login_cb, self);
}

static void
disconnected_cb (PinholeClient      *client,
                 const GError       *error,
                 PinholeReconnector *self)
{
  /* while connecting, the log-in's own result decides */
  if (self->state != PINHOLE_CONNECTION_STATE_ONLINE)
    return;
  schedule_retry (self, error->message);
}

static void
network_changed_cb (GNetworkMonitor    *monitor,
                    gboolean            available,
                    PinholeReconnector *self)
{
  /* the network is back: the waiting attempt need not wait */
  if (available && self->state == PINHOLE_CONNECTION_STATE_OFFLINE && self->tick != 0)
    {
      g_debug ("the network changed: trying now");
      connect_now (self);
    }
}

/**
 * pinhole_reconnector_start:
 * Keeps the client logged in (announced to contacts), from now until
 * pinhole_reconnector_stop(). A client that is logged in already is just kept so.
 */
void
pinhole_reconnector_start (PinholeReconnector *self)
{
  g_return_if_fail (PINHOLE_IS_RECONNECTOR (self));

  if (self->running)
    return;
  self->running = TRUE;
  self->backoff_s = PINHOLE_RECONNECT_MIN_S;
  self->disconnected_id = g_signal_connect (self->client, "disconnected",
                                            G_CALLBACK (disconnected_cb), self);
  self->monitor = g_network_monitor_get_default ();
  self->monitor_id = g_signal_connect (self->monitor, "network-changed",
                                       G_CALLBACK (network_changed_cb), self);
  connect_now (self);
}

static void
stop_watching (PinholeReconnector *self)
{
  self->running = FALSE;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->tick, g_source_remove);
  g_clear_signal_handler (&self->disconnected_id, self->client);
  g_clear_signal_handler (&self->monitor_id, self->monitor);
}

/**
 * pinhole_reconnector_stop:
 * Goes offline: cancels the attempt in flight or the one waiting, and disconnects the client.
 */
void
pinhole_reconnector_stop (PinholeReconnector *self)
{
  g_return_if_fail (PINHOLE_IS_RECONNECTOR (self));

  if (!self->running)
    return;
  stop_watching (self);
  pinhole_client_disconnect (self->client);
  set_retry_seconds (self, 0);
  set_error (self, NULL);
  set_state (self, PINHOLE_CONNECTION_STATE_OFFLINE);
}

/**
 * pinhole_reconnector_retry_now:
 * Tries at once instead of waiting for the back-off, e.g. for "Reconnect now" or after the
 * user fixed what was refused (a trusted certificate). Does nothing while online or
 * connecting, or when not started.
 */
void
pinhole_reconnector_retry_now (PinholeReconnector *self)
{
  g_return_if_fail (PINHOLE_IS_RECONNECTOR (self));

  if (!self->running || self->state == PINHOLE_CONNECTION_STATE_ONLINE)
    return;
  connect_now (self);
}

/**
 * pinhole_reconnector_set_password:
 * @password: (nullable): tried when the profile's token is refused, e.g. by a server that lost
 *   it; %NULL (the default) logs in with the token only
 */
void
pinhole_reconnector_set_password (PinholeReconnector *self,
                                  const char         *password)
{
  g_return_if_fail (PINHOLE_IS_RECONNECTOR (self));

  if (self->password != NULL)
    memset (self->password, 0, strlen (self->password));
  g_free (self->password);
  self->password = g_strdup (password);
}

PinholeConnectionState
pinhole_reconnector_get_state (PinholeReconnector *self)
{
  g_return_val_if_fail (PINHOLE_IS_RECONNECTOR (self), PINHOLE_CONNECTION_STATE_OFFLINE);
  return self->state;
}

/* Returns: (transfer none) (nullable): the last failure's message, %NULL once online */
const char *
pinhole_reconnector_get_error (PinholeReconnector *self)
{
  g_return_val_if_fail (PINHOLE_IS_RECONNECTOR (self), NULL);
  return self->error;
}

/* Returns: the seconds until the next attempt, or 0 when none is waiting */
guint
pinhole_reconnector_get_retry_seconds (PinholeReconnector *self)
{
  g_return_val_if_fail (PINHOLE_IS_RECONNECTOR (self), 0);
  return self->retry_seconds;
}

/* Returns: (transfer none) */
PinholeClient *
pinhole_reconnector_get_client (PinholeReconnector *self)
{
  g_return_val_if_fail (PINHOLE_IS_RECONNECTOR (self), NULL);
  return self->client;
}

static void
pinhole_reconnector_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  PinholeReconnector *self = PINHOLE_RECONNECTOR (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_ERROR:
      g_value_set_string (value, self->error);
      break;
    case PROP_RETRY_SECONDS:
      g_value_set_uint (value, self->retry_seconds);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pinhole_reconnector_dispose (GObject *object)
{
  PinholeReconnector *self = PINHOLE_RECONNECTOR (object);

  if (self->client != NULL)
    stop_watching (self);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (pinhole_reconnector_parent_class)->dispose (object);
}

static void
pinhole_reconnector_finalize (GObject *object)
{
  PinholeReconnector *self = PINHOLE_RECONNECTOR (object);

  pinhole_reconnector_set_password (self, NULL);
  g_free (self->server_url);
  g_free (self->error);
  G_OBJECT_CLASS (pinhole_reconnector_parent_class)->finalize (object);
}

static void
pinhole_reconnector_class_init (PinholeReconnectorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->get_property = pinhole_reconnector_get_property;
  object_class->dispose = pinhole_reconnector_dispose;
  object_class->finalize = pinhole_reconnector_finalize;

  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, PINHOLE_TYPE_CONNECTION_STATE,
                       PINHOLE_CONNECTION_STATE_OFFLINE, flags);
  properties[PROP_ERROR] = g_param_spec_string ("error", NULL, NULL, NULL, flags);
  properties[PROP_RETRY_SECONDS] =
    g_param_spec_uint ("retry-seconds", NULL, NULL, 0, PINHOLE_RECONNECT_MAX_S, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pinhole_reconnector_init (PinholeReconnector *self)
{
  self->backoff_s = PINHOLE_RECONNECT_MIN_S;
}

/**
 * pinhole_reconnector_new:
 * @server_url: (nullable): the server, or %NULL for the profile's (the usual case)
 * Returns: (transfer full): a reconnector for @client, not started
 */
PinholeReconnector *
pinhole_reconnector_new (PinholeClient *client,
                         const char    *server_url)
{
  PinholeReconnector *self;

  g_return_val_if_fail (PINHOLE_IS_CLIENT (client), NULL);

  self = g_object_new (PINHOLE_TYPE_RECONNECTOR, NULL);
  self->client = g_object_ref (client);
  self->server_url = g_strdup (server_url);
  return self;
}
