/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-sqlite-store.c: the server's default storage, one SQLite file in WAL mode with
 * synchronous=NORMAL and no automatic checkpoints: a commit on the main loop only writes to
 * the -wal file (it survives a crash of the program, not yet a power loss); a worker thread
 * fsyncs the WAL for pinhole_store_sync_async(), one sync for every write made before it
 * began (group commit), and runs the checkpoints, which fsync too, on a connection of its own.
 * docs/architecture.md "The server's durability" says why. */
#define G_LOG_DOMAIN "pinhole-store"

#include "pinhole-sqlite-store.h"
#include "pinhole-db-sync.h"
#include "pinhole-error.h"
#include "pinhole-private-file.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

struct _PinholeSqliteStore
{
  GObject  parent_instance;

  /* owned */
  sqlite3   *db;
  char      *path;
  PinholeDbFiles *files;    /* for the syncs, in worker threads */
  GPtrArray *waiting;       /* GTask*: syncs asked for since the running one began */

  gboolean   syncing;
  gboolean   checkpointing;
  guint      n_syncs;       /* syncs done, for the debug log and tests */
  guint      sync_delay_ms; /* test hooks, read at open */
  gboolean   sync_fail;
};

static void pinhole_sqlite_store_iface_init (PinholeStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PinholeSqliteStore, pinhole_sqlite_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PINHOLE_TYPE_STORE,
                                                      pinhole_sqlite_store_iface_init))

/* to_user/to_device: the device that sent the message, for which the receipt waits */
#define RECEIPTS_TABLE \
  "CREATE TABLE IF NOT EXISTS receipts (" \
  "  seq INTEGER PRIMARY KEY AUTOINCREMENT, to_user TEXT NOT NULL, to_device TEXT NOT NULL," \
  "  id TEXT NOT NULL, user TEXT NOT NULL, device TEXT NOT NULL, stored INTEGER NOT NULL," \
  "  UNIQUE (to_user, to_device, id, user, device));"

static const char pragmas[] =
  "PRAGMA journal_mode=WAL;"
  "PRAGMA synchronous=NORMAL;"
  "PRAGMA wal_autocheckpoint=0;"
  "PRAGMA foreign_keys=ON;";

/* a new database: version 3 */
static const char schema[] =
  "CREATE TABLE IF NOT EXISTS accounts ("
  "  user TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created INTEGER NOT NULL);"
  "CREATE TABLE IF NOT EXISTS devices ("
  "  user TEXT NOT NULL REFERENCES accounts(user) ON DELETE CASCADE, device TEXT NOT NULL,"
  "  key BLOB NOT NULL, token_hash BLOB NOT NULL, token_issued INTEGER NOT NULL DEFAULT 0,"
  "  prev_token_hash BLOB, prev_until INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (user, device));"
  "CREATE TABLE IF NOT EXISTS relations ("
  "  owner TEXT NOT NULL, contact TEXT NOT NULL, relation INTEGER NOT NULL,"
  "  PRIMARY KEY (owner, contact));"
  "CREATE TABLE IF NOT EXISTS offline ("
  "  seq INTEGER PRIMARY KEY AUTOINCREMENT, to_user TEXT NOT NULL, to_device TEXT NOT NULL,"
  "  id TEXT NOT NULL, from_user TEXT NOT NULL, from_device TEXT NOT NULL,"
  "  sealed BLOB NOT NULL, stored INTEGER NOT NULL, UNIQUE (to_user, to_device, id));"
  RECEIPTS_TABLE
  "PRAGMA user_version=3;";

/* version 1 to 2: tokens expire and rotate, so each keeps when it was issued (tokens of
 * version 1 count from the upgrade) */
static const char migrate_1_to_2[] =
  "BEGIN;"
  "ALTER TABLE devices ADD COLUMN token_issued INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE devices ADD COLUMN prev_token_hash BLOB;"
  "ALTER TABLE devices ADD COLUMN prev_until INTEGER NOT NULL DEFAULT 0;"
  "UPDATE devices SET token_issued = CAST (strftime ('%s', 'now') AS INTEGER) * 1000000;"
  "PRAGMA user_version=2;"
  "COMMIT;";

/* version 2 to 3: receipts of sealed messages wait for a sender that is offline */
static const char migrate_2_to_3[] =
  "BEGIN;"
  RECEIPTS_TABLE
  "PRAGMA user_version=3;"
  "COMMIT;";

