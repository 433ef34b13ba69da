/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-aead.c: what one 32 KiB session frame costs this CPU to seal and open with libsodium's
 * ChaCha20-Poly1305 (IETF, what pinhole-session-frame.c uses) and AES-256-GCM (where the CPU
 * has AES-NI and CLMUL), beside SHA-256 (the transfer's block hashes) and a plain memcpy; the
 * contenders alternate run by run, medians in MB/s (10^6 bytes/s).
 *
 * GnuTLS's SHA-256 and AES-256-GCM (SHA-NI, VAES) are there only to show what this CPU can do.
 *
 *   bench-aead [--runs 5] [--mib 512] [--frame 32768]
 */
#include "bench-common.h"

#include <sodium.h>
#ifdef HAVE_GNUTLS
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#endif
#include <stdio.h>
#include <string.h>

static volatile guint8 sink_out;

/* a DATA packet's header (version, kind, counter) is the associated data */
#define AD_BYTES 10

typedef enum
{
  OP_CHACHA_SEAL,
  OP_CHACHA_OPEN,
  OP_AES_SEAL,
  OP_AES_OPEN,
  OP_SHA256_SODIUM,
  OP_SHA256_GLIB,
  OP_SHA256_GNUTLS,
  OP_AES_GNUTLS_SEAL,
  OP_MEMCPY,
  N_OPS
} Op;

static const char *const op_name[N_OPS] = {
  "ChaCha20-Poly1305 IETF seal", "ChaCha20-Poly1305 IETF open", "AES-256-GCM seal",
  "AES-256-GCM open", "SHA-256 (libsodium)", "SHA-256 (GChecksum)",
  "SHA-256 (GnuTLS, for comparison)", "AES-256-GCM seal (GnuTLS, for comparison)", "memcpy",
};

typedef struct
{
  gsize   frame;
  guint8 *pt;
  guint8 *ct_chacha;
  guint8 *ct_aes;
  guint8 *out;
  guint8  ad[AD_BYTES];
  guint8  key[32];
  guint8  nonce[12];
  crypto_aead_aes256gcm_state aes;
#ifdef HAVE_GNUTLS
  gnutls_aead_cipher_hd_t gnutls_aes;
#endif
} Buffers;

/* one pass of @op over one frame; returns a byte of the result so nothing is optimised away */
static guint8
do_op (Buffers *b,
       Op       op)
{
  unsigned long long len = 0;
  guint8 digest[32];

  switch (op)
    {
    case OP_CHACHA_SEAL:
      crypto_aead_chacha20poly1305_ietf_encrypt (b->ct_chacha, &len, b->pt, b->frame, b->ad,
                                                 AD_BYTES, NULL, b->nonce, b->key);
      return b->ct_chacha[0];
    case OP_CHACHA_OPEN:
      if (crypto_aead_chacha20poly1305_ietf_decrypt (b->out, &len, NULL, b->ct_chacha,
                                                     b->frame + 16, b->ad, AD_BYTES, b->nonce,
                                                     b->key) != 0)
        g_error ("ChaCha20-Poly1305 frame did not open");
      return b->out[0];
    case OP_AES_SEAL:
      crypto_aead_aes256gcm_encrypt_afternm (b->ct_aes, &len, b->pt, b->frame, b->ad, AD_BYTES,
                                             NULL, b->nonce, &b->aes);
      return b->ct_aes[0];
    case OP_AES_OPEN:
      if (crypto_aead_aes256gcm_decrypt_afternm (b->out, &len, NULL, b->ct_aes, b->frame + 16,
                                                 b->ad, AD_BYTES, b->nonce, &b->aes) != 0)
        g_error ("AES-256-GCM frame did not open");
      return b->out[0];
    case OP_SHA256_SODIUM:
      crypto_hash_sha256 (digest, b->pt, b->frame);
      return digest[0];
    case OP_SHA256_GLIB:
      {
        g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
        gsize n = sizeof digest;

        g_checksum_update (sum, b->pt, (gssize) b->frame);
        g_checksum_get_digest (sum, digest, &n);
        return digest[0];
      }
#ifdef HAVE_GNUTLS
    case OP_SHA256_GNUTLS:
      gnutls_hash_fast (GNUTLS_DIG_SHA256, b->pt, b->frame, digest);
      return digest[0];
    case OP_AES_GNUTLS_SEAL:
      {
        size_t n = b->frame + 16;

        if (gnutls_aead_cipher_encrypt (b->gnutls_aes, b->nonce, sizeof b->nonce, b->ad,
                                        AD_BYTES, 16, b->pt, b->frame, b->ct_aes, &n) < 0)
          g_error ("GnuTLS AES-256-GCM failed");
        return b->ct_aes[0];
      }
#else
    case OP_SHA256_GNUTLS:
    case OP_AES_GNUTLS_SEAL:
      return 0;
#endif
    case OP_MEMCPY:
      memcpy (b->out, b->pt, b->frame);
      return b->out[b->frame - 1];
    case N_OPS:
    default:
      g_assert_not_reached ();
    }
  return 0;
}

/* MB/s of @op over @bytes in frames */
static double
run_op (Buffers *b,
        Op       op,
        guint64  bytes,
        guint8  *sink)
{
  guint64 frames = MAX (bytes / b->frame, 1);
  gint64 t0 = g_get_monotonic_time ();

  for (guint64 i = 0; i < frames; i++)
    *sink ^= do_op (b, op);
  return frames * b->frame / ((g_get_monotonic_time () - t0) / 1e6) / 1e6;
}

int
main (int   argc,
      char *argv[])
{
  gint runs = 5, mib = 512, frame = 32768;
  GOptionEntry entries[] = {
    { "runs", 'n', 0, G_OPTION_ARG_INT, &runs, "runs of each operation (5)", "N" },
    { "mib", 0, 0, G_OPTION_ARG_INT, &mib, "MiB per run (512)", "N" },
    { "frame", 0, 0, G_OPTION_ARG_INT, &frame, "bytes per frame (32768)", "BYTES" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- AEAD cost per session frame");
  g_autoptr(GError) error = NULL;
  GArray *rates[N_OPS];
  gboolean aes = FALSE;
  Buffers b = { 0 };
  guint8 sink = 0;
  unsigned long long len = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || runs < 1 || runs > 50 ||
      mib < 1 || mib > 8192 || frame < 64 || frame > (1 << 20))
    {
      fprintf (stderr, "bench-aead: %s\n", error ? error->message : "bad arguments");
      return 2;
    }
  if (sodium_init () < 0)
    {
      fprintf (stderr, "bench-aead: sodium_init failed\n");
      return 1;
    }
  aes = crypto_aead_aes256gcm_is_available ();
  b.frame = (gsize) frame;
  b.pt = g_malloc (b.frame);
  b.ct_chacha = g_malloc (b.frame + 16);
  b.ct_aes = g_malloc (b.frame + 16);
  b.out = g_malloc (b.frame + 16);
  randombytes_buf (b.pt, b.frame);
  randombytes_buf (b.ad, sizeof b.ad);
  randombytes_buf (b.key, sizeof b.key);
  randombytes_buf (b.nonce, sizeof b.nonce);
  crypto_aead_chacha20poly1305_ietf_encrypt (b.ct_chacha, &len, b.pt, b.frame, b.ad, AD_BYTES,
                                             NULL, b.nonce, b.key);
  if (aes)
    {
      crypto_aead_aes256gcm_beforenm (&b.aes, b.key);
      crypto_aead_aes256gcm_encrypt_afternm (b.ct_aes, &len, b.pt, b.frame, b.ad, AD_BYTES,
                                             NULL, b.nonce, &b.aes);
    }

#ifdef HAVE_GNUTLS
  {
    gnutls_datum_t key = { b.key, sizeof b.key };

    if (gnutls_aead_cipher_init (&b.gnutls_aes, GNUTLS_CIPHER_AES_256_GCM, &key) < 0)
      g_error ("GnuTLS AES-256-GCM unavailable");
  }
#endif
  printf ("libsodium %s; crypto_aead_aes256gcm_is_available: %s; %d-byte frames, %d MiB a "
          "run, %d runs, operations alternated\n", sodium_version_string (),
          aes ? "yes" : "no", frame, mib, runs);
  for (guint o = 0; o < N_OPS; o++)
    rates[o] = g_array_new (FALSE, FALSE, sizeof (double));
  for (gint r = 0; r < runs; r++)
    for (guint o = 0; o < N_OPS; o++)
      {
        double mbps;

        if (!aes && (o == OP_AES_SEAL || o == OP_AES_OPEN))
          continue;
#ifndef HAVE_GNUTLS
        if (o == OP_SHA256_GNUTLS || o == OP_AES_GNUTLS_SEAL)
          continue;
#endif
        mbps = run_op (&b, (Op) o, (guint64) mib << 20, &sink);
        g_array_append_val (rates[o], mbps);
      }
  printf ("| operation | median MB/s | runs | µs per frame | ratio to ChaCha20-Poly1305 |\n"
          "|---|---|---|---|---|\n");
  for (guint o = 0; o < N_OPS; o++)
    {
      g_autoptr(GString) list = g_string_new (NULL);
      double med, base;

      if (rates[o]->len == 0)
        {
          printf ("| %s | — (not available here) | | | |\n", op_name[o]);
          continue;
        }
      for (guint i = 0; i < rates[o]->len; i++)
        g_string_append_printf (list, "%s%.0f", i ? " " : "", g_array_index (rates[o], double, i));
      med = bench_median ((double *) (gpointer) rates[o]->data, rates[o]->len);
      base = bench_median ((double *) (gpointer) rates[o == OP_CHACHA_OPEN || o == OP_AES_OPEN
                                                        ? OP_CHACHA_OPEN
                                                        : OP_CHACHA_SEAL]->data, (guint) runs);
      printf ("| %s | %.0f | %s | %.1f | %.2f |\n", op_name[o], med, list->str, frame / med,
              med / base);
    }
  for (guint o = 0; o < N_OPS; o++)
    g_array_unref (rates[o]);
#ifdef HAVE_GNUTLS
  gnutls_aead_cipher_deinit (b.gnutls_aes);
#endif
  g_free (b.pt);
  g_free (b.ct_chacha);
  g_free (b.ct_aes);
  g_free (b.out);
  /* the results were used: the compiler kept every pass */
  sink_out = sink;
  return 0;
}
