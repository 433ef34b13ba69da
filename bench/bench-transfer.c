/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-transfer.c: the real `pinhole-cli send-file` to a `pinhole-cli listen --accept-files`,
 * timed to the recipient's verified `done`, beside scp (OpenSSH, to an sshd of the bench's
 * own) and iperf3 TCP over the same links in the same run, alternated run by run:
 *
 *   bench-transfer loopback [--runs 3] [--mib 1024]    over the loopback relay (relay-only)
 *   bench-transfer lab [--runs 3] [--mib N] [--delays 0,20] [--losses 0,100] [--kinds tcp,udp]
 *                      [--relay-mbytes 2]              (root) direct TCP and UDP in the NAT lab
 *
 * In the lab the relay is rate-limited (--relay-mbytes), so that each transfer moves onto the
 * direct path early; each run reports its rate end to end and while on the direct path.
 *
 * Both print Markdown table rows: per run MB/s (10^6 bytes/s), medians, ratios, and the
 * peak RSS (VmHWM) of both pinhole-cli ends. */
#include "bench-common.h"
#include "bench-lab.h"
#include "bench-sshd.h"
#include "bench-transfer-file.h"
#include "bench-transfer-run.h"
#include "natlab-pinhole.h"

#include <gio/gnetworking.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#define SSH_PORT      "2222"
#define LAB_SERVER_PORT "7300"
#define LAB_PORTS     BENCH_LAB_IPERF_PORT ", " SSH_PORT
#define WARM_TRIES    20
/* each lab setting stops starting runs after this long, whatever --runs says */
#define SETTING_S     300

typedef struct
{
  GArray *pinhole;   /* MB/s, end to end */
  GArray *on_kind;   /* MB/s while on the wanted path kind */
  GArray *scp;
  GArray *iperf;
  GArray *alice_kib;
  GArray *bob_kib;
  GArray *first_s;   /* to the first progress: log-in, hashing, offer and accept */
  GString *notes;
} Series;

static void
series_init (Series *s)
{
  GArray **all[] = { &s->pinhole, &s->on_kind, &s->scp, &s->iperf, &s->alice_kib, &s->bob_kib,
                     &s->first_s };

  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    *all[i] = g_array_new (FALSE, FALSE, sizeof (double));
  s->notes = g_string_new (NULL);
}

static void
series_clear (Series *s)
{
  GArray **all[] = { &s->pinhole, &s->on_kind, &s->scp, &s->iperf, &s->alice_kib, &s->bob_kib,
                     &s->first_s };

  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    g_clear_pointer (all[i], g_array_unref);
  g_string_free (s->notes, TRUE);
}

static void
note (Series     *s,
      const char *format,
      ...) G_GNUC_PRINTF (2, 3);

static void
note (Series     *s,
      const char *format,
      ...)
{
  va_list ap;

  if (s->notes->len)
    g_string_append (s->notes, "; ");
  va_start (ap, format);
  g_string_append_vprintf (s->notes, format, ap);
  va_end (ap);
  fprintf (stderr, "  note: %s\n", s->notes->str);
}

static void
append (GArray *a,
        double  v)
{
  g_array_append_val (a, v);
}

