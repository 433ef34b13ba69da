/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-conversation.c: PinholeConversation, the chat with one contact as a list model.
 * The client makes one per contact on demand and keeps it; its messages come from the
 * profile's history a page at a time, and the client's chat code appends new ones and moves
 * their state as it records them (pinhole-client-chat.c). The unread count comes from the
 * profile's read mark, which pinhole_conversation_mark_read() moves. */
#define G_LOG_DOMAIN "pinhole-chat"

#include "pinhole-client-private.h"
#include "pinhole-conversation.h"
#include "pinhole-enum-strings.h"
#include "pinhole-error.h"

#define FIRST_PAGE 50

struct _PinholeConversation
{
  GObject        parent_instance;
  PinholeClient *client;     /* borrowed: the client owns its conversations */
  char          *user;
  GPtrArray     *messages;   /* PinholeMessage, oldest first */
  GHashTable    *by_key;     /* "in:id" / "out:id" → PinholeMessage (borrowed) */
  gint64         oldest_seq; /* the history cursor; 0 before the first page */
  gboolean       has_older;
  guint          unread;     /* received since the profile's read mark */
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PinholeConversation, pinhole_conversation, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

enum { PROP_0, PROP_USER, PROP_HAS_OLDER, PROP_UNREAD, PROP_LAST_MESSAGE, N_PROPS };
static GParamSpec *props[N_PROPS];

static GType
get_item_type (GListModel *model)
{
  return PINHOLE_TYPE_MESSAGE;
}

static guint
get_n_items (GListModel *model)
{
  return PINHOLE_CONVERSATION (model)->messages->len;
}

static gpointer
get_item (GListModel *model,
          guint       position)
{
  PinholeConversation *self = PINHOLE_CONVERSATION (model);

  if (position >= self->messages->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->messages, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

static char *
message_key (PinholeMessageDirection  direction,
             const char              *id)
{
  return g_strconcat (direction == PINHOLE_MESSAGE_DIRECTION_IN ? "in:" : "out:", id, NULL);
}

static void
pinhole_conversation_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  PinholeConversation *self = PINHOLE_CONVERSATION (object);

  switch (prop_id)
    {
    case PROP_USER: g_value_set_string (value, self->user); break;
    case PROP_HAS_OLDER: g_value_set_boolean (value, self->has_older); break;
    case PROP_UNREAD: g_value_set_uint (value, self->unread); break;
    case PROP_LAST_MESSAGE:
      g_value_set_object (value, pinhole_conversation_get_last_message (self));
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pinhole_conversation_finalize (GObject *object)
{
  PinholeConversation *self = PINHOLE_CONVERSATION (object);

  g_hash_table_unref (self->by_key);
  g_ptr_array_unref (self->messages);
  g_free (self->user);
  G_OBJECT_CLASS (pinhole_conversation_parent_class)->finalize (object);
}

static void
pinhole_conversation_class_init (PinholeConversationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->get_property = pinhole_conversation_get_property;
  object_class->finalize = pinhole_conversation_finalize;
  props[PROP_USER] = g_param_spec_string ("user", NULL, NULL, NULL, flags);
  /* whether the history has messages before the first one in the list */
  props[PROP_HAS_OLDER] = g_param_spec_boolean ("has-older", NULL, NULL, FALSE, flags);
  /* messages received since the last pinhole_conversation_mark_read(), kept in the profile */
  props[PROP_UNREAD] = g_param_spec_uint ("unread", NULL, NULL, 0, G_MAXUINT, 0, flags);
  /* the newest message, for a preview; notifies when one is appended */
  props[PROP_LAST_MESSAGE] = g_param_spec_object ("last-message", NULL, NULL,
                                                  PINHOLE_TYPE_MESSAGE, flags);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
pinhole_conversation_init (PinholeConversation *self)
{
  self->messages = g_ptr_array_new_with_free_func (g_object_unref);
  self->by_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->has_older = TRUE;
}

PinholeConversation *
_pinhole_conversation_new (PinholeClient *client,
                           const char    *user)
{
  PinholeConversation *self = g_object_new (PINHOLE_TYPE_CONVERSATION, NULL);
  g_autoptr(GError) error = NULL;

  self->client = client;
  self->user = g_strdup (user);
  self->unread = pinhole_profile_count_unread (pinhole_client_get_profile (client), user);
  if (pinhole_conversation_load_older (self, FIRST_PAGE, &error) == 0 && error != NULL)
    g_warning ("the history with %s cannot be read: %s", user, error->message);
  return self;
}

const char *
pinhole_conversation_get_user (PinholeConversation *self)
{
  return self->user;
}

gboolean
pinhole_conversation_get_has_older (PinholeConversation *self)
{
  return self->has_older;
}

guint
pinhole_conversation_get_unread (PinholeConversation *self)
{
  g_return_val_if_fail (PINHOLE_IS_CONVERSATION (self), 0);
  return self->unread;
}

/* Returns: (transfer none) (nullable): the newest message in the list */
PinholeMessage *
pinhole_conversation_get_last_message (PinholeConversation *self)
{
  g_return_val_if_fail (PINHOLE_IS_CONVERSATION (self), NULL);
  return self->messages->len > 0 ? g_ptr_array_index (self->messages, self->messages->len - 1)
                                 : NULL;
}

/**
 * pinhole_conversation_mark_read:
 * The user has seen every message so far: `unread` goes to 0, and stays there across restarts
 * until another message arrives.
 */
gboolean
pinhole_conversation_mark_read (PinholeConversation *self,
                                GError             **error)
{
  g_return_val_if_fail (PINHOLE_IS_CONVERSATION (self), FALSE);
  if (self->client != NULL &&
      !pinhole_profile_mark_read (pinhole_client_get_profile (self->client), self->user, error))
    return FALSE;
  if (self->unread != 0)
    {
      self->unread = 0;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_UNREAD]);
    }
  return TRUE;
}

/**
 * pinhole_conversation_load_older:
 * Puts up to @count older messages from the history at the start of the list.
 * Returns: how many came; 0 with @error set when the history cannot be read
 */
guint
pinhole_conversation_load_older (PinholeConversation *self,
                                 guint                count,
                                 GError             **error)
{
  g_autoptr(GPtrArray) page = NULL;
  g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func (g_object_unref);
  guint added_count;
  gboolean was_empty;

  g_return_val_if_fail (PINHOLE_IS_CONVERSATION (self), 0);
  if (!self->has_older || count == 0 || self->client == NULL)
    return 0;
  page = pinhole_profile_list_messages (pinhole_client_get_profile (self->client), self->user,
                                        self->oldest_seq, count, error);
  if (page == NULL)
    return 0;
  for (guint i = 0; i < page->len; i++)
    {
      PinholeHistoryEntry *e = g_ptr_array_index (page, i);
      char *key = message_key (e->direction, e->id);
      PinholeMessage *m;

      if (i == 0)
        self->oldest_seq = e->seq;
      /* one that came live while the page was on disk is in the list already */
      if (g_hash_table_contains (self->by_key, key))
        {
          g_free (key);
          continue;
        }
      m = pinhole_message_new (e->id, e->direction, e->text, e->timestamp, e->state);
      g_hash_table_insert (self->by_key, key, m);
      g_ptr_array_add (added, m);
    }
  if (page->len < count)
    {
      self->has_older = FALSE;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_HAS_OLDER]);
    }
  if (added->len == 0)
    return 0;
  added_count = added->len;
  was_empty = self->messages->len == 0;
  g_ptr_array_extend_and_steal (added, g_steal_pointer (&self->messages));
  self->messages = g_steal_pointer (&added);
  g_list_model_items_changed (G_LIST_MODEL (self), 0, 0, added_count);
  if (was_empty)
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_LAST_MESSAGE]);
  return added_count;
}

