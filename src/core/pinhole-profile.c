/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-profile.c: the local SQLite store of one profile (folder mode 0700, file mode 0600).
 * Writes are single-row and quick; the WAL checkpoints, which fsync, run in a worker thread
 * on a connection of their own, so that the main loop never waits for the disk. Writes are
 * committed with synchronous=NORMAL: on disk at the next checkpoint, or when
 * pinhole_profile_sync_async() has synced the WAL (what a receiver does before it acknowledges a
 * message, docs/architecture.md "Durability").
 * Contacts' device keys, their trust and verification, are in pinhole-profile-keys.c. */
#define G_LOG_DOMAIN "pinhole-profile"

#include "pinhole-profile-private.h"
#include "pinhole-db-sync.h"
#include "pinhole-enum-strings.h"
#include "pinhole-error.h"
#include "pinhole-private-file.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

struct _PinholeProfile
{
  GObject          parent_instance;

  /* owned */
  char            *dir;
  char            *path;
  sqlite3         *db;
  PinholeIdentity *identity;
  PinholeDbFiles  *files;          /* for the syncs, in worker threads */

  guint            writes;         /* since the last checkpoint */
  gboolean         checkpointing;
};

G_DEFINE_FINAL_TYPE (PinholeProfile, pinhole_profile, G_TYPE_OBJECT)

static const char schema[] =
  "PRAGMA journal_mode=WAL;"
  "PRAGMA synchronous=NORMAL;"
  "PRAGMA wal_autocheckpoint=0;"
  "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
  "CREATE TABLE IF NOT EXISTS identity (id INTEGER PRIMARY KEY CHECK (id = 1),"
  "  secret BLOB NOT NULL);"
  "CREATE TABLE IF NOT EXISTS contacts (user TEXT PRIMARY KEY,"
  "  relay_only INTEGER NOT NULL DEFAULT 0);"
  "CREATE TABLE IF NOT EXISTS keys (user TEXT NOT NULL, device TEXT NOT NULL,"
  "  key BLOB, pending_key BLOB, first_seen INTEGER NOT NULL, PRIMARY KEY (user, device));"
  "CREATE TABLE IF NOT EXISTS history (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  peer TEXT NOT NULL, id TEXT NOT NULL, direction INTEGER NOT NULL, text TEXT NOT NULL,"
  "  timestamp INTEGER NOT NULL, state TEXT NOT NULL, UNIQUE (peer, id, direction));"
  /* a page of one conversation, and its unread count, without reading the rest of it: made
   * on the first open of an older file too (no version of its own: older programs ignore it) */
  "CREATE INDEX IF NOT EXISTS history_by_peer ON history (peer, seq);"
  /* the few messages a changed key holds back, found without reading the history */
  "CREATE INDEX IF NOT EXISTS history_held ON history (peer) WHERE state = 'held';";

/* version 2: a device key the user compared and marked verified (cleared when another key is
 * trusted for the device), and how far the user has read each conversation. Profiles of
 * version 1 had read everything they hold. A version 2 file that a 0.1 program opened says
 * version 1 again, so each step tolerates having been made already. */
static const char migrate_2_verified[] =
  "ALTER TABLE keys ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;";
static const char migrate_2_read_marks[] =
  "CREATE TABLE IF NOT EXISTS read_marks (peer TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
  "INSERT OR IGNORE INTO read_marks (peer, seq) SELECT peer, max(seq) FROM history"
  "  GROUP BY peer;";

/* version 3: the transfers of files that are not over (docs/transfer.md §8) */
static const char migrate_3_transfers[] =
  "CREATE TABLE IF NOT EXISTS transfers (id TEXT PRIMARY KEY, direction INTEGER NOT NULL,"
  "  peer TEXT NOT NULL, device TEXT, manifest TEXT NOT NULL, sources TEXT, folder TEXT,"
  "  accepted TEXT, state INTEGER NOT NULL, created INTEGER NOT NULL);";

#define SCHEMA_VERSION 3

void
pinhole_history_entry_free (PinholeHistoryEntry *entry)
{
  g_free (entry->peer);
  g_free (entry->id);
  g_free (entry->text);
  g_free (entry);
}

static gboolean
sql_failed (PinholeProfile *self,
            GError        **error)
{
  g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED, "profile database error: %s",
               sqlite3_errmsg (self->db));
  return FALSE;
}

