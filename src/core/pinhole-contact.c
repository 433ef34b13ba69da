/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-contact.c: PinholeContact. Its own state is the relation and the list of devices;
 * everything else follows the devices: the best presence, the worst key state, whether all
 * are verified, and the path of the current device (the one whose live session has the best
 * path). */
#define G_LOG_DOMAIN "pinhole-contact"

#include "pinhole-contact-private.h"
#include "pinhole-device-private.h"

struct _PinholeContact
{
  GObject          parent_instance;
  char            *user;
  PinholeRelation  relation;
  GListStore      *devices;   /* PinholeDevice */
  PinholeDevice   *current;   /* nullable, one of devices */
  PinholePresence  presence;
  PinholeKeyState  key_state;
  gboolean         verified;
  PinholePathKind  path_kind;
  gdouble          rtt_ms;
  char            *remote;
  PinholeRelayReason relay_reason;
  char            *relay_reason_text;
};

G_DEFINE_FINAL_TYPE (PinholeContact, pinhole_contact, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_USER,
  PROP_RELATION,
  PROP_PRESENCE,
  PROP_DEVICES,
  PROP_CURRENT_DEVICE,
  PROP_PATH_KIND,
  PROP_RTT_MS,
  PROP_REMOTE,
  PROP_RELAY_REASON,
  PROP_RELAY_REASON_TEXT,
  PROP_KEY_STATE,
  PROP_VERIFIED,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

static void
pinhole_contact_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  PinholeContact *self = PINHOLE_CONTACT (object);

  switch (prop_id)
    {
    case PROP_USER: g_value_set_string (value, self->user); break;
    case PROP_RELATION: g_value_set_enum (value, self->relation); break;
    case PROP_PRESENCE: g_value_set_enum (value, self->presence); break;
    case PROP_DEVICES: g_value_set_object (value, self->devices); break;
    case PROP_CURRENT_DEVICE: g_value_set_object (value, self->current); break;
    case PROP_PATH_KIND: g_value_set_enum (value, self->path_kind); break;
    case PROP_RTT_MS: g_value_set_double (value, self->rtt_ms); break;
    case PROP_REMOTE: g_value_set_string (value, self->remote); break;
    case PROP_RELAY_REASON: g_value_set_enum (value, self->relay_reason); break;
    case PROP_RELAY_REASON_TEXT: g_value_set_string (value, self->relay_reason_text); break;
    case PROP_KEY_STATE: g_value_set_enum (value, self->key_state); break;
    case PROP_VERIFIED: g_value_set_boolean (value, self->verified); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
device_changed_cb (PinholeDevice  *device,
                   GParamSpec     *pspec,
                   PinholeContact *self)
{
  _pinhole_contact_refresh (self);
}

static void
disconnect_devices (PinholeContact *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->devices));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(PinholeDevice) d = g_list_model_get_item (G_LIST_MODEL (self->devices), i);
      g_signal_handlers_disconnect_by_data (d, self);
    }
}

static void
pinhole_contact_dispose (GObject *object)
{
  PinholeContact *self = PINHOLE_CONTACT (object);

  if (self->devices != NULL)
    disconnect_devices (self);
  g_clear_object (&self->devices);
  self->current = NULL;
  G_OBJECT_CLASS (pinhole_contact_parent_class)->dispose (object);
}

static void
pinhole_contact_finalize (GObject *object)
{
  PinholeContact *self = PINHOLE_CONTACT (object);

  g_free (self->user);
  g_free (self->remote);
  g_free (self->relay_reason_text);
  G_OBJECT_CLASS (pinhole_contact_parent_class)->finalize (object);
}

