/* SPDX-License-Identifier: GPL-3.0-or-later
 * natlab.c: builds the NAT lab out of real network namespaces with `ip`, `nft` and
 * `iptables-nft` (only for the NFQUEUE target: this kernel lacks nft's own queue expression),
 * runs processes inside them, and takes everything down again by name and by PID. */
#define G_LOG_DOMAIN "natlab"

#include "natlab.h"
#include "natlab-private.h"
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
#define NS_PREFIX          "natlab-"

G_DEFINE_QUARK (natlab-error-quark, natlab_error)

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

/* ---- lookups ---- */

Site *
_natlab_find_site (Natlab     *lab,
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
  if (!_natlab_cmd (NULL, error, "ip", "netns", "add", ns, NULL))
    return FALSE;
  g_ptr_array_add (lab->namespaces, g_strdup (ns));
  if (!_natlab_cmd (NULL, error, "ip", "-n", ns, "link", "set", "lo", "up", NULL))
    return FALSE;
  /* IPv4 only: no router solicitations or DAD chatter in the captures */
  return _natlab_cmd (ns, error, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", NULL);
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
      _natlab_cmd (NULL, NULL, "ip", "netns", "del", name, NULL);
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
  if (!_natlab_cmd (NULL, error, "ip", "-n", lab->inet_ns, "link", "add", "inet", "type", "bridge",
                    NULL) ||
      !_natlab_cmd (NULL, error, "ip", "-n", lab->inet_ns, "link", "set", "inet", "up", NULL) ||
      !add_namespace (lab, lab->server_ns, error) ||
      !_natlab_cmd (NULL, error, "ip", "-n", lab->inet_ns, "link", "add", "server", "type", "veth",
            "peer", "name", "eth0", "netns", lab->server_ns, NULL) ||
      !_natlab_cmd (NULL, error, "ip", "-n", lab->inet_ns, "link", "set", "server", "master",
                    "inet",
            "up", NULL) ||
      !_natlab_cmd (NULL, error, "ip", "-n", lab->server_ns, "addr", "add", a1, "dev", "eth0",
                    NULL) ||
      !_natlab_cmd (NULL, error, "ip", "-n", lab->server_ns, "addr", "add", a2, "dev", "eth0",
                    NULL) ||
      !_natlab_cmd (NULL, error, "ip", "-n", lab->server_ns, "link", "set", "eth0", "up", NULL))
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
    case NATLAB_NAT_MINIUPNPD_PCP:
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
                                 "%s"
                                 "  }\n",
                              INTERNET_PREFIX, SERVER_HOST, INTERNET_PREFIX, SERVER_HOST2,
                              /* the first payload byte is the version: 0 is NAT-PMP, 2 PCP */
                              s->nat == NATLAB_NAT_MINIUPNPD_PCP
                              ? "    iifname \"lan\" udp dport 5351 @th,64,8 0 drop\n" : "");
    }
  if (masq)
    g_string_append_printf (r, "  chain postrouting {\n"
                               "    type nat hook postrouting priority srcnat; policy accept;\n"
                               "    oifname \"wan\" masquerade%s\n"
                               "  }\n",
                            s->nat == NATLAB_NAT_SYMMETRIC ? " fully-random" : "");
  g_string_append (r, "}\n");

  if (s->nat == NATLAB_NAT_MINIUPNPD || s->nat == NATLAB_NAT_MINIUPNPD_PCP)
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

  return _natlab_cmd (NULL, error, "ip", "-n", ns, "route", "add", net, "via", s->public_address,
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

      if (!_natlab_run_argv (argv, NULL, NATLAB_RUN_MS, &out, error))
        return FALSE;
      for (i = 0; needles[i] != NULL; i++)
        if (strstr (out, needles[i]) == NULL)
          all = FALSE;
      if (all)
        return TRUE;
      if (proc != NULL && !_natlab_proc_running (proc))
        break;
      _natlab_pause_ms (50);
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
  full = _natlab_in_ns (lab->server_ns, argv);
  lab->stun = _natlab_spawn_full ((const char * const *) full, G_SUBPROCESS_FLAGS_NONE, log, error);
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
  g_autofree char *leases = g_strdup_printf ("%s/miniupnpd-%s.leases", lab->tmpdir, s->name);
  const char *needles[] = { needle, NULL };
  const char *argv[4] = { "miniupnpd", "-d", "-f", NULL };
  const char *argv_full[7] = { 0 };
  g_auto(GStrv) full = NULL;

  conf_path = g_strdup_printf ("%s/miniupnpd-%s.conf", lab->tmpdir, s->name);
  pid_path = g_strdup_printf ("%s/miniupnpd-%s.pid", lab->tmpdir, s->name);
  /* Debian's miniupnpd 2.3.1 refuses to map ports when the external address is reserved
   * (203.0.113.0/24 is) and rejects such an ext_ip= too; with ext_perform_stun it asks a
   * STUN server instead and maps ports when the RFC 5780 tests find no filtering */
  /* PCP-only: Debian's miniupnpd 2.3.1 answers PCP on its NAT-PMP socket, which
   * enable_natpmp=no closes too; the router's nftables drop NAT-PMP's version 0 instead */
  conf = g_strdup_printf ("ext_ifname=wan\n"
                          "listening_ip=lan\n"
                          "enable_upnp=%s\n"
                          "enable_natpmp=yes\n"
                          "lease_file=%s\n"
                          "%s"
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
                          s->nat == NATLAB_NAT_MINIUPNPD_PCP ? "no" : "yes", leases,
                          /* PCP grants at least 120 s by default: short leases let tests
                           * see renewals */
                          s->nat == NATLAB_NAT_MINIUPNPD_PCP ? "min_lifetime=8\n" : "",
                          uuid, lab->server_address, STUN_PORT, s->lan_prefix);
  if (!g_file_set_contents (conf_path, conf, -1, error))
    return FALSE;

  argv[3] = conf_path;
  memcpy (argv_full, argv, sizeof argv);
  argv_full[4] = "-P";
  argv_full[5] = pid_path;
  full = _natlab_in_ns (s->ns, argv_full);
  s->miniupnpd = _natlab_spawn_full ((const char * const *) full, G_SUBPROCESS_FLAGS_NONE, log_path,
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
  g_return_val_if_fail (nat <= NATLAB_NAT_MINIUPNPD_PCP, FALSE);

  if (!valid_name (site))
    {
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_FAILED,
                   "site name '%s' is not 1 to 16 letters and digits", site);
      return FALSE;
    }
  if (_natlab_find_site (lab, site) != NULL)
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
      !_natlab_cmd (NULL, error, "ip", "-n", lab->inet_ns, "link", "add", port, "type", "veth",
            "peer", "name", "wan", "netns", s->ns, NULL) ||
      !_natlab_cmd (NULL, error, "ip", "-n", lab->inet_ns, "link", "set", port, "master", "inet",
            "up", NULL) ||
      !_natlab_cmd (NULL, error, "ip", "-n", s->ns, "addr", "add", wan, "dev", "wan", NULL) ||
      !_natlab_cmd (NULL, error, "ip", "-n", s->ns, "link", "set", "wan", "up", NULL) ||
      !_natlab_cmd (NULL, error, "ip", "-n", s->ns, "link", "add", "lan", "type", "bridge", NULL) ||
      !_natlab_cmd (NULL, error, "ip", "-n", s->ns, "addr", "add", lan, "dev", "lan", NULL) ||
      !_natlab_cmd (NULL, error, "ip", "-n", s->ns, "link", "set", "lan", "up", NULL) ||
      /* forwarding only here, in the router's own namespace */
      !_natlab_cmd (s->ns, error, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", NULL))
    return FALSE;

  rules = router_ruleset (s);
  if (!_natlab_nft_load (s->ns, rules, error))
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

  if ((nat == NATLAB_NAT_MINIUPNPD || nat == NATLAB_NAT_MINIUPNPD_PCP) &&
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

  s = site ? _natlab_find_site (lab, site) : NULL;
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
         _natlab_cmd (NULL, error, "ip", "-n", s->ns, "link", "add", port, "type", "veth", "peer",
              "name", "eth0", "netns", h->ns, NULL) &&
         _natlab_cmd (NULL, error, "ip", "-n", s->ns, "link", "set", port, "master", "lan", "up",
                      NULL) &&
         _natlab_cmd (NULL, error, "ip", "-n", h->ns, "addr", "add", cidr, "dev", "eth0", NULL) &&
         _natlab_cmd (NULL, error, "ip", "-n", h->ns, "link", "set", "eth0", "up", NULL) &&
         _natlab_cmd (NULL, error, "ip", "-n", h->ns, "route", "add", "default", "via", gateway,
                      NULL);
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
  s = _natlab_find_site (lab, site);
  return s ? s->ns : NULL;
}

const char *
natlab_router_public_address (Natlab     *lab,
                              const char *site)
{
  Site *s;

  g_return_val_if_fail (lab != NULL, NULL);
  s = _natlab_find_site (lab, site);
  return s ? s->public_address : NULL;
}

char *
natlab_miniupnpd_leases (Natlab     *lab,
                         const char *site)
{
  Site *s;
  g_autofree char *path = NULL;
  char *text = NULL;

  g_return_val_if_fail (lab != NULL, NULL);
  s = _natlab_find_site (lab, site);
  if (s == NULL || (s->nat != NATLAB_NAT_MINIUPNPD && s->nat != NATLAB_NAT_MINIUPNPD_PCP))
    return NULL;
  path = g_strdup_printf ("%s/miniupnpd-%s.leases", lab->tmpdir, s->name);
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return g_strdup ("");
  return text;
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

      if (_natlab_proc_running (p))
        g_subprocess_send_signal (p, SIGTERM);
    }
  deadline = g_get_monotonic_time () + (gint64) STOP_GRACE_MS * 1000;
  for (i = 0; i < lab->procs->len; i++)
    {
      GSubprocess *p = g_ptr_array_index (lab->procs, i);
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;

      if (!_natlab_proc_wait (p, (guint) MAX (left, 1)))
        {
          g_subprocess_force_exit (p);
          _natlab_proc_wait (p, STOP_GRACE_MS);
        }
    }

  /* deleting a namespace deletes the veths in it, and with them their peers */
  for (i = lab->namespaces->len; i > 0; i--)
    {
      const char *ns = g_ptr_array_index (lab->namespaces, i - 1);
      g_autoptr(GError) error = NULL;

      if (!_natlab_cmd (NULL, &error, "ip", "netns", "del", ns, NULL))
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
