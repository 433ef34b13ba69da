/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-application.h: the app over one profile: its client, its running instance on the
 * session bus, its settings and its one main window. */
#pragma once

#include <gtk/gtk.h>

#include "pinhole-client.h"
#include "pinhole-reconnector.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_APPLICATION (pinhole_application_get_type ())
G_DECLARE_FINAL_TYPE (PinholeApplication, pinhole_application, PINHOLE, APPLICATION,
                      GtkApplication)

PinholeApplication *pinhole_application_new            (void);
PinholeClient      *pinhole_application_get_client     (PinholeApplication *self);
PinholeReconnector *pinhole_application_get_reconnector (PinholeApplication *self);
GSettings          *pinhole_application_get_settings   (PinholeApplication *self);
gboolean            pinhole_application_is_signed_in   (PinholeApplication *self);
void                pinhole_application_signed_in      (PinholeApplication *self);

G_END_DECLS
