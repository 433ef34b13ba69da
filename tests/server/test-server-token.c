/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-server-token.c: a login token's life, by pinhole_token_check(): valid when fresh,
 * replaced at its first log-in after a day, the replaced one good for an hour more, and
 * refused once its lifetime is over; another device key or token is never valid. */
#include "pinhole-server-token.h"

#include <string.h>

#define S      ((gint64) G_USEC_PER_SEC)
#define DAY    (86400 * S)
#define LIFE   (90 * DAY)

static GBytes *
bytes_of (guint8 fill)
{
  guint8 data[32];

  memset (data, fill, sizeof data);
  return g_bytes_new (data, sizeof data);
}

static gint64
check (const PinholeStoreToken *stored,
       GBytes                  *key,
       GBytes                  *hash,
       gint64                   now)
{
  return pinhole_token_check (stored, key, hash, now, LIFE, DAY);
}

static void
test_life (void)
{
  g_autoptr(GBytes) key = bytes_of (1);
  g_autoptr(GBytes) other_key = bytes_of (2);
  g_autoptr(GBytes) t0 = bytes_of (10);
  g_autoptr(GBytes) t1 = bytes_of (11);
  g_autoptr(GBytes) stranger = bytes_of (12);
  gint64 issued = 1000 * DAY;
  PinholeStoreToken stored = { key, t0, issued, NULL, 0 };

  g_assert_cmpint (check (&stored, key, t0, issued + S), ==, PINHOLE_TOKEN_VALID);
  g_assert_cmpint (check (&stored, key, t0, issued + DAY - S), ==, PINHOLE_TOKEN_VALID);
  g_assert_cmpint (check (&stored, key, t0, issued + DAY), ==, PINHOLE_TOKEN_ROTATE);
  g_assert_cmpint (check (&stored, key, t0, issued + LIFE - S), ==, PINHOLE_TOKEN_ROTATE);
  g_assert_cmpint (check (&stored, key, t0, issued + LIFE), ==, PINHOLE_TOKEN_EXPIRED);
  g_assert_cmpint (check (&stored, other_key, t0, issued + S), ==, PINHOLE_TOKEN_REFUSED);
  g_assert_cmpint (check (&stored, key, stranger, issued + S), ==, PINHOLE_TOKEN_REFUSED);

  /* rotated two days in: t1 is the token, t0 logs in for the overlap and no longer */
  stored.hash = t1;
  stored.issued = issued + 2 * DAY;
  stored.prev_hash = t0;
  stored.prev_until = stored.issued + PINHOLE_TOKEN_OVERLAP_US;
  g_assert_cmpint (check (&stored, key, t1, stored.issued + S), ==, PINHOLE_TOKEN_VALID);
  g_assert_cmpint (check (&stored, key, t0, stored.issued + S), ==, PINHOLE_TOKEN_VALID);
  g_assert_cmpint (check (&stored, key, t0, stored.prev_until), ==, PINHOLE_TOKEN_REFUSED);
  g_assert_cmpint (check (&stored, other_key, t0, stored.issued + S), ==,
                   PINHOLE_TOKEN_REFUSED);
  g_assert_cmpint (check (&stored, key, stranger, stored.issued + S), ==,
                   PINHOLE_TOKEN_REFUSED);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/server/token/life", test_life);
  return g_test_run ();
}
