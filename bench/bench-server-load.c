/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-server-load.c: load on one pinhole-server from many raw WebSocket clients in this
 * process (libsoup, subprotocol pinhole-1, token log-in per docs/protocol.md §4). The accounts,
 * devices and mutual relations are written into the server's SQLite database before it starts,
 * so that no Argon2id runs.
 *
 *   bench-server-load SERVER-PROGRAM memory [--clients 2000]
 *       VmRSS of the server before and after CLIENTS idle, logged-in connections
 *   bench-server-load SERVER-PROGRAM route [--pairs 50] [--window 16] [--seconds 5]
 *       PAIRS relay channels, both ends sending small frames with at most WINDOW unanswered
 *       each; relay frames routed per second and the server's CPU time per frame
 */
#include "pinhole-login-proof.h"
#include "bench-common.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define CONNECT_AT_ONCE  64
#define STEP_TIMEOUT_MS  120000
#define FRAME_PAYLOAD    64

typedef struct _Client Client;

typedef struct
{
  GPtrArray     *clients;     /* Client*, owned */
  SoupSession   *soup;
  BenchServer   *server;
  char          *key_b64;
  guint8         secret_key[64];   /* every client is the same device of its own user */
  char          *token_b64;
  guint          next_connect;
  guint          connecting;
  guint          logged_in;
  guint          failed;
  guint          channels_ready;
  guint          window;
  gboolean       all_in;
  gboolean       all_channels;
  gboolean       sending;
  guint64        received;    /* relay frames received while measuring */
} Bench;

struct _Client
{
  Bench                   *bench;
  SoupWebsocketConnection *ws;
  Client                  *peer;        /* route: the other end of its channel */
  char                    *user;
  guint32                  channel;
  guint64                  sent;
  guint64                  got;
  gboolean                 initiator;
  gboolean                 logged_in;
};

