/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-identity.c: a device's Ed25519 key pair (libsodium), detached signatures, safety
 * numbers, and signed sealed boxes (Ed25519 -> X25519, crypto_box_seal) for offline messages. */
#define G_LOG_DOMAIN "pinhole-identity"

#include "pinhole-identity.h"

#include <sodium.h>
#include <string.h>

#include "pinhole-error.h"

/* inside a sealed box: [u8 version][32 sender Ed25519 key][64 signature][plaintext];
 * the signature covers SEAL_CONTEXT || recipient key || plaintext, so a box cannot be
 * re-sealed to someone else under the sender's name */
#define SEAL_VERSION 1
#define SEAL_CONTEXT "pinhole-seal-v1"
#define SEAL_INNER_HEADER (1 + crypto_sign_PUBLICKEYBYTES + crypto_sign_BYTES)

/* v2: twelve groups (v1 printed six from a 30-byte hash) */
#define FINGERPRINT_CONTEXT "pinhole-fingerprint-v2"
#define FINGERPRINT_GROUPS 12
G_STATIC_ASSERT (FINGERPRINT_GROUPS * 5 <= crypto_generichash_BYTES_MAX);

struct _PinholeIdentity
{
  GObject parent_instance;

  /* owned, wiped in finalize */
  guint8  secret[crypto_sign_SECRETKEYBYTES];
  guint8  public_key[crypto_sign_PUBLICKEYBYTES];
};

G_DEFINE_FINAL_TYPE (PinholeIdentity, pinhole_identity, G_TYPE_OBJECT)

static void
ensure_sodium (void)
{
  /* sodium_init() is idempotent and thread-safe; -1 means no usable randomness */
  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");
}

static void
pinhole_identity_finalize (GObject *object)
{
  PinholeIdentity *self = PINHOLE_IDENTITY (object);

  sodium_memzero (self->secret, sizeof self->secret);
  G_OBJECT_CLASS (pinhole_identity_parent_class)->finalize (object);
}

static void
pinhole_identity_class_init (PinholeIdentityClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  ensure_sodium ();
  object_class->finalize = pinhole_identity_finalize;
}

static void
pinhole_identity_init (PinholeIdentity *self)
{
}

/**
 * pinhole_identity_new:
 * Returns: (transfer full): an identity with a fresh random key pair
 */
PinholeIdentity *
pinhole_identity_new (void)
{
  PinholeIdentity *self = g_object_new (PINHOLE_TYPE_IDENTITY, NULL);

  crypto_sign_keypair (self->public_key, self->secret);
  return self;
}

/**
 * pinhole_identity_new_from_secret:
 * @secret: a 64-byte libsodium Ed25519 secret key (seed followed by public key), as
 *   returned by pinhole_identity_dup_secret()
 *
 * Fails with %PINHOLE_ERROR_FAILED when @secret has the wrong length or its public half
 * does not belong to its seed.
 *
 * Returns: (transfer full) (nullable): the identity, or %NULL with @error set
 */
PinholeIdentity *
pinhole_identity_new_from_secret (GBytes  *secret,
                                  GError **error)
{
  g_autoptr(PinholeIdentity) self = NULL;
  guint8 check_pk[crypto_sign_PUBLICKEYBYTES];
  guint8 check_sk[crypto_sign_SECRETKEYBYTES];
  const guint8 *data;
  gsize len;

  g_return_val_if_fail (secret != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  data = g_bytes_get_data (secret, &len);
  if (len != crypto_sign_SECRETKEYBYTES)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                   "Device secret key has %" G_GSIZE_FORMAT " bytes, expected %u",
                   len, (guint) crypto_sign_SECRETKEYBYTES);
      return NULL;
    }

  /* the stored public half must be the one the seed derives */
  crypto_sign_seed_keypair (check_pk, check_sk, data);
  sodium_memzero (check_sk, sizeof check_sk);
  if (sodium_memcmp (check_pk, data + crypto_sign_SEEDBYTES, sizeof check_pk) != 0)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                           "Device secret key is corrupt: its public half does not match "
                           "its seed");
      return NULL;
    }

  self = g_object_new (PINHOLE_TYPE_IDENTITY, NULL);
  memcpy (self->secret, data, sizeof self->secret);
  memcpy (self->public_key, check_pk, sizeof self->public_key);
  return g_steal_pointer (&self);
}

