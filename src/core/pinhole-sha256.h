/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-sha256.h: SHA-256 for the transfer's file and block hashes (docs/transfer.md). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PINHOLE_SHA256_BYTES 32

typedef struct _PinholeSha256 PinholeSha256;

PinholeSha256 *pinhole_sha256_new     (void);
void           pinhole_sha256_update  (PinholeSha256 *self,
                                       const void    *data,
                                       gsize          len);
/* writes the digest of everything updated so far into @out (32 bytes); the state is spent */
void           pinhole_sha256_finish  (PinholeSha256 *self,
                                       guint8        *out);
void           pinhole_sha256_free    (PinholeSha256 *self);
/* one call: @out gets the SHA-256 of @data */
void           pinhole_sha256_compute (const void    *data,
                                       gsize          len,
                                       guint8        *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeSha256, pinhole_sha256_free)

G_END_DECLS
