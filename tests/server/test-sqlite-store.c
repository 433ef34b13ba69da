/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-sqlite-store.c: the server's SQLite store through the PinholeStore interface: accounts,
 * device keys, relations, the offline queue and its limits, receipts for the senders,
 * durability across reopening, and syncs off the main loop with group commit. */
#include "pinhole-sqlite-store.h"
#include "pinhole-error.h"
#include "pinhole-test-util.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <string.h>

typedef struct
{
  char         *dir;
  char         *path;
  PinholeStore *store;
} Fixture;

static PinholeStore *
open_store (const char *path)
{
  g_autoptr(GError) error = NULL;
  PinholeStore *store = pinhole_sqlite_store_open (path, &error);

  g_assert_no_error (error);
  g_assert_true (PINHOLE_IS_STORE (store));
  return store;
}

static void
fixture_set_up (Fixture      *f,
                gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("pinhole-test-store-XXXXXX", &error);
  g_assert_no_error (error);
  /* a folder below the temporary one: open creates it */
  f->path = g_build_filename (f->dir, "data", "server.db", NULL);
  f->store = open_store (f->path);
}

static void
fixture_tear_down (Fixture      *f,
                   gconstpointer data)
{
  g_clear_object (&f->store);
  g_assert_true (ph_remove_tree (f->dir));
  g_free (f->path);
  g_free (f->dir);
}

static GBytes *
make_bytes (guint8 seed,
            gsize  len)
{
  guint8 *data = g_malloc (len);

  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) (seed + i * 5);
  return g_bytes_new_take (data, len);
}

static void
create_account (PinholeStore *store,
                const char   *user)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *hash = g_strdup_printf ("$argon2id$v=19$m=65536,t=2,p=1$%s", user);

  g_assert_true (pinhole_store_create_account (store, user, hash, &error));
  g_assert_no_error (error);
}

