/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-message-window.h: a GListModel showing a run of consecutive items of another one
 * (a conversation), at most `max-items` of them, so that a list bound to it holds a bounded
 * number of rows however long the history is. It moves a page at a time towards the older or
 * the newer end, dropping as many items at the other end as it must; messages appended to the
 * source come in while the window reaches its end. GTK-free. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PINHOLE_TYPE_MESSAGE_WINDOW (pinhole_message_window_get_type ())
G_DECLARE_FINAL_TYPE (PinholeMessageWindow, pinhole_message_window, PINHOLE, MESSAGE_WINDOW,
                      GObject)

PinholeMessageWindow *pinhole_message_window_new         (GListModel           *source,
                                                          guint                 max_items);
guint                 pinhole_message_window_get_start   (PinholeMessageWindow *self);
gboolean              pinhole_message_window_get_at_end  (PinholeMessageWindow *self);
guint                 pinhole_message_window_show_older  (PinholeMessageWindow *self,
                                                          guint                 count);
guint                 pinhole_message_window_show_newer  (PinholeMessageWindow *self,
                                                          guint                 count);
void                  pinhole_message_window_show_latest (PinholeMessageWindow *self,
                                                          guint                 count);

G_END_DECLS
