/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-timeline.h: what the conversation's list shows, as one GListModel: the messages of
 * a PinholeMessageWindow with the transfers with the same contact among them, each transfer
 * where its time falls. GTK-free. */
#pragma once

#include "pinhole-message-window.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_TIMELINE (pinhole_timeline_get_type ())
G_DECLARE_FINAL_TYPE (PinholeTimeline, pinhole_timeline, PINHOLE, TIMELINE, GObject)

PinholeTimeline *pinhole_timeline_new            (PinholeMessageWindow *messages,
                                                  GListModel           *transfers,
                                                  const char           *user);
gint64           pinhole_timeline_item_time      (gpointer              item);
guint            pinhole_timeline_count_transfers (PinholeTimeline     *self);

G_END_DECLS
