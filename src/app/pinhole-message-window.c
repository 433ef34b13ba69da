/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-message-window.c: PinholeMessageWindow, the items [start, end) of a source model.
 * A GtkListBox makes a row for every item of its model and gets slower with each one, so the
 * conversation view binds its list to this window rather than to the whole conversation:
 * scrolling up moves the window towards the older end and drops the newest rows, scrolling
 * back down brings them back from the source and drops the oldest. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-message-window.h"

struct _PinholeMessageWindow
{
  GObject     parent_instance;

  /* owned */
  GListModel *source;

  guint       start;      /* the first shown item's index in the source */
  guint       end;        /* one past the last shown */
  guint       max_items;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PinholeMessageWindow, pinhole_message_window, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static GType
get_item_type (GListModel *model)
{
  return g_list_model_get_item_type (PINHOLE_MESSAGE_WINDOW (model)->source);
}

static guint
get_n_items (GListModel *model)
{
  PinholeMessageWindow *self = PINHOLE_MESSAGE_WINDOW (model);

  return self->end - self->start;
}

static gpointer
get_item (GListModel *model,
          guint       position)
{
  PinholeMessageWindow *self = PINHOLE_MESSAGE_WINDOW (model);

  if (position >= self->end - self->start)
    return NULL;
  return g_list_model_get_item (self->source, self->start + position);
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

static void
changed (PinholeMessageWindow *self,
         guint                 position,
         guint                 removed,
         guint                 added)
{
  if (removed > 0 || added > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), position, removed, added);
}

/* over the bound: drop the oldest shown */
static void
trim_start (PinholeMessageWindow *self)
{
  guint size = self->end - self->start;

  if (size <= self->max_items)
    return;
  self->start += size - self->max_items;
  changed (self, 0, size - self->max_items, 0);
}

/* over the bound: drop the newest shown */
static void
trim_end (PinholeMessageWindow *self)
{
  guint size = self->end - self->start;

  if (size <= self->max_items)
    return;
  self->end = self->start + self->max_items;
  changed (self, self->max_items, size - self->max_items, 0);
}

static void
source_changed_cb (PinholeMessageWindow *self,
                   guint                 position,
                   guint                 removed,
                   guint                 added)
{
  guint old_n = g_list_model_get_n_items (self->source) + removed - added;
  gboolean at_end = self->end == old_n;

  if (removed > 0)
    {
      guint from = MAX (position, self->start);
      guint to = MIN (position + removed, self->end);
      guint gone = to > from ? to - from : 0;
      guint before = position < self->start ? MIN (position + removed, self->start) - position
                                            : 0;
      guint at = from - self->start;

      self->start -= before;
      self->end -= before + gone;
      changed (self, at, gone, 0);
    }
  if (added == 0)
    return;
  /* older pages go in at the start of the source: above the window, until it moves there */
  if (position < self->start || (position == self->start && !(at_end && position == self->end)))
    {
      self->start += added;
      self->end += added;
    }
  else if (position < self->end || (position == self->end && at_end))
    {
      self->end += added;
      changed (self, position - self->start, 0, added);
      trim_start (self);
    }
}

static void
pinhole_message_window_dispose (GObject *object)
{
  PinholeMessageWindow *self = PINHOLE_MESSAGE_WINDOW (object);

  if (self->source != NULL)
    g_signal_handlers_disconnect_by_data (self->source, self);
  g_clear_object (&self->source);
  G_OBJECT_CLASS (pinhole_message_window_parent_class)->dispose (object);
}

static void
pinhole_message_window_class_init (PinholeMessageWindowClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = pinhole_message_window_dispose;
}

static void
pinhole_message_window_init (PinholeMessageWindow *self)
{
}

/**
 * pinhole_message_window_new:
 * @max_items: the most it shows at once, at least 1
 *
 * Returns: (transfer full): a window over the end of @source, empty until
 * pinhole_message_window_show_latest(); appended items come in
 */
PinholeMessageWindow *
pinhole_message_window_new (GListModel *source,
                            guint       max_items)
{
  PinholeMessageWindow *self;

  g_return_val_if_fail (G_IS_LIST_MODEL (source), NULL);
  g_return_val_if_fail (max_items > 0, NULL);

  self = g_object_new (PINHOLE_TYPE_MESSAGE_WINDOW, NULL);
  self->source = g_object_ref (source);
  self->max_items = max_items;
  self->start = self->end = g_list_model_get_n_items (source);
  g_signal_connect_object (source, "items-changed", G_CALLBACK (source_changed_cb), self,
                           G_CONNECT_SWAPPED);
  return self;
}

/* the first shown item's position in the source: 0 when nothing older is left out */
guint
pinhole_message_window_get_start (PinholeMessageWindow *self)
{
  g_return_val_if_fail (PINHOLE_IS_MESSAGE_WINDOW (self), 0);
  return self->start;
}

/* whether the newest item of the source is shown (or the source is empty) */
gboolean
pinhole_message_window_get_at_end (PinholeMessageWindow *self)
{
  g_return_val_if_fail (PINHOLE_IS_MESSAGE_WINDOW (self), TRUE);
  return self->end == g_list_model_get_n_items (self->source);
}

/**
 * pinhole_message_window_show_older:
 * Shows up to @count more items before the first one, from those the source has, and drops
 * the newest ones beyond the bound.
 * Returns: how many came in at the start
 */
guint
pinhole_message_window_show_older (PinholeMessageWindow *self,
                                   guint                 count)
{
  guint take;

  g_return_val_if_fail (PINHOLE_IS_MESSAGE_WINDOW (self), 0);

  take = MIN (count, self->start);
  self->start -= take;
  changed (self, 0, 0, take);
  trim_end (self);
  return take;
}

/**
 * pinhole_message_window_show_newer:
 * Shows up to @count more items after the last one and drops the oldest beyond the bound.
 * Returns: how many came in at the end
 */
guint
pinhole_message_window_show_newer (PinholeMessageWindow *self,
                                   guint                 count)
{
  guint size, take;

  g_return_val_if_fail (PINHOLE_IS_MESSAGE_WINDOW (self), 0);

  size = self->end - self->start;
  take = MIN (count, g_list_model_get_n_items (self->source) - self->end);
  self->end += take;
  changed (self, size, 0, take);
  trim_start (self);
  return take;
}

/* shows the newest @count items (at most the bound) and nothing else */
void
pinhole_message_window_show_latest (PinholeMessageWindow *self,
                                    guint                 count)
{
  guint n, size;

  g_return_if_fail (PINHOLE_IS_MESSAGE_WINDOW (self));

  n = g_list_model_get_n_items (self->source);
  count = MIN (MIN (count, self->max_items), n);
  if (self->end == n && self->end - self->start == count)
    return;
  size = self->end - self->start;
  self->start = n - count;
  self->end = n;
  changed (self, 0, size, count);
}
