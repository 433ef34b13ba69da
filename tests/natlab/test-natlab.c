/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-natlab.c: proves the NAT lab does what natlab.h says, with real traffic between its
 * namespaces: NAT behaviours, delay and loss, blocking, miniupnpd port mappings, cleanup.
 * The same binary is the traffic helper: `test-natlab --helper MODE ...` (echo and probes,
 * test-natlab-helper.c). */
#include "natlab.h"
#include "test-natlab-helper.h"
#include "../pinhole-test-missing.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ECHO_PORT  4000
#define PROBE_PORT 40000
#define READY_MS   10000

/* =============================== the tests =============================== */

static char *self_exe;

/* a new lab; NULL with the test skipped (or failed under CI) when namespaces are missing */
static Natlab *
lab_new_or_skip (void)
{
  g_autoptr(GError) error = NULL;
  Natlab *lab = natlab_new (&error);

  if (lab != NULL)
    return lab;
  if (g_error_matches (error, NATLAB_ERROR, NATLAB_ERROR_UNSUPPORTED))
    {
      ph_test_missing (error->message);
      return NULL;
    }
  g_test_message ("natlab_new: %s", error->message);
  g_test_fail ();
  return NULL;
}

static gboolean
check_ok (gboolean    ok,
          GError     *error,
          const char *what)
{
  if (!ok)
    {
      g_test_message ("%s: %s", what, error ? error->message : "failed");
      g_test_fail ();
    }
  return ok;
}

#define CHECK(call, what) G_STMT_START { \
    g_autoptr(GError) error_ = NULL; \
    GError **error = &error_; \
    if (!check_ok ((call), error_, (what))) goto out; \
  } G_STMT_END

typedef struct
{
  gboolean done;
  char    *line;
} LineState;

static void
line_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  LineState *st = data;

  st->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
                                                        NULL, NULL);
  st->done = TRUE;
}

static gboolean
deadline_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* starts a helper server (udp-echo, tcp-echo) in ns and waits for its "ready" line */
static gboolean
start_echo (Natlab     *lab,
            const char *ns,
            const char *mode,
            const char *ip,
            guint16     port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GDataInputStream) in = NULL;
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  LineState st = { 0 };
  gboolean expired = FALSE;
  GSource *timeout;
  gboolean ok;

  proc = natlab_spawn (lab, ns, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, self_exe, "--helper",
                       mode, ip, port_text, NULL);
  if (!check_ok (proc != NULL, error, "spawning an echo"))
    return FALSE;
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  g_main_context_push_thread_default (ctx);
  g_data_input_stream_read_line_async (in, G_PRIORITY_DEFAULT, NULL, line_cb, &st);
  timeout = g_timeout_source_new (READY_MS);
  g_source_set_callback (timeout, deadline_cb, &expired, NULL);
  g_source_attach (timeout, ctx);
  while (!st.done && !expired)
    g_main_context_iteration (ctx, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  g_main_context_pop_thread_default (ctx);
  ok = st.done && g_strcmp0 (st.line, "ready") == 0;
  if (!ok)
    {
      g_test_message ("%s %s:%u in %s: not ready (%s)", mode, ip, port, ns,
                      st.line ? st.line : "no line");
      g_test_fail ();
    }
  g_free (st.line);
  return ok;
}

/* runs a probe helper in ns; returns its output (stripped), or NULL with the test failed */
static char *
probe (Natlab     *lab,
       const char *ns,
       const char *mode,
       ...) G_GNUC_NULL_TERMINATED;

static char *
probe (Natlab     *lab,
       const char *ns,
       const char *mode,
       ...)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autofree char *ns_arg = NULL;
  char *out = NULL;
  const char *arg;
  va_list ap;

  g_strv_builder_add_many (b, self_exe, "--helper", mode, NULL);
  va_start (ap, mode);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_strv_builder_add (b, arg);
  va_end (ap);
  argv = g_strv_builder_end (b);

  /* natlab_run takes varargs; the argument count here is small and fixed per mode */
  switch (g_strv_length (argv))
    {
    case 5:
      natlab_run (lab, ns, &out, &error, argv[0], argv[1], argv[2], argv[3], argv[4], NULL);
      break;
    case 6:
      natlab_run (lab, ns, &out, &error, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5],
                  NULL);
      break;
    case 7:
      natlab_run (lab, ns, &out, &error, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5],
                  argv[6], NULL);
      break;
    default:
      g_assert_not_reached ();
    }
  if (error != NULL)
    {
      g_test_message ("%s in %s: %s", mode, ns, error->message);
      g_test_fail ();
      g_clear_pointer (&out, g_free);
      return NULL;
    }
  g_strstrip (out);
  g_test_message ("%s in %s: %s", mode, ns, out);
  return out;
}

