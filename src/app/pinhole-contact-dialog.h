/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-contact-dialog.h: a contact's details: who, their devices and the safety numbers to
 * compare, ours to read out, and the relay-only switch. */
#pragma once

#include <handy.h>

#include "pinhole-client.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_CONTACT_DIALOG (pinhole_contact_dialog_get_type ())
G_DECLARE_FINAL_TYPE (PinholeContactDialog, pinhole_contact_dialog, PINHOLE, CONTACT_DIALOG,
                      HdyPreferencesWindow)

GtkWidget *pinhole_contact_dialog_new (GtkWindow      *parent,
                                       PinholeClient  *client,
                                       PinholeContact *contact);

G_END_DECLS
