/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-error.h: the one error domain of libpinhole. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PINHOLE_ERROR (pinhole_error_quark ())

/**
 * PinholeError:
 * @PINHOLE_ERROR_FAILED: anything not listed below
 * @PINHOLE_ERROR_PROTOCOL: a peer or server sent something malformed or out of order
 * @PINHOLE_ERROR_TIMEOUT: no answer before the deadline
 * @PINHOLE_ERROR_AUTH: wrong password, bad token, bad signature or MAC
 * @PINHOLE_ERROR_NO_PATH: no way to reach the peer
 * @PINHOLE_ERROR_NOT_FOUND: unknown user, device or contact
 * @PINHOLE_ERROR_NOT_ALLOWED: the action needs a mutual subscription or is refused
 * @PINHOLE_ERROR_LIMIT: a size, rate or queue limit was hit
 * @PINHOLE_ERROR_EXISTS: the thing to create exists already
 * @PINHOLE_ERROR_KEY_CHANGED: a contact's device key changed and is not trusted yet
 * @PINHOLE_ERROR_CLOSED: the connection or session was closed
 * @PINHOLE_ERROR_BUSY: the profile is in use by another running instance
 * @PINHOLE_ERROR_CERTIFICATE: the server's TLS certificate is not trusted; the message gives
 *   its SHA-256 fingerprint, pinhole_client_dup_rejected_certificate() the certificate
 */
typedef enum
{
  PINHOLE_ERROR_FAILED,
  PINHOLE_ERROR_PROTOCOL,
  PINHOLE_ERROR_TIMEOUT,
  PINHOLE_ERROR_AUTH,
  PINHOLE_ERROR_NO_PATH,
  PINHOLE_ERROR_NOT_FOUND,
  PINHOLE_ERROR_NOT_ALLOWED,
  PINHOLE_ERROR_LIMIT,
  PINHOLE_ERROR_EXISTS,
  PINHOLE_ERROR_KEY_CHANGED,
  PINHOLE_ERROR_CLOSED,
  PINHOLE_ERROR_BUSY,
  PINHOLE_ERROR_CERTIFICATE,
} PinholeError;

GQuark pinhole_error_quark (void);

G_END_DECLS
