/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-list-prefix.h: a GListModel showing the first items of another one, growing a step
 * at a time from the main loop's idle until it shows all of them; changes of the source
 * within what it shows pass through. A list bound to it draws its first screen without making
 * every row first. GTK-free. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PINHOLE_TYPE_LIST_PREFIX (pinhole_list_prefix_get_type ())
G_DECLARE_FINAL_TYPE (PinholeListPrefix, pinhole_list_prefix, PINHOLE, LIST_PREFIX, GObject)

PinholeListPrefix *pinhole_list_prefix_new          (GListModel        *source,
                                                     guint              first,
                                                     guint              step);
gboolean           pinhole_list_prefix_get_complete (PinholeListPrefix *self);

G_END_DECLS
