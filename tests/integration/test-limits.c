/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-limits.c: the server's per-message and per-peer bounds of docs/protocol.md §2, hit on
 * purpose by raw clients of a real pinhole-server on loopback: a sealed message's size, the
 * sealed messages waiting for one device and those from one sender, their expiry, the receipts
 * kept for a sender's device, and the relay channels one connection opens. Each test also shows
 * that what is just within the bound is accepted. */
#include "pinhole-test-peer.h"

#include <sodium.h>
#include <sqlite3.h>
#include <string.h>

#define MAX_SEALED_BYTES  (16 * 1024)
#define MAX_OFFLINE       3          /* --max-offline for the queue test */
#define MAX_RECEIPTS      2          /* --max-receipts for the receipts test */
#define RECEIPTS_PER_ACK  200
#define MAX_CHANNELS      256

static gboolean never (gpointer data);

typedef struct
{
  PhServer *server;
  PhPeer   *alice;
  PhPeer   *bob;
} Fixture;

static void
start (Fixture           *f,
       const char *const *server_args)
{
  g_autoptr(GError) error = NULL;

  f->server = ph_server_start_with (server_args, &error);
  g_assert_no_error (error);
  if (f->server == NULL)
    return;
  f->alice = ph_peer_new (f->server->url, "alice");
  f->bob = ph_peer_new (f->server->url, "bob");
  ph_peer_register (f->alice);
  ph_peer_register (f->bob);
  ph_peer_befriend (f->alice, f->bob);
}

static void
fixture_teardown (Fixture      *f,
                  gconstpointer data)
{
  g_clear_pointer (&f->alice, ph_peer_free);
  g_clear_pointer (&f->bob, ph_peer_free);
  if (f->server != NULL && g_test_failed ())
    {
      g_autofree char *log = ph_server_dup_log (f->server);

      g_test_message ("server log:\n%s", log);
    }
  g_clear_pointer (&f->server, ph_server_free);
}

/* alice seals @n_bytes for bob's device, and the server answers @code */
static void
send_sealed (Fixture *f,
             gsize    n_bytes,
             gint64   code)
{
  static guint serial;
  g_autofree guint8 *bytes = g_malloc (n_bytes);
  g_autofree char *sealed = NULL;

  randombytes_buf (bytes, n_bytes);
  sealed = g_base64_encode (bytes, n_bytes);
  ph_peer_expect (f->alice, code, "\"type\":\"message\",\"user\":\"bob\",\"device\":\"%s\","
                  "\"message\":\"limit-%u\",\"sealed\":\"%s\"", f->bob->device, ++serial,
                  sealed);
}

static void
test_sealed_size (Fixture      *f,
                  gconstpointer data)
{
  start (f, NULL);
  ph_return_if_failed ();
  ph_peer_close (f->bob);
  send_sealed (f, MAX_SEALED_BYTES, PH_RESULT);
  send_sealed (f, MAX_SEALED_BYTES + 1, 400);
  /* the connection stays usable after the refusal */
  ph_peer_sync (f->alice);
}

static void
test_offline_queue (Fixture      *f,
                    gconstpointer data)
{
  g_autofree char *max = g_strdup_printf ("%d", MAX_OFFLINE);
  const char *args[] = { "--max-offline", max, NULL };

  start (f, args);
  ph_return_if_failed ();
  ph_peer_close (f->bob);
  for (guint i = 0; i < MAX_OFFLINE; i++)
    send_sealed (f, 32, PH_RESULT);
  ph_return_if_failed ();
  send_sealed (f, 32, 503);
  send_sealed (f, 32, 503);
}

/* @from seals a small message with @id for bob's device, and the server answers @code */
static void
send_sealed_as (PhPeer     *from,
                PhPeer     *to,
                const char *id,
                gint64      code)
{
  ph_peer_expect (from, code, "\"type\":\"message\",\"user\":\"%s\",\"device\":\"%s\","
                  "\"message\":\"%s\",\"sealed\":\"c2VhbGVk\"", to->user, to->device, id);
}