static void
pinhole_contact_class_init (PinholeContactClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->get_property = pinhole_contact_get_property;
  object_class->dispose = pinhole_contact_dispose;
  object_class->finalize = pinhole_contact_finalize;

  props[PROP_USER] = g_param_spec_string ("user", NULL, NULL, NULL, flags);
  props[PROP_RELATION] = g_param_spec_enum ("relation", NULL, NULL, PINHOLE_TYPE_RELATION,
                                            PINHOLE_RELATION_NONE, flags);
  props[PROP_PRESENCE] = g_param_spec_enum ("presence", NULL, NULL, PINHOLE_TYPE_PRESENCE,
                                            PINHOLE_PRESENCE_OFFLINE, flags);
  props[PROP_DEVICES] = g_param_spec_object ("devices", NULL, NULL, G_TYPE_LIST_MODEL, flags);
  props[PROP_CURRENT_DEVICE] = g_param_spec_object ("current-device", NULL, NULL,
                                                    PINHOLE_TYPE_DEVICE, flags);
  props[PROP_PATH_KIND] = g_param_spec_enum ("path-kind", NULL, NULL, PINHOLE_TYPE_PATH_KIND,
                                             PINHOLE_PATH_KIND_NONE, flags);
  props[PROP_RTT_MS] = g_param_spec_double ("rtt-ms", NULL, NULL, -1, G_MAXDOUBLE, -1, flags);
  props[PROP_REMOTE] = g_param_spec_string ("remote", NULL, NULL, NULL, flags);
  props[PROP_RELAY_REASON] = g_param_spec_enum ("relay-reason", NULL, NULL,
                                                PINHOLE_TYPE_RELAY_REASON,
                                                PINHOLE_RELAY_REASON_NONE, flags);
  props[PROP_RELAY_REASON_TEXT] = g_param_spec_string ("relay-reason-text", NULL, NULL, NULL,
                                                       flags);
  props[PROP_KEY_STATE] = g_param_spec_enum ("key-state", NULL, NULL, PINHOLE_TYPE_KEY_STATE,
                                             PINHOLE_KEY_STATE_UNVERIFIED, flags);
  /* the contact has a device, and the user verified every one */
  props[PROP_VERIFIED] = g_param_spec_boolean ("verified", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
pinhole_contact_init (PinholeContact *self)
{
  self->devices = g_list_store_new (PINHOLE_TYPE_DEVICE);
  self->path_kind = PINHOLE_PATH_KIND_NONE;
  self->rtt_ms = -1;
  self->key_state = PINHOLE_KEY_STATE_UNVERIFIED;
}

PinholeContact *
_pinhole_contact_new (const char      *user,
                      PinholeRelation  relation)
{
  PinholeContact *self = g_object_new (PINHOLE_TYPE_CONTACT, NULL);

  self->user = g_strdup (user);
  self->relation = relation;
  return self;
}

void
_pinhole_contact_set_relation (PinholeContact  *self,
                               PinholeRelation  relation)
{
  if (self->relation == relation)
    return;
  self->relation = relation;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_RELATION]);
}

/**
 * _pinhole_contact_set_devices:
 * @devices: (element-type PinholeDevice): the devices the roster now lists; the ones that are
 *   no longer there are forgotten (their sessions end)
 */
void
_pinhole_contact_set_devices (PinholeContact *self,
                              GPtrArray      *devices)
{
  GListModel *model = G_LIST_MODEL (self->devices);

  for (guint i = g_list_model_get_n_items (model); i-- > 0;)
    {
      g_autoptr(PinholeDevice) d = g_list_model_get_item (model, i);

      if (!g_ptr_array_find (devices, d, NULL))
        {
          g_autoptr(GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                                                 "%s is no longer a device of %s",
                                                 pinhole_device_get_name (d), self->user);

          g_signal_handlers_disconnect_by_data (d, self);
          _pinhole_device_forget (d, error);
          g_list_store_remove (self->devices, i);
        }
    }
  for (guint i = 0; i < devices->len; i++)
    {
      PinholeDevice *d = g_ptr_array_index (devices, i);

      if (g_list_store_find (self->devices, d, NULL))
        continue;
      g_signal_connect (d, "notify", G_CALLBACK (device_changed_cb), self);
      g_list_store_append (self->devices, d);
    }
  _pinhole_contact_refresh (self);
}

static void
set_string (PinholeContact *self,
            char          **field,
            const char     *value,
            guint           prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), props[prop]);
}

#define SET_FIELD(self, field, value, prop) \
  G_STMT_START { \
    if ((self)->field != (value)) \
      { \
        (self)->field = (value); \
        g_object_notify_by_pspec (G_OBJECT (self), props[prop]); \
      } \
  } G_STMT_END

