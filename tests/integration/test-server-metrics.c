/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-server-metrics.c: what an operator reads. pinhole-server --metrics serves /metrics in
 * Prometheus's text format and /healthz, read over real HTTP while real clients register,
 * chat and open relay channels: the counts follow what they did; the main listener answers
 * /healthz but not /metrics; during a shutdown that waits for the disk /healthz says 503,
 * and the server then ends by itself. --log-json writes its log as JSON lines. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-fixture.h"

#include <libsoup/soup.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define SLOW_SYNC_MS "1500"

typedef struct
{
  PhFixture  f;
  char      *metrics_url;   /* http://127.0.0.1:PORT/metrics */
} Fixture;

static gboolean
four_lines (gpointer data)
{
  PhProc *p = data;

  return p->lines->len >= 4 || p->exited;
}

/* the server in German, as a German host's systemd starts it: decimal commas in its locale
 * must not reach /metrics (install-deps.sh makes the locale; the test says so without it) */
#define SERVER_LOCALE "de_DE.UTF-8"

static void
start (Fixture    *x,
       const char *sync_delay_ms)
{
  const char *args[] = { "--metrics", "127.0.0.1:0", NULL };
  const char *line;

  if (sync_delay_ms != NULL)
    g_setenv ("PINHOLE_TEST_SERVER_SYNC_DELAY_MS", sync_delay_ms, TRUE);
  g_setenv ("LC_ALL", SERVER_LOCALE, TRUE);
  ph_fixture_start_server (&x->f, args);
  g_unsetenv ("LC_ALL");
  g_unsetenv ("PINHOLE_TEST_SERVER_SYNC_DELAY_MS");
  if (x->f.server == NULL)
    return;
  /* "metrics on http://127.0.0.1:PORT/metrics", after the lines every server prints */
  g_assert_true (ph_iterate_until (four_lines, x->f.server->proc, 5000));
  if (x->f.server->proc->lines->len < 4)
    return;
  line = g_ptr_array_index (x->f.server->proc->lines, 3);
  g_assert_true (g_str_has_prefix (line, "metrics on http://127.0.0.1:"));
  if (g_str_has_prefix (line, "metrics on "))
    x->metrics_url = g_strdup (line + strlen ("metrics on "));
}

static void
setup (Fixture       *x,
       gconstpointer  data)
{
  ph_fixture_setup_bare (&x->f, data);
}

static void
teardown (Fixture       *x,
          gconstpointer  data)
{
  ph_fixture_teardown (&x->f, data);
  g_clear_pointer (&x->metrics_url, g_free);
}

/* GET @url; Returns: (transfer full): the body, with the status in @status */
static char *
get (const char *url,
     guint      *status)
{
  g_autoptr(SoupSession) session = soup_session_new_with_options ("timeout", 5, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read (session, msg, NULL, &error);

  g_assert_no_error (error);
  *status = soup_message_get_status (msg);
  return body != NULL ? g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body))
                      : g_strdup ("");
}

/* the scrape, checked against the text format: every sample's family has its # TYPE line
 * before it, and every value is a number */
static char *
scrape (Fixture *x)
{
  guint status = 0;
  char *text = get (x->metrics_url, &status);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr(GHashTable) typed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  g_assert_cmpuint (status, ==, 200);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *l = lines[i];
      g_autofree char *name = NULL;
      const char *value;
      char *end = NULL;

      if (*l == '\0')
        continue;
      if (g_str_has_prefix (l, "# TYPE "))
        {
          g_auto(GStrv) w = g_strsplit (l + strlen ("# TYPE "), " ", 2);

          g_hash_table_add (typed, g_strdup (w[0]));
          continue;
        }
      if (*l == '#')
        continue;
      name = g_strndup (l, strcspn (l, "{ "));
      if (!g_hash_table_contains (typed, name))
        {
          /* a summary's samples are NAME_sum and NAME_count */
          char *suffix = strrchr (name, '_');

          if (suffix != NULL && (strcmp (suffix, "_sum") == 0 || strcmp (suffix, "_count") == 0))
            *suffix = '\0';
        }
      if (!g_hash_table_contains (typed, name))
        g_test_fail_printf ("sample without a # TYPE line before it: %s", l);
      value = strrchr (l, ' ');
      g_assert_nonnull (value);
      if (value != NULL)
        {
          g_ascii_strtod (value + 1, &end);
          if (end == value + 1 || *end != '\0')
            g_test_fail_printf ("not a number: %s", l);
        }
    }
  return text;
}

