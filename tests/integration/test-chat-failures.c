/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-chat-failures.c: chat between real pinhole-cli processes when something goes wrong: bad
 * log-ins, a user who is not a contact, a server that restarts and a peer that is killed, and
 * sealed messages acknowledged only once they are on the receiver's disk. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-chat.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* ---- failures ---- */

/* a profile that names @user on the server but has never logged in there */
static void
make_fresh_profile (PhFixture  *f,
                    const char *profile,
                    const char *user)
{
  g_autofree char *dir = ph_fixture_profile (f, profile);
  g_autofree char *path = g_build_filename (dir, "profile.db", NULL);
  g_autofree char *sql = NULL;
  sqlite3 *db = NULL;
  char *message = NULL;

  /* any local command creates the profile with its device key */
  {
    g_autoptr(PhResult) r = ph_fixture_cli_full (f, profile, NULL, NULL, NULL, "fingerprint", NULL);
    g_assert_cmpint (r->status, ==, 0);
  }
  sql = sqlite3_mprintf ("INSERT OR REPLACE INTO settings (key, value) VALUES ('user', %Q), "
                         "('server', %Q)", user, f->server->url);
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_test_fail_printf ("cannot prepare profile %s: %s", path, message);
  sqlite3_free (message);
  sqlite3_free (g_steal_pointer (&sql));
  sqlite3_close (db);
}