/* "DEST from IP:PORT" -> "IP:PORT"; NULL for "DEST none" */
static char *
seen_from (const char *output,
           const char *dest)
{
  g_auto(GStrv) lines = NULL;
  g_autofree char *prefix = g_strconcat (dest, " from ", NULL);
  guint i;

  if (output == NULL)
    return NULL;
  lines = g_strsplit (output, "\n", -1);
  for (i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix))
      return g_strdup (lines[i] + strlen (prefix));
  return NULL;
}

static char *
ip_of (const char *endpoint)
{
  const char *colon = endpoint ? strrchr (endpoint, ':') : NULL;

  return colon ? g_strndup (endpoint, colon - endpoint) : NULL;
}

static guint
port_of (const char *endpoint)
{
  const char *colon = endpoint ? strrchr (endpoint, ':') : NULL;

  return colon ? (guint) atoi (colon + 1) : 0;
}

/* the lab's namespace prefix as natlab_server_ns shows it ("natlab-PID-N-server") */
static char *
lab_ns_prefix (Natlab *lab)
{
  const char *server = natlab_server_ns (lab);

  g_assert_true (g_str_has_suffix (server, "server"));
  return g_strndup (server, strlen (server) - strlen ("server"));
}

static guint
count_children (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;
  guint n = 0;

  while (dir && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *stat = NULL;
      const char *close_paren;
      int ppid = 0;

      if (!g_ascii_isdigit (name[0]))
        continue;
      path = g_strdup_printf ("/proc/%s/stat", name);
      if (!g_file_get_contents (path, &stat, NULL, NULL))
        continue;
      /* pid (comm) state ppid ... */
      close_paren = strrchr (stat, ')');
      if (close_paren && sscanf (close_paren + 1, " %*c %d", &ppid) == 1 && ppid == getpid ())
        {
          g_test_message ("child still running: %s", stat);
          n++;
        }
    }
  return n;
}

/* frees the lab and asserts that no namespace of it and no process it started remains */
static void
free_and_check (Natlab *lab)
{
  g_autofree char *prefix = lab_ns_prefix (lab);
  g_autofree char *list = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[] = { "ip", "netns", "list", NULL };
  g_autoptr(GSubprocess) p = NULL;

  natlab_free (lab);

  p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, NULL, NULL, &list, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (strstr (list, prefix));
  g_assert_cmpuint (count_children (), ==, 0);
}

static gboolean
add_site (Natlab     *lab,
          const char *site,
          NatlabNat   nat)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = natlab_add_site (lab, site, nat, &error);

  return check_ok (ok, error, "natlab_add_site");
}

static gboolean
add_host (Natlab     *lab,
          const char *site,
          const char *host)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = natlab_add_host (lab, site, host, &error);

  return check_ok (ok, error, "natlab_add_host");
}

/* a lab with one site of the given NAT and one host "h" on it, echoes on the server */
static Natlab *
lab_with_site (NatlabNat nat)
{
  g_autoptr(GError) error = NULL;
  Natlab *lab = lab_new_or_skip ();

  if (lab == NULL)
    return NULL;
  if (!add_site (lab, "site", nat) ||
      !add_host (lab, "site", "h") ||
      /* one echo per address: a reply must come from the address the probe went to */
      !start_echo (lab, natlab_server_ns (lab), "udp-echo", natlab_server_address (lab),
                   ECHO_PORT) ||
      !start_echo (lab, natlab_server_ns (lab), "udp-echo", natlab_server_address2 (lab),
                   ECHO_PORT) ||
      !start_echo (lab, natlab_server_ns (lab), "tcp-echo", "0.0.0.0", ECHO_PORT) ||
      !start_echo (lab, natlab_server_ns (lab), "tcp-echo", "0.0.0.0", 443))
    {
      free_and_check (lab);
      return NULL;
    }
  return lab;
}

