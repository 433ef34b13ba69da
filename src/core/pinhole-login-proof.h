/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-login-proof.h: what a device signs to log in (docs/protocol.md §4): the server's
 * challenge for this connection, the user and the device, so that a device's public key —
 * which every contact sees — is not enough to log in as it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PINHOLE_LOGIN_NONCE_BYTES 32

GBytes *pinhole_login_proof_message (GBytes     *nonce,
                                     const char *user,
                                     const char *device);

G_END_DECLS
