/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-file-writer.c: the recipient's disk (docs/transfer.md §6): blocks verified and recorded,
 * the final name only after the whole-file hash, never overwriting, resume from the record
 * (re-hashed), planted symbolic links and hard links, cancel, free space, and a full tmpfs. */
#define _GNU_SOURCE
#include "pinhole-file-writer.h"
#include "pinhole-error.h"
#include "pinhole-test-missing.h"
#include "pinhole-test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1024 * 1024)

typedef struct
{
  char   *dir;        /* the chosen folder */
  char   *outside;    /* a folder beside it that nothing may touch */
  char   *root;
  int     dir_fd;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->root = ph_make_tmp_dir ("xfer-writer-XXXXXX");
  f->dir = g_build_filename (f->root, "inbox", NULL);
  f->outside = g_build_filename (f->root, "outside", NULL);
  g_assert_cmpint (g_mkdir (f->dir, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (f->outside, 0755), ==, 0);
  f->dir_fd = open (f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (f->dir_fd, >=, 0);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  close (f->dir_fd);
  g_assert_true (ph_remove_tree (f->root));
  g_free (f->root);
  g_free (f->dir);
  g_free (f->outside);
}

/* ---- content and entries ---- */

static GBytes *
make_content (gsize   len,
              guint32 seed)
{
  guint8 *data = g_malloc (len + 1);

  for (gsize i = 0; i < len; i++)
    {
      seed = seed * 1103515245 + 12345;
      data[i] = (guint8) (seed >> 16);
    }
  return g_bytes_new_take (data, len);
}

static void
hash_of (const guint8 *data,
         gsize         len,
         guint8       *out)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize out_len = 32;

  g_checksum_update (sum, data, (gssize) len);
  g_checksum_get_digest (sum, out, &out_len);
}

static PinholeManifestEntry
file_entry (const char *path,
            GBytes     *content)
{
  PinholeManifestEntry e = { 0 };
  gsize len;
  const guint8 *data = g_bytes_get_data (content, &len);

  e.path = (char *) path;
  e.size = len;
  e.mtime = 1;
  hash_of (data, len, e.sha256);
  return e;
}

static GBytes *
block_of (GBytes  *content,
          guint64  block)
{
  gsize len = g_bytes_get_size (content);
  gsize start = (gsize) block * MIB;

  return g_bytes_new_from_bytes (content, start, MIN ((gsize) MIB, len - start));
}

/* ---- running the async calls ---- */

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  g_assert_true (ph_wait_pointer ((gpointer const *) slot, 20000));
  return *slot;
}

static gboolean
writer_open (PinholeFileWriter *w,
             GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pinhole_file_writer_open_async (w, NULL, store_result_cb, &result);
  return pinhole_file_writer_open_finish (w, wait_result (&result), error);
}

static gboolean
writer_write (PinholeFileWriter *w,
              GBytes            *content,
              guint64            block,
              const guint8      *hash_or_null,
              GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GBytes) data = block_of (content, block);
  guint8 hash[32];

  if (hash_or_null != NULL)
    memcpy (hash, hash_or_null, 32);
  else
    hash_of (g_bytes_get_data (data, NULL), g_bytes_get_size (data), hash);
  pinhole_file_writer_write_block_async (w, block, hash, data, NULL, store_result_cb, &result);
  return pinhole_file_writer_write_block_finish (w, wait_result (&result), error);
}

static gboolean
writer_finish (PinholeFileWriter *w,
               GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pinhole_file_writer_finish_async (w, NULL, store_result_cb, &result);
  return pinhole_file_writer_finish_finish (w, wait_result (&result), error);
}

static gboolean
writer_discard (PinholeFileWriter *w,
                GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pinhole_file_writer_discard_async (w, NULL, store_result_cb, &result);
  return pinhole_file_writer_discard_finish (w, wait_result (&result), error);
}

static void
write_all (PinholeFileWriter *w,
           GBytes            *content)
{
  guint64 n = pinhole_file_writer_get_n_blocks (w);

  /* out of order, as a resumed transfer sends them */
  for (guint64 b = n; b-- > 0;)
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (writer_write (w, content, b, NULL, &error));
      g_assert_no_error (error);
    }
}

