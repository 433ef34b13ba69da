/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-sign-in-view.h: the first-run view: server address, user name and password, to
 * create an account or sign in to one; emits "signed-in" once the profile has an account. */
#pragma once

#include <gtk/gtk.h>

#include "pinhole-client.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_SIGN_IN_VIEW (pinhole_sign_in_view_get_type ())
G_DECLARE_FINAL_TYPE (PinholeSignInView, pinhole_sign_in_view, PINHOLE, SIGN_IN_VIEW, GtkBox)

void pinhole_sign_in_view_set_client (PinholeSignInView *self,
                                      PinholeClient     *client,
                                      GSettings         *settings,
                                      const char        *server_url);

G_END_DECLS