static char *
endpoint (const char *ip,
          guint       port)
{
  return g_strdup_printf ("%s:%u", ip, port);
}

/* UDP from one local port to both server addresses, and TCP to the first; checks what the
 * server saw */
static void
check_reach (Natlab     *lab,
             const char *want_ip,
             gboolean    want_udp,
             gboolean    want_same_port,
             gboolean    want_tcp)
{
  const char *ns = natlab_host_ns (lab, "h");
  g_autofree char *d1 = endpoint (natlab_server_address (lab), ECHO_PORT);
  g_autofree char *d2 = endpoint (natlab_server_address2 (lab), ECHO_PORT);
  g_autofree char *local = g_strdup_printf ("%u", PROBE_PORT);
  g_autofree char *out = NULL;
  g_autofree char *tcp = NULL;
  g_autofree char *seen1 = NULL;
  g_autofree char *seen2 = NULL;
  g_autofree char *ip1 = NULL;
  g_autofree char *ip2 = NULL;

  out = probe (lab, ns, "udp-probe", local, d1, d2, NULL);
  if (out == NULL)
    return;
  seen1 = seen_from (out, d1);
  seen2 = seen_from (out, d2);
  if (!want_udp)
    {
      g_assert_null (seen1);
      g_assert_null (seen2);
    }
  else
    {
      g_assert_nonnull (seen1);
      g_assert_nonnull (seen2);
      ip1 = ip_of (seen1);
      ip2 = ip_of (seen2);
      g_assert_cmpstr (ip1, ==, want_ip);
      g_assert_cmpstr (ip2, ==, want_ip);
      g_test_message ("UDP from local port %u seen as %s (to %s) and %s (to %s)", PROBE_PORT,
                      seen1, d1, seen2, d2);
      if (want_same_port)
        g_assert_cmpuint (port_of (seen1), ==, port_of (seen2));
      else
        g_assert_cmpuint (port_of (seen1), !=, port_of (seen2));
    }

  tcp = probe (lab, ns, "tcp-probe", d1, "1500", NULL);
  if (tcp == NULL)
    return;
  if (want_tcp)
    {
      g_autofree char *tcp_ip = NULL;

      g_assert_true (g_str_has_prefix (tcp, "from "));
      tcp_ip = ip_of (tcp + strlen ("from "));
      g_assert_cmpstr (tcp_ip, ==, want_ip);
    }
  else
    g_assert_true (g_str_has_prefix (tcp, "none"));
}

static void
test_nat_none (void)
{
  Natlab *lab = lab_with_site (NATLAB_NAT_NONE);

  if (lab == NULL)
    return;
  /* no NAT: the server sees the host itself, port unchanged */
  check_reach (lab, natlab_host_address (lab, "h"), TRUE, TRUE, TRUE);
  free_and_check (lab);
}

static void
test_nat_port_restricted (void)
{
  Natlab *lab = lab_with_site (NATLAB_NAT_PORT_RESTRICTED);

  if (lab == NULL)
    return;
  check_reach (lab, natlab_router_public_address (lab, "site"), TRUE, TRUE, TRUE);
  free_and_check (lab);
}

static void
test_nat_symmetric (void)
{
  Natlab *lab = lab_with_site (NATLAB_NAT_SYMMETRIC);

  if (lab == NULL)
    return;
  check_reach (lab, natlab_router_public_address (lab, "site"), TRUE, FALSE, TRUE);
  free_and_check (lab);
}

static void
test_nat_udp_blocked (void)
{
  Natlab *lab = lab_with_site (NATLAB_NAT_UDP_BLOCKED);

  if (lab == NULL)
    return;
  check_reach (lab, natlab_router_public_address (lab, "site"), FALSE, TRUE, TRUE);
  free_and_check (lab);
}

static void
test_nat_tcp_443_only (void)
{
  Natlab *lab = lab_with_site (NATLAB_NAT_TCP_443_ONLY);
  g_autofree char *d443 = NULL;
  g_autofree char *out = NULL;
  g_autofree char *ip = NULL;

  if (lab == NULL)
    return;
  /* UDP and TCP to port 4000: nothing */
  check_reach (lab, NULL, FALSE, TRUE, FALSE);
  d443 = endpoint (natlab_server_address (lab), 443);
  out = probe (lab, natlab_host_ns (lab, "h"), "tcp-probe", d443, "1500", NULL);
  if (out != NULL)
    {
      g_assert_true (g_str_has_prefix (out, "from "));
      ip = ip_of (out + strlen ("from "));
      g_assert_cmpstr (ip, ==, natlab_router_public_address (lab, "site"));
    }
  free_and_check (lab);
}

