/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-file-writer.c: writes one received entry below the chosen folder (docs/transfer.md
 * §6): every component opened relative to its parent's fd with O_NOFOLLOW, the content in a
 * hidden partial file with its block record after the content, each block verified, the final
 * name only after the whole-file SHA-256 matches (fsync, renameat2 without replacing). All disk
 * work runs in GTask worker threads; the object's state changes only in the _finish calls. */
#define G_LOG_DOMAIN "pinhole-transfer"
#define _GNU_SOURCE   /* renameat2 */

#include "pinhole-file-writer.h"
#include "pinhole-sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pinhole-error.h"

/* the block record after the content: magic, size, whole-file SHA-256, block count; then a
 * slot per block: u8 verified, SHA-256 */
#define RECORD_MAGIC        "PHBLOCK1"
#define RECORD_HEADER       (8 + 8 + PINHOLE_MANIFEST_SHA256_BYTES + 8)
#define RECORD_SLOT         (1 + PINHOLE_MANIFEST_SHA256_BYTES)
#define MAX_NAME_BYTES      255
#define MAX_RENAME_TRIES    999

struct _PinholeFileWriter
{
  GObject               parent_instance;

  /* owned */
  PinholeManifestEntry  entry;        /* entry.path owned */
  char                 *dir_path;     /* the entry's folder, relative to the chosen one */
  char                 *name;         /* the last component */
  char                 *partial;      /* the partial's name in dir_fd */
  char                 *final_path;   /* relative to the chosen folder, once renamed */
  guint8               *verified;     /* bitmap, n_blocks bits */

  int                   folder_fd;    /* dup of the chosen folder */
  int                   dir_fd;       /* the entry's folder; -1 until opened */
  int                   fd;           /* the partial; -1 until opened or after finishing */
  guint64               n_blocks;
  guint64               n_verified;
  gboolean              complete;     /* renamed to its final name */
};

G_DEFINE_FINAL_TYPE (PinholeFileWriter, pinhole_file_writer, G_TYPE_OBJECT)

static void
pinhole_file_writer_finalize (GObject *object)
{
  PinholeFileWriter *self = PINHOLE_FILE_WRITER (object);

  if (self->fd >= 0)
    close (self->fd);
  if (self->dir_fd >= 0)
    close (self->dir_fd);
  if (self->folder_fd >= 0)
    close (self->folder_fd);
  g_free (self->entry.path);
  g_free (self->dir_path);
  g_free (self->name);
  g_free (self->partial);
  g_free (self->final_path);
  g_free (self->verified);
  G_OBJECT_CLASS (pinhole_file_writer_parent_class)->finalize (object);
}

static void
pinhole_file_writer_class_init (PinholeFileWriterClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pinhole_file_writer_finalize;
}

static void
pinhole_file_writer_init (PinholeFileWriter *self)
{
  self->folder_fd = -1;
  self->dir_fd = -1;
  self->fd = -1;
}

/* cuts @s to at most @max bytes at a character boundary */
static char *
utf8_cut (const char *s,
          gsize       max)
{
  const char *end = s;

  while (*end != '\0')
    {
      const char *next = g_utf8_next_char (end);

      if ((gsize) (next - s) > max)
        break;
      end = next;
    }
  return g_strndup (s, (gsize) (end - s));
}

/* ".NAME.pinhole-partial", or for a long NAME a cut of it and a hash of the whole */
static char *
partial_name (const char *name)
{
  g_autofree char *digest = NULL;
  g_autofree char *cut = NULL;

  if (1 + strlen (name) + strlen (PINHOLE_PARTIAL_SUFFIX) <= MAX_NAME_BYTES)
    return g_strconcat (".", name, PINHOLE_PARTIAL_SUFFIX, NULL);
  digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, name, -1);
  digest[16] = '\0';
  cut = utf8_cut (name, MAX_NAME_BYTES - 1 - 1 - 16 - strlen (PINHOLE_PARTIAL_SUFFIX));
  return g_strconcat (".", cut, "~", digest, PINHOLE_PARTIAL_SUFFIX, NULL);
}

