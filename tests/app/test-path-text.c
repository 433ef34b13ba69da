/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-path-text.c: the words the app shows for a path: a title, badge, icon and sentence for
 * every kind, the round-trip time, a check report line split for the popover, and a safety
 * number in even lines. */
#include "pinhole-key-text.h"
#include "pinhole-path-text.h"

#include <string.h>

static const PinholePathKind direct_kinds[] = {
  PINHOLE_PATH_KIND_LAN, PINHOLE_PATH_KIND_UPNP, PINHOLE_PATH_KIND_NAT_PMP,
  PINHOLE_PATH_KIND_PCP,   PINHOLE_PATH_KIND_UDP_PUNCH, PINHOLE_PATH_KIND_TCP_PUNCH,
};

static void
test_every_kind (void)
{
  g_autoptr(GHashTable) titles = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GEnumClass *klass = g_type_class_ref (PINHOLE_TYPE_PATH_KIND);

  /* each kind has its own title and a sentence naming the contact */
  for (guint i = 0; i < klass->n_values; i++)
    {
      PinholePathKind kind = klass->values[i].value;
      g_autofree char *explain = pinhole_path_text_explain (kind, "bob");
      char *title = pinhole_path_text_title (kind, -1);

      g_assert_nonnull (strstr (explain, "bob"));
      g_assert_nonnull (pinhole_path_text_icon_name (kind));
      g_assert_false (g_hash_table_contains (titles, title));
      g_hash_table_add (titles, title);
    }
  g_type_class_unref (klass);

  for (guint i = 0; i < G_N_ELEMENTS (direct_kinds); i++)
    {
      g_autofree char *title = pinhole_path_text_title (direct_kinds[i], -1);

      g_assert_true (g_str_has_prefix (title, "Direct · "));
      g_assert_cmpstr (pinhole_path_text_badge (direct_kinds[i]), ==, "Direct");
    }
  g_assert_cmpstr (pinhole_path_text_badge (PINHOLE_PATH_KIND_RELAY), ==, "Relayed");
  g_assert_cmpstr (pinhole_path_text_badge (PINHOLE_PATH_KIND_NONE), ==, "");
}

static void
test_title (void)
{
  g_autofree char *lan = pinhole_path_text_title (PINHOLE_PATH_KIND_LAN, 0.42);
  g_autofree char *punch = pinhole_path_text_title (PINHOLE_PATH_KIND_UDP_PUNCH, 23.4);
  g_autofree char *relay = pinhole_path_text_title (PINHOLE_PATH_KIND_RELAY, 41);
  g_autofree char *relay_unmeasured = pinhole_path_text_title (PINHOLE_PATH_KIND_RELAY, -1);
  g_autofree char *none = pinhole_path_text_title (PINHOLE_PATH_KIND_NONE, 12);

  g_assert_cmpstr (lan, ==, "Direct · same network · 0.4 ms");
  g_assert_cmpstr (punch, ==, "Direct · UDP hole punch · 23 ms");
  g_assert_cmpstr (relay, ==, "Relayed via server · 41 ms");
  g_assert_cmpstr (relay_unmeasured, ==, "Relayed via server");
  g_assert_cmpstr (none, ==, "Not connected");
}

/* what a narrow header bar shows: the kind and the time, the rest in the popover */
static void
test_short_title (void)
{
  g_autofree char *lan = pinhole_path_text_short_title (PINHOLE_PATH_KIND_LAN, 0.42);
  g_autofree char *tcp = pinhole_path_text_short_title (PINHOLE_PATH_KIND_TCP_PUNCH, -1);
  g_autofree char *relay = pinhole_path_text_short_title (PINHOLE_PATH_KIND_RELAY, 41);
  g_autofree char *none = pinhole_path_text_short_title (PINHOLE_PATH_KIND_NONE, 12);

  g_assert_cmpstr (lan, ==, "Direct · 0.4 ms");
  g_assert_cmpstr (tcp, ==, "Direct");
  g_assert_cmpstr (relay, ==, "Relayed · 41 ms");
  g_assert_cmpstr (none, ==, "Not connected");
}

static void
test_rtt (void)
{
  g_autofree char *fast = pinhole_path_text_rtt (9.94);
  g_autofree char *slow = pinhole_path_text_rtt (10.4);

  g_assert_null (pinhole_path_text_rtt (-1));
  g_assert_cmpstr (fast, ==, "9.9 ms");
  g_assert_cmpstr (slow, ==, "10 ms");
}

static void
test_split_check (void)
{
  static const struct
  {
    const char *line, *candidate, *result;
    gboolean    ok;
  } cases[] = {
    { "udp srflx 203.0.113.7:41000: succeeded in 12.3 ms (udp-punch)",
      "udp srflx 203.0.113.7:41000", "succeeded in 12.3 ms (udp-punch)", TRUE },
    { "udp host [fe80::1]:5000: failed", "udp host [fe80::1]:5000", "failed", FALSE },
    { "tcp host 10.0.0.2:7000: connected", "tcp host 10.0.0.2:7000", "connected", TRUE },
    { "tcp connection 10.0.0.2:7000: checking", "tcp connection 10.0.0.2:7000", "checking",
      FALSE },
    { "no separator", "no separator", "", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *candidate = NULL;
      g_autofree char *result = NULL;
      gboolean ok = pinhole_path_text_split_check (cases[i].line, &candidate, &result);

      g_assert_cmpstr (candidate, ==, cases[i].candidate);
      g_assert_cmpstr (result, ==, cases[i].result);
      g_assert_cmpint (ok, ==, cases[i].ok);
    }
}

static void
test_key_layout (void)
{
  g_autofree char *six = pinhole_key_text_layout ("04719 33820 90001 58212 66403 12877");
  g_autofree char *twelve = pinhole_key_text_layout (
    "00001 00002 00003 00004 00005 00006 00007 00008 00009 00010 00011 00012");

  g_assert_cmpstr (six, ==, "04719 33820 90001\n58212 66403 12877");
  g_assert_cmpstr (twelve, ==, "00001 00002 00003 00004\n00005 00006 00007 00008\n"
                               "00009 00010 00011 00012");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/app/path-text/every-kind", test_every_kind);
  g_test_add_func ("/app/path-text/title", test_title);
  g_test_add_func ("/app/path-text/short-title", test_short_title);
  g_test_add_func ("/app/path-text/rtt", test_rtt);
  g_test_add_func ("/app/path-text/split-check", test_split_check);
  g_test_add_func ("/app/key-text/layout", test_key_layout);
  return g_test_run ();
}
