/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-contacts.c: `pinhole-cli contacts`: the roster with presence, path and RTT. */
#include "cli-common.h"
#include "pinhole-enum-strings.h"

/* one line per contact: the same properties a running instance exports */
static void
print_contact (Cli            *cli,
               PinholeContact *c)
{
  g_autoptr(JsonObject) fields = json_object_new ();
  const char *user = pinhole_contact_get_user (c);
  const char *relation = pinhole_enum_to_nick (PINHOLE_TYPE_RELATION,
                                               pinhole_contact_get_relation (c));
  const char *show = pinhole_enum_to_nick (PINHOLE_TYPE_PRESENCE,
                                           pinhole_contact_get_presence (c));
  PinholePathKind kind = pinhole_contact_get_path_kind (c);
  const char *path = kind != PINHOLE_PATH_KIND_NONE ? pinhole_path_kind_to_string (kind) : NULL;
  gdouble rtt_ms = pinhole_contact_get_rtt_ms (c);
  gboolean key_changed = pinhole_contact_get_key_state (c) == PINHOLE_KEY_STATE_CHANGED ||
                         pinhole_profile_has_untrusted_key (cli->profile, user);
  g_autofree char *rtt = rtt_ms >= 0 ? g_strdup_printf ("%.1f ms", rtt_ms) : g_strdup ("");

  json_object_set_string_member (fields, "user", user);
  json_object_set_string_member (fields, "relation", relation);
  json_object_set_string_member (fields, "show", show);
  json_object_set_int_member (fields, "devices",
                              g_list_model_get_n_items (pinhole_contact_get_devices (c)));
  json_object_set_boolean_member (fields, "key_changed", key_changed);
  if (path != NULL)
    json_object_set_string_member (fields, "path", path);
  else
    json_object_set_null_member (fields, "path");
  if (rtt_ms >= 0)
    json_object_set_double_member (fields, "rtt_ms", rtt_ms);
  else
    json_object_set_null_member (fields, "rtt_ms");
  cli_event (cli, "contact", fields, "%-20s %-10s %-8s %s %s%s", user, relation, show,
             path ? path : "", rtt,
             key_changed ? "  KEY CHANGED: compare fingerprints, then trust" : "");
}

static void
print_contacts (Cli        *cli,
                GListModel *contacts)
{
  for (guint i = 0; i < g_list_model_get_n_items (contacts); i++)
    {
      g_autoptr(PinholeContact) c = g_list_model_get_item (contacts, i);

      print_contact (cli, c);
    }
}

int
cli_contacts (Cli   *cli,
              int    argc,
              char **argv)
{
  GOptionEntry entries[] = { { NULL } };

  if (!cli_parse_options ("contacts", "", entries, &argc, &argv))
    return 2;
  if (argc != 1)
    return cli_usage ("contacts", "takes no arguments");
  if (!cli_login (cli, FALSE))
    return cli_fail (cli, cli->error);

  if (g_list_model_get_n_items (pinhole_client_get_contacts (cli->client)) == 0 &&
      g_list_model_get_n_items (pinhole_client_get_pending_requests (cli->client)) == 0 &&
      !cli->json)
    cli_event (cli, "contact", NULL, "no contacts yet: add one with pinhole-cli add USER");
  print_contacts (cli, pinhole_client_get_contacts (cli->client));
  print_contacts (cli, pinhole_client_get_pending_requests (cli->client));
  return 0;
}
