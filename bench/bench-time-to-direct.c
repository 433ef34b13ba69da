/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-time-to-direct.c: time from both peers online to traffic on a direct path, per NAT
 * pair, in the NAT lab (root, network namespaces): pinhole-cli next to Debian's nebula (two
 * nodes and a lighthouse) in the same topologies, with and without added link delay.
 *
 *   bench-time-to-direct [--runs 5] [--build DIR] [--no-nebula]
 */
#define G_LOG_DOMAIN "bench-direct"

#include "natlab-pinhole.h"

#include <stdio.h>
#include <string.h>

#define DIRECT_MS     30000
#define PING_S        "25"
#define NEBULA_NET    "192.168.100"
#define NEBULA_PORT   "4242"

typedef struct
{
  const char *name;
  NatlabNat   west;
  NatlabNat   east;
  gboolean    same_site;
  gboolean    map_east;    /* bob may ask his router for port mappings */
} Pair;

static const Pair pairs[] = {
  { "port-restricted x2", NATLAB_NAT_PORT_RESTRICTED, NATLAB_NAT_PORT_RESTRICTED, FALSE, FALSE },
  { "port-restricted + miniupnpd", NATLAB_NAT_PORT_RESTRICTED, NATLAB_NAT_MINIUPNPD, FALSE,
    TRUE },
  { "same LAN", NATLAB_NAT_PORT_RESTRICTED, NATLAB_NAT_PORT_RESTRICTED, TRUE, FALSE },
};

/* one-way delay on each site's internet link for an added RTT: two links each way between
 * sites, one link between a LAN and the server */
static guint
link_delay_ms (const Pair *pair,
               guint       added_rtt_ms)
{
  return pair->same_site ? added_rtt_ms / 2 : added_rtt_ms / 4;
}

static Natlab *
build_lab (const Pair *pair,
           guint       added_rtt_ms,
           GError    **error)
{
  g_autoptr(Natlab) lab = natlab_new (error);
  guint delay = link_delay_ms (pair, added_rtt_ms);

  if (lab == NULL || !natlab_add_site (lab, "west", pair->west, error) ||
      (!pair->same_site && !natlab_add_site (lab, "east", pair->east, error)))
    return NULL;
  if (delay > 0 && (!natlab_set_link (lab, "west", delay, 0, error) ||
                    (!pair->same_site && !natlab_set_link (lab, "east", delay, 0, error))))
    return NULL;
  return g_steal_pointer (&lab);
}

/* ---- pinhole ---- */

/* ms from alice's `path bob` start (bob online already) to bob's listen on a direct path;
 * -1 on failure */
static gdouble
pinhole_run (const Pair *pair,
             guint       added_rtt_ms,
             char      **out_kind,
             GError    **error)
{
  g_autoptr(Natlab) lab = build_lab (pair, added_rtt_ms, error);
  NatlabPinhole *ph = NULL;
  PhProc *bob, *alice;
  JsonObject *event;
  guint cursor = 0;
  gint64 start;
  gdouble ms = -1;

  if (lab == NULL || (ph = natlab_pinhole_new (lab, error)) == NULL)
    return -1;
  if (!natlab_pinhole_add_user (ph, "west", "alice", error) ||
      !natlab_pinhole_add_user (ph, pair->same_site ? "west" : "east", "bob", error) ||
      !natlab_pinhole_start_server (ph, "7300", error) ||
      !natlab_pinhole_make_pair (ph, "alice", "bob", error) ||
      (bob = natlab_pinhole_listen (ph, "bob", pair->map_east ? NATLAB_PINHOLE_PORT_MAPPING : 0,
                                    error)) == NULL)
    goto out;
  start = g_get_monotonic_time ();
  alice = natlab_pinhole_cli_spawn (ph, "alice", 0,
                                    (const char *[]) { "path", "bob", "--count", "100", NULL },
                                    error);
  if (alice == NULL)
    goto out;
  g_ptr_array_add (ph->procs, alice);
  event = ph_proc_wait_event (bob, &cursor, natlab_pinhole_is_direct, NULL, DIRECT_MS);
  if (event == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no direct path in %d ms",
                   DIRECT_MS);
      goto out;
    }
  ms = (g_get_monotonic_time () - start) / 1000.0;
  *out_kind = g_strdup (natlab_pinhole_path_of (event));