static void
test_accounts (Fixture      *f,
               gconstpointer data)
{
  const char *hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
  g_autoptr(GError) error = NULL;
  g_autofree char *got = NULL;
  g_autofree char *other = NULL;
  g_autofree char *still = NULL;

  g_assert_true (pinhole_store_create_account (f->store, "alice", hash, &error));
  g_assert_no_error (error);

  g_assert_false (pinhole_store_create_account (f->store, "alice", "another", &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message, "alice"));
  g_clear_error (&error);

  got = pinhole_store_dup_password_hash (f->store, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got, ==, hash);

  /* a failed second create leaves the first hash */
  create_account (f->store, "bob");
  other = pinhole_store_dup_password_hash (f->store, "bob", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (other, !=, hash);
  still = pinhole_store_dup_password_hash (f->store, "alice", &error);
  g_assert_cmpstr (still, ==, hash);

  g_assert_null (pinhole_store_dup_password_hash (f->store, "carol", &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* names are exact: no case folding */
  g_assert_null (pinhole_store_dup_password_hash (f->store, "Alice", &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND);
}

static void
test_devices (Fixture      *f,
              gconstpointer data)
{
  g_autoptr(GBytes) key = make_bytes (1, 32);
  g_autoptr(GBytes) other_key = make_bytes (2, 32);
  g_autoptr(GBytes) token1 = make_bytes (10, 32);
  g_autoptr(GBytes) token2 = make_bytes (11, 32);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) devices = NULL;

  create_account (f->store, "alice");

  g_assert_false (pinhole_store_get_device (f->store, "alice", "laptop", NULL, NULL, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (pinhole_store_put_device (f->store, "alice", "laptop", key, token1, &error));
  g_assert_no_error (error);
  {
    g_autoptr(GBytes) got_key = NULL;
    g_autoptr(GBytes) got_token = NULL;

    g_assert_true (pinhole_store_get_device (f->store, "alice", "laptop", &got_key, &got_token,
                                             &error));
    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (got_key, key));
    g_assert_true (g_bytes_equal (got_token, token1));
  }

  /* the same key again: a new login token replaces the old one */
  g_assert_true (pinhole_store_put_device (f->store, "alice", "laptop", key, token2, &error));
  g_assert_no_error (error);

  /* another key for the same device is refused and changes nothing */
  g_assert_false (pinhole_store_put_device (f->store, "alice", "laptop", other_key, token1,
                                            &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_EXISTS);
  g_clear_error (&error);
  {
    g_autoptr(GBytes) got_key = NULL;
    g_autoptr(GBytes) got_token = NULL;

    g_assert_true (pinhole_store_get_device (f->store, "alice", "laptop", &got_key, &got_token,
                                             &error));
    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (got_key, key));
    g_assert_true (g_bytes_equal (got_token, token2));
  }

  /* a second device, and only the key is asked for */
  g_assert_true (pinhole_store_put_device (f->store, "alice", "desktop", other_key, token1,
                                           &error));
  g_assert_no_error (error);
  {
    g_autoptr(GBytes) got_key = NULL;

    g_assert_true (pinhole_store_get_device (f->store, "alice", "desktop", &got_key, NULL,
                                             &error));
    g_assert_true (g_bytes_equal (got_key, other_key));
  }

  devices = pinhole_store_list_devices (f->store, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (devices->len, ==, 2);
  {
    PinholeStoreDevice *d0 = g_ptr_array_index (devices, 0);
    PinholeStoreDevice *d1 = g_ptr_array_index (devices, 1);

    g_assert_cmpstr (d0->user, ==, "alice");
    g_assert_cmpstr (d0->device, ==, "desktop");
    g_assert_true (g_bytes_equal (d0->key, other_key));
    g_assert_cmpstr (d1->device, ==, "laptop");
    g_assert_true (g_bytes_equal (d1->key, key));
  }
  g_clear_pointer (&devices, g_ptr_array_unref);

  devices = pinhole_store_list_devices (f->store, "nobody", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (devices->len, ==, 0);

  /* a device needs an account */
  g_assert_false (pinhole_store_put_device (f->store, "nobody", "laptop", key, token1, &error));
  g_assert_nonnull (error);
}

static void
test_relations (Fixture      *f,
                gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) contacts = NULL;

  g_assert_cmpint (pinhole_store_get_relation (f->store, "alice", "bob", &error), ==,
                   PINHOLE_RELATION_NONE);
  g_assert_no_error (error);

  /* a request: both directions in one call */
  g_assert_true (pinhole_store_set_relation (f->store, "alice", "bob",
                                             PINHOLE_RELATION_REQUESTED,
                                             PINHOLE_RELATION_INCOMING, &error));
  g_assert_no_error (error);
  g_assert_cmpint (pinhole_store_get_relation (f->store, "alice", "bob", &error), ==,
                   PINHOLE_RELATION_REQUESTED);
  g_assert_cmpint (pinhole_store_get_relation (f->store, "bob", "alice", &error), ==,
                   PINHOLE_RELATION_INCOMING);
  g_assert_no_error (error);

  g_assert_true (pinhole_store_set_relation (f->store, "bob", "alice", PINHOLE_RELATION_MUTUAL,
                                             PINHOLE_RELATION_MUTUAL, &error));
  g_assert_true (pinhole_store_set_relation (f->store, "alice", "carol",
                                             PINHOLE_RELATION_MUTUAL, PINHOLE_RELATION_MUTUAL,
                                             &error));
  g_assert_true (pinhole_store_set_relation (f->store, "dave", "alice",
                                             PINHOLE_RELATION_REQUESTED,
                                             PINHOLE_RELATION_INCOMING, &error));
  g_assert_no_error (error);
  g_assert_cmpint (pinhole_store_get_relation (f->store, "alice", "bob", &error), ==,
                   PINHOLE_RELATION_MUTUAL);
  g_assert_cmpint (pinhole_store_get_relation (f->store, "bob", "alice", &error), ==,
                   PINHOLE_RELATION_MUTUAL);

  contacts = pinhole_store_list_contacts (f->store, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (contacts->len, ==, 3);
  {
    static const struct { const char *user; PinholeRelation relation; } expected[] = {
      { "bob", PINHOLE_RELATION_MUTUAL },
      { "carol", PINHOLE_RELATION_MUTUAL },
      { "dave", PINHOLE_RELATION_INCOMING },
    };

    for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
      {
        PinholeStoreContact *c = g_ptr_array_index (contacts, i);

        g_assert_cmpstr (c->user, ==, expected[i].user);
        g_assert_cmpint (c->relation, ==, expected[i].relation);
      }
  }
  g_clear_pointer (&contacts, g_ptr_array_unref);

  /* NONE deletes, both ways; a one-sided remove keeps the other side */
  g_assert_true (pinhole_store_set_relation (f->store, "alice", "bob", PINHOLE_RELATION_NONE,
                                             PINHOLE_RELATION_NONE, &error));
  g_assert_true (pinhole_store_set_relation (f->store, "alice", "carol", PINHOLE_RELATION_NONE,
                                             PINHOLE_RELATION_MUTUAL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (pinhole_store_get_relation (f->store, "alice", "bob", &error), ==,
                   PINHOLE_RELATION_NONE);
  g_assert_cmpint (pinhole_store_get_relation (f->store, "bob", "alice", &error), ==,
                   PINHOLE_RELATION_NONE);
  g_assert_cmpint (pinhole_store_get_relation (f->store, "carol", "alice", &error), ==,
                   PINHOLE_RELATION_MUTUAL);

  contacts = pinhole_store_list_contacts (f->store, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (contacts->len, ==, 1);
  g_assert_cmpstr (((PinholeStoreContact *) g_ptr_array_index (contacts, 0))->user, ==, "dave");
  g_clear_pointer (&contacts, g_ptr_array_unref);

  contacts = pinhole_store_list_contacts (f->store, "bob", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (contacts->len, ==, 0);

  g_assert_cmpstr (pinhole_relation_to_string (PINHOLE_RELATION_NONE), ==, "none");
  g_assert_cmpstr (pinhole_relation_to_string (PINHOLE_RELATION_REQUESTED), ==, "requested");
  g_assert_cmpstr (pinhole_relation_to_string (PINHOLE_RELATION_INCOMING), ==, "incoming");
  g_assert_cmpstr (pinhole_relation_to_string (PINHOLE_RELATION_MUTUAL), ==, "mutual");
}

static PinholeStoreOffline *
make_offline (const char *id,
              guint8      seed)
{
  PinholeStoreOffline *m = g_new0 (PinholeStoreOffline, 1);

  m->id = g_strdup (id);
  m->from_user = g_strdup ("bob");
  m->from_device = g_strdup ("phone");
  m->sealed = make_bytes (seed, 48 + seed);
  m->timestamp = 1700000000000000 + seed;
  return m;
}

static void
assert_same_offline (const PinholeStoreOffline *a,
                     const PinholeStoreOffline *b)
{
  g_assert_cmpstr (a->id, ==, b->id);
  g_assert_cmpstr (a->from_user, ==, b->from_user);
  g_assert_cmpstr (a->from_device, ==, b->from_device);
  g_assert_true (g_bytes_equal (a->sealed, b->sealed));
  g_assert_cmpint (a->timestamp, ==, b->timestamp);
}

static void
test_offline (Fixture      *f,
              gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func (
    (GDestroyNotify) pinhole_store_offline_free);
  g_autoptr(GPtrArray) list = NULL;
  const guint max = 4;

  /* ids sort differently from their order of arrival */
  for (guint i = 0; i < max; i++)
    {
      g_autofree char *id = g_strdup_printf ("z%u", max - i);
      PinholeStoreOffline *m = make_offline (id, (guint8) i);

      g_assert_true (pinhole_store_queue_offline (f->store, "alice", "laptop", m, max, &error));
      g_assert_no_error (error);
      g_ptr_array_add (sent, m);
    }

  /* the queue is full for this device, not for another one */
  {
    g_autoptr(PinholeStoreOffline) extra = make_offline ("extra", 50);

    g_assert_false (pinhole_store_queue_offline (f->store, "alice", "laptop", extra, max,
                                                 &error));
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
    g_clear_error (&error);
    g_assert_true (pinhole_store_queue_offline (f->store, "alice", "desktop", extra, max,
                                                &error));
    g_assert_no_error (error);
    /* a duplicate id for the same device */
    g_assert_false (pinhole_store_queue_offline (f->store, "alice", "desktop", extra, max,
                                                 &error));
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_EXISTS);
    g_clear_error (&error);
  }

  list = pinhole_store_list_offline (f->store, "alice", "laptop", 100, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, max);
  for (guint i = 0; i < max; i++)
    assert_same_offline (g_ptr_array_index (list, i), g_ptr_array_index (sent, i));
  g_clear_pointer (&list, g_ptr_array_unref);

  list = pinhole_store_list_offline (f->store, "alice", "laptop", 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  assert_same_offline (g_ptr_array_index (list, 0), g_ptr_array_index (sent, 0));
  assert_same_offline (g_ptr_array_index (list, 1), g_ptr_array_index (sent, 1));
  g_clear_pointer (&list, g_ptr_array_unref);

  /* taking from the middle returns the message and removes it */
  {
    const PinholeStoreOffline *want = g_ptr_array_index (sent, 1);
    g_autoptr(PinholeStoreOffline) taken =
      pinhole_store_take_offline (f->store, "alice", "laptop", want->id, 0, &error);

    g_assert_no_error (error);
    g_assert_nonnull (taken);
    assert_same_offline (taken, want);
  }
  {
    const PinholeStoreOffline *want = g_ptr_array_index (sent, 1);
    g_autoptr(PinholeStoreOffline) again =
      pinhole_store_take_offline (f->store, "alice", "laptop", want->id, 0, &error);

    g_assert_null (again);
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }
  /* another device's message is not taken through this one */
  {
    g_autoptr(PinholeStoreOffline) wrong =
      pinhole_store_take_offline (f->store, "alice", "laptop", "extra", 0, &error);

    g_assert_null (wrong);
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }

  list = pinhole_store_list_offline (f->store, "alice", "laptop", 100, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, max - 1);
  assert_same_offline (g_ptr_array_index (list, 0), g_ptr_array_index (sent, 0));
  assert_same_offline (g_ptr_array_index (list, 1), g_ptr_array_index (sent, 2));
  assert_same_offline (g_ptr_array_index (list, 2), g_ptr_array_index (sent, 3));
  g_clear_pointer (&list, g_ptr_array_unref);

  /* room again after a take */
  {
    g_autoptr(PinholeStoreOffline) next = make_offline ("next", 60);

    g_assert_true (pinhole_store_queue_offline (f->store, "alice", "laptop", next, max, &error));
    g_assert_no_error (error);
  }

  list = pinhole_store_list_offline (f->store, "carol", "laptop", 100, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
}

static void
test_reopen (Fixture      *f,
             gconstpointer data)
{
  g_autoptr(GBytes) key = make_bytes (1, 32);
  g_autoptr(GBytes) token = make_bytes (2, 32);
  g_autoptr(PinholeStoreOffline) m = make_offline ("m1", 7);
  g_autoptr(GError) error = NULL;

  create_account (f->store, "alice");
  g_assert_true (pinhole_store_put_device (f->store, "alice", "laptop", key, token, &error));
  g_assert_true (pinhole_store_set_relation (f->store, "alice", "bob", PINHOLE_RELATION_MUTUAL,
                                             PINHOLE_RELATION_MUTUAL, &error));
  g_assert_true (pinhole_store_queue_offline (f->store, "alice", "laptop", m, 10, &error));
  g_assert_no_error (error);

  g_clear_object (&f->store);
  f->store = open_store (f->path);

  {
    g_autofree char *hash = pinhole_store_dup_password_hash (f->store, "alice", &error);
    g_autoptr(GBytes) got_key = NULL;
    g_autoptr(GBytes) got_token = NULL;
    g_autoptr(GPtrArray) list = NULL;
    g_autoptr(PinholeStoreOffline) taken = NULL;

    g_assert_no_error (error);
    g_assert_true (g_str_has_prefix (hash, "$argon2id$"));
    g_assert_true (pinhole_store_get_device (f->store, "alice", "laptop", &got_key, &got_token,
                                             &error));
    g_assert_true (g_bytes_equal (got_key, key));
    g_assert_true (g_bytes_equal (got_token, token));
    g_assert_cmpint (pinhole_store_get_relation (f->store, "bob", "alice", &error), ==,
                     PINHOLE_RELATION_MUTUAL);
    list = pinhole_store_list_offline (f->store, "alice", "laptop", 10, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (list->len, ==, 1);
    assert_same_offline (g_ptr_array_index (list, 0), m);

    /* an account made before reopening still exists */
    g_assert_false (pinhole_store_create_account (f->store, "alice", "x", &error));
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_EXISTS);
    g_clear_error (&error);

    taken = pinhole_store_take_offline (f->store, "alice", "laptop", "m1", 10, &error);
    g_assert_no_error (error);
    assert_same_offline (taken, m);
  }

  /* the take is durable too, and the receipt it kept */
  g_clear_object (&f->store);
  f->store = open_store (f->path);
  {
    g_autoptr(GPtrArray) list = pinhole_store_list_offline (f->store, "alice", "laptop", 10,
                                                            &error);
    g_autoptr(GPtrArray) receipts = pinhole_store_list_receipts (f->store, "bob", "phone", 10,
                                                                 &error);
    g_assert_no_error (error);
    g_assert_cmpuint (list->len, ==, 0);
    g_assert_cmpuint (receipts->len, ==, 1);
  }
}

/* alice's laptop takes bob's messages: bob's phone gets receipts, the newest @max of them;
 * they go when he takes them, when they are old, or with his device */
static void
assert_receipts (PinholeStore      *store,
                 const char *const *ids)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = pinhole_store_list_receipts (store, "bob", "phone", 100, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, g_strv_length ((char **) ids));
  for (guint i = 0; i < list->len; i++)
    {
      PinholeStoreReceipt *r = g_ptr_array_index (list, i);

      g_assert_cmpstr (r->id, ==, ids[i]);
      g_assert_cmpstr (r->user, ==, "alice");
      g_assert_cmpstr (r->device, ==, "laptop");
    }
}

static PinholeStoreReceipt *
make_receipt (const char *id,
              const char *user,
              const char *device)
{
  PinholeStoreReceipt *r = g_new0 (PinholeStoreReceipt, 1);

  r->id = g_strdup (id);
  r->user = g_strdup (user);
  r->device = g_strdup (device);
  return r;
}

static void
test_receipts (Fixture      *f,
               gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = make_bytes (1, 32);
  const char *ids[] = { "r0", "r1", "r2", "r3", "r4" };
  gint64 before = g_get_real_time ();

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr(PinholeStoreOffline) m = make_offline (ids[i], (guint8) i);

      g_assert_true (pinhole_store_queue_offline (f->store, "alice", "laptop", m, 10, &error));
      g_assert_no_error (error);
    }
  {
    const char *none[] = { NULL };
    g_autoptr(PinholeStoreOffline) m = pinhole_store_take_offline (f->store, "alice", "laptop",
                                                                   "r0", 0, &error);
    /* none kept when none is asked for */
    g_assert_nonnull (m);
    assert_receipts (f->store, none);
  }
  for (guint i = 1; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr(PinholeStoreOffline) m = pinhole_store_take_offline (f->store, "alice", "laptop",
                                                                     ids[i], 3, &error);
      g_assert_no_error (error);
      g_assert_nonnull (m);
    }
  {
    /* the oldest of four went */
    const char *kept[] = { "r2", "r3", "r4", NULL };
    g_autoptr(GPtrArray) list = pinhole_store_list_receipts (f->store, "bob", "phone", 2, &error);
    PinholeStoreReceipt *r;

    assert_receipts (f->store, kept);
    g_assert_cmpuint (list->len, ==, 2);
    r = g_ptr_array_index (list, 0);
    g_assert_cmpstr (r->id, ==, "r2");
    g_assert_cmpint (r->timestamp, >=, before);
    g_assert_cmpint (r->timestamp, <=, g_get_real_time ());
  }
  /* no message, no receipt */
  {
    const char *kept[] = { "r2", "r3", "r4", NULL };
    g_autoptr(PinholeStoreOffline) m = pinhole_store_take_offline (f->store, "alice", "laptop",
                                                                   "r4", 3, &error);
    g_assert_null (m);
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND);
    g_clear_error (&error);
    assert_receipts (f->store, kept);
  }
  /* for bob's phone only */
  {
    g_autoptr(GPtrArray) list = pinhole_store_list_receipts (f->store, "bob", "desk", 10, &error);
    g_assert_cmpuint (list->len, ==, 0);
  }

  /* taken by the one it is for, and only once: a batch in one transaction, where one that
   * is not there is skipped */
  {
    const char *kept[] = { "r2", "r4", NULL };
    g_autoptr(GPtrArray) batch =
      g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_store_receipt_free);
    guint removed = 99;

    g_ptr_array_add (batch, make_receipt ("r3", "alice", "laptop"));
    g_ptr_array_add (batch, make_receipt ("r2", "alice", "desk"));
    g_ptr_array_add (batch, make_receipt ("no-such", "alice", "laptop"));
    g_assert_true (pinhole_store_remove_receipts (f->store, "bob", "desk", batch, &removed,
                                                  &error));
    g_assert_no_error (error);
    g_assert_cmpuint (removed, ==, 0);
    g_assert_true (pinhole_store_remove_receipts (f->store, "bob", "phone", batch, &removed,
                                                  &error));
    g_assert_no_error (error);
    g_assert_cmpuint (removed, ==, 1);
    g_assert_true (pinhole_store_remove_receipts (f->store, "bob", "phone", batch, &removed,
                                                  &error));
    g_assert_cmpuint (removed, ==, 0);
    assert_receipts (f->store, kept);
  }

  /* with age */
  {
    const char *none[] = { NULL };
    guint purged = 0;

    g_assert_true (pinhole_store_purge_receipts (f->store, before, &purged, &error));
    g_assert_cmpuint (purged, ==, 0);
    g_assert_true (pinhole_store_purge_receipts (f->store, g_get_real_time () + 1, &purged,
                                                 &error));
    g_assert_no_error (error);
    g_assert_cmpuint (purged, ==, 2);
    assert_receipts (f->store, none);
  }

  /* and with the device they wait for */
  {
    const char *none[] = { NULL };
    g_autoptr(PinholeStoreOffline) m = make_offline ("r5", 5);
    g_autoptr(PinholeStoreOffline) taken = NULL;

    create_account (f->store, "bob");
    g_assert_true (pinhole_store_put_device (f->store, "bob", "phone", key, key, &error));
    g_assert_true (pinhole_store_queue_offline (f->store, "alice", "laptop", m, 10, &error));
    taken = pinhole_store_take_offline (f->store, "alice", "laptop", "r5", 3, &error);
    g_assert_no_error (error);
    g_assert_true (pinhole_store_remove_device (f->store, "bob", "phone", &error));
    g_assert_no_error (error);
    assert_receipts (f->store, none);
  }
}

static void
test_open_fails (Fixture      *f,
                 gconstpointer data)
{
  /* the database path is a folder */
  g_autofree char *dir_path = g_build_filename (f->dir, "a-folder", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStore) store = NULL;

  g_assert_cmpint (g_mkdir (dir_path, 0700), ==, 0);
  store = pinhole_sqlite_store_open (dir_path, &error);
  g_assert_null (store);
  g_assert_nonnull (error);
}

/* the database and its -wal and -shm are 0600 whatever the umask, and an older 0644 one is
 * brought to 0600 */
static void
assert_private_files (const char *path)
{
  const char *suffixes[] = { "", "-wal", "-shm" };

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *file = g_strconcat (path, suffixes[i], NULL);
      GStatBuf st;

      g_test_message ("%s", file);
      g_assert_cmpint (g_stat (file, &st), ==, 0);
      g_assert_cmpint (st.st_mode & 0777, ==, 0600);
    }
}

static void
test_file_mode (Fixture      *f,
                gconstpointer data)
{
  g_autofree char *old = g_build_filename (f->dir, "old.db", NULL);
  g_autofree char *new = g_build_filename (f->dir, "new.db", NULL);
  mode_t saved = umask (022);

  assert_private_files (f->path);
  {
    g_autoptr(PinholeStore) store = open_store (new);

    assert_private_files (new);
  }
  g_assert_true (g_file_set_contents (old, "", 0, NULL));
  g_assert_cmpint (g_chmod (old, 0644), ==, 0);
  {
    g_autoptr(PinholeStore) store = open_store (old);

    assert_private_files (old);
  }
  umask (saved);
}

/* a token rotates: the new hash is the token, the old one is kept with its overlap, and a
 * password log-in (put_device) starts afresh */
static void
test_tokens (Fixture      *f,
             gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = make_bytes (1, 32);
  g_autoptr(GBytes) t0 = make_bytes (2, 32);
  g_autoptr(GBytes) t1 = make_bytes (3, 32);
  g_autoptr(GBytes) t2 = make_bytes (4, 32);
  gint64 before = g_get_real_time ();

  g_assert_true (pinhole_store_create_account (f->store, "alice", "hash", &error));
  g_assert_true (pinhole_store_put_device (f->store, "alice", "laptop", key, t0, &error));
  {
    g_auto(PinholeStoreToken) token = { 0 };

    g_assert_true (pinhole_store_get_token (f->store, "alice", "laptop", &token, &error));
    g_assert_true (g_bytes_equal (token.key, key));
    g_assert_true (g_bytes_equal (token.hash, t0));
    g_assert_cmpint (token.issued, >=, before);
    g_assert_cmpint (token.issued, <=, g_get_real_time ());
    g_assert_null (token.prev_hash);
  }
  g_assert_true (pinhole_store_rotate_token (f->store, "alice", "laptop", t1, 12345, &error));
  {
    g_auto(PinholeStoreToken) token = { 0 };

    g_assert_true (pinhole_store_get_token (f->store, "alice", "laptop", &token, &error));
    g_assert_true (g_bytes_equal (token.hash, t1));
    g_assert_nonnull (token.prev_hash);
    g_assert_true (g_bytes_equal (token.prev_hash, t0));
    g_assert_cmpint (token.prev_until, ==, 12345);
  }
  g_assert_true (pinhole_store_put_device (f->store, "alice", "laptop", key, t2, &error));
  {
    g_auto(PinholeStoreToken) token = { 0 };

    g_assert_true (pinhole_store_get_token (f->store, "alice", "laptop", &token, &error));
    g_assert_true (g_bytes_equal (token.hash, t2));
    g_assert_null (token.prev_hash);
  }
  g_assert_false (pinhole_store_rotate_token (f->store, "alice", "phone", t1, 0, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND);
}

static gint64
user_version (sqlite3 *db)
{
  sqlite3_stmt *stmt = NULL;
  gint64 version = -1;

  if (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    version = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return version;
}

/* a database of version 1 (before tokens expired) opens as version 3, its accounts and
 * devices kept, each token counted from the upgrade */
static void
test_migrate_1 (Fixture      *f,
                gconstpointer data)
{
  static const char v1[] =
    "CREATE TABLE accounts (user TEXT PRIMARY KEY, password_hash TEXT NOT NULL,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE devices (user TEXT NOT NULL REFERENCES accounts(user) ON DELETE CASCADE,"
    "  device TEXT NOT NULL, key BLOB NOT NULL, token_hash BLOB NOT NULL,"
    "  PRIMARY KEY (user, device));"
    "CREATE TABLE relations (owner TEXT NOT NULL, contact TEXT NOT NULL,"
    "  relation INTEGER NOT NULL, PRIMARY KEY (owner, contact));"
    "CREATE TABLE offline (seq INTEGER PRIMARY KEY AUTOINCREMENT, to_user TEXT NOT NULL,"
    "  to_device TEXT NOT NULL, id TEXT NOT NULL, from_user TEXT NOT NULL,"
    "  from_device TEXT NOT NULL, sealed BLOB NOT NULL, stored INTEGER NOT NULL,"
    "  UNIQUE (to_user, to_device, id));"
    "INSERT INTO accounts VALUES ('alice', 'hash', 0);"
    "INSERT INTO devices VALUES ('alice', 'laptop', x'01', x'02');"
    "PRAGMA user_version=1;";
  g_autofree char *old = g_build_filename (f->dir, "v1.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStore) store = NULL;
  g_auto(PinholeStoreToken) token = { 0 };
  g_autofree char *hash = NULL;
  sqlite3 *db = NULL;
  gint64 before = g_get_real_time () - G_USEC_PER_SEC;

  g_assert_cmpint (sqlite3_open (old, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, v1, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  store = open_store (old);
  hash = pinhole_store_dup_password_hash (store, "alice", &error);
  g_assert_cmpstr (hash, ==, "hash");
  g_assert_true (pinhole_store_get_token (store, "alice", "laptop", &token, &error));
  g_assert_no_error (error);
  g_assert_cmpint (token.issued, >=, before);
  g_assert_null (token.prev_hash);
  /* and through version 3: receipts are kept */
  {
    g_autoptr(PinholeStoreOffline) m = make_offline ("m1", 1);
    g_autoptr(PinholeStoreOffline) taken = NULL;
    g_autoptr(GPtrArray) receipts = NULL;

    g_assert_true (pinhole_store_queue_offline (store, "alice", "laptop", m, 10, &error));
    taken = pinhole_store_take_offline (store, "alice", "laptop", "m1", 10, &error);
    g_assert_no_error (error);
    receipts = pinhole_store_list_receipts (store, "bob", "phone", 10, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (receipts->len, ==, 1);
  }
  g_clear_object (&store);
  g_assert_cmpint (sqlite3_open (old, &db), ==, SQLITE_OK);
  g_assert_cmpint (user_version (db), ==, 3);
  sqlite3_close (db);
  /* and again: nothing to do the second time */
  store = open_store (old);
  g_assert_true (pinhole_store_get_token (store, "alice", "laptop", &token, &error));
}

/* a database of version 2 gets the receipts table, and keeps what waits in it */
static void
test_migrate_2 (Fixture      *f,
                gconstpointer data)
{
  g_autofree char *old = g_build_filename (f->dir, "v2.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStore) store = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(PinholeStoreOffline) m = make_offline ("m1", 1);
  g_autoptr(PinholeStoreOffline) taken = NULL;
  sqlite3 *db = NULL;

  /* a new database, taken back to version 2 as that server made it */
  store = open_store (old);
  g_assert_true (pinhole_store_queue_offline (store, "alice", "laptop", m, 10, &error));
  g_clear_object (&store);
  g_assert_cmpint (sqlite3_open (old, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "DROP TABLE receipts; PRAGMA user_version=2;", NULL, NULL,
                                 NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  store = open_store (old);
  list = pinhole_store_list_offline (store, "alice", "laptop", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  taken = pinhole_store_take_offline (store, "alice", "laptop", "m1", 10, &error);
  g_assert_no_error (error);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = pinhole_store_list_receipts (store, "bob", "phone", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_clear_object (&store);
  g_assert_cmpint (sqlite3_open (old, &db), ==, SQLITE_OK);
  g_assert_cmpint (user_version (db), ==, 3);
  sqlite3_close (db);
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

/* the store's syncs, under the test hooks */
typedef struct
{
  guint  done;
  guint  failed;
  GError *error;
} Syncs;

static void
synced_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Syncs *syncs = user_data;
  g_autoptr(GError) error = NULL;

  if (!pinhole_store_sync_finish (PINHOLE_STORE (source), result, &error))
    {
      syncs->failed++;
      if (syncs->error == NULL)
        syncs->error = g_steal_pointer (&error);
    }
  syncs->done++;
}

static gboolean
all_synced (gpointer data)
{
  Syncs *syncs = data;

  return syncs->done == 5;
}

/* @delay_ms: each sync sleeps so long in its worker; @fail: each fails */
static PinholeStore *
open_hooked (Fixture    *f,
             const char *delay_ms,
             gboolean    fail)
{
  g_autofree char *path = g_build_filename (f->dir, "hooked.db", NULL);
  PinholeStore *store;

  g_setenv ("PINHOLE_TEST_SERVER_SYNC_DELAY_MS", delay_ms, TRUE);
  if (fail)
    g_setenv ("PINHOLE_TEST_SERVER_SYNC_FAIL", "1", TRUE);
  store = open_store (path);
  g_unsetenv ("PINHOLE_TEST_SERVER_SYNC_DELAY_MS");
  g_unsetenv ("PINHOLE_TEST_SERVER_SYNC_FAIL");
  return store;
}

/* five syncs asked for at once, of a slow disk: the call returns at once (the fsync is in a
 * worker) and the last four share one sync (group commit) */
static void
test_group_commit (Fixture      *f,
                   gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStore) store = open_hooked (f, "200", FALSE);
  Syncs syncs = { 0 };
  gint64 start;

  g_assert_true (pinhole_store_create_account (store, "alice", "hash", &error));
  g_assert_no_error (error);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < 5; i++)
    pinhole_store_sync_async (store, NULL, synced_cb, &syncs);
  g_assert_cmpint ((g_get_monotonic_time () - start) / 1000, <, 100);
  g_assert_true (ph_iterate_until (all_synced, &syncs, 5000));
  g_assert_cmpuint (syncs.failed, ==, 0);
  g_assert_cmpuint (pinhole_sqlite_store_get_n_syncs (PINHOLE_SQLITE_STORE (store)), ==, 2);
}

/* a disk that fails: every sync reports it */
static void
test_sync_fails (Fixture      *f,
                 gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStore) store = open_hooked (f, "0", TRUE);
  Syncs syncs = { 0 };

  g_assert_true (pinhole_store_create_account (store, "alice", "hash", &error));
  g_assert_no_error (error);
  /* the operator hears of each failed sync: the first, and the one the other four shared */
  g_test_expect_message ("pinhole-store", G_LOG_LEVEL_WARNING, "cannot make 1 write(s) durable*");
  g_test_expect_message ("pinhole-store", G_LOG_LEVEL_WARNING, "cannot make 4 write(s) durable*");
  for (guint i = 0; i < 5; i++)
    pinhole_store_sync_async (store, NULL, synced_cb, &syncs);
  g_assert_true (ph_iterate_until (all_synced, &syncs, 5000));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (syncs.failed, ==, 5);
  g_assert_error (syncs.error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_clear_error (&syncs.error);
}

/* the WAL of a store written on and on stays bounded: checkpoints run (in a worker) although
 * SQLite's own autocheckpoint is off, and the writes after one that copied everything start
 * the WAL again */
static void
test_wal_bounded (Fixture      *f,
                  gconstpointer data)
{
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);
  g_autoptr(GBytes) sealed = make_bytes (7, 16 * 1024);
  GStatBuf st;
  gint64 largest = 0;

  /* bursts of 5 MiB, each more than a checkpoint's 1000 pages, with a pause after each */
  for (guint burst = 0; burst < 6; burst++)
    {
      for (guint i = 0; i < 300; i++)
        {
          g_autoptr(GError) error = NULL;
          g_autofree char *id = g_strdup_printf ("m%u-%u", burst, i);
          PinholeStoreOffline m = { id, "bob", "phone", sealed, 1700000000000000 };

          g_assert_true (pinhole_store_queue_offline (f->store, "alice", "laptop", &m, 100000,
                                                      &error));
          g_assert_no_error (error);
          g_assert_cmpint (g_stat (wal, &st), ==, 0);
          largest = MAX (largest, st.st_size);
        }
      ph_iterate_until (never, NULL, 400);
    }
  g_test_message ("6 bursts of 300 messages of 16 KiB (28 MiB): the WAL reached %"
                  G_GINT64_FORMAT " bytes", largest);
  /* without checkpoints it reaches 61 MB */
  g_assert_cmpint (largest, <, 16 * 1024 * 1024);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/server/store/accounts", test_accounts);
  ADD ("/server/store/devices", test_devices);
  ADD ("/server/store/relations", test_relations);
  ADD ("/server/store/offline", test_offline);
  ADD ("/server/store/receipts", test_receipts);
  ADD ("/server/store/reopen", test_reopen);
  ADD ("/server/store/open-fails", test_open_fails);
  ADD ("/server/store/file-mode", test_file_mode);
  ADD ("/server/store/tokens", test_tokens);
  ADD ("/server/store/migrate-1", test_migrate_1);
  ADD ("/server/store/migrate-2", test_migrate_2);
  ADD ("/server/store/group-commit", test_group_commit);
  ADD ("/server/store/sync-fails", test_sync_fails);
  ADD ("/server/store/wal-bounded", test_wal_bounded);
#undef ADD
  return g_test_run ();
}