/* one contact cannot fill a device's queue for everyone */
static void
test_offline_per_sender (Fixture      *f,
                         gconstpointer data)
{
  const char *args[] = { "--max-offline", "4", "--max-offline-per-sender", "2", NULL };
  g_autoptr(PhPeer) carol = NULL;
  g_autoptr(PhPeer) dave = NULL;

  start (f, args);
  ph_return_if_failed ();
  carol = ph_peer_new (f->server->url, "carol");
  dave = ph_peer_new (f->server->url, "dave");
  ph_peer_register (carol);
  ph_peer_register (dave);
  ph_peer_befriend (carol, f->bob);
  ph_peer_befriend (dave, f->bob);
  ph_return_if_failed ();
  ph_peer_close (f->bob);
  send_sealed_as (f->alice, f->bob, "a1", PH_RESULT);
  send_sealed_as (f->alice, f->bob, "a2", PH_RESULT);
  ph_return_if_failed ();
  send_sealed_as (f->alice, f->bob, "a3", 503);
  /* alice's share is full, not bob's queue */
  send_sealed_as (carol, f->bob, "c1", PH_RESULT);
  send_sealed_as (carol, f->bob, "c2", PH_RESULT);
  ph_return_if_failed ();
  /* and the queue's own bound still holds */
  send_sealed_as (dave, f->bob, "d1", 503);
}

/* a sealed message that waited longer than --offline-days is dropped, at the latest when the
 * server starts; a younger one is still delivered */
static void
test_offline_expiry (Fixture      *f,
                     gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  sqlite3 *db = NULL;

  start (f, NULL);
  ph_return_if_failed ();
  ph_peer_close (f->bob);
  send_sealed_as (f->alice, f->bob, "old-one", PH_RESULT);
  send_sealed_as (f->alice, f->bob, "young-one", PH_RESULT);
  ph_return_if_failed ();
  g_assert_true (ph_server_stop (f->server, NULL));
  g_assert_cmpint (sqlite3_open (f->server->db_path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "UPDATE offline SET stored = stored - 31 * 86400000000"
                                     " WHERE id = 'old-one'", NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_changes (db), ==, 1);
  sqlite3_close (db);
  g_assert_true (ph_server_restart (f->server, &error));
  g_assert_no_error (error);
  ph_return_if_failed ();
  ph_peer_mark (f->bob);
  g_assert_true (ph_peer_login (f->bob));
  ph_peer_expect_push (f->bob, "offline-message", "message", "young-one", NULL);
  ph_peer_sync (f->bob);
  g_assert_false (ph_peer_ever_received (f->bob, "old-one"));
}

/* whether @p got, since its mark, a receipt for message @id */
static gboolean
got_receipt (PhPeer     *p,
             const char *id)
{
  g_autofree char *needle = g_strdup_printf ("\"message\":\"%s\"", id);

  ph_peer_sync (p);
  for (guint i = p->mark; i < p->ws->texts->len; i++)
    {
      const char *text = g_ptr_array_index (p->ws->texts, i);

      if (strstr (text, "\"delivered\"") != NULL && strstr (text, needle) != NULL)
        return TRUE;
    }
  return FALSE;
}

/* bob takes three messages while alice is away: the newest two receipts wait for her device
 * (--max-receipts 2), and come at every log-in until she acknowledges them */
static void
test_receipts_kept (Fixture      *f,
                    gconstpointer data)
{
  g_autofree char *max = g_strdup_printf ("%d", MAX_RECEIPTS);
  const char *args[] = { "--max-receipts", max, NULL };
  const char *ids[] = { "first", "second", "third" };

  start (f, args);
  ph_return_if_failed ();
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      ph_peer_mark (f->bob);
      send_sealed_as (f->alice, f->bob, ids[i], PH_RESULT);
      ph_peer_expect_push (f->bob, "offline-message", "message", ids[i], NULL);
    }
  ph_peer_close (f->alice);
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    ph_peer_expect (f->bob, PH_RESULT, "\"type\":\"offline-ack\",\"message\":\"%s\"", ids[i]);
  ph_return_if_failed ();

  /* twice: a connection that ends before it acknowledges them loses none */
  for (guint round = 0; round < 2; round++)
    {
      g_assert_true (ph_peer_login (f->alice));
      ph_peer_expect_push (f->alice, "delivered", "message", "second", "user", "bob", "device",
                           f->bob->device, NULL);
      ph_peer_expect_push (f->alice, "delivered", "message", "third", "user", "bob", "device",
                           f->bob->device, NULL);
      /* the oldest went to make room */
      g_assert_false (got_receipt (f->alice, "first"));
      ph_peer_close (f->alice);
      ph_return_if_failed ();
    }

  g_assert_true (ph_peer_login (f->alice));
  ph_peer_expect_push (f->alice, "delivered", "message", "third", NULL);
  /* bob cannot take them for her */
  {
    g_autoptr(JsonObject) reply = NULL;

    reply = ph_peer_call (f->bob, PH_RESULT, "\"type\":\"delivered-ack\",\"receipts\":["
                          "{\"message\":\"third\",\"user\":\"bob\",\"device\":\"%s\"}]",
                          f->bob->device);
    g_assert_cmpint (json_object_get_int_member_with_default (reply, "removed", -1), ==, 0);
    g_clear_pointer (&reply, json_object_unref);
    /* both in one, and once: the second time there is nothing to take */
    for (guint round = 0; round < 2; round++)
      {
        reply = ph_peer_call (f->alice, PH_RESULT, "\"type\":\"delivered-ack\",\"receipts\":["
                              "{\"message\":\"second\",\"user\":\"bob\",\"device\":\"%s\"},"
                              "{\"message\":\"third\",\"user\":\"bob\",\"device\":\"%s\"}]",
                              f->bob->device, f->bob->device);
        g_assert_cmpint (json_object_get_int_member_with_default (reply, "removed", -1), ==,
                         round == 0 ? 2 : 0);
        g_clear_pointer (&reply, json_object_unref);
      }
  }
  ph_peer_close (f->alice);
  g_assert_true (ph_peer_login (f->alice));
  g_assert_false (got_receipt (f->alice, "second"));
  g_assert_false (got_receipt (f->alice, "third"));
}