/* one pinhole run into @s; FALSE (with a note) when it failed */
static gboolean
pinhole_run (const BenchPeers *peers,
             const char       *file,
             const char       *sha256,
             const char       *inbox,
             const char       *want_kind,
             guint             run,
             Series           *s)
{
  g_autoptr(GError) error = NULL;
  BenchSendResult r;

  if (!bench_peers_send_file (peers, file, sha256, inbox, want_kind, &r, &error))
    {
      note (s, "pinhole run %u failed: %s", run, error->message);
      return FALSE;
    }
  fprintf (stderr, "  pinhole run %u: %.1f MB/s in %.2f s (first progress %.2f s; paths %s; "
           "%.1f MB/s on %s after %" G_GUINT64_FORMAT " bytes); VmHWM alice %" G_GINT64_FORMAT
           " KiB, bob %" G_GINT64_FORMAT " KiB\n", run, r.mbps, r.seconds, r.first_progress_s,
           r.paths, r.on_kind_mbps, want_kind ? want_kind : "-", r.bytes_before_kind,
           r.alice_hwm_kib, r.bob_hwm_kib);
  append (s->pinhole, r.mbps);
  append (s->first_s, r.first_progress_s);
  if (r.on_kind_mbps > 0)
    append (s->on_kind, r.on_kind_mbps);
  append (s->alice_kib, (double) r.alice_hwm_kib);
  append (s->bob_kib, (double) r.bob_hwm_kib);
  if (want_kind != NULL && r.on_kind_mbps < 0)
    note (s, "run %u: never on %s (paths %s)", run, want_kind, r.paths);
  else if (want_kind != NULL && r.bytes_before_kind > 0)
    note (s, "run %u: %.1f MiB verified before %s", run, r.bytes_before_kind / 1048576.0,
          want_kind);
  bench_send_result_clear (&r);
  return TRUE;
}

static void
scp_run (BenchSshd  *sshd,
         const char *ns,
         const char *address,
         const char *port,
         const char *file,
         const char *dest,
         guint64     bytes,
         guint       run,
         Series     *s)
{
  g_autoptr(GError) error = NULL;
  double seconds;

  if (!bench_sshd_scp (sshd, ns, address, port, file, dest, &seconds, &error))
    note (s, "scp run %u failed: %s", run, error->message);
  else
    {
      append (s->scp, bytes / seconds / 1e6);
      fprintf (stderr, "  scp run %u: %.1f MB/s (%s)\n", run, bytes / seconds / 1e6,
               bench_sshd_cipher (sshd));
    }
  g_unlink (dest);
}

static void
iperf_run (const char *ns,
           const char *address,
           const char *port,
           guint64     bytes,
           guint       run,
           Series     *s)
{
  g_autoptr(GError) error = NULL;
  double mbps;

  if (!bench_lab_iperf3 (ns, address, port, bytes, &mbps, &error))
    note (s, "iperf3 run %u failed: %s", run, error->message);
  else
    {
      append (s->iperf, mbps);
      fprintf (stderr, "  iperf3 run %u: %.1f MB/s\n", run, mbps);
    }
}

/* Returns: (transfer full): @a / @b as @format, or "n/a" when either has no run (-1) */
static char *
ratio (double      a,
       double      b,
       const char *format)
{
  if (a <= 0 || b <= 0)
    return g_strdup ("n/a");
  return g_strdup_printf (format, a / b);
}

/* the table rows of one setting */
static void
print_series (const char *setting,
              const char *title,
              const char *kind,
              guint       mib,
              Series     *s,
              const char *load)
{
  g_autofree char *p = bench_join_values (s->pinhole, "%.1f");
  g_autofree char *k = bench_join_values (s->on_kind, "%.1f");
  g_autofree char *c = bench_join_values (s->scp, "%.1f");
  g_autofree char *i = bench_join_values (s->iperf, "%.1f");
  g_autofree char *f = bench_join_values (s->first_s, "%.2f");
  double mp = bench_median_of (s->pinhole), mc = bench_median_of (s->scp);
  double mi = bench_median_of (s->iperf), mk = bench_median_of (s->on_kind);
  g_autofree char *p_c = ratio (mp, mc, "%.2f"), *p_i = ratio (mp, mi, "%.3f");
  g_autofree char *k_c = ratio (mk, mc, "%.2f"), *k_i = ratio (mk, mi, "%.3f");
  g_autofree char *c_i = ratio (mc, mi, "%.3f");

  printf ("| %s | %s, %u MiB | pinhole send-file | %.1f (%s) | %s | %s | "
          "VmHWM alice %.0f KiB, bob %.0f KiB (medians); first progress %s s%s%s |\n",
          setting, title, mib, mp, p, p_c, p_i, bench_median_of (s->alice_kib),
          bench_median_of (s->bob_kib), f, s->notes->len ? "; " : "", s->notes->str);
  if (s->on_kind->len)
    printf ("| | | pinhole, while on %s | %.1f (%s) | %s | %s | the bytes after bob's "
            "listen named the path, over the time from then to done |\n", kind, mk, k,
            k_c, k_i);
  printf ("| | | scp | %.1f (%s) | 1 | %s | |\n", mc, c, c_i);
  printf ("| | | iperf3 TCP | %.1f (%s) | | 1 | loadavg %s |\n", mi, i, load);
  fflush (stdout);
}

