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

/* fails the test (not at once) unless @b exists with @a's content */
void
ph_test_assert_same_file (const char *a,
                          const char *b)
{
  g_autofree char *x = NULL, *y = NULL;
  gsize lx = 0, ly = 0;

  g_assert_true (g_file_get_contents (a, &x, &lx, NULL));
  if (!g_file_get_contents (b, &y, &ly, NULL))
    {
      g_test_fail_printf ("%s did not arrive", b);
      return;
    }
  g_assert_cmpmem (x, lx, y, ly);
}

/* Returns: how many partial files (".NAME.pinhole-partial") @dir holds, at its top */
guint
ph_test_count_partials (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".pinhole-partial"))
      n++;
  return n;
}