/* one delivered-ack takes 1 to 200 receipts */
static void
test_receipts_per_ack (Fixture      *f,
                       gconstpointer data)
{
  start (f, NULL);
  ph_return_if_failed ();
  ph_peer_expect (f->alice, 400, "\"type\":\"delivered-ack\",\"receipts\":[]");
  ph_peer_expect (f->alice, 400, "\"type\":\"delivered-ack\",\"message\":\"m1\"");
  ph_peer_expect (f->alice, 400, "\"type\":\"delivered-ack\",\"receipts\":[\"m1\"]");
  ph_peer_expect (f->alice, 400, "\"type\":\"delivered-ack\",\"receipts\":[{\"message\":\"m1\"}]");
  for (guint n = RECEIPTS_PER_ACK; n <= RECEIPTS_PER_ACK + 1; n++)
    {
      g_autoptr(GString) list = g_string_new (NULL);

      for (guint i = 0; i < n; i++)
        g_string_append_printf (list, "%s{\"message\":\"m%u\",\"user\":\"bob\","
                                "\"device\":\"%s\"}", i ? "," : "", i, f->bob->device);
      ph_peer_expect (f->alice, n == RECEIPTS_PER_ACK ? PH_RESULT : 400,
                      "\"type\":\"delivered-ack\",\"receipts\":[%s]", list->str);
    }
}

