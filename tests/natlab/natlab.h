/* SPDX-License-Identifier: GPL-3.0-or-later
 * natlab.h: a NAT lab of real network namespaces for tests: an "internet" bridge, a public
 * server host, and sites (a router with a chosen NAT behaviour and a private LAN of hosts).
 * Everything it makes (namespaces, veths, processes) is removed again by natlab_free. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  NATLAB_NAT_NONE,             /* a plain router, no NAT: hosts have public addresses */
  NATLAB_NAT_PORT_RESTRICTED,  /* Linux MASQUERADE: endpoint-independent mapping,
                                * port-restricted filtering */
  NATLAB_NAT_SYMMETRIC,        /* MASQUERADE random-fully: endpoint-dependent mapping */
  NATLAB_NAT_UDP_BLOCKED,      /* MASQUERADE and outbound UDP dropped */
  NATLAB_NAT_TCP_443_ONLY,     /* only TCP to port 443 gets out (plus replies) */
  NATLAB_NAT_MINIUPNPD,        /* MASQUERADE plus Debian's real miniupnpd: UPnP-IGD and
                                * NAT-PMP on the LAN side */
  NATLAB_NAT_MINIUPNPD_PCP,    /* the same miniupnpd answering PCP (RFC 6887) only: UPnP
                                * off, and NAT-PMP (version 0 on port 5351) dropped by the
                                * router's nftables, as Debian's build serves PCP only on its
                                * NAT-PMP socket */
} NatlabNat;

typedef struct _Natlab Natlab;

#define NATLAB_ERROR (natlab_error_quark ())
GQuark natlab_error_quark (void);

typedef enum
{
  NATLAB_ERROR_FAILED,         /* a command failed; the message has its output */
  NATLAB_ERROR_UNSUPPORTED,    /* namespaces (or a needed tool) are not available here */
  NATLAB_ERROR_TIMEOUT,
} NatlabError;

/* bounded time of natlab_run and of each setup command, in milliseconds */
#define NATLAB_RUN_MS 10000

/* the internet (a bridge in its own namespace) and a public server host; names carry the
 * PID so that parallel tests never collide; NATLAB_ERROR_UNSUPPORTED when namespaces cannot
 * be made */
Natlab     *natlab_new                    (GError    **error);

/* (transfer none) namespace name of the public server host */
const char *natlab_server_ns              (Natlab     *lab);
/* (transfer none) "203.0.113.10" */
const char *natlab_server_address         (Natlab     *lab);
/* (transfer none) a second public address on the server host, for RFC 5780-style tests */
const char *natlab_server_address2        (Natlab     *lab);

/* a router namespace ("wan" on the internet, a "lan" bridge) with a public address
 * 203.0.113.(20+n) and a LAN 10.n.0.0/24, router 10.n.0.1; a NATLAB_NAT_NONE site's LAN is
 * public instead, a /28 of 198.51.100.0/24 routed from every public host.
 * NATLAB_NAT_MINIUPNPD(_PCP) also starts coturn (STUN) on the server host, UDP 3478/3479 on both
 * server addresses: Debian's miniupnpd 2.3.1 maps no ports while its external address is a
 * reserved one (203.0.113.x is) unless STUN (ext_perform_stun) finds it unfiltered. Clients
 * built on libminiupnpc 2.2.4 see that IGD as "not connected" for the same reason (upnpc
 * needs -i; UPNP_GetValidIGD returns 2, not 1). */
gboolean    natlab_add_site               (Natlab     *lab,
                                           const char *site,
                                           NatlabNat   nat,
                                           GError    **error);
/* a client namespace on the site's LAN, default route via the router */
gboolean    natlab_add_host               (Natlab     *lab,
                                           const char *site,
                                           const char *host,
                                           GError    **error);

/* (transfer none) (nullable) NULL for an unknown name */
const char *natlab_host_ns                (Natlab     *lab,
                                           const char *host);
const char *natlab_host_address           (Natlab     *lab,
                                           const char *host);
const char *natlab_router_ns              (Natlab     *lab,
                                           const char *site);
const char *natlab_router_public_address  (Natlab     *lab,
                                           const char *site);

/* (transfer full) (nullable) the site's miniupnpd lease file (lease_file=, one
 * "PROTO:EXTPORT:INTADDR:INTPORT:EXPIRY:DESC" a line), "" when empty or not written yet;
 * NULL for a site without miniupnpd */
char       *natlab_miniupnpd_leases       (Natlab     *lab,
                                           const char *site);

/* delay and loss on the router's internet side, both directions: loss with nftables
 * `numgen random mod 10000 < N drop`, delay with ph-netem (an NFQUEUE helper); 0, 0
 * removes both */
gboolean    natlab_set_link               (Natlab     *lab,
                                           const char *site,
                                           guint       delay_ms,
                                           guint       loss_per_10000,
                                           GError    **error);
/* drops (or, with block FALSE, lets through again) traffic between the two routers' public
 * addresses only: kills a direct path, the relay via the server keeps working */
gboolean    natlab_block_between          (Natlab     *lab,
                                           const char *site_a,
                                           const char *site_b,
                                           gboolean    block,
                                           GError    **error);

/* the same for UDP only: TCP between the two sites still passes (a direct path over TCP
 * while UDP checks fail); independent of natlab_block_between */
gboolean    natlab_block_udp_between      (Natlab     *lab,
                                           const char *site_a,
                                           const char *site_b,
                                           gboolean    block,
                                           GError    **error);

/* (transfer full) a process inside namespace ns; the lab also keeps it and ends it by PID
 * (SIGTERM, then SIGKILL after a grace period) in natlab_free */
GSubprocess *natlab_spawn                 (Natlab           *lab,
                                           const char       *ns,
                                           GSubprocessFlags  flags,
                                           GError          **error,
                                           const char       *argv0,
                                           ...) G_GNUC_NULL_TERMINATED;
GSubprocess *natlab_spawnv                (Natlab             *lab,
                                           const char         *ns,
                                           GSubprocessFlags    flags,
                                           const char * const *argv,
                                           GError            **error);
/* runs argv in namespace ns to completion within NATLAB_RUN_MS; FALSE with its output in
 * the error on a non-zero exit; out_stdout (nullable) gets standard output */
gboolean    natlab_run                    (Natlab     *lab,
                                           const char *ns,
                                           char      **out_stdout,
                                           GError    **error,
                                           const char *argv0,
                                           ...) G_GNUC_NULL_TERMINATED;

/* ends every process it started (by PID), deletes every namespace and veth it made; also
 * fine after a failed test or a half-built lab */
void        natlab_free                   (Natlab     *lab);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Natlab, natlab_free)

G_END_DECLS
