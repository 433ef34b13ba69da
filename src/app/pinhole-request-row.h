/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-request-row.h: an incoming contact request, with Accept and Decline. */
#pragma once

#include <gtk/gtk.h>

#include "pinhole-client.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_REQUEST_ROW (pinhole_request_row_get_type ())
G_DECLARE_FINAL_TYPE (PinholeRequestRow, pinhole_request_row, PINHOLE, REQUEST_ROW, GtkListBoxRow)

GtkWidget *pinhole_request_row_new (PinholeClient  *client,
                                    PinholeContact *contact);

G_END_DECLS
