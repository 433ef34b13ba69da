/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-profile.c: the client's profile store: device identity, settings, key trust on first
 * use with held-back changes and verified marks, chat history with its read mark, per-contact
 * settings, and the migration of older profiles, each in a fresh folder. */
#include "pinhole-profile.h"
#include "pinhole-error.h"
#include "pinhole-test-util.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <string.h>

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_set_up (Fixture      *f,
                gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("pinhole-test-profile-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture      *f,
                   gconstpointer data)
{
  g_assert_true (ph_remove_tree (f->dir));
  g_free (f->dir);
}

static PinholeProfile *
open_profile (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_build_filename (f->dir, "profile", NULL);
  PinholeProfile *profile = pinhole_profile_open (dir, &error);

  g_assert_no_error (error);
  g_assert_nonnull (profile);
  g_assert_cmpstr (pinhole_profile_get_dir (profile), ==, dir);
  return profile;
}

static GBytes *
make_key (guint8 seed)
{
  guint8 key[32];

  for (guint i = 0; i < sizeof key; i++)
    key[i] = (guint8) (seed + i * 3);
  return g_bytes_new (key, sizeof key);
}

static void
test_identity (Fixture      *f,
               gconstpointer data)
{
  g_autoptr(GBytes) first_public = NULL;
  g_autoptr(GBytes) first_secret = NULL;
  g_autofree char *db = g_build_filename (f->dir, "profile", "profile.db", NULL);
  GStatBuf st;

  {
    g_autoptr(PinholeProfile) p = open_profile (f);
    PinholeIdentity *id = pinhole_profile_get_identity (p);

    g_assert_nonnull (id);
    first_public = pinhole_identity_dup_public_key (id);
    first_secret = pinhole_identity_dup_secret (id);
    g_assert_cmpuint (g_bytes_get_size (first_public), ==, PINHOLE_IDENTITY_PUBLIC_KEY_BYTES);
  }

  /* the folder and the file are private to the user */
  g_assert_cmpint (g_stat (db, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  {
    g_autofree char *dir = g_build_filename (f->dir, "profile", NULL);
    g_assert_cmpint (g_stat (dir, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  }

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(PinholeProfile) p = open_profile (f);
      g_autoptr(GBytes) public = pinhole_identity_dup_public_key (pinhole_profile_get_identity (p));
      g_autoptr(GBytes) secret = pinhole_identity_dup_secret (pinhole_profile_get_identity (p));

      g_assert_true (g_bytes_equal (public, first_public));
      g_assert_true (g_bytes_equal (secret, first_secret));
    }

  /* another profile folder has another key */
  {
    g_autofree char *other_dir = g_build_filename (f->dir, "other", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(PinholeProfile) other = pinhole_profile_open (other_dir, &error);
    g_autoptr(GBytes) public = NULL;

    g_assert_no_error (error);
    public = pinhole_identity_dup_public_key (pinhole_profile_get_identity (other));
    g_assert_false (g_bytes_equal (public, first_public));
  }
}

static void
test_open_fails (Fixture      *f,
                 gconstpointer data)
{
  /* a plain file where the folder should be */
  g_autofree char *file = g_build_filename (f->dir, "not-a-dir", NULL);
  g_autofree char *below = g_build_filename (file, "profile", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeProfile) p = NULL;

  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  p = pinhole_profile_open (below, &error);
  g_assert_null (p);
  g_assert_nonnull (error);
}

static void
test_settings (Fixture      *f,
               gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(PinholeProfile) p = open_profile (f);
    g_autofree char *missing = pinhole_profile_dup_setting (p, "user");

    g_assert_null (missing);
    g_assert_true (pinhole_profile_set_setting (p, "user", "alice", &error));
    g_assert_no_error (error);
    g_assert_true (pinhole_profile_set_setting (p, "server", "ws://127.0.0.1:1/", &error));
    g_assert_true (pinhole_profile_set_setting (p, "token", "t1", &error));
    g_assert_true (pinhole_profile_set_setting (p, "token", "t2", &error));
    g_assert_no_error (error);
  }

  {
    g_autoptr(PinholeProfile) p = open_profile (f);
    g_autofree char *user = pinhole_profile_dup_setting (p, "user");
    g_autofree char *token = pinhole_profile_dup_setting (p, "token");
    g_autofree char *server = NULL;
    g_autofree char *gone = NULL;

    g_assert_cmpstr (user, ==, "alice");
    g_assert_cmpstr (token, ==, "t2");

    /* NULL removes; removing what is not there is no error */
    g_assert_true (pinhole_profile_set_setting (p, "token", NULL, &error));
    g_assert_no_error (error);
    g_assert_true (pinhole_profile_set_setting (p, "nothing", NULL, &error));
    g_assert_no_error (error);
    gone = pinhole_profile_dup_setting (p, "token");
    g_assert_null (gone);
    server = pinhole_profile_dup_setting (p, "server");
    g_assert_cmpstr (server, ==, "ws://127.0.0.1:1/");
  }
}

static gboolean
list_has (GPtrArray  *list,
          const char *prefix,
          gboolean    pending)
{
  for (guint i = 0; i < list->len; i++)
    {
      const char *line = g_ptr_array_index (list, i);

      if (g_str_has_prefix (line, prefix) &&
          (strstr (line, "not trusted") != NULL) == pending)
        return TRUE;
    }
  return FALSE;
}

static void
test_key_trust (Fixture      *f,
                gconstpointer data)
{
  g_autoptr(PinholeProfile) p = open_profile (f);
  g_autoptr(GBytes) k1 = make_key (1);
  g_autoptr(GBytes) k2 = make_key (2);
  g_autoptr(GBytes) k3 = make_key (3);
  g_autoptr(GBytes) kc = make_key (9);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) fps = NULL;
  g_autofree char *fp1 = pinhole_fingerprint_for_key (k1);
  g_autofree char *fp2 = pinhole_fingerprint_for_key (k2);
  g_autofree char *phone_fp1 = g_strdup_printf ("phone: %s", fp1);
  g_autofree char *phone_fp2 = g_strdup_printf ("phone: %s", fp2);

  /* first key of a contact: recorded and trusted */
  g_assert_cmpint (pinhole_profile_check_key (p, "bob", "phone", k1, &error), ==,
                   PINHOLE_KEY_NEW);
  g_assert_no_error (error);
  g_assert_false (pinhole_profile_has_untrusted_key (p, "bob"));
  g_assert_cmpint (pinhole_profile_check_key (p, "bob", "phone", k1, &error), ==,
                   PINHOLE_KEY_TRUSTED);
  g_assert_no_error (error);

  /* a different key for the same device */
  g_assert_cmpint (pinhole_profile_check_key (p, "bob", "phone", k2, &error), ==,
                   PINHOLE_KEY_CHANGED);
  g_assert_no_error (error);
  g_assert_true (pinhole_profile_has_untrusted_key (p, "bob"));
  /* asked again it is still held back, and the old key is still the trusted one */
  g_assert_cmpint (pinhole_profile_check_key (p, "bob", "phone", k2, &error), ==,
                   PINHOLE_KEY_CHANGED);
  g_assert_cmpint (pinhole_profile_check_key (p, "bob", "phone", k1, &error), ==,
                   PINHOLE_KEY_TRUSTED);
  g_assert_no_error (error);

  fps = pinhole_profile_list_fingerprints (p, "bob");
  g_assert_cmpuint (fps->len, ==, 2);
  g_assert_true (list_has (fps, phone_fp1, FALSE));
  g_assert_true (list_has (fps, phone_fp2, TRUE));
  g_clear_pointer (&fps, g_ptr_array_unref);

  /* another contact is independent */
  g_assert_cmpint (pinhole_profile_check_key (p, "carol", "pc", kc, &error), ==,
                   PINHOLE_KEY_NEW);
  g_assert_false (pinhole_profile_has_untrusted_key (p, "carol"));

  /* trusting: the new key is the record, nothing pending */
  g_assert_true (pinhole_profile_trust_keys (p, "bob", &error));
  g_assert_no_error (error);
  g_assert_false (pinhole_profile_has_untrusted_key (p, "bob"));
  g_assert_cmpint (pinhole_profile_check_key (p, "bob", "phone", k2, &error), ==,
                   PINHOLE_KEY_TRUSTED);
  g_assert_cmpint (pinhole_profile_check_key (p, "bob", "phone", k1, &error), ==,
                   PINHOLE_KEY_CHANGED);
  g_assert_true (pinhole_profile_trust_keys (p, "bob", &error));
  g_assert_no_error (error);

  /* a second device of a contact with a known device is held back too */
  g_assert_cmpint (pinhole_profile_check_key (p, "bob", "laptop", k3, &error), ==,
                   PINHOLE_KEY_CHANGED);
  g_assert_no_error (error);
  g_assert_true (pinhole_profile_has_untrusted_key (p, "bob"));
  fps = pinhole_profile_list_fingerprints (p, "bob");
  g_assert_cmpuint (fps->len, ==, 2);
  g_assert_true (list_has (fps, "laptop: ", TRUE));
  g_assert_true (list_has (fps, "phone: ", FALSE));
  g_clear_pointer (&fps, g_ptr_array_unref);

  g_assert_true (pinhole_profile_trust_keys (p, "bob", &error));
  g_assert_false (pinhole_profile_has_untrusted_key (p, "bob"));
  g_assert_cmpint (pinhole_profile_check_key (p, "bob", "laptop", k3, &error), ==,
                   PINHOLE_KEY_TRUSTED);
  g_assert_no_error (error);
  fps = pinhole_profile_list_fingerprints (p, "bob");
  g_assert_cmpuint (fps->len, ==, 2);
  g_assert_false (list_has (fps, "laptop: ", TRUE));
  g_assert_false (list_has (fps, "phone: ", TRUE));
  g_clear_pointer (&fps, g_ptr_array_unref);

  /* unknown contact: no fingerprints, nothing pending */
  fps = pinhole_profile_list_fingerprints (p, "nobody");
  g_assert_cmpuint (fps->len, ==, 0);
  g_assert_false (pinhole_profile_has_untrusted_key (p, "nobody"));
}

static void
test_key_trust_persists (Fixture      *f,
                         gconstpointer data)
{
  g_autoptr(GBytes) k1 = make_key (1);
  g_autoptr(GBytes) k2 = make_key (2);
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(PinholeProfile) p = open_profile (f);
    g_assert_cmpint (pinhole_profile_check_key (p, "bob", "phone", k1, &error), ==,
                     PINHOLE_KEY_NEW);
    g_assert_cmpint (pinhole_profile_check_key (p, "bob", "phone", k2, &error), ==,
                     PINHOLE_KEY_CHANGED);
    g_assert_no_error (error);
  }
  {
    g_autoptr(PinholeProfile) p = open_profile (f);
    g_assert_true (pinhole_profile_has_untrusted_key (p, "bob"));
    g_assert_cmpint (pinhole_profile_check_key (p, "bob", "phone", k1, &error), ==,
                     PINHOLE_KEY_TRUSTED);
    g_assert_no_error (error);
  }
}

/* a verified mark belongs to the trusted key: a changed key is refused until trusted, and
 * trusting it clears the mark */
static void
test_key_verified (Fixture      *f,
                   gconstpointer data)
{
  g_autoptr(GBytes) k1 = make_key (1);
  g_autoptr(GBytes) k2 = make_key (2);
  g_autoptr(GBytes) k3 = make_key (3);
  g_autoptr(GBytes) kc = make_key (9);
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(PinholeProfile) p = open_profile (f);

    g_assert_cmpint (pinhole_profile_check_key (p, "bob", "phone", k1, &error), ==,
                     PINHOLE_KEY_NEW);
    g_assert_false (pinhole_profile_get_verified (p, "bob", "phone", k1));
    g_assert_true (pinhole_profile_set_verified (p, "bob", "phone", k1, TRUE, &error));
    g_assert_no_error (error);
    g_assert_true (pinhole_profile_get_verified (p, "bob", "phone", k1));
    g_assert_false (pinhole_profile_get_verified (p, "bob", "phone", k2));
    g_assert_false (pinhole_profile_get_verified (p, "bob", "laptop", k1));
  }
  {
    /* kept across a reopen */
    g_autoptr(PinholeProfile) p = open_profile (f);

    g_assert_true (pinhole_profile_get_verified (p, "bob", "phone", k1));

    /* the key changes: held back, and it cannot be verified before it is trusted */
    g_assert_cmpint (pinhole_profile_check_key (p, "bob", "phone", k2, &error), ==,
                     PINHOLE_KEY_CHANGED);
    g_assert_false (pinhole_profile_get_verified (p, "bob", "phone", k2));
    g_assert_false (pinhole_profile_set_verified (p, "bob", "phone", k2, TRUE, &error));
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_KEY_CHANGED);
    g_clear_error (&error);
    g_assert_cmpint (pinhole_profile_peek_key (p, "bob", "phone", k2), ==,
                     PINHOLE_KEY_STATE_CHANGED);

    /* trusted, the new key is not verified: the mark was for the old one */
    g_assert_true (pinhole_profile_trust_keys (p, "bob", &error));
    g_assert_no_error (error);
    g_assert_cmpint (pinhole_profile_peek_key (p, "bob", "phone", k2), ==,
                     PINHOLE_KEY_STATE_TRUSTED);
    g_assert_false (pinhole_profile_get_verified (p, "bob", "phone", k2));
    g_assert_false (pinhole_profile_get_verified (p, "bob", "phone", k1));
    g_assert_true (pinhole_profile_set_verified (p, "bob", "phone", k2, TRUE, &error));
    g_assert_no_error (error);
    g_assert_true (pinhole_profile_get_verified (p, "bob", "phone", k2));
    g_assert_true (pinhole_profile_set_verified (p, "bob", "phone", k2, FALSE, &error));
    g_assert_false (pinhole_profile_get_verified (p, "bob", "phone", k2));

    /* a further device of a known contact waits for trust like a changed key */
    g_assert_false (pinhole_profile_set_verified (p, "bob", "laptop", k3, TRUE, &error));
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_KEY_CHANGED);
    g_clear_error (&error);

    /* a contact's first key, verified before first use, is recorded as trusted */
    g_assert_true (pinhole_profile_set_verified (p, "carol", "pc", kc, TRUE, &error));
    g_assert_no_error (error);
    g_assert_true (pinhole_profile_get_verified (p, "carol", "pc", kc));
    g_assert_cmpint (pinhole_profile_check_key (p, "carol", "pc", kc, &error), ==,
                     PINHOLE_KEY_TRUSTED);
    g_assert_no_error (error);
  }
}

