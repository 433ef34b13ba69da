/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-contacts.c: `pinhole-cli contacts`: the roster with presence, path and RTT; through the
 * profile's running instance when there is one, which knows its live sessions. */
#include "cli-common.h"

/* Returns: (transfer full) (element-type CliContactRow): the roster this command fetched */
static GPtrArray *
list_own_contacts (Cli *cli)
{
  g_autoptr(GPtrArray) contacts = pinhole_client_list_contacts (cli->client);
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) cli_contact_row_free);

  for (guint i = 0; i < contacts->len; i++)
    {
      PinholeContactInfo *c = g_ptr_array_index (contacts, i);
      CliContactRow *row = g_new0 (CliContactRow, 1);

      row->user = g_strdup (c->user);
      row->relation = g_strdup (c->relation);
      row->show = g_strdup (c->show);
      row->n_devices = c->n_devices;
      row->key_changed = c->key_changed;
      row->path = g_strdup (c->path);
      row->rtt_ms = c->rtt_ms;
      g_ptr_array_add (rows, row);
    }
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
  if (c->path != NULL)
    json_object_set_string_member (fields, "path", c->path);
  else
    json_object_set_null_member (fields, "path");
  if (c->rtt_ms >= 0)
    json_object_set_double_member (fields, "rtt_ms", c->rtt_ms);
  else
    json_object_set_null_member (fields, "rtt_ms");
  cli_event (cli, "contact", fields, "%-20s %-10s %-8s %s %s%s", c->user, c->relation, c->show,
             c->path ? c->path : "", rtt,
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
