/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-path-text.h: the words the window uses for a path, from the model's path kind and
 * round-trip time: "Direct · UDP hole punch · 23 ms", "Relayed via server · 41 ms". No GTK:
 * the unit tests check every kind. */
#pragma once

#include "pinhole-enum-types.h"
#include "pinhole-path.h"

G_BEGIN_DECLS

const char *pinhole_path_text_badge     (PinholePathKind kind);
const char *pinhole_path_text_icon_name (PinholePathKind kind);
char       *pinhole_path_text_title     (PinholePathKind kind,
                                         gdouble         rtt_ms);
char       *pinhole_path_text_short_title (PinholePathKind kind,
                                           gdouble         rtt_ms);
char       *pinhole_path_text_rtt       (gdouble         rtt_ms);
char       *pinhole_path_text_explain   (PinholePathKind kind,
                                         const char     *user);
gboolean    pinhole_path_text_split_check (const char  *line,
                                           char       **out_candidate,
                                           char       **out_result);

G_END_DECLS