/* "sent N received M min X median Y" */
static gboolean
parse_rtt (const char *out,
           guint      *sent,
           guint      *received,
           double     *min_ms,
           double     *median_ms)
{
  return out != NULL &&
         sscanf (out, "sent %u received %u min %lf median %lf", sent, received, min_ms,
                 median_ms) == 4;
}

static void
test_link_delay (void)
{
  Natlab *lab = lab_with_site (NATLAB_NAT_PORT_RESTRICTED);
  g_autofree char *dest = NULL;
  g_autofree char *before = NULL;
  g_autofree char *during = NULL;
  g_autofree char *after = NULL;
  guint sent = 0, received = 0;
  double min_ms = 0, median_ms = 0;

  if (lab == NULL)
    return;
  dest = endpoint (natlab_server_address (lab), ECHO_PORT);

  before = probe (lab, natlab_host_ns (lab, "h"), "udp-rtt", dest, "20", "20", NULL);
  g_assert_true (parse_rtt (before, &sent, &received, &min_ms, &median_ms));
  g_assert_cmpuint (received, ==, sent);
  g_assert_cmpfloat (median_ms, <, 10.0);

  /* 40 ms each way across the router's internet side: about 80 ms more round trip */
  CHECK (natlab_set_link (lab, "site", 40, 0, error), "set_link 40 ms");
  during = probe (lab, natlab_host_ns (lab, "h"), "udp-rtt", dest, "20", "20", NULL);
  g_assert_true (parse_rtt (during, &sent, &received, &min_ms, &median_ms));
  g_assert_cmpuint (received, ==, sent);
  g_assert_cmpfloat (min_ms, >=, 79.0);
  g_assert_cmpfloat (median_ms, <=, 80.0 + 25.0);

  /* TCP goes through the same queue */
  {
    g_autofree char *tcp = probe (lab, natlab_host_ns (lab, "h"), "tcp-probe", dest, "3000",
                                  NULL);

    g_assert_true (tcp != NULL && g_str_has_prefix (tcp, "from "));
  }

  CHECK (natlab_set_link (lab, "site", 0, 0, error), "set_link off");
  after = probe (lab, natlab_host_ns (lab, "h"), "udp-rtt", dest, "20", "20", NULL);
  g_assert_true (parse_rtt (after, &sent, &received, &min_ms, &median_ms));
  g_assert_cmpuint (received, ==, sent);
  g_assert_cmpfloat (median_ms, <, 10.0);
out:
  free_and_check (lab);
}

static void
test_link_loss (void)
{
  Natlab *lab = lab_with_site (NATLAB_NAT_PORT_RESTRICTED);
  g_autofree char *dest = NULL;
  g_autofree char *out = NULL;
  g_autofree char *after = NULL;
  guint sent = 0, received = 0;
  double min_ms = 0, median_ms = 0;

  if (lab == NULL)
    return;
  dest = endpoint (natlab_server_address (lab), ECHO_PORT);

  /* 20% each way: a round trip survives with 0.8 * 0.8 = 64%, 256 of 400 expected
   * (standard deviation about 10); the bounds are over 5 of them wide */
  CHECK (natlab_set_link (lab, "site", 0, 2000, error), "set_link 20% loss");
  out = probe (lab, natlab_host_ns (lab, "h"), "udp-rtt", dest, "400", "2", NULL);
  g_assert_true (parse_rtt (out, &sent, &received, &min_ms, &median_ms));
  g_assert_cmpuint (sent, ==, 400);
  g_assert_cmpuint (received, >=, 200);
  g_assert_cmpuint (received, <=, 310);

  CHECK (natlab_set_link (lab, "site", 0, 0, error), "set_link off");
  after = probe (lab, natlab_host_ns (lab, "h"), "udp-rtt", dest, "100", "2", NULL);
  g_assert_true (parse_rtt (after, &sent, &received, &min_ms, &median_ms));
  g_assert_cmpuint (received, ==, 100);
out:
  free_and_check (lab);
}