out:
  natlab_pinhole_free (ph);
  return ms;
}

/* ---- nebula ---- */

typedef struct
{
  char *dir;
} Certs;

static gboolean
run_quiet (const char * const *argv,
           GError            **error)
{
  g_autofree char *err = NULL;
  int status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH |
                     G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, error))
    {
      g_prefix_error (error, "%s: %s", argv[0], err);
      return FALSE;
    }
  return TRUE;
}

/* a CA and certificates for the lighthouse (.1), alice (.2) and bob (.3) */
static gboolean
make_certs (Certs   *certs,
            GError **error)
{
  const char *names[] = { "lighthouse", "alice", "bob" };

  certs->dir = g_dir_make_tmp ("bench-nebula-XXXXXX", error);
  if (certs->dir == NULL)
    return FALSE;
  {
    g_autofree char *crt = g_build_filename (certs->dir, "ca.crt", NULL);
    g_autofree char *key = g_build_filename (certs->dir, "ca.key", NULL);

    if (!run_quiet ((const char *[]) { "nebula-cert", "ca", "-name", "bench", "-out-crt", crt,
                                       "-out-key", key, NULL }, error))
      return FALSE;
    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      {
        g_autofree char *ip = g_strdup_printf (NEBULA_NET ".%u/24", i + 1);
        g_autofree char *out_crt = g_strdup_printf ("%s/%s.crt", certs->dir, names[i]);
        g_autofree char *out_key = g_strdup_printf ("%s/%s.key", certs->dir, names[i]);

        if (!run_quiet ((const char *[]) { "nebula-cert", "sign", "-name", names[i], "-ip", ip,
                                           "-ca-crt", crt, "-ca-key", key, "-out-crt", out_crt,
                                           "-out-key", out_key, NULL }, error))
          return FALSE;
      }
  }
  return TRUE;
}

/* a node's config: @lighthouse_address NULL makes the lighthouse itself */
static char *
write_config (Certs      *certs,
              const char *name,
              const char *lighthouse_address,
              GError    **error)
{
  g_autofree char *path = g_strdup_printf ("%s/%s.yml", certs->dir, name);
  g_autofree char *text = g_strdup_printf (
    "pki:\n"
    "  ca: %s/ca.crt\n"
    "  cert: %s/%s.crt\n"
    "  key: %s/%s.key\n"
    "static_host_map:\n"
    "  \"" NEBULA_NET ".1\": [\"%s:" NEBULA_PORT "\"]\n"
    "lighthouse:\n"
    "  am_lighthouse: %s\n"
    "  interval: 60\n"
    "  hosts: [%s]\n"
    "listen:\n"
    "  host: 0.0.0.0\n"
    "  port: %s\n"
    "punchy:\n"
    "  punch: true\n"
    "  respond: true\n"
    "relay:\n"
    "  use_relays: false\n"
    "tun:\n"
    "  dev: neb%s\n"
    "logging:\n"
    "  level: info\n"
    "firewall:\n"
    "  outbound: [{port: any, proto: any, host: any}]\n"
    "  inbound: [{port: any, proto: any, host: any}]\n",
    certs->dir, certs->dir, name, certs->dir, name,
    lighthouse_address ? lighthouse_address : "127.0.0.1",
    lighthouse_address ? "false" : "true",
    lighthouse_address ? "\"" NEBULA_NET ".1\"" : "",
    lighthouse_address ? "0" : NEBULA_PORT, name);

  if (!g_file_set_contents (path, text, -1, error))
    return NULL;
  return g_steal_pointer (&path);
}

static gboolean
reply_line (gpointer data)
{
  PhProc *p = data;

  for (guint i = 0; i < p->lines->len; i++)
    if (strstr (g_ptr_array_index (p->lines, i), "bytes from") != NULL)
      return TRUE;
  return p->out_eof;
}