static void
assert_file_is (const char *dir,
                const char *rel,
                GBytes     *content)
{
  g_autofree char *path = g_build_filename (dir, rel, NULL);
  g_autofree char *data = NULL;
  gsize len;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_get_contents (path, &data, &len, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (data, len, g_bytes_get_data (content, NULL), g_bytes_get_size (content));
}

static gboolean
exists (const char *dir,
        const char *rel)
{
  g_autofree char *path = g_build_filename (dir, rel, NULL);
  struct stat st;

  return lstat (path, &st) == 0;
}

static guint
count_entries (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;

  while (d != NULL && g_dir_read_name (d) != NULL)
    n++;
  return n;
}

/* ---- tests ---- */

static void
test_small (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GBytes) content = make_content (2 * MIB + 12345, 1);
  PinholeManifestEntry e = file_entry ("docs/2024/report.bin", content);
  g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &e);
  g_autoptr(GError) error = NULL;

  g_assert_true (writer_open (w, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pinhole_file_writer_get_n_blocks (w), ==, 3);
  g_assert_cmpuint (pinhole_file_writer_get_verified_bytes (w), ==, 0);
  /* nothing under the final name before verification, only the hidden partial */
  g_assert_true (exists (f->dir, "docs/2024/.report.bin.pinhole-partial"));
  g_assert_false (exists (f->dir, "docs/2024/report.bin"));

  write_all (w, content);
  g_assert_cmpuint (pinhole_file_writer_get_verified_bytes (w), ==, 2 * MIB + 12345);
  g_assert_false (exists (f->dir, "docs/2024/report.bin"));
  g_assert_true (writer_finish (w, &error));
  g_assert_no_error (error);
  g_assert_true (pinhole_file_writer_is_complete (w));
  g_assert_cmpstr (pinhole_file_writer_get_final_path (w), ==, "docs/2024/report.bin");
  assert_file_is (f->dir, "docs/2024/report.bin", content);
  g_assert_false (exists (f->dir, "docs/2024/.report.bin.pinhole-partial"));
  g_assert_cmpuint (count_entries (f->outside), ==, 0);
}

static void
test_empty_and_folder (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GBytes) content = g_bytes_new (NULL, 0);
  PinholeManifestEntry e = file_entry ("empty.txt", content);
  PinholeManifestEntry folder = { .path = (char *) "tree/empty/deeper", .folder = TRUE };
  g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &e);
  g_autoptr(PinholeFileWriter) d = pinhole_file_writer_new (f->dir_fd, &folder);
  g_autoptr(GError) error = NULL;
  g_autofree char *made = g_build_filename (f->dir, "tree/empty/deeper", NULL);

  g_assert_true (writer_open (w, &error));
  g_assert_cmpuint (pinhole_file_writer_get_n_blocks (w), ==, 0);
  g_assert_true (writer_finish (w, &error));
  g_assert_no_error (error);
  assert_file_is (f->dir, "empty.txt", content);

  g_assert_true (writer_open (d, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (made, G_FILE_TEST_IS_DIR));
  g_assert_true (pinhole_file_writer_is_complete (d));
}

static void
test_bad_block (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GBytes) content = make_content (MIB + 10, 2);
  PinholeManifestEntry e = file_entry ("x.bin", content);
  g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &e);
  g_autoptr(GError) error = NULL;
  guint8 wrong[32] = { 1 };

  g_assert_true (writer_open (w, &error));
  g_assert_false (writer_write (w, content, 1, wrong, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "does not match its hash"));
  g_assert_false (pinhole_file_writer_has_block (w, 1));
  g_clear_error (&error);
  /* sent again, right this time */
  g_assert_true (writer_write (w, content, 1, NULL, &error));
  g_assert_true (pinhole_file_writer_has_block (w, 1));
}

static void
test_whole_hash_mismatch (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GBytes) content = make_content (MIB + 10, 3);
  PinholeManifestEntry e = file_entry ("x.bin", content);
  g_autoptr(PinholeFileWriter) w = NULL;
  g_autoptr(GError) error = NULL;

  e.sha256[0] ^= 1;   /* the offer said something else than the blocks carry */
  w = pinhole_file_writer_new (f->dir_fd, &e);
  g_assert_true (writer_open (w, &error));
  write_all (w, content);
  g_assert_false (writer_finish (w, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "did not match the SHA-256 offered"));
  g_assert_false (pinhole_file_writer_is_complete (w));
  g_assert_false (exists (f->dir, "x.bin"));
}

