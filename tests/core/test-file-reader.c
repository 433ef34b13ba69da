/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-file-reader.c: the sender's disk: the manifest of files and folder trees (an empty
 * folder kept, links and FIFOs left out, names the recipient would refuse refused here), the
 * hashes, the entry limit, blocks read back, a file changed since the offer, and a tree that
 * goes through the reader, the data frames and the writer to arrive the same. */
#include "pinhole-file-reader.h"
#include "pinhole-file-writer.h"
#include "pinhole-transfer-message.h"
#include "pinhole-error.h"
#include "pinhole-session.h"
#include "pinhole-test-transfer.h"
#include "pinhole-test-util.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1024 * 1024)

typedef struct
{
  char *root;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->root = ph_make_tmp_dir ("xfer-reader-XXXXXX");
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_assert_true (ph_remove_tree (f->root));
  g_free (f->root);
}

static PinholeManifest *
build (const char *const *paths,
       GPtrArray        **out_sources,
       GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pinhole_manifest_build_async (paths, NULL, ph_test_store_result_cb, &result);
  g_assert_true (ph_wait_pointer ((gpointer const *) &result, 30000));
  return pinhole_manifest_build_finish (result, out_sources, error);
}

static GBytes *
read_block (const char                 *source,
            const PinholeManifestEntry *entry,
            guint64                     block,
            guint8                     *sha256,
            GError                    **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pinhole_file_reader_read_block_async (source, entry, block, NULL, ph_test_store_result_cb, &result);
  g_assert_true (ph_wait_pointer ((gpointer const *) &result, 30000));
  return pinhole_file_reader_read_block_finish (result, sha256, error);
}

static void
test_tree (Fixture       *f,
           gconstpointer  data)
{
  g_autofree char *tree = g_build_filename (f->root, "photos", NULL);
  g_autofree char *single = g_build_filename (f->root, "notes.txt", NULL);
  g_autofree char *empty = g_build_filename (tree, "2024/empty", NULL);
  g_autofree char *link = g_build_filename (tree, "link-to-etc", NULL);
  g_autofree char *fifo = g_build_filename (tree, "fifo", NULL);
  g_autofree char *trailing = g_strconcat (tree, "/", NULL);
  const char *paths[] = { trailing, single, NULL };
  g_autoptr(GPtrArray) sources = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeManifest) m = NULL;
  g_autofree char *expected = NULL;
  PinholeManifestEntry *e;

  ph_test_write_file (f->root, "photos/2024/beach.jpg", 2 * MIB + 5, 1);
  ph_test_write_file (f->root, "photos/a.txt", 0, 2);
  ph_test_write_file (f->root, "notes.txt", 11, 3);
  g_assert_cmpint (g_mkdir_with_parents (empty, 0755), ==, 0);
  g_assert_cmpint (symlink ("/etc", link), ==, 0);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);

  m = build (paths, &sources, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pinhole_manifest_get_n_entries (m), ==, 4);
  g_assert_cmpuint (sources->len, ==, 4);
  e = pinhole_manifest_get_entry (m, 0);
  g_assert_cmpstr (e->path, ==, "photos/2024/beach.jpg");
  g_assert_cmpuint (e->size, ==, 2 * MIB + 5);
  e = pinhole_manifest_get_entry (m, 1);
  g_assert_cmpstr (e->path, ==, "photos/2024/empty");
  g_assert_true (e->folder);
  g_assert_cmpstr (sources->pdata[1], ==, "");
  e = pinhole_manifest_get_entry (m, 2);
  g_assert_cmpstr (e->path, ==, "photos/a.txt");
  /* SHA-256 of no bytes */
  expected = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) "", 0);
  {
    char hex[65];

    pinhole_sha256_to_hex (e->sha256, hex);
    g_assert_cmpstr (hex, ==, expected);
  }
  e = pinhole_manifest_get_entry (m, 3);
  g_assert_cmpstr (e->path, ==, "notes.txt");
  g_assert_cmpstr (sources->pdata[3], ==, single);
}