static void
client_free (Client *c)
{
  if (c->ws != NULL)
    {
      g_signal_handlers_disconnect_by_data (c->ws, c);
      if (soup_websocket_connection_get_state (c->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (c->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_clear_object (&c->ws);
    }
  g_free (c->user);
  g_free (c);
}

/* ---- the database ---- */

static gboolean
exec_sql (sqlite3    *db,
          const char *sql)
{
  char *message = NULL;

  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    {
      fprintf (stderr, "bench-server-load: %s: %s\n", sql, message);
      sqlite3_free (message);
      return FALSE;
    }
  return TRUE;
}

/* accounts u0..uN-1, each with device "bench" bound to one key and one token; in route mode
 * u(2i) and u(2i+1) are mutual contacts */
static gboolean
populate (Bench      *b,
          const char *path,
          guint       n_users,
          gboolean    pairs)
{
  guint8 pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  guint8 token[32], token_hash[crypto_generichash_BYTES];
  sqlite3 *db = NULL;
  sqlite3_stmt *account = NULL, *device = NULL, *relation = NULL;
  gboolean ok = FALSE;

  crypto_sign_keypair (pk, sk);
  memcpy (b->secret_key, sk, sizeof b->secret_key);
  randombytes_buf (token, sizeof token);
  crypto_generichash (token_hash, sizeof token_hash, token, sizeof token, NULL, 0);
  b->key_b64 = g_base64_encode (pk, sizeof pk);
  b->token_b64 = g_base64_encode (token, sizeof token);

  if (sqlite3_open (path, &db) != SQLITE_OK || !exec_sql (db, "BEGIN") ||
      sqlite3_prepare_v2 (db, "INSERT INTO accounts (user, password_hash, created) "
                          "VALUES (?, 'not-a-password-hash', 0)", -1, &account, NULL) ||
      sqlite3_prepare_v2 (db, "INSERT INTO devices (user, device, key, token_hash, "
                          "token_issued) VALUES (?, 'bench', ?, ?, "
                          "CAST (strftime ('%s', 'now') AS INTEGER) * 1000000)", -1, &device,
                          NULL) ||
      sqlite3_prepare_v2 (db, "INSERT INTO relations (owner, contact, relation) "
                          "VALUES (?, ?, 3)", -1, &relation, NULL))
    {
      fprintf (stderr, "bench-server-load: database %s: %s\n", path, sqlite3_errmsg (db));
      goto out;
    }
  for (guint i = 0; i < n_users; i++)
    {
      g_autofree char *user = g_strdup_printf ("u%u", i);

      sqlite3_bind_text (account, 1, user, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (device, 1, user, -1, SQLITE_TRANSIENT);
      sqlite3_bind_blob (device, 2, pk, sizeof pk, SQLITE_STATIC);
      sqlite3_bind_blob (device, 3, token_hash, sizeof token_hash, SQLITE_STATIC);
      if (sqlite3_step (account) != SQLITE_DONE || sqlite3_step (device) != SQLITE_DONE)
        goto out;
      sqlite3_reset (account);
      sqlite3_reset (device);
      if (pairs && i % 2 == 1)
        {
          g_autofree char *other = g_strdup_printf ("u%u", i - 1);

          for (int dir = 0; dir < 2; dir++)
            {
              sqlite3_bind_text (relation, 1, dir ? user : other, -1, SQLITE_TRANSIENT);
              sqlite3_bind_text (relation, 2, dir ? other : user, -1, SQLITE_TRANSIENT);
              if (sqlite3_step (relation) != SQLITE_DONE)
                goto out;
              sqlite3_reset (relation);
            }
        }
    }
  ok = exec_sql (db, "COMMIT");

out:
  if (!ok)
    fprintf (stderr, "bench-server-load: populating %s failed: %s\n", path,
             sqlite3_errmsg (db));
  sqlite3_finalize (account);
  sqlite3_finalize (device);
  sqlite3_finalize (relation);
  sqlite3_close (db);
  return ok;
}

/* ---- clients ---- */

static void connect_more (Bench *b);
static void send_frames (Client *c);

static void
send_json (Client     *c,
           JsonObject *o)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), o);
  g_autofree char *text = json_to_string (node, FALSE);

  soup_websocket_connection_send_text (c->ws, text);
}

/* a token log-in that signs the server's challenge, as pinhole-cli does */
static void
send_login (Client     *c,
            const char *nonce_b64)
{
  Bench *b = c->bench;
  g_autoptr(JsonObject) login = json_object_new ();
  gsize len = 0;
  guchar *raw = g_base64_decode (nonce_b64, &len);
  g_autoptr(GBytes) nonce = g_bytes_new_take (raw, len);
  g_autoptr(GBytes) message = pinhole_login_proof_message (nonce, c->user, "bench");
  guint8 sig[crypto_sign_BYTES];
  g_autofree char *proof = NULL;

  crypto_sign_detached (sig, NULL, g_bytes_get_data (message, NULL), g_bytes_get_size (message),
                        b->secret_key);
  proof = g_base64_encode (sig, sizeof sig);
  json_object_set_string_member (login, "type", "login");
  json_object_set_string_member (login, "id", "login");
  json_object_set_string_member (login, "user", c->user);
  json_object_set_string_member (login, "device", "bench");
  json_object_set_string_member (login, "device_key", b->key_b64);
  json_object_set_string_member (login, "proof", proof);
  json_object_set_string_member (login, "token", b->token_b64);
  json_object_set_boolean_member (login, "announce", TRUE);
  send_json (c, login);
}

static void
handle_text (Client     *c,
             JsonObject *o)
{
  Bench *b = c->bench;
  const char *type = json_object_get_string_member_with_default (o, "type", "");
  const char *id = json_object_get_string_member_with_default (o, "id", "");

  if (strcmp (type, "error") == 0)
    {
      fprintf (stderr, "bench-server-load: %s got error %" G_GINT64_FORMAT " for %s: %s\n",
               c->user, json_object_get_int_member_with_default (o, "code", 0), id,
               json_object_get_string_member_with_default (o, "text", ""));
      b->failed++;
      return;
    }
  if (strcmp (type, "result") == 0 && strcmp (id, "challenge") == 0)
    {
      send_login (c, json_object_get_string_member_with_default (o, "nonce", ""));
      return;
    }
  if (strcmp (type, "result") == 0 && strcmp (id, "login") == 0)
    {
      c->logged_in = TRUE;
      if (++b->logged_in + b->failed == b->clients->len)
        b->all_in = TRUE;
      return;
    }
  if (strcmp (type, "result") == 0 && strcmp (id, "open") == 0)
    {
      c->channel = (guint32) json_object_get_int_member_with_default (o, "channel", 0);
      if (++b->channels_ready == b->clients->len)
        b->all_channels = TRUE;
      return;
    }
  if (strcmp (type, "relay-open") == 0 && !c->initiator)
    {
      c->channel = (guint32) json_object_get_int_member_with_default (o, "channel", 0);
      if (++b->channels_ready == b->clients->len)
        b->all_channels = TRUE;
    }
}

static void
message_cb (SoupWebsocketConnection *ws,
            gint                     type,
            GBytes                  *message,
            Client                  *c)
{
  if (type == SOUP_WEBSOCKET_DATA_TEXT)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      gsize len;
      const char *data = g_bytes_get_data (message, &len);
      JsonNode *root;

      if (json_parser_load_from_data (parser, data, (gssize) len, NULL) &&
          (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
        handle_text (c, json_node_get_object (root));
      return;
    }
  /* a relay frame from the peer: it frees one slot of the peer's window */
  c->got++;
  if (c->bench->sending)
    {
      c->bench->received++;
      send_frames (c->peer);
    }
}

static void
closed_cb (SoupWebsocketConnection *ws,
           Client                  *c)
{
  if (!c->logged_in)
    {
      c->bench->failed++;
      if (c->bench->logged_in + c->bench->failed == c->bench->clients->len)
        c->bench->all_in = TRUE;
    }
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Client *c = user_data;
  Bench *b = c->bench;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) challenge = json_object_new ();

  b->connecting--;
  c->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (c->ws == NULL)
    {
      fprintf (stderr, "bench-server-load: %s cannot connect: %s\n", c->user, error->message);
      if (++b->failed + b->logged_in == b->clients->len)
        b->all_in = TRUE;
      connect_more (b);
      return;
    }
  /* no client pings during the measurement: the server's own keepalive is what we measure */
  soup_websocket_connection_set_keepalive_interval (c->ws, 0);
  soup_websocket_connection_set_max_incoming_payload_size (c->ws, 128 * 1024);
  g_signal_connect (c->ws, "message", G_CALLBACK (message_cb), c);
  g_signal_connect (c->ws, "closed", G_CALLBACK (closed_cb), c);
  json_object_set_string_member (challenge, "type", "challenge");
  json_object_set_string_member (challenge, "id", "challenge");
  send_json (c, challenge);
  connect_more (b);
}

/* keeps CONNECT_AT_ONCE handshakes under way, so the listen backlog never overflows */
static void
connect_more (Bench *b)
{
  static const char *protocols[] = { "pinhole-1", NULL };

  while (b->connecting < CONNECT_AT_ONCE && b->next_connect < b->clients->len)
    {
      Client *c = g_ptr_array_index (b->clients, b->next_connect++);
      g_autoptr(SoupMessage) msg = soup_message_new ("GET", b->server->url);

      b->connecting++;
      soup_session_websocket_connect_async (b->soup, msg, NULL, (char **) protocols,
                                            G_PRIORITY_DEFAULT, NULL, connected_cb, c);
    }
}

static gboolean
connect_all (Bench *b,
             guint  n)
{
  b->clients = g_ptr_array_new_with_free_func ((GDestroyNotify) client_free);
  for (guint i = 0; i < n; i++)
    {
      Client *c = g_new0 (Client, 1);

      c->bench = b;
      c->user = g_strdup_printf ("u%u", i);
      g_ptr_array_add (b->clients, c);
    }
  connect_more (b);
  if (!bench_wait_flag (&b->all_in, STEP_TIMEOUT_MS) || b->failed > 0)
    {
      fprintf (stderr, "bench-server-load: %u of %u clients logged in (%u failed)\n",
               b->logged_in, n, b->failed);
      return FALSE;
    }
  return TRUE;
}

static void
raise_fd_limit (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
    }
}