static gboolean
sql_failed (PinholeSqliteStore *self,
            int                 rc,
            GError            **error)
{
  g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED, "database error %d: %s", rc,
               sqlite3_errmsg (self->db));
  return FALSE;
}

static sqlite3_stmt *
prepare (PinholeSqliteStore *self,
         const char         *sql,
         GError            **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);

  if (rc != SQLITE_OK)
    {
      sql_failed (self, rc, error);
      return NULL;
    }
  return stmt;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

static void
bind_text (sqlite3_stmt *stmt, int i, const char *text)
{
  sqlite3_bind_text (stmt, i, text, -1, SQLITE_TRANSIENT);
}

static void
bind_bytes (sqlite3_stmt *stmt, int i, GBytes *bytes)
{
  gsize len;
  const void *data = g_bytes_get_data (bytes, &len);

  sqlite3_bind_blob (stmt, i, data, (int) len, SQLITE_TRANSIENT);
}

static GBytes *
column_bytes (sqlite3_stmt *stmt, int i)
{
  return g_bytes_new (sqlite3_column_blob (stmt, i), (gsize) sqlite3_column_bytes (stmt, i));
}

static char *
column_text (sqlite3_stmt *stmt, int i)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, i));
}

static gboolean
exec (PinholeSqliteStore *self,
      const char         *sql,
      GError            **error)
{
  int rc = sqlite3_exec (self->db, sql, NULL, NULL, NULL);

  return rc == SQLITE_OK ? TRUE : sql_failed (self, rc, error);
}

static gboolean
store_create_account (PinholeStore *store, const char *user, const char *password_hash,
                      GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "INSERT INTO accounts (user, password_hash, created) VALUES (?, ?, ?)", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, user);
  bind_text (stmt, 2, password_hash);
  sqlite3_bind_int64 (stmt, 3, g_get_real_time ());
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_CONSTRAINT)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_EXISTS, "user %s exists already", user);
      return FALSE;
    }
  return rc == SQLITE_DONE ? TRUE : sql_failed (self, rc, error);
}

static char *
store_dup_password_hash (PinholeStore *store, const char *user, GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "SELECT password_hash FROM accounts WHERE user = ?", error);
  int rc;

  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, user);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return column_text (stmt, 0);
  if (rc == SQLITE_DONE)
    g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND, "unknown user %s", user);
  else
    sql_failed (self, rc, error);
  return NULL;
}

static gboolean
store_put_device (PinholeStore *store, const char *user, const char *device, GBytes *key,
                  GBytes *token_hash, GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "INSERT INTO devices (user, device, key, token_hash, token_issued) "
                   "VALUES (?, ?, ?, ?, ?) "
                   "ON CONFLICT (user, device) DO UPDATE SET token_hash = excluded.token_hash, "
                   "token_issued = excluded.token_issued, prev_token_hash = NULL, prev_until = 0 "
                   "WHERE key = excluded.key", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, user);
  bind_text (stmt, 2, device);
  bind_bytes (stmt, 3, key);
  bind_bytes (stmt, 4, token_hash);
  sqlite3_bind_int64 (stmt, 5, g_get_real_time ());
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_DONE)
    return sql_failed (self, rc, error);
  if (sqlite3_changes (self->db) == 0)
    {
      /* a device keeps its key for life: a new key is a new device */
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_EXISTS,
                   "device %s of %s is registered with another key", device, user);
      return FALSE;
    }
  return TRUE;
}

static gboolean store_get_token (PinholeStore *store, const char *user, const char *device,
                                 PinholeStoreToken *out, GError **error);

static gboolean
store_get_device (PinholeStore *store, const char *user, const char *device, GBytes **out_key,
                  GBytes **out_token_hash, GError **error)
{
  g_auto(PinholeStoreToken) token = { 0 };

  if (!store_get_token (store, user, device, &token, error))
    return FALSE;
  if (out_key != NULL)
    *out_key = g_steal_pointer (&token.key);
  if (out_token_hash != NULL)
    *out_token_hash = g_steal_pointer (&token.hash);
  return TRUE;
}