static void
add_msg (PinholeProfile          *p,
         const char              *peer,
         const char              *id,
         PinholeMessageDirection  direction)
{
  g_autoptr(GError) error = NULL;
  PinholeMessageState state = direction == PINHOLE_MESSAGE_DIRECTION_IN
                              ? PINHOLE_MESSAGE_STATE_RECEIVED : PINHOLE_MESSAGE_STATE_QUEUED;

  g_assert_true (pinhole_profile_add_message (p, peer, id, direction, "text", 1, state, NULL,
                                              &error));
  g_assert_no_error (error);
}

/* received messages after the read mark are unread, per peer, across a reopen */
static void
test_history_unread (Fixture      *f,
                     gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(PinholeProfile) p = open_profile (f);

    g_assert_cmpuint (pinhole_profile_count_unread (p, "bob"), ==, 0);
    add_msg (p, "bob", "1", PINHOLE_MESSAGE_DIRECTION_IN);
    add_msg (p, "bob", "2", PINHOLE_MESSAGE_DIRECTION_OUT);
    add_msg (p, "bob", "3", PINHOLE_MESSAGE_DIRECTION_IN);
    add_msg (p, "carol", "1", PINHOLE_MESSAGE_DIRECTION_IN);
    g_assert_cmpuint (pinhole_profile_count_unread (p, "bob"), ==, 2);
    g_assert_cmpuint (pinhole_profile_count_unread (p, "carol"), ==, 1);
    g_assert_true (pinhole_profile_mark_read (p, "bob", &error));
    g_assert_no_error (error);
    g_assert_cmpuint (pinhole_profile_count_unread (p, "bob"), ==, 0);
    g_assert_cmpuint (pinhole_profile_count_unread (p, "carol"), ==, 1);
    add_msg (p, "bob", "4", PINHOLE_MESSAGE_DIRECTION_IN);
  }
  {
    g_autoptr(PinholeProfile) p = open_profile (f);

    g_assert_cmpuint (pinhole_profile_count_unread (p, "bob"), ==, 1);
    g_assert_true (pinhole_profile_mark_read (p, "bob", &error));
    g_assert_cmpuint (pinhole_profile_count_unread (p, "bob"), ==, 0);
  }
}

