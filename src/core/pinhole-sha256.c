/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-sha256.c: SHA-256 through GnuTLS, which uses the CPU's SHA extensions where it has
 * them: every transferred byte is hashed about four times (the offer, the sender's block, the
 * recipient's block check and its whole-file check), and GChecksum's portable SHA-256 was the
 * largest cost of a transfer (bench/bench-aead: 426 MB/s against GnuTLS's 1718 MB/s on the
 * benchmark machine, docs/benchmarks.md §10). GChecksum stays as the fallback should GnuTLS
 * refuse the digest. The QUIC path links GnuTLS into every program already. */
#define G_LOG_DOMAIN "pinhole-transfer"

#include "pinhole-sha256.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

struct _PinholeSha256
{
  gnutls_hash_hd_t  hd;        /* NULL when GnuTLS refused */
  GChecksum        *fallback;  /* owned, when hd is NULL */
};

PinholeSha256 *
pinhole_sha256_new (void)
{
  PinholeSha256 *self = g_new0 (PinholeSha256, 1);

  if (gnutls_hash_init (&self->hd, GNUTLS_DIG_SHA256) < 0)
    {
      self->hd = NULL;
      self->fallback = g_checksum_new (G_CHECKSUM_SHA256);
    }
  return self;
}

void
pinhole_sha256_update (PinholeSha256 *self,
                       const void    *data,
                       gsize          len)
{
  const guint8 *p = data;

  g_return_if_fail (self != NULL);

  if (self->hd != NULL)
    {
      gnutls_hash (self->hd, data, len);
      return;
    }
  /* GChecksum takes a gssize */
  while (len > 0)
    {
      gsize n = MIN (len, (gsize) G_MAXSSIZE);

      g_checksum_update (self->fallback, p, (gssize) n);
      p += n;
      len -= n;
    }
}

void
pinhole_sha256_finish (PinholeSha256 *self,
                       guint8        *out)
{
  gsize out_len = PINHOLE_SHA256_BYTES;

  g_return_if_fail (self != NULL && out != NULL);

  if (self->hd != NULL)
    {
      gnutls_hash_deinit (self->hd, out);
      self->hd = NULL;
      /* spent: later calls hash into a fresh state rather than a freed one */
      self->fallback = g_checksum_new (G_CHECKSUM_SHA256);
      return;
    }
  g_checksum_get_digest (self->fallback, out, &out_len);
}

void
pinhole_sha256_free (PinholeSha256 *self)
{
  if (self == NULL)
    return;
  if (self->hd != NULL)
    gnutls_hash_deinit (self->hd, NULL);
  g_clear_pointer (&self->fallback, g_checksum_free);
  g_free (self);
}

void
pinhole_sha256_compute (const void *data,
                        gsize       len,
                        guint8     *out)
{
  g_autoptr(PinholeSha256) sum = pinhole_sha256_new ();

  pinhole_sha256_update (sum, data, len);
  pinhole_sha256_finish (sum, out);
}
