/* SPDX-License-Identifier: GPL-3.0-or-later
 * natlab.c: builds the NAT lab out of real network namespaces with `ip`, `nft` and
 * `iptables-nft` (only for the NFQUEUE target: this kernel lacks nft's own queue expression),
 * runs processes inside them, and takes everything down again by name and by PID. */
#define G_LOG_DOMAIN "natlab"

#include "natlab.h"
#include "pinhole-test-util.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <glib/gstdio.h>

#define INTERNET_PREFIX    "203.0.113"   /* RFC 5737 TEST-NET-3: the "internet" */
#define PUBLIC_LAN_PREFIX  "198.51.100"  /* RFC 5737 TEST-NET-2: LANs of NATLAB_NAT_NONE sites */
#define SERVER_HOST        10
#define SERVER_HOST2       11
#define ROUTER_HOST_BASE   20
#define MAX_SITES          16            /* a /28 of TEST-NET-2 per site */
#define MAX_HOSTS_PER_SITE 13
#define STUN_PORT          3478
#define NETEM_QUEUE        0
#define STOP_GRACE_MS      3000
#define READY_MS           10000
#define NS_PREFIX          "natlab-"

G_DEFINE_QUARK (natlab-error-quark, natlab_error)

typedef struct
{
  char        *name;
  NatlabNat    nat;
  guint        index;          /* 1.. */
  char        *ns;
  char        *public_address;
  char        *lan_prefix;     /* "10.3.0" or "198.51.100.32" (a /28) */
  guint        n_hosts;
  GSubprocess *netem;          /* NULL without delay */
  guint        delay_ms;
  GSubprocess *miniupnpd;
  gboolean     delay_chain;    /* the iptables chain for the queue rules exists */
} Site;

typedef struct
{
  char *name;
  char *ns;
  char *address;
  Site *site;                  /* borrowed */
} Host;

struct _Natlab
{
  char        *prefix;         /* "natlab-PID-N-" */
  char        *inet_ns;
  char        *server_ns;
  char        *server_address;
  char        *server_address2;
  char        *tmpdir;
  char        *netem_program;

  GPtrArray   *namespaces;     /* char*: every namespace made, in order */
  GPtrArray   *sites;          /* Site* */
  GPtrArray   *hosts;          /* Host* */
  GPtrArray   *procs;          /* GSubprocess*: every process started */
  GPtrArray   *blocks;         /* char*: "siteA\nsiteB" pairs blocked */
  GSubprocess *stun;           /* coturn on the server host, for miniupnpd */
};

static void
site_free (gpointer data)
{
  Site *s = data;

  g_free (s->name);
  g_free (s->ns);
  g_free (s->public_address);
  g_free (s->lan_prefix);
  g_clear_object (&s->netem);
  g_clear_object (&s->miniupnpd);
  g_free (s);
}

static void
host_free (gpointer data)
{
  Host *h = data;

  g_free (h->name);
  g_free (h->ns);
  g_free (h->address);
  g_free (h);
}

/* ---- waiting with a deadline, on a private main context ---- */

static void
pause_ms (guint ms)
{
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  gboolean never = FALSE;

  ph_wait_flag_in (ctx, &never, ms);
}

/* ---- processes ---- */

static void
child_setup (gpointer data)
{
  (void) data;
  /* a test that crashes takes its lab processes with it (kept across exec) */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static GSubprocess *
spawn_full (const char * const *argv,
            GSubprocessFlags    flags,
            const char         *log_path,   /* nullable: stdout and stderr to this file */
            GError            **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;

  launcher = g_subprocess_launcher_new (flags);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  if (log_path != NULL)
    {
      g_subprocess_launcher_set_stdout_file_path (launcher, log_path);
      g_subprocess_launcher_set_flags (launcher, flags | G_SUBPROCESS_FLAGS_STDERR_MERGE);
    }
  return g_subprocess_launcher_spawnv (launcher, argv, error);
}

static void
wait_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  gboolean *done = data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *done = TRUE;
}

static gboolean
proc_running (GSubprocess *proc)
{
  return g_subprocess_get_identifier (proc) != NULL;
}

/* waits up to timeout_ms for proc to end; TRUE when it has */
static gboolean
proc_wait (GSubprocess *proc,
           guint        timeout_ms)
{
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  gboolean done = FALSE;

  if (!proc_running (proc))
    return TRUE;
  g_main_context_push_thread_default (ctx);
  g_subprocess_wait_async (proc, cancellable, wait_done_cb, &done);
  ph_wait_flag_in (ctx, &done, timeout_ms);
  if (!done)
    {
      g_cancellable_cancel (cancellable);
      ph_wait_flag_in (ctx, &done, 1000);
    }
  g_main_context_pop_thread_default (ctx);
  return !proc_running (proc);
}

/* SIGTERM, a bounded wait, then SIGKILL */
static void
proc_stop (GSubprocess *proc)
{
  if (!proc_running (proc))
    return;
  g_subprocess_send_signal (proc, SIGTERM);
  if (!proc_wait (proc, STOP_GRACE_MS))
    {
      g_subprocess_force_exit (proc);
      proc_wait (proc, STOP_GRACE_MS);
    }
}

typedef struct
{
  gboolean done;
  char    *out;
  char    *err;
  GError  *error;
} RunState;

static void
communicate_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  RunState *st = data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &st->out, &st->err,
                                        &st->error);
  st->done = TRUE;
}

