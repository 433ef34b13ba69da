/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-day-separator.c: the heading a conversation shows above the first message of each
 * day, in local time: "Today", "Yesterday", the weekday within the last week, else the date. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-day-separator.h"

#include <glib/gi18n.h>

struct _PinholeDaySeparator
{
  GtkBin    parent_instance;

  /* template children */
  GtkLabel *label;

  gint      day;   /* pinhole_day_of() of the messages below */
};

G_DEFINE_FINAL_TYPE (PinholeDaySeparator, pinhole_day_separator, GTK_TYPE_BIN)

/* a local calendar day as one comparable number, 20240131; 0 for an unusable timestamp */
gint
pinhole_day_of (gint64 timestamp)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (timestamp);

  if (dt == NULL)
    return 0;
  return g_date_time_get_year (dt) * 10000 + g_date_time_get_month (dt) * 100 +
         g_date_time_get_day_of_month (dt);
}

static GDateTime *
local_midnight (gint64 timestamp)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (timestamp);

  if (dt == NULL)
    return NULL;
  return g_date_time_new_local (g_date_time_get_year (dt), g_date_time_get_month (dt),
                                g_date_time_get_day_of_month (dt), 0, 0, 0);
}

/**
 * pinhole_day_describe:
 * @timestamp: seconds since the epoch
 * @now: the present, in seconds since the epoch
 * Returns: (transfer full): the words for @timestamp's day, as seen on @now's day
 */
char *
pinhole_day_describe (gint64 timestamp,
                      gint64 now)
{
  g_autoptr(GDateTime) day = local_midnight (timestamp);
  g_autoptr(GDateTime) today = local_midnight (now);
  gint days_ago;

  if (day == NULL || today == NULL)
    return g_strdup ("");
  /* count calendar days, not 24 h spans: a DST change makes one day 23 or 25 h long */
  days_ago = (gint) ((g_date_time_to_unix (today) - g_date_time_to_unix (day) + 43200) / 86400);
  if (days_ago == 0)
    /* Translators: a day separator in a conversation */
    return g_strdup (_("Today"));
  if (days_ago == 1)
    return g_strdup (_("Yesterday"));
  if (days_ago > 1 && days_ago < 7)
    return g_date_time_format (day, "%A");
  if (g_date_time_get_year (day) == g_date_time_get_year (today))
    /* Translators: a day of this year in a conversation, see strftime(3) */
    return g_date_time_format (day, _("%A, %B %-e"));
  /* Translators: a day of another year in a conversation, see strftime(3) */
  return g_date_time_format (day, _("%B %-e, %Y"));
}

static void
pinhole_day_separator_class_init (PinholeDaySeparatorClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/pinhole/Pinhole/pinhole-day-separator.ui");
  gtk_widget_class_bind_template_child (widget_class, PinholeDaySeparator, label);
}

static void
pinhole_day_separator_init (PinholeDaySeparator *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
pinhole_day_separator_new (gint64 timestamp)
{
  PinholeDaySeparator *self = g_object_new (PINHOLE_TYPE_DAY_SEPARATOR, NULL);
  g_autofree char *text = pinhole_day_describe (timestamp, g_get_real_time () / G_USEC_PER_SEC);

  self->day = pinhole_day_of (timestamp);
  gtk_label_set_text (self->label, text);
  return GTK_WIDGET (self);
}

gint
pinhole_day_separator_get_day (PinholeDaySeparator *self)
{
  g_return_val_if_fail (PINHOLE_IS_DAY_SEPARATOR (self), 0);
  return self->day;
}

const char *
pinhole_day_separator_get_text (PinholeDaySeparator *self)
{
  g_return_val_if_fail (PINHOLE_IS_DAY_SEPARATOR (self), NULL);
  return gtk_label_get_text (self->label);
}
