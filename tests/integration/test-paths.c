/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-paths.c: loopback tests of what `path` shows and of the privacy switch: `path -v`
 * lists the candidates tried and what this network allows, and with `set USER relay-only on`
 * the contact never receives one of this device's candidates, each side naming the reason. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-fixture.h"

#include <signal.h>
#include <string.h>

/* the client traces every control message it receives, used or not; GLib writes debug
 * messages to standard output, between the JSON lines */
static const char *const trace_env[] = { "G_MESSAGES_DEBUG=pinhole-direct", NULL };

/* registers alice and bob as contacts and starts alice's listen; Returns: (transfer full)
 * (nullable): "alice/DEVICE", the peer id bob's side sees */
static char *
alice_online (PhFixture *f,
              PhProc   **out_alice)
{
  const char *device;

  ph_fixture_register (f, "alice");
  ph_fixture_register (f, "bob");
  ph_fixture_contacts (f, "alice", "bob");
  *out_alice = ph_fixture_listen (f, "alice", "alice");
  device = ph_listen_device (*out_alice);
  return device ? g_strconcat ("alice/", device, NULL) : NULL;
}

/* Returns: (transfer full): what @p wrote to standard output, line by line */
static char *
lines_text (PhProc *p)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < p->lines->len; i++)
    g_string_append_printf (text, "%s\n", (char *) g_ptr_array_index (p->lines, i));
  return g_string_free (text, FALSE);
}

/* ends a `path` without --count as Ctrl-C does, which is a clean exit */
static void
path_interrupt (PhProc *p)
{
  if (!p->exited)
    g_subprocess_send_signal (p->proc, SIGINT);
  g_assert_true (ph_proc_wait (p, PH_CLI_MS));
  g_assert_cmpint (p->status, ==, 0);
}

static gboolean
lan_block_printed (gpointer data)
{
  PhProc *p = data;
  gboolean in_lan = FALSE;

  for (guint i = 0; i < p->lines->len; i++)
    {
      const char *line = g_ptr_array_index (p->lines, i);

      if (!g_str_has_prefix (line, "    "))
        in_lan = g_str_has_prefix (line, "alice via lan (");
      else if (in_lan && g_str_has_prefix (line, "    this network: "))
        return TRUE;
    }
  return p->out_eof;
}

/* `path alice -v` in plain text: every probe is a line "alice via KIND (REMOTE) in RTT[:
 * REASON]", then one line per candidate tried, then what this network allows. It starts on
 * the relay looking for a direct path and moves to the loopback "lan" path, whose candidate
 * it shows as the check that succeeded. */
static void
test_verbose (PhFixture    *f,
              gconstpointer data)
{
  const char *args[] = { "path", "alice", "-v", NULL };
  PhCliOptions text = { NULL, TRUE };
  g_autofree char *peer = NULL;
  g_autoptr(GRegex) header = g_regex_new ("^alice via (relay|lan|upnp|nat-pmp|udp-punch|"
                                          "tcp-punch) \\(([^)]+)\\) in ([0-9]+\\.[0-9]{2} ms|"
                                          "no reply yet)(: (.+))?$", 0, 0, NULL);
  g_autoptr(GRegex) candidate = g_regex_new ("^    ((udp|tcp) (host|srflx|prflx|mapped "
                                             "\\([a-z-]+\\)) |tcp connection )"
                                             "([0-9.]+:[0-9]+): (.+)$", 0, 0, NULL);
  g_autofree char *kind = NULL;      /* of the latest probe */
  g_autofree char *remote = NULL;
  g_autofree char *network = NULL;
  gboolean remote_succeeded = FALSE; /* its check to the far end is listed as a success */
  gboolean in_block = FALSE;
  guint blocks = 0;
  PhProc *alice, *path;

  ph_return_if_failed ();
  peer = alice_online (f, &alice);
  ph_return_if_failed ();
  path = ph_fixture_spawn (f, "bob", &text, args);
  if (path == NULL)
    return;
  if (!ph_iterate_until (lan_block_printed, path, PH_EVENT_MS) || path->out_eof)
    g_test_fail_printf ("no lan path within %d ms: %s", PH_EVENT_MS, path->err_text->str);
  path_interrupt (path);
  ph_return_if_failed ();

  for (guint i = 0; i < path->lines->len; i++)
    {
      const char *line = g_ptr_array_index (path->lines, i);
      g_autoptr(GMatchInfo) match = NULL;

      if (g_str_has_prefix (line, "    this network: "))
        {
          /* the end of a probe's block */
          g_assert_true (in_block);
          in_block = FALSE;
          g_free (network);
          network = g_strdup (line + strlen ("    this network: "));
          continue;
        }
      if (g_regex_match (candidate, line, 0, &match))
        {
          g_autofree char *address = g_match_info_fetch (match, 4);
          g_autofree char *state = g_match_info_fetch (match, 5);

          g_assert_true (in_block);
          remote_succeeded |= g_str_has_prefix (line, "    udp ") &&
                              g_strcmp0 (address, remote) == 0 &&
                              g_str_has_prefix (state, "succeeded in ");
          continue;
        }
      g_clear_pointer (&match, g_match_info_unref);
      if (!g_regex_match (header, line, 0, &match))
        {
          g_test_fail_printf ("line %u of path -v is neither a probe, a candidate nor the "
                              "network: \"%s\"", i + 1, line);
          return;
        }
      g_assert_false (in_block);
      in_block = TRUE;
      g_free (kind);
      kind = g_match_info_fetch (match, 1);
      g_free (remote);
      remote = g_match_info_fetch (match, 2);
      remote_succeeded = FALSE;
      if (blocks++ == 0)
        {
          g_autofree char *reason = g_match_info_fetch (match, 5);

          g_assert_cmpstr (kind, ==, "relay");
          g_assert_cmpstr (remote, ==, "server");
          g_assert_cmpstr (reason, ==, "looking for a direct path");
        }
    }
  /* the last probe, complete, is on the lan path, with the check that found it */
  g_assert_false (in_block);
  g_assert_cmpuint (blocks, >=, 2);
  g_assert_cmpstr (kind, ==, "lan");
  g_assert_true (g_str_has_prefix (remote, "127.0.0.1:"));
  g_assert_true (remote_succeeded);
  g_assert_cmpstr (network, ==, "no NAT");
}