static guint16
closed_port (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  /* bound and closed again without listening: nothing answers there */
  if (socket == NULL || !g_socket_bind (socket, any, FALSE, NULL) ||
      (bound = g_socket_get_local_address (socket, NULL)) == NULL)
    return 0;
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
test_login_failures (PhFixture    *f,
                     gconstpointer data)
{
  g_autofree char *bob_password = ph_password_of ("bob");

  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  ph_fixture_register (f, "bob");
  make_fresh_profile (f, "bob-laptop", "bob");
  make_fresh_profile (f, "ghost", "nobody");
  ph_return_if_failed ();

  {
    g_autoptr(PhResult) r = ph_fixture_cli_full (f, "bob-laptop", NULL, "not-bobs-password", NULL,
                                                 "contacts", NULL);
    g_assert_cmpint (r->status, ==, 1);
    g_assert_nonnull (strstr (r->err, "wrong password"));
  }
  {
    g_autoptr(PhResult) r = ph_fixture_cli_full (f, "ghost", NULL, "some-password", NULL,
                                                 "contacts", NULL);
    g_assert_cmpint (r->status, ==, 1);
    g_assert_nonnull (strstr (r->err, "unknown user nobody"));
  }
  /* the same fresh profile with the right password works: the failures were the password's */
  {
    g_autoptr(PhResult) r = ph_fixture_cli_full (f, "bob-laptop", NULL, bob_password, NULL,
                                                 "contacts", NULL);
    g_assert_cmpint (r->status, ==, 0);
  }
  {
    guint16 port = closed_port ();
    g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/pinhole", port);
    g_autoptr(PhResult) r = NULL;

    g_assert_cmpuint (port, !=, 0);
    /* a fresh profile: alice's belongs to the running server and would refuse another one */
    r = ph_fixture_cli_full (f, "carol", url, "carols-password", NULL, "register", "carol", NULL);
    g_assert_cmpint (r->status, ==, 1);
    g_assert_nonnull (strstr (r->err, "cannot reach the server"));
  }
}

static void
test_not_a_contact (PhFixture    *f,
                    gconstpointer data)
{
  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  ph_fixture_register (f, "bob");
  ph_fixture_register (f, "carol");
  ph_return_if_failed ();

  {
    g_autoptr(PhResult) r = ph_fixture_cli_full (f, "alice", NULL, NULL, NULL, "send", "carol",
                                                 "hi", NULL);
    g_assert_cmpint (r->status, ==, 1);
    g_assert_nonnull (strstr (r->err, "not your contact"));
    g_assert_cmpuint (ph_result_count (r, "sent"), ==, 0);
  }
  ph_fixture_contact_request (f, "alice", "add", "bob", "requested");
  {
    g_autoptr(PhResult) r = ph_fixture_cli_full (f, "alice", NULL, NULL, NULL, "send", "bob",
                                                 "early", NULL);
    g_assert_cmpint (r->status, ==, 1);
    g_assert_nonnull (strstr (r->err, "not your contact"));
  }
  ph_fixture_contact_request (f, "bob", "accept", "alice", "mutual");
  {
    g_autoptr(PhResult) r = ph_fixture_cli_full (f, "alice", NULL, NULL, NULL, "send", "bob",
                                                 "now ok", NULL);
    g_assert_cmpint (r->status, ==, 0);
  }
  ph_fixture_contact_request (f, "alice", "remove", "bob", "none");
  {
    g_autoptr(PhResult) r = ph_fixture_cli_full (f, "alice", NULL, NULL, NULL, "send", "bob",
                                                 "after", NULL);
    g_assert_cmpint (r->status, ==, 1);
    g_assert_nonnull (strstr (r->err, "not your contact"));
  }
  {
    g_autoptr(PhResult) r = ph_fixture_cli_full (f, "bob", NULL, NULL, NULL, "send", "alice",
                                                 "after", NULL);
    g_assert_cmpint (r->status, ==, 1);
    g_assert_nonnull (strstr (r->err, "not your contact"));
  }
}

/* ---- the server goes away ---- */

static void
test_server_restart (PhFixture    *f,
                     gconstpointer data)
{
  g_autofree char *lines = ph_chat_numbered_lines ("across the restart", 1, 5);
  g_autoptr(GError) error = NULL;
  PhProc *carol, *bob;
  guint cursor = 0, stored;
  int status = -2;

  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  ph_fixture_register (f, "bob");
  ph_fixture_register (f, "carol");
  ph_fixture_contacts (f, "alice", "bob");
  ph_fixture_contacts (f, "alice", "carol");
  carol = ph_fixture_listen (f, "carol", "carol");
  ph_return_if_failed ();

  {
    g_autoptr(PhResult) r = ph_fixture_cli_full (f, "alice", NULL, NULL, lines, "send", "bob", "-",
                                                 NULL);
    g_assert_cmpint (r->status, ==, 0);
    ph_chat_check_sent (r, 5, &stored);
    g_assert_cmpuint (stored, ==, 5);
  }

  g_assert_true (ph_server_stop (f->server, &status));
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (ph_proc_wait_named (carol, &cursor, "disconnected", NULL, NULL,
                                        PH_EVENT_MS));
  g_assert_true (ph_server_restart (f->server, &error));
  g_assert_no_error (error);
  ph_return_if_failed ();

  /* carol comes back by herself (back-off starts at 1 s) and keeps receiving */
  g_assert_nonnull (ph_proc_wait_named (carol, &cursor, "online", "user", "carol",
                                        PH_EVENT_MS));
  ph_return_if_failed ();
  ph_chat_send_live (f, "alice", "carol", carol, "still there after the restart?");

  bob = ph_fixture_listen (f, "bob", "bob");
  ph_return_if_failed ();
  g_assert_true (ph_chat_wait_texts (bob, "alice", 5, PH_EVENT_MS));
  ph_chat_listen_stop (bob);
  ph_chat_listen_stop (carol);
  {
    g_autoptr(GPtrArray) texts = ph_chat_received_texts (bob, "alice");
    ph_chat_assert_numbered (texts, "across the restart", 5);
  }
}

/* ---- a peer that dies ---- */

static void
test_peer_killed (PhFixture    *f,
                  gconstpointer data)
{
  const guint n = 100;
  g_autofree char *first = ph_chat_numbered_lines ("stream", 1, 50);
  g_autofree char *rest = ph_chat_numbered_lines ("stream", 51, n);
  const char *send_args[] = { "send", "bob", "-", NULL };
  g_autofree char *alice_dir = ph_fixture_profile (f, "alice");
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) before = NULL, after = NULL;
  PhProc *bob, *bob2, *send;
  guint stored, live, cursor = 0;

  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  ph_fixture_register (f, "bob");
  ph_fixture_contacts (f, "alice", "bob");
  bob = ph_fixture_listen (f, "bob", "bob");
  ph_return_if_failed ();

  send = ph_cli_spawn (NULL, alice_dir, NULL, TRUE, send_args);
  ph_return_if_failed ();
  g_ptr_array_add (f->procs, send);
  ph_proc_write (send, first);
  /* bob dies while the stream flows */
  g_assert_true (ph_chat_wait_texts (bob, "alice", 10, PH_CLI_MS));
  ph_proc_kill (bob);
  g_assert_true (bob->exited);
  ph_proc_write (send, rest);
  ph_proc_close_stdin (send);

  /* alice's send neither hangs nor crashes: every message is delivered or stored */
  g_assert_true (ph_proc_wait (send, PH_CLI_MS));
  g_assert_cmpint (send->status, ==, 0);
  g_assert_false (send->signaled);
  ph_return_if_failed ();
  {
    PhResult r = { send->status, NULL, NULL, send->events };
    live = ph_chat_check_sent (&r, n, &stored);
    g_test_message ("%u delivered live, %u stored", live, stored);
    /* bob printed 10 or more, but their acknowledgements may die with him; what was not
     * acknowledged is stored again, and bob's client drops the copies it already has */
    g_assert_cmpuint (live + stored, ==, n);
  }

  before = ph_chat_received_texts (bob, "alice");
  bob2 = ph_fixture_listen (f, "bob", "bob");
  ph_return_if_failed ();
  /* all but, at most, the one bob was recording when he died */
  g_assert_true (ph_chat_wait_texts (bob2, "alice", n - before->len - 1, PH_EVENT_MS));
  /* the marker comes after whatever was still queued */
  ph_chat_send_live (f, "alice", "bob", bob2, "stream end");
  ph_chat_listen_stop (bob2);
  after = ph_chat_received_texts (bob2, "alice");

  /* every line exactly once across both lives of bob, each life in order */
  for (guint i = 0; i < before->len; i++)
    g_assert_true (g_hash_table_add (seen, g_ptr_array_index (before, i)));
  for (guint i = 0; i < after->len; i++)
    g_assert_true (g_hash_table_add (seen, g_ptr_array_index (after, i)));
  g_assert_true (g_hash_table_remove (seen, "stream end"));
  /* nothing is lost: every line is in bob's conversation. A listen killed between recording
   * a message and printing it never prints that one: it is only in the history. */
  {
    g_autoptr(PhResult) h = ph_fixture_cli_full (f, "bob", NULL, NULL, NULL, "history", "alice",
                                                 "--limit", "1000", NULL);
    g_autoptr(GHashTable) history = g_hash_table_new (g_str_hash, g_str_equal);
    guint unprinted = 0;

    g_assert_cmpint (h->status, ==, 0);
    for (guint i = 0; i < h->events->len; i++)
      {
        const char *text = ph_event_string (g_ptr_array_index (h->events, i), "text");
        if (text != NULL)
          g_hash_table_add (history, (gpointer) text);
      }
    for (guint i = 1; i <= n; i++)
      {
        g_autofree char *want = g_strdup_printf ("stream %03u", i);

        if (!g_hash_table_contains (history, want))
          g_test_fail_printf ("\"%s\" is lost: not in bob's history", want);
        else if (!g_hash_table_contains (seen, want))
          {
            unprinted++;
            g_test_message ("\"%s\" is in bob's history but no listen printed it "
                            "(%u printed before the kill)", want, before->len);
          }
      }
    g_assert_cmpuint (unprinted, <=, 1);
    g_assert_cmpuint (g_hash_table_size (seen) + unprinted, ==, n);
  }
  for (guint i = 1; i < before->len; i++)
    g_assert_cmpstr (g_ptr_array_index (before, i - 1), <, g_ptr_array_index (before, i));
  (void) cursor;
}

