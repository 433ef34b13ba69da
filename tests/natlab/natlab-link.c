/* SPDX-License-Identifier: GPL-3.0-or-later
 * natlab-link.c: the conditions of the NAT lab's links: delay through ph-netem on an NFQUEUE,
 * loss and blocked site pairs through nftables. */
#define G_LOG_DOMAIN "natlab"

#include "natlab.h"
#include "natlab-private.h"

#include <signal.h>

/* ---- link conditions ---- */

static gboolean
stop_netem (Natlab  *lab,
            Site    *s,
            GError **error)
{
  (void) lab;
  if (s->delay_chain &&
      !_natlab_cmd (s->ns, error, "iptables-nft", "-t", "mangle", "-F", "NATLAB_DELAY", NULL))
    return FALSE;
  if (s->netem != NULL)
    {
      _natlab_proc_stop (s->netem);
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
  full = _natlab_in_ns (s->ns, argv);
  s->netem = _natlab_spawn_full ((const char * const *) full, G_SUBPROCESS_FLAGS_STDOUT_PIPE, NULL,
                                 error);
  if (s->netem == NULL)
    return FALSE;
  g_ptr_array_add (lab->procs, g_object_ref (s->netem));
  if (!_natlab_wait_ready_line (s->netem, READY_MS, error))
    {
      g_prefix_error (error, "ph-netem in %s: ", s->ns);
      return FALSE;
    }
  s->delay_ms = delay_ms;

  if (!s->delay_chain)
    {
      if (!_natlab_cmd (s->ns, error, "iptables-nft", "-t", "mangle", "-N", "NATLAB_DELAY", NULL) ||
          !_natlab_cmd (s->ns, error, "iptables-nft", "-t", "mangle", "-A", "FORWARD", "-j",
                "NATLAB_DELAY", NULL))
        return FALSE;
      s->delay_chain = TRUE;
    }
  /* both directions through the internet side of the router */
  return _natlab_cmd (s->ns, error, "iptables-nft", "-t", "mangle", "-A", "NATLAB_DELAY", "-i",
                      "wan",
              "-j", "NFQUEUE", "--queue-num", queue, NULL) &&
         _natlab_cmd (s->ns, error, "iptables-nft", "-t", "mangle", "-A", "NATLAB_DELAY", "-o",
                      "wan",
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

  s = site ? _natlab_find_site (lab, site) : NULL;
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
  if (!_natlab_nft_load (s->ns, rules->str, error))
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

/* the blocks between two sites' public addresses, of @what ("all" or "udp") */
static gboolean
block_between (Natlab     *lab,
               const char *site_a,
               const char *site_b,
               const char *what,
               gboolean    block,
               GError    **error)
{
  Site *a, *b;
  g_autofree char *key = NULL;
  g_autoptr(GString) rules = NULL;
  guint i;
  gboolean found = FALSE;

  g_return_val_if_fail (lab != NULL, FALSE);

  a = site_a ? _natlab_find_site (lab, site_a) : NULL;
  b = site_b ? _natlab_find_site (lab, site_b) : NULL;
  if (a == NULL || b == NULL || a == b)
    {
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_FAILED,
                   "cannot block between sites '%s' and '%s'", site_a, site_b);
      return FALSE;
    }
  /* one key per unordered pair and kind of traffic */
  key = g_strcmp0 (a->name, b->name) < 0 ? g_strjoin ("\n", a->name, b->name, what, NULL)
                                         : g_strjoin ("\n", b->name, a->name, what, NULL);
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
      g_auto(GStrv) pair = g_strsplit (g_ptr_array_index (lab->blocks, i), "\n", 3);
      Site *x = _natlab_find_site (lab, pair[0]);
      Site *y = _natlab_find_site (lab, pair[1]);
      const char *match = g_str_equal (pair[2], "udp") ? " meta l4proto udp" : "";

      g_string_append (rules, "    ip saddr ");
      site_public_set (x, rules);
      g_string_append (rules, " ip daddr ");
      site_public_set (y, rules);
      g_string_append_printf (rules, "%s drop\n    ip saddr ", match);
      site_public_set (y, rules);
      g_string_append (rules, " ip daddr ");
      site_public_set (x, rules);
      g_string_append_printf (rules, "%s drop\n", match);
    }
  g_string_append (rules, "  }\n}\n");
  return _natlab_nft_load (lab->inet_ns, rules->str, error);
}

gboolean
natlab_block_between (Natlab     *lab,
                      const char *site_a,
                      const char *site_b,
                      gboolean    block,
                      GError    **error)
{
  return block_between (lab, site_a, site_b, "all", block, error);
}

gboolean
natlab_block_udp_between (Natlab     *lab,
                          const char *site_a,
                          const char *site_b,
                          gboolean    block,
                          GError    **error)
{
  return block_between (lab, site_a, site_b, "udp", block, error);
}
