/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client-certificate.c: a wss:// server's certificate that the system does not trust
 * (typically self-signed) is refused with its SHA-256 fingerprint; once the user has compared
 * that and trusted it, the profile pins that exact certificate for that one server. */
#define G_LOG_DOMAIN "pinhole-client"

#include "pinhole-client-private.h"
#include "pinhole-error.h"
#include "pinhole-server-url.h"

/* the profile's pin: the PEM of the one certificate trusted, and the server it is trusted for */
#define PIN_CERTIFICATE "server-certificate"
#define PIN_SERVER      "server-certificate-server"

/* what one connection's handshake was shown; on its SoupMessage */
typedef struct
{
  GTlsCertificate     *pinned;     /* owned, nullable: the pin, if it is for this server */
  GTlsCertificate     *rejected;   /* owned, nullable: what the handshake refused */
  GTlsCertificateFlags errors;
  gboolean             pin_differs;
} CertificateCheck;

#define CHECK_KEY "pinhole-certificate-check"

static void
certificate_check_free (CertificateCheck *check)
{
  g_clear_object (&check->pinned);
  g_clear_object (&check->rejected);
  g_free (check);
}

/**
 * pinhole_fingerprint_of_der:
 * Returns: (transfer full): the SHA-256 of the certificate @der as upper-case hex pairs joined
 *   by colons ("AB:CD:…"), as `openssl x509 -fingerprint -sha256` prints it
 */
char *
pinhole_fingerprint_of_der (const guint8 *der,
                            gsize         len)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  GString *out;

  g_checksum_update (checksum, der, len);
  g_checksum_get_digest (checksum, digest, &digest_len);
  out = g_string_sized_new (3 * digest_len);
  for (gsize i = 0; i < digest_len; i++)
    g_string_append_printf (out, i == 0 ? "%02X" : ":%02X", digest[i]);
  return g_string_free (out, FALSE);
}

/**
 * pinhole_certificate_dup_fingerprint:
 * Returns: (transfer full): pinhole_fingerprint_of_der() of @certificate
 */
char *
pinhole_certificate_dup_fingerprint (GTlsCertificate *certificate)
{
  g_autoptr(GByteArray) der = NULL;

  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);
  g_object_get (certificate, "certificate", &der, NULL);
  if (der == NULL)
    return pinhole_fingerprint_of_der (NULL, 0);
  return pinhole_fingerprint_of_der (der->data, der->len);
}

/* Returns: (transfer full) (nullable): the certificate the profile trusts for @server_url */
static GTlsCertificate *
dup_pin (PinholeClient *self,
         const char    *server_url)
{
  g_autofree char *pem = pinhole_profile_dup_setting (self->profile, PIN_CERTIFICATE);
  g_autofree char *server = pinhole_profile_dup_setting (self->profile, PIN_SERVER);
  g_autoptr(GError) error = NULL;
  GTlsCertificate *pinned;

  if (pem == NULL || !_pinhole_server_urls_equal (server, server_url))
    return NULL;
  pinned = g_tls_certificate_new_from_pem (pem, -1, &error);
  if (pinned == NULL)
    g_debug ("the profile's pinned certificate does not parse: %s", error->message);
  return pinned;
}

/* the handshake refused the certificate: the pinned one is still accepted, nothing else */
static gboolean
accept_certificate_cb (SoupMessage          *msg,
                       GTlsCertificate      *certificate,
                       GTlsCertificateFlags  errors,
                       CertificateCheck     *check)
{
  if (check->pinned != NULL && g_tls_certificate_is_same (check->pinned, certificate))
    return TRUE;
  g_set_object (&check->rejected, certificate);
  check->errors = errors;
  check->pin_differs = check->pinned != NULL;
  return FALSE;
}

/* before @msg connects to @server_url: its handshake accepts the profile's pin for it */
void
_pinhole_client_watch_certificate (PinholeClient *self,
                                   SoupMessage   *msg,
                                   const char    *server_url)
{
  CertificateCheck *check = g_new0 (CertificateCheck, 1);

  g_clear_object (&self->rejected_certificate);
  g_clear_pointer (&self->rejected_server, g_free);
  check->pinned = dup_pin (self, server_url);
  g_object_set_data_full (G_OBJECT (msg), CHECK_KEY, check,
                          (GDestroyNotify) certificate_check_free);
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_certificate_cb), check);
}

