/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-candidate.h: a transport address where a device may be reached (RFC 8445 §5.1),
 * its priority, and its JSON form in the candidate exchange (docs/protocol.md §8). */
#pragma once

#include <json-glib/json-glib.h>

#include "pinhole-path.h"

G_BEGIN_DECLS

/* the most candidates one device offers, or accepts from its peer in one round of checks */
#define PINHOLE_CANDIDATES_MAX 32
/* the most peer-reflexive candidates an agent learns from the peer's checks in one round */
#define PINHOLE_PRFLX_CANDIDATES_MAX 8

typedef enum
{
  PINHOLE_CANDIDATE_HOST,      /* an address of one of the device's interfaces */
  PINHOLE_CANDIDATE_MAPPED,    /* a port the router opened on request (UPnP-IGD, PCP, NAT-PMP) */
  PINHOLE_CANDIDATE_SRFLX,     /* the address a STUN server saw: server-reflexive */
  PINHOLE_CANDIDATE_PRFLX,     /* the address a peer's check came from: peer-reflexive */
} PinholeCandidateType;

typedef enum
{
  PINHOLE_TRANSPORT_UDP,
  PINHOLE_TRANSPORT_TCP,
} PinholeTransport;

typedef struct
{
  PinholeCandidateType  type;
  PinholeTransport      transport;
  GInetSocketAddress   *address;   /* owned */
  guint32               priority;
  PinholePathKind       via;       /* MAPPED: UPNP, PCP or NAT_PMP */
} PinholeCandidate;

PinholeCandidate *pinhole_candidate_new      (PinholeCandidateType  type,
                                              PinholeTransport      transport,
                                              GInetSocketAddress   *address,
                                              PinholePathKind       via);
PinholeCandidate *pinhole_candidate_copy     (const PinholeCandidate *candidate);
void              pinhole_candidate_free     (PinholeCandidate       *candidate);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeCandidate, pinhole_candidate_free)

gboolean          pinhole_candidate_equal    (const PinholeCandidate *a,
                                              const PinholeCandidate *b);
char             *pinhole_candidate_to_string (const PinholeCandidate *candidate);
const char       *pinhole_candidate_type_to_string (PinholeCandidateType type);
const char       *pinhole_transport_to_string      (PinholeTransport     transport);
char             *pinhole_socket_address_to_string (GSocketAddress      *address);

guint32           pinhole_candidate_compute_priority (PinholeCandidateType type,
                                                      PinholeTransport     transport,
                                                      guint                local_preference);

gboolean          pinhole_candidate_is_peer_address (const PinholeCandidate *candidate,
                                                     gboolean                allow_loopback,
                                                     const char            **out_reason);

JsonObject       *pinhole_candidate_to_json   (const PinholeCandidate *candidate);
PinholeCandidate *pinhole_candidate_from_json (JsonObject             *object,
                                               GError                **error);

/* the "quic" member of a "candidates" message: the SHA-256 fingerprint of the sender's QUIC
 * certificate ("AB:CD:…", pinhole_quic_certificate_get_fingerprint()). TRUE with *out NULL
 * when there is none (an older peer); FALSE when it is not such a fingerprint. */
gboolean          pinhole_candidates_quic_fingerprint (JsonObject   *message,
                                                       const char  **out,
                                                       GError      **error);

G_END_DECLS