static void
test_block_between (void)
{
  Natlab *lab = lab_new_or_skip ();
  g_autofree char *peer = NULL;
  g_autofree char *server = NULL;
  g_autofree char *out = NULL;
  g_autofree char *blocked = NULL;
  g_autofree char *blocked_server = NULL;
  g_autofree char *b_server = NULL;
  g_autofree char *unblocked = NULL;
  g_autofree char *seen = NULL;
  g_autofree char *seen_ip = NULL;
  g_autofree char *local = g_strdup_printf ("%u", PROBE_PORT);

  if (lab == NULL)
    return;
  if (!add_site (lab, "a", NATLAB_NAT_PORT_RESTRICTED) ||
      !add_site (lab, "b", NATLAB_NAT_NONE) ||
      !add_host (lab, "a", "a1") ||
      !add_host (lab, "b", "b1") ||
      !start_echo (lab, natlab_host_ns (lab, "b1"), "udp-echo", "0.0.0.0", ECHO_PORT) ||
      !start_echo (lab, natlab_server_ns (lab), "udp-echo", "0.0.0.0", ECHO_PORT))
    {
      free_and_check (lab);
      return;
    }
  peer = endpoint (natlab_host_address (lab, "b1"), ECHO_PORT);
  server = endpoint (natlab_server_address (lab), ECHO_PORT);

  /* the direct path works: b1 sees a's router */
  out = probe (lab, natlab_host_ns (lab, "a1"), "udp-probe", local, peer, server, NULL);
  g_assert_nonnull (out);
  seen = seen_from (out, peer);
  seen_ip = ip_of (seen);
  g_assert_cmpstr (seen_ip, ==, natlab_router_public_address (lab, "a"));

  CHECK (natlab_block_between (lab, "a", "b", TRUE, error), "block");
  blocked = probe (lab, natlab_host_ns (lab, "a1"), "udp-probe", "0", peer, server, NULL);
  g_assert_nonnull (blocked);
  g_assert_null (seen_from (blocked, peer));
  blocked_server = seen_from (blocked, server);
  g_assert_nonnull (blocked_server);
  /* and b still reaches the server */
  b_server = probe (lab, natlab_host_ns (lab, "b1"), "udp-probe", "0", server, NULL);
  g_assert_nonnull (b_server);
  g_assert_nonnull (seen_from (b_server, server));

  CHECK (natlab_block_between (lab, "b", "a", FALSE, error), "unblock");
  unblocked = probe (lab, natlab_host_ns (lab, "a1"), "udp-probe", "0", peer, NULL);
  g_assert_nonnull (unblocked);
  g_assert_nonnull (seen_from (unblocked, peer));
out:
  free_and_check (lab);
}

static gboolean
miniupnpd_available (void)
{
  const char *tools[] = { "miniupnpd", "upnpc", "natpmpc", "turnserver", NULL };
  guint i;

  for (i = 0; tools[i] != NULL; i++)
    {
      g_autofree char *path = g_find_program_in_path (tools[i]);

      if (path == NULL)
        {
          g_autofree char *msg = g_strdup_printf ("%s is not installed "
                                                  "(build-aux/install-deps.sh)", tools[i]);

          ph_test_missing (msg);
          return FALSE;
        }
    }
  return TRUE;
}