static void
test_never_overwrite (Fixture       *f,
                      gconstpointer  data)
{
  struct { const char *name; const char *first; const char *second; } cases[] = {
    { "a.txt", "a (1).txt", "a (2).txt" },
    { ".bashrc", ".bashrc (1)", ".bashrc (2)" },
    { "noext", "noext (1)", "noext (2)" },
    { "arch.tar.gz", "arch.tar (1).gz", "arch.tar (2).gz" },
  };
  g_autoptr(GBytes) old = g_bytes_new_static ("old", 3);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_build_filename (f->dir, cases[i].name, NULL);

      g_assert_true (g_file_set_contents (path, "old", 3, NULL));
      for (int round = 0; round < 2; round++)
        {
          g_autoptr(GBytes) content = make_content (100 + round, (guint32) (10 + i));
          PinholeManifestEntry e = file_entry (cases[i].name, content);
          g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &e);
          g_autoptr(GError) error = NULL;

          g_assert_true (writer_open (w, &error));
          write_all (w, content);
          g_assert_true (writer_finish (w, &error));
          g_assert_no_error (error);
          g_assert_cmpstr (pinhole_file_writer_get_final_path (w), ==,
                           round == 0 ? cases[i].first : cases[i].second);
          assert_file_is (f->dir, pinhole_file_writer_get_final_path (w), content);
        }
      assert_file_is (f->dir, cases[i].name, old);
    }
}

static void
test_long_names (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *name = g_strnfill (255, 'n');
  g_autoptr(GBytes) content = make_content (10, 4);
  PinholeManifestEntry e = file_entry (name, content);
  g_autofree char *path = g_build_filename (f->dir, name, NULL);

  /* a 255-byte name has no room for ".NAME.pinhole-partial", nor for " (1)" */
  for (int round = 0; round < 2; round++)
    {
      g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &e);
      g_autoptr(GError) error = NULL;

      g_assert_true (writer_open (w, &error));
      g_assert_no_error (error);
      write_all (w, content);
      g_assert_true (writer_finish (w, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (strlen (pinhole_file_writer_get_final_path (w)), <=, 255);
      if (round == 1)
        g_assert_true (g_str_has_suffix (pinhole_file_writer_get_final_path (w), " (1)"));
    }
  g_assert_cmpuint (count_entries (f->dir), ==, 2);
}

static void
test_resume (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GBytes) content = make_content (4 * MIB + 7, 5);
  PinholeManifestEntry e = file_entry ("big.bin", content);
  g_autoptr(GError) error = NULL;
  g_autofree char *partial = g_build_filename (f->dir, ".big.bin.pinhole-partial", NULL);

  {
    g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &e);

    g_assert_true (writer_open (w, &error));
    g_assert_true (writer_write (w, content, 0, NULL, &error));
    g_assert_true (writer_write (w, content, 2, NULL, &error));
    g_assert_true (writer_write (w, content, 4, NULL, &error));
    /* the recipient quits here */
  }
  {
    g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &e);
    g_autoptr(GBytes) have = NULL;

    g_assert_true (writer_open (w, &error));
    g_assert_no_error (error);
    g_assert_true (pinhole_file_writer_has_block (w, 0));
    g_assert_false (pinhole_file_writer_has_block (w, 1));
    g_assert_true (pinhole_file_writer_has_block (w, 2));
    g_assert_false (pinhole_file_writer_has_block (w, 3));
    g_assert_true (pinhole_file_writer_has_block (w, 4));
    g_assert_cmpuint (pinhole_file_writer_get_verified_bytes (w), ==, 2 * MIB + 7);
    have = pinhole_file_writer_dup_have_bitmap (w);
    g_assert_cmpuint (g_bytes_get_size (have), ==, 1);
    g_assert_cmpuint (((const guint8 *) g_bytes_get_data (have, NULL))[0], ==, 0xa8);
  }
  {
    /* the disk changed a byte of block 2 meanwhile: it is missing again */
    int fd = open (partial, O_WRONLY);

    g_assert_cmpint (pwrite (fd, "\x5a", 1, 2 * MIB + 99), ==, 1);
    close (fd);
  }
  {
    g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &e);

    g_assert_true (writer_open (w, &error));
    g_assert_true (pinhole_file_writer_has_block (w, 0));
    g_assert_false (pinhole_file_writer_has_block (w, 2));
    g_assert_true (pinhole_file_writer_has_block (w, 4));
    for (guint64 b = 1; b < 4; b++)
      g_assert_true (writer_write (w, content, b, NULL, &error));
    g_assert_true (writer_finish (w, &error));
    g_assert_no_error (error);
    assert_file_is (f->dir, "big.bin", content);
  }
}