static sqlite3_stmt *
prepare (PinholeProfile *self,
         const char     *sql,
         GError        **error)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      sql_failed (self, error);
      return NULL;
    }
  return stmt;
}

static void
checkpoint_done_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  PINHOLE_PROFILE (source)->checkpointing = FALSE;
}

/* makes every transaction committed so far durable (pinhole_db_files_sync())
 *
 * PINHOLE_TEST_PROFILE_SYNC_FAIL (test only) makes every sync fail. */
static void
sync_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  PinholeProfile *self = source;
  GError *error = NULL;

  if (g_getenv ("PINHOLE_TEST_PROFILE_SYNC_FAIL") != NULL)
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "cannot sync %s-wal: made to fail (PINHOLE_TEST_PROFILE_SYNC_FAIL)", self->path);
  else
    pinhole_db_files_sync (self->files, &error);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * pinhole_profile_sync_async:
 * @self: a profile
 * @cancellable: (nullable): a cancellable
 * @callback: called on the thread-default main context when the writes are on disk
 * @user_data: for @callback
 *
 * Makes every write done so far durable (survives a crash or power loss), in a worker thread.
 * Writes made meanwhile may or may not be covered.
 */
void
pinhole_profile_sync_async (PinholeProfile      *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (PINHOLE_IS_PROFILE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pinhole_profile_sync_async);
  g_task_run_in_thread (task, sync_thread);
}

/**
 * pinhole_profile_sync_finish:
 * Returns: %TRUE when the writes that came before pinhole_profile_sync_async() are on disk
 */
gboolean
pinhole_profile_sync_finish (PinholeProfile *self,
                             GAsyncResult   *result,
                             GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

#define CHECKPOINT_EVERY_WRITES 256

static void
count_write (PinholeProfile *self)
{
  if (++self->writes < CHECKPOINT_EVERY_WRITES || self->checkpointing)
    return;
  self->writes = 0;
  self->checkpointing = TRUE;
  pinhole_db_checkpoint_async (G_OBJECT (self), self->path, checkpoint_done_cb);
}

static gboolean
step_done (PinholeProfile *self,
           sqlite3_stmt   *stmt,
           GError        **error)
{
  count_write (self);
  return sqlite3_step (stmt) == SQLITE_DONE ? TRUE : sql_failed (self, error);
}

static void
bind_bytes (sqlite3_stmt *stmt, int i, GBytes *bytes)
{
  gsize len;
  const void *data = g_bytes_get_data (bytes, &len);

  sqlite3_bind_blob (stmt, i, data, (int) len, SQLITE_TRANSIENT);
}

/* the helpers pinhole-profile-keys.c shares */
sqlite3_stmt *
_pinhole_profile_prepare (PinholeProfile *self,
                          const char     *sql,
                          GError        **error)
{
  return prepare (self, sql, error);
}

gboolean
_pinhole_profile_step_done (PinholeProfile *self,
                            sqlite3_stmt   *stmt,
                            GError        **error)
{
  return step_done (self, stmt, error);
}

gboolean
_pinhole_profile_sql_failed (PinholeProfile *self,
                             GError        **error)
{
  return sql_failed (self, error);
}

void
_pinhole_profile_bind_bytes (sqlite3_stmt *stmt,
                             int           i,
                             GBytes       *bytes)
{
  bind_bytes (stmt, i, bytes);
}

static gboolean
has_column (PinholeProfile *self,
            const char     *table,
            const char     *column)
{
  g_autofree char *sql = g_strdup_printf ("SELECT 1 FROM pragma_table_info ('%s') "
                                          "WHERE name = ?", table);
  g_autoptr(sqlite3_stmt) stmt = prepare (self, sql, NULL);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, column, -1, SQLITE_STATIC);
  return sqlite3_step (stmt) == SQLITE_ROW;
}

static int
schema_version (PinholeProfile *self)
{
  g_autoptr(sqlite3_stmt) stmt = prepare (self, "PRAGMA user_version", NULL);

  return stmt != NULL && sqlite3_step (stmt) == SQLITE_ROW ? sqlite3_column_int (stmt, 0) : -1;
}

/* brings a profile of an older version up to SCHEMA_VERSION in one transaction; a new file
 * has version 0 and the tables of version 1 (made by the schema above) */
