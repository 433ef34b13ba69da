/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-identity.c: device keys, signatures, fingerprints and sealed boxes. */
#include <string.h>

#include "pinhole-error.h"
#include "pinhole-identity.h"

static GBytes *
bytes_from_string (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

static gboolean
bytes_contain (GBytes     *haystack,
               const char *needle)
{
  gsize len, n = strlen (needle);
  const guint8 *data = g_bytes_get_data (haystack, &len);

  for (gsize i = 0; i + n <= len; i++)
    if (memcmp (data + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

static GBytes *
flip_byte (GBytes *bytes,
           gsize   index)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  guint8 *copy;

  g_assert_cmpuint (index, <, len);
  copy = g_memdup2 (data, len);
  copy[index] ^= 0x01;
  return g_bytes_new_take (copy, len);
}

static void
test_sign_verify (void)
{
  g_autoptr(PinholeIdentity) alice = pinhole_identity_new ();
  g_autoptr(GBytes) pk = pinhole_identity_dup_public_key (alice);
  g_autoptr(GBytes) msg = bytes_from_string ("hello bob");
  g_autoptr(GBytes) other = bytes_from_string ("hello bOb");
  g_autoptr(GBytes) sig = pinhole_identity_sign (alice, msg);
  g_autoptr(GBytes) bad_sig = flip_byte (sig, 10);
  g_autoptr(GBytes) short_sig = g_bytes_new_from_bytes (sig, 0, 63);
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (g_bytes_get_size (pk), ==, 32);
  g_assert_cmpuint (g_bytes_get_size (sig), ==, 64);
  g_assert_true (pinhole_verify_signature (pk, msg, sig, &error));
  g_assert_no_error (error);

  g_assert_false (pinhole_verify_signature (pk, other, sig, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
  g_clear_error (&error);

  g_assert_false (pinhole_verify_signature (pk, msg, bad_sig, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
  g_clear_error (&error);

  g_assert_false (pinhole_verify_signature (pk, msg, short_sig, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
}

static void
test_wrong_key (void)
{
  g_autoptr(PinholeIdentity) alice = pinhole_identity_new ();
  g_autoptr(PinholeIdentity) mallory = pinhole_identity_new ();
  g_autoptr(GBytes) alice_pk = pinhole_identity_dup_public_key (alice);
  g_autoptr(GBytes) mallory_pk = pinhole_identity_dup_public_key (mallory);
  g_autoptr(GBytes) msg = bytes_from_string ("transfer everything");
  g_autoptr(GBytes) sig = pinhole_identity_sign (mallory, msg);
  g_autoptr(GError) error = NULL;

  g_assert_false (g_bytes_equal (alice_pk, mallory_pk));
  g_assert_false (pinhole_verify_signature (alice_pk, msg, sig, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
  g_clear_error (&error);
  g_assert_true (pinhole_verify_signature (mallory_pk, msg, sig, &error));
  g_assert_no_error (error);
}

static void
test_secret_round_trip (void)
{
  g_autoptr(PinholeIdentity) alice = pinhole_identity_new ();
  g_autoptr(GBytes) secret = pinhole_identity_dup_secret (alice);
  g_autoptr(GBytes) pk = pinhole_identity_dup_public_key (alice);
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeIdentity) again = pinhole_identity_new_from_secret (secret, &error);
  g_autoptr(GBytes) pk_again = NULL;
  g_autoptr(GBytes) msg = bytes_from_string ("same device");
  g_autoptr(GBytes) sig = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (again);
  g_assert_cmpuint (g_bytes_get_size (secret), ==, 64);
  pk_again = pinhole_identity_dup_public_key (again);
  g_assert_true (g_bytes_equal (pk, pk_again));
  sig = pinhole_identity_sign (again, msg);
  g_assert_true (pinhole_verify_signature (pk, msg, sig, &error));
  g_assert_no_error (error);
}

static void
test_bad_secret (void)
{
  g_autoptr(PinholeIdentity) alice = pinhole_identity_new ();
  g_autoptr(GBytes) secret = pinhole_identity_dup_secret (alice);
  g_autoptr(GBytes) short_secret = g_bytes_new_from_bytes (secret, 0, 32);
  g_autoptr(GBytes) corrupt = flip_byte (secret, 40);
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GError) error = NULL;
  PinholeIdentity *id;

  id = pinhole_identity_new_from_secret (short_secret, &error);
  g_assert_null (id);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "32 bytes"));
  g_clear_error (&error);

  id = pinhole_identity_new_from_secret (empty, &error);
  g_assert_null (id);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED);
  g_clear_error (&error);

  /* the public half no longer matches the seed */
  id = pinhole_identity_new_from_secret (corrupt, &error);
  g_assert_null (id);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED);
}

static void
test_fingerprint (void)
{
  g_autoptr(PinholeIdentity) alice = pinhole_identity_new ();
  g_autoptr(PinholeIdentity) bob = pinhole_identity_new ();
  g_autoptr(GBytes) alice_pk = pinhole_identity_dup_public_key (alice);
  g_autoptr(GBytes) bob_pk = pinhole_identity_dup_public_key (bob);
  g_autofree char *fa = pinhole_fingerprint_for_key (alice_pk);
  g_autofree char *fa2 = pinhole_fingerprint_for_key (alice_pk);
  g_autofree char *fb = pinhole_fingerprint_for_key (bob_pk);

  g_assert_cmpstr (fa, ==, fa2);
  g_assert_cmpstr (fa, !=, fb);
  /* the format is what two versions compare out of band: pinned, from Python's hashlib,
   * blake2b (b"pinhole-fingerprint-v2" + bytes (range (32)), digest_size=60) */
  {
    guint8 raw[32];
    g_autoptr(GBytes) key = NULL;
    g_autofree char *known = NULL;

    for (guint i = 0; i < sizeof raw; i++)
      raw[i] = (guint8) i;
    key = g_bytes_new (raw, sizeof raw);
    known = pinhole_fingerprint_for_key (key);
    g_assert_cmpstr (known, ==, "86502 56673 33321 76309 29688 55071 "
                                "32740 06009 29714 47136 08670 37746");
  }
  g_assert_cmpuint (strlen (fa), ==, 12 * 5 + 11);
  for (guint i = 0; fa[i] != '\0'; i++)
    {
      if (i % 6 == 5)
        g_assert_cmpint (fa[i], ==, ' ');
      else
        g_assert_true (g_ascii_isdigit (fa[i]));
    }
}

static void
test_seal_round_trip (void)
{
  g_autoptr(PinholeIdentity) alice = pinhole_identity_new ();
  g_autoptr(PinholeIdentity) bob = pinhole_identity_new ();
  g_autoptr(GBytes) alice_pk = pinhole_identity_dup_public_key (alice);
  g_autoptr(GBytes) bob_pk = pinhole_identity_dup_public_key (bob);
  g_autoptr(GBytes) msg = bytes_from_string ("see you at eight");
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GBytes) sealed = NULL;
  g_autoptr(GBytes) opened = NULL;
  g_autoptr(GBytes) sender = NULL;
  g_autoptr(GError) error = NULL;

  sealed = pinhole_seal (alice, bob_pk, msg, &error);
  g_assert_no_error (error);
  g_assert_nonnull (sealed);
  /* the plaintext does not appear in the box */
  g_assert_false (bytes_contain (sealed, "see you"));

  opened = pinhole_identity_open_sealed (bob, sealed, &sender, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (opened, msg));
  g_assert_true (g_bytes_equal (sender, alice_pk));
  g_clear_pointer (&sealed, g_bytes_unref);
  g_clear_pointer (&opened, g_bytes_unref);

  /* an empty message works too */
  sealed = pinhole_seal (alice, bob_pk, empty, &error);
  g_assert_no_error (error);
  opened = pinhole_identity_open_sealed (bob, sealed, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (opened), ==, 0);
}

static void
test_seal_tampered (void)
{
  g_autoptr(PinholeIdentity) alice = pinhole_identity_new ();
  g_autoptr(PinholeIdentity) bob = pinhole_identity_new ();
  g_autoptr(GBytes) bob_pk = pinhole_identity_dup_public_key (bob);
  g_autoptr(GBytes) msg = bytes_from_string ("pay 10 euros");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) sealed = pinhole_seal (alice, bob_pk, msg, &error);
  gsize len;

  g_assert_no_error (error);
  len = g_bytes_get_size (sealed);
  /* every single bit-flip position, and every truncation, is refused */
  for (gsize i = 0; i < len; i++)
    {
      g_autoptr(GBytes) bad = flip_byte (sealed, i);
      g_autoptr(GBytes) out = pinhole_identity_open_sealed (bob, bad, NULL, &error);

      g_assert_null (out);
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
      g_clear_error (&error);
    }
  for (gsize n = 0; n < len; n++)
    {
      g_autoptr(GBytes) prefix = g_bytes_new_from_bytes (sealed, 0, n);
      g_autoptr(GBytes) out = pinhole_identity_open_sealed (bob, prefix, NULL, &error);

      g_assert_null (out);
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
      g_clear_error (&error);
    }
}

static void
test_seal_wrong_recipient (void)
{
  g_autoptr(PinholeIdentity) alice = pinhole_identity_new ();
  g_autoptr(PinholeIdentity) bob = pinhole_identity_new ();
  g_autoptr(PinholeIdentity) carol = pinhole_identity_new ();
  g_autoptr(GBytes) bob_pk = pinhole_identity_dup_public_key (bob);
  g_autoptr(GBytes) msg = bytes_from_string ("for bob only");
  g_autoptr(GBytes) short_key = g_bytes_new_from_bytes (bob_pk, 0, 31);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) sealed = pinhole_seal (alice, bob_pk, msg, &error);
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) none = NULL;

  g_assert_no_error (error);
  out = pinhole_identity_open_sealed (carol, sealed, NULL, &error);
  g_assert_null (out);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH);
  g_clear_error (&error);

  none = pinhole_seal (alice, short_key, msg, &error);
  g_assert_null (none);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/identity/sign-verify", test_sign_verify);
  g_test_add_func ("/identity/wrong-key", test_wrong_key);
  g_test_add_func ("/identity/secret-round-trip", test_secret_round_trip);
  g_test_add_func ("/identity/bad-secret", test_bad_secret);
  g_test_add_func ("/identity/fingerprint", test_fingerprint);
  g_test_add_func ("/identity/seal/round-trip", test_seal_round_trip);
  g_test_add_func ("/identity/seal/tampered", test_seal_tampered);
  g_test_add_func ("/identity/seal/wrong-recipient", test_seal_wrong_recipient);

  return g_test_run ();
}