/* `path CONTACT --count N --json` with the control messages traced: GLib prints g_debug lines
 * on standard output, between the JSON lines, so they are read from r->out */
static PhResult *
path_reports (PhFixture  *f,
              const char *profile,
              const char *contact,
              const char *count)
{
  const char *args[] = { "path", contact, "-v", "--count", count, NULL };
  PhCliOptions traced = { trace_env, FALSE };

  return ph_fixture_cli_with (f, profile, NULL, NULL, &traced, args);
}

static void
set_relay_only (PhFixture *f,
                gboolean   on)
{
  g_autoptr(PhResult) r = ph_fixture_cli (f, "alice", "set", "bob", "relay-only",
                                          on ? "on" : "off", NULL);
  JsonObject *event = ph_result_event (r, "set");

  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (event);
  if (event != NULL)
    {
      g_assert_true (json_object_has_member (event, "relay_only"));
      g_assert_cmpint (json_object_get_boolean_member (event, "relay_only"), ==, on);
    }
}

/* every report of @r is on the relay for @reason, with no candidate list */
static void
assert_relayed_by_choice (PhResult   *r,
                          const char *reason)
{
  g_assert_cmpint (r->status, ==, 0);
  g_assert_cmpuint (ph_result_count (r, "path"), ==, r->events->len);
  g_assert_cmpuint (r->events->len, ==, 3);
  for (guint i = 0; i < r->events->len; i++)
    {
      JsonObject *o = g_ptr_array_index (r->events, i);

      g_assert_cmpstr (ph_event_string (o, "path"), ==, "relay");
      g_assert_cmpstr (ph_event_string (o, "reason"), ==, reason);
      g_assert_false (json_object_has_member (o, "candidates"));
    }
}

/* alice keeps bob on the relay: bob's client never receives a candidate of hers (what comes
 * over the session is traced as it arrives), both sides name the reason, and once she turns
 * it off her candidates reach him and the session goes direct */
static void
test_relay_only (PhFixture    *f,
                 gconstpointer data)
{
  g_autofree char *peer = NULL;
  g_autofree char *told = NULL;
  g_autofree char *candidates = NULL;
  PhProc *alice;

  ph_return_if_failed ();
  peer = alice_online (f, &alice);
  ph_fixture_listen (f, "bob", "bob");
  ph_return_if_failed ();
  told = g_strdup_printf ("control message \"relay-only\" from %s\n", peer);
  candidates = g_strdup_printf ("control message \"candidates\" from %s\n", peer);

  set_relay_only (f, TRUE);
  {
    g_autoptr(PhResult) r = path_reports (f, "bob", "alice", "3");

    assert_relayed_by_choice (r, "relay-only by the contact's choice");
    g_assert_nonnull (strstr (r->out, told));
    g_assert_null (strstr (r->out, candidates));
  }
  {
    g_autoptr(PhResult) r = path_reports (f, "alice", "bob", "3");

    assert_relayed_by_choice (r, "relay-only by choice");
  }

  set_relay_only (f, FALSE);
  {
    const char *args[] = { "path", "alice", "-v", NULL };
    PhCliOptions traced = { trace_env, FALSE };
    PhProc *path = ph_fixture_spawn (f, "bob", &traced, args);
    guint cursor = 0;
    JsonObject *lan;
    JsonArray *tried;
    gboolean found = FALSE;
    g_autofree char *out = NULL;

    if (path == NULL)
      return;
    lan = ph_proc_wait_named (path, &cursor, "path", "path", "lan", PH_EVENT_MS);
    path_interrupt (path);
    g_assert_nonnull (lan);
    if (lan == NULL)
      return;
    out = lines_text (path);
    g_assert_null (strstr (out, told));
    g_assert_nonnull (strstr (out, candidates));
    tried = json_object_get_array_member (lan, "candidates");
    for (guint i = 0; tried != NULL && i < json_array_get_length (tried); i++)
      {
        const char *line = json_array_get_string_element (tried, i);
        g_autofree char *check = g_strdup_printf (" %s: succeeded in ",
                                                  ph_event_string (lan, "remote"));

        found |= g_str_has_prefix (line, "udp ") && strstr (line, check) != NULL;
      }
    g_assert_true (found);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
#define ADD(path, func) \
  g_test_add (path, PhFixture, NULL, ph_fixture_setup, func, ph_fixture_teardown)
  ADD ("/integration/paths/verbose", test_verbose);
  ADD ("/integration/paths/relay-only", test_relay_only);
#undef ADD
  return g_test_run ();
}