/* ---- durability: a sealed message is acknowledged once it is on disk ---- */

/* the sealed messages the server holds for offline devices */
static gint64
count_offline_rows (const char *db_path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 n = -1;

  if (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2 (db, "SELECT COUNT(*) FROM offline", -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    n = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return n;
}

typedef struct
{
  const char *db_path;
  gint64      want;
} OfflineWait;

static gboolean
offline_rows_reached (gpointer data)
{
  OfflineWait *w = data;

  return count_offline_rows (w->db_path) == w->want;
}

static gboolean
err_says (gpointer data)
{
  gpointer *args = data;
  PhProc *p = args[0];

  return strstr (p->err_text->str, args[1]) != NULL;
}

static void
send_stored (PhFixture  *f,
             const char *prefix,
             guint       n)
{
  for (guint i = 1; i <= n; i++)
    {
      g_autofree char *text = g_strdup_printf ("%s %03u", prefix, i);
      g_autoptr(PhResult) r = ph_fixture_cli_full (f, "alice", NULL, NULL, NULL, "send", "bob",
                                                   text, NULL);
      JsonObject *sent = ph_result_event (r, "sent");

      g_assert_cmpint (r->status, ==, 0);
      g_assert_nonnull (sent);
      if (sent != NULL)
        g_assert_cmpint (json_object_get_int_member_with_default (sent, "stored", 0), >=, 1);
    }
}

static PhProc *
listen_with (PhFixture         *f,
             const char *const *env)
{
  const char *args[] = { "listen", NULL };
  PhCliOptions options = { env, FALSE };
  PhProc *p = ph_fixture_spawn (f, "bob", &options, args);
  guint cursor = 0;

  if (p != NULL && ph_proc_wait_named (p, &cursor, "online", "user", "bob", PH_EVENT_MS) == NULL)
    g_test_fail_printf ("bob's listen did not come online: %s", p->err_text->str);
  return p;
}

/* each acknowledgement @what ("offline-ack " to the server, "receipt " to a live sender) the
 * listen sent came after a profile sync that covers it: the debug lines of pinhole-chat, on
 * standard output with the JSON events */
static guint
check_acks_after_sync (PhProc     *p,
                       const char *what)
{
  guint covered = 0, acks = 0, syncs = 0;

  for (guint i = 0; i < p->lines->len; i++)
    {
      const char *line = g_ptr_array_index (p->lines, i);
      const char *synced = strstr (line, "profile synced: ");

      if (synced != NULL)
        {
          covered += (guint) atoi (synced + strlen ("profile synced: "));
          syncs++;
        }
      else if (strstr (line, what) != NULL && strstr (line, " sent") != NULL)
        {
          if (covered == 0)
            g_test_fail_printf ("an acknowledgement went before the profile was synced: %s",
                                line);
          else
            covered--;
          acks++;
        }
    }
  g_test_message ("%u × \"%s\" after %u profile sync(s)", acks, what, syncs);
  return acks;
}

static void
test_offline_ack_after_sync (PhFixture    *f,
                             gconstpointer data)
{
  const char *env[] = { "G_MESSAGES_DEBUG=pinhole-chat", NULL };
  OfflineWait taken = { f->server->db_path, 0 };
  PhProc *bob;

  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  ph_fixture_register (f, "bob");
  ph_fixture_contacts (f, "alice", "bob");
  ph_return_if_failed ();
  send_stored (f, "kept on disk", 5);
  g_assert_cmpint (count_offline_rows (f->server->db_path), ==, 5);
  ph_return_if_failed ();

  bob = listen_with (f, env);
  ph_return_if_failed ();
  g_assert_true (ph_chat_wait_texts (bob, "alice", 5, PH_EVENT_MS));
  g_assert_true (ph_iterate_until (offline_rows_reached, &taken, PH_EVENT_MS));
  ph_chat_listen_stop (bob);
  g_assert_cmpuint (check_acks_after_sync (bob, "offline-ack "), ==, 5);
}

/* a profile that cannot sync acknowledges nothing: the server pushes the messages again at the
 * next log-in, and the profile records each once */
static void
test_offline_sync_fails (PhFixture    *f,
                         gconstpointer data)
{
  const char *fail_env[] = { "G_MESSAGES_DEBUG=pinhole-chat", "PINHOLE_TEST_PROFILE_SYNC_FAIL=1",
                             NULL };
  OfflineWait taken = { f->server->db_path, 0 };
  gpointer says[] = { NULL, "received message(s) not acknowledged" };
  PhProc *bob;

  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  ph_fixture_register (f, "bob");
  ph_fixture_contacts (f, "alice", "bob");
  ph_return_if_failed ();
  send_stored (f, "not yet on disk", 3);
  ph_return_if_failed ();

  bob = listen_with (f, fail_env);
  ph_return_if_failed ();
  g_assert_true (ph_chat_wait_texts (bob, "alice", 3, PH_EVENT_MS));
  says[0] = bob;
  g_assert_true (ph_iterate_until (err_says, says, PH_EVENT_MS));
  ph_chat_listen_stop (bob);
  g_assert_cmpuint (check_acks_after_sync (bob, "offline-ack "), ==, 0);
  g_assert_cmpint (count_offline_rows (f->server->db_path), ==, 3);
  ph_return_if_failed ();

  /* the next log-in gets them again, records none twice, and acknowledges them */
  bob = listen_with (f, NULL);
  ph_return_if_failed ();
  g_assert_true (ph_iterate_until (offline_rows_reached, &taken, PH_EVENT_MS));
  ph_chat_listen_stop (bob);
  {
    g_autoptr(PhResult) h = ph_fixture_cli_full (f, "bob", NULL, NULL, NULL, "history", "alice",
                                                 NULL);

    g_assert_cmpint (h->status, ==, 0);
    g_assert_cmpuint (ph_result_count (h, "history"), ==, 3);
  }
}

/* alice's send of a live message to @bob; Returns: how many copies were delivered, and in
 * @stored how many were stored for later */
static gint64
send_live (PhFixture  *f,
           const char *text,
           gint64     *stored)
{
  g_autoptr(PhResult) r = ph_fixture_cli_full (f, "alice", NULL, NULL, NULL, "send", "bob", text,
                                               NULL);
  JsonObject *sent = ph_result_event (r, "sent");

  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (sent);
  if (sent == NULL)
    return -1;
  *stored = json_object_get_int_member_with_default (sent, "stored", -1);
  return json_object_get_int_member_with_default (sent, "delivered", -1);
}

/* a live message is delivered when bob's receipt says it is on his disk: that receipt goes
 * after his profile is synced */
static void
test_live_receipt_after_sync (PhFixture    *f,
                              gconstpointer data)
{
  const char *env[] = { "G_MESSAGES_DEBUG=pinhole-chat", NULL };
  PhProc *bob;
  gint64 stored = -1;

  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  ph_fixture_register (f, "bob");
  ph_fixture_contacts (f, "alice", "bob");
  ph_return_if_failed ();
  bob = listen_with (f, env);
  ph_return_if_failed ();
  for (guint i = 1; i <= 3; i++)
    {
      g_autofree char *text = g_strdup_printf ("live on disk %03u", i);

      g_assert_cmpint (send_live (f, text, &stored), ==, 1);
      g_assert_cmpint (stored, ==, 0);
    }
  g_assert_true (ph_chat_wait_texts (bob, "alice", 3, PH_EVENT_MS));
  ph_chat_listen_stop (bob);
  g_assert_cmpuint (check_acks_after_sync (bob, "receipt "), ==, 3);
  g_assert_cmpint (count_offline_rows (f->server->db_path), ==, 0);
}

/* bob's session acknowledges the frame but his profile cannot sync: no receipt, so alice does
 * not count it delivered and stores it sealed as well; bob records it once */
static void
test_live_sync_fails (PhFixture    *f,
                      gconstpointer data)
{
  const char *fail_env[] = { "G_MESSAGES_DEBUG=pinhole-chat", "PINHOLE_TEST_PROFILE_SYNC_FAIL=1",
                             NULL };
  PhProc *bob;
  gint64 stored = -1;

  ph_return_if_failed ();
  ph_fixture_register (f, "alice");
  ph_fixture_register (f, "bob");
  ph_fixture_contacts (f, "alice", "bob");
  ph_return_if_failed ();
  bob = listen_with (f, fail_env);
  ph_return_if_failed ();
  g_assert_cmpint (send_live (f, "live, not on disk", &stored), ==, 0);
  g_assert_cmpint (stored, ==, 1);
  g_assert_true (ph_chat_wait_texts (bob, "alice", 1, PH_EVENT_MS));
  ph_chat_listen_stop (bob);
  g_assert_cmpuint (check_acks_after_sync (bob, "receipt "), ==, 0);
  g_assert_cmpuint (check_acks_after_sync (bob, "offline-ack "), ==, 0);
  /* the sealed copy waits for bob's next log-in */
  g_assert_cmpint (count_offline_rows (f->server->db_path), ==, 1);
  {
    g_autoptr(PhResult) h = ph_fixture_cli_full (f, "bob", NULL, NULL, NULL, "history", "alice",
                                                 NULL);

    g_assert_cmpint (h->status, ==, 0);
    g_assert_cmpuint (ph_result_count (h, "history"), ==, 1);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  /* a failed check ends its test through the fixture's teardown, which stops every process */
  g_test_set_nonfatal_assertions ();

#define ADD(path, func) \
  g_test_add (path, PhFixture, NULL, ph_fixture_setup, func, ph_fixture_teardown)
  ADD ("/integration/chat/login-failures", test_login_failures);
  ADD ("/integration/chat/not-a-contact", test_not_a_contact);
  ADD ("/integration/chat/server-restart", test_server_restart);
  ADD ("/integration/chat/peer-killed", test_peer_killed);
  ADD ("/integration/chat/offline-ack-after-sync", test_offline_ack_after_sync);
  ADD ("/integration/chat/offline-sync-fails", test_offline_sync_fails);
  ADD ("/integration/chat/live-receipt-after-sync", test_live_receipt_after_sync);
  ADD ("/integration/chat/live-sync-fails", test_live_sync_fails);
#undef ADD

  return g_test_run ();
}