/**
 * pinhole_identity_dup_secret:
 * Returns: (transfer full): the 64-byte secret key, for the local profile store only
 */
GBytes *
pinhole_identity_dup_secret (PinholeIdentity *self)
{
  g_return_val_if_fail (PINHOLE_IS_IDENTITY (self), NULL);
  return g_bytes_new (self->secret, sizeof self->secret);
}

/**
 * pinhole_identity_dup_public_key:
 * Returns: (transfer full): the 32-byte Ed25519 public key
 */
GBytes *
pinhole_identity_dup_public_key (PinholeIdentity *self)
{
  g_return_val_if_fail (PINHOLE_IS_IDENTITY (self), NULL);
  return g_bytes_new (self->public_key, sizeof self->public_key);
}

/**
 * pinhole_identity_sign:
 * Returns: (transfer full): the detached 64-byte Ed25519 signature of @message
 */
GBytes *
pinhole_identity_sign (PinholeIdentity *self,
                       GBytes          *message)
{
  guint8 sig[crypto_sign_BYTES];
  const guint8 *data;
  gsize len;

  g_return_val_if_fail (PINHOLE_IS_IDENTITY (self), NULL);
  g_return_val_if_fail (message != NULL, NULL);

  data = g_bytes_get_data (message, &len);
  crypto_sign_detached (sig, NULL, data, len, self->secret);
  return g_bytes_new (sig, sizeof sig);
}

/**
 * pinhole_verify_signature:
 * @public_key: the signer's 32-byte Ed25519 key
 * @message: what was signed
 * @signature: the detached 64-byte signature
 *
 * Any mismatch, including a key or signature of the wrong length, is %PINHOLE_ERROR_AUTH.
 *
 * Returns: %TRUE when @signature is @public_key's signature of @message
 */
gboolean
pinhole_verify_signature (GBytes  *public_key,
                          GBytes  *message,
                          GBytes  *signature,
                          GError **error)
{
  const guint8 *pk, *msg, *sig;
  gsize pk_len, msg_len, sig_len;

  g_return_val_if_fail (public_key != NULL, FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (signature != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  ensure_sodium ();
  pk = g_bytes_get_data (public_key, &pk_len);
  msg = g_bytes_get_data (message, &msg_len);
  sig = g_bytes_get_data (signature, &sig_len);

  if (pk_len != crypto_sign_PUBLICKEYBYTES)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                   "Public key has %" G_GSIZE_FORMAT " bytes, expected %u",
                   pk_len, (guint) crypto_sign_PUBLICKEYBYTES);
      return FALSE;
    }
  if (sig_len != crypto_sign_BYTES)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                   "Signature has %" G_GSIZE_FORMAT " bytes, expected %u",
                   sig_len, (guint) crypto_sign_BYTES);
      return FALSE;
    }
  if (crypto_sign_verify_detached (sig, msg, msg_len, pk) != 0)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                           "Signature does not match the key");
      return FALSE;
    }
  return TRUE;
}

/**
 * pinhole_fingerprint_for_key:
 * @public_key: a device key
 *
 * A safety number, as Signal shows one: twelve groups of five digits from BLAKE2b-480 over
 * "pinhole-fingerprint-v2" || key; each group is the next 40-bit big-endian chunk of the
 * hash modulo 100000. It depends on the key alone, so both sides of a pair compute the same
 * number for a device, and the user compares it out of band before marking it verified.
 *
 * Returns: (transfer full): e.g. "04719 33820 90001 58212 66403 12877 …" (12 groups)
 */
