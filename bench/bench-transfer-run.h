/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-transfer-run.h: one real file transfer, `pinhole-cli send-file bob FILE` from alice to
 * bob's `pinhole-cli listen --accept-files DIR`, on loopback or in two NAT lab namespaces:
 * its time to bob's verified `done`, the paths alice's progress named, both ends' peak RSS. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  const char *cli;       /* pinhole-cli */
  const char *url;       /* the server's WebSocket URL */
  const char *home;      /* profiles: HOME/alice, HOME/bob */
  const char *alice_ns;  /* nullable: this namespace */
  const char *bob_ns;
} BenchPeers;

typedef struct
{
  double  seconds;       /* from spawning send-file to bob's `done` */
  double  mbps;          /* file bytes / seconds, 10^6 bytes/s */
  double  first_progress_s;  /* to alice's first progress event: log-in, hash, offer, accept */
  double  on_kind_mbps;  /* the bytes verified after bob's listen reported the wanted path
                          * kind, over the time from then to done; -1 when never on it */
  guint64 bytes_before_kind; /* verified (alice's last progress) before that report */
  char   *paths;         /* the kinds alice's progress named, in order, without repeats */
  gint64  alice_hwm_kib; /* VmHWM, sampled every 100 ms while send-file ran */
  gint64  bob_hwm_kib;   /* VmHWM of listen after the transfer */
} BenchSendResult;

void     bench_send_result_clear (BenchSendResult *r);

/* pinhole-cli --server URL --profile HOME/USER --json ARGS… to its end, status 0;
 * PINHOLE_PASSWORD=bench-password-of-USER in its environment */
gboolean bench_peers_cli         (const BenchPeers   *peers,
                                  const char         *user,
                                  const char * const *args,
                                  GError            **error);
/* registers alice and bob and makes them mutual contacts */
gboolean bench_peers_make_pair   (const BenchPeers   *peers,
                                  GError            **error);
/* one transfer of @file (whose SHA-256 is @sha256, hex) into @inbox, removed again after
 * bob verified it; @want_kind (nullable) names the path kind to time on its own */
gboolean bench_peers_send_file   (const BenchPeers   *peers,
                                  const char         *file,
                                  const char         *sha256,
                                  const char         *inbox,
                                  const char         *want_kind,
                                  BenchSendResult    *out,
                                  GError            **error);

G_END_DECLS
