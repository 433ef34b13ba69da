/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-devices-dialog.h: the devices of one's own account, and removing a lost one. */
#pragma once

#include <handy.h>

#include "pinhole-client.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_DEVICES_DIALOG (pinhole_devices_dialog_get_type ())
G_DECLARE_FINAL_TYPE (PinholeDevicesDialog, pinhole_devices_dialog, PINHOLE, DEVICES_DIALOG,
                      HdyPreferencesWindow)

GtkWidget *pinhole_devices_dialog_new (GtkWindow     *parent,
                                       PinholeClient *client);

G_END_DECLS