static void
test_refused_names (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *tree = g_build_filename (f->root, "d", NULL);
  const char *paths[] = { tree, NULL };
  g_autoptr(GPtrArray) sources = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeManifest) m = NULL;

  ph_test_write_file (f->root, "d/ok.txt", 1, 1);
  ph_test_write_file (f->root, "d/what?.txt", 1, 1);
  m = build (paths, &sources, &error);
  g_assert_null (m);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "Cannot send this"));
}

static void
test_same_name_twice (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *a = g_build_filename (f->root, "a/x", NULL);
  g_autofree char *b = g_build_filename (f->root, "b/x", NULL);
  const char *paths[] = { a, b, NULL };
  g_autoptr(GPtrArray) sources = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeManifest) m = NULL;

  ph_test_write_file (f->root, "a/x", 1, 1);
  ph_test_write_file (f->root, "b/x", 1, 1);
  m = build (paths, &sources, &error);
  g_assert_null (m);
  g_assert_nonnull (strstr (error->message, "twice"));
}

static void
test_entry_limit (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *tree = g_build_filename (f->root, "many", NULL);
  const char *paths[] = { tree, NULL };
  g_autoptr(GPtrArray) sources = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeManifest) m = NULL;

  g_assert_cmpint (g_mkdir (tree, 0755), ==, 0);
  for (int i = 0; i <= PINHOLE_MANIFEST_MAX_ENTRIES; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s/f%d", tree, i);
      int fd = open (name, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);

      g_assert_cmpint (fd, >=, 0);
      close (fd);
    }
  m = build (paths, &sources, &error);
  g_assert_null (m);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
  g_assert_nonnull (strstr (error->message, "4096"));
}

static void
test_changed_since_offer (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *path = g_build_filename (f->root, "c.bin", NULL);
  const char *paths[] = { path, NULL };
  g_autoptr(GPtrArray) sources = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeManifest) m = NULL;
  g_autoptr(GBytes) block = NULL;
  guint8 hash[32];

  ph_test_write_file (f->root, "c.bin", MIB + 1, 4);
  m = build (paths, &sources, &error);
  g_assert_no_error (error);
  block = read_block (path, pinhole_manifest_get_entry (m, 0), 1, hash, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (block), ==, 1);

  ph_test_write_file (f->root, "c.bin", MIB + 2, 4);
  g_clear_pointer (&block, g_bytes_unref);
  block = read_block (path, pinhole_manifest_get_entry (m, 0), 0, hash, &error);
  g_assert_null (block);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "changed since it was offered"));
}

/* sender's disk -> BLOCK and DATA frames -> recipient's disk, block by block */
static void
deliver_entry (const char                 *source,
               const PinholeManifestEntry *entry,
               int                         folder_fd)
{
  g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (folder_fd, entry);
  g_autoptr(GAsyncResult) opened = NULL;
  g_autoptr(GAsyncResult) finished = NULL;
  g_autoptr(GError) error = NULL;

  pinhole_file_writer_open_async (w, NULL, ph_test_store_result_cb, &opened);
  g_assert_true (ph_wait_pointer ((gpointer const *) &opened, 30000));
  g_assert_true (pinhole_file_writer_open_finish (w, opened, &error));
  for (guint64 b = 0; b < pinhole_manifest_entry_get_n_blocks (entry); b++)
    {
      guint8 hash[32];
      g_autoptr(GBytes) data = read_block (source, entry, b, hash, &error);
      g_autoptr(GBytes) frame = pinhole_transfer_data_build_block (3, b, hash);
      g_autoptr(GByteArray) assembled = g_byte_array_new ();
      g_autoptr(GAsyncResult) written = NULL;
      g_autoptr(GBytes) whole = NULL;
      PinholeTransferData d;
      gsize len;
      const guint8 *p = g_bytes_get_data (data, &len);
      guint8 announced[32];

      g_assert_no_error (error);
      g_assert_true (pinhole_transfer_data_parse (frame, &d, NULL));
      memcpy (announced, d.sha256, 32);
      for (gsize off = 0; off < len;)
        {
          gsize n = MIN (len - off, PINHOLE_SESSION_MAX_PAYLOAD - PINHOLE_TRANSFER_DATA_HEADER);
          g_autoptr(GBytes) df = pinhole_transfer_data_build_data (3, b * MIB + off, p + off, n);

          g_assert_true (pinhole_transfer_data_parse (df, &d, NULL));
          g_assert_cmpuint (d.offset, ==, b * MIB + off);
          g_byte_array_append (assembled, d.data, (guint) d.len);
          off += n;
        }
      whole = g_byte_array_free_to_bytes (g_steal_pointer (&assembled));
      pinhole_file_writer_write_block_async (w, b, announced, whole, NULL, ph_test_store_result_cb,
                                             &written);
      g_assert_true (ph_wait_pointer ((gpointer const *) &written, 30000));
      g_assert_true (pinhole_file_writer_write_block_finish (w, written, &error));
      g_assert_no_error (error);
    }
  pinhole_file_writer_finish_async (w, NULL, ph_test_store_result_cb, &finished);
  g_assert_true (ph_wait_pointer ((gpointer const *) &finished, 30000));
  g_assert_true (pinhole_file_writer_finish_finish (w, finished, &error));
  g_assert_no_error (error);
}

