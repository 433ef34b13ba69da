/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-list-prefix.c: PinholeListPrefix, the first items of a model growing to all of it in
 * idle steps, as the contact list binds the roster: it shows the source's first items in
 * order at every step, follows the source's changes and ends with all of them. */
#include <gio/gio.h>

#include "pinhole-list-prefix.h"

/* the prefix is the first items of the source, in order */
static void
check_prefix (PinholeListPrefix *prefix,
              GListModel        *source)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (prefix));

  g_assert_cmpuint (n, <=, g_list_model_get_n_items (source));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GObject) a = g_list_model_get_item (G_LIST_MODEL (prefix), i);
      g_autoptr(GObject) b = g_list_model_get_item (source, i);

      g_assert_true (a == b);
    }
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (prefix), n));
}

static void
count_cb (GListModel *model,
          guint       position,
          guint       removed,
          guint       added,
          int        *changes)
{
  (*changes)++;
}

static GObject *
item (void)
{
  return g_object_new (G_TYPE_OBJECT, NULL);
}

static void
test_grows (void)
{
  g_autoptr(GListStore) store = g_list_store_new (G_TYPE_OBJECT);
  g_autoptr(PinholeListPrefix) prefix = NULL;
  g_autoptr(GObject) first = item ();
  g_autoptr(GObject) late = item ();
  int changes = 0, steps = 0;

  for (int i = 0; i < 100; i++)
    {
      g_autoptr(GObject) o = item ();

      g_list_store_append (store, o);
    }
  prefix = pinhole_list_prefix_new (G_LIST_MODEL (store), 10, 25);
  g_signal_connect (prefix, "items-changed", G_CALLBACK (count_cb), &changes);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (prefix)), ==, 10);
  g_assert_false (pinhole_list_prefix_get_complete (prefix));
  check_prefix (prefix, G_LIST_MODEL (store));

  /* a change within it shows; one beyond it waits for the prefix to get there */
  g_list_store_insert (store, 0, first);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (prefix)), ==, 11);
  check_prefix (prefix, G_LIST_MODEL (store));
  g_list_store_remove (store, 5);
  g_list_store_insert (store, 80, late);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (prefix)), ==, 10);
  check_prefix (prefix, G_LIST_MODEL (store));

  while (!pinhole_list_prefix_get_complete (prefix))
    {
      g_main_context_iteration (NULL, TRUE);
      check_prefix (prefix, G_LIST_MODEL (store));
      steps++;
    }
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (prefix)), ==, 101);
  g_assert_cmpint (steps, ==, 4);
  g_assert_cmpint (changes, ==, 2 + 4);

  /* complete, it follows the source whole */
  g_list_store_remove (store, 100);
  g_list_store_append (store, first);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (prefix)), ==, 101);
  check_prefix (prefix, G_LIST_MODEL (store));
}

static void
test_small_complete (void)
{
  g_autoptr(GListStore) store = g_list_store_new (G_TYPE_OBJECT);
  g_autoptr(PinholeListPrefix) prefix = NULL;
  g_autoptr(GObject) o = item ();

  g_list_store_append (store, o);
  prefix = pinhole_list_prefix_new (G_LIST_MODEL (store), 10, 25);
  g_assert_true (pinhole_list_prefix_get_complete (prefix));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (prefix)), ==, 1);
  g_list_store_append (store, o);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (prefix)), ==, 2);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/app/list-prefix/grows", test_grows);
  g_test_add_func ("/app/list-prefix/small-complete", test_small_complete);
  return g_test_run ();
}
