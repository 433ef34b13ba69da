/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-sshd.h: an OpenSSH sshd of the benchmark's own (its own port, host key, client key
 * and configuration in a temporary folder, in the foreground, stopped by its PID), and timed
 * scp copies to it: the encrypted baseline of the file transfer benchmarks. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _BenchSshd BenchSshd;

/* sshd -D on @address:@port, in namespace @ns (NULL: this one); root logs in with the
 * bench's key only */
BenchSshd *bench_sshd_start (const char  *ns,
                             const char  *address,
                             const char  *port,
                             GError     **error);
/* scp -P @port @file root@@address:@dest from namespace @ns (NULL: this one), once sshd
 * answers; the seconds from starting scp to its exit */
gboolean   bench_sshd_scp   (BenchSshd   *sshd,
                             const char  *ns,
                             const char  *address,
                             const char  *port,
                             const char  *file,
                             const char  *dest,
                             double      *out_seconds,
                             GError     **error);
/* a short copy, retried until sshd accepts it (about 5 s at most) */
gboolean   bench_sshd_wait  (BenchSshd   *sshd,
                             const char  *ns,
                             const char  *address,
                             const char  *port,
                             GError     **error);
/* the cipher scp negotiated on its last copy, as ssh -v said it ("?" when unknown) */
const char *bench_sshd_cipher (BenchSshd *sshd);
/* stops sshd by its PID and removes the folder */
void       bench_sshd_stop  (BenchSshd   *sshd);

G_END_DECLS