static void
test_reader_to_writer (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *tree = g_build_filename (f->root, "send/docs", NULL);
  g_autofree char *inbox = g_build_filename (f->root, "inbox", NULL);
  const char *paths[] = { tree, NULL };
  g_autoptr(GPtrArray) sources = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeManifest) m = NULL;
  g_autofree char *manifest_text = NULL;
  g_autoptr(PinholeManifest) received = NULL;
  gsize len;
  int fd;

  ph_test_write_file (f->root, "send/docs/big.bin", 3 * MIB + 77, 5);
  ph_test_write_file (f->root, "send/docs/sub/small.txt", 100, 6);
  ph_test_write_file (f->root, "send/docs/sub/empty.txt", 0, 7);
  g_assert_cmpint (g_mkdir_with_parents (tree, 0755), ==, 0);
  {
    g_autofree char *e = g_build_filename (tree, "nothing-here", NULL);

    g_assert_cmpint (g_mkdir (e, 0755), ==, 0);
  }
  g_assert_cmpint (g_mkdir (inbox, 0755), ==, 0);
  m = build (paths, &sources, &error);
  g_assert_no_error (error);
  /* the manifest as the recipient gets it */
  manifest_text = pinhole_manifest_to_string (m, &len);
  received = pinhole_manifest_parse (manifest_text, len, &error);
  g_assert_no_error (error);

  fd = open (inbox, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  for (guint i = 0; i < pinhole_manifest_get_n_entries (received); i++)
    deliver_entry (sources->pdata[i], pinhole_manifest_get_entry (received, i), fd);
  close (fd);

  for (guint i = 0; i < pinhole_manifest_get_n_entries (m); i++)
    {
      PinholeManifestEntry *e = pinhole_manifest_get_entry (m, i);
      g_autofree char *got = g_build_filename (inbox, e->path, NULL);

      if (e->folder)
        g_assert_true (g_file_test (got, G_FILE_TEST_IS_DIR));
      else
        {
          g_autofree char *a = NULL, *b = NULL;
          gsize la, lb;

          g_assert_true (g_file_get_contents (sources->pdata[i], &a, &la, NULL));
          g_assert_true (g_file_get_contents (got, &b, &lb, NULL));
          g_assert_cmpmem (a, la, b, lb);
        }
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) \
  g_test_add ("/transfer/file-reader/" path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("tree", test_tree);
  ADD ("refused-names", test_refused_names);
  ADD ("same-name-twice", test_same_name_twice);
  ADD ("entry-limit", test_entry_limit);
  ADD ("changed-since-offer", test_changed_since_offer);
  ADD ("reader-to-writer", test_reader_to_writer);
#undef ADD
  return g_test_run ();
}
