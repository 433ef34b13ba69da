/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-authorization.c: the server's own authorization, asked over raw WebSocket so that no
 * client refuses first (docs/protocol.md §4–§8): every rule that needs mutual contacts against
 * every relation, what `remove` closes, and how passwords and login tokens are kept and checked. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-harness.h"
#include "pinhole-test-peer.h"

#include <sodium.h>
#include <sqlite3.h>
#include <string.h>

enum { ALICE, BOB, CAROL, N_PEERS };

typedef struct
{
  PhServer *server;
  PhPeer   *peers[N_PEERS];
} Fixture;

static void
fixture_setup (Fixture      *f,
               gconstpointer data)
{
  static const char *const names[N_PEERS] = { "alice", "bob", "carol" };
  g_autoptr(GError) error = NULL;

  f->server = ph_server_start (&error);
  g_assert_no_error (error);
  for (guint i = 0; f->server != NULL && i < N_PEERS; i++)
    f->peers[i] = ph_peer_new (f->server->url, names[i]);
}

static void
fixture_teardown (Fixture      *f,
                  gconstpointer data)
{
  for (guint i = 0; i < N_PEERS; i++)
    g_clear_pointer (&f->peers[i], ph_peer_free);
  if (f->server != NULL)
    {
      g_autofree char *log = ph_server_dup_log (f->server);

      /* refusing a request is no business of the operator's */
      g_assert_null (strstr (log, "WARNING"));
      g_assert_null (strstr (log, "CRITICAL"));
      if (g_test_failed ())
        g_test_message ("server log:\n%s", log);
    }
  g_clear_pointer (&f->server, ph_server_free);
}

/* ---- relations ---- */

static void
setup_stranger (Fixture *f)
{
}

/* alice asked bob, who has not answered */
static void
setup_pending (Fixture *f)
{
  ph_peer_ask (f->peers[ALICE], f->peers[BOB]);
}

static void
setup_declined (Fixture *f)
{
  ph_peer_ask (f->peers[ALICE], f->peers[BOB]);
  ph_peer_relate (f->peers[BOB], "decline", f->peers[ALICE], "none");
}

static void
setup_mutual (Fixture *f)
{
  ph_peer_befriend (f->peers[ALICE], f->peers[BOB]);
}

static void
setup_removed (Fixture *f)
{
  ph_peer_befriend (f->peers[ALICE], f->peers[BOB]);
  ph_peer_relate (f->peers[ALICE], "remove", f->peers[BOB], "none");
}

typedef struct
{
  const char *name;
  void      (*setup) (Fixture *f);
  guint       actors[2];   /* who asks something of the other, in turn */
  guint       n_actors;
  gboolean    mutual;
} Relation;

static const Relation relations[] = {
  { "stranger", setup_stranger, { ALICE }, 1, FALSE },
  { "pending-out", setup_pending, { ALICE }, 1, FALSE },   /* seen from alice, who asked */
  { "pending-in", setup_pending, { BOB }, 1, FALSE },      /* seen from bob, who was asked */
  { "declined", setup_declined, { ALICE, BOB }, 2, FALSE },
  { "removed", setup_removed, { ALICE, BOB }, 2, FALSE },
  { "mutual", setup_mutual, { ALICE, BOB }, 2, TRUE },
};

/* ---- the rules: each starts and ends with both peers online ---- */

static guint serial;

static void
send_sealed (PhPeer     *actor,
             PhPeer     *target,
             const char *message,
             gint64      code)
{
  ph_peer_expect (actor, code, "\"type\":\"message\",\"user\":\"%s\",\"device\":\"%s\","
                  "\"message\":\"%s\",\"sealed\":\"c2VhbGVkIGZvciB5b3U=\"", target->user,
                  target->device, message);
}

static void
check_message_offline (Fixture *f,
                       PhPeer  *actor,
                       PhPeer  *target,
                       gboolean allowed)
{
  g_autofree char *message = g_strdup_printf ("m%u", ++serial);

  ph_peer_close (target);
  send_sealed (actor, target, message, allowed ? PH_RESULT : 403);
  ph_peer_login (target);
  ph_return_if_failed ();
  /* what waited comes right after the log-in result */
  if (allowed)
    ph_peer_expect_push (target, "offline-message", "message", message, "from", actor->user,
                         "from_device", actor->device, NULL);
  else
    ph_peer_expect_no_push (target, "offline-message", NULL);
}

