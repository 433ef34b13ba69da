/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-message.c: one chat message of a PinholeConversation; its state notifies. */
#include "pinhole-message.h"

struct _PinholeMessage
{
  GObject                 parent_instance;
  char                   *id;
  PinholeMessageDirection direction;
  char                   *text;
  gint64                  timestamp;
  PinholeMessageState     state;
  char                   *failure;
};

G_DEFINE_FINAL_TYPE (PinholeMessage, pinhole_message, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_ID,
  PROP_DIRECTION,
  PROP_TEXT,
  PROP_TIMESTAMP,
  PROP_STATE,
  PROP_FAILURE,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

static void
pinhole_message_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  PinholeMessage *self = PINHOLE_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_ID: g_value_set_string (value, self->id); break;
    case PROP_DIRECTION: g_value_set_enum (value, self->direction); break;
    case PROP_TEXT: g_value_set_string (value, self->text); break;
    case PROP_TIMESTAMP: g_value_set_int64 (value, self->timestamp); break;
    case PROP_STATE: g_value_set_enum (value, self->state); break;
    case PROP_FAILURE: g_value_set_string (value, self->failure); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pinhole_message_finalize (GObject *object)
{
  PinholeMessage *self = PINHOLE_MESSAGE (object);

  g_free (self->id);
  g_free (self->text);
  g_free (self->failure);
  G_OBJECT_CLASS (pinhole_message_parent_class)->finalize (object);
}

static void
pinhole_message_class_init (PinholeMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->get_property = pinhole_message_get_property;
  object_class->finalize = pinhole_message_finalize;
  props[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL, flags);
  props[PROP_DIRECTION] = g_param_spec_enum ("direction", NULL, NULL,
                                             PINHOLE_TYPE_MESSAGE_DIRECTION,
                                             PINHOLE_MESSAGE_DIRECTION_OUT, flags);
  props[PROP_TEXT] = g_param_spec_string ("text", NULL, NULL, NULL, flags);
  /* seconds since the epoch, by the sender's clock */
  props[PROP_TIMESTAMP] = g_param_spec_int64 ("timestamp", NULL, NULL, 0, G_MAXINT64, 0, flags);
  props[PROP_STATE] = g_param_spec_enum ("state", NULL, NULL, PINHOLE_TYPE_MESSAGE_STATE,
                                         PINHOLE_MESSAGE_STATE_QUEUED,
                                         flags | G_PARAM_EXPLICIT_NOTIFY);
  /* why a failed message failed, for the person who sent it */
  props[PROP_FAILURE] = g_param_spec_string ("failure", NULL, NULL, NULL,
                                             flags | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
pinhole_message_init (PinholeMessage *self)
{
}

PinholeMessage *
pinhole_message_new (const char              *id,
                     PinholeMessageDirection  direction,
                     const char              *text,
                     gint64                   timestamp,
                     PinholeMessageState      state)
{
  PinholeMessage *self = g_object_new (PINHOLE_TYPE_MESSAGE, NULL);

  self->id = g_strdup (id);
  self->direction = direction;
  self->text = g_strdup (text);
  self->timestamp = timestamp;
  self->state = state;
  return self;
}

const char *
pinhole_message_get_id (PinholeMessage *self)
{
  return self->id;
}

PinholeMessageDirection
pinhole_message_get_direction (PinholeMessage *self)
{
  return self->direction;
}

const char *
pinhole_message_get_text (PinholeMessage *self)
{
  return self->text;
}

gint64
pinhole_message_get_timestamp (PinholeMessage *self)
{
  return self->timestamp;
}

PinholeMessageState
pinhole_message_get_state (PinholeMessage *self)
{
  return self->state;
}

/* Returns: (nullable): why the message failed */
const char *
pinhole_message_get_failure (PinholeMessage *self)
{
  return self->failure;
}

/* @failure: (nullable): with %PINHOLE_MESSAGE_STATE_FAILED, why */
void
pinhole_message_set_state (PinholeMessage      *self,
                           PinholeMessageState  state,
                           const char          *failure)
{
  g_return_if_fail (PINHOLE_IS_MESSAGE (self));
  if (g_strcmp0 (self->failure, failure) != 0)
    {
      g_free (self->failure);
      self->failure = g_strdup (failure);
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_FAILURE]);
    }
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE]);
}