/* runs argv (a full command line, no namespace added) to completion within timeout_ms */
static gboolean
run_argv (const char * const *argv,
          const char         *stdin_text,
          guint               timeout_ms,
          char              **out_stdout,
          GError            **error)
{
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autofree char *cmdline = g_strjoinv (" ", (char **) argv);
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE;
  RunState st = { 0 };
  gboolean ok = FALSE;

  if (stdin_text != NULL)
    flags |= G_SUBPROCESS_FLAGS_STDIN_PIPE;
  proc = spawn_full (argv, flags, NULL, error);
  if (proc == NULL)
    {
      g_prefix_error (error, "%s: ", cmdline);
      return FALSE;
    }

  g_main_context_push_thread_default (ctx);
  g_subprocess_communicate_utf8_async (proc, stdin_text, cancellable, communicate_cb, &st);
  if (!ph_wait_flag_in (ctx, &st.done, timeout_ms))
    {
      g_subprocess_force_exit (proc);
      g_cancellable_cancel (cancellable);
      ph_wait_flag_in (ctx, &st.done, 2000);
      g_main_context_pop_thread_default (ctx);
      proc_wait (proc, 2000);
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_TIMEOUT, "%s: still running after %u ms",
                   cmdline, timeout_ms);
      goto out;
    }
  g_main_context_pop_thread_default (ctx);
  proc_wait (proc, 2000);

  if (st.error != NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&st.error), "%s: ", cmdline);
      goto out;
    }
  if (!g_subprocess_get_successful (proc))
    {
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_FAILED, "%s: exit status %d: %s%s",
                   cmdline,
                   g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : -1,
                   g_strstrip (st.err ? st.err : ""),
                   (st.out && *st.out) ? g_strstrip (st.out) : "");
      goto out;
    }
  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&st.out);
  ok = TRUE;

out:
  g_free (st.out);
  g_free (st.err);
  g_clear_error (&st.error);
  return ok;
}

/* argv with "ip netns exec NS" in front */
static GStrv
in_ns (const char         *ns,
       const char * const *argv)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  g_strv_builder_add_many (b, "ip", "netns", "exec", ns, NULL);
  g_strv_builder_addv (b, (const char **) argv);
  return g_strv_builder_end (b);
}

/* runs a command given as varargs; ns NULL runs it where the test runs (only `ip -n`,
 * `ip netns` itself) */
static gboolean
cmd (const char *ns,
     GError    **error,
     ...) G_GNUC_NULL_TERMINATED;

static gboolean
cmd (const char *ns,
     GError    **error,
     ...)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  g_auto(GStrv) full = NULL;
  const char *arg;
  va_list ap;

  va_start (ap, error);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_strv_builder_add (b, arg);
  va_end (ap);
  argv = g_strv_builder_end (b);
  if (ns != NULL)
    full = in_ns (ns, (const char * const *) argv);
  return run_argv ((const char * const *) (full ? full : argv), NULL, NATLAB_RUN_MS, NULL,
                   error);
}

/* loads an nftables ruleset (text) in namespace ns */
static gboolean
nft_load (const char *ns,
          const char *ruleset,
          GError    **error)
{
  const char *argv[] = { "ip", "netns", "exec", ns, "nft", "-f", "-", NULL };

  return run_argv (argv, ruleset, NATLAB_RUN_MS, NULL, error);
}

/* ---- lookups ---- */

static Site *
find_site (Natlab     *lab,
           const char *name)
{
  guint i;

  for (i = 0; i < lab->sites->len; i++)
    {
      Site *s = g_ptr_array_index (lab->sites, i);

      if (g_str_equal (s->name, name))
        return s;
    }
  return NULL;
}

static Host *
find_host (Natlab     *lab,
           const char *name)
{
  guint i;

  for (i = 0; i < lab->hosts->len; i++)
    {
      Host *h = g_ptr_array_index (lab->hosts, i);

      if (g_str_equal (h->name, name))
        return h;
    }
  return NULL;
}

static gboolean
valid_name (const char *name)
{
  const char *p;

  if (name == NULL || *name == '\0' || strlen (name) > 16)
    return FALSE;
  for (p = name; *p; p++)
    if (!g_ascii_isalnum (*p))
      return FALSE;
  return TRUE;
}

/* ---- namespaces ---- */

static gboolean
add_namespace (Natlab     *lab,
               const char *ns,
               GError    **error)
{
  if (!cmd (NULL, error, "ip", "netns", "add", ns, NULL))
    return FALSE;
  g_ptr_array_add (lab->namespaces, g_strdup (ns));
  if (!cmd (NULL, error, "ip", "-n", ns, "link", "set", "lo", "up", NULL))
    return FALSE;
  /* IPv4 only: no router solicitations or DAD chatter in the captures */
  return cmd (ns, error, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", NULL);
}

/* deletes lab namespaces left behind by test processes that no longer exist (a crash
 * skips natlab_free); their processes died with them (PR_SET_PDEATHSIG) */
static void
sweep_stale_namespaces (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/run/netns", 0, NULL);
  const char *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *proc_path = NULL;
      guint64 pid;
      char *end;

      if (!g_str_has_prefix (name, NS_PREFIX))
        continue;
      pid = g_ascii_strtoull (name + strlen (NS_PREFIX), &end, 10);
      if (end == name + strlen (NS_PREFIX) || *end != '-' || pid == 0)
        continue;
      proc_path = g_strdup_printf ("/proc/%" G_GUINT64_FORMAT, pid);
      if (pid == (guint64) getpid () || g_file_test (proc_path, G_FILE_TEST_EXISTS))
        continue;
      g_debug ("deleting stale namespace %s", name);
      cmd (NULL, NULL, "ip", "netns", "del", name, NULL);
    }
}

static char *
find_netem_program (void)
{
  const char *env = g_getenv ("NATLAB_NETEM_PROGRAM");

  if (env != NULL && *env != '\0')
    return g_strdup (env);
#ifdef NATLAB_NETEM_PATH
  return g_strdup (NATLAB_NETEM_PATH);
#else
  return g_find_program_in_path ("ph-netem");
#endif
}

