/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-transfer.c: files of known content and kept async results, for the transfer
 * tests. */
#include "pinhole-test-transfer.h"

#include <glib/gstdio.h>

void
ph_test_write_file (const char *root,
                    const char *rel,
                    gsize       len,
                    guint8      seed)
{
  g_autofree char *path = g_build_filename (root, rel, NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree guint8 *bytes = g_malloc (len + 1);

  for (gsize i = 0; i < len; i++)
    bytes[i] = (guint8) (seed * 31 + i * 7 + i / 4093);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, (const char *) bytes, (gssize) len, NULL));
}

void
ph_test_store_result_cb (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}