/**
 * pinhole_file_writer_new:
 * @folder_fd: the chosen folder, duplicated (the caller keeps its own)
 * @entry: an entry of a validated manifest (pinhole_manifest_check_path() holds), copied
 */
PinholeFileWriter *
pinhole_file_writer_new (int                         folder_fd,
                         const PinholeManifestEntry *entry)
{
  PinholeFileWriter *self;
  const char *slash;

  g_return_val_if_fail (folder_fd >= 0 && entry != NULL, NULL);
  g_return_val_if_fail (pinhole_manifest_check_path (entry->path, NULL), NULL);

  self = g_object_new (PINHOLE_TYPE_FILE_WRITER, NULL);
  self->entry = *entry;
  self->entry.path = g_strdup (entry->path);
  self->folder_fd = fcntl (folder_fd, F_DUPFD_CLOEXEC, 0);
  slash = strrchr (entry->path, '/');
  self->dir_path = slash != NULL ? g_strndup (entry->path, (gsize) (slash - entry->path))
                                 : g_strdup ("");
  self->name = g_strdup (slash != NULL ? slash + 1 : entry->path);
  self->partial = partial_name (self->name);
  self->n_blocks = pinhole_manifest_entry_get_n_blocks (entry);
  self->verified = g_malloc0 ((gsize) (self->n_blocks + 7) / 8 + 1);
  return self;
}

/* ---- sizes ---- */

guint64
pinhole_file_writer_block_length (const PinholeManifestEntry *entry,
                                  guint64                     block)
{
  guint64 start = block * PINHOLE_MANIFEST_BLOCK_SIZE;

  if (start >= entry->size)
    return 0;
  return MIN ((guint64) PINHOLE_MANIFEST_BLOCK_SIZE, entry->size - start);
}

/* Returns: the bytes of the block record a file's partial holds after its content */
guint64
pinhole_file_writer_record_bytes (const PinholeManifestEntry *entry)
{
  if (entry->folder)
    return 0;
  return RECORD_HEADER + pinhole_manifest_entry_get_n_blocks (entry) * RECORD_SLOT;
}

/**
 * pinhole_folder_check_space:
 * Blocks (call it in a worker). Returns: whether the file system of @folder_fd has @needed
 *   bytes free for an unprivileged writer; otherwise %FALSE with G_IO_ERROR_NO_SPACE
 */
gboolean
pinhole_folder_check_space (int       folder_fd,
                            guint64   needed,
                            GError  **error)
{
  struct statvfs st;
  guint64 avail;

  if (fstatvfs (folder_fd, &st) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot tell the free space of the folder: %s", g_strerror (saved));
      return FALSE;
    }
  avail = (guint64) st.f_bavail * st.f_frsize;
  if (avail < needed)
    {
      g_autofree char *need_text = g_format_size (needed);
      g_autofree char *avail_text = g_format_size (avail);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   "Not enough free space: the files need %s, the disk has %s free",
                   need_text, avail_text);
      return FALSE;
    }
  return TRUE;
}

/* ---- helpers for the workers ---- */

static gboolean
set_errno_error (GError    **error,
                 int         saved,
                 const char *format,
                 const char *path)
{
  g_autofree char *quoted = g_strescape (path, NULL);
  g_autofree char *what = g_strdup_printf (format, quoted);

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", what,
               g_strerror (saved));
  return FALSE;
}

/* the whole of @len at @offset, through EINTR and short transfers; a read that meets the end
 * of the file fails with EIO */
static gboolean
transfer_all (int       fd,
              guint8   *data,
              gsize     len,
              guint64   offset,
              gboolean  writing,
              int      *out_errno)
{
  while (len > 0)
    {
      ssize_t n = writing ? pwrite (fd, data, len, (off_t) offset)
                          : pread (fd, data, len, (off_t) offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          *out_errno = n < 0 ? errno : EIO;
          return FALSE;
        }
      data += n;
      len -= (gsize) n;
      offset += (guint64) n;
    }
  return TRUE;
}

static gboolean
pwrite_all (int           fd,
            const guint8 *data,
            gsize         len,
            guint64       offset,
            int          *out_errno)
{
  return transfer_all (fd, (guint8 *) data, len, offset, TRUE, out_errno);
}