Natlab *
natlab_new (GError **error)
{
  static gint counter;
  g_autoptr(Natlab) lab = NULL;
  g_autofree char *server_veth_peer = NULL;
  g_autofree char *a1 = NULL;
  g_autofree char *a2 = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *tools[] = { "ip", "nft", "iptables-nft", NULL };
  guint i;

  for (i = 0; tools[i] != NULL; i++)
    {
      g_autofree char *path = g_find_program_in_path (tools[i]);

      if (path == NULL)
        {
          g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_UNSUPPORTED,
                       "the NAT lab needs '%s' (build-aux/install-deps.sh installs it)",
                       tools[i]);
          return NULL;
        }
    }

  sweep_stale_namespaces ();

  lab = g_new0 (Natlab, 1);
  lab->prefix = g_strdup_printf (NS_PREFIX "%d-%d-", (int) getpid (),
                                 g_atomic_int_add (&counter, 1));
  lab->namespaces = g_ptr_array_new_with_free_func (g_free);
  lab->sites = g_ptr_array_new_with_free_func (site_free);
  lab->hosts = g_ptr_array_new_with_free_func (host_free);
  lab->procs = g_ptr_array_new_with_free_func (g_object_unref);
  lab->blocks = g_ptr_array_new_with_free_func (g_free);
  lab->inet_ns = g_strconcat (lab->prefix, "inet", NULL);
  lab->server_ns = g_strconcat (lab->prefix, "server", NULL);
  lab->server_address = g_strdup_printf (INTERNET_PREFIX ".%d", SERVER_HOST);
  lab->server_address2 = g_strdup_printf (INTERNET_PREFIX ".%d", SERVER_HOST2);
  lab->netem_program = find_netem_program ();
  lab->tmpdir = g_dir_make_tmp ("natlab-XXXXXX", error);
  if (lab->tmpdir == NULL)
    return NULL;

  if (!add_namespace (lab, lab->inet_ns, &local_error))
    {
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_UNSUPPORTED,
                   "cannot create network namespaces here (needs root or CAP_SYS_ADMIN and "
                   "CAP_NET_ADMIN): %s", local_error->message);
      return NULL;
    }

  /* the internet: one bridge; every public host plugs a veth into it */
  a1 = g_strconcat (lab->server_address, "/24", NULL);
  a2 = g_strconcat (lab->server_address2, "/24", NULL);
  if (!cmd (NULL, error, "ip", "-n", lab->inet_ns, "link", "add", "inet", "type", "bridge",
            NULL) ||
      !cmd (NULL, error, "ip", "-n", lab->inet_ns, "link", "set", "inet", "up", NULL) ||
      !add_namespace (lab, lab->server_ns, error) ||
      !cmd (NULL, error, "ip", "-n", lab->inet_ns, "link", "add", "server", "type", "veth",
            "peer", "name", "eth0", "netns", lab->server_ns, NULL) ||
      !cmd (NULL, error, "ip", "-n", lab->inet_ns, "link", "set", "server", "master", "inet",
            "up", NULL) ||
      !cmd (NULL, error, "ip", "-n", lab->server_ns, "addr", "add", a1, "dev", "eth0", NULL) ||
      !cmd (NULL, error, "ip", "-n", lab->server_ns, "addr", "add", a2, "dev", "eth0", NULL) ||
      !cmd (NULL, error, "ip", "-n", lab->server_ns, "link", "set", "eth0", "up", NULL))
    return NULL;

  return g_steal_pointer (&lab);
}

const char *
natlab_server_ns (Natlab *lab)
{
  g_return_val_if_fail (lab != NULL, NULL);
  return lab->server_ns;
}

const char *
natlab_server_address (Natlab *lab)
{
  g_return_val_if_fail (lab != NULL, NULL);
  return lab->server_address;
}

const char *
natlab_server_address2 (Natlab *lab)
{
  g_return_val_if_fail (lab != NULL, NULL);
  return lab->server_address2;
}

/* ---- sites ---- */