char *
pinhole_fingerprint_for_key (GBytes *public_key)
{
  crypto_generichash_state state;
  guint8 hash[FINGERPRINT_GROUPS * 5];
  GString *out;
  const guint8 *pk;
  gsize pk_len;

  g_return_val_if_fail (public_key != NULL, NULL);

  ensure_sodium ();
  pk = g_bytes_get_data (public_key, &pk_len);
  crypto_generichash_init (&state, NULL, 0, sizeof hash);
  crypto_generichash_update (&state, (const guint8 *) FINGERPRINT_CONTEXT,
                             strlen (FINGERPRINT_CONTEXT));
  crypto_generichash_update (&state, pk, pk_len);
  crypto_generichash_final (&state, hash, sizeof hash);

  out = g_string_sized_new (FINGERPRINT_GROUPS * 6);
  for (guint g = 0; g < FINGERPRINT_GROUPS; g++)
    {
      guint64 chunk = 0;

      for (guint i = 0; i < 5; i++)
        chunk = chunk << 8 | hash[g * 5 + i];
      g_string_append_printf (out, "%s%05u", g == 0 ? "" : " ", (guint) (chunk % 100000));
    }
  return g_string_free (out, FALSE);
}

static GBytes *
seal_signed_message (GBytes *recipient_public_key,
                     GBytes *plaintext)
{
  GByteArray *msg = g_byte_array_new ();
  const guint8 *data;
  gsize len;

  g_byte_array_append (msg, (const guint8 *) SEAL_CONTEXT, strlen (SEAL_CONTEXT));
  data = g_bytes_get_data (recipient_public_key, &len);
  g_byte_array_append (msg, data, len);
  data = g_bytes_get_data (plaintext, &len);
  if (len > 0)
    g_byte_array_append (msg, data, len);
  return g_byte_array_free_to_bytes (msg);
}

/**
 * pinhole_seal:
 * @sender: who signs the message
 * @recipient_public_key: the recipient device's 32-byte Ed25519 key
 * @plaintext: the message
 *
 * Seals @plaintext so that only the recipient device can open it and learn, verified,
 * which device key sent it. The server storing the box learns neither.
 *
 * Returns: (transfer full) (nullable): the sealed box, or %NULL with @error set when the
 *   recipient key is unusable
 */
GBytes *
pinhole_seal (PinholeIdentity *sender,
              GBytes          *recipient_public_key,
              GBytes          *plaintext,
              GError         **error)
{
  g_autoptr(GBytes) signed_msg = NULL;
  guint8 recipient_x[crypto_box_PUBLICKEYBYTES];
  guint8 sig[crypto_sign_BYTES];
  g_autofree guint8 *inner = NULL;
  guint8 *out;
  const guint8 *rpk, *pt;
  gsize rpk_len, pt_len, inner_len;

  g_return_val_if_fail (PINHOLE_IS_IDENTITY (sender), NULL);
  g_return_val_if_fail (recipient_public_key != NULL, NULL);
  g_return_val_if_fail (plaintext != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  rpk = g_bytes_get_data (recipient_public_key, &rpk_len);
  pt = g_bytes_get_data (plaintext, &pt_len);
  if (rpk_len != crypto_sign_PUBLICKEYBYTES)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                   "Recipient key has %" G_GSIZE_FORMAT " bytes, expected %u",
                   rpk_len, (guint) crypto_sign_PUBLICKEYBYTES);
      return NULL;
    }
  if (crypto_sign_ed25519_pk_to_curve25519 (recipient_x, rpk) != 0)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                           "Recipient key is not a valid Ed25519 point");
      return NULL;
    }
  if (pt_len > G_MAXSIZE - SEAL_INNER_HEADER - crypto_box_SEALBYTES)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT, "Message too large");
      return NULL;
    }

  signed_msg = seal_signed_message (recipient_public_key, plaintext);
  crypto_sign_detached (sig, NULL, g_bytes_get_data (signed_msg, NULL),
                        g_bytes_get_size (signed_msg), sender->secret);

  inner_len = SEAL_INNER_HEADER + pt_len;
  inner = g_malloc (inner_len);
  inner[0] = SEAL_VERSION;
  memcpy (inner + 1, sender->public_key, crypto_sign_PUBLICKEYBYTES);
  memcpy (inner + 1 + crypto_sign_PUBLICKEYBYTES, sig, crypto_sign_BYTES);
  if (pt_len > 0)
    memcpy (inner + SEAL_INNER_HEADER, pt, pt_len);

  out = g_malloc (inner_len + crypto_box_SEALBYTES);
  crypto_box_seal (out, inner, inner_len, recipient_x);
  sodium_memzero (inner, inner_len);
  return g_bytes_new_take (out, inner_len + crypto_box_SEALBYTES);
}