/* a receipt that waited longer than --offline-days is dropped like a sealed message */
static void
test_receipts_expiry (Fixture      *f,
                      gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const char *ids[] = { "old-one", "young-one" };
  sqlite3 *db = NULL;

  start (f, NULL);
  ph_return_if_failed ();
  ph_peer_close (f->alice);
  ph_peer_mark (f->bob);
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_assert_true (ph_peer_login (f->alice));
      send_sealed_as (f->alice, f->bob, ids[i], PH_RESULT);
      ph_peer_close (f->alice);
      ph_peer_expect_push (f->bob, "offline-message", "message", ids[i], NULL);
      ph_peer_expect (f->bob, PH_RESULT, "\"type\":\"offline-ack\",\"message\":\"%s\"",
                      ids[i]);
    }
  ph_return_if_failed ();
  g_assert_true (ph_server_stop (f->server, NULL));
  g_assert_cmpint (sqlite3_open (f->server->db_path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "UPDATE receipts SET stored = stored - 31 * 86400000000"
                                     " WHERE id = 'old-one'", NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_changes (db), ==, 1);
  sqlite3_close (db);
  g_assert_true (ph_server_restart (f->server, &error));
  g_assert_no_error (error);
  ph_return_if_failed ();
  g_assert_true (ph_peer_login (f->alice));
  ph_peer_expect_push (f->alice, "delivered", "message", "young-one", NULL);
  g_assert_false (got_receipt (f->alice, "old-one"));
}

/* one password log-in of @p on a new connection, answered @code */
static void
log_in_with (PhPeer     *p,
             const char *password,
             gint64      code)
{
  g_autofree char *proof = NULL;

  ph_peer_close (p);
  g_assert_true (ph_peer_connect (p));
  proof = ph_peer_proof_as (p, p, p->user, p->device);
  ph_peer_expect (p, code, "\"type\":\"login\",\"user\":\"%s\",\"device\":\"%s\","
                  "\"device_key\":\"%s\",\"proof\":\"%s\",\"password\":\"%s\"", p->user,
                  p->device, p->key64, proof, password);
}

/* guessing a password: five wrong ones are answered, then the account waits (1 s, then 2 s)
 * and even the right password gets 429 until then; after the wait it gets in */
