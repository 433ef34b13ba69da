/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-list-prefix.c: PinholeListPrefix, the items [0, shown) of a source model, with
 * `shown` growing by `step` in each idle until it covers the source. The contact list binds
 * to one: a GtkListBox makes and measures a row for every item of its model before it draws,
 * and a roster of hundreds would hold back the window's first frame. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-list-prefix.h"

struct _PinholeListPrefix
{
  GObject     parent_instance;

  /* owned */
  GListModel *source;

  guint       shown;
  guint       step;
  guint       grow_id;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PinholeListPrefix, pinhole_list_prefix, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static GType
get_item_type (GListModel *model)
{
  return g_list_model_get_item_type (PINHOLE_LIST_PREFIX (model)->source);
}

static guint
get_n_items (GListModel *model)
{
  return PINHOLE_LIST_PREFIX (model)->shown;
}

static gpointer
get_item (GListModel *model,
          guint       position)
{
  PinholeListPrefix *self = PINHOLE_LIST_PREFIX (model);

  if (position >= self->shown)
    return NULL;
  return g_list_model_get_item (self->source, position);
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

static gboolean
grow_cb (gpointer user_data)
{
  PinholeListPrefix *self = user_data;
  guint n = g_list_model_get_n_items (self->source);
  guint added = MIN (self->step, n - self->shown);

  self->shown += added;
  if (self->shown == n)
    self->grow_id = 0;
  if (added > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), self->shown - added, 0, added);
  return self->shown == n ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static void
source_changed_cb (PinholeListPrefix *self,
                   guint              position,
                   guint              removed,
                   guint              added)
{
  guint gone;

  /* beyond what it shows: it comes in as the prefix grows */
  if (position >= self->shown && self->grow_id != 0)
    return;
  /* the new items go in, what follows them moves down: still the source's first items */
  gone = MIN (removed, self->shown - position);
  self->shown = self->shown - gone + added;
  g_list_model_items_changed (G_LIST_MODEL (self), position, gone, added);
}

static void
pinhole_list_prefix_dispose (GObject *object)
{
  PinholeListPrefix *self = PINHOLE_LIST_PREFIX (object);

  g_clear_handle_id (&self->grow_id, g_source_remove);
  if (self->source != NULL)
    g_signal_handlers_disconnect_by_data (self->source, self);
  g_clear_object (&self->source);
  G_OBJECT_CLASS (pinhole_list_prefix_parent_class)->dispose (object);
}

static void
pinhole_list_prefix_class_init (PinholeListPrefixClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = pinhole_list_prefix_dispose;
}

static void
pinhole_list_prefix_init (PinholeListPrefix *self)
{
}

/**
 * pinhole_list_prefix_new:
 * @first: how many items it shows at once
 * @step: how many more each idle, at least 1
 *
 * Returns: (transfer full): the prefix of @source
 */
PinholeListPrefix *
pinhole_list_prefix_new (GListModel *source,
                         guint       first,
                         guint       step)
{
  PinholeListPrefix *self;

  g_return_val_if_fail (G_IS_LIST_MODEL (source), NULL);
  g_return_val_if_fail (step > 0, NULL);

  self = g_object_new (PINHOLE_TYPE_LIST_PREFIX, NULL);
  self->source = g_object_ref (source);
  self->step = step;
  self->shown = MIN (first, g_list_model_get_n_items (source));
  g_signal_connect_object (source, "items-changed", G_CALLBACK (source_changed_cb), self,
                           G_CONNECT_SWAPPED);
  if (self->shown < g_list_model_get_n_items (source))
    self->grow_id = g_idle_add (grow_cb, self);
  return self;
}

/* whether it shows all of the source */
gboolean
pinhole_list_prefix_get_complete (PinholeListPrefix *self)
{
  g_return_val_if_fail (PINHOLE_IS_LIST_PREFIX (self), TRUE);
  return self->grow_id == 0;
}
