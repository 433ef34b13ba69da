/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-file-reader.c: the sender's disk. Builds the manifest of what the user offers (files,
 * and folders walked without following a link inside them; names checked by the recipient's
 * rules before anything is hashed), hashes each file (pinhole-sha256.c), and reads a block back
 * when it is sent, checking that the file has not changed since the offer. All of it runs in
 * GTask worker threads. */
#define G_LOG_DOMAIN "pinhole-transfer"

#include "pinhole-file-reader.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pinhole-error.h"
#include "pinhole-sha256.h"

typedef struct
{
  GStrv            paths;
  PinholeManifest *manifest;   /* result */
  GPtrArray       *sources;    /* char *, beside the entries; "" for a folder */
} BuildData;

static void
build_data_free (gpointer data)
{
  BuildData *b = data;

  g_strfreev (b->paths);
  pinhole_manifest_free (b->manifest);
  g_clear_pointer (&b->sources, g_ptr_array_unref);
  g_free (b);
}

static gboolean
too_many (BuildData  *b,
          GError    **error)
{
  if (pinhole_manifest_get_n_entries (b->manifest) < PINHOLE_MANIFEST_MAX_ENTRIES)
    return FALSE;
  g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
               "more than %d files and folders: send them in several offers",
               PINHOLE_MANIFEST_MAX_ENTRIES);
  return TRUE;
}

static const guint8 no_hash[PINHOLE_MANIFEST_SHA256_BYTES];

/* g_ptr_array_sort passes pointers to the elements (g_ptr_array_sort_values needs GLib 2.76) */
static gint
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* adds @source as @rel: a file, or a folder and what it holds; links inside are left out */
static gboolean
add_path (BuildData   *b,
          const char  *source,
          const char  *rel,
          gboolean     top,
          GError     **error)
{
  struct stat st;

  if ((top ? stat (source, &st) : lstat (source, &st)) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "Cannot read %s: %s",
                   source, g_strerror (saved));
      return FALSE;
    }
  if (S_ISREG (st.st_mode))
    {
      if (too_many (b, error))
        return FALSE;
      pinhole_manifest_add_file (b->manifest, rel, (guint64) st.st_size, st.st_mtim.tv_sec,
                                 no_hash);
      g_ptr_array_add (b->sources, g_strdup (source));
      return TRUE;
    }
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) dir = g_dir_open (source, 0, error);
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *name;
      guint before = pinhole_manifest_get_n_entries (b->manifest);

      if (dir == NULL)
        return FALSE;
      while ((name = g_dir_read_name (dir)) != NULL)
        g_ptr_array_add (names, g_strdup (name));
      /* the same tree gives the same manifest */
      g_ptr_array_sort (names, compare_names);
      for (guint i = 0; i < names->len; i++)
        {
          g_autofree char *child = g_build_filename (source, names->pdata[i], NULL);
          g_autofree char *child_rel = g_strconcat (rel, "/", names->pdata[i], NULL);
          struct stat cst;

          if (lstat (child, &cst) == 0 && !S_ISREG (cst.st_mode) && !S_ISDIR (cst.st_mode))
            {
              g_debug ("%s is neither a file nor a folder: left out", child);
              continue;
            }
          if (!add_path (b, child, child_rel, FALSE, error))
            return FALSE;
        }
      if (pinhole_manifest_get_n_entries (b->manifest) == before)
        {
          if (too_many (b, error))
            return FALSE;
          pinhole_manifest_add_folder (b->manifest, rel);
          g_ptr_array_add (b->sources, g_strdup (""));
        }
      return TRUE;
    }
  g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED,
               "%s is neither a file nor a folder", source);
  return FALSE;
}

static gboolean
hash_file (const char            *source,
           PinholeManifestEntry  *entry,
           GCancellable          *cancellable,
           GError               **error)
{
  g_autoptr(PinholeSha256) sum = pinhole_sha256_new ();
  g_autofree guint8 *buffer = g_malloc (PINHOLE_MANIFEST_BLOCK_SIZE);
  guint64 total = 0;
  int fd = open (source, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "Cannot read %s: %s",
                   source, g_strerror (saved));
      return FALSE;
    }
  for (;;)
    {
      ssize_t n = read (fd, buffer, PINHOLE_MANIFEST_BLOCK_SIZE);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          close (fd);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "Cannot read %s: %s",
                       source, g_strerror (saved));
          return FALSE;
        }
      if (n == 0)
        break;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          close (fd);
          return FALSE;
        }
      pinhole_sha256_update (sum, buffer, (gsize) n);
      total += (guint64) n;
    }
  close (fd);
  if (total != entry->size)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                   "%s changed while it was read: try again", source);
      return FALSE;
    }
  pinhole_sha256_finish (sum, entry->sha256);
  return TRUE;
}