static gboolean
migrate (PinholeProfile *self,
         GError        **error)
{
  int version = schema_version (self);
  g_autofree char *sql = NULL;

  if (version < 0)
    return sql_failed (self, error);
  if (version > SCHEMA_VERSION)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                   "profile %s is of version %d, newer than this program's %d", self->path,
                   version, SCHEMA_VERSION);
      return FALSE;
    }
  if (version == SCHEMA_VERSION)
    return TRUE;
  sql = g_strdup_printf ("BEGIN IMMEDIATE;%s%s%sPRAGMA user_version=%d;COMMIT;",
                         has_column (self, "keys", "verified") ? "" : migrate_2_verified,
                         migrate_2_read_marks, migrate_3_transfers, SCHEMA_VERSION);
  if (sqlite3_exec (self->db, sql, NULL, NULL, NULL) != SQLITE_OK)
    {
      sql_failed (self, error);
      sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
      return FALSE;
    }
  return TRUE;
}

static void
pinhole_profile_finalize (GObject *object)
{
  PinholeProfile *self = PINHOLE_PROFILE (object);

  g_clear_object (&self->identity);
  /* the last connection to close checkpoints the WAL itself */
  g_clear_pointer (&self->db, sqlite3_close_v2);
  g_clear_pointer (&self->files, pinhole_db_files_free);
  g_free (self->dir);
  g_free (self->path);
  G_OBJECT_CLASS (pinhole_profile_parent_class)->finalize (object);
}

static void
pinhole_profile_class_init (PinholeProfileClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pinhole_profile_finalize;
}

static void
pinhole_profile_init (PinholeProfile *self)
{
}

static gboolean
load_identity (PinholeProfile *self,
               GError        **error)
{
  g_autoptr(sqlite3_stmt) select = prepare (self, "SELECT secret FROM identity WHERE id = 1",
                                            error);
  int rc;

  if (select == NULL)
    return FALSE;
  rc = sqlite3_step (select);
  if (rc == SQLITE_ROW)
    {
      g_autoptr(GBytes) secret = g_bytes_new (sqlite3_column_blob (select, 0),
                                              (gsize) sqlite3_column_bytes (select, 0));
      self->identity = pinhole_identity_new_from_secret (secret, error);
      return self->identity != NULL;
    }
  if (rc != SQLITE_DONE)
    return sql_failed (self, error);

  {
    g_autoptr(sqlite3_stmt) insert = prepare (self, "INSERT INTO identity (id, secret) "
                                                    "VALUES (1, ?)", error);
    g_autoptr(GBytes) secret = NULL;

    if (insert == NULL)
      return FALSE;
    self->identity = pinhole_identity_new ();
    secret = pinhole_identity_dup_secret (self->identity);
    bind_bytes (insert, 1, secret);
    return step_done (self, insert, error);
  }
}


/**
 * pinhole_profile_open:
 * @dir: the profile folder, created (mode 0700) when missing
 * Returns: (transfer full): the profile, with a device key made on first use
 */