static GPtrArray *
store_list_devices (PinholeStore *store, const char *user, GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "SELECT device, key FROM devices WHERE user = ? ORDER BY device", error);
  g_autoptr(GPtrArray) devices = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;
  devices = g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_store_device_free);
  bind_text (stmt, 1, user);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PinholeStoreDevice *d = g_new0 (PinholeStoreDevice, 1);

      d->user = g_strdup (user);
      d->device = column_text (stmt, 0);
      d->key = column_bytes (stmt, 1);
      g_ptr_array_add (devices, d);
    }
  if (rc != SQLITE_DONE)
    {
      sql_failed (self, rc, error);
      return NULL;
    }
  return g_steal_pointer (&devices);
}

static gboolean
store_get_token (PinholeStore *store, const char *user, const char *device,
                 PinholeStoreToken *out, GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "SELECT key, token_hash, token_issued, prev_token_hash, prev_until "
                   "FROM devices WHERE user = ? AND device = ?", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, user);
  bind_text (stmt, 2, device);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND, "unknown device %s of %s",
                   device, user);
      return FALSE;
    }
  if (rc != SQLITE_ROW)
    return sql_failed (self, rc, error);
  out->key = column_bytes (stmt, 0);
  out->hash = column_bytes (stmt, 1);
  out->issued = sqlite3_column_int64 (stmt, 2);
  out->prev_hash = sqlite3_column_type (stmt, 3) == SQLITE_NULL ? NULL : column_bytes (stmt, 3);
  out->prev_until = sqlite3_column_int64 (stmt, 4);
  return TRUE;
}

static gboolean
store_rotate_token (PinholeStore *store, const char *user, const char *device,
                    GBytes *new_hash, gint64 prev_until, GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "UPDATE devices SET prev_token_hash = token_hash, prev_until = ?, "
                   "token_hash = ?, token_issued = ? WHERE user = ? AND device = ?", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, prev_until);
  bind_bytes (stmt, 2, new_hash);
  sqlite3_bind_int64 (stmt, 3, g_get_real_time ());
  bind_text (stmt, 4, user);
  bind_text (stmt, 5, device);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_DONE)
    return sql_failed (self, rc, error);
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND, "unknown device %s of %s",
                   device, user);
      return FALSE;
    }
  return TRUE;
}

static gboolean
store_remove_device (PinholeStore *store, const char *user, const char *device, GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(sqlite3_stmt) gone = NULL;
  g_autoptr(sqlite3_stmt) queue = NULL;
  g_autoptr(sqlite3_stmt) receipts = NULL;
  int rc;

  if (!exec (self, "BEGIN", error))
    return FALSE;
  gone = prepare (self, "DELETE FROM devices WHERE user = ? AND device = ?", error);
  queue = gone ? prepare (self, "DELETE FROM offline WHERE to_user = ? AND to_device = ?",
                          error) : NULL;
  receipts = queue ? prepare (self, "DELETE FROM receipts WHERE to_user = ? AND to_device = ?",
                              error) : NULL;
  if (receipts == NULL)
    goto rollback;
  bind_text (gone, 1, user);
  bind_text (gone, 2, device);
  if ((rc = sqlite3_step (gone)) != SQLITE_DONE)
    {
      sql_failed (self, rc, error);
      goto rollback;
    }
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND, "%s has no device %s", user,
                   device);
      goto rollback;
    }
  bind_text (queue, 1, user);
  bind_text (queue, 2, device);
  bind_text (receipts, 1, user);
  bind_text (receipts, 2, device);
  if ((rc = sqlite3_step (queue)) != SQLITE_DONE || (rc = sqlite3_step (receipts)) != SQLITE_DONE)
    {
      sql_failed (self, rc, error);
      goto rollback;
    }
  return exec (self, "COMMIT", error);

rollback:
  exec (self, "ROLLBACK", NULL);
  return FALSE;
}

static PinholeRelation
store_get_relation (PinholeStore *store, const char *owner, const char *contact, GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "SELECT relation FROM relations WHERE owner = ? AND contact = ?", error);
  int rc;

  if (stmt == NULL)
    return PINHOLE_RELATION_NONE;
  bind_text (stmt, 1, owner);
  bind_text (stmt, 2, contact);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return (PinholeRelation) CLAMP (sqlite3_column_int (stmt, 0), PINHOLE_RELATION_NONE,
                                    PINHOLE_RELATION_BLOCKED);
  if (rc != SQLITE_DONE)
    sql_failed (self, rc, error);
  return PINHOLE_RELATION_NONE;
}