static void
build_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  BuildData *b = task_data;
  g_autoptr(GError) error = NULL;

  b->manifest = pinhole_manifest_new ();
  b->sources = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; b->paths[i] != NULL; i++)
    {
      g_autofree char *trimmed = g_strdup (b->paths[i]);
      g_autofree char *name = NULL;

      /* "photos/" is the folder photos */
      while (strlen (trimmed) > 1 && g_str_has_suffix (trimmed, "/"))
        trimmed[strlen (trimmed) - 1] = '\0';
      name = g_path_get_basename (trimmed);
      if (!add_path (b, trimmed, name, TRUE, &error))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  /* what the recipient would refuse is not offered at all */
  if (!pinhole_manifest_validate (b->manifest, &error))
    {
      g_prefix_error (&error, "Cannot send this: ");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  for (guint i = 0; i < pinhole_manifest_get_n_entries (b->manifest); i++)
    {
      PinholeManifestEntry *entry = pinhole_manifest_get_entry (b->manifest, i);

      if (!entry->folder && !hash_file (b->sources->pdata[i], entry, cancellable, &error))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  g_task_return_boolean (task, TRUE);
}

/**
 * pinhole_manifest_build_async:
 * @paths: files and folders, as the user named them; each is offered under its own name,
 *   a folder with everything below it (links and special files inside it are left out)
 * Hashes every file in a worker. Fails before hashing when a name breaks the rules the
 * recipient applies (docs/transfer.md §2.1) or there are more than 4096 entries.
 */
void
pinhole_manifest_build_async (const char *const   *paths,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  BuildData *b = g_new0 (BuildData, 1);

  b->paths = g_strdupv ((char **) paths);
  g_task_set_source_tag (task, pinhole_manifest_build_async);
  g_task_set_task_data (task, b, build_data_free);
  g_task_run_in_thread (task, build_thread);
}

/**
 * pinhole_manifest_build_finish:
 * @out_sources: (out) (transfer full): the local path of each entry ("" for a folder)
 * Returns: (transfer full): the manifest
 */
PinholeManifest *
pinhole_manifest_build_finish (GAsyncResult  *result,
                               GPtrArray    **out_sources,
                               GError       **error)
{
  BuildData *b;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  b = g_task_get_task_data (G_TASK (result));
  *out_sources = g_steal_pointer (&b->sources);
  return g_steal_pointer (&b->manifest);
}

/* ---- reading a block ---- */

typedef struct
{
  char                 *source;
  char                 *name;    /* the entry's path, as offered */
  PinholeManifestEntry  entry;   /* path not owned: not used */
  guint64               block;
  guint8                sha256[PINHOLE_MANIFEST_SHA256_BYTES];
} ReadData;

static void
read_data_free (gpointer data)
{
  ReadData *r = data;

  g_free (r->source);
  g_free (r->name);
  g_free (r);
}

static void
read_block_thread (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  ReadData *r = task_data;
  guint64 start = r->block * PINHOLE_MANIFEST_BLOCK_SIZE;
  gsize len = (gsize) MIN ((guint64) PINHOLE_MANIFEST_BLOCK_SIZE, r->entry.size - start);
  g_autofree guint8 *buffer = g_malloc (len + 1);
  gsize done = 0;
  struct stat st;
  int fd = open (r->source, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    {
      int saved = errno;

      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved),
                               "Cannot read %s: %s", r->source, g_strerror (saved));
      return;
    }
  /* the offer promised this content: a file changed since cannot be sent as it */
  if (fstat (fd, &st) != 0 || (guint64) st.st_size != r->entry.size ||
      st.st_mtim.tv_sec != r->entry.mtime)
    {
      close (fd);
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                               "%s changed since it was offered", r->name);
      return;
    }
  while (done < len)
    {
      ssize_t n = pread (fd, buffer + done, len - done, (off_t) (start + done));

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved = n < 0 ? errno : EIO;

          close (fd);
          g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved),
                                   "Cannot read %s: %s", r->source, g_strerror (saved));
          return;
        }
      done += (gsize) n;
    }
  close (fd);
  pinhole_sha256_compute (buffer, len, r->sha256);
  g_task_return_pointer (task, g_bytes_new_take (g_steal_pointer (&buffer), len),
                         (GDestroyNotify) g_bytes_unref);
}

/**
 * pinhole_file_reader_read_block_async:
 * @source: the entry's local path
 * @block: a block of @entry (below pinhole_manifest_entry_get_n_blocks())
 * Reads the block in a worker, with its SHA-256 for the BLOCK frame. Fails when the file's
 * size or mtime is not the one offered.
 */
void
pinhole_file_reader_read_block_async (const char                 *source,
                                      const PinholeManifestEntry *entry,
                                      guint64                     block,
                                      GCancellable               *cancellable,
                                      GAsyncReadyCallback         callback,
                                      gpointer                    user_data)
{
  g_autoptr(GTask) task = NULL;
  ReadData *r;

  g_return_if_fail (source != NULL && entry != NULL && !entry->folder);
  g_return_if_fail (block < pinhole_manifest_entry_get_n_blocks (entry));
  r = g_new0 (ReadData, 1);
  r->source = g_strdup (source);
  r->entry = *entry;
  r->name = g_strdup (entry->path);
  r->entry.path = NULL;
  r->block = block;
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, pinhole_file_reader_read_block_async);
  g_task_set_task_data (task, r, read_data_free);
  g_task_run_in_thread (task, read_block_thread);
}

/**
 * pinhole_file_reader_read_block_finish:
 * @out_sha256: 32 bytes: the block's SHA-256
 * Returns: (transfer full): the block's bytes
 */
GBytes *
pinhole_file_reader_read_block_finish (GAsyncResult  *result,
                                       guint8        *out_sha256,
                                       GError       **error)
{
  GBytes *bytes;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  bytes = g_task_propagate_pointer (G_TASK (result), error);
  if (bytes != NULL)
    memcpy (out_sha256, ((ReadData *) g_task_get_task_data (G_TASK (result)))->sha256,
            PINHOLE_MANIFEST_SHA256_BYTES);
  return bytes;
}
