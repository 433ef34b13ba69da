/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-transfer-file.c: incompressible test files (libsodium's seeded ChaCha20 stream, so
 * no link or program can shrink them) and their SHA-256, kept for the runs that follow. */
#include "bench-transfer-file.h"

#include <sodium.h>
#include <stdio.h>

#define CHUNK (1u << 20)

char *
bench_transfer_file (const char  *dir,
                     guint        mib,
                     char       **out_sha256,
                     GError     **error)
{
  g_autofree char *name = g_strdup_printf ("file-%u.bin", mib);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *sum_path = g_strconcat (path, ".sha256", NULL);
  g_autoptr(GChecksum) sum = NULL;
  g_autofree guint8 *buffer = NULL;
  guint8 seed[randombytes_SEEDBYTES] = { 0 };
  FILE *f;

  if (g_file_test (path, G_FILE_TEST_EXISTS) &&
      g_file_get_contents (sum_path, out_sha256, NULL, NULL))
    return g_steal_pointer (&path);
  if (sodium_init () < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "sodium_init failed");
      return NULL;
    }
  f = fopen (path, "wb");
  if (f == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot write %s", path);
      return NULL;
    }
  sum = g_checksum_new (G_CHECKSUM_SHA256);
  buffer = g_malloc (CHUNK);
  for (guint i = 0; i < mib; i++)
    {
      /* a different seed for every MiB: no block repeats */
      seed[0] = (guint8) i;
      seed[1] = (guint8) (i >> 8);
      seed[2] = (guint8) mib;
      seed[3] = (guint8) (mib >> 8);
      randombytes_buf_deterministic (buffer, CHUNK, seed);
      g_checksum_update (sum, buffer, CHUNK);
      if (fwrite (buffer, 1, CHUNK, f) != CHUNK)
        {
          fclose (f);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "short write to %s", path);
          return NULL;
        }
    }
  if (fclose (f) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot close %s", path);
      return NULL;
    }
  *out_sha256 = g_strdup (g_checksum_get_string (sum));
  if (!g_file_set_contents (sum_path, *out_sha256, -1, error))
    return NULL;
  return g_steal_pointer (&path);
}
