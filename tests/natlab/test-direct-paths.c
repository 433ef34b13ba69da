/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-direct-paths.c: the real pinhole-server and pinhole-cli programs in NAT lab namespaces:
 * which path (lan, upnp/nat-pmp, udp-punch, tcp-punch, relay) each pair of networks ends on,
 * and a numbered stream that must arrive whole and in order across relay/direct switches. */
#define G_LOG_DOMAIN "pinhole-test"

#include "natlab-pinhole.h"
#include "../pinhole-test-missing.h"

#include <string.h>

#define SERVER_PORT      "7300"
/* from both clients online to a direct path: gathering, candidate exchange and checks */
#define DIRECT_MS        20000
/* the checks between two endpoint-dependent NATs give up after about 10 s */
#define GIVE_UP_S        14
/* a dead direct path is noticed within ~4 s; the session must be back on the relay by then */
#define FALLBACK_MS      8000
#define STREAM_MIN_LINES 3000
#define STREAM_PERIOD_MS 2

/* site names: not "a", which `ip link add a type veth` reads as "address" */
#define WEST "west"
#define EAST "east"

typedef struct
{
  Natlab        *lab;
  NatlabPinhole *ph;
} Fixture;

/* ---- fixture ---- */

static void
fixture_setup (Fixture      *f,
               gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->lab = natlab_new (&error);
  if (f->lab == NULL)
    {
      if (g_error_matches (error, NATLAB_ERROR, NATLAB_ERROR_UNSUPPORTED))
        {
          g_autofree char *what = g_strdup_printf ("no NAT lab here: %s", error->message);

          ph_test_missing (what);
        }
      else
        g_test_fail_printf ("natlab_new: %s", error->message);
      return;
    }
  f->ph = natlab_pinhole_new (f->lab, &error);
  g_assert_no_error (error);
  if (f->ph == NULL)
    g_clear_pointer (&f->lab, natlab_free);
}

static void
fixture_teardown (Fixture      *f,
                  gconstpointer data)
{
  if (f->ph != NULL && f->ph->server != NULL)
    {
      ph_proc_stop (f->ph->server);
      if (g_test_failed ())
        g_test_message ("server log:\n%s", f->ph->server->err_text->str);
    }
  g_clear_pointer (&f->ph, natlab_pinhole_free);
  g_clear_pointer (&f->lab, natlab_free);
}

#define CHECK_LAB(f) G_STMT_START { if ((f)->lab == NULL) return; } G_STMT_END

/* fails the test with @error's message when @ok is FALSE; Returns: @ok */
static gboolean
check (gboolean    ok,
       GError     *error,
       const char *what)
{
  if (!ok)
    g_test_fail_printf ("%s: %s", what, error ? error->message : "failed");
  return ok;
}

static gboolean
add_site (Fixture    *f,
          const char *site,
          NatlabNat   nat)
{
  g_autoptr(GError) error = NULL;

  return check (natlab_add_site (f->lab, site, nat, &error), error, "natlab_add_site");
}

static gboolean
add_user_host (Fixture    *f,
               const char *site,
               const char *user)
{
  g_autoptr(GError) error = NULL;

  return check (natlab_pinhole_add_user (f->ph, site, user, &error), error, "natlab_add_host");
}

static const char *
ns_of (Fixture    *f,
       const char *user)
{
  return natlab_pinhole_ns (f->ph, user);
}

static gboolean
server_start (Fixture    *f,
              const char *port)
{
  g_autoptr(GError) error = NULL;

  if (!check (natlab_pinhole_start_server (f->ph, port, &error), error, "pinhole-server"))
    return FALSE;
  g_test_message ("%s", (char *) g_ptr_array_index (f->ph->server->lines, 0));
  return TRUE;
}

static PhProc *
cli_spawnv (Fixture            *f,
            const char         *user,
            NatlabPinholeFlags  flags,
            const char * const *args)
{
  g_autoptr(GError) error = NULL;
  PhProc *p = natlab_pinhole_cli_spawn (f->ph, user, flags, args, &error);

  check (p != NULL, error, "pinhole-cli");
  return p;
}

static gboolean
make_pair (Fixture    *f,
           const char *a,
           const char *b)
{
  g_autoptr(GError) error = NULL;

  return check (natlab_pinhole_make_pair (f->ph, a, b, &error), error, "accounts");
}