/* a profile of version 1 opens: its keys are not verified but can be, and what it holds was
 * read already */
static void
test_migrate_v1 (Fixture      *f,
                 gconstpointer data)
{
  static const char v1[] =
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE identity (id INTEGER PRIMARY KEY CHECK (id = 1), secret BLOB NOT NULL);"
    "CREATE TABLE contacts (user TEXT PRIMARY KEY, relay_only INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE keys (user TEXT NOT NULL, device TEXT NOT NULL, key BLOB, pending_key BLOB,"
    "  first_seen INTEGER NOT NULL, PRIMARY KEY (user, device));"
    "CREATE TABLE history (seq INTEGER PRIMARY KEY AUTOINCREMENT, peer TEXT NOT NULL,"
    "  id TEXT NOT NULL, direction INTEGER NOT NULL, text TEXT NOT NULL,"
    "  timestamp INTEGER NOT NULL, state TEXT NOT NULL, UNIQUE (peer, id, direction));"
    "INSERT INTO keys (user, device, key, first_seen) VALUES ('bob', 'phone', ?, 1);"
    "INSERT INTO history (peer, id, direction, text, timestamp, state)"
    "  VALUES ('bob', 'old', 1, 'hi', 1, 'received');"
    "PRAGMA user_version=1;";
  g_autofree char *dir = g_build_filename (f->dir, "profile", NULL);
  g_autofree char *path = g_build_filename (dir, "profile.db", NULL);
  g_autoptr(GBytes) k1 = make_key (1);
  g_autoptr(GError) error = NULL;
  sqlite3 *db = NULL;
  const char *tail = v1;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  while (*tail != '\0')
    {
      sqlite3_stmt *stmt = NULL;

      g_assert_cmpint (sqlite3_prepare_v2 (db, tail, -1, &stmt, &tail), ==, SQLITE_OK);
      if (stmt == NULL)
        break;
      sqlite3_bind_blob (stmt, 1, g_bytes_get_data (k1, NULL), (int) g_bytes_get_size (k1),
                         SQLITE_TRANSIENT);
      g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
      sqlite3_finalize (stmt);
    }
  sqlite3_close (db);

  {
    g_autoptr(PinholeProfile) p = open_profile (f);

    g_assert_cmpint (pinhole_profile_peek_key (p, "bob", "phone", k1), ==,
                     PINHOLE_KEY_STATE_TRUSTED);
    g_assert_false (pinhole_profile_get_verified (p, "bob", "phone", k1));
    g_assert_cmpuint (pinhole_profile_count_unread (p, "bob"), ==, 0);
    g_assert_true (pinhole_profile_set_verified (p, "bob", "phone", k1, TRUE, &error));
    g_assert_no_error (error);
    add_msg (p, "bob", "new", PINHOLE_MESSAGE_DIRECTION_IN);
  }
  {
    /* and opens again as the new version, migrated once */
    g_autoptr(PinholeProfile) p = open_profile (f);

    g_assert_true (pinhole_profile_get_verified (p, "bob", "phone", k1));
    g_assert_cmpuint (pinhole_profile_count_unread (p, "bob"), ==, 1);
  }
  /* a 0.1 program that opened it wrote version 1 again: it opens, with what it had */
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA user_version=1", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  {
    g_autoptr(PinholeProfile) p = open_profile (f);

    g_assert_true (pinhole_profile_get_verified (p, "bob", "phone", k1));
    g_assert_cmpuint (pinhole_profile_count_unread (p, "bob"), ==, 1);
  }
}