static void
test_stale_partial (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GBytes) first = make_content (MIB + 1, 6);
  g_autoptr(GBytes) second = make_content (MIB + 1, 7);
  PinholeManifestEntry e1 = file_entry ("same.bin", first);
  PinholeManifestEntry e2 = file_entry ("same.bin", second);
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &e1);

    g_assert_true (writer_open (w, &error));
    g_assert_true (writer_write (w, first, 0, NULL, &error));
  }
  {
    /* another file under the same name: the old blocks do not count */
    g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &e2);

    g_assert_true (writer_open (w, &error));
    g_assert_false (pinhole_file_writer_has_block (w, 0));
    write_all (w, second);
    g_assert_true (writer_finish (w, &error));
    assert_file_is (f->dir, "same.bin", second);
  }
}

static void
test_symlink_folder (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *link = g_build_filename (f->dir, "sub", NULL);
  g_autoptr(GBytes) content = make_content (10, 8);
  PinholeManifestEntry e = file_entry ("sub/x", content);
  PinholeManifestEntry deeper = file_entry ("sub/inner/x", content);
  PinholeManifestEntry folder = { .path = (char *) "sub/made", .folder = TRUE };
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (symlink (f->outside, link), ==, 0);
  {
    g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &e);

    g_assert_false (writer_open (w, &error));
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED);
    g_assert_nonnull (strstr (error->message, "symbolic link"));
    g_clear_error (&error);
  }
  {
    g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &deeper);

    g_assert_false (writer_open (w, &error));
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED);
    g_clear_error (&error);
  }
  {
    g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &folder);

    g_assert_false (writer_open (w, &error));
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED);
  }
  g_assert_cmpuint (count_entries (f->outside), ==, 0);
}

static void
test_symlink_partial_and_final (Fixture       *f,
                                gconstpointer  data)
{
  g_autofree char *target = g_build_filename (f->outside, "victim", NULL);
  g_autofree char *partial = g_build_filename (f->dir, ".x.pinhole-partial", NULL);
  g_autofree char *final = g_build_filename (f->dir, "y", NULL);
  g_autoptr(GBytes) victim = g_bytes_new_static ("keep me", 7);
  g_autoptr(GBytes) content = make_content (10, 9);
  PinholeManifestEntry ex = file_entry ("x", content);
  PinholeManifestEntry ey = file_entry ("y", content);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (target, "keep me", 7, NULL));
  /* a link planted under the partial's name */
  g_assert_cmpint (symlink (target, partial), ==, 0);
  {
    g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &ex);

    g_assert_false (writer_open (w, &error));
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED);
    g_clear_error (&error);
  }
  /* a link planted under the final name: the file goes beside it */
  g_assert_cmpint (symlink (target, final), ==, 0);
  {
    g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &ey);

    g_assert_true (writer_open (w, &error));
    write_all (w, content);
    g_assert_true (writer_finish (w, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (pinhole_file_writer_get_final_path (w), ==, "y (1)");
  }
  assert_file_is (f->outside, "victim", victim);
  g_assert_true (g_file_test (final, G_FILE_TEST_IS_SYMLINK));
}