static gboolean
set_one_relation (PinholeSqliteStore *self, const char *owner, const char *contact,
                  PinholeRelation relation, GError **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  if (relation == PINHOLE_RELATION_NONE)
    stmt = prepare (self, "DELETE FROM relations WHERE owner = ? AND contact = ?", error);
  else
    stmt = prepare (self, "INSERT OR REPLACE INTO relations (owner, contact, relation) "
                          "VALUES (?, ?, ?)", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, owner);
  bind_text (stmt, 2, contact);
  if (relation != PINHOLE_RELATION_NONE)
    sqlite3_bind_int (stmt, 3, relation);
  rc = sqlite3_step (stmt);
  return rc == SQLITE_DONE ? TRUE : sql_failed (self, rc, error);
}

static gboolean
store_set_relation (PinholeStore *store, const char *a, const char *b, PinholeRelation a_to_b,
                    PinholeRelation b_to_a, GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);

  if (!exec (self, "BEGIN IMMEDIATE", error))
    return FALSE;
  if (!set_one_relation (self, a, b, a_to_b, error) ||
      !set_one_relation (self, b, a, b_to_a, error))
    {
      exec (self, "ROLLBACK", NULL);
      return FALSE;
    }
  return exec (self, "COMMIT", error);
}

static GPtrArray *
store_list_contacts (PinholeStore *store, const char *owner, GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "SELECT contact, relation FROM relations WHERE owner = ? ORDER BY contact",
             error);
  g_autoptr(GPtrArray) contacts = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;
  contacts = g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_store_contact_free);
  bind_text (stmt, 1, owner);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PinholeStoreContact *c = g_new0 (PinholeStoreContact, 1);

      c->user = column_text (stmt, 0);
      c->relation = (PinholeRelation) CLAMP (sqlite3_column_int (stmt, 1),
                                             PINHOLE_RELATION_NONE, PINHOLE_RELATION_BLOCKED);
      g_ptr_array_add (contacts, c);
    }
  if (rc != SQLITE_DONE)
    {
      sql_failed (self, rc, error);
      return NULL;
    }
  return g_steal_pointer (&contacts);
}

static gboolean
store_queue_offline (PinholeStore *store, const char *to_user, const char *to_device,
                     const PinholeStoreOffline *message, guint max_queued, GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(sqlite3_stmt) count =
    prepare (self, "SELECT count(*) FROM offline WHERE to_user = ? AND to_device = ?", error);
  g_autoptr(sqlite3_stmt) insert = NULL;
  int rc;

  if (count == NULL)
    return FALSE;
  bind_text (count, 1, to_user);
  bind_text (count, 2, to_device);
  if (sqlite3_step (count) != SQLITE_ROW)
    return sql_failed (self, sqlite3_errcode (self->db), error);
  if ((guint) sqlite3_column_int (count, 0) >= max_queued)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "%u messages already wait for %s/%s", max_queued, to_user, to_device);
      return FALSE;
    }

  insert = prepare (self, "INSERT INTO offline (to_user, to_device, id, from_user, from_device,"
                          " sealed, stored) VALUES (?, ?, ?, ?, ?, ?, ?)", error);
  if (insert == NULL)
    return FALSE;
  bind_text (insert, 1, to_user);
  bind_text (insert, 2, to_device);
  bind_text (insert, 3, message->id);
  bind_text (insert, 4, message->from_user);
  bind_text (insert, 5, message->from_device);
  bind_bytes (insert, 6, message->sealed);
  sqlite3_bind_int64 (insert, 7, message->timestamp);
  rc = sqlite3_step (insert);
  if (rc == SQLITE_CONSTRAINT)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_EXISTS, "message %s is queued already",
                   message->id);
      return FALSE;
    }
  return rc == SQLITE_DONE ? TRUE : sql_failed (self, rc, error);
}

static PinholeStoreOffline *
offline_from_row (sqlite3_stmt *stmt)
{
  PinholeStoreOffline *m = g_new0 (PinholeStoreOffline, 1);

  m->id = column_text (stmt, 0);
  m->from_user = column_text (stmt, 1);
  m->from_device = column_text (stmt, 2);
  m->sealed = column_bytes (stmt, 3);
  m->timestamp = sqlite3_column_int64 (stmt, 4);
  return m;
}

