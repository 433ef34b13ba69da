/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-agent.h: looks for a direct path to one peer device: authenticated connectivity
 * checks (RFC 8445 §7, short-term credentials) from this device's endpoint to each of the
 * peer's candidates, over UDP (hole punching: both sides send at once) and TCP (connects from
 * the shared port: simultaneous open, RFC 5382/6544); the controlling side nominates the best
 * confirmed pair and both build the path. Control messages travel inside the session. */
#pragma once

#include <json-glib/json-glib.h>

#include "pinhole-candidate.h"
#include "pinhole-endpoint.h"
#include "pinhole-path.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_AGENT (pinhole_agent_get_type ())
G_DECLARE_FINAL_TYPE (PinholeAgent, pinhole_agent, PINHOLE, AGENT, GObject)

PinholeAgent *pinhole_agent_new                (PinholeEndpoint        *endpoint,
                                                gboolean                controlling);
void          pinhole_agent_add_local_candidate (PinholeAgent          *self,
                                                 const PinholeCandidate *candidate);
void          pinhole_agent_local_done         (PinholeAgent           *self);
gboolean      pinhole_agent_handle_control     (PinholeAgent           *self,
                                                JsonObject             *message,
                                                GError                **error);
void          pinhole_agent_restart            (PinholeAgent           *self);
void          pinhole_agent_close              (PinholeAgent           *self);
gboolean      pinhole_agent_is_searching       (PinholeAgent           *self);
GPtrArray    *pinhole_agent_dup_report         (PinholeAgent           *self);
guint         pinhole_agent_get_n_remote_candidates (PinholeAgent      *self);

G_END_DECLS
