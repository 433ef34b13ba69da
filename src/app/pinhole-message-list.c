/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-message-list.c: the rows of a conversation and what sits between them: a day
 * heading where the day changes, and grouping of messages sent in a quick run. Its items are
 * messages and transfers (pinhole-timeline.c): a transfer is a card, which never groups. */
#define G_LOG_DOMAIN "pinhole-app"

#include "pinhole-message-list.h"

#include "pinhole-day-separator.h"
#include "pinhole-message-row.h"
#include "pinhole-timeline.h"
#include "pinhole-transfer-card.h"

/* messages from one side this close together read as one run */
#define GROUP_SECONDS (5 * 60)

static GtkWidget *
create_row (gpointer item,
            gpointer user_data)
{
  if (PINHOLE_IS_TRANSFER (item))
    return pinhole_transfer_card_new (item);
  return pinhole_message_row_new (item, user_data);
}

/* Returns: (nullable): the row's message, or %NULL for a transfer card */
static PinholeMessage *
row_message (GtkListBoxRow *row)
{
  return PINHOLE_IS_MESSAGE_ROW (row) ? pinhole_message_row_get_message (PINHOLE_MESSAGE_ROW (row))
                                      : NULL;
}

static gint64
row_time (GtkListBoxRow *row)
{
  if (PINHOLE_IS_TRANSFER_CARD (row))
    return pinhole_transfer_get_created (
      pinhole_transfer_card_get_transfer (PINHOLE_TRANSFER_CARD (row)));
  return pinhole_message_get_timestamp (row_message (row));
}

static void
update_header (GtkListBoxRow *row,
               GtkListBoxRow *before,
               gpointer       user_data)
{
  PinholeMessage *message = row_message (row);
  PinholeMessage *previous = NULL;
  gint64 timestamp = row_time (row);
  gint day = pinhole_day_of (timestamp);
  GtkWidget *header = gtk_list_box_row_get_header (row);
  gboolean grouped = FALSE;

  if (before != NULL)
    previous = row_message (before);

  if (before != NULL && pinhole_day_of (row_time (before)) == day)
    {
      gint64 gap = timestamp - row_time (before);

      grouped = message != NULL && previous != NULL &&
                pinhole_message_get_direction (previous) ==
                  pinhole_message_get_direction (message) &&
                gap >= 0 && gap < GROUP_SECONDS;
      gtk_list_box_row_set_header (row, NULL);
    }
  else if (header == NULL || !PINHOLE_IS_DAY_SEPARATOR (header) ||
           pinhole_day_separator_get_day (PINHOLE_DAY_SEPARATOR (header)) != day)
    gtk_list_box_row_set_header (row, pinhole_day_separator_new (timestamp));
  if (message != NULL)
    pinhole_message_row_set_grouped (PINHOLE_MESSAGE_ROW (row), grouped);
}

/**
 * pinhole_message_list_bind:
 * @messages: (nullable): the conversation (PinholeMessage items, and PinholeTransfer ones
 *   among them), or %NULL to empty @box
 * @peer: the contact's name, for the rows' accessible names
 */
void
pinhole_message_list_bind (GtkListBox *box,
                           GListModel *messages,
                           const char *peer)
{
  g_return_if_fail (GTK_IS_LIST_BOX (box));

  if (messages == NULL)
    {
      gtk_list_box_bind_model (box, NULL, NULL, NULL, NULL);
      return;
    }
  gtk_list_box_set_header_func (box, update_header, NULL, NULL);
  gtk_list_box_bind_model (box, messages, create_row, g_strdup (peer), g_free);
}
