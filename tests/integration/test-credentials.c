/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-credentials.c: a profile's token and password go to its own server only. A fake
 * WebSocket server in the test records every text message and answers each with error 401;
 * pinhole-cli pointed at it by --server or PINHOLE_SERVER must refuse before sending anything
 * but for an explicit `login`, and a wss:// profile never falls back to ws://. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-fixture.h"

#include <sqlite3.h>
#include <string.h>

typedef struct
{
  PhFixture   base;
  SoupServer *fake;
  char       *fake_url;     /* ws://127.0.0.1:PORT/pinhole */
  guint16     fake_port;
  GPtrArray  *connections;  /* SoupWebsocketConnection*: kept open */
  GPtrArray  *texts;        /* char*: every text message the fake received */
} CredFixture;

static void
fake_message_cb (SoupWebsocketConnection *ws,
                 int                      type,
                 GBytes                  *message,
                 gpointer                 user_data)
{
  CredFixture *f = user_data;
  gsize len;
  const char *data = g_bytes_get_data (message, &len);
  g_autofree char *text = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *reply = NULL;
  const char *id = NULL;

  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    return;
  text = g_strndup (data, len);
  g_ptr_array_add (f->texts, g_strdup (text));
  if (json_parser_load_from_data (parser, text, -1, NULL) &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    id = json_object_get_string_member_with_default (
      json_node_get_object (json_parser_get_root (parser)), "id", NULL);
  json_builder_begin_object (builder);
  if (strstr (text, "\"challenge\"") != NULL)
    {
      /* a challenge like any server's, so that the client goes on to log in */
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, "result");
      json_builder_set_member_name (builder, "id");
      json_builder_add_string_value (builder, id != NULL ? id : "");
      json_builder_set_member_name (builder, "nonce");
      json_builder_add_string_value (builder, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
      goto send;
    }
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "error");
  if (id != NULL)
    {
      json_builder_set_member_name (builder, "id");
      json_builder_add_string_value (builder, id);
    }
  json_builder_set_member_name (builder, "code");
  json_builder_add_int_value (builder, 401);
  json_builder_set_member_name (builder, "condition");
  json_builder_add_string_value (builder, "not-authorized");
  json_builder_set_member_name (builder, "text");
  json_builder_add_string_value (builder, "wrong user or password");
send:
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  reply = json_generator_to_data (generator, NULL);
  soup_websocket_connection_send_text (ws, reply);
}

static void
fake_websocket_cb (SoupServer              *server,
                   SoupServerMessage       *msg,
                   const char              *path,
                   SoupWebsocketConnection *ws,
                   gpointer                 user_data)
{
  CredFixture *f = user_data;

  g_ptr_array_add (f->connections, g_object_ref (ws));
  g_signal_connect (ws, "message", G_CALLBACK (fake_message_cb), f);
}

