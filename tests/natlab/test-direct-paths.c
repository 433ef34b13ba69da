/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-direct-paths.c: the real pinhole-server and pinhole-cli programs in NAT lab namespaces:
 * which path (lan, upnp/pcp/nat-pmp, udp-punch, tcp-punch, relay) each pair of networks ends on,
 * and why a pair stays relayed. A stream across path switches and delayed links are
 * test-direct-stream.c. */
#define G_LOG_DOMAIN "pinhole-test"

#include "direct-fixture.h"

#include <string.h>

/* the checks between two endpoint-dependent NATs give up after about 10 s */
#define GIVE_UP_S        14

/* the fixture: direct-fixture.h */
typedef DirectFixture Fixture;

/* ---- one pair of clients to a direct path ---- */

typedef struct
{
  NatlabNat   nat_west;
  NatlabNat   nat_east;
  gboolean    same_site;       /* bob on alice's LAN */
  gboolean    map_east;        /* bob may ask his router for port mappings */
  const char *expected[3];     /* the path kinds accepted, NULL-terminated */
} PairCase;

typedef struct
{
  PhProc *prober;              /* alice's `path bob` */
  PhProc *bob;                 /* bob's `listen` */
  char   *path;
  gint64  ms;                  /* from alice's start (bob already online) to a direct path */
  gint64  from_relay_ms;       /* from the session up on the relay to a direct path */
} PairResult;

static gboolean
expected_kind (const PairCase *c,
               const char     *path)
{
  for (guint i = 0; c->expected[i] != NULL; i++)
    if (g_strcmp0 (c->expected[i], path) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
is_expected_event (JsonObject *event,
                   gpointer    data)
{
  return path_of (event) != NULL && expected_kind (data, path_of (event));
}

/* alice's `path bob --count @count`, running; Returns: (transfer none) (nullable) */
static PhProc *
prober_start (Fixture *f,
              guint    count)
{
  g_autofree char *count_text = g_strdup_printf ("%u", count);
  PhProc *p = direct_cli_spawnv (f, "alice", 0,
                                 (const char *[]) { "path", "bob", "--count", count_text, NULL });

  if (p != NULL)
    g_ptr_array_add (f->ph->procs, p);
  return p;
}

/* builds the lab for @c, registers alice and bob, starts bob's listen, then alice's `path
 * bob` (which keeps a session open and looks for a direct path, as the app does); waits for
 * a direct path on both sides, which must be of an expected kind */
static gboolean
pair_to_direct (Fixture        *f,
                const PairCase *c,
                PairResult     *r)
{
  guint cursor_a = 0, cursor_b = 0;
  JsonObject *event_a, *event_b;
  gint64 start_us, relay_us = 0;

  if (!direct_add_site (f, WEST, c->nat_west) ||
      (!c->same_site && !direct_add_site (f, EAST, c->nat_east)) ||
      !direct_add_user_host (f, WEST, "alice") ||
      !direct_add_user_host (f, c->same_site ? WEST : EAST, "bob") ||
      !direct_server_start (f, SERVER_PORT) || !direct_make_pair (f, "alice", "bob"))
    return FALSE;
  r->bob = direct_listen_start (f, "bob", c->map_east ? NATLAB_PINHOLE_PORT_MAPPING : 0);
  if (r->bob == NULL)
    return FALSE;
  start_us = g_get_monotonic_time ();
  r->prober = prober_start (f, 1000);
  if (r->prober == NULL)
    return FALSE;
  if (ph_proc_wait_event (r->bob, &cursor_b, is_relay_event, NULL, PH_EVENT_MS) != NULL)
    relay_us = g_get_monotonic_time ();
  event_b = ph_proc_wait_event (r->bob, &cursor_b, is_direct_event, NULL, DIRECT_MS);
  if (event_b != NULL)
    g_test_message ("first direct path at bob: %s, %" G_GINT64_FORMAT " ms after alice started",
                    path_of (event_b), (g_get_monotonic_time () - start_us) / 1000);
  /* a first direct path may still give way to a better kind */
  if (event_b != NULL && !expected_kind (c, path_of (event_b)))
    event_b = ph_proc_wait_event (r->bob, &cursor_b, is_expected_event, (gpointer) c,
                                  DIRECT_MS);
  r->ms = (g_get_monotonic_time () - start_us) / 1000;
  r->from_relay_ms = relay_us ? (g_get_monotonic_time () - relay_us) / 1000 : -1;
  /* alice's report comes once a second */
  event_a = ph_proc_wait_event (r->prober, &cursor_a, is_expected_event, (gpointer) c,
                                event_b ? PH_EVENT_MS : 1);
  if (event_a == NULL || event_b == NULL)
    {
      g_autofree char *ha = direct_path_history (r->prober);
      g_autofree char *hb = direct_path_history (r->bob);
      g_autofree char *accepted = g_strjoinv ("|", (char **) c->expected);

      direct_log_proc (r->prober);
      direct_log_proc (r->bob);
      g_test_fail_printf ("no %s path within %d ms: alice saw \"%s\", bob \"%s\"",
                          accepted, 2 * DIRECT_MS, ha, hb);
      return FALSE;
    }
  r->path = g_strdup (path_of (event_b));
  g_test_message ("%s (alice: %s) %" G_GINT64_FORMAT " ms after alice started, "
                  "%" G_GINT64_FORMAT " ms after the session was up on the relay",
                  path_of (event_b), path_of (event_a), r->ms, r->from_relay_ms);
  return TRUE;
}

static void
pair_result_clear (PairResult *r)
{
  g_clear_pointer (&r->path, g_free);
}

/* 1. endpoint-independent mapping on both sides: UDP hole punching */
static void
test_port_restricted (Fixture      *f,
                      gconstpointer data)
{
  PairCase c = { NATLAB_NAT_PORT_RESTRICTED, NATLAB_NAT_PORT_RESTRICTED, FALSE, FALSE,
                 { "udp-punch", NULL } };
  PairResult r = { 0 };

  CHECK_LAB (f);
  pair_to_direct (f, &c, &r);
  pair_result_clear (&r);
}

/* 2. no UDP out of one site: TCP simultaneous open to the srflx address */
static void
test_udp_blocked (Fixture      *f,
                  gconstpointer data)
{
  PairCase c = { NATLAB_NAT_PORT_RESTRICTED, NATLAB_NAT_UDP_BLOCKED, FALSE, FALSE,
                 { "tcp-punch", NULL } };
  PairResult r = { 0 };

  CHECK_LAB (f);
  pair_to_direct (f, &c, &r);
  pair_result_clear (&r);
}

static const char *
ns_of (Fixture    *f,
       const char *user)
{
  return natlab_pinhole_ns (f->ph, user);
}

/* mappings that miniupnpd lists for @address, as `upnpc -l` lines */
static char *
upnp_mappings_of (Fixture    *f,
                  const char *user,
                  const char *address)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_auto(GStrv) lines = NULL;
  GString *found = g_string_new (NULL);
  g_autofree char *needle = g_strconcat ("->", address, ":", NULL);

  /* -i: libminiupnpc calls an IGD with a reserved external address "not connected" */
  if (!natlab_run (f->lab, ns_of (f, user), &out, &error, "upnpc", "-i", "-l", NULL))
    {
      g_test_fail_printf ("upnpc -l: %s", error->message);
      return g_string_free (found, FALSE);
    }
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], needle) != NULL)
      g_string_append_printf (found, "%s\n", g_strstrip (lines[i]));
  return g_string_free (found, FALSE);
}

