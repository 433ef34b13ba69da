/* SPDX-License-Identifier: GPL-3.0-or-later
 * fuzz-replay.c: runs a libFuzzer harness over its seed corpus as a GLib test, so that
 * every build replays the corpus even without clang. Usage: fuzz-X-replay CORPUS_DIR */
#include <glib.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* g_ptr_array_sort passes pointers to the elements (g_ptr_array_sort_values needs GLib 2.76) */
static gint
compare_names (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

static void
replay_one (gconstpointer user_data)
{
  const char *path = user_data;
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);
  /* a copy of exactly len bytes, so that ASan/valgrind see any over-read */
  g_autofree guint8 *exact = g_memdup2 (contents, len);
  g_assert_cmpint (LLVMFuzzerTestOneInput (exact, len), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (argc < 2)
    g_error ("usage: %s CORPUS_DIR", argv[0]);

  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open (argv[1], 0, &error);
  g_assert_no_error (error);

  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  g_assert_cmpuint (names->len, >, 0);

  for (guint i = 0; i < names->len; i++)
    {
      const char *n = g_ptr_array_index (names, i);
      g_autofree char *test_path = g_strdup_printf ("/fuzz/replay/%s", n);
      g_test_add_data_func_full (test_path, g_build_filename (argv[1], n, NULL), replay_one,
                                 g_free);
    }
  return g_test_run ();
}
