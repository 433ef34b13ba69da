/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-timeline.c: PinholeTimeline, messages and transfer cards in one list. The messages
 * come from the conversation's window (at most 200 rows, pinhole-message-window.c) and the
 * transfers from the client's list of this run, those with one contact; a transfer goes before
 * the first message that is newer than it. A transfer older than the window's first message
 * shows only when the window starts at the oldest one, and one newer than its last only when
 * the window reaches the end, so that the cards move with the messages around them and the
 * list stays bounded. Each change is the rebuilt list compared with the old one: one
 * items-changed for the part between what stayed at both ends. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-timeline.h"

#include "pinhole-message.h"
#include "pinhole-transfer.h"

struct _PinholeTimeline
{
  GObject               parent_instance;

  /* owned */
  PinholeMessageWindow *messages;
  GListModel           *transfers;   /* the client's, every contact's */
  char                 *user;
  GPtrArray            *mine;        /* PinholeTransfer with @user, by time */
  GPtrArray            *items;       /* what the list shows: PinholeMessage, PinholeTransfer */
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PinholeTimeline, pinhole_timeline, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static GType
get_item_type (GListModel *model)
{
  return G_TYPE_OBJECT;
}

static guint
get_n_items (GListModel *model)
{
  return PINHOLE_TIMELINE (model)->items->len;
}

static gpointer
get_item (GListModel *model,
          guint       position)
{
  PinholeTimeline *self = PINHOLE_TIMELINE (model);

  return position < self->items->len ? g_object_ref (self->items->pdata[position]) : NULL;
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

/* seconds since the epoch: a message's time, or when a transfer began in this run */
gint64
pinhole_timeline_item_time (gpointer item)
{
  if (PINHOLE_IS_MESSAGE (item))
    return pinhole_message_get_timestamp (item);
  if (PINHOLE_IS_TRANSFER (item))
    return pinhole_transfer_get_created (item);
  g_return_val_if_reached (0);
}

static gint
by_created (gconstpointer a,
            gconstpointer b)
{
  gint64 ta = pinhole_transfer_get_created (*(PinholeTransfer **) a);
  gint64 tb = pinhole_transfer_get_created (*(PinholeTransfer **) b);

  return ta < tb ? -1 : ta > tb;
}

static void
collect_mine (PinholeTimeline *self)
{
  g_ptr_array_set_size (self->mine, 0);
  for (guint i = 0; i < g_list_model_get_n_items (self->transfers); i++)
    {
      g_autoptr(PinholeTransfer) t = g_list_model_get_item (self->transfers, i);

      if (g_strcmp0 (pinhole_transfer_get_peer (t), self->user) == 0)
        g_ptr_array_add (self->mine, g_steal_pointer (&t));
    }
  /* stable: transfers made in the same second keep the order they began */
  g_ptr_array_sort (self->mine, by_created);
}

static void
rebuild (PinholeTimeline *self)
{
  GListModel *messages = G_LIST_MODEL (self->messages);
  guint n = g_list_model_get_n_items (messages);
  gboolean show_older = pinhole_message_window_get_start (self->messages) == 0;
  gboolean show_newer = pinhole_message_window_get_at_end (self->messages);
  g_autoptr(GPtrArray) old = self->items;
  guint j = 0, prefix = 0, suffix = 0;

  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(PinholeMessage) m = g_list_model_get_item (messages, i);
      gint64 ts = pinhole_message_get_timestamp (m);

      for (; j < self->mine->len &&
             pinhole_transfer_get_created (self->mine->pdata[j]) < ts; j++)
        if (i > 0 || show_older)
          g_ptr_array_add (self->items, g_object_ref (self->mine->pdata[j]));
      g_ptr_array_add (self->items, g_steal_pointer (&m));
    }
  for (; j < self->mine->len; j++)
    if (show_newer || n == 0)
      g_ptr_array_add (self->items, g_object_ref (self->mine->pdata[j]));

  while (prefix < old->len && prefix < self->items->len &&
         old->pdata[prefix] == self->items->pdata[prefix])
    prefix++;
  while (suffix < old->len - prefix && suffix < self->items->len - prefix &&
         old->pdata[old->len - 1 - suffix] == self->items->pdata[self->items->len - 1 - suffix])
    suffix++;
  if (old->len - prefix - suffix > 0 || self->items->len - prefix - suffix > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), prefix, old->len - prefix - suffix,
                                self->items->len - prefix - suffix);
}

static void
messages_changed_cb (PinholeTimeline *self)
{
  rebuild (self);
}

static void
transfers_changed_cb (PinholeTimeline *self)
{
  collect_mine (self);
  rebuild (self);
}

static void
pinhole_timeline_dispose (GObject *object)
{
  PinholeTimeline *self = PINHOLE_TIMELINE (object);

  if (self->messages != NULL)
    g_signal_handlers_disconnect_by_data (self->messages, self);
  if (self->transfers != NULL)
    g_signal_handlers_disconnect_by_data (self->transfers, self);
  g_clear_object (&self->messages);
  g_clear_object (&self->transfers);
  g_clear_pointer (&self->mine, g_ptr_array_unref);
  g_clear_pointer (&self->items, g_ptr_array_unref);
  G_OBJECT_CLASS (pinhole_timeline_parent_class)->dispose (object);
}

static void
pinhole_timeline_finalize (GObject *object)
{
  g_free (PINHOLE_TIMELINE (object)->user);
  G_OBJECT_CLASS (pinhole_timeline_parent_class)->finalize (object);
}

static void
pinhole_timeline_class_init (PinholeTimelineClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = pinhole_timeline_dispose;
  G_OBJECT_CLASS (klass)->finalize = pinhole_timeline_finalize;
}

static void
pinhole_timeline_init (PinholeTimeline *self)
{
  self->mine = g_ptr_array_new_with_free_func (g_object_unref);
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
}

/**
 * pinhole_timeline_new:
 * @transfers: a GListModel of PinholeTransfer (the client's); those with @user show
 * Returns: (transfer full)
 */
PinholeTimeline *
pinhole_timeline_new (PinholeMessageWindow *messages,
                      GListModel           *transfers,
                      const char           *user)
{
  PinholeTimeline *self;

  g_return_val_if_fail (PINHOLE_IS_MESSAGE_WINDOW (messages), NULL);
  g_return_val_if_fail (G_IS_LIST_MODEL (transfers), NULL);

  self = g_object_new (PINHOLE_TYPE_TIMELINE, NULL);
  self->messages = g_object_ref (messages);
  self->transfers = g_object_ref (transfers);
  self->user = g_strdup (user);
  g_signal_connect_object (messages, "items-changed", G_CALLBACK (messages_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (transfers, "items-changed", G_CALLBACK (transfers_changed_cb), self,
                           G_CONNECT_SWAPPED);
  collect_mine (self);
  rebuild (self);
  return self;
}

/* how many transfer cards the list shows now */
guint
pinhole_timeline_count_transfers (PinholeTimeline *self)
{
  guint n = 0;

  g_return_val_if_fail (PINHOLE_IS_TIMELINE (self), 0);
  for (guint i = 0; i < self->items->len; i++)
    n += PINHOLE_IS_TRANSFER (self->items->pdata[i]);
  return n;
}