/* 3. a UPnP-IGD/NAT-PMP router on bob's side: the mapped candidate wins */
static void
test_miniupnpd (Fixture      *f,
                gconstpointer data)
{
  PairCase c = { NATLAB_NAT_PORT_RESTRICTED, NATLAB_NAT_MINIUPNPD, FALSE, TRUE,
                 { "upnp", "nat-pmp", NULL } };
  PairResult r = { 0 };

  CHECK_LAB (f);
  pair_to_direct (f, &c, &r);
  pair_result_clear (&r);
}

/* 3c. a router that speaks PCP only (NATLAB_NAT_MINIUPNPD_PCP) on bob's side: the pcp
 * candidate wins, and bob's clean exit deletes the mappings at the router */
static void
test_miniupnpd_pcp (Fixture      *f,
                    gconstpointer data)
{
  PairCase c = { NATLAB_NAT_PORT_RESTRICTED, NATLAB_NAT_MINIUPNPD_PCP, FALSE, TRUE,
                 { "pcp", NULL } };
  PairResult r = { 0 };
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *needle = NULL;

  CHECK_LAB (f);
  if (!pair_to_direct (f, &c, &r))
    {
      pair_result_clear (&r);
      return;
    }
  needle = g_strdup_printf (":%s:",
                            natlab_host_address (f->lab,
                                                 g_hash_table_lookup (f->ph->host_of, "bob")));
  before = natlab_miniupnpd_leases (f->lab, EAST);
  g_test_message ("miniupnpd leases while bob listens:\n%s", before);
  if (strstr (before, needle) == NULL || strstr (before, "UDP:") == NULL ||
      strstr (before, "TCP:") == NULL)
    g_test_fail_printf ("miniupnpd holds no UDP and TCP PCP lease for bob (%s)", needle);

  if (!ph_proc_stop (r.bob))
    g_test_fail_printf ("bob's listen did not exit on SIGTERM");
  after = natlab_miniupnpd_leases (f->lab, EAST);
  g_test_message ("miniupnpd leases after bob's exit:\n%s", *after ? after : "(none)");
  if (strstr (after, needle) != NULL)
    g_test_fail_printf ("bob's PCP mappings outlived his listen:\n%s", after);
  pair_result_clear (&r);
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

/* 3b. the mappings a client made at miniupnpd are gone once its listen exits on SIGTERM */
static void
test_miniupnpd_cleanup (Fixture      *f,
                        gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const char *address;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  PhProc *bob;
  gint64 deadline;

  CHECK_LAB (f);
  if (!direct_add_site (f, EAST, NATLAB_NAT_MINIUPNPD) || !direct_add_user_host (f, EAST, "bob") ||
      !direct_server_start (f, SERVER_PORT) ||
      !direct_check (natlab_pinhole_cli_run (f->ph, "bob", NATLAB_PINHOLE_PASSWORD,
                                             (const char *[]) { "register", "bob", NULL }, &error),
                     error, "register"))
    return;
  bob = direct_listen_start (f, "bob", NATLAB_PINHOLE_PORT_MAPPING);
  if (bob == NULL)
    return;
  address = natlab_host_address (f->lab, g_hash_table_lookup (f->ph->host_of, "bob"));
  /* UPnP discovery takes about 2 s after log-in */
  deadline = g_get_monotonic_time () + PH_EVENT_MS * G_TIME_SPAN_MILLISECOND;
  while (TRUE)
    {
      g_free (before);
      before = upnp_mappings_of (f, "bob", address);
      if ((strstr (before, "UDP") != NULL && strstr (before, "TCP") != NULL) ||
          g_test_failed () || g_get_monotonic_time () > deadline)
        break;
      ph_iterate_until (never, NULL, 250);
    }
  g_test_message ("mappings to %s while bob listens:\n%s", address, before);
  if (strstr (before, "UDP") == NULL || strstr (before, "TCP") == NULL)
    {
      direct_log_proc (bob);
      g_test_fail_printf ("bob's listen did not map UDP and TCP at miniupnpd within %d ms",
                          PH_EVENT_MS);
      return;
    }

  /* a clean exit: SIGTERM to listen; the mappings go before it exits */
  if (!ph_proc_stop (bob))
    g_test_fail_printf ("bob's listen did not exit on SIGTERM");
  g_assert_cmpint (bob->status, ==, 0);
  after = upnp_mappings_of (f, "bob", address);
  g_test_message ("mappings to %s after bob left:\n%s", address, after);
  if (*after != '\0')
    {
      direct_log_proc (bob);
      g_test_fail_printf ("miniupnpd still lists bob's mappings after a clean exit:\n%s",
                          after);
    }
}

/* 4. two hosts on one LAN: host candidates */
static void
test_same_lan (Fixture      *f,
               gconstpointer data)
{
  PairCase c = { NATLAB_NAT_PORT_RESTRICTED, NATLAB_NAT_PORT_RESTRICTED, TRUE, FALSE,
                 { "lan", NULL } };
  PairResult r = { 0 };

  CHECK_LAB (f);
  pair_to_direct (f, &c, &r);
  pair_result_clear (&r);
}

#define SEARCHING "looking for a direct path"

/* a path report whose reason is the search's outcome, not that it is under way */
static gboolean
is_settled_event (JsonObject *event,
                  gpointer    data)
{
  return path_of (event) != NULL &&
         g_strcmp0 (json_object_get_string_member_with_default (event, "reason", SEARCHING),
                    SEARCHING) != 0;
}

/* alice's `path bob` stays on the relay while the search runs and after it, and the reason it
 * gives once the search is over is @expected, word for word. The search takes about 10 s
 * here; the wait allows three times GIVE_UP_S for a loaded machine. */
static void
assert_relayed_because (Fixture    *f,
                        const char *expected)
{
  g_autofree char *count = g_strdup_printf ("%d", 3 * GIVE_UP_S);
  PhProc *p = direct_cli_spawnv (f, "alice", 0,
                                 (const char *[]) { "path", "bob", "--count", count, NULL });
  JsonObject *settled = NULL;
  guint cursor = 0;

  if (p == NULL)
    return;
  settled = ph_proc_wait_event (p, &cursor, is_settled_event, NULL, 3 * GIVE_UP_S * 1000);
  /* one more report: the reason stays */
  if (settled != NULL)
    settled = ph_proc_wait_event (p, &cursor, is_settled_event, NULL, 3000);
  for (guint i = 0; i < p->events->len; i++)
    {
      JsonObject *event = g_ptr_array_index (p->events, i);
      const char *path = path_of (event);

      if (path == NULL)
        continue;
      g_test_message ("path %s: %s", path,
                      json_object_get_string_member_with_default (event, "reason", "-"));
      if (strcmp (path, "relay") != 0)
        g_test_fail_printf ("the pair went onto %s", path);
    }
  if (settled == NULL)
    {
      direct_log_proc (p);
      g_test_fail_printf ("the search did not end within %d s", 3 * GIVE_UP_S);
    }
  else
    g_assert_cmpstr (json_object_get_string_member_with_default (settled, "reason", NULL), ==,
                     expected);
  ph_proc_stop (p);
  ph_proc_free (p);
}

/* 5. endpoint-dependent mapping on both sides and no port mapping: the relay, with the reason */
static void
test_symmetric (Fixture      *f,
                gconstpointer data)
{
  CHECK_LAB (f);
  if (!direct_add_site (f, WEST, NATLAB_NAT_SYMMETRIC) ||
      !direct_add_site (f, EAST, NATLAB_NAT_SYMMETRIC) ||
      !direct_add_user_host (f, WEST, "alice") || !direct_add_user_host (f, EAST, "bob") ||
      !direct_server_start (f, SERVER_PORT) || !direct_make_pair (f, "alice", "bob") ||
      direct_listen_start (f, "bob", 0) == NULL)
    return;
  assert_relayed_because (f, "both sides endpoint-dependent NAT, no port mapping");
}

static gboolean
message_match (JsonObject *event,
               gpointer    data)
{
  return g_strcmp0 (json_object_get_string_member_with_default (event, "event", ""),
                    "message") == 0 &&
         g_strcmp0 (json_object_get_string_member_with_default (event, "text", ""),
                    data) == 0;
}

/* @from sends @text to @to, whose listen @to_listen must print it */
static gboolean
chat_one (Fixture    *f,
          const char *from,
          const char *to,
          PhProc     *to_listen,
          const char *text)
{
  guint cursor = 0;
  g_autoptr(GError) error = NULL;

  if (!direct_check (natlab_pinhole_cli_run (f->ph, from, 0,
                                             (const char *[]) { "send", to, text, NULL }, &error),
                     error, "send"))
    return FALSE;
  if (ph_proc_wait_event (to_listen, &cursor, message_match, (gpointer) text,
                          PH_EVENT_MS) == NULL)
    {
      g_test_fail_printf ("%s's listen did not print \"%s\" from %s", to, text, from);
      return FALSE;
    }
  return TRUE;
}

/* 6. only TCP to port 443 leaves alice's site: a server on 443 carries the chat both ways, and
 * the pair stays on the relay with the reason */
static void
test_tcp_443_only (Fixture      *f,
                   gconstpointer data)
{
  PhProc *alice, *bob;

  CHECK_LAB (f);
  if (!direct_add_site (f, WEST, NATLAB_NAT_TCP_443_ONLY) ||
      !direct_add_site (f, EAST, NATLAB_NAT_PORT_RESTRICTED) ||
      !direct_add_user_host (f, WEST, "alice") || !direct_add_user_host (f, EAST, "bob") ||
      !direct_server_start (f, "443") || !direct_make_pair (f, "alice", "bob"))
    return;
  alice = direct_listen_start (f, "alice", 0);
  bob = alice ? direct_listen_start (f, "bob", 0) : NULL;
  if (bob == NULL)
    return;
  if (!chat_one (f, "alice", "bob", bob, "hello from behind a 443-only firewall") ||
      !chat_one (f, "bob", "alice", alice, "hello back through port 443"))
    return;
  /* no UDP gets out of alice's network, and no TCP but to port 443: nothing direct works, and
   * path says why */
  assert_relayed_because (f, "UDP is blocked on this network and TCP punching failed");
}

#define ADD(path, fn) \
  g_test_add (path, Fixture, NULL, direct_fixture_setup, fn, direct_fixture_teardown)

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();

  ADD ("/natlab/direct/port-restricted", test_port_restricted);
  ADD ("/natlab/direct/udp-blocked", test_udp_blocked);
  ADD ("/natlab/direct/miniupnpd", test_miniupnpd);
  ADD ("/natlab/direct/miniupnpd-cleanup", test_miniupnpd_cleanup);
  ADD ("/natlab/direct/miniupnpd-pcp", test_miniupnpd_pcp);
  ADD ("/natlab/direct/same-lan", test_same_lan);
  ADD ("/natlab/direct/symmetric", test_symmetric);
  ADD ("/natlab/direct/tcp-443-only", test_tcp_443_only);

  return g_test_run ();
}
