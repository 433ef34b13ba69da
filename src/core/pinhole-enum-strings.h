/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-enum-strings.h: each enum of the model to and from its name (the GEnumValue nick:
 * what the wire, the CLI's JSON, the profile and D-Bus carry) and to the translated sentence
 * a person reads. The sentences live in one table, pinhole-enum-strings.c. */
#pragma once

#include <glib-object.h>

#include "pinhole-enum-types.h"

G_BEGIN_DECLS

const char *pinhole_enum_to_nick   (GType        enum_type,
                                    int          value);
gboolean    pinhole_enum_from_nick (GType        enum_type,
                                    const char  *nick,
                                    int         *out_value);
const char *pinhole_enum_to_sentence (GType      enum_type,
                                      int        value);

G_END_DECLS
