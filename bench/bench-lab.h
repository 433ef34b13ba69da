/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-lab.h: what the NAT lab benchmarks do to a lab of two sites: forward TCP ports on a
 * router to a host behind it (the baselines' servers), keep only one kind of direct path
 * between the routers, and run an iperf3 client in a host's namespace. */
#pragma once

#include "natlab.h"

G_BEGIN_DECLS

/* the iperf3 server's port, forwarded like every baseline's */
#define BENCH_LAB_IPERF_PORT "5201"

typedef enum
{
  BENCH_LAB_KIND_ANY,   /* nothing dropped */
  BENCH_LAB_KIND_TCP,   /* UDP between the routers dropped: only TCP checks succeed */
  BENCH_LAB_KIND_UDP,   /* TCP between them dropped, the forwarded ports excepted */
} BenchLabKind;

/* an nft ruleset, one command line, in namespace @ns */
gboolean bench_lab_nft          (Natlab             *lab,
                                 const char         *ns,
                                 const char         *rules,
                                 GError            **error);
/* on @site's router: TCP to each of @ports (a comma-separated list) from the internet goes
 * to @host's address */
gboolean bench_lab_forward      (Natlab             *lab,
                                 const char         *site,
                                 const char         *host,
                                 const char         *ports,
                                 GError            **error);
/* on @site's router: drops direct traffic to and from @peer_address (the other router's
 * public address) of the kind that must not win, TCP to @ports (comma-separated) excepted;
 * each call replaces the previous filter */
gboolean bench_lab_keep_kind    (Natlab             *lab,
                                 const char         *site,
                                 const char         *peer_address,
                                 BenchLabKind        kind,
                                 const char         *ports,
                                 GError            **error);
/* in namespace @ns: what leaves TCP port @port over @mbytes_per_s MB/s is dropped (TCP
 * adapts); the lab's relay made slow, so that a transfer moves to the direct path before it
 * ends */
gboolean bench_lab_police       (Natlab             *lab,
                                 const char         *ns,
                                 const char         *port,
                                 guint               mbytes_per_s,
                                 GError            **error);
/* `iperf3 -c @address -p @port -n @bytes -J` in namespace @ns (NULL: this one); the MB/s
 * received (10^6 bytes/s) */
gboolean bench_lab_iperf3       (const char         *ns,
                                 const char         *address,
                                 const char         *port,
                                 guint64             bytes,
                                 double             *out_mbps,
                                 GError            **error);

G_END_DECLS