/* the router's own rules: NAT and the filtering of its NAT type */
static char *
router_ruleset (Site *s)
{
  GString *r = g_string_new ("table inet natlab {\n");
  gboolean masq = s->nat != NATLAB_NAT_NONE;

  g_string_append (r, "  chain forward {\n"
                      "    type filter hook forward priority filter; policy accept;\n");
  if (masq)
    {
      /* nothing unsolicited comes in, except what a port mapping forwards */
      g_string_append (r, "    iifname \"wan\" ct state established,related accept\n"
                          "    iifname \"wan\" ct status dnat accept\n"
                          "    iifname \"wan\" drop\n");
    }
  switch (s->nat)
    {
    case NATLAB_NAT_UDP_BLOCKED:
      g_string_append (r, "    oifname \"wan\" meta l4proto udp drop\n");
      break;
    case NATLAB_NAT_TCP_443_ONLY:
      g_string_append (r, "    oifname \"wan\" ct state established,related accept\n"
                          "    oifname \"wan\" tcp dport 443 accept\n"
                          "    oifname \"wan\" drop\n");
      break;
    case NATLAB_NAT_NONE:
    case NATLAB_NAT_PORT_RESTRICTED:
    case NATLAB_NAT_SYMMETRIC:
    case NATLAB_NAT_MINIUPNPD:
    default:
      break;
    }
  g_string_append (r, "  }\n");
  if (masq)
    {
      /* like a home router, nothing unsolicited from a peer reaches the router itself: a
       * packet it accepted would leave a conntrack entry for its public address and port,
       * and the LAN host's own flow to that peer would then be masqueraded to another port,
       * which breaks UDP hole punching. The server host stays allowed: miniupnpd's STUN
       * test (ext_perform_stun) needs coturn's answers from the other address and port. */
      g_string_append_printf (r, "  chain input {\n"
                                 "    type filter hook input priority filter; policy accept;\n"
                                 "    iifname \"wan\" ip saddr != { %s.%d, %s.%d } "
                                 "ct state new meta l4proto { udp, tcp } drop\n"
                                 "  }\n",
                              INTERNET_PREFIX, SERVER_HOST, INTERNET_PREFIX, SERVER_HOST2);
    }
  if (masq)
    g_string_append_printf (r, "  chain postrouting {\n"
                               "    type nat hook postrouting priority srcnat; policy accept;\n"
                               "    oifname \"wan\" masquerade%s\n"
                               "  }\n",
                            s->nat == NATLAB_NAT_SYMMETRIC ? " fully-random" : "");
  g_string_append (r, "}\n");

  if (s->nat == NATLAB_NAT_MINIUPNPD)
    {
      /* the tables and chains miniupnpd's nftables backend adds its rules to (what
       * /etc/miniupnpd/nft_init.sh would make, with a forward policy of accept since the
       * natlab table filters) */
      g_string_append (r,
                       "table inet filter {\n"
                       "  chain forward {\n"
                       "    type filter hook forward priority filter; policy accept;\n"
                       "    jump miniupnpd\n"
                       "  }\n"
                       "  chain miniupnpd {\n"
                       "  }\n"
                       "}\n"
                       "table inet nat {\n"
                       "  chain prerouting {\n"
                       "    type nat hook prerouting priority dstnat; policy accept;\n"
                       "    jump prerouting_miniupnpd\n"
                       "  }\n"
                       "  chain prerouting_miniupnpd {\n"
                       "  }\n"
                       "  chain postrouting {\n"
                       "    type nat hook postrouting priority srcnat - 1; policy accept;\n"
                       "    jump postrouting_miniupnpd\n"
                       "  }\n"
                       "  chain postrouting_miniupnpd {\n"
                       "  }\n"
                       "}\n");
    }
  return g_string_free (r, FALSE);
}

/* routes to the public LAN of NATLAB_NAT_NONE site s, in namespace ns */
static gboolean
add_public_lan_route (Site       *s,
                      const char *ns,
                      GError    **error)
{
  g_autofree char *net = g_strconcat (s->lan_prefix, "/28", NULL);

  return cmd (NULL, error, "ip", "-n", ns, "route", "add", net, "via", s->public_address,
              NULL);
}

static gboolean
wait_udp_listening (const char *ns,
                    const char *what,       /* for the message */
                    const char * const *needles,
                    GSubprocess *proc,      /* nullable: fail early when it ends */
                    GError    **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) READY_MS * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *out = NULL;
      const char *argv[] = { "ip", "netns", "exec", ns, "ss", "-H", "-uln", NULL };
      gboolean all = TRUE;
      guint i;

      if (!run_argv (argv, NULL, NATLAB_RUN_MS, &out, error))
        return FALSE;
      for (i = 0; needles[i] != NULL; i++)
        if (strstr (out, needles[i]) == NULL)
          all = FALSE;
      if (all)
        return TRUE;
      if (proc != NULL && !proc_running (proc))
        break;
      pause_ms (50);
    }
  g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_TIMEOUT, "%s did not start listening in %s",
               what, ns);
  return FALSE;
}

static char *
read_log (Natlab     *lab,
          const char *name)
{
  g_autofree char *path = g_build_filename (lab->tmpdir, name, NULL);
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return g_strdup ("(no log)");
  return text;
}

/* coturn on both server addresses: miniupnpd asks it (RFC 5780 tests) whether its external
 * address is reachable before it agrees to map ports */
static gboolean
ensure_stun_server (Natlab  *lab,
                    GError **error)
{
  g_autofree char *l1 = g_strdup_printf ("--listening-ip=%s", lab->server_address);
  g_autofree char *l2 = g_strdup_printf ("--listening-ip=%s", lab->server_address2);
  g_autofree char *port = g_strdup_printf ("--listening-port=%d", STUN_PORT);
  g_autofree char *pid = g_strdup_printf ("--pidfile=%s/turnserver.pid", lab->tmpdir);
  g_autofree char *log = g_build_filename (lab->tmpdir, "turnserver.log", NULL);
  g_autofree char *n1 = g_strdup_printf ("%s:%d", lab->server_address, STUN_PORT);
  g_autofree char *n2 = g_strdup_printf ("%s:%d", lab->server_address2, STUN_PORT + 1);
  const char *needles[] = { n1, n2, NULL };
  const char *argv[] = { "turnserver", "-n", l1, l2, port, "--no-tls", "--no-dtls",
                         "--stun-only", "--no-cli", "--no-auth", "--log-file=stdout",
                         "--simple-log", pid, NULL };
  g_auto(GStrv) full = NULL;

  if (lab->stun != NULL)
    return TRUE;
  full = in_ns (lab->server_ns, argv);
  lab->stun = spawn_full ((const char * const *) full, G_SUBPROCESS_FLAGS_NONE, log, error);
  if (lab->stun == NULL)
    {
      g_prefix_error (error, "starting coturn (turnserver) for miniupnpd: ");
      return FALSE;
    }
  g_ptr_array_add (lab->procs, g_object_ref (lab->stun));
  if (!wait_udp_listening (lab->server_ns, "turnserver", needles, lab->stun, error))
    {
      g_autofree char *text = read_log (lab, "turnserver.log");

      g_prefix_error (error, "coturn: ");
      g_debug ("turnserver log:\n%s", text);
      return FALSE;
    }
  return TRUE;
}