static const char *
describe_errors (GTlsCertificateFlags errors)
{
  if (errors & G_TLS_CERTIFICATE_UNKNOWN_CA)
    return "no trusted authority signed it";
  if (errors & G_TLS_CERTIFICATE_BAD_IDENTITY)
    return "it is for another host";
  if (errors & (G_TLS_CERTIFICATE_EXPIRED | G_TLS_CERTIFICATE_NOT_ACTIVATED))
    return "it is expired or not valid yet";
  if (errors & G_TLS_CERTIFICATE_REVOKED)
    return "it was revoked";
  if (errors & G_TLS_CERTIFICATE_INSECURE)
    return "its algorithm is insecure";
  return "it did not verify";
}

/**
 * _pinhole_client_certificate_error:
 * @msg: a connection's message, after _pinhole_client_watch_certificate()
 * Returns: (transfer full) (nullable): %PINHOLE_ERROR_CERTIFICATE if @msg failed because its
 *   handshake refused the server's certificate, which the client then keeps as the rejected
 *   one; %NULL if it failed otherwise
 */
GError *
_pinhole_client_certificate_error (PinholeClient *self,
                                   SoupMessage   *msg,
                                   const char    *server_url)
{
  CertificateCheck *check = g_object_get_data (G_OBJECT (msg), CHECK_KEY);
  g_autofree char *fingerprint = NULL;

  if (check == NULL || check->rejected == NULL)
    return NULL;
  g_set_object (&self->rejected_certificate, check->rejected);
  g_free (self->rejected_server);
  self->rejected_server = g_strdup (server_url);
  fingerprint = pinhole_certificate_dup_fingerprint (check->rejected);
  return g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CERTIFICATE,
                      "the certificate of %s is not trusted (%s%s); its SHA-256 fingerprint is "
                      "%s", server_url, describe_errors (check->errors),
                      check->pin_differs ? ", and it is not the one trusted for this server"
                                         : "", fingerprint);
}

/**
 * pinhole_client_dup_rejected_certificate:
 * Returns: (transfer full) (nullable): the server certificate the last connection refused
 *   (%PINHOLE_ERROR_CERTIFICATE), or %NULL if the last connection did not refuse one
 */
GTlsCertificate *
pinhole_client_dup_rejected_certificate (PinholeClient *self)
{
  g_return_val_if_fail (PINHOLE_IS_CLIENT (self), NULL);
  return self->rejected_certificate ? g_object_ref (self->rejected_certificate) : NULL;
}

/**
 * pinhole_client_trust_certificate:
 * @certificate: the certificate to accept, once the user has compared its fingerprint
 * Pins @certificate in the profile: from now on that exact certificate is accepted for the
 * server that presented it (the last rejected one, or else the profile's server), as well as
 * any the system trusts; any other untrusted certificate is still refused. It replaces an
 * earlier pin: a profile has one server.
 */
gboolean
pinhole_client_trust_certificate (PinholeClient    *self,
                                  GTlsCertificate  *certificate,
                                  GError          **error)
{
  g_autofree char *pem = NULL;
  g_autofree char *server = NULL;

  g_return_val_if_fail (PINHOLE_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), FALSE);

  /* a first register has no profile server yet: the pin is for the server that refused */
  if (self->rejected_certificate != NULL &&
      g_tls_certificate_is_same (self->rejected_certificate, certificate))
    server = g_strdup (self->rejected_server);
  else
    server = pinhole_profile_dup_setting (self->profile, "server");
  if (server == NULL)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND,
                           "no server to trust this certificate for: connect to it first");
      return FALSE;
    }
  g_object_get (certificate, "certificate-pem", &pem, NULL);
  if (pem == NULL)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                           "the certificate has no PEM form");
      return FALSE;
    }
  /* the server goes last: a half-written pin is no pin rather than the old one elsewhere */
  return pinhole_profile_set_setting (self->profile, PIN_SERVER, NULL, error) &&
         pinhole_profile_set_setting (self->profile, PIN_CERTIFICATE, pem, error) &&
         pinhole_profile_set_setting (self->profile, PIN_SERVER, server, error);
}
