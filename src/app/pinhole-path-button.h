/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-path-button.h: the conversation's path indicator in the header bar, "Direct · UDP
 * hole punch · 23 ms", live from the contact's properties; clicking it opens the details. */
#pragma once

#include <gtk/gtk.h>

#include "pinhole-client.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_PATH_BUTTON (pinhole_path_button_get_type ())
G_DECLARE_FINAL_TYPE (PinholePathButton, pinhole_path_button, PINHOLE, PATH_BUTTON, GtkMenuButton)

void pinhole_path_button_set_contact (PinholePathButton *self,
                                      PinholeClient     *client,
                                      PinholeContact    *contact);

G_END_DECLS