static PhProc *
listen_start (Fixture            *f,
              const char         *user,
              NatlabPinholeFlags  flags)
{
  g_autoptr(GError) error = NULL;
  PhProc *p = natlab_pinhole_listen (f->ph, user, flags, &error);

  check (p != NULL, error, "listen");
  return p;
}

/* ---- path events ---- */

#define path_of(event) natlab_pinhole_path_of (event)
#define is_direct_event natlab_pinhole_is_direct
#define is_relay_event natlab_pinhole_is_relay

/* every path event of @p, e.g. "relay udp-punch", consecutive repeats folded */
static char *
path_history (PhProc *p)
{
  GString *s = g_string_new (NULL);
  const char *last = NULL;

  for (guint i = 0; i < p->events->len; i++)
    {
      const char *path = path_of (g_ptr_array_index (p->events, i));

      if (path == NULL || g_strcmp0 (path, last) == 0)
        continue;
      g_string_append_printf (s, "%s%s", s->len ? " " : "", path);
      last = path;
    }
  return g_string_free (s, FALSE);
}

static void
log_proc (PhProc *p)
{
  g_test_message ("%s: %u lines; standard error:\n%s", p->name, p->lines->len,
                  p->err_text->str);
  for (guint i = 0; i < p->lines->len; i++)
    if (strstr (g_ptr_array_index (p->lines, i), "\"path\"") != NULL ||
        strstr (g_ptr_array_index (p->lines, i), "\"event\":\"message\"") == NULL)
      g_test_message ("  %s", (char *) g_ptr_array_index (p->lines, i));
}

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
  PhProc *p = cli_spawnv (f, "alice", 0,
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

  if (!add_site (f, WEST, c->nat_west) ||
      (!c->same_site && !add_site (f, EAST, c->nat_east)) ||
      !add_user_host (f, WEST, "alice") ||
      !add_user_host (f, c->same_site ? WEST : EAST, "bob") ||
      !server_start (f, SERVER_PORT) || !make_pair (f, "alice", "bob"))
    return FALSE;
  r->bob = listen_start (f, "bob", c->map_east ? NATLAB_PINHOLE_PORT_MAPPING : 0);
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
      g_autofree char *ha = path_history (r->prober);
      g_autofree char *hb = path_history (r->bob);
      g_autofree char *accepted = g_strjoinv ("|", (char **) c->expected);

      log_proc (r->prober);
      log_proc (r->bob);
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
  if (!add_site (f, EAST, NATLAB_NAT_MINIUPNPD) || !add_user_host (f, EAST, "bob") ||
      !server_start (f, SERVER_PORT) || !check (natlab_pinhole_cli_run (f->ph, "bob", NATLAB_PINHOLE_PASSWORD,
                                      (const char *[]) { "register", "bob", NULL }, &error),
             error, "register"))
    return;
  bob = listen_start (f, "bob", NATLAB_PINHOLE_PORT_MAPPING);
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
      log_proc (bob);
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
      log_proc (bob);
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

/* `path bob --count N` from alice's host; Returns: (transfer full) (nullable): the ended
 * process, with its path events */
static PhProc *
path_run (Fixture    *f,
          guint       count)
{
  g_autofree char *count_text = g_strdup_printf ("%u", count);
  PhProc *p = cli_spawnv (f, "alice", 0,
                          (const char *[]) { "path", "bob", "--count", count_text, NULL });

  if (p == NULL)
    return NULL;
  if (!ph_proc_wait (p, (count + 10) * 1000) || p->status != 0)
    {
      log_proc (p);
      g_test_fail_printf ("pinhole-cli path bob --count %u: status %d%s", count, p->status,
                          p->exited ? "" : " (still running)");
      ph_proc_free (p);
      return NULL;
    }
  return p;
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
  PhProc *p = cli_spawnv (f, "alice", 0, (const char *[]) { "path", "bob", "--count", count,
                                                            NULL });
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
      log_proc (p);
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
  if (!add_site (f, WEST, NATLAB_NAT_SYMMETRIC) || !add_site (f, EAST, NATLAB_NAT_SYMMETRIC) ||
      !add_user_host (f, WEST, "alice") || !add_user_host (f, EAST, "bob") ||
      !server_start (f, SERVER_PORT) || !make_pair (f, "alice", "bob") ||
      listen_start (f, "bob", 0) == NULL)
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

  if (!check (natlab_pinhole_cli_run (f->ph, from, 0, (const char *[]) { "send", to, text, NULL },
                                      &error), error, "send"))
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
  if (!add_site (f, WEST, NATLAB_NAT_TCP_443_ONLY) ||
      !add_site (f, EAST, NATLAB_NAT_PORT_RESTRICTED) ||
      !add_user_host (f, WEST, "alice") || !add_user_host (f, EAST, "bob") ||
      !server_start (f, "443") || !make_pair (f, "alice", "bob"))
    return;
  alice = listen_start (f, "alice", 0);
  bob = alice ? listen_start (f, "bob", 0) : NULL;
  if (bob == NULL)
    return;
  if (!chat_one (f, "alice", "bob", bob, "hello from behind a 443-only firewall") ||
      !chat_one (f, "bob", "alice", alice, "hello back through port 443"))
    return;
  /* no UDP gets out of alice's network, and no TCP but to port 443: nothing direct works, and
   * path says why */
  assert_relayed_because (f, "UDP is blocked on this network and TCP punching failed");
}

/* ---- 7. a numbered stream across path switches ---- */

typedef struct
{
  PhProc  *sender;
  guint    next;        /* the next number to write */
  guint    limit;       /* write up to here (grows while the path sequence runs) */
  GString *pending;
  gboolean writing;
  gboolean failed;
  guint    timer;
} Feeder;

static void feeder_flush (Feeder *feeder);

static void
feeder_written_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Feeder *feeder = user_data;
  g_autoptr(GError) error = NULL;
  gsize written = 0;

  feeder->writing = FALSE;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &written, &error))
    {
      g_test_message ("writing to alice's send: %s", error->message);
      feeder->failed = TRUE;
      return;
    }
  g_string_erase (feeder->pending, 0, (gssize) written);
  feeder_flush (feeder);
}

