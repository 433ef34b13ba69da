/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-manifest.h: the list of files and folders a transfer offers (docs/transfer.md §2):
 * its JSON codec and the rules every received path must pass. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PINHOLE_MANIFEST_VERSION       1
#define PINHOLE_MANIFEST_BLOCK_SIZE    (1024 * 1024)
#define PINHOLE_MANIFEST_MAX_BYTES     (1024 * 1024)
#define PINHOLE_MANIFEST_MAX_ENTRIES   4096
#define PINHOLE_MANIFEST_MAX_PATH      4096
#define PINHOLE_MANIFEST_MAX_NAME      255     /* bytes of one component */
#define PINHOLE_MANIFEST_MAX_DEPTH     64      /* components of one path */
#define PINHOLE_MANIFEST_MAX_SIZE      (G_GUINT64_CONSTANT (1) << 50)
#define PINHOLE_MANIFEST_SHA256_BYTES  32
#define PINHOLE_PARTIAL_SUFFIX         ".pinhole-partial"

typedef struct
{
  char     *path;            /* relative, '/' between components, valid per §2.1 */
  gboolean  folder;
  guint64   size;            /* files */
  gint64    mtime;           /* files: seconds since the epoch */
  guint8    sha256[PINHOLE_MANIFEST_SHA256_BYTES];
} PinholeManifestEntry;

typedef struct
{
  GPtrArray *entries;        /* PinholeManifestEntry, owned */
} PinholeManifest;

PinholeManifest *pinhole_manifest_new          (void);
void             pinhole_manifest_free         (PinholeManifest *self);
/* @sha256: 32 bytes; the path is copied */
void             pinhole_manifest_add_file     (PinholeManifest *self,
                                                const char      *path,
                                                guint64          size,
                                                gint64           mtime,
                                                const guint8    *sha256);
void             pinhole_manifest_add_folder   (PinholeManifest *self,
                                                const char      *path);
guint            pinhole_manifest_get_n_entries (PinholeManifest *self);
PinholeManifestEntry *pinhole_manifest_get_entry (PinholeManifest *self,
                                                  guint            index);
guint64          pinhole_manifest_get_total_bytes (PinholeManifest *self);

PinholeManifest *pinhole_manifest_parse        (const char      *text,
                                                gsize            len,
                                                GError         **error);
char            *pinhole_manifest_to_string    (PinholeManifest *self,
                                                gsize           *out_len);
/* every rule of §2 that the parser applies, for a manifest built locally */
gboolean         pinhole_manifest_validate     (PinholeManifest *self,
                                                GError         **error);

gboolean         pinhole_manifest_check_path   (const char      *path,
                                                GError         **error);
guint64          pinhole_manifest_entry_get_n_blocks (const PinholeManifestEntry *entry);

/* SHA-256 as the manifest and the messages write it: 64 lowercase hex digits */
gboolean         pinhole_sha256_from_hex       (const char      *hex,
                                                guint8          *out);
void             pinhole_sha256_to_hex         (const guint8    *sha256,
                                                char            *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeManifest, pinhole_manifest_free)

G_END_DECLS
