/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-quic-certificate.h: the ephemeral key and self-signed certificate one end of a QUIC
 * path shows in its handshake. Its SHA-256 fingerprint travels to the peer inside the
 * end-to-end encrypted session, and the peer's QUIC path accepts that certificate and no other:
 * the certificate carries no name and no trust of its own. */
#pragma once

#include <glib-object.h>
#include <gnutls/gnutls.h>

G_BEGIN_DECLS

#define PINHOLE_TYPE_QUIC_CERTIFICATE (pinhole_quic_certificate_get_type ())
G_DECLARE_FINAL_TYPE (PinholeQuicCertificate, pinhole_quic_certificate, PINHOLE,
                      QUIC_CERTIFICATE, GObject)

PinholeQuicCertificate *pinhole_quic_certificate_new             (GError **error);
/* "AB:CD:…": the SHA-256 of the certificate's DER (pinhole_fingerprint_of_der()) */
const char             *pinhole_quic_certificate_get_fingerprint (PinholeQuicCertificate *self);
/* for pinhole-quic-path.c: the key and certificate, ready for gnutls_credentials_set() */
gnutls_certificate_credentials_t
                        pinhole_quic_certificate_get_credentials (PinholeQuicCertificate *self);

G_END_DECLS