/**
 * pinhole_identity_open_sealed:
 * @self: the recipient
 * @sealed: a box from pinhole_seal()
 * @out_sender_public_key: (out) (optional) (transfer full): the verified sender key
 *
 * Fails with %PINHOLE_ERROR_AUTH when the box was not sealed to @self, was altered, or
 * its signature does not verify; and with %PINHOLE_ERROR_PROTOCOL on an unknown format.
 *
 * Returns: (transfer full) (nullable): the plaintext, or %NULL with @error set
 */
GBytes *
pinhole_identity_open_sealed (PinholeIdentity *self,
                              GBytes          *sealed,
                              GBytes         **out_sender_public_key,
                              GError         **error)
{
  guint8 my_x_pk[crypto_box_PUBLICKEYBYTES];
  guint8 my_x_sk[crypto_box_SECRETKEYBYTES];
  g_autoptr(GBytes) recipient = NULL;
  g_autoptr(GBytes) plaintext = NULL;
  g_autoptr(GBytes) signed_msg = NULL;
  g_autoptr(GBytes) sender_pk = NULL;
  g_autoptr(GBytes) sig = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree guint8 *inner = NULL;
  const guint8 *data;
  gsize len, inner_len;
  int rc;

  g_return_val_if_fail (PINHOLE_IS_IDENTITY (self), NULL);
  g_return_val_if_fail (sealed != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  data = g_bytes_get_data (sealed, &len);
  if (len < crypto_box_SEALBYTES + SEAL_INNER_HEADER)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                   "Sealed box has %" G_GSIZE_FORMAT " bytes, at least %u needed",
                   len, (guint) (crypto_box_SEALBYTES + SEAL_INNER_HEADER));
      return NULL;
    }

  if (crypto_sign_ed25519_pk_to_curve25519 (my_x_pk, self->public_key) != 0 ||
      crypto_sign_ed25519_sk_to_curve25519 (my_x_sk, self->secret) != 0)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                           "Device key cannot be converted to X25519");
      return NULL;
    }

  inner_len = len - crypto_box_SEALBYTES;
  inner = g_malloc (inner_len);
  rc = crypto_box_seal_open (inner, data, len, my_x_pk, my_x_sk);
  sodium_memzero (my_x_sk, sizeof my_x_sk);
  if (rc != 0)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                           "Sealed box was altered or is not addressed to this device");
      return NULL;
    }

  if (inner[0] != SEAL_VERSION)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "Sealed box version %u, expected %u", inner[0], SEAL_VERSION);
      return NULL;
    }

  sender_pk = g_bytes_new (inner + 1, crypto_sign_PUBLICKEYBYTES);
  sig = g_bytes_new (inner + 1 + crypto_sign_PUBLICKEYBYTES, crypto_sign_BYTES);
  plaintext = g_bytes_new (inner + SEAL_INNER_HEADER, inner_len - SEAL_INNER_HEADER);
  recipient = pinhole_identity_dup_public_key (self);
  signed_msg = seal_signed_message (recipient, plaintext);
  if (!pinhole_verify_signature (sender_pk, signed_msg, sig, &local_error))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                   "Sealed box sender signature is invalid: %s", local_error->message);
      return NULL;
    }

  if (out_sender_public_key != NULL)
    *out_sender_public_key = g_steal_pointer (&sender_pk);
  return g_steal_pointer (&plaintext);
}
