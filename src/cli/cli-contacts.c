/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-contacts.c: `pinhole-cli contacts`: the roster with presence, path and RTT. */
#include "cli-common.h"

int
cli_contacts (Cli   *cli,
              int    argc,
              char **argv)
{
  GOptionEntry entries[] = { { NULL } };
  g_autoptr(GPtrArray) contacts = NULL;

  if (!cli_parse_options ("contacts", "", entries, &argc, &argv))
    return 2;
  if (argc != 1)
    return cli_usage ("contacts", "takes no arguments");
  if (!cli_login (cli, FALSE))
    return cli_fail (cli, cli->error);

  contacts = pinhole_client_list_contacts (cli->client);
  if (contacts->len == 0 && !cli->json)
    cli_event (cli, "contact", NULL, "no contacts yet: add one with pinhole-cli add USER");
  for (guint i = 0; i < contacts->len; i++)
    {
      PinholeContactInfo *c = g_ptr_array_index (contacts, i);
      g_autoptr(JsonObject) fields = json_object_new ();
      g_autofree char *rtt = c->rtt_ms >= 0 ? g_strdup_printf ("%.1f ms", c->rtt_ms)
                                            : g_strdup ("");

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
      cli_event (cli, "contact", fields, "%-20s %-10s %-8s %s %s%s", c->user, c->relation,
                 c->show, c->path ? c->path : "", rtt,
                 c->key_changed ? "  KEY CHANGED: compare fingerprints, then trust" : "");
    }
  return 0;
}