static gboolean
start_miniupnpd (Natlab  *lab,
                 Site    *s,
                 GError **error)
{
  g_autofree char *conf_path = NULL;
  g_autofree char *pid_path = NULL;
  g_autofree char *log_name = g_strdup_printf ("miniupnpd-%s.log", s->name);
  g_autofree char *log_path = g_build_filename (lab->tmpdir, log_name, NULL);
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *conf = NULL;
  g_autofree char *needle = g_strdup_printf ("%s.1:5351", s->lan_prefix);
  const char *needles[] = { needle, NULL };
  const char *argv[4] = { "miniupnpd", "-d", "-f", NULL };
  const char *argv_full[7] = { 0 };
  g_auto(GStrv) full = NULL;

  conf_path = g_strdup_printf ("%s/miniupnpd-%s.conf", lab->tmpdir, s->name);
  pid_path = g_strdup_printf ("%s/miniupnpd-%s.pid", lab->tmpdir, s->name);
  /* Debian's miniupnpd 2.3.1 refuses to map ports when the external address is reserved
   * (203.0.113.0/24 is) and rejects such an ext_ip= too; with ext_perform_stun it asks a
   * STUN server instead and maps ports when the RFC 5780 tests find no filtering */
  conf = g_strdup_printf ("ext_ifname=wan\n"
                          "listening_ip=lan\n"
                          "enable_upnp=yes\n"
                          "enable_natpmp=yes\n"
                          "secure_mode=no\n"
                          "system_uptime=no\n"
                          "uuid=%s\n"
                          "notify_interval=10\n"
                          "clean_ruleset_interval=0\n"
                          "ext_perform_stun=yes\n"
                          "ext_stun_host=%s\n"
                          "ext_stun_port=%d\n"
                          "upnp_table_name=filter\n"
                          "upnp_nat_table_name=nat\n"
                          "upnp_forward_chain=miniupnpd\n"
                          "upnp_nat_chain=prerouting_miniupnpd\n"
                          "upnp_nat_postrouting_chain=postrouting_miniupnpd\n"
                          "allow 1024-65535 %s.0/24 1024-65535\n"
                          "deny 0-65535 0.0.0.0/0 0-65535\n",
                          uuid, lab->server_address, STUN_PORT, s->lan_prefix);
  if (!g_file_set_contents (conf_path, conf, -1, error))
    return FALSE;

  argv[3] = conf_path;
  memcpy (argv_full, argv, sizeof argv);
  argv_full[4] = "-P";
  argv_full[5] = pid_path;
  full = in_ns (s->ns, argv_full);
  s->miniupnpd = spawn_full ((const char * const *) full, G_SUBPROCESS_FLAGS_NONE, log_path,
                             error);
  if (s->miniupnpd == NULL)
    {
      g_prefix_error (error, "starting miniupnpd: ");
      return FALSE;
    }
  g_ptr_array_add (lab->procs, g_object_ref (s->miniupnpd));
  if (!wait_udp_listening (s->ns, "miniupnpd", needles, s->miniupnpd, error))
    {
      g_autofree char *text = read_log (lab, log_name);

      g_prefix_error (error, "miniupnpd (log %s): ", log_path);
      g_debug ("miniupnpd log:\n%s", text);
      return FALSE;
    }
  return TRUE;
}

