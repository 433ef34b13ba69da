/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-quic-certificate.c: an Ed25519 key and a self-signed X.509 certificate for it, made
 * with GnuTLS in memory, never written to disk. Generating an Ed25519 key takes microseconds,
 * so it runs on the caller's thread. */
#define G_LOG_DOMAIN "pinhole-quic"

#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <time.h>

#include "pinhole-client.h"
#include "pinhole-error.h"
#include "pinhole-quic-certificate.h"

/* how long the certificate says it is valid; the pin, not the dates, is what counts, and
 * a peer's clock may be off by days */
#define VALID_BEFORE_S (24 * 3600)
#define VALID_AFTER_S (366 * 24 * 3600)

struct _PinholeQuicCertificate
{
  GObject                           parent_instance;

  /* owned */
  gnutls_certificate_credentials_t  credentials;
  char                             *fingerprint;
};

G_DEFINE_FINAL_TYPE (PinholeQuicCertificate, pinhole_quic_certificate, G_TYPE_OBJECT)

static void
pinhole_quic_certificate_finalize (GObject *object)
{
  PinholeQuicCertificate *self = PINHOLE_QUIC_CERTIFICATE (object);

  if (self->credentials != NULL)
    gnutls_certificate_free_credentials (self->credentials);
  g_free (self->fingerprint);
  G_OBJECT_CLASS (pinhole_quic_certificate_parent_class)->finalize (object);
}

static void
pinhole_quic_certificate_class_init (PinholeQuicCertificateClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pinhole_quic_certificate_finalize;
}

static void
pinhole_quic_certificate_init (PinholeQuicCertificate *self)
{
}

static gboolean
check (int          rv,
       const char  *what,
       GError     **error)
{
  if (rv >= 0)
    return TRUE;
  g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
               "could not make the QUIC path's certificate: %s: %s", what, gnutls_strerror (rv));
  return FALSE;
}

/**
 * pinhole_quic_certificate_new:
 *
 * Returns: (transfer full) (nullable): a fresh key and certificate, or %NULL when GnuTLS
 *   refused
 */
PinholeQuicCertificate *
pinhole_quic_certificate_new (GError **error)
{
  g_autoptr(PinholeQuicCertificate) self = g_object_new (PINHOLE_TYPE_QUIC_CERTIFICATE, NULL);
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t der = { NULL, 0 };
  guint8 serial[16];
  time_t now = time (NULL);
  gboolean ok;

  ok = check (gnutls_x509_privkey_init (&key), "key", error) &&
       check (gnutls_x509_privkey_generate (key, GNUTLS_PK_EDDSA_ED25519, 0, 0), "Ed25519 key",
              error) &&
       check (gnutls_x509_crt_init (&crt), "certificate", error) &&
       check (gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial), "serial", error);
  serial[0] &= 0x7f;   /* a positive INTEGER */
  ok = ok &&
       check (gnutls_x509_crt_set_version (crt, 3), "version", error) &&
       check (gnutls_x509_crt_set_serial (crt, serial, sizeof serial), "serial", error) &&
       check (gnutls_x509_crt_set_activation_time (crt, now - VALID_BEFORE_S), "dates", error) &&
       check (gnutls_x509_crt_set_expiration_time (crt, now + VALID_AFTER_S), "dates", error) &&
       check (gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, "pinhole",
                                             7), "name", error) &&
       check (gnutls_x509_crt_set_key (crt, key), "public key", error) &&
       check (gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE), "key usage",
              error) &&
       check (gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA512, 0), "signature", error) &&
       check (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_DER, &der), "export", error) &&
       check (gnutls_certificate_allocate_credentials (&self->credentials), "credentials",
              error) &&
       check (gnutls_certificate_set_x509_key (self->credentials, &crt, 1, key), "credentials",
              error);
  if (ok)
    self->fingerprint = pinhole_fingerprint_of_der (der.data, der.size);
  gnutls_free (der.data);
  if (crt != NULL)
    gnutls_x509_crt_deinit (crt);
  if (key != NULL)
    gnutls_x509_privkey_deinit (key);
  return ok ? g_steal_pointer (&self) : NULL;
}

const char *
pinhole_quic_certificate_get_fingerprint (PinholeQuicCertificate *self)
{
  g_return_val_if_fail (PINHOLE_IS_QUIC_CERTIFICATE (self), NULL);
  return self->fingerprint;
}

gnutls_certificate_credentials_t
pinhole_quic_certificate_get_credentials (PinholeQuicCertificate *self)
{
  g_return_val_if_fail (PINHOLE_IS_QUIC_CERTIFICATE (self), NULL);
  return self->credentials;
}
