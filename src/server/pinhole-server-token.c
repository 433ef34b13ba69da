/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server-token.c: the verdict on a presented login token, by its hash and the times
 * kept with it; pure, so that tests/server/test-server-token.c can walk a token's life. */
#include "pinhole-server-token.h"

#include <sodium.h>

static gboolean
same_hash (GBytes *a,
           GBytes *b)
{
  return a != NULL && b != NULL && g_bytes_get_size (a) == g_bytes_get_size (b) &&
         sodium_memcmp (g_bytes_get_data (a, NULL), g_bytes_get_data (b, NULL),
                        g_bytes_get_size (a)) == 0;
}

/**
 * pinhole_token_check:
 * @stored: what the store keeps for the device
 * @device_key: the key the log-in names (it must be the device's)
 * @token_hash: the hash of the presented token
 * @now, @lifetime, @rotate_after: real time, µs
 */
PinholeTokenVerdict
pinhole_token_check (const PinholeStoreToken *stored,
                     GBytes                  *device_key,
                     GBytes                  *token_hash,
                     gint64                   now,
                     gint64                   lifetime,
                     gint64                   rotate_after)
{
  if (stored->key == NULL || !g_bytes_equal (stored->key, device_key))
    return PINHOLE_TOKEN_REFUSED;
  if (same_hash (stored->hash, token_hash))
    {
      if (now - stored->issued >= lifetime)
        return PINHOLE_TOKEN_EXPIRED;
      return now - stored->issued >= rotate_after ? PINHOLE_TOKEN_ROTATE : PINHOLE_TOKEN_VALID;
    }
  /* the one before the last rotation, in its overlap: valid, and no new one (the process that
   * rotated holds it already) */
  if (same_hash (stored->prev_hash, token_hash) && now < stored->prev_until)
    return PINHOLE_TOKEN_VALID;
  return PINHOLE_TOKEN_REFUSED;
}