static void
check_message_live (Fixture *f,
                    PhPeer  *actor,
                    PhPeer  *target,
                    gboolean allowed)
{
  g_autofree char *message = g_strdup_printf ("m%u", ++serial);

  ph_peer_mark (target);
  send_sealed (actor, target, message, allowed ? PH_RESULT : 403);
  if (allowed)
    ph_peer_expect_push (target, "offline-message", "message", message, "from", actor->user,
                         NULL);
  else
    ph_peer_expect_no_push (target, NULL, NULL);
}

static void
relay_open (PhPeer     *actor,
            PhPeer     *target,
            const char *device,
            gint64      code)
{
  ph_peer_expect (actor, code, "\"type\":\"relay-open\",\"user\":\"%s\",\"device\":\"%s\"",
                  target->user, device);
}

static void
check_relay_open (Fixture *f,
                  PhPeer  *actor,
                  PhPeer  *target,
                  gboolean allowed)
{
  guint32 channel;

  if (!allowed)
    {
      ph_peer_mark (target);
      relay_open (actor, target, target->device, 403);
      ph_peer_expect_no_push (target, NULL, NULL);
      return;
    }
  channel = ph_peer_open_channel (actor, target);
  ph_return_if_failed ();
  ph_peer_expect_frame (actor, target, channel);
  ph_peer_expect_frame (target, actor, channel);
  ph_peer_mark (target);
  ph_peer_expect (actor, PH_RESULT, "\"type\":\"relay-close\",\"channel\":%u", channel);
  ph_peer_expect_relay_closed (target, channel);
}

static void
check_signal (Fixture *f,
              PhPeer  *actor,
              PhPeer  *target,
              gboolean allowed)
{
  g_autofree char *probe = g_strdup_printf ("p%u", ++serial);
  g_autoptr(JsonObject) push = NULL;

  ph_peer_mark (target);
  ph_peer_expect (actor, allowed ? PH_RESULT : 403,
                  "\"type\":\"signal\",\"user\":\"%s\",\"device\":\"%s\","
                  "\"payload\":{\"probe\":\"%s\"}", target->user, target->device, probe);
  if (!allowed)
    {
      ph_peer_expect_no_push (target, NULL, NULL);
      return;
    }
  push = ph_peer_wait_push (target, "signal", "from", actor->user, "from_device", actor->device,
                            NULL);
  g_assert_nonnull (push);
  if (push == NULL)
    return;
  /* the payload arrives whole: the probe is what the actor sent */
  g_assert_true (json_object_has_member (push, "payload"));
  if (json_object_has_member (push, "payload"))
    g_assert_cmpstr (ph_json_get_string (json_object_get_object_member (push, "payload"),
                                         "probe"), ==, probe);
}

/* @p received @subject's presence @show since its mark, or (unless @allowed) none at all */
static void
expect_presence (PhPeer     *p,
                 PhPeer     *subject,
                 const char *show,
                 gboolean    allowed)
{
  if (allowed)
    ph_peer_expect_push (p, "presence", "user", subject->user, "device", subject->device, "show",
                         show, NULL);
  else
    ph_peer_expect_no_push (p, "presence", subject->user);
}

/* the one device of @subject in @observer's roster, or NULL; Returns: (transfer full) */
static JsonObject *
roster_device (PhPeer *observer,
               PhPeer *subject)
{
  g_autoptr(JsonObject) item = ph_peer_roster_item (observer, subject->user);
  JsonArray *devices;

  if (item == NULL || !json_object_has_member (item, "devices"))
    return NULL;
  devices = json_object_get_array_member (item, "devices");
  g_assert_cmpuint (json_array_get_length (devices), ==, 1);
  if (json_array_get_length (devices) != 1)
    return NULL;
  return json_object_ref (json_array_get_object_element (devices, 0));
}