static void
test_miniupnpd (void)
{
  Natlab *lab;
  const char *ns;
  const char *lan_ip;
  g_autofree char *gateway = NULL;
  g_autofree char *via_upnp = NULL;
  g_autofree char *via_pmp = NULL;
  g_autofree char *out = NULL;
  g_autofree char *list = NULL;
  g_autofree char *list_after = NULL;
  g_autofree char *pmp = NULL;
  g_autofree char *fwd = NULL;
  g_autofree char *fwd_after = NULL;
  g_autofree char *seen = NULL;
  g_autofree char *seen_ip = NULL;

  if (!miniupnpd_available ())
    return;
  lab = lab_new_or_skip ();
  if (lab == NULL)
    return;
  if (!add_site (lab, "home", NATLAB_NAT_MINIUPNPD) ||
      !add_host (lab, "home", "pc") ||
      !start_echo (lab, natlab_host_ns (lab, "pc"), "udp-echo", "0.0.0.0", 5000) ||
      !start_echo (lab, natlab_host_ns (lab, "pc"), "udp-echo", "0.0.0.0", 5001))
    {
      free_and_check (lab);
      return;
    }
  ns = natlab_host_ns (lab, "pc");
  lan_ip = natlab_host_address (lab, "pc");
  gateway = g_strdup (lan_ip);
  strcpy (strrchr (gateway, '.'), ".1");
  via_upnp = endpoint (natlab_router_public_address (lab, "home"), 5000);
  via_pmp = endpoint (natlab_router_public_address (lab, "home"), 5001);

  /* -i: libminiupnpc 2.2.4 calls an IGD with a reserved external address (203.0.113.x)
   * "not connected" and stops without it */
  CHECK (natlab_run (lab, ns, &out, error, "upnpc", "-i", "-e", "natlab", "-a", lan_ip, "5000",
                     "5000", "UDP", NULL), "upnpc -a");
  g_test_message ("upnpc -a: %s", out);
  g_assert_nonnull (strstr (out, "is redirected to internal"));
  CHECK (natlab_run (lab, ns, &pmp, error, "natpmpc", "-g", gateway, "-a", "5001", "5001", "udp",
                     "600", NULL), "natpmpc -a");
  g_test_message ("natpmpc -a: %s", pmp);
  g_assert_nonnull (strstr (pmp, "Mapped public port 5001 protocol UDP to local port 5001"));

  /* both mappings forward: the server reaches the LAN host through the router */
  fwd = probe (lab, natlab_server_ns (lab), "udp-probe", "0", via_upnp, via_pmp, NULL);
  g_assert_nonnull (fwd);
  seen = seen_from (fwd, via_upnp);
  seen_ip = ip_of (seen);
  g_assert_cmpstr (seen_ip, ==, natlab_server_address (lab));
  g_assert_nonnull (seen_from (fwd, via_pmp));

  CHECK (natlab_run (lab, ns, &list, error, "upnpc", "-i", "-l", NULL), "upnpc -l");
  g_test_message ("upnpc -l: %s", list);
  {
    g_autofree char *m1 = g_strdup_printf ("5000->%s:5000", lan_ip);
    g_autofree char *m2 = g_strdup_printf ("5001->%s:5001", lan_ip);

    g_assert_nonnull (strstr (list, m1));
    g_assert_nonnull (strstr (list, m2));
  }

  CHECK (natlab_run (lab, ns, NULL, error, "upnpc", "-i", "-d", "5000", "UDP", NULL),
         "upnpc -d");
  CHECK (natlab_run (lab, ns, &list_after, error, "upnpc", "-i", "-l", NULL), "upnpc -l");
  {
    g_autofree char *m1 = g_strdup_printf ("5000->%s:5000", lan_ip);

    g_assert_null (strstr (list_after, m1));
  }
  fwd_after = probe (lab, natlab_server_ns (lab), "udp-probe", "0", via_upnp, via_pmp, NULL);
  g_assert_nonnull (fwd_after);
  g_assert_null (seen_from (fwd_after, via_upnp));
  g_assert_nonnull (seen_from (fwd_after, via_pmp));
out:
  free_and_check (lab);
}

int
main (int    argc,
      char **argv)
{
  if (argc >= 3 && g_str_equal (argv[1], "--helper"))
    return natlab_helper_main (argc, argv);

  g_test_init (&argc, &argv, NULL);
  /* a failed check ends its test function, which still frees its lab */
  g_test_set_nonfatal_assertions ();
  self_exe = g_file_read_link ("/proc/self/exe", NULL);

  g_test_add_func ("/natlab/nat/none", test_nat_none);
  g_test_add_func ("/natlab/nat/port-restricted", test_nat_port_restricted);
  g_test_add_func ("/natlab/nat/symmetric", test_nat_symmetric);
  g_test_add_func ("/natlab/nat/udp-blocked", test_nat_udp_blocked);
  g_test_add_func ("/natlab/nat/tcp-443-only", test_nat_tcp_443_only);
  g_test_add_func ("/natlab/link/delay", test_link_delay);
  g_test_add_func ("/natlab/link/loss", test_link_loss);
  g_test_add_func ("/natlab/block-between", test_block_between);
  g_test_add_func ("/natlab/miniupnpd", test_miniupnpd);

  return g_test_run ();
}
