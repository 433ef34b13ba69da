/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-offline-banner.h: "Offline — reconnecting" under a pane's header bar, shown while
 * the reconnector is not online. */
#pragma once

#include <gtk/gtk.h>

#include "pinhole-reconnector.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_OFFLINE_BANNER (pinhole_offline_banner_get_type ())
G_DECLARE_FINAL_TYPE (PinholeOfflineBanner, pinhole_offline_banner, PINHOLE, OFFLINE_BANNER,
                      GtkRevealer)

void pinhole_offline_banner_set_reconnector (PinholeOfflineBanner *self,
                                             PinholeReconnector   *reconnector);

G_END_DECLS