/* the value of the sample @series ("name" or "name{labels}") in @text, -1 if absent */
static double
value_of (const char *text,
          const char *series)
{
  g_autofree char *needle = g_strconcat ("\n", series, " ", NULL);
  const char *at = strstr (text, needle);

  if (at == NULL)
    return -1;
  return g_ascii_strtod (at + strlen (needle), NULL);
}

static void
test_counts (Fixture       *x,
             gconstpointer  data)
{
  locale_t german = newlocale (LC_ALL_MASK, SERVER_LOCALE, (locale_t) 0);

  if (german == (locale_t) 0)
    {
      g_test_fail_printf ("the locale %s is missing (build-aux/install-deps.sh makes it)",
                          SERVER_LOCALE);
      return;
    }
  freelocale (german);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  PhProc *bob;
  guint cursor = 0;

  start (x, NULL);
  if (x->metrics_url == NULL)
    return;
  before = scrape (x);
  g_assert_cmpfloat (value_of (before, "pinhole_connections{state=\"websocket\"}"), ==, 0);
  g_assert_cmpfloat (value_of (before, "pinhole_requests_total{type=\"register\"}"), ==, 0);
  g_assert_cmpfloat (value_of (before, "pinhole_relay_frames_total"), ==, 0);

  ph_fixture_register (&x->f, "alice");
  ph_fixture_register (&x->f, "bob");
  ph_fixture_contacts (&x->f, "alice", "bob");
  bob = ph_fixture_listen (&x->f, "bob", "bob");
  ph_return_if_failed ();
  {
    g_autoptr(PhResult) r = ph_fixture_cli (&x->f, "alice", "send", "bob", "counted", NULL);

    g_assert_cmpint (r->status, ==, 0);
  }
  g_assert_nonnull (ph_proc_wait_named (bob, &cursor, "message", "text", "counted",
                                        PH_EVENT_MS));
  after = scrape (x);
  g_assert_cmpfloat (value_of (after, "pinhole_requests_total{type=\"register\"}"), ==, 2);
  g_assert_cmpfloat (value_of (after, "pinhole_requests_total{type=\"subscribe\"}"), >=, 1);
  g_assert_cmpfloat (value_of (after, "pinhole_requests_total{type=\"relay-open\"}"), >=, 1);
  /* the live message went over a relay channel: its session's frames were forwarded */
  g_assert_cmpfloat (value_of (after, "pinhole_relay_frames_total"), >, 0);
  g_assert_cmpfloat (value_of (after, "pinhole_relay_bytes_total"), >,
                     value_of (after, "pinhole_relay_frames_total"));
  /* bob's listen is the one device still logged in */
  g_assert_cmpfloat (value_of (after, "pinhole_devices_logged_in"), ==, 1);
  g_assert_cmpfloat (value_of (after, "pinhole_connections{state=\"websocket\"}"), ==, 1);
  /* the two accounts and the contact answers waited for the disk */
  g_assert_cmpfloat (value_of (after, "pinhole_commit_wait_seconds_count"), >=, 3);
  /* more than 0, so that a decimal comma would show (scrape() checks every number) */
  g_assert_cmpfloat (value_of (after, "pinhole_commit_wait_seconds_sum"), >, 0);
  g_assert_cmpfloat (value_of (after, "pinhole_commit_failures_total"), ==, 0);
}