static GPtrArray *
store_list_offline (PinholeStore *store, const char *user, const char *device, guint limit,
                    GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "SELECT id, from_user, from_device, sealed, stored FROM offline "
                   "WHERE to_user = ? AND to_device = ? ORDER BY seq LIMIT ?", error);
  g_autoptr(GPtrArray) messages = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;
  messages = g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_store_offline_free);
  bind_text (stmt, 1, user);
  bind_text (stmt, 2, device);
  sqlite3_bind_int (stmt, 3, (int) MIN (limit, G_MAXINT));
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (messages, offline_from_row (stmt));
  if (rc != SQLITE_DONE)
    {
      sql_failed (self, rc, error);
      return NULL;
    }
  return g_steal_pointer (&messages);
}

/* the receipt of @m, delivered to @user's @device, for the device that sent it; its oldest
 * receipts beyond @max_receipts go */
static gboolean
keep_receipt (PinholeSqliteStore        *self,
              const PinholeStoreOffline *m,
              const char                *user,
              const char                *device,
              guint                      max_receipts,
              GError                   **error)
{
  g_autoptr(sqlite3_stmt) insert =
    prepare (self, "INSERT OR IGNORE INTO receipts (to_user, to_device, id, user, device, stored)"
                   " VALUES (?, ?, ?, ?, ?, ?)", error);
  g_autoptr(sqlite3_stmt) trim = NULL;
  int rc;

  if (insert == NULL)
    return FALSE;
  bind_text (insert, 1, m->from_user);
  bind_text (insert, 2, m->from_device);
  bind_text (insert, 3, m->id);
  bind_text (insert, 4, user);
  bind_text (insert, 5, device);
  sqlite3_bind_int64 (insert, 6, g_get_real_time ());
  if ((rc = sqlite3_step (insert)) != SQLITE_DONE)
    return sql_failed (self, rc, error);

  trim = prepare (self, "DELETE FROM receipts WHERE to_user = ?1 AND to_device = ?2 AND seq <= "
                        "(SELECT seq FROM receipts WHERE to_user = ?1 AND to_device = ?2 "
                        "ORDER BY seq DESC LIMIT 1 OFFSET ?3)", error);
  if (trim == NULL)
    return FALSE;
  bind_text (trim, 1, m->from_user);
  bind_text (trim, 2, m->from_device);
  sqlite3_bind_int (trim, 3, (int) MIN (max_receipts, G_MAXINT));
  if ((rc = sqlite3_step (trim)) != SQLITE_DONE)
    return sql_failed (self, rc, error);
  return TRUE;
}

static PinholeStoreOffline *
take_offline (PinholeSqliteStore *self,
              const char         *user,
              const char         *device,
              const char         *id,
              guint               max_receipts,
              GError            **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "DELETE FROM offline WHERE to_user = ? AND to_device = ? AND id = ? "
                   "RETURNING id, from_user, from_device, sealed, stored", error);
  g_autoptr(PinholeStoreOffline) message = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, user);
  bind_text (stmt, 2, device);
  bind_text (stmt, 3, id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND, "no queued message %s", id);
      return NULL;
    }
  if (rc != SQLITE_ROW)
    {
      sql_failed (self, rc, error);
      return NULL;
    }
  message = offline_from_row (stmt);
  /* RETURNING rows are deleted when the statement runs to completion */
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_DONE)
    {
      sql_failed (self, rc, error);
      return NULL;
    }
  if (max_receipts > 0 && !keep_receipt (self, message, user, device, max_receipts, error))
    return NULL;
  return g_steal_pointer (&message);
}

/* one transaction: a crash leaves the message queued or its receipt kept, never neither */
static PinholeStoreOffline *
store_take_offline (PinholeStore *store, const char *user, const char *device, const char *id,
                    guint max_receipts, GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(PinholeStoreOffline) message = NULL;

  if (!exec (self, "BEGIN IMMEDIATE", error))
    return NULL;
  message = take_offline (self, user, device, id, max_receipts, error);
  if (message == NULL || !exec (self, "COMMIT", error))
    {
      exec (self, "ROLLBACK", NULL);
      return NULL;
    }
  return g_steal_pointer (&message);
}

static PinholeStoreReceipt *
receipt_from_row (sqlite3_stmt *stmt)
{
  PinholeStoreReceipt *r = g_new0 (PinholeStoreReceipt, 1);

  r->id = column_text (stmt, 0);
  r->user = column_text (stmt, 1);
  r->device = column_text (stmt, 2);
  r->timestamp = sqlite3_column_int64 (stmt, 3);
  return r;
}