static guint16
free_port (void)
{
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                       G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  if (s == NULL || !g_socket_bind (s, any, FALSE, NULL))
    return 0;
  bound = g_socket_get_local_address (s, NULL);
  return bound ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)) : 0;
}

/* a short iperf3 run, retried until its server listens */
static gboolean
iperf_warm (const char *ns,
            const char *address,
            const char *port,
            GError    **error)
{
  for (guint i = 0; ; i++)
    {
      g_autoptr(GError) local = NULL;
      double mbps;

      if (bench_lab_iperf3 (ns, address, port, 1 << 20, &mbps, &local))
        return TRUE;
      if (i == WARM_TRIES)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      g_usleep (250 * 1000);
    }
}

static char *
program (const char *build,
         const char *path)
{
  g_autofree char *dir = g_canonicalize_filename (build, NULL);

  return g_build_filename (dir, path, NULL);
}

/* ================= loopback ================= */

static gboolean
bench_loopback (const char *build,
                guint       runs,
                guint       mib,
                const char *tmp,
                GError    **error)
{
  g_autofree char *server_path = program (build, "src/server/pinhole-server");
  g_autofree char *cli = program (build, "src/cli/pinhole-cli");
  g_autofree char *home = g_build_filename (tmp, "profiles", NULL);
  g_autofree char *inbox = g_build_filename (tmp, "inbox", NULL);
  g_autofree char *dest = g_build_filename (tmp, "scp-copy", NULL);
  g_autofree char *sha256 = NULL, *file = NULL;
  g_autofree char *ssh_port = g_strdup_printf ("%u", free_port ());
  g_autofree char *iperf_port = g_strdup_printf ("%u", free_port ());
  g_autofree char *load_before = bench_loadavg (), *load = NULL;
  const char *iperf_argv[] = { "iperf3", "-s", "-B", "127.0.0.1", "-p", iperf_port, NULL };
  BenchServer *server = bench_server_new ();
  BenchSshd *sshd = NULL;
  PhProc *iperf = NULL;
  BenchPeers peers = { cli, NULL, home, NULL, NULL };
  Series s;
  gboolean ok = FALSE;
  guint64 bytes = (guint64) mib << 20;

  series_init (&s);
  g_mkdir_with_parents (home, 0700);
  g_mkdir_with_parents (inbox, 0700);
  fprintf (stderr, "== loopback: %u MiB file\n", mib);
  file = bench_transfer_file (tmp, mib, &sha256, error);
  if (file == NULL || !bench_server_start (server, server_path, error))
    goto out;
  peers.url = server->url;
  /* relay-only on both ends: two clients on 127.0.0.1 would find a LAN path at once */
  if (!bench_peers_make_pair (&peers, error) ||
      !bench_peers_cli (&peers, "alice", (const char *[]) { "set", "bob", "relay-only", "on",
                                                            NULL }, error) ||
      !bench_peers_cli (&peers, "bob", (const char *[]) { "set", "alice", "relay-only", "on",
                                                          NULL }, error))
    goto out;
  sshd = bench_sshd_start (NULL, "127.0.0.1", ssh_port, error);
  if (sshd == NULL || !bench_sshd_wait (sshd, NULL, "127.0.0.1", ssh_port, error))
    goto out;
  iperf = ph_proc_spawn (iperf_argv, NULL, FALSE, error);
  if (iperf == NULL || !iperf_warm (NULL, "127.0.0.1", iperf_port, error))
    goto out;
  for (guint r = 1; r <= runs; r++)
    {
      if (!pinhole_run (&peers, file, sha256, inbox, "relay", r, &s))
        break;
      scp_run (sshd, NULL, "127.0.0.1", ssh_port, file, dest, bytes, r, &s);
      iperf_run (NULL, "127.0.0.1", iperf_port, bytes, r, &s);
    }
  load = g_strdup_printf ("%s → %s", load_before, bench_loadavg ());
  printf ("| link | path, file | program | median MB/s (runs) | ratio to scp | ratio to iperf3 "
          "| notes |\n|---|---|---|---|---|---|---|\n");
  print_series ("loopback", "relay (relay-only)", "relay", mib, &s, load);
  ok = s.pinhole->len > 0;
  if (!ok)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no pinhole run: %s", s.notes->str);

out:
  ph_proc_free (iperf);
  bench_sshd_stop (sshd);
  bench_server_stop (server);
  series_clear (&s);
  return ok;
}

