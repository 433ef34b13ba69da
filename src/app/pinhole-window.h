/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-window.h: the main window: the sign-in view on first run, then the contact list
 * and the conversation side by side, or one at a time when narrow (HdyLeaflet). */
#pragma once

#include <handy.h>

#include "pinhole-application.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_WINDOW (pinhole_window_get_type ())
G_DECLARE_FINAL_TYPE (PinholeWindow, pinhole_window, PINHOLE, WINDOW, HdyApplicationWindow)

PinholeWindow *pinhole_window_new               (PinholeApplication *app,
                                                 const char         *server_url);
void           pinhole_window_open_conversation (PinholeWindow      *self,
                                                 const char         *user);

G_END_DECLS
