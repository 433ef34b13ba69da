/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-device.c: PinholeDevice, the object and its properties. The session lives in
 * pinhole-device-session.c, the direct path search in pinhole-device-direct.c. */
#define G_LOG_DOMAIN "pinhole-device"

#include "pinhole-device-private.h"
#include "pinhole-enum-strings.h"

G_DEFINE_FINAL_TYPE (PinholeDevice, pinhole_device, G_TYPE_OBJECT)

GParamSpec *_pinhole_device_props[PINHOLE_DEVICE_N_PROPS];

enum { SIGNAL_FRAME_RECEIVED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
pinhole_device_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  PinholeDevice *self = PINHOLE_DEVICE (object);

  switch (prop_id)
    {
    case PINHOLE_DEVICE_PROP_USER: g_value_set_string (value, self->user); break;
    case PINHOLE_DEVICE_PROP_NAME: g_value_set_string (value, self->name); break;
    case PINHOLE_DEVICE_PROP_PRESENCE: g_value_set_enum (value, self->presence); break;
    case PINHOLE_DEVICE_PROP_KEY_STATE: g_value_set_enum (value, self->key_state); break;
    case PINHOLE_DEVICE_PROP_SESSION: g_value_set_object (value, self->session); break;
    case PINHOLE_DEVICE_PROP_PATH_KIND: g_value_set_enum (value, self->path_kind); break;
    case PINHOLE_DEVICE_PROP_RTT_MS: g_value_set_double (value, self->rtt_ms); break;
    case PINHOLE_DEVICE_PROP_REMOTE: g_value_set_string (value, self->remote); break;
    case PINHOLE_DEVICE_PROP_RELAY_REASON:
      g_value_set_enum (value, pinhole_device_get_relay_reason (self));
      break;
    case PINHOLE_DEVICE_PROP_RELAY_REASON_TEXT:
      g_value_set_string (value, pinhole_device_get_relay_reason_text (self));
      break;
    case PINHOLE_DEVICE_PROP_NAT: g_value_set_boxed (value, pinhole_device_get_nat (self)); break;
    case PINHOLE_DEVICE_PROP_VERIFIED: g_value_set_boolean (value, self->verified); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pinhole_device_dispose (GObject *object)
{
  PinholeDevice *self = PINHOLE_DEVICE (object);
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED,
                                                 "the client closed");

  _pinhole_device_forget (self, error);
  G_OBJECT_CLASS (pinhole_device_parent_class)->dispose (object);
}

static void
pinhole_device_finalize (GObject *object)
{
  PinholeDevice *self = PINHOLE_DEVICE (object);

  g_ptr_array_unref (self->waiters);
  g_free (self->user);
  g_free (self->name);
  g_free (self->id);
  g_clear_pointer (&self->key, g_bytes_unref);
  g_free (self->remote);
  g_free (self->relay_detail);
  G_OBJECT_CLASS (pinhole_device_parent_class)->finalize (object);
}

static void
pinhole_device_class_init (PinholeDeviceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamSpec **p = _pinhole_device_props;
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->get_property = pinhole_device_get_property;
  object_class->dispose = pinhole_device_dispose;
  object_class->finalize = pinhole_device_finalize;

  p[PINHOLE_DEVICE_PROP_USER] = g_param_spec_string ("user", NULL, NULL, NULL, flags);
  p[PINHOLE_DEVICE_PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, flags);
  p[PINHOLE_DEVICE_PROP_PRESENCE] =
    g_param_spec_enum ("presence", NULL, NULL, PINHOLE_TYPE_PRESENCE, PINHOLE_PRESENCE_OFFLINE,
                       flags);
  p[PINHOLE_DEVICE_PROP_KEY_STATE] =
    g_param_spec_enum ("key-state", NULL, NULL, PINHOLE_TYPE_KEY_STATE,
                       PINHOLE_KEY_STATE_UNVERIFIED, flags);
  /* a new session (after either side lost its state) notifies as well */
  p[PINHOLE_DEVICE_PROP_SESSION] =
    g_param_spec_object ("session", NULL, NULL, PINHOLE_TYPE_SESSION, flags);
  p[PINHOLE_DEVICE_PROP_PATH_KIND] =
    g_param_spec_enum ("path-kind", NULL, NULL, PINHOLE_TYPE_PATH_KIND, PINHOLE_PATH_KIND_NONE,
                       flags);
  /* the latest round trip on the session, -1 when unknown */
  p[PINHOLE_DEVICE_PROP_RTT_MS] =
    g_param_spec_double ("rtt-ms", NULL, NULL, -1, G_MAXDOUBLE, -1, flags);
  p[PINHOLE_DEVICE_PROP_REMOTE] = g_param_spec_string ("remote", NULL, NULL, NULL, flags);
  p[PINHOLE_DEVICE_PROP_RELAY_REASON] =
    g_param_spec_enum ("relay-reason", NULL, NULL, PINHOLE_TYPE_RELAY_REASON,
                       PINHOLE_RELAY_REASON_NONE, flags);
  p[PINHOLE_DEVICE_PROP_RELAY_REASON_TEXT] =
    g_param_spec_string ("relay-reason-text", NULL, NULL, NULL, flags);
  /* what the device said of its network, or %NULL before it said */
  p[PINHOLE_DEVICE_PROP_NAT] =
    g_param_spec_boxed ("nat", NULL, NULL, PINHOLE_TYPE_NAT_INFO, flags);
  /* the user compared the key's safety number and marked it verified; cleared when the
   * device's key changes (pinhole_client_set_verified()) */
  p[PINHOLE_DEVICE_PROP_VERIFIED] =
    g_param_spec_boolean ("verified", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, PINHOLE_DEVICE_N_PROPS, p);

  /* (channel, payload): a frame of the session on a channel the device does not handle
   * itself (everything but control) */
  signals[SIGNAL_FRAME_RECEIVED] =
    g_signal_new ("frame-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_BYTES);
}

static void
pinhole_device_init (PinholeDevice *self)
{
  g_queue_init (&self->outbox);
  self->waiters = g_ptr_array_new_with_free_func (g_object_unref);
  self->path_kind = PINHOLE_PATH_KIND_NONE;
  self->rtt_ms = -1;
  self->key_state = PINHOLE_KEY_STATE_UNVERIFIED;
}

PinholeDevice *
_pinhole_device_new (PinholeClient *client,
                     const char    *user,
                     const char    *name,
                     GBytes        *key)
{
  PinholeDevice *self = g_object_new (PINHOLE_TYPE_DEVICE, NULL);

  self->client = client;
  self->user = g_strdup (user);
  self->name = g_strdup (name);
  self->id = g_strconcat (user, "/", name, NULL);
  self->key = g_bytes_ref (key);
  _pinhole_device_refresh_key_state (self);
  return self;
}

void
_pinhole_device_emit_frame (PinholeDevice *self,
                            guint          channel,
                            GBytes        *payload)
{
  g_signal_emit (self, signals[SIGNAL_FRAME_RECEIVED], 0, channel, payload);
}

static void
notify (PinholeDevice *self,
        guint          prop)
{
  g_object_notify_by_pspec (G_OBJECT (self), _pinhole_device_props[prop]);
}

void
_pinhole_device_set_key (PinholeDevice *self,
                         GBytes        *key)
{
  if (!g_bytes_equal (self->key, key))
    {
      g_bytes_unref (self->key);
      self->key = g_bytes_ref (key);
    }
  _pinhole_device_refresh_key_state (self);
}

/* the key state and the verified mark, as the profile has them for the device's key now */
void
_pinhole_device_refresh_key_state (PinholeDevice *self)
{
  PinholeProfile *profile = pinhole_client_get_profile (self->client);
  PinholeKeyState state = pinhole_profile_peek_key (profile, self->user, self->name, self->key);
  gboolean verified = pinhole_profile_get_verified (profile, self->user, self->name, self->key);

  g_object_freeze_notify (G_OBJECT (self));
  if (state != self->key_state)
    {
      self->key_state = state;
      notify (self, PINHOLE_DEVICE_PROP_KEY_STATE);
    }
  if (verified != self->verified)
    {
      self->verified = verified;
      notify (self, PINHOLE_DEVICE_PROP_VERIFIED);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

void
_pinhole_device_set_presence (PinholeDevice   *self,
                              PinholePresence  presence)
{
  if (self->presence == presence)
    return;
  self->presence = presence;
  if (presence == PINHOLE_PRESENCE_OFFLINE)
    self->transfer_retries = 0;   /* it starts afresh when it is back */
  notify (self, PINHOLE_DEVICE_PROP_PRESENCE);
  /* back on the server while our session with it lives on a direct path */
  if (presence != PINHOLE_PRESENCE_OFFLINE)
    _pinhole_device_resume_relay (self);
}

/* the session's path, RTT and far end, as properties that notify when they change */
void
_pinhole_device_update_path (PinholeDevice *self)
{
  PinholeSession *s = self->session;
  PinholePath *path = s && pinhole_session_get_state (s) == PINHOLE_SESSION_STATE_ESTABLISHED
                      ? pinhole_session_get_path (s) : NULL;
  PinholePathKind kind = path ? pinhole_path_get_kind (path) : PINHOLE_PATH_KIND_NONE;
  gdouble rtt = path ? pinhole_session_get_rtt_ms (s) : -1;
  const char *remote = path ? pinhole_path_get_remote (path) : NULL;

  g_object_freeze_notify (G_OBJECT (self));
  if (kind != self->path_kind)
    {
      self->path_kind = kind;
      notify (self, PINHOLE_DEVICE_PROP_PATH_KIND);
      notify (self, PINHOLE_DEVICE_PROP_RELAY_REASON);
      notify (self, PINHOLE_DEVICE_PROP_RELAY_REASON_TEXT);
    }
  if (rtt != self->rtt_ms)
    {
      self->rtt_ms = rtt;
      notify (self, PINHOLE_DEVICE_PROP_RTT_MS);
    }
  if (g_strcmp0 (remote, self->remote) != 0)
    {
      g_free (self->remote);
      self->remote = g_strdup (remote);
      notify (self, PINHOLE_DEVICE_PROP_REMOTE);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

/* @detail: (nullable): the agent's words with CHECKS_FAILED, the system's with NO_SOCKETS */
void
_pinhole_device_set_relay_reason (PinholeDevice      *self,
                                  PinholeRelayReason  reason,
                                  const char         *detail)
{
  if (reason == self->relay_reason && g_strcmp0 (detail, self->relay_detail) == 0)
    return;
  self->relay_reason = reason;
  g_free (self->relay_detail);
  self->relay_detail = g_strdup (detail);
  notify (self, PINHOLE_DEVICE_PROP_RELAY_REASON);
  notify (self, PINHOLE_DEVICE_PROP_RELAY_REASON_TEXT);
}

const char *
pinhole_device_get_user (PinholeDevice *self)
{
  return self->user;
}

/* Returns: the device's name within its user's account */
const char *
pinhole_device_get_name (PinholeDevice *self)
{
  return self->name;
}

/* Returns: "user/device" */
const char *
pinhole_device_get_id (PinholeDevice *self)
{
  return self->id;
}

GBytes *
pinhole_device_get_key (PinholeDevice *self)
{
  return self->key;
}

PinholePresence
pinhole_device_get_presence (PinholeDevice *self)
{
  return self->presence;
}

PinholeKeyState
pinhole_device_get_key_state (PinholeDevice *self)
{
  return self->key_state;
}

gboolean
pinhole_device_get_verified (PinholeDevice *self)
{
  return self->verified;
}

/**
 * pinhole_device_dup_safety_number:
 * The device key's safety number (pinhole_fingerprint_for_key()): twelve groups of five
 * digits, the same number the device shows of itself (pinhole_client_dup_safety_number()).
 * For a changed key it is the new key's, to compare before trusting it.
 *
 * Returns: (transfer full): e.g. "04719 33820 90001 …"
 */
char *
pinhole_device_dup_safety_number (PinholeDevice *self)
{
  g_return_val_if_fail (PINHOLE_IS_DEVICE (self), NULL);
  return pinhole_fingerprint_for_key (self->key);
}

/* Returns: (transfer none) (nullable): the session, established or on its way */
PinholeSession *
pinhole_device_get_session (PinholeDevice *self)
{
  return self->session;
}

gboolean
pinhole_device_is_connected (PinholeDevice *self)
{
  return self->path_kind != PINHOLE_PATH_KIND_NONE;
}

PinholePathKind
pinhole_device_get_path_kind (PinholeDevice *self)
{
  return self->path_kind;
}

gdouble
pinhole_device_get_rtt_ms (PinholeDevice *self)
{
  return self->rtt_ms;
}

/* Returns: (nullable): the far end of the path: "203.0.113.7:41000", or "server" */
const char *
pinhole_device_get_remote (PinholeDevice *self)
{
  return self->remote;
}

/* Returns: why the session is on the relay; NONE when it is direct or there is none */
PinholeRelayReason
pinhole_device_get_relay_reason (PinholeDevice *self)
{
  if (self->path_kind != PINHOLE_PATH_KIND_RELAY)
    return PINHOLE_RELAY_REASON_NONE;
  return self->relay_reason == PINHOLE_RELAY_REASON_NONE ? PINHOLE_RELAY_REASON_NOT_YET
                                                         : self->relay_reason;
}

/* Returns: (nullable): the reason as a sentence, %NULL when not relayed */
const char *
pinhole_device_get_relay_reason_text (PinholeDevice *self)
{
  PinholeRelayReason reason = pinhole_device_get_relay_reason (self);

  if (reason == PINHOLE_RELAY_REASON_NONE)
    return NULL;
  if (self->relay_detail != NULL && reason == self->relay_reason)
    return self->relay_detail;
  return pinhole_enum_to_sentence (PINHOLE_TYPE_RELAY_REASON, reason);
}

/* Returns: (nullable): what the device said of its network */
const PinholeNatInfo *
pinhole_device_get_nat (PinholeDevice *self)
{
  return self->has_peer_nat ? &self->peer_nat : NULL;
}

/* Returns: (transfer full) (element-type utf8) (nullable): the candidate pairs the search
 * checked and their results, one line each; %NULL when there is no search (relay-only, or
 * direct paths off) */
GPtrArray *
pinhole_device_dup_checks (PinholeDevice *self)
{
  return self->agent != NULL ? pinhole_agent_dup_report (self->agent) : NULL;
}