gboolean
natlab_add_site (Natlab     *lab,
                 const char *site,
                 NatlabNat   nat,
                 GError    **error)
{
  Site *s;
  g_autofree char *wan = NULL;
  g_autofree char *lan = NULL;
  g_autofree char *rules = NULL;
  g_autofree char *port = NULL;
  guint i;

  g_return_val_if_fail (lab != NULL, FALSE);
  g_return_val_if_fail (nat <= NATLAB_NAT_MINIUPNPD, FALSE);

  if (!valid_name (site))
    {
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_FAILED,
                   "site name '%s' is not 1 to 16 letters and digits", site);
      return FALSE;
    }
  if (find_site (lab, site) != NULL)
    {
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_FAILED, "site '%s' exists", site);
      return FALSE;
    }
  if (lab->sites->len >= MAX_SITES)
    {
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_FAILED, "a lab has at most %d sites",
                   MAX_SITES);
      return FALSE;
    }

  s = g_new0 (Site, 1);
  s->name = g_strdup (site);
  s->nat = nat;
  s->index = lab->sites->len + 1;
  s->ns = g_strdup_printf ("%sr-%s", lab->prefix, site);
  s->public_address = g_strdup_printf (INTERNET_PREFIX ".%u", ROUTER_HOST_BASE + s->index);
  if (nat == NATLAB_NAT_NONE)
    s->lan_prefix = g_strdup_printf (PUBLIC_LAN_PREFIX ".%u", (s->index - 1) * 16);
  else
    s->lan_prefix = g_strdup_printf ("10.%u.0", s->index);
  g_ptr_array_add (lab->sites, s);

  wan = g_strconcat (s->public_address, "/24", NULL);
  /* the site's port on the internet bridge; never the site name, which `ip` could read as
   * a keyword ("a" is "address") */
  port = g_strdup_printf ("site%u", s->index);
  /* the router takes .1 of its LAN: "10.3.0.1", or the first address of its /28 */
  if (nat == NATLAB_NAT_NONE)
    lan = g_strdup_printf (PUBLIC_LAN_PREFIX ".%u/28", (s->index - 1) * 16 + 1);
  else
    lan = g_strdup_printf ("%s.1/24", s->lan_prefix);

  if (!add_namespace (lab, s->ns, error) ||
      !cmd (NULL, error, "ip", "-n", lab->inet_ns, "link", "add", port, "type", "veth",
            "peer", "name", "wan", "netns", s->ns, NULL) ||
      !cmd (NULL, error, "ip", "-n", lab->inet_ns, "link", "set", port, "master", "inet",
            "up", NULL) ||
      !cmd (NULL, error, "ip", "-n", s->ns, "addr", "add", wan, "dev", "wan", NULL) ||
      !cmd (NULL, error, "ip", "-n", s->ns, "link", "set", "wan", "up", NULL) ||
      !cmd (NULL, error, "ip", "-n", s->ns, "link", "add", "lan", "type", "bridge", NULL) ||
      !cmd (NULL, error, "ip", "-n", s->ns, "addr", "add", lan, "dev", "lan", NULL) ||
      !cmd (NULL, error, "ip", "-n", s->ns, "link", "set", "lan", "up", NULL) ||
      /* forwarding only here, in the router's own namespace */
      !cmd (s->ns, error, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", NULL))
    return FALSE;

  rules = router_ruleset (s);
  if (!nft_load (s->ns, rules, error))
    return FALSE;

  /* public LANs are reachable from every public host */
  for (i = 0; i < lab->sites->len; i++)
    {
      Site *other = g_ptr_array_index (lab->sites, i);

      if (other == s)
        continue;
      if (other->nat == NATLAB_NAT_NONE && !add_public_lan_route (other, s->ns, error))
        return FALSE;
      if (nat == NATLAB_NAT_NONE && !add_public_lan_route (s, other->ns, error))
        return FALSE;
    }
  if (nat == NATLAB_NAT_NONE && !add_public_lan_route (s, lab->server_ns, error))
    return FALSE;

  if (nat == NATLAB_NAT_MINIUPNPD &&
      (!ensure_stun_server (lab, error) || !start_miniupnpd (lab, s, error)))
    return FALSE;
  return TRUE;
}

gboolean
natlab_add_host (Natlab     *lab,
                 const char *site,
                 const char *host,
                 GError    **error)
{
  Site *s;
  Host *h;
  g_autofree char *port = NULL;
  g_autofree char *cidr = NULL;
  g_autofree char *gateway = NULL;
  guint last;

  g_return_val_if_fail (lab != NULL, FALSE);

  s = site ? find_site (lab, site) : NULL;
  if (s == NULL)
    {
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_FAILED, "no site '%s'", site);
      return FALSE;
    }
  if (!valid_name (host) || find_host (lab, host) != NULL)
    {
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_FAILED,
                   "host name '%s' is taken or not 1 to 16 letters and digits", host);
      return FALSE;
    }
  if (s->n_hosts >= MAX_HOSTS_PER_SITE)
    {
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_FAILED, "site '%s' is full (%d hosts)",
                   site, MAX_HOSTS_PER_SITE);
      return FALSE;
    }

  s->n_hosts++;
  h = g_new0 (Host, 1);
  h->name = g_strdup (host);
  h->site = s;
  h->ns = g_strdup_printf ("%sh-%s", lab->prefix, host);
  if (s->nat == NATLAB_NAT_NONE)
    {
      last = (s->index - 1) * 16 + 1 + s->n_hosts;
      h->address = g_strdup_printf (PUBLIC_LAN_PREFIX ".%u", last);
      cidr = g_strconcat (h->address, "/28", NULL);
      gateway = g_strdup_printf (PUBLIC_LAN_PREFIX ".%u", (s->index - 1) * 16 + 1);
    }
  else
    {
      last = 1 + s->n_hosts;
      h->address = g_strdup_printf ("%s.%u", s->lan_prefix, last);
      cidr = g_strconcat (h->address, "/24", NULL);
      gateway = g_strconcat (s->lan_prefix, ".1", NULL);
    }
  g_ptr_array_add (lab->hosts, h);
  port = g_strdup_printf ("h%u", s->n_hosts);

  return add_namespace (lab, h->ns, error) &&
         cmd (NULL, error, "ip", "-n", s->ns, "link", "add", port, "type", "veth", "peer",
              "name", "eth0", "netns", h->ns, NULL) &&
         cmd (NULL, error, "ip", "-n", s->ns, "link", "set", port, "master", "lan", "up",
              NULL) &&
         cmd (NULL, error, "ip", "-n", h->ns, "addr", "add", cidr, "dev", "eth0", NULL) &&
         cmd (NULL, error, "ip", "-n", h->ns, "link", "set", "eth0", "up", NULL) &&
         cmd (NULL, error, "ip", "-n", h->ns, "route", "add", "default", "via", gateway, NULL);
}

const char *
natlab_host_ns (Natlab     *lab,
                const char *host)
{
  Host *h;

  g_return_val_if_fail (lab != NULL, NULL);
  h = find_host (lab, host);
  return h ? h->ns : NULL;
}

const char *
natlab_host_address (Natlab     *lab,
                     const char *host)
{
  Host *h;

  g_return_val_if_fail (lab != NULL, NULL);
  h = find_host (lab, host);
  return h ? h->address : NULL;
}

const char *
natlab_router_ns (Natlab     *lab,
                  const char *site)
{
  Site *s;

  g_return_val_if_fail (lab != NULL, NULL);
  s = find_site (lab, site);
  return s ? s->ns : NULL;
}

const char *
natlab_router_public_address (Natlab     *lab,
                              const char *site)
{
  Site *s;

  g_return_val_if_fail (lab != NULL, NULL);
  s = find_site (lab, site);
  return s ? s->public_address : NULL;
}

/* ---- link conditions ---- */

static gboolean
wait_ready_line (GSubprocess *proc,
                 guint        timeout_ms,
                 GError     **error);

static gboolean
stop_netem (Natlab  *lab,
            Site    *s,
            GError **error)
{
  (void) lab;
  if (s->delay_chain &&
      !cmd (s->ns, error, "iptables-nft", "-t", "mangle", "-F", "NATLAB_DELAY", NULL))
    return FALSE;
  if (s->netem != NULL)
    {
      proc_stop (s->netem);
      g_clear_object (&s->netem);
    }
  s->delay_ms = 0;
  return TRUE;
}

