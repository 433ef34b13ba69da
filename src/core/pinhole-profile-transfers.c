/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-profile-transfers.c: the transfers a profile keeps while they are not over
 * (docs/transfer.md §8): what was offered, from where or to where, what was accepted, so that
 * either side carries on after a restart. The verified blocks are in the partial files. */
#define G_LOG_DOMAIN "pinhole-profile"

#include "pinhole-profile-private.h"

void
pinhole_transfer_record_free (PinholeTransferRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->id);
  g_free (record->peer);
  g_free (record->device);
  g_free (record->manifest);
  g_free (record->sources);
  g_free (record->folder);
  g_free (record->accepted);
  g_free (record);
}

static void
bind_text (sqlite3_stmt *stmt,
           int           i,
           const char   *text)
{
  if (text != NULL)
    sqlite3_bind_text (stmt, i, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, i);
}

/* records @record, replacing what was kept under its id */
gboolean
pinhole_profile_save_transfer (PinholeProfile              *self,
                               const PinholeTransferRecord *record,
                               GError                     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (PINHOLE_IS_PROFILE (self), FALSE);
  g_return_val_if_fail (record->id != NULL && record->peer != NULL && record->manifest != NULL,
                        FALSE);
  stmt = _pinhole_profile_prepare (self, "INSERT OR REPLACE INTO transfers (id, direction, peer,"
                                   " device, manifest, sources, folder, accepted, state, created)"
                                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, record->id);
  sqlite3_bind_int (stmt, 2, record->direction);
  bind_text (stmt, 3, record->peer);
  bind_text (stmt, 4, record->device);
  bind_text (stmt, 5, record->manifest);
  bind_text (stmt, 6, record->sources);
  bind_text (stmt, 7, record->folder);
  bind_text (stmt, 8, record->accepted);
  sqlite3_bind_int (stmt, 9, record->state);
  sqlite3_bind_int64 (stmt, 10, record->created);
  return _pinhole_profile_step_done (self, stmt, error);
}

/* the transfer is over: nothing of it is kept */
gboolean
pinhole_profile_forget_transfer (PinholeProfile *self,
                                 const char     *id,
                                 GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (PINHOLE_IS_PROFILE (self), FALSE);
  stmt = _pinhole_profile_prepare (self, "DELETE FROM transfers WHERE id = ?", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, id);
  return _pinhole_profile_step_done (self, stmt, error);
}

static char *
column_text (sqlite3_stmt *stmt,
             int           i)
{
  const unsigned char *text = sqlite3_column_text (stmt, i);

  return text != NULL ? g_strdup ((const char *) text) : NULL;
}

/* Returns: (transfer container): PinholeTransferRecord, oldest first */
GPtrArray *
pinhole_profile_list_transfers (PinholeProfile *self)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_transfer_record_free);
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (PINHOLE_IS_PROFILE (self), list);
  stmt = _pinhole_profile_prepare (self, "SELECT id, direction, peer, device, manifest, sources,"
                                   " folder, accepted, state, created FROM transfers"
                                   " ORDER BY created, id", NULL);
  while (stmt != NULL && sqlite3_step (stmt) == SQLITE_ROW)
    {
      PinholeTransferRecord *r = g_new0 (PinholeTransferRecord, 1);

      r->id = column_text (stmt, 0);
      r->direction = sqlite3_column_int (stmt, 1);
      r->peer = column_text (stmt, 2);
      r->device = column_text (stmt, 3);
      r->manifest = column_text (stmt, 4);
      r->sources = column_text (stmt, 5);
      r->folder = column_text (stmt, 6);
      r->accepted = column_text (stmt, 7);
      r->state = sqlite3_column_int (stmt, 8);
      r->created = sqlite3_column_int64 (stmt, 9);
      g_ptr_array_add (list, r);
    }
  return list;
}