/* `ping -i 0.02` to @target from @ns as soon as @dev is up; Returns: whether a reply came,
 * and when */
static gboolean
ping_until_reply (const char *ns,
                  const char *dev,
                  const char *target,
                  gint64     *out_us,
                  GError    **error)
{
  g_autofree char *script = g_strdup_printf (
    "until ip link show %s >/dev/null 2>&1; do sleep 0.01; done; "
    "exec ping -n -i 0.02 -W 1 -w " PING_S " %s", dev, target);
  PhProc *ping = natlab_pinhole_spawn (ns, (const char *[]) { "sh", "-c", script, NULL },
                                       NULL, FALSE, error);
  gboolean ok;

  if (ping == NULL)
    return FALSE;
  ph_iterate_until (reply_line, ping, (atoi (PING_S) + 5) * 1000);
  *out_us = g_get_monotonic_time ();
  ok = reply_line (ping) && !ping->out_eof;
  if (!ok)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no ping reply from %s", target);
  ph_proc_free (ping);
  return ok;
}

/* ms from alice's nebula start (bob's node up and known to the lighthouse) to the first ping
 * reply from bob over the overlay; nebula here has relays off, so that is a direct tunnel */
static gdouble
nebula_run (const Pair *pair,
            guint       added_rtt_ms,
            Certs      *certs,
            GError    **error)
{
  g_autoptr(Natlab) lab = build_lab (pair, added_rtt_ms, error);
  g_autofree char *lh = NULL, *alice = NULL, *bob = NULL;
  g_autoptr(GSubprocess) p1 = NULL, p2 = NULL, p3 = NULL;
  const char *lh_address;
  gint64 start, end;

  if (lab == NULL || !natlab_add_host (lab, "west", "aliceh", error) ||
      !natlab_add_host (lab, pair->same_site ? "west" : "east", "bobh", error))
    return -1;
  lh_address = natlab_server_address (lab);
  if ((lh = write_config (certs, "lighthouse", NULL, error)) == NULL ||
      (alice = write_config (certs, "alice", lh_address, error)) == NULL ||
      (bob = write_config (certs, "bob", lh_address, error)) == NULL)
    return -1;
  p1 = natlab_spawn (lab, natlab_server_ns (lab), G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                     G_SUBPROCESS_FLAGS_STDERR_SILENCE, error, "nebula", "-config", lh, NULL);
  p2 = p1 ? natlab_spawn (lab, natlab_host_ns (lab, "bobh"), G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                          G_SUBPROCESS_FLAGS_STDERR_SILENCE, error, "nebula", "-config", bob,
                          NULL) : NULL;
  if (p2 == NULL)
    return -1;
  /* bob online: his node answers the lighthouse over the overlay */
  if (!ping_until_reply (natlab_host_ns (lab, "bobh"), "nebbob", NEBULA_NET ".1", &end, error))
    return -1;
  start = g_get_monotonic_time ();
  p3 = natlab_spawn (lab, natlab_host_ns (lab, "aliceh"), G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                     G_SUBPROCESS_FLAGS_STDERR_SILENCE, error, "nebula", "-config", alice, NULL);
  if (p3 == NULL ||
      !ping_until_reply (natlab_host_ns (lab, "aliceh"), "nebalice", NEBULA_NET ".3", &end,
                         error))
    return -1;
  return (end - start) / 1000.0;
}

/* ---- main ---- */

static gint
compare_double (gconstpointer a,
                gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return x < y ? -1 : x > y;
}

static gdouble
median (GArray *values)
{
  if (values->len == 0)
    return -1;
  g_array_sort (values, compare_double);
  return values->len % 2 ? g_array_index (values, gdouble, values->len / 2)
                         : (g_array_index (values, gdouble, values->len / 2 - 1) +
                            g_array_index (values, gdouble, values->len / 2)) / 2;
}

static char *
join_values (GArray *values)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < values->len; i++)
    g_string_append_printf (s, "%s%.0f", i ? " " : "", g_array_index (values, gdouble, i));
  return g_string_free (s, FALSE);
}