/* Returns: (transfer none) (nullable): the outgoing message @id, else the incoming one */
PinholeMessage *
pinhole_conversation_lookup (PinholeConversation *self,
                             const char          *id)
{
  g_autofree char *out = message_key (PINHOLE_MESSAGE_DIRECTION_OUT, id);
  g_autofree char *in = message_key (PINHOLE_MESSAGE_DIRECTION_IN, id);
  PinholeMessage *m = g_hash_table_lookup (self->by_key, out);

  return m != NULL ? m : g_hash_table_lookup (self->by_key, in);
}

/* the client closes; a view may hold the conversation longer */
void
_pinhole_conversation_forget_client (PinholeConversation *self)
{
  self->client = NULL;
}

void
_pinhole_conversation_append (PinholeConversation *self,
                              PinholeMessage      *message)
{
  char *key = message_key (pinhole_message_get_direction (message),
                           pinhole_message_get_id (message));

  if (g_hash_table_contains (self->by_key, key))
    {
      g_free (key);
      return;
    }
  g_hash_table_insert (self->by_key, key, message);
  g_ptr_array_add (self->messages, g_object_ref (message));
  g_object_freeze_notify (G_OBJECT (self));
  if (pinhole_message_get_direction (message) == PINHOLE_MESSAGE_DIRECTION_IN)
    {
      self->unread++;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_UNREAD]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_LAST_MESSAGE]);
  g_list_model_items_changed (G_LIST_MODEL (self), self->messages->len - 1, 0, 1);
  g_object_thaw_notify (G_OBJECT (self));
}

/* ---- sending ---- */

static void
send_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PinholeConversation *self = g_task_get_source_object (task);
  const char *id = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  PinholeMessage *message;

  if (!pinhole_client_send_message_finish (PINHOLE_CLIENT (source), result, NULL, NULL, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  message = pinhole_conversation_lookup (self, id);
  g_task_return_pointer (task, message ? g_object_ref (message) : NULL, g_object_unref);
}

/**
 * pinhole_conversation_send_async:
 * Sends @text to the contact. The message is in the list at once (queued) and completes
 * when it is delivered or stored for offline devices.
 */
void
pinhole_conversation_send_async (PinholeConversation *self,
                                 const char          *text,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  char *id = NULL;

  g_task_set_source_tag (task, pinhole_conversation_send_async);
  if (self->client == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CLOSED, "the client closed");
      g_object_unref (task);
      return;
    }
  _pinhole_client_send_text_async (self->client, self->user, text, &id, cancellable, send_cb,
                                   task);
  g_task_set_task_data (task, id, g_free);
}