static GPtrArray *
store_list_receipts (PinholeStore *store, const char *user, const char *device, guint limit,
                     GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "SELECT id, user, device, stored FROM receipts "
                   "WHERE to_user = ? AND to_device = ? ORDER BY seq LIMIT ?", error);
  g_autoptr(GPtrArray) receipts = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;
  receipts = g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_store_receipt_free);
  bind_text (stmt, 1, user);
  bind_text (stmt, 2, device);
  sqlite3_bind_int (stmt, 3, (int) MIN (limit, G_MAXINT));
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (receipts, receipt_from_row (stmt));
  if (rc != SQLITE_DONE)
    {
      sql_failed (self, rc, error);
      return NULL;
    }
  return g_steal_pointer (&receipts);
}

static gboolean
store_remove_receipts (PinholeStore *store, const char *to_user, const char *to_device,
                       GPtrArray *receipts, guint *out_removed, GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "DELETE FROM receipts WHERE to_user = ? AND to_device = ? AND id = ? "
                   "AND user = ? AND device = ?", error);
  guint removed = 0;
  int rc;

  if (stmt == NULL || !exec (self, "BEGIN IMMEDIATE", error))
    return FALSE;
  bind_text (stmt, 1, to_user);
  bind_text (stmt, 2, to_device);
  for (guint i = 0; i < receipts->len; i++)
    {
      const PinholeStoreReceipt *r = g_ptr_array_index (receipts, i);

      bind_text (stmt, 3, r->id);
      bind_text (stmt, 4, r->user);
      bind_text (stmt, 5, r->device);
      rc = sqlite3_step (stmt);
      sqlite3_reset (stmt);
      if (rc != SQLITE_DONE)
        {
          sql_failed (self, rc, error);
          exec (self, "ROLLBACK", NULL);
          return FALSE;
        }
      removed += (guint) sqlite3_changes (self->db);
    }
  if (!exec (self, "COMMIT", error))
    {
      exec (self, "ROLLBACK", NULL);
      return FALSE;
    }
  if (out_removed != NULL)
    *out_removed = removed;
  return TRUE;
}

static void
pinhole_sqlite_store_finalize (GObject *object)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (object);

  /* the last connection to close checkpoints the WAL itself (at exit: nothing waits) */
  g_clear_pointer (&self->db, sqlite3_close_v2);
  g_clear_pointer (&self->files, pinhole_db_files_free);
  g_clear_pointer (&self->waiting, g_ptr_array_unref);
  g_free (self->path);
  G_OBJECT_CLASS (pinhole_sqlite_store_parent_class)->finalize (object);
}

static void
pinhole_sqlite_store_class_init (PinholeSqliteStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pinhole_sqlite_store_finalize;
}

static void
pinhole_sqlite_store_init (PinholeSqliteStore *self)
{
  self->waiting = g_ptr_array_new_with_free_func (g_object_unref);
}

static gboolean
store_count_offline_from (PinholeStore *store, const char *to_user, const char *to_device,
                          const char *from_user, guint *out_count, GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(sqlite3_stmt) count =
    prepare (self, "SELECT count(*) FROM offline WHERE to_user = ? AND to_device = ?"
                   " AND from_user = ?", error);

  if (count == NULL)
    return FALSE;
  bind_text (count, 1, to_user);
  bind_text (count, 2, to_device);
  bind_text (count, 3, from_user);
  if (sqlite3_step (count) != SQLITE_ROW)
    return sql_failed (self, sqlite3_errcode (self->db), error);
  *out_count = (guint) sqlite3_column_int (count, 0);
  return TRUE;
}

static gboolean
store_purge_offline (PinholeStore *store, gint64 stored_before, guint *out_purged,
                     GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(sqlite3_stmt) purge = prepare (self, "DELETE FROM offline WHERE stored < ?", error);
  int rc;

  if (purge == NULL)
    return FALSE;
  sqlite3_bind_int64 (purge, 1, stored_before);
  rc = sqlite3_step (purge);
  if (rc != SQLITE_DONE)
    return sql_failed (self, rc, error);
  if (out_purged != NULL)
    *out_purged = (guint) sqlite3_changes (self->db);
  return TRUE;
}

