/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-transfer-file.h: the files the transfer benchmarks send: incompressible bytes from a
 * seeded stream cipher, written once per size, with their SHA-256. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* @dir/file-MIB.bin of @mib MiB; (transfer full) its path, and its SHA-256 (hex) in
 * @out_sha256, or NULL */
char *bench_transfer_file (const char  *dir,
                           guint        mib,
                           char       **out_sha256,
                           GError     **error);

G_END_DECLS