/* Returns: (transfer full): the message, delivered or stored */
PinholeMessage *
pinhole_conversation_send_finish (PinholeConversation *self,
                                  GAsyncResult        *result,
                                  GError             **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
retry_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PinholeMessage *message = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!pinhole_client_send_message_finish (PINHOLE_CLIENT (source), result, NULL, NULL, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, g_object_ref (message), g_object_unref);
}

/**
 * pinhole_conversation_retry_async:
 * @failed: a message of this conversation: outgoing, and failed
 *
 * Sends @failed again with the same id (a device that has it already keeps one copy): its
 * state goes back to queued and on as for a new message, in the profile too. Anything but a
 * failed outgoing message of this conversation is refused (PINHOLE_ERROR_NOT_ALLOWED, or
 * PINHOLE_ERROR_NOT_FOUND when it is not in the conversation); when it cannot be sent now
 * (not connected, a key waiting for trust) it stays failed and the error says why.
 */
void
pinhole_conversation_retry_async (PinholeConversation *self,
                                  PinholeMessage      *failed,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *key = NULL;

  g_return_if_fail (PINHOLE_IS_CONVERSATION (self));
  g_return_if_fail (PINHOLE_IS_MESSAGE (failed));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pinhole_conversation_retry_async);
  g_task_set_task_data (task, g_object_ref (failed), g_object_unref);
  key = message_key (pinhole_message_get_direction (failed), pinhole_message_get_id (failed));
  if (self->client == NULL)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CLOSED, "the client closed");
  else if (g_hash_table_lookup (self->by_key, key) != failed)
    g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND,
                             "message %s is not in the conversation with %s",
                             pinhole_message_get_id (failed), self->user);
  else if (pinhole_message_get_direction (failed) != PINHOLE_MESSAGE_DIRECTION_OUT)
    g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED,
                             "message %s was received, not sent: only a failed outgoing "
                             "message can be sent again", pinhole_message_get_id (failed));
  else if (pinhole_message_get_state (failed) != PINHOLE_MESSAGE_STATE_FAILED)
    g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED,
                             "message %s is %s, not failed: only a failed outgoing message "
                             "can be sent again", pinhole_message_get_id (failed),
                             pinhole_enum_to_nick (PINHOLE_TYPE_MESSAGE_STATE,
                                                   pinhole_message_get_state (failed)));
  else
    _pinhole_client_resend_async (self->client, self->user, failed, cancellable, retry_cb,
                                  g_steal_pointer (&task));
}

/* Returns: (transfer full): the message, delivered or stored */
PinholeMessage *
pinhole_conversation_retry_finish (PinholeConversation *self,
                                   GAsyncResult        *result,
                                   GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- the client's side ---- */

/**
 * pinhole_client_get_conversation:
 * Returns: (transfer none): the conversation with @user, made at the first call
 */
PinholeConversation *
pinhole_client_get_conversation (PinholeClient *self,
                                 const char    *user)
{
  PinholeConversation *conversation = g_hash_table_lookup (self->conversations, user);

  if (conversation == NULL)
    {
      conversation = _pinhole_conversation_new (self, user);
      g_hash_table_insert (self->conversations, g_strdup (user), conversation);
    }
  return conversation;
}

/* a message was recorded in the history: its conversation, when there is one, shows it */
void
_pinhole_client_message_recorded (PinholeClient           *self,
                                  const char              *user,
                                  const char              *id,
                                  PinholeMessageDirection  direction,
                                  const char              *text,
                                  gint64                   timestamp,
                                  PinholeMessageState      state)
{
  PinholeConversation *conversation = g_hash_table_lookup (self->conversations, user);
  g_autoptr(PinholeMessage) message = NULL;

  if (conversation == NULL)
    return;
  message = pinhole_message_new (id, direction, text, timestamp, state);
  _pinhole_conversation_append (conversation, message);
}

/* an outgoing message moved on */
void
_pinhole_client_message_state (PinholeClient       *self,
                               const char          *user,
                               const char          *id,
                               PinholeMessageState  state,
                               const char          *failure)
{
  PinholeConversation *conversation = g_hash_table_lookup (self->conversations, user);
  g_autofree char *key = message_key (PINHOLE_MESSAGE_DIRECTION_OUT, id);
  PinholeMessage *message;

  if (conversation == NULL ||
      (message = g_hash_table_lookup (conversation->by_key, key)) == NULL)
    return;
  /* a late "sent" never undoes "delivered" */
  if (state == PINHOLE_MESSAGE_STATE_SENT &&
      pinhole_message_get_state (message) != PINHOLE_MESSAGE_STATE_QUEUED)
    return;
  pinhole_message_set_state (message, state,
                             state == PINHOLE_MESSAGE_STATE_FAILED ? failure : NULL);
}
