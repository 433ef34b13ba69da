/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-day-separator.h: the "Today" / "Yesterday" / weekday / date heading between the
 * messages of two days, and the words it uses. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define PINHOLE_TYPE_DAY_SEPARATOR (pinhole_day_separator_get_type ())
G_DECLARE_FINAL_TYPE (PinholeDaySeparator, pinhole_day_separator, PINHOLE, DAY_SEPARATOR, GtkBin)

GtkWidget *pinhole_day_separator_new      (gint64               timestamp);
gint       pinhole_day_separator_get_day  (PinholeDaySeparator *self);
const char *pinhole_day_separator_get_text (PinholeDaySeparator *self);

gint       pinhole_day_of                 (gint64               timestamp);
char      *pinhole_day_describe           (gint64               timestamp,
                                           gint64               now);

G_END_DECLS