static void
test_password_guessing (Fixture      *f,
                        gconstpointer data)
{
  g_autofree char *right = NULL;
  g_autofree char *bobs = NULL;

  start (f, NULL);
  ph_return_if_failed ();
  right = ph_peer_dup_password (f->alice);
  bobs = ph_peer_dup_password (f->bob);
  for (guint i = 0; i < 5; i++)
    log_in_with (f->alice, "not-the-password", 401);
  ph_return_if_failed ();
  log_in_with (f->alice, "not-the-password", 401);   /* the sixth: 1 s from now */
  log_in_with (f->alice, right, 429);
  /* bob is not held up by alice's failures */
  log_in_with (f->bob, bobs, PH_RESULT);
  ph_iterate_until (never, NULL, 1200);
  log_in_with (f->alice, right, PH_RESULT);
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

static void
test_relay_channels (Fixture      *f,
                     gconstpointer data)
{
  g_autoptr(PhPeer) carol = NULL;
  guint opened = 0;

  start (f, NULL);
  ph_return_if_failed ();
  /* to two contacts, so that the opener's cap is the one that is hit */
  carol = ph_peer_new (f->server->url, "carol");
  ph_peer_register (carol);
  ph_peer_befriend (f->alice, carol);
  ph_return_if_failed ();
  ph_peer_mark (f->bob);
  ph_peer_mark (carol);
  for (guint i = 0; i < MAX_CHANNELS; i++)
    {
      PhPeer *to = i % 2 ? carol : f->bob;

      /* after the first 150, 40 a second: under the server's request rate (§2) */
      if (i >= 150)
        ph_iterate_until (never, NULL, 25);
      ph_peer_expect (f->alice, PH_RESULT, "\"type\":\"relay-open\",\"user\":\"%s\","
                      "\"device\":\"%s\"", to->user, to->device);
      ph_return_if_failed ();
    }
  ph_peer_expect (f->alice, 503, "\"type\":\"relay-open\",\"user\":\"bob\",\"device\":\"%s\"",
                  f->bob->device);
  /* bob and carol were told of each channel that opened, and of no other */
  ph_peer_sync (f->bob);
  ph_peer_sync (carol);
  for (guint i = f->bob->mark; i < f->bob->ws->texts->len; i++)
    opened += strstr (g_ptr_array_index (f->bob->ws->texts, i), "\"relay-open\"") != NULL;
  for (guint i = carol->mark; i < carol->ws->texts->len; i++)
    opened += strstr (g_ptr_array_index (carol->ws->texts, i), "\"relay-open\"") != NULL;
  g_assert_cmpuint (opened, ==, MAX_CHANNELS);
}

/* the cap holds for the end that is asked, too: alice and carol together open 256 to bob */
static void
test_relay_channels_accepted (Fixture      *f,
                              gconstpointer data)
{
  g_autoptr(PhPeer) carol = NULL;

  start (f, NULL);
  ph_return_if_failed ();
  carol = ph_peer_new (f->server->url, "carol");
  ph_peer_register (carol);
  ph_peer_befriend (carol, f->bob);
  ph_return_if_failed ();
  for (guint i = 0; i < MAX_CHANNELS; i++)
    {
      /* 128 each: within the server's request burst (§2) */
      PhPeer *opener = i % 2 ? carol : f->alice;

      ph_peer_expect (opener, PH_RESULT, "\"type\":\"relay-open\",\"user\":\"bob\","
                      "\"device\":\"%s\"", f->bob->device);
      ph_return_if_failed ();
    }
  ph_peer_expect (f->alice, 503, "\"type\":\"relay-open\",\"user\":\"bob\",\"device\":\"%s\"",
                  f->bob->device);
  ph_peer_expect (carol, 503, "\"type\":\"relay-open\",\"user\":\"bob\",\"device\":\"%s\"",
                  f->bob->device);
}

/* --max-registrations 3: alice and bob (start) and carol get accounts from this address;
 * dave is told to wait, and nothing of his is created */
static void
test_registrations (Fixture      *f,
                    gconstpointer data)
{
  const char *args[] = { "--max-registrations", "3", NULL };
  g_autoptr(PhPeer) carol = NULL;
  g_autoptr(PhPeer) dave = NULL;
  g_autofree char *password = NULL;
  g_autofree char *proof = NULL;

  start (f, args);
  ph_return_if_failed ();
  carol = ph_peer_new (f->server->url, "carol");
  g_assert_true (ph_peer_register (carol));
  dave = ph_peer_new (f->server->url, "dave");
  password = ph_peer_dup_password (dave);
  g_assert_true (ph_peer_connect (dave));
  proof = ph_peer_proof_as (dave, dave, dave->user, dave->device);
  ph_peer_expect (dave, 429, "\"type\":\"register\",\"user\":\"dave\",\"device\":\"%s\","
                  "\"device_key\":\"%s\",\"proof\":\"%s\",\"password\":\"%s\"",
                  dave->device, dave->key64, proof, password);
  /* the wait is for new accounts only: carol still logs in */
  ph_peer_close (carol);
  g_assert_true (ph_peer_login (carol));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_debug_enabled (FALSE);
  g_test_set_nonfatal_assertions ();
  if (sodium_init () < 0)
    {
      g_printerr ("libsodium cannot start\n");
      return 1;
    }

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, NULL, func, fixture_teardown)
  ADD ("/integration/limits/sealed-size", test_sealed_size);
  ADD ("/integration/limits/offline-queue", test_offline_queue);
  ADD ("/integration/limits/offline-per-sender", test_offline_per_sender);
  ADD ("/integration/limits/offline-expiry", test_offline_expiry);
  ADD ("/integration/limits/receipts-kept", test_receipts_kept);
  ADD ("/integration/limits/receipts-expiry", test_receipts_expiry);
  ADD ("/integration/limits/receipts-per-ack", test_receipts_per_ack);
  ADD ("/integration/limits/password-guessing", test_password_guessing);
  ADD ("/integration/limits/registrations", test_registrations);
  ADD ("/integration/limits/relay-channels", test_relay_channels);
  ADD ("/integration/limits/relay-channels-accepted", test_relay_channels_accepted);
#undef ADD

  return g_test_run ();
}