static gboolean
pread_all (int      fd,
           guint8  *data,
           gsize    len,
           guint64  offset,
           int     *out_errno)
{
  return transfer_all (fd, data, len, offset, FALSE, out_errno);
}

/* opens (making what is missing) every folder of @path below @parent, never following a link:
 * Returns: the last one's fd, or -1 with an error */
static int
open_folders (int          parent,
              const char  *path,
              GError     **error)
{
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);
  int fd = fcntl (parent, F_DUPFD_CLOEXEC, 0);

  if (fd < 0)
    {
      set_errno_error (error, errno, "Cannot open the folder \"%s\"", path);
      return -1;
    }
  for (guint i = 0; parts[i] != NULL && parts[i][0] != '\0'; i++)
    {
      int next = openat (fd, parts[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

      if (next < 0 && errno == ENOENT)
        {
          if (mkdirat (fd, parts[i], 0755) != 0 && errno != EEXIST)
            {
              int saved = errno;

              close (fd);
              set_errno_error (error, saved, "Cannot make the folder \"%s\"", parts[i]);
              return -1;
            }
          next = openat (fd, parts[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
      if (next < 0)
        {
          int saved = errno;

          close (fd);
          if (saved == ELOOP || saved == ENOTDIR)
            {
              g_autofree char *quoted = g_strescape (parts[i], NULL);

              g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED,
                           "\"%s\" in the way is a symbolic link or not a folder: nothing is "
                           "written through it", quoted);
            }
          else
            set_errno_error (error, saved, "Cannot open the folder \"%s\"", parts[i]);
          return -1;
        }
      close (fd);
      fd = next;
    }
  return fd;
}

/* ---- open ---- */

typedef struct
{
  int      dir_fd;
  int      fd;
  guint8  *verified;
  guint64  n_verified;
} OpenResult;

static void
open_result_free (gpointer data)
{
  OpenResult *r = data;

  if (r->fd >= 0)
    close (r->fd);
  if (r->dir_fd >= 0)
    close (r->dir_fd);
  g_free (r->verified);
  g_free (r);
}

static void
record_header (PinholeFileWriter *self,
               guint8            *out)
{
  memcpy (out, RECORD_MAGIC, 8);
  for (int i = 0; i < 8; i++)
    {
      out[8 + i] = (guint8) (self->entry.size >> (56 - 8 * i));
      out[8 + 8 + PINHOLE_MANIFEST_SHA256_BYTES + i] = (guint8) (self->n_blocks >> (56 - 8 * i));
    }
  memcpy (out + 16, self->entry.sha256, PINHOLE_MANIFEST_SHA256_BYTES);
}

/* reads the record of a partial left by an earlier run and keeps the blocks that still match;
 * a record for other content (or none) starts the partial afresh */
static gboolean
load_record (PinholeFileWriter *self,
             OpenResult        *r,
             GCancellable      *cancellable,
             GError           **error)
{
  guint8 want[RECORD_HEADER], have[RECORD_HEADER];
  g_autofree guint8 *slots = NULL;
  g_autofree guint8 *buffer = NULL;
  gsize slots_len = (gsize) self->n_blocks * RECORD_SLOT;
  int saved = 0;

  record_header (self, want);
  if (!pread_all (r->fd, have, RECORD_HEADER, self->entry.size, &saved) ||
      memcmp (want, have, RECORD_HEADER) != 0)
    {
      /* none, torn or another file's: start again */
      g_debug ("no block record of this content in the partial of %s: starting afresh",
               self->name);
      /* the whole record's length at once (sparse), so that a slot always reads back */
      if (ftruncate (r->fd, 0) != 0 ||
          ftruncate (r->fd, (off_t) (self->entry.size + RECORD_HEADER + slots_len)) != 0 ||
          !pwrite_all (r->fd, want, RECORD_HEADER, self->entry.size, &saved))
        return set_errno_error (error, saved ? saved : errno, "Cannot write \"%s\"",
                                self->entry.path);
      return TRUE;
    }

  slots = g_malloc0 (slots_len + 1);
  if (slots_len > 0 &&
      !pread_all (r->fd, slots, slots_len, self->entry.size + RECORD_HEADER, &saved))
    {
      g_debug ("short block record in the partial of %s", self->name);
      return TRUE;   /* the blocks are simply sent again */
    }
  buffer = g_malloc (PINHOLE_MANIFEST_BLOCK_SIZE);
  for (guint64 b = 0; b < self->n_blocks; b++)
    {
      const guint8 *slot = slots + b * RECORD_SLOT;
      guint64 len = pinhole_file_writer_block_length (&self->entry, b);
      guint8 digest[PINHOLE_MANIFEST_SHA256_BYTES];

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      if (slot[0] != 1)
        continue;
      /* the disk may have lost or changed it since: only what still matches counts */
      if (!pread_all (r->fd, buffer, (gsize) len, b * PINHOLE_MANIFEST_BLOCK_SIZE, &saved))
        continue;
      pinhole_sha256_compute (buffer, (gsize) len, digest);
      if (memcmp (digest, slot + 1, PINHOLE_MANIFEST_SHA256_BYTES) != 0)
        {
          g_debug ("block %" G_GUINT64_FORMAT " of a partial no longer matches its hash", b);
          continue;
        }
      r->verified[b / 8] |= (guint8) (0x80 >> (b % 8));
      r->n_verified++;
    }
  return TRUE;
}

static void
open_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  PinholeFileWriter *self = source_object;
  g_autoptr(GError) error = NULL;
  OpenResult *r = g_new0 (OpenResult, 1);
  struct stat st;
  const char *target = self->entry.folder ? self->entry.path : self->dir_path;

  r->fd = -1;
  r->verified = g_malloc0 ((gsize) (self->n_blocks + 7) / 8 + 1);
  r->dir_fd = open_folders (self->folder_fd, target, &error);
  if (r->dir_fd < 0)
    goto out;
  if (self->entry.folder)
    goto out;

  r->fd = openat (r->dir_fd, self->partial, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (r->fd < 0)
    {
      if (errno == ELOOP)
        g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED,
                     "the partial file of \"%s\" is a symbolic link: nothing is written "
                     "through it", self->name);
      else
        set_errno_error (&error, errno, "Cannot open the partial file of \"%s\"",
                         self->entry.path);
      goto out;
    }
  /* something planted under our partial's name (a FIFO, a hard link to a file elsewhere) */
  if (fstat (r->fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_nlink != 1)
    {
      g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED,
                   "the partial file of \"%s\" is not a plain file of its own", self->name);
      goto out;
    }
  load_record (self, r, cancellable, &error);

out:
  if (error != NULL)
    {
      open_result_free (r);
      g_task_return_error (task, g_steal_pointer (&error));
    }
  else
    g_task_return_pointer (task, r, open_result_free);
}

/**
 * pinhole_file_writer_open_async:
 * Opens (or makes) the entry's folders and its partial file, and reads which blocks an
 * earlier run verified (re-hashing them). A folder entry is made, and that is all.
 */
void
pinhole_file_writer_open_async (PinholeFileWriter   *self,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (PINHOLE_IS_FILE_WRITER (self) && self->dir_fd < 0);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pinhole_file_writer_open_async);
  g_task_run_in_thread (task, open_thread);
}

gboolean
pinhole_file_writer_open_finish (PinholeFileWriter  *self,
                                 GAsyncResult       *result,
                                 GError            **error)
{
  OpenResult *r;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  r = g_task_propagate_pointer (G_TASK (result), error);
  if (r == NULL)
    return FALSE;
  self->dir_fd = g_steal_fd (&r->dir_fd);
  self->fd = g_steal_fd (&r->fd);
  memcpy (self->verified, r->verified, (gsize) (self->n_blocks + 7) / 8);
  self->n_verified = r->n_verified;
  if (self->entry.folder)
    self->complete = TRUE;
  open_result_free (r);
  return TRUE;
}

/* ---- writing a block ---- */

typedef struct
{
  guint64  block;
  guint8   sha256[PINHOLE_MANIFEST_SHA256_BYTES];
  GBytes  *data;
} BlockData;

static void
block_data_free (gpointer data)
{
  BlockData *b = data;

  g_bytes_unref (b->data);
  g_free (b);
}

static void
write_block_thread (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  PinholeFileWriter *self = source_object;
  BlockData *b = task_data;
  gsize len;
  const guint8 *data = g_bytes_get_data (b->data, &len);
  guint8 digest[PINHOLE_MANIFEST_SHA256_BYTES];
  guint8 slot[RECORD_SLOT];
  int saved = 0;

  if (g_task_return_error_if_cancelled (task))
    return;
  pinhole_sha256_compute (data, len, digest);
  if (memcmp (digest, b->sha256, PINHOLE_MANIFEST_SHA256_BYTES) != 0)
    {
      g_autofree char *quoted = g_strescape (self->entry.path, NULL);

      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                               "block %" G_GUINT64_FORMAT " of \"%s\" does not match its hash",
                               b->block, quoted);
      return;
    }
  if (!pwrite_all (self->fd, data, len, b->block * PINHOLE_MANIFEST_BLOCK_SIZE, &saved))
    {
      g_autoptr(GError) error = NULL;

      set_errno_error (&error, saved, "Cannot write \"%s\"", self->entry.path);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* the record claims the block only once the data is written; a restart re-hashes anyway */
  slot[0] = 1;
  memcpy (slot + 1, b->sha256, PINHOLE_MANIFEST_SHA256_BYTES);
  if (!pwrite_all (self->fd, slot, RECORD_SLOT,
                   self->entry.size + RECORD_HEADER + b->block * RECORD_SLOT, &saved))
    {
      g_autoptr(GError) error = NULL;

      set_errno_error (&error, saved, "Cannot write \"%s\"", self->entry.path);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

/**
 * pinhole_file_writer_write_block_async:
 * @sha256: the block's hash as the sender announced it, 32 bytes
 * @data: the whole block: pinhole_file_writer_block_length() bytes
 * Checks the block against @sha256, writes it into the partial and records it as verified.
 * A mismatch fails with PINHOLE_ERROR_PROTOCOL and records nothing (ask for it again); a full
 * disk fails with G_IO_ERROR_NO_SPACE and keeps the blocks verified so far.
 */
void
pinhole_file_writer_write_block_async (PinholeFileWriter   *self,
                                       guint64              block,
                                       const guint8        *sha256_in,
                                       GBytes              *data,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  BlockData *b;

  g_return_if_fail (PINHOLE_IS_FILE_WRITER (self) && self->fd >= 0);
  g_return_if_fail (block < self->n_blocks);
  g_return_if_fail (g_bytes_get_size (data) ==
                    pinhole_file_writer_block_length (&self->entry, block));

  b = g_new0 (BlockData, 1);
  b->block = block;
  memcpy (b->sha256, sha256_in, PINHOLE_MANIFEST_SHA256_BYTES);
  b->data = g_bytes_ref (data);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pinhole_file_writer_write_block_async);
  g_task_set_task_data (task, b, block_data_free);
  g_task_run_in_thread (task, write_block_thread);
}

gboolean
pinhole_file_writer_write_block_finish (PinholeFileWriter  *self,
                                        GAsyncResult       *result,
                                        GError            **error)
{
  BlockData *b;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  b = g_task_get_task_data (G_TASK (result));
  if (!pinhole_file_writer_has_block (self, b->block))
    {
      self->verified[b->block / 8] |= (guint8) (0x80 >> (b->block % 8));
      self->n_verified++;
    }
  return TRUE;
}

/* ---- the final name ---- */

/* "NAME (n).EXT" (the extension is what follows the last dot, unless the name starts with
 * it), cut so that it stays within 255 bytes */
static char *
numbered_name (const char *name,
               guint       n)
{
  const char *dot = strrchr (name, '.');
  g_autofree char *stem = NULL;
  g_autofree char *cut = NULL;
  g_autofree char *suffix = NULL;
  const char *ext;

  if (dot == NULL || dot == name)
    dot = name + strlen (name);
  stem = g_strndup (name, (gsize) (dot - name));
  ext = dot;
  suffix = g_strdup_printf (" (%u)%s", n, ext);
  if (strlen (suffix) >= MAX_NAME_BYTES)
    {
      g_clear_pointer (&suffix, g_free);
      suffix = g_strdup_printf (" (%u)", n);
      g_clear_pointer (&stem, g_free);
      stem = g_strdup (name);
    }
  cut = utf8_cut (stem, MAX_NAME_BYTES - strlen (suffix));
  return g_strconcat (cut, suffix, NULL);
}

/* moves the partial to @name unless something exists there; never replaces */
static int
rename_no_replace (int         dir_fd,
                   const char *from,
                   const char *to)
{
  if (renameat2 (dir_fd, from, dir_fd, to, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS)
    return errno;
  /* a file system without RENAME_NOREPLACE: a link fails as well on an existing name */
  if (linkat (dir_fd, from, dir_fd, to, 0) != 0)
    return errno;
  unlinkat (dir_fd, from, 0);
  return 0;
}

static void
finish_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  PinholeFileWriter *self = source_object;
  g_autoptr(PinholeSha256) sum = pinhole_sha256_new ();
  g_autofree guint8 *buffer = g_malloc (PINHOLE_MANIFEST_BLOCK_SIZE);
  guint8 digest[PINHOLE_MANIFEST_SHA256_BYTES];
  g_autofree char *quoted = g_strescape (self->entry.path, NULL);
  int saved = 0;

  /* the whole file once more, from the disk: what gets the final name is what was verified */
  for (guint64 b = 0; b < self->n_blocks; b++)
    {
      guint64 len = pinhole_file_writer_block_length (&self->entry, b);

      if (g_task_return_error_if_cancelled (task))
        return;
      if (!pread_all (self->fd, buffer, (gsize) len, b * PINHOLE_MANIFEST_BLOCK_SIZE, &saved))
        {
          g_autoptr(GError) error = NULL;

          set_errno_error (&error, saved, "Cannot read back \"%s\"", self->entry.path);
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      pinhole_sha256_update (sum, buffer, (gsize) len);
    }
  pinhole_sha256_finish (sum, digest);
  if (memcmp (digest, self->entry.sha256, sizeof digest) != 0)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                               "\"%s\" did not match the SHA-256 offered", quoted);
      return;
    }
  if (ftruncate (self->fd, (off_t) self->entry.size) != 0 || fsync (self->fd) != 0)
    {
      g_autoptr(GError) error = NULL;

      set_errno_error (&error, errno, "Cannot write \"%s\"", self->entry.path);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  for (guint n = 0; n <= MAX_RENAME_TRIES; n++)
    {
      g_autofree char *name = n == 0 ? g_strdup (self->name) : numbered_name (self->name, n);
      int err = rename_no_replace (self->dir_fd, self->partial, name);

      if (err == EEXIST)
        continue;
      if (err != 0)
        {
          g_autoptr(GError) error = NULL;

          set_errno_error (&error, err, "Cannot give \"%s\" its name", self->entry.path);
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      fsync (self->dir_fd);
      g_task_return_pointer (task,
                             self->dir_path[0] != '\0' ?
                               g_strconcat (self->dir_path, "/", name, NULL) :
                               g_strdup (name),
                             g_free);
      return;
    }
  g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_EXISTS,
                           "\"%s\" and %d numbered copies exist already", quoted,
                           MAX_RENAME_TRIES);
}

/**
 * pinhole_file_writer_finish_async:
 * Every block verified: hashes the whole file, and when it matches the offered SHA-256 removes
 * the record, fsyncs, and renames the partial to its name, or "NAME (1).EXT" and so on when
 * that exists (never replacing anything). A mismatch fails with PINHOLE_ERROR_PROTOCOL.
 */
void
pinhole_file_writer_finish_async (PinholeFileWriter   *self,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (PINHOLE_IS_FILE_WRITER (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pinhole_file_writer_finish_async);
  if (self->entry.folder)
    {
      g_task_return_pointer (task, g_strdup (self->entry.path), g_free);
      return;
    }
  g_return_if_fail (self->fd >= 0 && !self->complete &&
                    self->n_verified == self->n_blocks);
  g_task_run_in_thread (task, finish_thread);
}

gboolean
pinhole_file_writer_finish_finish (PinholeFileWriter  *self,
                                   GAsyncResult       *result,
                                   GError            **error)
{
  char *final_path;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  final_path = g_task_propagate_pointer (G_TASK (result), error);
  if (final_path == NULL)
    return FALSE;
  g_free (self->final_path);
  self->final_path = final_path;
  self->complete = TRUE;
  if (self->fd >= 0)
    close (g_steal_fd (&self->fd));
  return TRUE;
}

/* ---- discarding ---- */

static void
discard_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  PinholeFileWriter *self = source_object;

  if (unlinkat (self->dir_fd, self->partial, 0) != 0 && errno != ENOENT)
    {
      g_autoptr(GError) error = NULL;

      set_errno_error (&error, errno, "Cannot remove the partial file of \"%s\"",
                       self->entry.path);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

/**
 * pinhole_file_writer_discard_entry:
 * In a worker: removes the partial file of @entry below @folder_fd, when there is one (a
 * transfer cancelled while no writer of it was open). Links are not followed, as for writing.
 */
gboolean
pinhole_file_writer_discard_entry (int                          folder_fd,
                                   const PinholeManifestEntry  *entry,
                                   GError                     **error)
{
  g_autofree char *dir = g_path_get_dirname (entry->path);
  g_autofree char *base = g_path_get_basename (entry->path);
  g_autofree char *partial = partial_name (base);
  int fd = strcmp (dir, ".") == 0 ? fcntl (folder_fd, F_DUPFD_CLOEXEC, 0)
                                  : open_folders (folder_fd, dir, error);
  int saved;

  if (fd < 0)
    return FALSE;
  saved = unlinkat (fd, partial, 0) != 0 ? errno : 0;
  close (fd);
  if (saved != 0 && saved != ENOENT)
    {
      set_errno_error (error, saved, "Cannot remove the partial file of \"%s\"", entry->path);
      return FALSE;
    }
  return TRUE;
}

/**
 * pinhole_file_writer_discard_async:
 * The transfer is cancelled: removes the partial file (folders made for it stay).
 */
void
pinhole_file_writer_discard_async (PinholeFileWriter   *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (PINHOLE_IS_FILE_WRITER (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pinhole_file_writer_discard_async);
  if (self->entry.folder || self->complete || self->dir_fd < 0)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_task_run_in_thread (task, discard_thread);
}

gboolean
pinhole_file_writer_discard_finish (PinholeFileWriter  *self,
                                    GAsyncResult       *result,
                                    GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  if (self->fd >= 0)
    close (g_steal_fd (&self->fd));
  return TRUE;
}

/* ---- state, read on the owning thread between operations ---- */

guint64
pinhole_file_writer_get_n_blocks (PinholeFileWriter *self)
{
  return self->n_blocks;
}

gboolean
pinhole_file_writer_has_block (PinholeFileWriter *self,
                               guint64            block)
{
  return block < self->n_blocks && (self->verified[block / 8] & (0x80 >> (block % 8))) != 0;
}

guint64
pinhole_file_writer_get_verified_bytes (PinholeFileWriter *self)
{
  guint64 bytes = 0;

  for (guint64 b = 0; b < self->n_blocks; b++)
    if (pinhole_file_writer_has_block (self, b))
      bytes += pinhole_file_writer_block_length (&self->entry, b);
  return bytes;
}

gboolean
pinhole_file_writer_is_complete (PinholeFileWriter *self)
{
  return self->complete;
}

/* Returns: (transfer none) (nullable): where the file went, relative to the chosen folder */
const char *
pinhole_file_writer_get_final_path (PinholeFileWriter *self)
{
  return self->final_path;
}

/* Returns: (transfer full): the verified blocks as the `have` message's bitmap (§4) */
GBytes *
pinhole_file_writer_dup_have_bitmap (PinholeFileWriter *self)
{
  return g_bytes_new (self->verified, (gsize) (self->n_blocks + 7) / 8);
}