/* ================= the NAT lab ================= */

/* a file size that keeps one run of @kind under about 20 s on this lab (docs/benchmarks.md
 * §9 has the speeds these come from); @mib > 0 overrides */
static guint
lab_mib (const char *kind,
         guint       delay_ms,
         guint       loss,
         guint       mib)
{
  if (mib > 0)
    return mib;
  if (strcmp (kind, "tcp") == 0)
    return loss == 0 ? (delay_ms == 0 ? 1024 : 256) : (delay_ms == 0 ? 256 : 64);
  /* sized for PseudoTcp (issue 11; about 40 MB/s without loss, under 1 MB/s with 1%), not yet
   * for the QUIC path that replaced it; the first
   * 2 MiB or so go over the relay before the direct path is up */
  return loss == 0 ? (delay_ms == 0 ? 256 : 32) : (delay_ms == 0 ? 16 : 4);
}

static gboolean
bench_lab (const char *build,
           guint       runs,
           guint       mib_override,
           guint       relay_mbytes,
           const char *delays,
           const char *losses,
           const char *kinds,
           const char *tmp,
           GError    **error)
{
  g_autoptr(Natlab) lab = NULL;
  g_autofree char *inbox = g_build_filename (tmp, "inbox", NULL);
  g_autofree char *dest = g_build_filename (tmp, "scp-copy", NULL);
  g_auto(GStrv) delay_list = g_strsplit (delays, ",", 8);
  g_auto(GStrv) loss_list = g_strsplit (losses, ",", 8);
  g_auto(GStrv) kind_list = g_strsplit (kinds, ",", 8);
  NatlabPinhole *ph = NULL;
  BenchSshd *sshd = NULL;
  const char *bob_router, *alice_ns, *bob_ns;
  g_autofree char *cli = program (build, "src/cli/pinhole-cli");
  BenchPeers peers = { cli };
  gboolean ok = FALSE;

  g_mkdir_with_parents (inbox, 0700);
  lab = natlab_new (error);
  if (lab == NULL || !natlab_add_site (lab, "home", NATLAB_NAT_PORT_RESTRICTED, error) ||
      !natlab_add_site (lab, "work", NATLAB_NAT_PORT_RESTRICTED, error))
    return FALSE;
  ph = natlab_pinhole_new (lab, error);
  if (ph == NULL || !natlab_pinhole_add_user (ph, "home", "alice", error) ||
      !natlab_pinhole_add_user (ph, "work", "bob", error) ||
      !natlab_pinhole_start_server (ph, LAB_SERVER_PORT, error))
    goto out;
  /* a transfer starts on the relay and moves when the direct path is confirmed; on the
   * lab's fast relay a small file would be over before that */
  if (relay_mbytes > 0 &&
      !bench_lab_police (lab, natlab_server_ns (lab), LAB_SERVER_PORT, relay_mbytes, error))
    goto out;
  alice_ns = natlab_pinhole_ns (ph, "alice");
  bob_ns = natlab_pinhole_ns (ph, "bob");
  bob_router = natlab_router_public_address (lab, "work");
  peers.url = ph->url;
  peers.home = ph->home;
  peers.alice_ns = alice_ns;
  peers.bob_ns = bob_ns;
  /* the baselines cross the same two links and NATs as a direct path: alice's router
   * masquerades them, bob's router forwards their ports to bob's host */
  if (!bench_lab_forward (lab, "work", "bobh", LAB_PORTS, error) ||
      !bench_peers_make_pair (&peers, error))
    goto out;
  {
    g_autoptr(GSubprocess) iperf = natlab_spawn (lab, bob_ns, G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                                 G_SUBPROCESS_FLAGS_STDERR_SILENCE, error,
                                                 "iperf3", "-s", "-p", BENCH_LAB_IPERF_PORT,
                                                 NULL);
    if (iperf == NULL)
      goto out;
  }
  sshd = bench_sshd_start (bob_ns, natlab_host_address (lab, "bobh"), SSH_PORT, error);
  if (sshd == NULL || !iperf_warm (alice_ns, bob_router, BENCH_LAB_IPERF_PORT, error) ||
      !bench_sshd_wait (sshd, alice_ns, bob_router, SSH_PORT, error))
    goto out;

  printf ("| link (each site) | path, file | program | median MB/s (runs) | ratio to scp | "
          "ratio to iperf3 | notes |\n|---|---|---|---|---|---|---|\n");
  fflush (stdout);
  for (guint d = 0; delay_list[d] != NULL; d++)
    for (guint l = 0; loss_list[l] != NULL; l++)
      {
        guint delay_ms = (guint) g_ascii_strtoull (delay_list[d], NULL, 10);
        guint loss = (guint) g_ascii_strtoull (loss_list[l], NULL, 10);
        g_autofree char *setting = g_strdup_printf ("%u ms, %.0f%% loss", delay_ms,
                                                    loss / 100.0);

        if (!natlab_set_link (lab, "home", delay_ms, loss, error) ||
            !natlab_set_link (lab, "work", delay_ms, loss, error))
          goto out;
        for (guint k = 0; kind_list[k] != NULL; k++)
          {
            gboolean tcp = strcmp (kind_list[k], "tcp") == 0;
            guint mib = lab_mib (kind_list[k], delay_ms, loss, mib_override);
            g_autofree char *sha256 = NULL;
            g_autofree char *file = bench_transfer_file (tmp, mib, &sha256, error);
            g_autofree char *load_before = bench_loadavg ();
            g_autofree char *load = NULL;
            const char *want = tcp ? "tcp-punch" : "udp-punch";
            gint64 t0 = g_get_monotonic_time ();
            Series s;

            if (file == NULL ||
                !bench_lab_keep_kind (lab, "home", bob_router,
                                      tcp ? BENCH_LAB_KIND_TCP : BENCH_LAB_KIND_UDP, LAB_PORTS,
                                      error))
              goto out;
            fprintf (stderr, "== %s, direct %s, %u MiB\n", setting, kind_list[k], mib);
            series_init (&s);
            for (guint r = 1; r <= runs; r++)
              {
                if (g_get_monotonic_time () - t0 > SETTING_S * G_USEC_PER_SEC)
                  {
                    note (&s, "stopped after %u runs: the setting's %d s were up", r - 1,
                          SETTING_S);
                    break;
                  }
                if (!pinhole_run (&peers, file, sha256, inbox, want, r, &s))
                  break;
                scp_run (sshd, alice_ns, bob_router, SSH_PORT, file, dest, (guint64) mib << 20,
                         r, &s);
                iperf_run (alice_ns, bob_router, BENCH_LAB_IPERF_PORT, (guint64) mib << 20, r,
                           &s);
              }
            load = g_strdup_printf ("%s → %s; %.0f s", load_before, bench_loadavg (),
                                    (g_get_monotonic_time () - t0) / 1e6);
            print_series (setting, tcp ? "direct TCP" : "direct UDP", want, mib, &s, load);
            series_clear (&s);
          }
      }
  ok = TRUE;

out:
  bench_sshd_stop (sshd);
  natlab_pinhole_free (ph);
  return ok;
}