/* carol, a mutual contact of both, sees each change first: the server did tell someone */
static void
check_presence (Fixture *f,
                PhPeer  *observer,
                PhPeer  *subject,
                gboolean allowed)
{
  static const char *const shows[] = { "offline", "online", "away" };
  PhPeer *witness = f->peers[CAROL];
  g_autoptr(JsonObject) device = NULL;

  for (guint step = 0; step < G_N_ELEMENTS (shows); step++)
    {
      ph_peer_mark (observer);
      ph_peer_mark (witness);
      if (step == 0)
        ph_peer_close (subject);
      else if (step == 1)
        ph_peer_login (subject);
      else
        ph_peer_expect (subject, PH_RESULT, "\"type\":\"presence\",\"show\":\"away\"");
      expect_presence (witness, subject, shows[step], TRUE);
      expect_presence (observer, subject, shows[step], allowed);
      ph_return_if_failed ();
    }

  /* what the observer is told at its own log-in */
  ph_peer_close (observer);
  ph_peer_login (observer);
  expect_presence (observer, subject, "away", allowed);

  /* and by request: the roster, and refusals that read the same whether the device is online
   * or does not exist */
  device = roster_device (observer, subject);
  if (allowed)
    g_assert_cmpstr (ph_json_get_string (device, "show"), ==, "away");
  else
    {
      g_assert_null (device);
      relay_open (observer, subject, subject->device, 403);
      relay_open (observer, subject, "no-such-device", 403);
    }
  ph_peer_expect (subject, PH_RESULT, "\"type\":\"presence\",\"show\":\"online\"");
}

/* the roster hands out device keys, to mutual contacts; no other stanza carries them */
static void
check_keys (Fixture *f,
            PhPeer  *observer,
            PhPeer  *subject,
            gboolean allowed)
{
  g_autoptr(JsonObject) device = NULL;

  ph_peer_close (observer);
  ph_peer_login (observer);
  device = roster_device (observer, subject);
  if (allowed)
    {
      g_assert_cmpstr (ph_json_get_string (device, "device"), ==, subject->device);
      g_assert_cmpstr (ph_json_get_string (device, "key"), ==, subject->key64);
    }
  else
    {
      g_assert_null (device);
      g_assert_false (ph_peer_ever_received (observer, subject->key64));
    }
}

typedef struct
{
  const char *name;
  void      (*check) (Fixture *f,
                      PhPeer  *actor,
                      PhPeer  *target,
                      gboolean allowed);
  gboolean    witness;   /* needs carol as a mutual contact of both */
} Rule;

static const Rule rules[] = {
  { "message-offline", check_message_offline, FALSE },
  { "message-live", check_message_live, FALSE },
  { "relay-open", check_relay_open, FALSE },
  { "signal", check_signal, FALSE },
  { "presence", check_presence, TRUE },
  { "keys", check_keys, FALSE },
};

typedef struct
{
  const Rule     *rule;
  const Relation *relation;
} Case;

static void
register_peers (Fixture *f,
                guint    n)
{
  for (guint i = 0; i < n; i++)
    ph_peer_register (f->peers[i]);
}

static void
test_rule (Fixture      *f,
           gconstpointer data)
{
  const Case *c = data;
  PhPeer **peers = f->peers;

  ph_return_if_failed ();
  register_peers (f, c->rule->witness ? 3 : 2);
  if (c->rule->witness)
    {
      ph_peer_befriend (peers[CAROL], peers[ALICE]);
      ph_peer_befriend (peers[CAROL], peers[BOB]);
    }
  c->relation->setup (f);
  ph_return_if_failed ();
  for (guint i = 0; i < c->relation->n_actors; i++)
    {
      guint actor = c->relation->actors[i];

      g_test_message ("%s asks of %s", peers[actor]->user, peers[1 - actor]->user);
      c->rule->check (f, peers[actor], peers[1 - actor], c->relation->mutual);
      ph_return_if_failed ();
    }
}

/* ---- relations that change ---- */

static void
test_remove_closes_relay (Fixture      *f,
                          gconstpointer data)
{
  PhPeer *a = f->peers[ALICE], *b = f->peers[BOB], *c = f->peers[CAROL];
  guint32 channels[2], kept;

  ph_return_if_failed ();
  register_peers (f, 3);
  ph_peer_befriend (a, b);
  ph_peer_befriend (a, c);
  ph_return_if_failed ();
  /* one channel opened by each of them, and one to a contact who stays */
  channels[0] = ph_peer_open_channel (a, b);
  channels[1] = ph_peer_open_channel (b, a);
  kept = ph_peer_open_channel (a, c);
  ph_return_if_failed ();

  ph_peer_mark (a);
  ph_peer_mark (b);
  ph_peer_mark (c);
  ph_peer_relate (a, "remove", b, "none");
  for (guint i = 0; i < G_N_ELEMENTS (channels); i++)
    {
      ph_peer_expect_relay_closed (a, channels[i]);
      ph_peer_expect_relay_closed (b, channels[i]);
    }
  ph_return_if_failed ();

  /* frames no longer pass either way, and the server forgot the channels */
  ph_peer_mark (a);
  ph_peer_mark (b);
  for (guint i = 0; i < G_N_ELEMENTS (channels); i++)
    {
      ph_peer_send_frame (a, channels[i]);
      ph_peer_send_frame (b, channels[i]);
    }
  ph_peer_sync (a);
  ph_peer_sync (b);
  ph_peer_expect_no_push (a, NULL, NULL);
  ph_peer_expect_no_push (b, NULL, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (channels); i++)
    {
      ph_peer_expect (a, 404, "\"type\":\"relay-close\",\"channel\":%u", channels[i]);
      ph_peer_expect (b, 404, "\"type\":\"relay-close\",\"channel\":%u", channels[i]);
    }

  /* carol's channel is not theirs */
  ph_peer_expect_no_push (c, NULL, NULL);
  ph_peer_expect_frame (a, c, kept);
  ph_peer_expect_frame (c, a, kept);
}