int
main (int   argc,
      char *argv[])
{
  gint runs = 5;
  char *build = NULL;
  gboolean no_nebula = FALSE;
  GOptionEntry entries[] = {
    { "runs", 'n', 0, G_OPTION_ARG_INT, &runs, "runs per case (default 5)", "N" },
    { "build", 'b', 0, G_OPTION_ARG_FILENAME, &build, "build folder (default _build-bench)",
      "DIR" },
    { "no-nebula", 0, 0, G_OPTION_ARG_NONE, &no_nebula, "pinhole only", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- time to a direct path");
  g_autoptr(GError) error = NULL;
  const guint rtts[] = { 0, 40 };
  Certs certs = { NULL };
  g_autofree char *server = NULL, *cli = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || runs < 1 || runs > 50)
    {
      fprintf (stderr, "bench-time-to-direct: %s\n", error ? error->message : "bad --runs");
      return 2;
    }
  {
    g_autofree char *dir = g_canonicalize_filename (build ? build : "_build-bench", NULL);

    server = g_build_filename (dir, "src", "server", "pinhole-server", NULL);
    cli = g_build_filename (dir, "src", "cli", "pinhole-cli", NULL);
  }
  g_setenv ("PINHOLE_SERVER_PROGRAM", server, TRUE);
  g_setenv ("PINHOLE_CLI_PROGRAM", cli, TRUE);
  /* only bob's listen behind miniupnpd asks for mappings (the lab has no real router) */
  g_setenv ("PINHOLE_NO_PORT_MAPPING", "1", TRUE);
  if (!no_nebula && !make_certs (&certs, &error))
    {
      fprintf (stderr, "bench-time-to-direct: nebula certificates: %s\n", error->message);
      return 1;
    }

  printf ("| pair | added RTT | pinhole median ms (runs; path) | nebula median ms (runs) |\n"
          "|---|---|---|---|\n");
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    for (guint r = 0; r < G_N_ELEMENTS (rtts); r++)
      {
        g_autoptr(GArray) ph_ms = g_array_new (FALSE, FALSE, sizeof (gdouble));
        g_autoptr(GArray) neb_ms = g_array_new (FALSE, FALSE, sizeof (gdouble));
        g_autoptr(GHashTable) kinds = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                             NULL);
        g_autofree char *ph_list = NULL, *neb_list = NULL, *kind_list = NULL;
        guint failures = 0;

        for (gint run = 0; run < runs; run++)
          {
            g_autofree char *kind = NULL;
            gdouble ms = pinhole_run (&pairs[i], rtts[r], &kind, &error);

            if (ms < 0)
              {
                fprintf (stderr, "pinhole %s +%u ms: %s\n", pairs[i].name, rtts[r],
                         error ? error->message : "failed");
                g_clear_error (&error);
                failures++;
                continue;
              }
            g_array_append_val (ph_ms, ms);
            g_hash_table_add (kinds, g_steal_pointer (&kind));
            if (no_nebula)
              continue;
            ms = nebula_run (&pairs[i], rtts[r], &certs, &error);
            if (ms < 0)
              {
                fprintf (stderr, "nebula %s +%u ms: %s\n", pairs[i].name, rtts[r],
                         error ? error->message : "failed");
                g_clear_error (&error);
                failures++;
                continue;
              }
            g_array_append_val (neb_ms, ms);
          }
        ph_list = join_values (ph_ms);
        neb_list = join_values (neb_ms);
        {
          g_autofree const char **keys =
            (const char **) g_hash_table_get_keys_as_array (kinds, NULL);
          kind_list = g_strjoinv ("/", (char **) keys);
        }
        printf ("| %s | %u ms | %.0f (%s; %s) | %.0f (%s) |%s\n", pairs[i].name, rtts[r],
                median (ph_ms), ph_list, kind_list, median (neb_ms), neb_list,
                failures ? " failures, see stderr" : "");
        fflush (stdout);
      }
  if (certs.dir != NULL)
    ph_remove_tree (certs.dir);
  g_free (certs.dir);
  g_free (build);
  return 0;
}