int
main (int   argc,
      char *argv[])
{
  gint runs = 3, mib = 0, relay_mbytes = 2;
  char *build = NULL, *delays = NULL, *losses = NULL, *kinds = NULL;
  GOptionEntry entries[] = {
    { "runs", 'n', 0, G_OPTION_ARG_INT, &runs, "runs of each program per setting (3)", "N" },
    { "mib", 0, 0, G_OPTION_ARG_INT, &mib,
      "MiB per file (loopback 1024; lab: per path and setting, see --help-all)", "N" },
    { "delays", 0, 0, G_OPTION_ARG_STRING, &delays, "lab: one-way ms per site link (0,20)",
      "MS,MS" },
    { "losses", 0, 0, G_OPTION_ARG_STRING, &losses,
      "lab: loss per 10000 on each site link (0,100)", "N,N" },
    { "relay-mbytes", 0, 0, G_OPTION_ARG_INT, &relay_mbytes,
      "lab: the relay's rate limit in MB/s, 0 for none (2)", "N" },
    { "kinds", 0, 0, G_OPTION_ARG_STRING, &kinds, "lab: direct paths (tcp,udp)", "LIST" },
    { "build", 'b', 0, G_OPTION_ARG_FILENAME, &build, "build folder (_build-bench)", "DIR" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("loopback|lab - file transfer "
                                                            "next to scp and iperf3");
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *dir = NULL;
  gboolean ok;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 2 || runs < 1 ||
      runs > 20 || mib < 0 || mib > 4096 ||
      (strcmp (argv[1], "loopback") != 0 && strcmp (argv[1], "lab") != 0))
    {
      fprintf (stderr, "bench-transfer: %s\n", error ? error->message
                                                     : "expected loopback or lab; see --help");
      return 2;
    }
  g_networking_init ();
  dir = g_canonicalize_filename (build ? build : "_build-bench", NULL);
  {
    g_autofree char *server = g_build_filename (dir, "src", "server", "pinhole-server", NULL);
    g_autofree char *cli = g_build_filename (dir, "src", "cli", "pinhole-cli", NULL);

    g_setenv ("PINHOLE_SERVER_PROGRAM", server, TRUE);
    g_setenv ("PINHOLE_CLI_PROGRAM", cli, TRUE);
  }
  /* the lab's routers answer no port mapping requests, and loopback needs none */
  g_setenv ("PINHOLE_NO_PORT_MAPPING", "1", TRUE);
  /* send-file does not go through a running listen: no instance to find */
  g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
  tmp = g_dir_make_tmp ("pinhole-bench-transfer-XXXXXX", &error);
  if (tmp == NULL)
    {
      fprintf (stderr, "bench-transfer: %s\n", error->message);
      return 1;
    }
  if (strcmp (argv[1], "loopback") == 0)
    ok = bench_loopback (dir, (guint) runs, mib ? (guint) mib : 1024, tmp, &error);
  else
    ok = bench_lab (dir, (guint) runs, (guint) mib, (guint) MAX (relay_mbytes, 0),
                    delays ? delays : "0,20", losses ? losses : "0,100",
                    kinds ? kinds : "tcp,udp", tmp, &error);
  ph_remove_tree (tmp);
  if (!ok)
    fprintf (stderr, "bench-transfer: %s\n", error ? error->message : "failed");
  g_free (build);
  g_free (delays);
  g_free (losses);
  g_free (kinds);
  return ok ? 0 : 1;
}