/* only a channel's two ends can use it, whoever learnt its number */
static void
test_relay_foreign_channel (Fixture      *f,
                            gconstpointer data)
{
  PhPeer *a = f->peers[ALICE], *b = f->peers[BOB], *c = f->peers[CAROL];
  guint32 channel;

  ph_return_if_failed ();
  register_peers (f, 3);
  ph_peer_befriend (a, b);
  ph_return_if_failed ();
  channel = ph_peer_open_channel (a, b);
  ph_return_if_failed ();
  ph_peer_mark (a);
  ph_peer_mark (b);
  ph_peer_send_frame (c, channel);
  ph_peer_expect (c, 404, "\"type\":\"relay-close\",\"channel\":%u", channel);
  ph_peer_expect_no_push (a, NULL, NULL);
  ph_peer_expect_no_push (b, NULL, NULL);
  ph_peer_expect_frame (a, b, channel);
}

/* a delivery receipt says when the device was online: for mutual contacts only */
static void
test_receipt_after_remove (Fixture      *f,
                           gconstpointer data)
{
  PhPeer *a = f->peers[ALICE], *b = f->peers[BOB];
  const char *const messages[] = { "while-mutual", "after-remove" };

  ph_return_if_failed ();
  register_peers (f, 2);
  ph_peer_befriend (a, b);
  ph_return_if_failed ();
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      ph_peer_mark (b);
      send_sealed (a, b, messages[i], PH_RESULT);
      ph_peer_expect_push (b, "offline-message", "message", messages[i], NULL);
      if (i == 1)
        ph_peer_relate (b, "remove", a, "none");
      ph_peer_mark (a);
      ph_peer_expect (b, PH_RESULT, "\"type\":\"offline-ack\",\"message\":\"%s\"", messages[i]);
      if (i == 0)
        ph_peer_expect_push (a, "delivered", "message", messages[i], "user", b->user, "device",
                             b->device, NULL);
      else
        ph_peer_expect_no_push (a, NULL, NULL);
      ph_return_if_failed ();
    }
  /* nor later: the receipts kept for her are dropped, not sent, at her next log-in */
  ph_peer_close (a);
  g_assert_true (ph_peer_login (a));
  ph_peer_expect_no_push (a, "delivered", NULL);
}

/* a mutual contact's device that does not exist: nothing is stored, opened or forwarded
 * for it (a sealed message for it would wait on the server for ever) */
static void
test_unknown_device (Fixture      *f,
                     gconstpointer data)
{
  PhPeer *a = f->peers[ALICE], *b = f->peers[BOB];

  ph_return_if_failed ();
  register_peers (f, 2);
  ph_peer_befriend (a, b);
  ph_return_if_failed ();
  ph_peer_mark (b);
  ph_peer_expect (a, 404, "\"type\":\"message\",\"user\":\"bob\",\"device\":\"no-such-device\","
                  "\"message\":\"lost\",\"sealed\":\"c2VhbGVkIGZvciB5b3U=\"");
  ph_peer_expect (a, 404, "\"type\":\"relay-open\",\"user\":\"bob\",\"device\":\"no-such-device\"");
  ph_peer_expect (a, 404, "\"type\":\"signal\",\"user\":\"bob\",\"device\":\"no-such-device\","
                  "\"payload\":{}");
  ph_peer_expect_no_push (b, NULL, NULL);
}