static void
feeder_flush (Feeder *feeder)
{
  if (feeder->writing || feeder->failed || feeder->pending->len == 0)
    return;
  feeder->writing = TRUE;
  g_output_stream_write_all_async (feeder->sender->stdin_pipe, feeder->pending->str,
                                   feeder->pending->len, G_PRIORITY_DEFAULT, NULL,
                                   feeder_written_cb, feeder);
}

static gboolean
feeder_tick_cb (gpointer data)
{
  Feeder *feeder = data;

  if (feeder->next <= feeder->limit)
    {
      g_string_append_printf (feeder->pending, "%u\n", feeder->next++);
      feeder_flush (feeder);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
feeder_idle (gpointer data)
{
  Feeder *feeder = data;

  return feeder->failed || (!feeder->writing && feeder->pending->len == 0);
}

typedef struct
{
  PhProc *listen;
  guint   want;
} CountMessages;

static guint
count_messages (PhProc *p)
{
  guint n = 0;

  for (guint i = 0; i < p->events->len; i++)
    n += g_strcmp0 (json_object_get_string_member_with_default (
                      g_ptr_array_index (p->events, i), "event", ""), "message") == 0;
  return n;
}

static gboolean
messages_reached (gpointer data)
{
  CountMessages *c = data;

  return count_messages (c->listen) >= c->want || c->listen->out_eof;
}

static void
test_stream_switch (Fixture      *f,
                    gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  Feeder feeder = { 0 };
  PhProc *bob, *sender;
  guint cursor = 0, expected = 1, duplicates = 0, out_of_order = 0;
  JsonObject *event;
  gint64 t0, cut_us, fallback_ms = -1, redirect_ms = -1, direct_ms = -1;
  g_autofree char *history = NULL;
  CountMessages wait_all;

  CHECK_LAB (f);
  if (!add_site (f, WEST, NATLAB_NAT_PORT_RESTRICTED) ||
      !add_site (f, EAST, NATLAB_NAT_PORT_RESTRICTED) ||
      !add_user_host (f, WEST, "alice") || !add_user_host (f, EAST, "bob") ||
      !server_start (f, SERVER_PORT) || !make_pair (f, "alice", "bob"))
    return;
  bob = listen_start (f, "bob", 0);
  if (bob == NULL)
    return;
  sender = cli_spawnv (f, "alice", NATLAB_PINHOLE_STDIN, (const char *[]) { "send", "bob", "-",
                                                                          NULL });
  if (sender == NULL)
    return;
  g_ptr_array_add (f->ph->procs, sender);
  feeder.sender = sender;
  feeder.next = 1;
  feeder.limit = G_MAXUINT;
  feeder.pending = g_string_new (NULL);
  feeder.timer = g_timeout_add (STREAM_PERIOD_MS, feeder_tick_cb, &feeder);
  t0 = g_get_monotonic_time ();

  /* relay, then a direct path */
  event = ph_proc_wait_event (bob, &cursor, is_direct_event, NULL, DIRECT_MS);
  if (event == NULL)
    {
      g_test_fail_printf ("no direct path under the stream within %d ms", DIRECT_MS);
      goto done;
    }
  direct_ms = (g_get_monotonic_time () - t0) / 1000;
  g_test_message ("stream: %s after %" G_GINT64_FORMAT " ms (%u lines written)",
                  path_of (event), direct_ms, feeder.next - 1);

  /* cut the direct path: back on the relay within FALLBACK_MS */
  if (!natlab_block_between (f->lab, WEST, EAST, TRUE, &error))
    {
      g_test_fail_printf ("natlab_block_between: %s", error->message);
      goto done;
    }
  cut_us = g_get_monotonic_time ();
  event = ph_proc_wait_event (bob, &cursor, is_relay_event, NULL, 3 * FALLBACK_MS);
  if (event == NULL)
    {
      g_test_fail_printf ("still not back on the relay %d ms after the cut", 3 * FALLBACK_MS);
      goto done;
    }
  fallback_ms = (g_get_monotonic_time () - cut_us) / 1000;
  g_test_message ("stream: relay %" G_GINT64_FORMAT " ms after the cut (%u lines written)",
                  fallback_ms, feeder.next - 1);

  /* open again: a direct path again */
  if (!natlab_block_between (f->lab, WEST, EAST, FALSE, &error))
    {
      g_test_fail_printf ("natlab_block_between: %s", error->message);
      goto done;
    }
  cut_us = g_get_monotonic_time ();
  event = ph_proc_wait_event (bob, &cursor, is_direct_event, NULL, 3 * DIRECT_MS);
  if (event == NULL)
    {
      g_test_fail_printf ("no direct path again within %d ms of the unblock", 3 * DIRECT_MS);
      goto done;
    }
  redirect_ms = (g_get_monotonic_time () - cut_us) / 1000;
  g_test_message ("stream: %s again %" G_GINT64_FORMAT " ms after the unblock",
                  path_of (event), redirect_ms);

done:
  /* the rest of the stream, at least STREAM_MIN_LINES in all */
  feeder.limit = MAX (feeder.next + 200, STREAM_MIN_LINES);
  {
    gint64 end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

    while (feeder.next <= feeder.limit && !feeder.failed && g_get_monotonic_time () < end)
      g_main_context_iteration (NULL, TRUE);
  }
  g_source_remove (feeder.timer);
  ph_iterate_until (feeder_idle, &feeder, PH_CLI_MS);
  ph_proc_close_stdin (sender);
  if (!ph_proc_wait (sender, PH_CLI_MS) || sender->status != 0)
    g_test_fail_printf ("alice's send: status %d: %s", sender->status, sender->err_text->str);
  g_assert_false (feeder.failed);

  wait_all.listen = bob;
  wait_all.want = feeder.next - 1;
  ph_iterate_until (messages_reached, &wait_all, PH_CLI_MS);
  for (guint i = 0; i < bob->events->len; i++)
    {
      JsonObject *m = g_ptr_array_index (bob->events, i);
      guint64 n;

      if (g_strcmp0 (json_object_get_string_member_with_default (m, "event", ""), "message"))
        continue;
      n = g_ascii_strtoull (json_object_get_string_member_with_default (m, "text", "0"),
                            NULL, 10);
      if (n == expected)
        expected++;
      else if (n < expected)
        duplicates++;
      else
        {
          if (out_of_order++ < 5)
            g_test_message ("message %" G_GUINT64_FORMAT " where %u was due", n, expected);
          expected = (guint) n + 1;
        }
    }
  history = path_history (bob);
  g_test_message ("stream: %u lines written, bob printed %u messages; paths: %s",
                  feeder.next - 1, count_messages (bob), history);
  g_string_free (feeder.pending, TRUE);
  if (g_test_failed ())
    {
      log_proc (bob);
      log_proc (sender);
    }
  g_assert_cmpuint (duplicates, ==, 0);
  g_assert_cmpuint (out_of_order, ==, 0);
  g_assert_cmpuint (expected - 1, ==, feeder.next - 1);
  g_assert_cmpuint (count_messages (bob), ==, feeder.next - 1);
  if (redirect_ms >= 0)
    {
      g_auto(GStrv) kinds = g_strsplit (history, " ", -1);
      guint n = g_strv_length (kinds);

      /* "none" once alice's send has left */
      if (n > 0 && g_str_equal (kinds[n - 1], "none"))
        n--;
      /* relay first, then UDP hole punching (both NATs are port-restricted), the relay, and
       * UDP hole punching again */
      g_assert_cmpuint (n, ==, 4);
      if (n == 4)
        {
          g_assert_cmpstr (kinds[0], ==, "relay");
          g_assert_cmpstr (kinds[1], ==, "udp-punch");
          g_assert_cmpstr (kinds[2], ==, "relay");
          g_assert_cmpstr (kinds[3], ==, "udp-punch");
        }
    }
  g_assert_cmpint (fallback_ms, >=, 0);
  g_assert_cmpint (fallback_ms, <=, FALLBACK_MS);
}

/* ---- 8. 40 ms on each site's link ---- */

static gint
compare_double (gconstpointer a,
                gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return x < y ? -1 : x > y;
}

static void
test_delay (Fixture      *f,
            gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  PhProc *p;
  gdouble relay_rtt = -1, direct_rtt = -1;
  g_autoptr(GArray) direct_rtts = g_array_new (FALSE, FALSE, sizeof (gdouble));
  const char *first = NULL, *last = NULL;
  gint64 t0;
  guint direct_at = 0;

  CHECK_LAB (f);
  if (!add_site (f, WEST, NATLAB_NAT_PORT_RESTRICTED) ||
      !add_site (f, EAST, NATLAB_NAT_PORT_RESTRICTED) ||
      !add_user_host (f, WEST, "alice") || !add_user_host (f, EAST, "bob"))
    return;
  if (!natlab_set_link (f->lab, WEST, 40, 0, &error) ||
      !natlab_set_link (f->lab, EAST, 40, 0, &error))
    {
      g_test_fail_printf ("natlab_set_link: %s", error->message);
      return;
    }
  if (!server_start (f, SERVER_PORT) || !make_pair (f, "alice", "bob") ||
      listen_start (f, "bob", 0) == NULL)
    return;
  t0 = g_get_monotonic_time ();
  p = path_run (f, 12);
  if (p == NULL)
    return;
  for (guint i = 0; i < p->events->len; i++)
    {
      JsonObject *event = g_ptr_array_index (p->events, i);
      const char *path = path_of (event);
      JsonNode *rtt = json_object_get_member (event, "rtt_ms");
      gdouble ms = rtt && !json_node_is_null (rtt) ? json_node_get_double (rtt) : -1;

      if (path == NULL)
        continue;
      g_test_message ("probe %u: %s rtt %.1f ms", i, path, ms);
      if (first == NULL)
        first = path;
      last = path;
      if (strcmp (path, "relay") == 0 && direct_at == 0 && ms >= 0)
        relay_rtt = ms;
      if (strcmp (path, "relay") != 0 && direct_at == 0)
        direct_at = i + 1;
      if (strcmp (path, "relay") != 0 && ms >= 0)
        g_array_append_val (direct_rtts, ms);
    }
  if (direct_rtts->len > 0)
    {
      g_array_sort (direct_rtts, compare_double);
      direct_rtt = g_array_index (direct_rtts, gdouble, direct_rtts->len / 2);
    }
  g_test_message ("relay rtt %.1f ms, direct median %.1f ms", relay_rtt, direct_rtt);
  if (direct_at > 0)
    g_test_message ("40 ms links: direct from probe %u (~%u s after path started; run took "
                    "%" G_GINT64_FORMAT " ms)", direct_at, direct_at,
                    (g_get_monotonic_time () - t0) / 1000);
  g_assert_cmpstr (first, ==, "relay");
  g_assert_cmpstr (last, ==, "udp-punch");
  g_assert_cmpfloat (relay_rtt, >, 0);
  g_assert_cmpfloat (direct_rtt, >, 0);
  g_assert_cmpfloat (direct_rtt, <, relay_rtt);
  ph_proc_free (p);
}

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

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
  ADD ("/natlab/direct/same-lan", test_same_lan);
  ADD ("/natlab/direct/symmetric", test_symmetric);
  ADD ("/natlab/direct/tcp-443-only", test_tcp_443_only);
  ADD ("/natlab/direct/stream-switch", test_stream_switch);
  ADD ("/natlab/direct/delay", test_delay);

  return g_test_run ();
}
