/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-contact-list.h: the sidebar: contacts with search, incoming requests with Accept
 * and Decline, adding a contact by user name, and the "Offline — reconnecting" banner. */
#pragma once

#include <handy.h>

#include "pinhole-client.h"
#include "pinhole-offline-banner.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_CONTACT_LIST (pinhole_contact_list_get_type ())
G_DECLARE_FINAL_TYPE (PinholeContactList, pinhole_contact_list, PINHOLE, CONTACT_LIST, GtkBox)

void pinhole_contact_list_set_client            (PinholeContactList *self,
                                                 PinholeClient      *client);
void pinhole_contact_list_select                (PinholeContactList *self,
                                                 const char         *user);
void pinhole_contact_list_set_selection_visible (PinholeContactList *self,
                                                 gboolean            visible);
void pinhole_contact_list_add_contact           (PinholeContactList *self);
void pinhole_contact_list_start_search          (PinholeContactList *self);
HdyHeaderBar *pinhole_contact_list_get_header_bar (PinholeContactList *self);
PinholeOfflineBanner *pinhole_contact_list_get_offline_banner (PinholeContactList *self);

G_END_DECLS
