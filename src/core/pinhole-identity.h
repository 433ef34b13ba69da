/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-identity.h: a device's long-term Ed25519 key pair, signatures, safety-number
 * fingerprints and sealed boxes for offline messages (libsodium). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PINHOLE_IDENTITY_PUBLIC_KEY_BYTES 32
#define PINHOLE_IDENTITY_SECRET_BYTES     64
#define PINHOLE_IDENTITY_SIGNATURE_BYTES  64

#define PINHOLE_TYPE_IDENTITY (pinhole_identity_get_type ())
G_DECLARE_FINAL_TYPE (PinholeIdentity, pinhole_identity, PINHOLE, IDENTITY, GObject)

PinholeIdentity *pinhole_identity_new              (void);
PinholeIdentity *pinhole_identity_new_from_secret  (GBytes           *secret,
                                                    GError          **error);
GBytes          *pinhole_identity_dup_secret       (PinholeIdentity  *self);
GBytes          *pinhole_identity_dup_public_key   (PinholeIdentity  *self);
GBytes          *pinhole_identity_sign             (PinholeIdentity  *self,
                                                    GBytes           *message);
GBytes          *pinhole_identity_open_sealed      (PinholeIdentity  *self,
                                                    GBytes           *sealed,
                                                    GBytes          **out_sender_public_key,
                                                    GError          **error);

gboolean         pinhole_verify_signature          (GBytes           *public_key,
                                                    GBytes           *message,
                                                    GBytes           *signature,
                                                    GError          **error);
char            *pinhole_fingerprint_for_key       (GBytes           *public_key);
GBytes          *pinhole_seal                      (PinholeIdentity  *sender,
                                                    GBytes           *recipient_public_key,
                                                    GBytes           *plaintext,
                                                    GError          **error);

G_END_DECLS