static void
cred_setup (CredFixture  *f,
            gconstpointer data)
{
  char *protocols[] = { (char *) "pinhole-1", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSList) uris = NULL;

  ph_fixture_setup (&f->base, data);
  f->connections = g_ptr_array_new_with_free_func (g_object_unref);
  f->texts = g_ptr_array_new_with_free_func (g_free);
  f->fake = soup_server_new (NULL, NULL);
  soup_server_add_websocket_handler (f->fake, "/pinhole", NULL, protocols, fake_websocket_cb, f,
                                     NULL);
  if (!soup_server_listen_local (f->fake, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
    {
      g_test_fail_printf ("the fake server cannot listen: %s", error->message);
      return;
    }
  uris = soup_server_get_uris (f->fake);
  g_assert_nonnull (uris);
  f->fake_port = (guint16) g_uri_get_port (uris->data);
  g_slist_free_full (g_steal_pointer (&uris), (GDestroyNotify) g_uri_unref);
  f->fake_url = g_strdup_printf ("ws://127.0.0.1:%u/pinhole", f->fake_port);
}

static void
cred_teardown (CredFixture  *f,
               gconstpointer data)
{
  for (guint i = 0; i < f->connections->len; i++)
    {
      SoupWebsocketConnection *ws = f->connections->pdata[i];

      g_signal_handlers_disconnect_by_data (ws, f);
    }
  g_clear_pointer (&f->connections, g_ptr_array_unref);
  if (f->fake != NULL)
    soup_server_disconnect (f->fake);
  g_clear_object (&f->fake);
  g_clear_pointer (&f->texts, g_ptr_array_unref);
  g_clear_pointer (&f->fake_url, g_free);
  ph_fixture_teardown (&f->base, data);
}

/* Returns: (transfer full) (nullable): the profile's setting @key, read from its database */
static char *
profile_setting (CredFixture *f,
                 const char  *profile,
                 const char  *key)
{
  g_autofree char *dir = ph_fixture_profile (&f->base, profile);
  g_autofree char *path = g_build_filename (dir, "profile.db", NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *value = NULL;

  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2 (db, "SELECT value FROM settings WHERE key = ?", -1, &stmt,
                          NULL) == SQLITE_OK)
    {
      sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT);
      if (sqlite3_step (stmt) == SQLITE_ROW)
        value = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
    }
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return value;
}

static void
set_profile_setting (CredFixture *f,
                     const char  *profile,
                     const char  *key,
                     const char  *value)
{
  g_autofree char *dir = ph_fixture_profile (&f->base, profile);
  g_autofree char *path = g_build_filename (dir, "profile.db", NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  int rc;

  rc = sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (db, "UPDATE settings SET value = ? WHERE key = ?", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    {
      sqlite3_bind_text (stmt, 1, value, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (stmt, 2, key, -1, SQLITE_TRANSIENT);
      rc = sqlite3_step (stmt) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
  g_assert_cmpint (rc, ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_changes (db), ==, 1);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
}

/* the fake received no text naming @needle */
static void
assert_fake_never_saw (CredFixture *f,
                       const char  *needle)
{
  for (guint i = 0; i < f->texts->len; i++)
    if (strstr (f->texts->pdata[i], needle) != NULL)
      g_test_fail_printf ("the fake server received \"%s\": %s", needle,
                          (const char *) f->texts->pdata[i]);
}

static PhResult *
run_cli (CredFixture       *f,
         const char        *url,
         const char        *password,
         const char *const *env,
         const char *const *args)
{
  g_autofree char *dir = ph_fixture_profile (&f->base, "alice");
  PhCliOptions options = { env, FALSE };

  return ph_cli_run_with (url, dir, password, &options, NULL, args);
}

/* contacts, send and listen with --server (or PINHOLE_SERVER) naming another server: exit 1
 * with one line that says how to log in there, and nothing at all sent to it */
static void
test_other_server_refused (CredFixture  *f,
                           gconstpointer data)
{
  g_autofree char *password = ph_password_of ("alice");
  g_autofree char *token = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *bare = NULL;
  g_autofree char *env_server = NULL;
  const char *contacts[] = { "contacts", NULL };
  const char *send[] = { "send", "bob", "hello", NULL };
  const char *listen[] = { "listen", "--messages", "1", NULL };
  const char *const *commands[] = { contacts, send, listen };

  if (f->base.server == NULL || f->fake_url == NULL)
    return;
  ph_fixture_register (&f->base, "alice");
  ph_return_if_failed ();
  token = profile_setting (f, "alice", "token");
  g_assert_nonnull (token);
  expected = g_strdup_printf ("pinhole-cli: this profile belongs to %s; to use it with %s, log "
                              "in there: pinhole-cli --server %s login USER\n",
                              f->base.server->url, f->fake_url, f->fake_url);
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      /* with PINHOLE_PASSWORD set, as it would be to fall back from the token */
      g_autoptr(PhResult) r = run_cli (f, f->fake_url, password, NULL, commands[i]);

      g_assert_cmpint (r->status, ==, 1);
      g_assert_cmpstr (r->err, ==, expected);
    }
  {
    /* PINHOLE_SERVER is --server too; a URL without its path is the /pinhole one */
    g_autofree char *bare_fake = g_strdup_printf ("ws://127.0.0.1:%u", f->fake_port);
    g_autoptr(PhResult) r = NULL;

    env_server = g_strconcat ("PINHOLE_SERVER=", bare_fake, NULL);
    {
      const char *const env[] = { env_server, NULL };

      r = run_cli (f, NULL, password, env, contacts);
    }
    g_assert_cmpint (r->status, ==, 1);
    g_assert_cmpstr (r->err, ==, expected);
  }
  g_assert_cmpuint (f->texts->len, ==, 0);
  g_assert_cmpuint (f->connections->len, ==, 0);
  assert_fake_never_saw (f, token);
  assert_fake_never_saw (f, password);
  assert_fake_never_saw (f, "login");
  assert_fake_never_saw (f, "register");
  ph_return_if_failed ();

  /* the profile's own server, however spelled, is still fine: the harness names it each time */
  bare = g_strdup_printf ("ws://127.0.0.1:%u", f->base.server->port);
  {
    g_autoptr(PhResult) r = run_cli (f, bare, NULL, NULL, contacts);

    g_assert_cmpint (r->status, ==, 0);
  }
  {
    g_autoptr(PhResult) r = run_cli (f, f->base.server->url, NULL, NULL, contacts);

    g_assert_cmpint (r->status, ==, 0);
  }
}

/* `login USER --server OTHER` asks to move the profile there: it talks to that server with the
 * password, never the old token; refused there, the profile stays with its own server */
static void
test_login_elsewhere (CredFixture  *f,
                      gconstpointer data)
{
  g_autofree char *password = ph_password_of ("alice");
  g_autofree char *token = NULL;
  g_autofree char *server_after = NULL;
  g_autofree char *token_after = NULL;
  const char *login[] = { "login", "alice", NULL };
  const char *contacts[] = { "contacts", NULL };
  gboolean saw_login = FALSE;

  if (f->base.server == NULL || f->fake_url == NULL)
    return;
  ph_fixture_register (&f->base, "alice");
  ph_return_if_failed ();
  token = profile_setting (f, "alice", "token");
  {
    g_autoptr(PhResult) r = run_cli (f, f->fake_url, password, NULL, login);

    g_assert_cmpint (r->status, ==, 1);
    g_assert_nonnull (strstr (r->err, "wrong user or password"));
  }
  for (guint i = 0; i < f->texts->len; i++)
    saw_login |= strstr (f->texts->pdata[i], "\"login\"") != NULL &&
                 strstr (f->texts->pdata[i], password) != NULL;
  g_assert_true (saw_login);
  assert_fake_never_saw (f, token);
  server_after = profile_setting (f, "alice", "server");
  token_after = profile_setting (f, "alice", "token");
  g_assert_cmpstr (server_after, ==, f->base.server->url);
  g_assert_cmpstr (token_after, ==, token);
  {
    g_autoptr(PhResult) r = run_cli (f, f->base.server->url, NULL, NULL, contacts);

    g_assert_cmpint (r->status, ==, 0);
  }
}

/* `login USER --server OTHER` that succeeds binds the profile to OTHER and its token: then the
 * first server is the other one */
static void
test_login_moves_profile (CredFixture  *f,
                          gconstpointer data)
{
  g_autofree char *password = ph_password_of ("alice");
  g_autoptr(GError) error = NULL;
  PhServer *second = NULL;
  g_autofree char *old_token = NULL;
  g_autofree char *new_token = NULL;
  g_autofree char *server_after = NULL;
  const char *login[] = { "login", "alice", NULL };
  const char *contacts[] = { "contacts", NULL };

  if (f->base.server == NULL)
    return;
  ph_fixture_register (&f->base, "alice");
  ph_return_if_failed ();
  old_token = profile_setting (f, "alice", "token");
  second = ph_server_start (&error);
  g_assert_no_error (error);
  if (second == NULL)
    return;
  {
    /* the account alice on the second server, from a profile of its own */
    g_autofree char *dir = ph_fixture_profile (&f->base, "alice-second");
    const char *args[] = { "register", "alice", NULL };
    g_autoptr(PhResult) r = ph_cli_run (second->url, dir, password, NULL, args);

    g_assert_cmpint (r->status, ==, 0);
  }
  {
    g_autoptr(PhResult) r = run_cli (f, second->url, password, NULL, login);

    g_assert_cmpint (r->status, ==, 0);
  }
  server_after = profile_setting (f, "alice", "server");
  new_token = profile_setting (f, "alice", "token");
  g_assert_cmpstr (server_after, ==, second->url);
  g_assert_nonnull (new_token);
  g_assert_cmpstr (new_token, !=, old_token);
  {
    g_autoptr(PhResult) r = run_cli (f, second->url, NULL, NULL, contacts);

    g_assert_cmpint (r->status, ==, 0);
  }
  {
    g_autoptr(PhResult) r = run_cli (f, f->base.server->url, NULL, NULL, contacts);

    g_assert_cmpint (r->status, ==, 1);
    g_assert_nonnull (strstr (r->err, "this profile belongs to"));
  }
  ph_server_free (second);
}

/* a profile on wss:// refuses ws:// on the very same host and port, for every command and for
 * login too: the token or the password would go in the clear */
static void
test_wss_no_ws_fallback (CredFixture  *f,
                         gconstpointer data)
{
  g_autofree char *password = ph_password_of ("alice");
  g_autofree char *token = NULL;
  g_autofree char *wss = NULL;
  const char *contacts[] = { "contacts", NULL };
  const char *login[] = { "login", "alice", NULL };
  const char *const *commands[] = { contacts, login };

  if (f->base.server == NULL || f->fake_url == NULL)
    return;
  ph_fixture_register (&f->base, "alice");
  ph_return_if_failed ();
  token = profile_setting (f, "alice", "token");
  /* as if registered over TLS on the fake's host and port */
  wss = g_strdup_printf ("wss://127.0.0.1:%u/pinhole", f->fake_port);
  set_profile_setting (f, "alice", "server", wss);
  ph_return_if_failed ();
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autoptr(PhResult) r = run_cli (f, f->fake_url, password, NULL, commands[i]);
      g_autofree char *expected =
        g_strdup_printf ("pinhole-cli: this profile belongs to %s and never falls back to "
                         "ws:// (%s); use --profile DIR for another profile\n", wss, f->fake_url);

      g_assert_cmpint (r->status, ==, 1);
      g_assert_cmpstr (r->err, ==, expected);
    }
  g_assert_cmpuint (f->texts->len, ==, 0);
  assert_fake_never_saw (f, token);
  assert_fake_never_saw (f, password);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
#define ADD(path, func) \
  g_test_add (path, CredFixture, NULL, cred_setup, func, cred_teardown)
  ADD ("/integration/credentials/other-server-refused", test_other_server_refused);
  ADD ("/integration/credentials/login-elsewhere", test_login_elsewhere);
  ADD ("/integration/credentials/login-moves-profile", test_login_moves_profile);
  ADD ("/integration/credentials/wss-no-ws-fallback", test_wss_no_ws_fallback);
#undef ADD
  return g_test_run ();
}