PinholeProfile *
pinhole_profile_open (const char *dir,
                      GError    **error)
{
  g_autoptr(PinholeProfile) self = g_object_new (PINHOLE_TYPE_PROFILE, NULL);
  g_autofree char *path = g_build_filename (dir, "profile.db", NULL);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create profile folder %s: %s", dir, g_strerror (saved));
      return NULL;
    }
  self->dir = g_strdup (dir);
  self->path = g_strdup (path);
  self->files = pinhole_db_files_new (path);
  if (!pinhole_private_file_prepare (path, error))
    return NULL;
  if (sqlite3_open_v2 (path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
      SQLITE_OK)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED, "cannot open profile %s: %s",
                   path, self->db ? sqlite3_errmsg (self->db) : "out of memory");
      return NULL;
    }
  sqlite3_busy_timeout (self->db, 5000);
  if (sqlite3_exec (self->db, schema, NULL, NULL, NULL) != SQLITE_OK)
    {
      sql_failed (self, error);
      return NULL;
    }
  if (!migrate (self, error) || !load_identity (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

const char *
pinhole_profile_get_dir (PinholeProfile *self)
{
  return self->dir;
}

/* Returns: (transfer none): this device's key pair */
PinholeIdentity *
pinhole_profile_get_identity (PinholeProfile *self)
{
  return self->identity;
}

/* Returns: (transfer full) (nullable): the setting, e.g. "user", "device", "server", "token" */
char *
pinhole_profile_dup_setting (PinholeProfile *self,
                             const char     *key)
{
  g_autoptr(sqlite3_stmt) stmt = prepare (self, "SELECT value FROM settings WHERE key = ?",
                                          NULL);

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return NULL;
  return g_strdup ((const char *) sqlite3_column_text (stmt, 0));
}

/* @value: (nullable): %NULL removes the setting */
gboolean
pinhole_profile_set_setting (PinholeProfile *self,
                             const char     *key,
                             const char     *value,
                             GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, value ? "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)"
                         : "DELETE FROM settings WHERE key = ?", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT);
  if (value != NULL)
    sqlite3_bind_text (stmt, 2, value, -1, SQLITE_TRANSIENT);
  return step_done (self, stmt, error);
}

gboolean
pinhole_profile_get_relay_only (PinholeProfile *self,
                                const char     *user)
{
  g_autoptr(sqlite3_stmt) stmt = prepare (self, "SELECT relay_only FROM contacts WHERE user = ?",
                                          NULL);

  if (stmt == NULL)
    return TRUE;
  sqlite3_bind_text (stmt, 1, user, -1, SQLITE_TRANSIENT);
  return sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_int (stmt, 0) != 0;
}

gboolean
pinhole_profile_set_relay_only (PinholeProfile *self,
                                const char     *user,
                                gboolean        relay_only,
                                GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "INSERT INTO contacts (user, relay_only) VALUES (?, ?) "
                   "ON CONFLICT (user) DO UPDATE SET relay_only = excluded.relay_only", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, user, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int (stmt, 2, relay_only ? 1 : 0);
  return step_done (self, stmt, error);
}

/* records a message; @out_added is FALSE when it was there already (a duplicate delivery) */
gboolean
pinhole_profile_add_message (PinholeProfile          *self,
                             const char              *peer,
                             const char              *id,
                             PinholeMessageDirection  direction,
                             const char              *text,
                             gint64                   timestamp,
                             PinholeMessageState      state,
                             gboolean                *out_added,
                             GError                 **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "INSERT OR IGNORE INTO history (peer, id, direction, text, timestamp, state)"
                   " VALUES (?, ?, ?, ?, ?, ?)", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, peer, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int (stmt, 3, direction);
  sqlite3_bind_text (stmt, 4, text, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 5, timestamp);
  sqlite3_bind_text (stmt, 6, pinhole_enum_to_nick (PINHOLE_TYPE_MESSAGE_STATE, state), -1,
                     SQLITE_STATIC);
  if (!step_done (self, stmt, error))
    return FALSE;
  if (out_added != NULL)
    *out_added = sqlite3_changes (self->db) > 0;
  return TRUE;
}

gboolean
pinhole_profile_set_message_state (PinholeProfile          *self,
                                   const char              *peer,
                                   const char              *id,
                                   PinholeMessageDirection  direction,
                                   PinholeMessageState      state,
                                   gboolean                *out_changed,
                                   GError                 **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "UPDATE history SET state = ?1 WHERE peer = ?2 AND id = ?3 AND direction = ?4"
                   " AND state IS NOT ?1", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, pinhole_enum_to_nick (PINHOLE_TYPE_MESSAGE_STATE, state), -1,
                     SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, peer, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int (stmt, 4, direction);
  if (!step_done (self, stmt, error))
    return FALSE;
  if (out_changed != NULL)
    *out_changed = sqlite3_changes (self->db) > 0;
  return TRUE;
}

/* a state as recorded; profiles of 0.1.0 wrote "sending" and "stored" */
static PinholeMessageState
state_from_record (const char *name)
{
  int value;

  if (pinhole_enum_from_nick (PINHOLE_TYPE_MESSAGE_STATE, name, &value))
    return value;
  if (g_strcmp0 (name, "stored") == 0)
    return PINHOLE_MESSAGE_STATE_STORED_FOR_OFFLINE;
  if (g_strcmp0 (name, "sending") == 0)
    return PINHOLE_MESSAGE_STATE_QUEUED;
  return PINHOLE_MESSAGE_STATE_FAILED;
}

/* the rows of @stmt (peer, id, direction, text, timestamp, state, seq) as history entries */
static GPtrArray *
history_entries (PinholeProfile *self,
                 sqlite3_stmt   *stmt,
                 GError        **error)
{
  g_autoptr(GPtrArray) out =
    g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_history_entry_free);
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PinholeHistoryEntry *e = g_new0 (PinholeHistoryEntry, 1);

      e->peer = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
      e->id = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
      e->direction = sqlite3_column_int (stmt, 2) ? PINHOLE_MESSAGE_DIRECTION_IN
                                                  : PINHOLE_MESSAGE_DIRECTION_OUT;
      e->text = g_strdup ((const char *) sqlite3_column_text (stmt, 3));
      e->timestamp = sqlite3_column_int64 (stmt, 4);
      e->state = state_from_record ((const char *) sqlite3_column_text (stmt, 5));
      e->seq = sqlite3_column_int64 (stmt, 6);
      g_ptr_array_add (out, e);
    }
  if (rc != SQLITE_DONE)
    {
      sql_failed (self, error);
      return NULL;
    }
  return g_steal_pointer (&out);
}