/* only the one who was asked can accept */
static void
test_accept_own_request (Fixture      *f,
                         gconstpointer data)
{
  PhPeer *a = f->peers[ALICE], *b = f->peers[BOB];
  g_autoptr(JsonObject) item = NULL;

  ph_return_if_failed ();
  register_peers (f, 2);
  ph_peer_ask (a, b);
  ph_return_if_failed ();
  ph_peer_mark (b);
  ph_peer_relate (a, "subscribe", b, "requested");
  ph_peer_expect (a, 404, "\"type\":\"accept\",\"user\":\"%s\"", b->user);
  ph_peer_expect (a, 404, "\"type\":\"decline\",\"user\":\"%s\"", b->user);
  ph_peer_expect_no_push (b, "contact", NULL);

  item = ph_peer_roster_item (a, b->user);
  g_assert_cmpstr (ph_json_get_string (item, "relation"), ==, "requested");
  g_clear_pointer (&item, json_object_unref);
  item = ph_peer_roster_item (b, a->user);
  g_assert_cmpstr (ph_json_get_string (item, "relation"), ==, "incoming");
  send_sealed (a, b, "not-yet", 403);
}

/* ---- passwords and tokens ---- */

static gboolean
bytes_contain (const char *data,
               gsize       len,
               const void *needle,
               gsize       n)
{
  for (gsize i = 0; n <= len && i <= len - n; i++)
    if (memcmp (data + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

/* the database, its write-ahead log and anything else the server keeps beside them hold
 * none of @secrets (NULL-terminated, each @lengths[i] bytes) and do hold @visible */
static void
expect_files_hide (PhServer          *server,
                   const char *const *secrets,
                   const gsize       *lengths,
                   const char        *visible)
{
  g_autoptr(GDir) dir = g_dir_open (server->dir, 0, NULL);
  g_autofree char *log = ph_server_dup_log (server);
  const char *name;
  gboolean seen = FALSE;

  g_assert_nonnull (dir);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (server->dir, name, NULL);
      g_autofree char *data = NULL;
      gsize len;

      g_assert_true (g_file_get_contents (path, &data, &len, NULL));
      for (guint i = 0; data != NULL && secrets[i] != NULL; i++)
        if (bytes_contain (data, len, secrets[i], lengths[i]))
          {
            g_test_message ("%s holds secret #%u in clear", name, i);
            g_test_fail ();
          }
      seen = seen || (data != NULL && bytes_contain (data, len, visible, strlen (visible)));
    }
  /* the search can see what is there */
  g_assert_true (seen);
  for (guint i = 0; secrets[i] != NULL; i++)
    g_assert_false (bytes_contain (log, strlen (log), secrets[i], lengths[i]));
}

/* Returns: (transfer full) (nullable): what the accounts table holds for @user */
static char *
stored_password_hash (const char *db_path,
                      const char *user)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *hash = NULL;

  if (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2 (db, "SELECT password_hash FROM accounts WHERE user = ?", -1, &stmt,
                          NULL) == SQLITE_OK &&
      sqlite3_bind_text (stmt, 1, user, -1, SQLITE_STATIC) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    hash = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  else
    g_test_fail_printf ("cannot read the account of %s from %s: %s", user, db_path,
                        db != NULL ? sqlite3_errmsg (db) : "no memory");
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return hash;
}

static void
test_password_stored_hashed (Fixture      *f,
                             gconstpointer data)
{
  PhPeer *a = f->peers[ALICE];
  g_autofree char *password = ph_peer_dup_password (a);
  g_autofree char *wal = g_strconcat (f->server->db_path, "-wal", NULL);
  g_autofree guint8 *token = NULL;
  g_autofree char *hash = NULL;
  const char *secrets[4] = { NULL };
  gsize lengths[3], token_len = 0;

  ph_return_if_failed ();
  ph_peer_register (a);
  ph_return_if_failed ();
  token = g_base64_decode (a->token, &token_len);
  g_assert_cmpuint (token_len, ==, 32);
  secrets[0] = password;
  lengths[0] = strlen (password);
  /* the server keeps the token's hash only */
  secrets[1] = (const char *) token;
  lengths[1] = token_len;
  secrets[2] = a->token;
  lengths[2] = strlen (a->token);

  /* while the server runs, what it wrote last sits in the write-ahead log */
  g_assert_true (g_file_test (wal, G_FILE_TEST_EXISTS));
  expect_files_hide (f->server, secrets, lengths, "$argon2id$");
  g_assert_true (ph_server_stop (f->server, NULL));
  expect_files_hide (f->server, secrets, lengths, "$argon2id$");

  hash = stored_password_hash (f->server->db_path, a->user);
  g_assert_nonnull (hash);
  if (hash == NULL)
    return;
  g_assert_true (g_str_has_prefix (hash, "$argon2id$"));
  /* of this password, with the interactive limits of docs/protocol.md §4 */
  g_assert_cmpint (crypto_pwhash_str_verify (hash, password, strlen (password)), ==, 0);
  g_assert_cmpint (crypto_pwhash_str_needs_rehash (hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                                   crypto_pwhash_MEMLIMIT_INTERACTIVE), ==, 0);
}

/* a log-in on a connection of its own, so that one accepted wrongly hides no other, with
 * @keyholder's device key and its signature of the challenge; @what names the attempt */
static void
try_login (Fixture    *f,
           const char *what,
           gint64      code,
           const char *user,
           const char *device,
           PhPeer     *keyholder,
           const char *secret_member,
           const char *secret)
{
  g_autoptr(PhPeer) probe = ph_peer_new (f->server->url, what);
  g_autofree char *proof = NULL;

  if (!ph_peer_connect (probe))
    return;
  proof = ph_peer_proof_as (probe, keyholder, user, device);
  ph_peer_expect (probe, code, "\"type\":\"login\",\"announce\":false,\"user\":\"%s\","
                  "\"device\":\"%s\",\"device_key\":\"%s\",\"proof\":\"%s\",\"%s\":\"%s\"",
                  user, device, keyholder->key64, proof, secret_member, secret);
}

static void
test_password_checked (Fixture      *f,
                       gconstpointer data)
{
  PhPeer *a = f->peers[ALICE];
  g_autofree char *password = ph_peer_dup_password (a);
  g_autofree char *shorter = NULL;
  g_autofree char *longer = NULL;

  ph_return_if_failed ();
  ph_peer_register (a);
  ph_return_if_failed ();
  shorter = g_strndup (password, strlen (password) - 1);
  longer = g_strconcat (password, "x", NULL);
  try_login (f, "another password", 401, a->user, a->device, a, "password",
             "not-alices-password");
  try_login (f, "a prefix of the password", 401, a->user, a->device, a, "password",
             shorter);
  try_login (f, "the password and more", 401, a->user, a->device, a, "password", longer);
  try_login (f, "an unknown user", 404, "nobody", a->device, a, "password", password);
  try_login (f, "the password", PH_RESULT, a->user, a->device, a, "password", password);
}

/* Returns: (transfer full) (nullable): another token whose BLAKE2b hash, which the server
 * keeps, starts with the same two bytes as that of @token64 */
static char *
near_collision (const char *token64)
{
  gsize len;
  g_autofree guint8 *token = g_base64_decode (token64, &len);
  guint8 want[crypto_generichash_BYTES], got[crypto_generichash_BYTES], other[32];

  crypto_generichash (want, sizeof want, token, len, NULL, 0);
  /* 65536 tries on average */
  for (guint i = 0; i < (1u << 24); i++)
    {
      randombytes_buf (other, sizeof other);
      crypto_generichash (got, sizeof got, other, sizeof other, NULL, 0);
      if (got[0] == want[0] && got[1] == want[1] &&
          (len != sizeof other || memcmp (other, token, len) != 0))
        return g_base64_encode (other, sizeof other);
    }
  return NULL;
}

/* alice's password and her device's public key, which every contact sees, are not enough:
 * the log-in must carry a signature of this connection's challenge by that device's key */
static void
test_device_key_proven (Fixture      *f,
                        gconstpointer data)
{
  PhPeer *a = f->peers[ALICE];
  g_autofree char *password = ph_peer_dup_password (a);
  g_autoptr(PhPeer) mallory = NULL;
  g_autoptr(PhPeer) other = NULL;
  g_autofree char *forged = NULL;
  g_autofree char *elsewhere = NULL;
  g_autofree char *renamed = NULL;

  ph_return_if_failed ();
  ph_peer_register (a);
  ph_return_if_failed ();

  mallory = ph_peer_new (f->server->url, "mallory");
  g_assert_true (ph_peer_connect (mallory));
  /* no proof at all */
  ph_peer_expect (mallory, 401, "\"type\":\"login\",\"user\":\"%s\",\"device\":\"%s\","
                  "\"device_key\":\"%s\",\"password\":\"%s\"", a->user, a->device, a->key64,
                  password);
  /* alice's key, signed with mallory's */
  forged = ph_peer_proof_as (mallory, mallory, a->user, a->device);
  ph_peer_expect (mallory, 401, "\"type\":\"login\",\"user\":\"%s\",\"device\":\"%s\","
                  "\"device_key\":\"%s\",\"proof\":\"%s\",\"password\":\"%s\"", a->user,
                  a->device, a->key64, forged, password);
  /* a real signature of another connection's challenge (say, one alice's device answered
   * on a server mallory runs that forwards this one's) */
  other = ph_peer_new (f->server->url, "other");
  g_assert_true (ph_peer_connect (other));
  elsewhere = ph_peer_proof_as (other, a, a->user, a->device);
  ph_peer_expect (mallory, 401, "\"type\":\"login\",\"user\":\"%s\",\"device\":\"%s\","
                  "\"device_key\":\"%s\",\"proof\":\"%s\",\"password\":\"%s\"", a->user,
                  a->device, a->key64, elsewhere, password);
  /* a real signature of this challenge for another device name */
  renamed = ph_peer_proof_as (mallory, a, a->user, "alice-phone");
  ph_peer_expect (mallory, 401, "\"type\":\"login\",\"user\":\"%s\",\"device\":\"%s\","
                  "\"device_key\":\"%s\",\"proof\":\"%s\",\"password\":\"%s\"", a->user,
                  a->device, a->key64, renamed, password);
  /* and the device itself gets in */
  try_login (f, "the device with its key", PH_RESULT, a->user, a->device, a, "password",
             password);
}

/* runs @sql on the running server's database (WAL: the server keeps serving) */
static void
server_sql (Fixture    *f,
            const char *sql)
{
  sqlite3 *db = NULL;
  char *message = NULL;

  g_assert_cmpint (sqlite3_open (f->server->db_path, &db), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_test_fail_printf ("%s: %s", sql, message);
  sqlite3_free (message);
  sqlite3_close (db);
}

/* @p's token log-in on a connection of its own; Returns: (transfer full): the answer */
static JsonObject *
token_login (Fixture    *f,
             PhPeer     *p,
             const char *token,
             gint64      code)
{
  g_autoptr(PhPeer) probe = ph_peer_new (f->server->url, "probe");
  g_autofree char *proof = NULL;

  if (!ph_peer_connect (probe))
    return NULL;
  proof = ph_peer_proof_as (probe, p, p->user, p->device);
  return ph_peer_call (probe, code, "\"type\":\"login\",\"announce\":false,\"user\":\"%s\","
                       "\"device\":\"%s\",\"device_key\":\"%s\",\"proof\":\"%s\","
                       "\"token\":\"%s\"", p->user, p->device, p->key64, proof, token);
}

/* a token over a day old is replaced at its next log-in; the replaced one logs in for an
 * hour more (another process of the profile may have read it); a token older than its
 * lifetime (90 days) no longer logs in, and says so */
static void
test_token_rotates (Fixture      *f,
                    gconstpointer data)
{
  PhPeer *a = f->peers[ALICE];
  g_autofree char *old = NULL;
  g_autofree char *fresh = NULL;
  g_autofree char *sql = NULL;
  JsonObject *reply;

  ph_return_if_failed ();
  ph_peer_register (a);
  ph_return_if_failed ();
  old = g_strdup (a->token);

  /* fresh: logs in, no new token */
  reply = token_login (f, a, old, PH_RESULT);
  g_assert_nonnull (reply);
  g_assert_false (json_object_has_member (reply, "token"));
  g_clear_pointer (&reply, json_object_unref);

  /* two days old: a new one comes with the result */
  sql = g_strdup_printf ("UPDATE devices SET token_issued = token_issued - %" G_GINT64_FORMAT
                         " WHERE user = '%s'", (gint64) 2 * 86400 * G_USEC_PER_SEC, a->user);
  server_sql (f, sql);
  reply = token_login (f, a, old, PH_RESULT);
  g_assert_nonnull (reply);
  fresh = g_strdup (json_object_get_string_member_with_default (reply, "token", NULL));
  g_clear_pointer (&reply, json_object_unref);
  g_assert_nonnull (fresh);
  g_assert_cmpstr (fresh, !=, old);

  /* both log in now; the old one does not rotate again */
  reply = token_login (f, a, old, PH_RESULT);
  g_assert_false (json_object_has_member (reply, "token"));
  g_clear_pointer (&reply, json_object_unref);
  g_clear_pointer (&reply, json_object_unref);
  reply = token_login (f, a, fresh, PH_RESULT);
  g_assert_false (json_object_has_member (reply, "token"));
  g_clear_pointer (&reply, json_object_unref);

  /* the overlap over: the old one is refused, the new one still logs in */
  server_sql (f, "UPDATE devices SET prev_until = 0");
  g_clear_pointer (&reply, json_object_unref);
  reply = token_login (f, a, old, 401);
  g_clear_pointer (&reply, json_object_unref);
  reply = token_login (f, a, fresh, PH_RESULT);
  g_clear_pointer (&reply, json_object_unref);

  /* 100 days without a log-in: expired */
  g_free (sql);
  sql = g_strdup_printf ("UPDATE devices SET token_issued = token_issued - %" G_GINT64_FORMAT
                         " WHERE user = '%s'", (gint64) 100 * 86400 * G_USEC_PER_SEC, a->user);
  server_sql (f, sql);
  reply = token_login (f, a, fresh, 401);
  g_assert_nonnull (reply);
  g_assert_nonnull (strstr (json_object_get_string_member_with_default (reply, "text", ""),
                            "expired"));
  g_clear_pointer (&reply, json_object_unref);
}

/* a token logs in the one device it was given to, with that device's key */
static void
test_token_checked (Fixture      *f,
                    gconstpointer data)
{
  PhPeer *a = f->peers[ALICE], *b = f->peers[BOB];
  g_autoptr(PhPeer) phone = NULL;
  g_autofree char *random_token = ph_peer_new_key ();
  g_autofree char *collision = NULL;

  ph_return_if_failed ();
  ph_peer_register (a);
  /* bob has a device of the same name */
  g_free (b->device);
  b->device = g_strdup (a->device);
  ph_peer_register (b);
  phone = ph_peer_new (f->server->url, a->user);
  g_free (phone->device);
  phone->device = g_strdup ("alice-phone");
  ph_peer_login_password (phone);
  collision = near_collision (a->token);
  g_assert_nonnull (collision);
  ph_return_if_failed ();

  try_login (f, "a random token", 401, a->user, a->device, a, "token", random_token);
  try_login (f, "a token whose hash shares a prefix", 401, a->user, a->device, a,
             "token", collision);
  try_login (f, "another device's token", 401, a->user, a->device, a, "token",
             phone->token);
  try_login (f, "the token with another key", 401, a->user, a->device, phone, "token",
             a->token);
  try_login (f, "the token for another user", 401, b->user, b->device, b, "token",
             a->token);
  try_login (f, "the token for an unknown device", 401, a->user, "alice-laptop", a,
             "token", a->token);
  try_login (f, "the token", PH_RESULT, a->user, a->device, a, "token", a->token);
}

int
main (int   argc,
      char *argv[])
{
  static Case cases[G_N_ELEMENTS (rules) * G_N_ELEMENTS (relations)];
  guint n = 0;

  g_test_init (&argc, &argv, NULL);
  /* libsoup and GIO in this process trace every frame otherwise */
  g_log_set_debug_enabled (FALSE);
  /* a failed check ends its test through the fixture's teardown, which stops the server */
  g_test_set_nonfatal_assertions ();
  if (sodium_init () < 0)
    {
      g_printerr ("libsodium cannot start\n");
      return 1;
    }

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  for (guint r = 0; r < G_N_ELEMENTS (rules); r++)
    for (guint k = 0; k < G_N_ELEMENTS (relations); k++)
      {
        g_autofree char *path = g_strdup_printf ("/integration/authorization/%s/%s",
                                                 rules[r].name, relations[k].name);

        cases[n] = (Case) { &rules[r], &relations[k] };
        g_test_add (path, Fixture, &cases[n++], fixture_setup, test_rule, fixture_teardown);
      }
  ADD ("/integration/authorization/remove/closes-relay", test_remove_closes_relay);
  ADD ("/integration/authorization/relay/foreign-channel", test_relay_foreign_channel);
  ADD ("/integration/authorization/receipt/after-remove", test_receipt_after_remove);
  ADD ("/integration/authorization/accept/own-request", test_accept_own_request);
  ADD ("/integration/authorization/device/unknown", test_unknown_device);
  ADD ("/integration/authorization/password/stored-hashed", test_password_stored_hashed);
  ADD ("/integration/authorization/password/checked", test_password_checked);
  ADD ("/integration/authorization/token/checked", test_token_checked);
  ADD ("/integration/authorization/device-key/proven", test_device_key_proven);
  ADD ("/integration/authorization/token/rotates", test_token_rotates);
#undef ADD

  return g_test_run ();
}