static void
test_hard_link_partial (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *target = g_build_filename (f->outside, "victim", NULL);
  g_autofree char *partial = g_build_filename (f->dir, ".x.pinhole-partial", NULL);
  g_autoptr(GBytes) victim = g_bytes_new_static ("keep me", 7);
  g_autoptr(GBytes) content = make_content (10, 10);
  PinholeManifestEntry e = file_entry ("x", content);
  g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &e);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (target, "keep me", 7, NULL));
  g_assert_cmpint (link (target, partial), ==, 0);
  g_assert_false (writer_open (w, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED);
  assert_file_is (f->outside, "victim", victim);
}

static void
test_discard (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GBytes) content = make_content (MIB + 3, 11);
  PinholeManifestEntry e = file_entry ("dir/c.bin", content);
  g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (f->dir_fd, &e);
  g_autoptr(GError) error = NULL;

  g_assert_true (writer_open (w, &error));
  g_assert_true (writer_write (w, content, 0, NULL, &error));
  g_assert_true (exists (f->dir, "dir/.c.bin.pinhole-partial"));
  g_assert_true (writer_discard (w, &error));
  g_assert_no_error (error);
  g_assert_false (exists (f->dir, "dir/.c.bin.pinhole-partial"));
  g_assert_false (exists (f->dir, "dir/c.bin"));
}

static void
test_check_space (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (pinhole_folder_check_space (f->dir_fd, 1, &error));
  g_assert_no_error (error);
  g_assert_false (pinhole_folder_check_space (f->dir_fd, G_MAXUINT64 / 2, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (error->message, "free"));
}

/* a 3 MiB tmpfs and a 6 MiB file: the write that meets ENOSPC fails cleanly, and the blocks
 * verified before it are there for a later resume */
static void
test_disk_full (void)
{
  g_autofree char *mnt = ph_make_tmp_dir ("xfer-full-XXXXXX");
  g_autoptr(GBytes) content = make_content (6 * MIB, 12);
  PinholeManifestEntry e = file_entry ("big.bin", content);
  g_autoptr(GError) error = NULL;
  guint64 kept = 0;
  int fd;

  if (geteuid () != 0)
    {
      ph_test_missing ("mounting a tmpfs needs root");
      ph_remove_tree (mnt);
      return;
    }
  g_assert_cmpint (mount ("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=3m"), ==, 0);
  fd = open (mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  /* detached at once: the file system lives as long as fd, even when an assertion aborts */
  g_assert_cmpint (umount2 (mnt, MNT_DETACH), ==, 0);
  g_assert_true (ph_remove_tree (mnt));

  g_assert_false (pinhole_folder_check_space (fd, e.size + pinhole_file_writer_record_bytes (&e),
                                              &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_clear_error (&error);
  {
    g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (fd, &e);
    guint64 b;

    g_assert_true (writer_open (w, &error));
    g_assert_no_error (error);
    for (b = 0; b < 6; b++)
      if (!writer_write (w, content, b, NULL, &error))
        break;
    g_assert_cmpuint (b, <, 6);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
    kept = b;
    g_assert_cmpuint (kept, >=, 1);
  }
  {
    g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (fd, &e);

    g_clear_error (&error);
    g_assert_true (writer_open (w, &error));
    g_assert_no_error (error);
    for (guint64 b = 0; b < kept; b++)
      if (!pinhole_file_writer_has_block (w, b))
        g_error ("block %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " lost", b, kept);
    g_assert_cmpint (faccessat (fd, "big.bin", F_OK, AT_SYMLINK_NOFOLLOW), !=, 0);
  }
  close (fd);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) \
  g_test_add ("/transfer/file-writer/" path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("small", test_small);
  ADD ("empty-and-folder", test_empty_and_folder);
  ADD ("bad-block", test_bad_block);
  ADD ("whole-hash-mismatch", test_whole_hash_mismatch);
  ADD ("never-overwrite", test_never_overwrite);
  ADD ("long-names", test_long_names);
  ADD ("resume", test_resume);
  ADD ("stale-partial", test_stale_partial);
  ADD ("symlink-folder", test_symlink_folder);
  ADD ("symlink-partial-and-final", test_symlink_partial_and_final);
  ADD ("hard-link-partial", test_hard_link_partial);
  ADD ("discard", test_discard);
  ADD ("check-space", test_check_space);
#undef ADD
  g_test_add_func ("/transfer/file-writer/disk-full", test_disk_full);
  return g_test_run ();
}
