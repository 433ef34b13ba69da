/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-port-mapper-private.h: what PinholePortMapper (pinhole-port-mapper.c) shares with
 * its backends, UPnP-IGD (pinhole-port-mapper-upnp.c), PCP (-pcp.c) and NAT-PMP (-natpmp.c):
 * the job a worker runs on and the interface each backend implements. */
#pragma once

#include <netinet/in.h>

#include "pinhole-pcp-message.h"
#include "pinhole-port-mapper.h"

G_BEGIN_DECLS

typedef enum
{
  PINHOLE_PORT_MAPPER_ANSWER_NOT_TRIED,
  PINHOLE_PORT_MAPPER_ANSWER_NONE,
  PINHOLE_PORT_MAPPER_ANSWER_YES,
} PinholePortMapperAnswer;

typedef enum
{
  PINHOLE_PORT_MAPPER_JOB_MAP,
  PINHOLE_PORT_MAPPER_JOB_RENEW,
  PINHOLE_PORT_MAPPER_JOB_DELETE,
} PinholePortMapperJobKind;

/* Everything a worker needs and returns; the worker owns its copy and never sees the
 * mapper. */
typedef struct
{
  /* input */
  PinholePortMapperJobKind kind;
  PinholePortMapMethods    methods;
  PinholePortMapProtocol   protocol;
  guint16                  internal_port;
  char                    *internal_address;   /* nullable: caller's choice */
  guint                    lifetime_s;         /* what to ask for; 0: permanent */
  guint                    upnp_discover_ms;
  guint                    nat_pmp_deadline_ms;
  guint                    pcp_deadline_ms;

  /* input for renew/delete, output of map */
  PinholePathKind          method;
  char                    *control_url;        /* UPnP */
  char                    *service_type;       /* UPnP */
  char                    *lan_address;        /* UPnP NewInternalClient */
  in_addr_t                gateway;            /* PCP and NAT-PMP, network order */
  guint8                   pcp_nonce[PINHOLE_PCP_NONCE_SIZE];   /* PCP: the same for renewals */
  PinholePcpEpoch          pcp_epoch;          /* PCP: the server's epoch last seen */
  guint16                  external_port;

  /* output */
  char                    *external_address;   /* nullable */
  char                    *gateway_source;     /* PCP, NAT-PMP: our address towards the gateway */
  guint                    granted_lifetime_s;
  char                    *reason;             /* what failed before the method that worked */
  PinholePortMapperAnswer  upnp_answer;
  PinholePortMapperAnswer  pcp_answer;
  PinholePortMapperAnswer  nat_pmp_answer;
  gboolean                 port_5351_silent;   /* PCP heard nothing there until its deadline */
} PinholePortMapperJob;

/**
 * PinholePortMapperBackend:
 * @kind: the kind of the mappings it makes, and of job->method once it made one
 * @method: the bit of #PinholePortMapMethods that enables it
 * @map: asks the router for job's mapping; on success fills in job->method, external_port
 *   and granted_lifetime_s, otherwise appends to @reason why not. Once the router may hold
 *   state for us it turns @task's return-on-cancel off (and fails if it was cancelled).
 * @renew: renews the lease of a mapping @map made, updating external_port, external_address
 *   and granted_lifetime_s; G_IO_ERROR_CANCELLED when @cancellable stopped it
 * @remove: deletes a mapping @map made, taking at most @left_ms (G_MAXINT64: the backend's
 *   own bound); the error message names the mapping
 *
 * One way of asking a router for port mappings. Every function blocks and runs in a GTask
 * worker, on the worker's own copy of the job.
 */
typedef struct
{
  PinholePathKind        kind;
  PinholePortMapMethods  method;
  gboolean             (*map)    (GTask                 *task,
                                  PinholePortMapperJob  *job,
                                  GString               *reason,
                                  GCancellable          *cancellable);
  gboolean             (*renew)  (PinholePortMapperJob  *job,
                                  GCancellable          *cancellable,
                                  GError               **error);
  gboolean             (*remove) (PinholePortMapperJob  *job,
                                  gint64                 left_ms,
                                  GError               **error);
} PinholePortMapperBackend;

extern const PinholePortMapperBackend _pinhole_port_mapper_upnp_backend;    /* -upnp.c */
extern const PinholePortMapperBackend _pinhole_port_mapper_pcp_backend;     /* -pcp.c */
extern const PinholePortMapperBackend _pinhole_port_mapper_natpmp_backend;  /* -natpmp.c */

/* "TCP" or "UDP", as UPnP and our messages spell them */
const char *_pinhole_port_mapper_protocol_name (PinholePortMapProtocol protocol);

G_END_DECLS