/* /healthz on both listeners; /metrics only on its own */
static void
test_listeners (Fixture       *x,
                gconstpointer  data)
{
  g_autofree char *health_url = NULL;
  g_autofree char *main_health = NULL;
  g_autofree char *main_metrics = NULL;
  g_autofree char *body = NULL;
  g_autoptr(GUri) ws = NULL;
  guint status = 0;

  start (x, NULL);
  if (x->metrics_url == NULL)
    return;
  health_url = g_strdup (x->metrics_url);
  strcpy (strrchr (health_url, '/'), "/healthz");
  body = get (health_url, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (body, ==, "ok\n");

  ws = g_uri_parse (x->f.server->url, G_URI_FLAGS_NONE, NULL);
  main_health = g_strdup_printf ("http://127.0.0.1:%d/healthz", g_uri_get_port (ws));
  main_metrics = g_strdup_printf ("http://127.0.0.1:%d/metrics", g_uri_get_port (ws));
  g_free (body);
  body = get (main_health, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (body, ==, "ok\n");
  g_free (body);
  body = get (main_metrics, &status);
  g_assert_cmpuint (status, ==, 404);
}

/* SIGTERM while an answer waits for a slow disk: the server drains, and /healthz says so */
static void
test_draining (Fixture       *x,
               gconstpointer  data)
{
  const char *args[] = { "register", "carol", NULL };
  g_autofree char *health_url = NULL;
  g_autofree char *password = ph_password_of ("carol");
  g_autofree char *profile = NULL;
  g_autofree char *body = NULL;
  guint status = 0;
  PhProc *carol;

  start (x, SLOW_SYNC_MS);
  if (x->metrics_url == NULL)
    return;
  health_url = g_strdup (x->metrics_url);
  strcpy (strrchr (health_url, '/'), "/healthz");
  profile = ph_fixture_profile (&x->f, "carol");
  carol = ph_cli_spawn_with (x->f.server->url, profile, password, NULL, FALSE, args);
  g_assert_nonnull (carol);
  if (carol == NULL)
    return;
  g_ptr_array_add (x->f.procs, carol);
  /* the register request is in: its answer waits for the slow sync */
  ph_iterate_for (500);
  g_subprocess_send_signal (x->f.server->proc->proc, SIGTERM);
  ph_iterate_for (100);
  body = get (health_url, &status);
  g_assert_cmpuint (status, ==, 503);
  g_assert_cmpstr (body, ==, "shutting down\n");
  /* and it ends by itself once the answer went (test-server-durability shows the answer) */
  g_assert_true (ph_proc_wait (x->f.server->proc, 5000));
  g_assert_cmpint (x->f.server->proc->status, ==, 0);
}

/* --log-json: every line the server writes to standard error is one JSON object with the time,
 * level, domain and message, debug lines included when G_MESSAGES_DEBUG asks for them */
static void
test_json_logs (Fixture       *x,
                gconstpointer  data)
{
  const char *args[] = { "--log-json", NULL };
  g_auto(GStrv) lines = NULL;
  guint objects = 0, debug = 0, shutdown = 0;
  int status = -1;

  g_setenv ("G_MESSAGES_DEBUG", "pinhole-server", TRUE);
  ph_fixture_start_server (&x->f, args);
  g_unsetenv ("G_MESSAGES_DEBUG");
  if (x->f.server == NULL)
    return;
  ph_fixture_register (&x->f, "alice");
  g_assert_true (ph_server_stop (x->f.server, &status));
  g_assert_cmpint (status, ==, 0);
  lines = g_strsplit (x->f.server->log->str, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) error = NULL;
      JsonObject *o;

      if (*lines[i] == '\0')
        continue;
      if (!json_parser_load_from_data (parser, lines[i], -1, &error) ||
          !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        {
          g_test_fail_printf ("not a JSON object: %s", lines[i]);
          continue;
        }
      o = json_node_get_object (json_parser_get_root (parser));
      objects++;
      g_assert_true (g_str_has_suffix (json_object_get_string_member_with_default (o, "time",
                                                                                   ""), "Z"));
      g_assert_cmpstr (json_object_get_string_member_with_default (o, "domain", NULL), !=,
                       NULL);
      debug += g_strcmp0 (json_object_get_string_member_with_default (o, "level", ""),
                          "debug") == 0;
      shutdown += g_strcmp0 (json_object_get_string_member_with_default (o, "message", ""),
                             "shutting down") == 0;
    }
  g_assert_cmpuint (objects, >, 0);
  g_assert_cmpuint (debug, >, 0);
  g_assert_cmpuint (shutdown, ==, 1);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
#define ADD(path, fn) g_test_add ("/integration/server-metrics/" path, Fixture, NULL, setup, fn, \
                                  teardown)
  ADD ("counts", test_counts);
  ADD ("listeners", test_listeners);
  ADD ("draining", test_draining);
  ADD ("json-logs", test_json_logs);
#undef ADD
  return g_test_run ();
}
