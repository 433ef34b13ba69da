/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-lab.c: port forwards, path-kind filters and iperf3 runs for the NAT lab benchmarks
 * (bench-lab-throughput, bench-transfer): the baselines cross the same two links and NATs as
 * a direct path, since alice's router masquerades them and bob's router forwards them. */
#include "bench-lab.h"
#include "natlab-pinhole.h"

#include <json-glib/json-glib.h>

gboolean
bench_lab_nft (Natlab     *lab,
               const char *ns,
               const char *rules,
               GError    **error)
{
  return natlab_run (lab, ns, NULL, error, "nft", rules, NULL);
}

gboolean
bench_lab_forward (Natlab     *lab,
                   const char *site,
                   const char *host,
                   const char *ports,
                   GError    **error)
{
  g_autofree char *rules =
    g_strdup_printf ("add table ip benchfwd; "
                     "add chain ip benchfwd pre { type nat hook prerouting priority dstnat; }; "
                     "add rule ip benchfwd pre iifname \"wan\" tcp dport { %s } dnat to %s",
                     ports, natlab_host_address (lab, host));

  return bench_lab_nft (lab, natlab_router_ns (lab, site), rules, error);
}

gboolean
bench_lab_keep_kind (Natlab       *lab,
                     const char   *site,
                     const char   *peer_address,
                     BenchLabKind  kind,
                     const char   *ports,
                     GError      **error)
{
  const char *ns = natlab_router_ns (lab, site);
  g_autofree char *rules = NULL;

  /* the table is (re)created empty first, so that deleting it always works */
  if (!bench_lab_nft (lab, ns, "add table inet benchkind; delete table inet benchkind", error))
    return FALSE;
  if (kind == BENCH_LAB_KIND_ANY)
    return TRUE;
  if (kind == BENCH_LAB_KIND_UDP)
    rules = g_strdup_printf (
      "add table inet benchkind; "
      "add chain inet benchkind forward { type filter hook forward priority -300; }; "
      "add rule inet benchkind forward ip daddr %s tcp dport != { %s } drop; "
      "add rule inet benchkind forward ip saddr %s tcp sport != { %s } drop",
      peer_address, ports, peer_address, ports);
  else
    rules = g_strdup_printf (
      "add table inet benchkind; "
      "add chain inet benchkind forward { type filter hook forward priority -300; }; "
      "add rule inet benchkind forward ip daddr %s meta l4proto udp drop; "
      "add rule inet benchkind forward ip saddr %s meta l4proto udp drop",
      peer_address, peer_address);
  return bench_lab_nft (lab, ns, rules, error);
}

gboolean
bench_lab_police (Natlab     *lab,
                  const char *ns,
                  const char *port,
                  guint       mbytes_per_s,
                  GError    **error)
{
  g_autofree char *rules =
    g_strdup_printf ("add table inet benchpolice; "
                     "add chain inet benchpolice out { type filter hook output priority 0; }; "
                     "add rule inet benchpolice out tcp sport %s limit rate over %u "
                     "mbytes/second burst 1 mbytes drop", port, mbytes_per_s);

  return bench_lab_nft (lab, ns, rules, error);
}

gboolean
bench_lab_iperf3 (const char *ns,
                  const char *address,
                  const char *port,
                  guint64     bytes,
                  double     *out_mbps,
                  GError    **error)
{
  g_autofree char *n = g_strdup_printf ("%" G_GUINT64_FORMAT, bytes);
  const char *argv[] = { "iperf3", "-c", address, "-p", port, "-n", n, "-J", NULL };
  /* 1 s per 100 KB and 60 s more */
  guint timeout_ms = (guint) MIN (bytes / 100 + 60000, 1800000);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GString) text = g_string_new (NULL);
  PhProc *p;
  JsonObject *root, *end, *sum;
  gboolean ok = FALSE;

  p = ns ? natlab_pinhole_spawn (ns, argv, NULL, FALSE, error)
         : ph_proc_spawn (argv, NULL, FALSE, error);
  if (p == NULL)
    return FALSE;
  if (!ph_proc_wait (p, timeout_ms) || p->status != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "iperf3 -c %s: status %d%s %s",
                   address, p->status, p->exited ? "" : " (still running)", p->err_text->str);
      goto out;
    }
  for (guint i = 0; i < p->lines->len; i++)
    g_string_append_printf (text, "%s\n", (char *) g_ptr_array_index (p->lines, i));
  if (!json_parser_load_from_data (parser, text->str, text->len, error))
    goto out;
  root = json_node_get_object (json_parser_get_root (parser));
  /* a failed run (the server not listening yet) has "error" and no "end" */
  end = root && json_object_has_member (root, "end")
    ? json_object_get_object_member (root, "end") : NULL;
  sum = end && json_object_has_member (end, "sum_received")
    ? json_object_get_object_member (end, "sum_received") : NULL;
  if (sum == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "iperf3 gave no end.sum_received");
      goto out;
    }
  *out_mbps = json_object_get_double_member (sum, "bits_per_second") / 8 / 1e6;
  ok = TRUE;
out:
  ph_proc_free (p);
  return ok;
}