/* a profile of version 2 opens and keeps transfers from then on */
static void
test_migrate_v2 (Fixture      *f,
                 gconstpointer data)
{
  static const char v2[] =
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE identity (id INTEGER PRIMARY KEY CHECK (id = 1), secret BLOB NOT NULL);"
    "CREATE TABLE contacts (user TEXT PRIMARY KEY, relay_only INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE keys (user TEXT NOT NULL, device TEXT NOT NULL, key BLOB, pending_key BLOB,"
    "  first_seen INTEGER NOT NULL, verified INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (user, device));"
    "CREATE TABLE history (seq INTEGER PRIMARY KEY AUTOINCREMENT, peer TEXT NOT NULL,"
    "  id TEXT NOT NULL, direction INTEGER NOT NULL, text TEXT NOT NULL,"
    "  timestamp INTEGER NOT NULL, state TEXT NOT NULL, UNIQUE (peer, id, direction));"
    "CREATE TABLE read_marks (peer TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
    "INSERT INTO history (peer, id, direction, text, timestamp, state)"
    "  VALUES ('bob', 'old', 1, 'hi', 1, 'received');"
    "INSERT INTO read_marks (peer, seq) VALUES ('bob', 1);"
    "PRAGMA user_version=2;";
  g_autofree char *dir = g_build_filename (f->dir, "profile", NULL);
  g_autofree char *path = g_build_filename (dir, "profile.db", NULL);
  g_autoptr(GError) error = NULL;
  PinholeTransferRecord r = { .id = (char *) "0123456789abcdef0123456789abcdef",
                              .peer = (char *) "bob", .manifest = (char *) "{}" };
  sqlite3 *db = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, v2, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  {
    g_autoptr(PinholeProfile) p = open_profile (f);
    g_autoptr(GPtrArray) list = pinhole_profile_list_transfers (p);

    g_assert_cmpuint (list->len, ==, 0);
    g_assert_true (pinhole_profile_save_transfer (p, &r, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (pinhole_profile_count_unread (p, "bob"), ==, 0);
  }
  {
    g_autoptr(PinholeProfile) p = open_profile (f);
    g_autoptr(GPtrArray) list = pinhole_profile_list_transfers (p);

    g_assert_cmpuint (list->len, ==, 1);
  }
}

/* a transfer kept, replaced by its newer state, listed oldest first, and forgotten */
static void
test_transfers (Fixture      *f,
                gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  PinholeTransferRecord out = { .id = (char *) "00000000000000000000000000000001",
                                .direction = 0, .peer = (char *) "bob",
                                .manifest = (char *) "{\"entries\":[]}",
                                .sources = (char *) "[\"/home/a/x\"]", .state = 1,
                                .created = 10 };
  PinholeTransferRecord in = { .id = (char *) "00000000000000000000000000000002",
                               .direction = 1, .peer = (char *) "carol",
                               .device = (char *) "phone", .manifest = (char *) "{}",
                               .folder = (char *) "/home/a/Downloads",
                               .accepted = (char *) "[0,2]", .state = 2, .created = 20 };

  {
    g_autoptr(PinholeProfile) p = open_profile (f);

    g_assert_true (pinhole_profile_save_transfer (p, &in, &error));
    g_assert_true (pinhole_profile_save_transfer (p, &out, &error));
    out.device = (char *) "laptop";
    out.state = 2;
    g_assert_true (pinhole_profile_save_transfer (p, &out, &error));
    g_assert_no_error (error);
  }
  {
    g_autoptr(PinholeProfile) p = open_profile (f);
    g_autoptr(GPtrArray) list = pinhole_profile_list_transfers (p);
    PinholeTransferRecord *a, *b;

    g_assert_cmpuint (list->len, ==, 2);
    a = list->pdata[0];
    b = list->pdata[1];
    g_assert_cmpstr (a->id, ==, out.id);
    g_assert_cmpstr (a->device, ==, "laptop");
    g_assert_cmpint (a->state, ==, 2);
    g_assert_cmpstr (a->sources, ==, out.sources);
    g_assert_null (a->folder);
    g_assert_cmpstr (b->id, ==, in.id);
    g_assert_cmpint (b->direction, ==, 1);
    g_assert_cmpstr (b->folder, ==, in.folder);
    g_assert_cmpstr (b->accepted, ==, "[0,2]");
    g_assert_cmpint (b->created, ==, 20);
    g_assert_true (pinhole_profile_forget_transfer (p, out.id, &error));
  }
  {
    g_autoptr(PinholeProfile) p = open_profile (f);
    g_autoptr(GPtrArray) list = pinhole_profile_list_transfers (p);

    g_assert_cmpuint (list->len, ==, 1);
  }
}

static void
sync_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static gboolean
profile_sync (PinholeProfile *p,
              GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pinhole_profile_sync_async (p, NULL, sync_done_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return pinhole_profile_sync_finish (p, result, error);
}

/* a sync makes the writes durable in a worker; the test hook makes it fail */
static void
test_sync (Fixture      *f,
           gconstpointer data)
{
  g_autoptr(PinholeProfile) p = open_profile (f);
  g_autoptr(GError) error = NULL;

  /* before any write, and after one (the -wal file exists then) */
  g_assert_true (profile_sync (p, &error));
  g_assert_no_error (error);
  g_assert_true (pinhole_profile_add_message (p, "bob", "m1", PINHOLE_MESSAGE_DIRECTION_IN, "hi",
                                              1000, PINHOLE_MESSAGE_STATE_RECEIVED, NULL,
                                              &error));
  g_assert_true (profile_sync (p, &error));
  g_assert_no_error (error);

  g_setenv ("PINHOLE_TEST_PROFILE_SYNC_FAIL", "1", TRUE);
  g_assert_false (profile_sync (p, &error));
  g_unsetenv ("PINHOLE_TEST_PROFILE_SYNC_FAIL");
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
}

static void
test_history (Fixture      *f,
              gconstpointer data)
{
  g_autoptr(PinholeProfile) p = open_profile (f);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  gboolean added = FALSE;

  g_assert_true (pinhole_profile_add_message (p, "bob", "m1", PINHOLE_MESSAGE_DIRECTION_OUT, "hello",
                                              1000, PINHOLE_MESSAGE_STATE_QUEUED, &added, &error));
  g_assert_no_error (error);
  g_assert_true (added);

  /* the same peer, id and direction is a duplicate; the record stays as it was */
  g_assert_true (pinhole_profile_add_message (p, "bob", "m1", PINHOLE_MESSAGE_DIRECTION_OUT, "other",
                                              2000, PINHOLE_MESSAGE_STATE_STORED_FOR_OFFLINE, &added, &error));
  g_assert_no_error (error);
  g_assert_false (added);

  /* the same id the other way, or with another peer, is another message */
  g_assert_true (pinhole_profile_add_message (p, "bob", "m1", PINHOLE_MESSAGE_DIRECTION_IN, "hi back",
                                              1001, PINHOLE_MESSAGE_STATE_RECEIVED, &added, &error));
  g_assert_true (added);
  g_assert_true (pinhole_profile_add_message (p, "carol", "m1", PINHOLE_MESSAGE_DIRECTION_OUT, "hey",
                                              1002, PINHOLE_MESSAGE_STATE_QUEUED, &added, &error));
  g_assert_true (added);
  /* out_added may be NULL */
  g_assert_true (pinhole_profile_add_message (p, "bob", "m2", PINHOLE_MESSAGE_DIRECTION_OUT, "second",
                                              1003, PINHOLE_MESSAGE_STATE_QUEUED, NULL, &error));
  g_assert_no_error (error);

  g_assert_true (pinhole_profile_set_message_state (p, "bob", "m1", PINHOLE_MESSAGE_DIRECTION_OUT,
                                                    PINHOLE_MESSAGE_STATE_DELIVERED, &added,
                                                    &error));
  g_assert_no_error (error);
  g_assert_true (added);
  /* the same state again changes nothing, and says so: a receipt that comes twice */
  g_assert_true (pinhole_profile_set_message_state (p, "bob", "m1", PINHOLE_MESSAGE_DIRECTION_OUT,
                                                    PINHOLE_MESSAGE_STATE_DELIVERED, &added,
                                                    &error));
  g_assert_false (added);
  /* nor does a message that is not there */
  g_assert_true (pinhole_profile_set_message_state (p, "bob", "no-such",
                                                    PINHOLE_MESSAGE_DIRECTION_OUT,
                                                    PINHOLE_MESSAGE_STATE_DELIVERED, &added,
                                                    &error));
  g_assert_false (added);
  g_assert_no_error (error);

  list = pinhole_profile_list_messages (p, "bob", 0, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 3);
  {
    PinholeHistoryEntry *e0 = g_ptr_array_index (list, 0);
    PinholeHistoryEntry *e1 = g_ptr_array_index (list, 1);
    PinholeHistoryEntry *e2 = g_ptr_array_index (list, 2);

    g_assert_cmpstr (e0->peer, ==, "bob");
    g_assert_cmpstr (e0->id, ==, "m1");
    g_assert_cmpint (e0->direction, ==, PINHOLE_MESSAGE_DIRECTION_OUT);
    g_assert_cmpstr (e0->text, ==, "hello");
    g_assert_cmpint (e0->timestamp, ==, 1000);
    g_assert_cmpint (e0->state, ==, PINHOLE_MESSAGE_STATE_DELIVERED);

    g_assert_cmpstr (e1->id, ==, "m1");
    g_assert_cmpint (e1->direction, ==, PINHOLE_MESSAGE_DIRECTION_IN);
    g_assert_cmpstr (e1->text, ==, "hi back");
    g_assert_cmpint (e1->state, ==, PINHOLE_MESSAGE_STATE_RECEIVED);

    g_assert_cmpstr (e2->id, ==, "m2");
    g_assert_cmpint (e2->state, ==, PINHOLE_MESSAGE_STATE_QUEUED);
  }
  g_clear_pointer (&list, g_ptr_array_unref);

  list = pinhole_profile_list_messages (p, "carol", 0, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpstr (((PinholeHistoryEntry *) g_ptr_array_index (list, 0))->text, ==, "hey");
  g_clear_pointer (&list, g_ptr_array_unref);

  list = pinhole_profile_list_messages (p, "nobody", 0, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
}

static void
test_history_newest (Fixture      *f,
                     gconstpointer data)
{
  g_autoptr(PinholeProfile) p = open_profile (f);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;

  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *id = g_strdup_printf ("m%02u", i);
      g_autofree char *text = g_strdup_printf ("text %u", i);
      gboolean added = FALSE;

      /* timestamps out of order: the list follows arrival, not the sender's clock */
      g_assert_true (pinhole_profile_add_message (p, "bob", id, i % 2, text, 5000 - i,
                                                  i % 2 ? PINHOLE_MESSAGE_STATE_RECEIVED : PINHOLE_MESSAGE_STATE_QUEUED, &added,
                                                  &error));
      g_assert_no_error (error);
      g_assert_true (added);
    }

  list = pinhole_profile_list_messages (p, "bob", 0, 5, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 5);
  for (guint i = 0; i < 5; i++)
    {
      PinholeHistoryEntry *e = g_ptr_array_index (list, i);
      g_autofree char *id = g_strdup_printf ("m%02u", 15 + i);

      g_assert_cmpstr (e->id, ==, id);
      g_assert_cmpint (e->direction, ==, (15 + i) % 2 ? PINHOLE_MESSAGE_DIRECTION_IN : PINHOLE_MESSAGE_DIRECTION_OUT);
      g_assert_cmpint (e->timestamp, ==, 5000 - (15 + i));
    }
  g_clear_pointer (&list, g_ptr_array_unref);

  list = pinhole_profile_list_messages (p, "bob", 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
  g_clear_pointer (&list, g_ptr_array_unref);

  list = pinhole_profile_list_messages (p, "bob", 0, G_MAXUINT, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 20);
  g_assert_cmpstr (((PinholeHistoryEntry *) g_ptr_array_index (list, 0))->id, ==, "m00");
}

static void
test_relay_only (Fixture      *f,
                 gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(PinholeProfile) p = open_profile (f);

    g_assert_false (pinhole_profile_get_relay_only (p, "bob"));
    g_assert_true (pinhole_profile_set_relay_only (p, "bob", TRUE, &error));
    g_assert_no_error (error);
    g_assert_true (pinhole_profile_get_relay_only (p, "bob"));
    g_assert_false (pinhole_profile_get_relay_only (p, "carol"));
  }
  {
    g_autoptr(PinholeProfile) p = open_profile (f);

    g_assert_true (pinhole_profile_get_relay_only (p, "bob"));
    g_assert_true (pinhole_profile_set_relay_only (p, "bob", FALSE, &error));
    g_assert_no_error (error);
    g_assert_false (pinhole_profile_get_relay_only (p, "bob"));
  }
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
  mode_t saved = umask (022);
  g_autoptr(PinholeProfile) p = open_profile (f);
  g_autofree char *path = g_build_filename (f->dir, "profile", "profile.db", NULL);

  umask (saved);
  assert_private_files (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/profile/identity", test_identity);
  ADD ("/profile/open-fails", test_open_fails);
  ADD ("/profile/file-mode", test_file_mode);
  ADD ("/profile/settings", test_settings);
  ADD ("/profile/keys/trust-on-first-use", test_key_trust);
  ADD ("/profile/keys/persist", test_key_trust_persists);
  ADD ("/profile/keys/verified", test_key_verified);
  ADD ("/profile/migrate-v1", test_migrate_v1);
  ADD ("/profile/migrate-v2", test_migrate_v2);
  ADD ("/profile/transfers", test_transfers);
  ADD ("/profile/history/add-dedup-state", test_history);
  ADD ("/profile/history/newest", test_history_newest);
  ADD ("/profile/history/unread", test_history_unread);
  ADD ("/profile/relay-only", test_relay_only);
  ADD ("/profile/sync", test_sync);
#undef ADD
  return g_test_run ();
}