static gboolean
start_netem (Natlab  *lab,
             Site    *s,
             guint    delay_ms,
             GError **error)
{
  g_autofree char *delay = g_strdup_printf ("%u", delay_ms);
  g_autofree char *queue = g_strdup_printf ("%d", NETEM_QUEUE);
  const char *argv[] = { lab->netem_program, "--queue", queue, "--delay-ms", delay, NULL };
  g_auto(GStrv) full = NULL;

  if (lab->netem_program == NULL || !g_file_test (lab->netem_program, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_UNSUPPORTED,
                   "no ph-netem program (%s); set NATLAB_NETEM_PROGRAM",
                   lab->netem_program ? lab->netem_program : "not found");
      return FALSE;
    }
  full = in_ns (s->ns, argv);
  s->netem = spawn_full ((const char * const *) full, G_SUBPROCESS_FLAGS_STDOUT_PIPE, NULL,
                         error);
  if (s->netem == NULL)
    return FALSE;
  g_ptr_array_add (lab->procs, g_object_ref (s->netem));
  if (!wait_ready_line (s->netem, READY_MS, error))
    {
      g_prefix_error (error, "ph-netem in %s: ", s->ns);
      return FALSE;
    }
  s->delay_ms = delay_ms;

  if (!s->delay_chain)
    {
      if (!cmd (s->ns, error, "iptables-nft", "-t", "mangle", "-N", "NATLAB_DELAY", NULL) ||
          !cmd (s->ns, error, "iptables-nft", "-t", "mangle", "-A", "FORWARD", "-j",
                "NATLAB_DELAY", NULL))
        return FALSE;
      s->delay_chain = TRUE;
    }
  /* both directions through the internet side of the router */
  return cmd (s->ns, error, "iptables-nft", "-t", "mangle", "-A", "NATLAB_DELAY", "-i", "wan",
              "-j", "NFQUEUE", "--queue-num", queue, NULL) &&
         cmd (s->ns, error, "iptables-nft", "-t", "mangle", "-A", "NATLAB_DELAY", "-o", "wan",
              "-j", "NFQUEUE", "--queue-num", queue, NULL);
}

gboolean
natlab_set_link (Natlab     *lab,
                 const char *site,
                 guint       delay_ms,
                 guint       loss_per_10000,
                 GError    **error)
{
  Site *s;
  g_autoptr(GString) rules = g_string_new ("table inet natlab_link {\n}\n"
                                           "delete table inet natlab_link\n");

  g_return_val_if_fail (lab != NULL, FALSE);

  s = site ? find_site (lab, site) : NULL;
  if (s == NULL)
    {
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_FAILED, "no site '%s'", site);
      return FALSE;
    }
  if (loss_per_10000 > 10000 || delay_ms > 60000)
    {
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_FAILED,
                   "link of site '%s': loss %u/10000 or delay %u ms out of range", site,
                   loss_per_10000, delay_ms);
      return FALSE;
    }

  /* loss before the delay queue (priority below mangle's -150): a lost packet is not held */
  if (loss_per_10000 > 0)
    g_string_append_printf (rules,
                            "table inet natlab_link {\n"
                            "  chain forward {\n"
                            "    type filter hook forward priority -200; policy accept;\n"
                            "    iifname \"wan\" numgen random mod 10000 < %u drop\n"
                            "    oifname \"wan\" numgen random mod 10000 < %u drop\n"
                            "  }\n"
                            "}\n", loss_per_10000, loss_per_10000);
  if (!nft_load (s->ns, rules->str, error))
    return FALSE;

  if (delay_ms == s->delay_ms && (delay_ms == 0) == (s->netem == NULL))
    return TRUE;
  if (!stop_netem (lab, s, error))
    return FALSE;
  return delay_ms == 0 || start_netem (lab, s, delay_ms, error);
}

static void
site_public_set (Site    *s,
                 GString *out)
{
  g_string_append_printf (out, "{ %s", s->public_address);
  if (s->nat == NATLAB_NAT_NONE)
    g_string_append_printf (out, ", %s/28", s->lan_prefix);
  g_string_append (out, " }");
}

gboolean
natlab_block_between (Natlab     *lab,
                      const char *site_a,
                      const char *site_b,
                      gboolean    block,
                      GError    **error)
{
  Site *a, *b;
  g_autofree char *key = NULL;
  g_autoptr(GString) rules = NULL;
  guint i;
  gboolean found = FALSE;

  g_return_val_if_fail (lab != NULL, FALSE);

  a = site_a ? find_site (lab, site_a) : NULL;
  b = site_b ? find_site (lab, site_b) : NULL;
  if (a == NULL || b == NULL || a == b)
    {
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_FAILED,
                   "cannot block between sites '%s' and '%s'", site_a, site_b);
      return FALSE;
    }
  /* one key per unordered pair */
  key = g_strcmp0 (a->name, b->name) < 0 ? g_strconcat (a->name, "\n", b->name, NULL)
                                         : g_strconcat (b->name, "\n", a->name, NULL);
  for (i = 0; i < lab->blocks->len; i++)
    if (g_str_equal (g_ptr_array_index (lab->blocks, i), key))
      {
        found = TRUE;
        if (!block)
          g_ptr_array_remove_index (lab->blocks, i);
        break;
      }
  if (block && !found)
    g_ptr_array_add (lab->blocks, g_steal_pointer (&key));

  /* dropped by the internet itself, on its bridge: NAT or not, in either direction */
  rules = g_string_new ("table bridge natlab_block {\n}\ndelete table bridge natlab_block\n"
                        "table bridge natlab_block {\n"
                        "  chain forward {\n"
                        "    type filter hook forward priority filter; policy accept;\n");
  for (i = 0; i < lab->blocks->len; i++)
    {
      g_auto(GStrv) pair = g_strsplit (g_ptr_array_index (lab->blocks, i), "\n", 2);
      Site *x = find_site (lab, pair[0]);
      Site *y = find_site (lab, pair[1]);

      g_string_append (rules, "    ip saddr ");
      site_public_set (x, rules);
      g_string_append (rules, " ip daddr ");
      site_public_set (y, rules);
      g_string_append (rules, " drop\n    ip saddr ");
      site_public_set (y, rules);
      g_string_append (rules, " ip daddr ");
      site_public_set (x, rules);
      g_string_append (rules, " drop\n");
    }
  g_string_append (rules, "  }\n}\n");
  return nft_load (lab->inet_ns, rules->str, error);
}

