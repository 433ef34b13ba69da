/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-db-sync.c: the fsyncs and checkpoints of a SQLite database in WAL mode with
 * synchronous=NORMAL, done off the main loop by the server's store and each profile
 * (docs/architecture.md "Durability"). Blocking: call these in a worker thread. */
#include "pinhole-db-sync.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

/* fsyncs @fd; EINTR is retried */
static gboolean
sync_fd (int         fd,
         const char *path,
         GError    **error)
{
  int rc;

  do
    rc = fsync (fd);
  while (rc < 0 && errno == EINTR);
  if (rc < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot sync %s: %s",
                   path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* the descriptors a sync uses, opened once and closed only after the database: closing any
 * descriptor of a file drops every POSIX lock the process holds on it, SQLite's included, and
 * another process that then thinks itself the last connection would checkpoint and delete the
 * WAL under us */
struct _PinholeDbFiles
{
  GMutex  lock;        /* the descriptors, opened by the first sync that finds the file */
  char   *path;
  char   *wal;
  char   *dir;
  int     path_fd;
  int     wal_fd;
  int     dir_fd;
};

/* Returns: (transfer full): the files of the database at @path, none opened yet */
PinholeDbFiles *
pinhole_db_files_new (const char *path)
{
  PinholeDbFiles *files = g_new0 (PinholeDbFiles, 1);

  g_mutex_init (&files->lock);
  files->path = g_strdup (path);
  files->wal = g_strconcat (path, "-wal", NULL);
  files->dir = g_path_get_dirname (path);
  files->path_fd = files->wal_fd = files->dir_fd = -1;
  return files;
}

/* after the database is closed */
void
pinhole_db_files_free (PinholeDbFiles *files)
{
  int *fds[] = { &files->wal_fd, &files->path_fd, &files->dir_fd };

  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    if (*fds[i] >= 0)
      close (*fds[i]);
  g_mutex_clear (&files->lock);
  g_free (files->path);
  g_free (files->wal);
  g_free (files->dir);
  g_free (files);
}

/* @fd, opened on the first call that finds @path; Returns: FALSE with @error, or TRUE with
 * *@out_fd -1 for a missing file that may be missing */
static gboolean
open_once (PinholeDbFiles *files,
           int            *fd,
           const char     *path,
           int             flags,
           gboolean        missing_ok,
           int            *out_fd,
           GError        **error)
{
  g_mutex_lock (&files->lock);
  if (*fd < 0)
    *fd = open (path, flags | O_CLOEXEC);
  *out_fd = *fd;
  g_mutex_unlock (&files->lock);
  if (*out_fd < 0)
    {
      int saved = errno;

      if (missing_ok && saved == ENOENT)
        return TRUE;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot open %s: %s",
                   path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static gboolean
sync_file (PinholeDbFiles *files,
           int            *fd,
           const char     *path,
           int             flags,
           gboolean        missing_ok,
           GError        **error)
{
  int opened;

  if (!open_once (files, fd, path, flags, missing_ok, &opened, error))
    return FALSE;
  return opened < 0 || sync_fd (opened, path, error);
}

/**
 * pinhole_db_files_sync:
 * @files: the database's files
 *
 * Makes every transaction committed so far durable. A commit in WAL mode with
 * synchronous=NORMAL has written its frames to the -wal file but not synced them; an fsync of
 * that file (through any descriptor: it flushes the inode) makes them durable. A checkpoint
 * syncs the database file before the WAL restarts, so a frame that a restart overwrote is in
 * the synced database already. The folder is synced too, for a -wal file just made. Blocks:
 * call it in a worker thread; several may run at once.
 */
gboolean
pinhole_db_files_sync (PinholeDbFiles *files,
                       GError        **error)
{
  return sync_file (files, &files->wal_fd, files->wal, O_RDONLY, TRUE, error) &&
         sync_file (files, &files->path_fd, files->path, O_RDONLY, FALSE, error) &&
         sync_file (files, &files->dir_fd, files->dir, O_RDONLY | O_DIRECTORY, FALSE, error);
}

/* passes a checkpoint makes while writes go on, a pause apart: it ends when it has copied
 * every frame, or after about 2 s (writes that never pause outrun it: the WAL then grows
 * until the next checkpoint finds a pause) */
#define CHECKPOINT_PASSES   40
#define CHECKPOINT_PAUSE_MS 50

/* moves what the WAL holds into the database file (passive checkpoints, which fsync), on a
 * connection of its own, so that the connection writing on the main loop never checkpoints */
static void
checkpoint_thread (GTask        *task,
                   gpointer      source,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  sqlite3 *db = NULL;
  int frames = -1, copied;

  if (sqlite3_open_v2 (task_data, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK)
    {
      sqlite3_busy_timeout (db, 5000);
      /* a connection finds the database in WAL mode only once it reads it: before that a
       * checkpoint does nothing */
      sqlite3_exec (db, "PRAGMA schema_version", NULL, NULL, NULL);
      /* only a checkpoint that copied every frame lets the next write start the WAL again;
       * a pass copies the frames there were when it began, so it is over when a pass found
       * nothing new */
      for (guint pass = 0; pass < CHECKPOINT_PASSES; pass++)
        {
          int before = frames;

          if (pass > 0)
            g_usleep (CHECKPOINT_PAUSE_MS * 1000);
          if (sqlite3_wal_checkpoint_v2 (db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames,
                                         &copied) != SQLITE_OK ||
              (copied >= frames && frames == before))
            break;
        }
    }
  sqlite3_close_v2 (db);
  g_task_return_boolean (task, TRUE);
}

/**
 * pinhole_db_checkpoint_async:
 * @source: the store or profile, held until @callback
 * @path: the database file
 * @callback: called on the thread-default main context when the checkpoint is over
 *
 * Checkpoints the WAL in a worker thread.
 */
void
pinhole_db_checkpoint_async (GObject             *source,
                             const char          *path,
                             GAsyncReadyCallback  callback)
{
  g_autoptr(GTask) task = g_task_new (source, NULL, callback, NULL);

  g_task_set_source_tag (task, pinhole_db_checkpoint_async);
  g_task_set_task_data (task, g_strdup (path), g_free);
  g_task_run_in_thread (task, checkpoint_thread);
}
