/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-login-proof.c: the message a device signs with its Ed25519 key to log in. */
#include "pinhole-login-proof.h"

#include <string.h>

#define LABEL "pinhole-login-v1"

static void
append_field (GByteArray *out,
              const char *text)
{
  gsize len = strlen (text);
  guint8 prefix[2] = { (guint8) (len >> 8), (guint8) len };

  g_byte_array_append (out, prefix, sizeof prefix);
  g_byte_array_append (out, (const guint8 *) text, (guint) len);
}

/* Returns: (transfer full): LABEL || nonce || u16 len || user || u16 len || device */
GBytes *
pinhole_login_proof_message (GBytes     *nonce,
                             const char *user,
                             const char *device)
{
  GByteArray *out = g_byte_array_new ();
  gsize len;
  const guint8 *data = g_bytes_get_data (nonce, &len);

  g_return_val_if_fail (strlen (user) <= G_MAXUINT16 && strlen (device) <= G_MAXUINT16, NULL);
  g_byte_array_append (out, (const guint8 *) LABEL, strlen (LABEL));
  g_byte_array_append (out, data, (guint) len);
  append_field (out, user);
  append_field (out, device);
  return g_byte_array_free_to_bytes (out);
}