/* ---- processes in namespaces ---- */

static void
read_line_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  RunState *st = data;

  st->out = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
                                                       NULL, &st->error);
  st->done = TRUE;
}

/* waits for the first line of proc's standard output to start with "ready" */
static gboolean
wait_ready_line (GSubprocess *proc,
                 guint        timeout_ms,
                 GError     **error)
{
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GDataInputStream) in = NULL;
  RunState st = { 0 };
  gboolean ok;

  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (in), FALSE);
  g_main_context_push_thread_default (ctx);
  g_data_input_stream_read_line_async (in, G_PRIORITY_DEFAULT, cancellable, read_line_cb, &st);
  if (!ph_wait_flag_in (ctx, &st.done, timeout_ms))
    {
      g_cancellable_cancel (cancellable);
      ph_wait_flag_in (ctx, &st.done, 1000);
    }
  g_main_context_pop_thread_default (ctx);

  ok = st.out != NULL && g_str_has_prefix (st.out, "ready");
  if (!ok)
    g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_TIMEOUT, "not ready within %u ms (%s)",
                 timeout_ms,
                 st.error ? st.error->message : st.out ? st.out : "no output");
  g_free (st.out);
  g_clear_error (&st.error);
  return ok;
}

GSubprocess *
natlab_spawnv (Natlab             *lab,
               const char         *ns,
               GSubprocessFlags    flags,
               const char * const *argv,
               GError            **error)
{
  g_auto(GStrv) full = NULL;
  GSubprocess *proc;

  g_return_val_if_fail (lab != NULL, NULL);
  g_return_val_if_fail (ns != NULL, NULL);
  g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);

  full = in_ns (ns, argv);
  proc = spawn_full ((const char * const *) full, flags, NULL, error);
  if (proc != NULL)
    g_ptr_array_add (lab->procs, g_object_ref (proc));
  return proc;
}

static GStrv
collect_argv (const char *argv0,
              va_list     ap)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  const char *arg;

  g_strv_builder_add (b, argv0);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_strv_builder_add (b, arg);
  return g_strv_builder_end (b);
}

GSubprocess *
natlab_spawn (Natlab           *lab,
              const char       *ns,
              GSubprocessFlags  flags,
              GError          **error,
              const char       *argv0,
              ...)
{
  g_auto(GStrv) argv = NULL;
  va_list ap;

  va_start (ap, argv0);
  argv = collect_argv (argv0, ap);
  va_end (ap);
  return natlab_spawnv (lab, ns, flags, (const char * const *) argv, error);
}

gboolean
natlab_run (Natlab     *lab,
            const char *ns,
            char      **out_stdout,
            GError    **error,
            const char *argv0,
            ...)
{
  g_auto(GStrv) argv = NULL;
  g_auto(GStrv) full = NULL;
  va_list ap;

  g_return_val_if_fail (lab != NULL, FALSE);
  g_return_val_if_fail (ns != NULL, FALSE);

  va_start (ap, argv0);
  argv = collect_argv (argv0, ap);
  va_end (ap);
  full = in_ns (ns, (const char * const *) argv);
  return run_argv ((const char * const *) full, NULL, NATLAB_RUN_MS, out_stdout, error);
}

/* ---- teardown ---- */

void
natlab_free (Natlab *lab)
{
  guint i;
  gint64 deadline;

  if (lab == NULL)
    return;

  /* every process: SIGTERM to all first, then one shared grace period, then SIGKILL */
  for (i = 0; i < lab->procs->len; i++)
    {
      GSubprocess *p = g_ptr_array_index (lab->procs, i);

      if (proc_running (p))
        g_subprocess_send_signal (p, SIGTERM);
    }
  deadline = g_get_monotonic_time () + (gint64) STOP_GRACE_MS * 1000;
  for (i = 0; i < lab->procs->len; i++)
    {
      GSubprocess *p = g_ptr_array_index (lab->procs, i);
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;

      if (!proc_wait (p, (guint) MAX (left, 1)))
        {
          g_subprocess_force_exit (p);
          proc_wait (p, STOP_GRACE_MS);
        }
    }

  /* deleting a namespace deletes the veths in it, and with them their peers */
  for (i = lab->namespaces->len; i > 0; i--)
    {
      const char *ns = g_ptr_array_index (lab->namespaces, i - 1);
      g_autoptr(GError) error = NULL;

      if (!cmd (NULL, &error, "ip", "netns", "del", ns, NULL))
        g_printerr ("natlab: %s\n", error->message);
    }

  if (lab->tmpdir != NULL)
    ph_remove_tree (lab->tmpdir);

  g_clear_object (&lab->stun);
  g_ptr_array_unref (lab->procs);
  g_ptr_array_unref (lab->hosts);
  g_ptr_array_unref (lab->sites);
  g_ptr_array_unref (lab->namespaces);
  g_ptr_array_unref (lab->blocks);
  g_free (lab->prefix);
  g_free (lab->inet_ns);
  g_free (lab->server_ns);
  g_free (lab->server_address);
  g_free (lab->server_address2);
  g_free (lab->tmpdir);
  g_free (lab->netem_program);
  g_free (lab);
}