/**
 * pinhole_profile_list_messages:
 * @before: only messages recorded before the one whose seq this is; 0 for the newest
 * Returns: (transfer full) (element-type PinholeHistoryEntry): the newest @limit messages
 *   with @peer (before @before), oldest first
 */
GPtrArray *
pinhole_profile_list_messages (PinholeProfile *self,
                               const char     *peer,
                               gint64          before,
                               guint           limit,
                               GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "SELECT peer, id, direction, text, timestamp, state, seq FROM ("
                   " SELECT * FROM history WHERE peer = ?1 AND seq < ?2"
                   " ORDER BY seq DESC LIMIT ?3) ORDER BY seq", error);

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, peer, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, before > 0 ? before : G_MAXINT64);
  sqlite3_bind_int (stmt, 3, (int) MIN (limit, G_MAXINT));
  return history_entries (self, stmt, error);
}

/**
 * pinhole_profile_list_held:
 * Returns: (transfer full) (element-type PinholeHistoryEntry): the outgoing messages to @peer
 *   held back for a changed key (PINHOLE_MESSAGE_STATE_HELD), oldest first
 */
GPtrArray *
pinhole_profile_list_held (PinholeProfile *self,
                           const char     *peer,
                           GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "SELECT peer, id, direction, text, timestamp, state, seq FROM history"
                   " WHERE peer = ?1 AND direction = ?2 AND state = 'held' ORDER BY seq", error);

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, peer, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int (stmt, 2, PINHOLE_MESSAGE_DIRECTION_OUT);
  return history_entries (self, stmt, error);
}

/**
 * pinhole_profile_list_held_peers:
 * Returns: (transfer full): the contacts that messages are held for (see
 *   pinhole_profile_list_held()), %NULL-terminated; %NULL on a database error
 */
GStrv
pinhole_profile_list_held_peers (PinholeProfile *self,
                                 GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "SELECT DISTINCT peer FROM history WHERE state = 'held'", error);
  g_autoptr(GStrvBuilder) peers = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;
  peers = g_strv_builder_new ();
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_strv_builder_add (peers, (const char *) sqlite3_column_text (stmt, 0));
  if (rc != SQLITE_DONE)
    {
      sql_failed (self, error);
      return NULL;
    }
  return g_strv_builder_end (peers);
}

/* Returns: how many messages from @peer were recorded after the read mark */
guint
pinhole_profile_count_unread (PinholeProfile *self,
                              const char     *peer)
{
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "SELECT count(*) FROM history WHERE peer = ?1 AND direction = ?2 AND seq > "
                   "coalesce ((SELECT seq FROM read_marks WHERE peer = ?1), 0)", NULL);

  if (stmt == NULL)
    return 0;
  sqlite3_bind_text (stmt, 1, peer, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int (stmt, 2, PINHOLE_MESSAGE_DIRECTION_IN);
  return sqlite3_step (stmt) == SQLITE_ROW ? (guint) sqlite3_column_int64 (stmt, 0) : 0;
}

/* moves @peer's read mark past every message recorded so far */
gboolean
pinhole_profile_mark_read (PinholeProfile *self,
                           const char     *peer,
                           GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    prepare (self, "INSERT INTO read_marks (peer, seq) "
                   "SELECT ?1, coalesce (max(seq), 0) FROM history WHERE peer = ?1 "
                   "ON CONFLICT (peer) DO UPDATE SET seq = excluded.seq", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, peer, -1, SQLITE_TRANSIENT);
  return step_done (self, stmt, error);
}
