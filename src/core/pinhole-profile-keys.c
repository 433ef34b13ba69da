/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-profile-keys.c: contacts' device keys in the profile. Trust follows "trust on first
 * use": a contact's first device key is recorded; any other key is held as pending and not
 * used until pinhole_profile_trust_keys(). A trusted key the user compared out of band is
 * marked verified, and the mark goes with the key: trusting another key clears it. */
#define G_LOG_DOMAIN "pinhole-profile"

#include "pinhole-profile-private.h"
#include "pinhole-error.h"

#include <string.h>

static gint64
count_keys (PinholeProfile *self,
            const char     *user)
{
  g_autoptr(sqlite3_stmt) stmt =
    _pinhole_profile_prepare (self, "SELECT count(*) FROM keys WHERE user = ? AND key IS NOT NULL",
                              NULL);

  if (stmt == NULL)
    return -1;
  sqlite3_bind_text (stmt, 1, user, -1, SQLITE_TRANSIENT);
  return sqlite3_step (stmt) == SQLITE_ROW ? sqlite3_column_int64 (stmt, 0) : -1;
}

typedef enum
{
  KEY_RECORD_FAILED,   /* the database could not be read */
  KEY_RECORD_NONE,     /* no record of the device */
  KEY_RECORD_SAME,     /* its trusted key is @key, byte for byte */
  KEY_RECORD_OTHER,    /* another key, or only a pending one */
} KeyRecord;