/* recomputes what follows the devices, notifying what changed */
void
_pinhole_contact_refresh (PinholeContact *self)
{
  GListModel *model = G_LIST_MODEL (self->devices);
  PinholeDevice *current = NULL;
  PinholePresence presence = PINHOLE_PRESENCE_OFFLINE;
  PinholeKeyState key_state = PINHOLE_KEY_STATE_TRUSTED;
  guint n = g_list_model_get_n_items (model);
  gboolean verified = n > 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(PinholeDevice) d = g_list_model_get_item (model, i);

      presence = MAX (presence, pinhole_device_get_presence (d));
      key_state = MAX (key_state, pinhole_device_get_key_state (d));
      verified = verified && pinhole_device_get_verified (d);
      if (pinhole_device_is_connected (d) &&
          (current == NULL ||
           pinhole_device_get_path_kind (d) < pinhole_device_get_path_kind (current)))
        current = d;
    }
  if (n == 0)
    key_state = PINHOLE_KEY_STATE_UNVERIFIED;

  g_object_freeze_notify (G_OBJECT (self));
  SET_FIELD (self, presence, presence, PROP_PRESENCE);
  SET_FIELD (self, key_state, key_state, PROP_KEY_STATE);
  SET_FIELD (self, verified, verified, PROP_VERIFIED);
  SET_FIELD (self, current, current, PROP_CURRENT_DEVICE);
  SET_FIELD (self, path_kind,
             current ? pinhole_device_get_path_kind (current) : PINHOLE_PATH_KIND_NONE,
             PROP_PATH_KIND);
  SET_FIELD (self, rtt_ms, current ? pinhole_device_get_rtt_ms (current) : -1, PROP_RTT_MS);
  set_string (self, &self->remote, current ? pinhole_device_get_remote (current) : NULL,
              PROP_REMOTE);
  SET_FIELD (self, relay_reason,
             current ? pinhole_device_get_relay_reason (current) : PINHOLE_RELAY_REASON_NONE,
             PROP_RELAY_REASON);
  set_string (self, &self->relay_reason_text,
              current ? pinhole_device_get_relay_reason_text (current) : NULL,
              PROP_RELAY_REASON_TEXT);
  g_object_thaw_notify (G_OBJECT (self));
}

const char *
pinhole_contact_get_user (PinholeContact *self)
{
  return self->user;
}

PinholeRelation
pinhole_contact_get_relation (PinholeContact *self)
{
  return self->relation;
}

PinholePresence
pinhole_contact_get_presence (PinholeContact *self)
{
  return self->presence;
}

/* Returns: (transfer none): the contact's devices, a GListModel of PinholeDevice */
GListModel *
pinhole_contact_get_devices (PinholeContact *self)
{
  return G_LIST_MODEL (self->devices);
}

/* Returns: (transfer none) (nullable): the device the conversation uses now */
PinholeDevice *
pinhole_contact_get_current_device (PinholeContact *self)
{
  return self->current;
}

PinholePathKind
pinhole_contact_get_path_kind (PinholeContact *self)
{
  return self->path_kind;
}

gdouble
pinhole_contact_get_rtt_ms (PinholeContact *self)
{
  return self->rtt_ms;
}

const char *
pinhole_contact_get_remote (PinholeContact *self)
{
  return self->remote;
}

PinholeRelayReason
pinhole_contact_get_relay_reason (PinholeContact *self)
{
  return self->relay_reason;
}

const char *
pinhole_contact_get_relay_reason_text (PinholeContact *self)
{
  return self->relay_reason_text;
}

PinholeKeyState
pinhole_contact_get_key_state (PinholeContact *self)
{
  return self->key_state;
}

/* Returns: %TRUE when the contact has devices and the user verified each one's key */
gboolean
pinhole_contact_get_verified (PinholeContact *self)
{
  return self->verified;
}

/* Returns: (transfer none) (nullable) */
PinholeDevice *
pinhole_contact_lookup_device (PinholeContact *self,
                               const char     *device)
{
  GListModel *model = G_LIST_MODEL (self->devices);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(PinholeDevice) d = g_list_model_get_item (model, i);

      if (g_strcmp0 (pinhole_device_get_name (d), device) == 0)
        return d;   /* the store keeps its reference */
    }
  return NULL;
}
