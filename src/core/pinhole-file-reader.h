/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-file-reader.h: the sender's disk (docs/transfer.md §2, §8): the manifest of the files
 * and folders a user offers, hashed in a worker, and the blocks read back as they are sent. */
#pragma once

#include <gio/gio.h>

#include "pinhole-manifest.h"

G_BEGIN_DECLS

void             pinhole_manifest_build_async          (const char *const   *paths,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
PinholeManifest *pinhole_manifest_build_finish         (GAsyncResult        *result,
                                                        GPtrArray          **out_sources,
                                                        GError             **error);

void             pinhole_file_reader_read_block_async  (const char                 *source,
                                                        const PinholeManifestEntry *entry,
                                                        guint64                     block,
                                                        GCancellable               *cancellable,
                                                        GAsyncReadyCallback         callback,
                                                        gpointer                    user_data);
GBytes          *pinhole_file_reader_read_block_finish (GAsyncResult        *result,
                                                        guint8              *out_sha256,
                                                        GError             **error);

G_END_DECLS