static gboolean
store_purge_receipts (PinholeStore *store, gint64 stored_before, guint *out_purged,
                      GError **error)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  g_autoptr(sqlite3_stmt) purge = prepare (self, "DELETE FROM receipts WHERE stored < ?", error);
  int rc;

  if (purge == NULL)
    return FALSE;
  sqlite3_bind_int64 (purge, 1, stored_before);
  rc = sqlite3_step (purge);
  if (rc != SQLITE_DONE)
    return sql_failed (self, rc, error);
  if (out_purged != NULL)
    *out_purged = (guint) sqlite3_changes (self->db);
  return TRUE;
}

/* ---- durability, off the main loop ---- */

/* what a sync worker reads: copies, never the store */
typedef struct
{
  char      *path;
  PinholeDbFiles *files;    /* borrowed: the task holds the store */
  guint      delay_ms;
  gboolean   fail;
  GPtrArray *tasks;         /* GTask*: touched on the main loop only */
} SyncJob;

static void
sync_job_free (SyncJob *job)
{
  g_free (job->path);
  g_ptr_array_unref (job->tasks);
  g_free (job);
}

/* PINHOLE_TEST_SERVER_SYNC_DELAY_MS and PINHOLE_TEST_SERVER_SYNC_FAIL (tests only) make each
 * sync slow or fail, as a slow or broken disk would */
static void
sync_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  SyncJob *job = task_data;
  GError *error = NULL;

  if (job->delay_ms > 0)
    g_usleep ((gulong) job->delay_ms * 1000);
  if (job->fail)
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "cannot sync %s-wal: made to fail (PINHOLE_TEST_SERVER_SYNC_FAIL)", job->path);
  else
    pinhole_db_files_sync (job->files, &error);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void sync_start (PinholeSqliteStore *self);

static void
sync_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (source);
  SyncJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  self->syncing = FALSE;
  self->n_syncs++;
  if (g_task_propagate_boolean (G_TASK (result), &error))
    g_debug ("store synced (sync %u): %u write(s) waited", self->n_syncs, job->tasks->len);
  else
    g_warning ("cannot make %u write(s) durable: %s", job->tasks->len, error->message);
  /* the writes that came meanwhile get their sync before anyone hears of this one */
  if (self->waiting->len > 0)
    sync_start (self);
  for (guint i = 0; i < job->tasks->len; i++)
    {
      GTask *waiter = g_ptr_array_index (job->tasks, i);

      if (error != NULL)
        g_task_return_error (waiter, g_error_copy (error));
      else
        g_task_return_boolean (waiter, TRUE);
    }
}

static void
sync_start (PinholeSqliteStore *self)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, sync_done_cb, NULL);
  SyncJob *job = g_new0 (SyncJob, 1);

  g_assert (!self->syncing);
  job->path = g_strdup (self->path);
  job->files = self->files;
  job->delay_ms = self->sync_delay_ms;
  job->fail = self->sync_fail;
  job->tasks = g_steal_pointer (&self->waiting);
  self->waiting = g_ptr_array_new_with_free_func (g_object_unref);
  self->syncing = TRUE;
  g_task_set_source_tag (task, sync_start);
  g_task_set_task_data (task, job, (GDestroyNotify) sync_job_free);
  g_task_run_in_thread (task, sync_thread);
}

/* a sync that runs already may have begun before the caller's write: the caller waits for
 * the next one, which every caller meanwhile shares */
static void
store_sync_async (PinholeStore *store, GCancellable *cancellable, GAsyncReadyCallback callback,
                  gpointer user_data)
{
  PinholeSqliteStore *self = PINHOLE_SQLITE_STORE (store);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, store_sync_async);
  g_ptr_array_add (self->waiting, task);
  if (!self->syncing)
    sync_start (self);
}

static gboolean
store_sync_finish (PinholeStore *store, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, store), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
checkpoint_done_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  PINHOLE_SQLITE_STORE (source)->checkpointing = FALSE;
}

/* after each commit on the main connection: SQLite's own autocheckpoint would run here, on the
 * main loop, at 1000 pages; ours runs in a worker at the same size */
#define CHECKPOINT_PAGES 1000

static int
wal_hook_cb (void       *user_data,
             sqlite3    *db,
             const char *name,
             int         pages)
{
  PinholeSqliteStore *self = user_data;

  if (pages < CHECKPOINT_PAGES || self->checkpointing)
    return SQLITE_OK;
  self->checkpointing = TRUE;
  pinhole_db_checkpoint_async (G_OBJECT (self), self->path, checkpoint_done_cb);
  return SQLITE_OK;
}