/* what the profile holds for @device of @user, against @key */
static KeyRecord
compare_recorded_key (PinholeProfile *self,
                      const char     *user,
                      const char     *device,
                      GBytes         *key,
                      GError        **error)
{
  g_autoptr(sqlite3_stmt) select =
    _pinhole_profile_prepare (self, "SELECT key FROM keys WHERE user = ? AND device = ?",
                              error);
  int rc;

  if (select == NULL)
    return KEY_RECORD_FAILED;
  sqlite3_bind_text (select, 1, user, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (select, 2, device, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (select);
  if (rc == SQLITE_DONE)
    return KEY_RECORD_NONE;
  if (rc != SQLITE_ROW)
    {
      _pinhole_profile_sql_failed (self, error);
      return KEY_RECORD_FAILED;
    }
  if (sqlite3_column_type (select, 0) == SQLITE_BLOB)
    {
      gsize len = (gsize) sqlite3_column_bytes (select, 0);
      const void *data = sqlite3_column_blob (select, 0);

      if (len == g_bytes_get_size (key) && memcmp (data, g_bytes_get_data (key, NULL), len) == 0)
        return KEY_RECORD_SAME;
    }
  return KEY_RECORD_OTHER;
}

/**
 * pinhole_profile_peek_key:
 * What pinhole_profile_check_key() would say of @key, without recording anything: for the
 * model's key-state, which must not trust a key just because a view looked at it.
 */
PinholeKeyState
pinhole_profile_peek_key (PinholeProfile *self,
                          const char     *user,
                          const char     *device,
                          GBytes         *key)
{
  switch (compare_recorded_key (self, user, device, key, NULL))
    {
    case KEY_RECORD_SAME:
      return PINHOLE_KEY_STATE_TRUSTED;
    case KEY_RECORD_NONE:
      return count_keys (self, user) == 0 ? PINHOLE_KEY_STATE_UNVERIFIED
                                          : PINHOLE_KEY_STATE_CHANGED;
    case KEY_RECORD_FAILED:
    case KEY_RECORD_OTHER:
    default:
      return PINHOLE_KEY_STATE_CHANGED;
    }
}

/**
 * pinhole_profile_check_key:
 * Compares a device key the server published with the record, recording it when it is the
 * contact's first. Returns: the verdict; on a database error PINHOLE_KEY_CHANGED and @error.
 */
PinholeKeyCheck
pinhole_profile_check_key (PinholeProfile *self,
                           const char     *user,
                           const char     *device,
                           GBytes         *key,
                           GError        **error)
{
  KeyRecord record = compare_recorded_key (self, user, device, key, error);
  g_autoptr(sqlite3_stmt) write = NULL;
  gboolean first;

  if (record == KEY_RECORD_SAME)
    return PINHOLE_KEY_TRUSTED;
  if (record == KEY_RECORD_FAILED)
    return PINHOLE_KEY_CHANGED;

  /* the first key of a contact is trusted; a changed key or any further device waits */
  first = record == KEY_RECORD_NONE && count_keys (self, user) == 0;
  write = _pinhole_profile_prepare (
    self, first
    ? "INSERT INTO keys (user, device, key, first_seen) VALUES (?, ?, ?, ?)"
    : "INSERT INTO keys (user, device, pending_key, first_seen) VALUES (?, ?, ?, ?)"
      " ON CONFLICT (user, device) DO UPDATE SET pending_key = excluded.pending_key",
    error);
  if (write == NULL)
    return PINHOLE_KEY_CHANGED;
  sqlite3_bind_text (write, 1, user, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (write, 2, device, -1, SQLITE_TRANSIENT);
  _pinhole_profile_bind_bytes (write, 3, key);
  sqlite3_bind_int64 (write, 4, g_get_real_time () / G_USEC_PER_SEC);
  if (!_pinhole_profile_step_done (self, write, error))
    return PINHOLE_KEY_CHANGED;
  return first ? PINHOLE_KEY_NEW : PINHOLE_KEY_CHANGED;
}

/* TRUE when a key of @user's devices changed and waits for pinhole_profile_trust_keys() */
gboolean
pinhole_profile_has_untrusted_key (PinholeProfile *self,
                                   const char     *user)
{
  g_autoptr(sqlite3_stmt) stmt =
    _pinhole_profile_prepare (self, "SELECT 1 FROM keys WHERE user = ? AND pending_key IS NOT NULL",
                              NULL);

  if (stmt == NULL)
    return TRUE;
  sqlite3_bind_text (stmt, 1, user, -1, SQLITE_TRANSIENT);
  return sqlite3_step (stmt) == SQLITE_ROW;
}

/* accepts every pending key of @user (after the user compared fingerprints); a device whose
 * key this replaces is no longer verified: the mark was for the old key */
gboolean
pinhole_profile_trust_keys (PinholeProfile *self,
                            const char     *user,
                            GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    _pinhole_profile_prepare (self, "UPDATE keys SET key = pending_key, pending_key = NULL, "
                                    "verified = 0 WHERE user = ? AND pending_key IS NOT NULL",
                              error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, user, -1, SQLITE_TRANSIENT);
  return _pinhole_profile_step_done (self, stmt, error);
}

/**
 * pinhole_profile_list_fingerprints:
 * Returns: (transfer full) (element-type utf8): "device: fingerprint" per known key, with
 *   " (changed, not trusted)" after pending ones
 */
GPtrArray *
pinhole_profile_list_fingerprints (PinholeProfile *self,
                                   const char     *user)
{
  g_autoptr(sqlite3_stmt) stmt =
    _pinhole_profile_prepare (self, "SELECT device, key, pending_key FROM keys WHERE user = ? "
                                    "ORDER BY device", NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

  if (stmt == NULL)
    return out;
  sqlite3_bind_text (stmt, 1, user, -1, SQLITE_TRANSIENT);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    for (int col = 1; col <= 2; col++)
      if (sqlite3_column_type (stmt, col) == SQLITE_BLOB)
        {
          g_autoptr(GBytes) key = g_bytes_new (sqlite3_column_blob (stmt, col),
                                               (gsize) sqlite3_column_bytes (stmt, col));
          g_autofree char *fp = pinhole_fingerprint_for_key (key);
          g_ptr_array_add (out, g_strdup_printf ("%s: %s%s", sqlite3_column_text (stmt, 0), fp,
                                                 col == 2 ? " (changed, not trusted)" : ""));
        }
  return out;
}

/**
 * pinhole_profile_get_verified:
 * Returns: %TRUE when @key is the trusted key on record for @device of @user and the user
 *   marked it verified
 */
gboolean
pinhole_profile_get_verified (PinholeProfile *self,
                              const char     *user,
                              const char     *device,
                              GBytes         *key)
{
  g_autoptr(sqlite3_stmt) stmt =
    _pinhole_profile_prepare (self, "SELECT 1 FROM keys WHERE user = ? AND device = ? AND "
                                    "key = ? AND verified != 0", NULL);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, user, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, device, -1, SQLITE_TRANSIENT);
  _pinhole_profile_bind_bytes (stmt, 3, key);
  return sqlite3_step (stmt) == SQLITE_ROW;
}

/**
 * pinhole_profile_set_verified:
 * @key: the key the device has now, whose safety number the user compared
 *
 * Marks @device of @user verified, or not. Only a trusted key can be: a contact's first key is
 * recorded and trusted here (the comparison is a stronger check than first use), but a changed
 * key, or a further device's, must be trusted first (PINHOLE_ERROR_KEY_CHANGED).
 */
gboolean
pinhole_profile_set_verified (PinholeProfile *self,
                              const char     *user,
                              const char     *device,
                              GBytes         *key,
                              gboolean        verified,
                              GError        **error)
{
  g_autoptr(sqlite3_stmt) write = NULL;

  if (verified)
    switch (compare_recorded_key (self, user, device, key, error))
      {
      case KEY_RECORD_FAILED:
        return FALSE;
      case KEY_RECORD_NONE:
        if (count_keys (self, user) == 0)
          break;
        G_GNUC_FALLTHROUGH;
      case KEY_RECORD_OTHER:
        g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_KEY_CHANGED,
                     "%s has a new or changed device key (device %s): trust it before "
                     "marking it verified", user, device);
        return FALSE;
      case KEY_RECORD_SAME:
      default:
        break;
      }
  write = _pinhole_profile_prepare (
    self, verified
    ? "INSERT INTO keys (user, device, key, first_seen, verified) VALUES (?, ?, ?, ?, 1)"
      " ON CONFLICT (user, device) DO UPDATE SET verified = 1"
    : "UPDATE keys SET verified = 0 WHERE user = ? AND device = ?",
    error);
  if (write == NULL)
    return FALSE;
  sqlite3_bind_text (write, 1, user, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (write, 2, device, -1, SQLITE_TRANSIENT);
  if (verified)
    {
      _pinhole_profile_bind_bytes (write, 3, key);
      sqlite3_bind_int64 (write, 4, g_get_real_time () / G_USEC_PER_SEC);
    }
  return _pinhole_profile_step_done (self, write, error);
}
