/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-message.h: one chat message of a conversation, sent or received. Its state moves
 * queued → sent → delivered (or stored-for-offline → delivered, or failed with a reason) and
 * notifies at each step. */
#pragma once

#include <glib-object.h>

#include "pinhole-enum-types.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_MESSAGE (pinhole_message_get_type ())
G_DECLARE_FINAL_TYPE (PinholeMessage, pinhole_message, PINHOLE, MESSAGE, GObject)

PinholeMessage         *pinhole_message_new           (const char              *id,
                                                       PinholeMessageDirection  direction,
                                                       const char              *text,
                                                       gint64                   timestamp,
                                                       PinholeMessageState      state);
const char             *pinhole_message_get_id        (PinholeMessage *self);
PinholeMessageDirection pinhole_message_get_direction (PinholeMessage *self);
const char             *pinhole_message_get_text      (PinholeMessage *self);
gint64                  pinhole_message_get_timestamp (PinholeMessage *self);
PinholeMessageState     pinhole_message_get_state     (PinholeMessage *self);
const char             *pinhole_message_get_failure   (PinholeMessage *self);
void                    pinhole_message_set_state     (PinholeMessage      *self,
                                                       PinholeMessageState  state,
                                                       const char          *failure);

G_END_DECLS