static Bench *
bench_new (void)
{
  Bench *b = g_new0 (Bench, 1);

  /* every connection is its own: no pooling limit may serialise the handshakes */
  b->soup = soup_session_new_with_options ("max-conns", 100000, "max-conns-per-host", 100000,
                                           "timeout", 60, NULL);
  b->server = bench_server_new ();
  return b;
}

static void
bench_free (Bench *b)
{
  g_clear_pointer (&b->clients, g_ptr_array_unref);
  /* let the close frames go out before the server is stopped */
  for (int i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_clear_object (&b->soup);
  if (b->server != NULL)
    bench_server_stop (b->server);
  g_free (b->key_b64);
  g_free (b->token_b64);
  g_free (b);
}

/* starts the server once to create its schema, fills the database, starts it again */
static gboolean
start_populated (Bench      *b,
                 const char *server_path,
                 guint       n_users,
                 gboolean    pairs)
{
  g_autoptr(GError) error = NULL;

  if (!bench_server_start (b->server, server_path, &error))
    goto fail;
  bench_server_halt (b->server);
  if (!populate (b, b->server->db, n_users, pairs))
    return FALSE;
  if (!bench_server_start (b->server, server_path, &error))
    goto fail;
  return TRUE;

fail:
  fprintf (stderr, "bench-server-load: %s\n", error->message);
  return FALSE;
}

static void
settle (guint ms)
{
  gboolean flag = FALSE;

  bench_wait_flag (&flag, ms);
}

/* ---- memory ---- */

static int
run_memory (const char *server_path,
            guint       n_clients)
{
  Bench *b = bench_new ();
  int pid;
  gint64 before, after;
  int status = 1;

  if (!start_populated (b, server_path, n_clients, FALSE))
    goto out;
  pid = bench_server_get_pid (b->server);
  settle (500);
  before = bench_vm_rss_kib (pid);
  if (!connect_all (b, n_clients))
    goto out;
  settle (2000);
  after = bench_vm_rss_kib (pid);
  printf ("server pid %d: VmRSS %" G_GINT64_FORMAT " KiB before, %" G_GINT64_FORMAT
          " KiB with %u idle logged-in clients: %.1f KiB per client\n", pid, before, after,
          n_clients, (after - before) / (double) n_clients);
  fflush (stdout);
  if (g_getenv ("BENCH_SMAPS_ROLLUP") != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%d/smaps_rollup", pid);
      g_autofree char *text = NULL;

      if (g_file_get_contents (path, &text, NULL, NULL))
        printf ("%s", text);
    }
  if (g_getenv ("BENCH_HOLD_S") != NULL)
    settle ((guint) atoi (g_getenv ("BENCH_HOLD_S")) * 1000);
  fflush (stdout);
  status = 0;

out:
  bench_free (b);
  return status;
}

/* ---- routing ---- */

static void
send_frames (Client *c)
{
  guint8 frame[4 + FRAME_PAYLOAD] = { 0 };

  frame[0] = (guint8) (c->channel >> 24);
  frame[1] = (guint8) (c->channel >> 16);
  frame[2] = (guint8) (c->channel >> 8);
  frame[3] = (guint8) c->channel;
  /* the window counts frames the peer has not received yet */
  while (c->bench->sending && c->sent - c->peer->got < c->bench->window)
    {
      soup_websocket_connection_send_binary (c->ws, frame, sizeof frame);
      c->sent++;
    }
}

static int
run_route (const char *server_path,
           guint       n_pairs,
           guint       window,
           guint       seconds)
{
  Bench *b = bench_new ();
  int pid;
  double cpu0, cpu1, elapsed;
  gint64 t0, t1;
  gboolean stop = FALSE;
  int status = 1;

  b->window = window;
  if (!start_populated (b, server_path, 2 * n_pairs, TRUE))
    goto out;
  pid = bench_server_get_pid (b->server);
  if (!connect_all (b, 2 * n_pairs))
    goto out;
  for (guint i = 0; i < n_pairs; i++)
    {
      Client *a = g_ptr_array_index (b->clients, 2 * i);
      Client *z = g_ptr_array_index (b->clients, 2 * i + 1);
      g_autoptr(JsonObject) open = json_object_new ();

      a->peer = z;
      z->peer = a;
      a->initiator = TRUE;
      json_object_set_string_member (open, "type", "relay-open");
      json_object_set_string_member (open, "id", "open");
      json_object_set_string_member (open, "user", z->user);
      json_object_set_string_member (open, "device", "bench");
      send_json (a, open);
    }
  if (!bench_wait_flag (&b->all_channels, STEP_TIMEOUT_MS))
    {
      fprintf (stderr, "bench-server-load: %u of %u channel ends open\n", b->channels_ready,
               b->clients->len);
      goto out;
    }

  /* one second of warm-up, then the measured interval */
  b->sending = TRUE;
  for (guint i = 0; i < b->clients->len; i++)
    send_frames (g_ptr_array_index (b->clients, i));
  settle (1000);
  b->received = 0;
  cpu0 = bench_cpu_seconds (pid);
  t0 = g_get_monotonic_time ();
  bench_wait_flag (&stop, seconds * 1000);
  t1 = g_get_monotonic_time ();
  cpu1 = bench_cpu_seconds (pid);
  elapsed = (t1 - t0) / 1e6;
  b->sending = FALSE;
  printf ("%u pairs, both ends sending %u-byte frames, window %u: %" G_GUINT64_FORMAT
          " frames routed in %.2f s = %.0f frames/s; server CPU %.2f s = %.2f us per frame "
          "(%.0f%% of one core)\n", n_pairs, FRAME_PAYLOAD, window, b->received, elapsed,
          b->received / elapsed, cpu1 - cpu0, (cpu1 - cpu0) * 1e6 / (double) b->received,
          100.0 * (cpu1 - cpu0) / elapsed);
  fflush (stdout);
  status = 0;

out:
  bench_free (b);
  return status;
}

int
main (int    argc,
      char **argv)
{
  gint clients = 2000, pairs = 50, window = 16, seconds = 5;
  GOptionEntry entries[] = {
    { "clients", 0, 0, G_OPTION_ARG_INT, &clients, "memory: idle clients (2000)", "N" },
    { "pairs", 0, 0, G_OPTION_ARG_INT, &pairs, "route: client pairs (50)", "N" },
    { "window", 0, 0, G_OPTION_ARG_INT, &window, "route: frames in flight per end (16)", "N" },
    { "seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "route: measured seconds (5)", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("SERVER-PROGRAM memory|route");
  g_autoptr(GError) error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 3 ||
      clients < 1 || clients > 15000 || pairs < 1 || pairs > 5000 || window < 1 ||
      window > 4096 || seconds < 1 || seconds > 600)
    {
      fprintf (stderr, "usage: bench-server-load SERVER-PROGRAM memory|route [options]\n");
      return 2;
    }
  if (sodium_init () < 0)
    return 1;
  raise_fd_limit ();
  if (strcmp (argv[2], "memory") == 0)
    return run_memory (argv[1], (guint) clients);
  if (strcmp (argv[2], "route") == 0)
    return run_route (argv[1], (guint) pairs, (guint) window, (guint) seconds);
  fprintf (stderr, "bench-server-load: unknown mode %s\n", argv[2]);
  return 2;
}