/**
 * pinhole_sqlite_store_get_n_syncs:
 * Returns: how many syncs of the WAL have completed (group commit makes it fewer than the
 *   writes that waited for them)
 */
guint
pinhole_sqlite_store_get_n_syncs (PinholeSqliteStore *self)
{
  g_return_val_if_fail (PINHOLE_IS_SQLITE_STORE (self), 0);

  return self->n_syncs;
}

static void
pinhole_sqlite_store_iface_init (PinholeStoreInterface *iface)
{
  iface->create_account = store_create_account;
  iface->dup_password_hash = store_dup_password_hash;
  iface->put_device = store_put_device;
  iface->get_device = store_get_device;
  iface->list_devices = store_list_devices;
  iface->remove_device = store_remove_device;
  iface->get_token = store_get_token;
  iface->rotate_token = store_rotate_token;
  iface->get_relation = store_get_relation;
  iface->set_relation = store_set_relation;
  iface->list_contacts = store_list_contacts;
  iface->queue_offline = store_queue_offline;
  iface->list_offline = store_list_offline;
  iface->take_offline = store_take_offline;
  iface->count_offline_from = store_count_offline_from;
  iface->purge_offline = store_purge_offline;
  iface->list_receipts = store_list_receipts;
  iface->remove_receipts = store_remove_receipts;
  iface->purge_receipts = store_purge_receipts;
  iface->sync_async = store_sync_async;
  iface->sync_finish = store_sync_finish;
}

/**
 * pinhole_sqlite_store_open:
 * @path: the database file, created with its folder when missing
 * Returns: (transfer full): the store
 */
/* a new database gets the schema; an older one is brought to version 3, a step at a time */
static gboolean
migrate (PinholeSqliteStore *self,
         GError            **error)
{
  g_autoptr(sqlite3_stmt) stmt = prepare (self, "PRAGMA user_version", error);
  gint64 version;

  if (stmt == NULL)
    return FALSE;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return sql_failed (self, sqlite3_errcode (self->db), error);
  version = sqlite3_column_int64 (stmt, 0);
  if (version == 0)
    return exec (self, schema, error);
  if (version > 3)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED, "the database is of version %"
                   G_GINT64_FORMAT ", newer than this server (3): run a newer pinhole-server",
                   version);
      return FALSE;
    }
  if (version == 1)
    {
      g_message ("upgrading the database to version 2 (login tokens that expire)");
      if (!exec (self, migrate_1_to_2, error))
        {
          exec (self, "ROLLBACK", NULL);
          return FALSE;
        }
      version = 2;
    }
  if (version == 2)
    {
      g_message ("upgrading the database to version 3 (receipts kept for offline senders)");
      if (!exec (self, migrate_2_to_3, error))
        {
          exec (self, "ROLLBACK", NULL);
          return FALSE;
        }
    }
  return TRUE;
}

PinholeStore *
pinhole_sqlite_store_open (const char *path,
                           GError    **error)
{
  g_autoptr(PinholeSqliteStore) self = g_object_new (PINHOLE_TYPE_SQLITE_STORE, NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  int rc;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s",
                   dir, g_strerror (saved));
      return NULL;
    }
  if (!pinhole_private_file_prepare (path, error))
    return NULL;
  rc = sqlite3_open_v2 (path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED, "cannot open database %s: %s",
                   path, self->db ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc));
      return NULL;
    }
  sqlite3_busy_timeout (self->db, 5000);
  if (!exec (self, pragmas, error) || !migrate (self, error))
    return NULL;
  /* after the pragmas: it replaces SQLite's own autocheckpoint hook */
  sqlite3_wal_hook (self->db, wal_hook_cb, self);
  self->path = g_strdup (path);
  self->files = pinhole_db_files_new (path);
  self->sync_delay_ms = (guint) g_ascii_strtoull (g_getenv ("PINHOLE_TEST_SERVER_SYNC_DELAY_MS")
                                                  ?: "0", NULL, 10);
  self->sync_fail = g_getenv ("PINHOLE_TEST_SERVER_SYNC_FAIL") != NULL;
  return PINHOLE_STORE (g_steal_pointer (&self));
}
