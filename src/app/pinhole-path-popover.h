/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-path-popover.h: what the path indicator opens: the path in words, both sides'
 * networks, the candidates and checks, and the relay-only switch. */
#pragma once

#include <gtk/gtk.h>

#include "pinhole-client.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_PATH_POPOVER (pinhole_path_popover_get_type ())
G_DECLARE_FINAL_TYPE (PinholePathPopover, pinhole_path_popover, PINHOLE, PATH_POPOVER, GtkPopover)

GtkWidget *pinhole_path_popover_new         (void);
void       pinhole_path_popover_set_contact (PinholePathPopover *self,
                                             PinholeClient      *client,
                                             PinholeContact     *contact);

G_END_DECLS
