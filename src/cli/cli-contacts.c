/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-contacts.c: `pinhole-cli contacts`: the roster with presence, path and RTT; through the
 * profile's running instance when there is one, which knows its live sessions. */
#include "cli-common.h"
#include "pinhole-enum-strings.h"

/* one line per contact: the same properties a running instance exports */
static CliContactRow *
row_of_contact (Cli            *cli,
                PinholeContact *c)
{
  CliContactRow *row = g_new0 (CliContactRow, 1);
  PinholePathKind kind = pinhole_contact_get_path_kind (c);

  row->user = g_strdup (pinhole_contact_get_user (c));
  row->relation = g_strdup (pinhole_enum_to_nick (PINHOLE_TYPE_RELATION,
                                                  pinhole_contact_get_relation (c)));
  row->show = g_strdup (pinhole_enum_to_nick (PINHOLE_TYPE_PRESENCE,
                                              pinhole_contact_get_presence (c)));
  row->n_devices = g_list_model_get_n_items (pinhole_contact_get_devices (c));
  row->key_changed = pinhole_contact_get_key_state (c) == PINHOLE_KEY_STATE_CHANGED ||
                     pinhole_profile_has_untrusted_key (cli->profile, row->user);
  row->verified = pinhole_contact_get_verified (c);
  row->path = kind != PINHOLE_PATH_KIND_NONE ? g_strdup (pinhole_path_kind_to_string (kind))
                                             : NULL;
  row->rtt_ms = pinhole_contact_get_rtt_ms (c);
  return row;
}

static void
add_rows (Cli        *cli,
          GPtrArray  *rows,
          GListModel *contacts)
{
  for (guint i = 0; i < g_list_model_get_n_items (contacts); i++)
    {
      g_autoptr(PinholeContact) c = g_list_model_get_item (contacts, i);

      g_ptr_array_add (rows, row_of_contact (cli, c));
    }
}

/* Returns: (transfer full) (element-type CliContactRow): the contacts, then the pending
 * requests, of the roster this command fetched */
static GPtrArray *
list_own_contacts (Cli *cli)
{
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) cli_contact_row_free);

  add_rows (cli, rows, pinhole_client_get_contacts (cli->client));
  add_rows (cli, rows, pinhole_client_get_pending_requests (cli->client));
  return rows;
}

static void
print_row (Cli                 *cli,
           const CliContactRow *c)
{
  g_autoptr(JsonObject) fields = json_object_new ();
  g_autofree char *rtt = c->rtt_ms >= 0 ? g_strdup_printf ("%.1f ms", c->rtt_ms) : g_strdup ("");

  json_object_set_string_member (fields, "user", c->user);
  json_object_set_string_member (fields, "relation", c->relation);
  json_object_set_string_member (fields, "show", c->show);
  json_object_set_int_member (fields, "devices", c->n_devices);
  json_object_set_boolean_member (fields, "key_changed", c->key_changed);
  json_object_set_boolean_member (fields, "verified", c->verified);
  if (c->path != NULL)
    json_object_set_string_member (fields, "path", c->path);
  else
    json_object_set_null_member (fields, "path");
  if (c->rtt_ms >= 0)
    json_object_set_double_member (fields, "rtt_ms", c->rtt_ms);
  else
    json_object_set_null_member (fields, "rtt_ms");
  cli_event (cli, "contact", fields, "%-20s %-10s %-8s %s %s%s%s", c->user, c->relation,
             c->show, c->path ? c->path : "", rtt, c->verified ? "  verified" : "",
             c->key_changed ? "  KEY CHANGED: compare fingerprints, then trust" : "");
}

int
cli_contacts (Cli   *cli,
              int    argc,
              char **argv)
{
  GOptionEntry entries[] = { { NULL } };
  g_autoptr(GPtrArray) rows = NULL;

  if (!cli_parse_options ("contacts", "", entries, &argc, &argv))
    return 2;
  if (argc != 1)
    return cli_usage ("contacts", "takes no arguments");
  if (!cli_connect (cli))
    return cli_fail (cli, cli->error);

  rows = cli->remote != NULL ? cli_remote_list_contacts (cli) : list_own_contacts (cli);
  if (rows == NULL)
    return cli_fail (cli, cli->error);
  if (rows->len == 0 && !cli->json)
    cli_event (cli, "contact", NULL, "no contacts yet: add one with pinhole-cli add USER");
  for (guint i = 0; i < rows->len; i++)
    print_row (cli, g_ptr_array_index (rows, i));
  return 0;
}
