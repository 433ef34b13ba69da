/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-contact-private.h: how the client's roster code keeps a PinholeContact current. */
#pragma once

#include "pinhole-contact.h"

G_BEGIN_DECLS

PinholeContact *_pinhole_contact_new          (const char      *user,
                                               PinholeRelation  relation);
void            _pinhole_contact_set_relation (PinholeContact  *self,
                                               PinholeRelation  relation);
void            _pinhole_contact_set_devices  (PinholeContact  *self,
                                               GPtrArray       *devices);
void            _pinhole_contact_refresh      (PinholeContact  *self);

G_END_DECLS
