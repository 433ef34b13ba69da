/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-set.c: `pinhole-cli set USER relay-only on|off`: per-contact settings. Relay-only is the
 * privacy switch: no address of this device is ever sent to USER. */
#include "cli-common.h"

#include <string.h>

int
cli_set (Cli   *cli,
         int    argc,
         char **argv)
{
  GOptionEntry entries[] = { { NULL } };
  g_autoptr(JsonObject) fields = json_object_new ();
  gboolean on;

  if (!cli_parse_options ("set", "USER relay-only on|off", entries, &argc, &argv))
    return 2;
  if (argc != 4 || strcmp (argv[2], "relay-only") != 0 ||
      (strcmp (argv[3], "on") != 0 && strcmp (argv[3], "off") != 0))
    return cli_usage ("set", "expected USER relay-only on|off");
  on = strcmp (argv[3], "on") == 0;
  /* a running instance applies it to its live sessions at once */
  if (cli_find_instance (cli) ? !cli_remote_set_relay_only (cli, argv[1], on)
                              : !pinhole_client_set_relay_only (cli->client, argv[1], on,
                                                                &cli->error))
    return cli_fail (cli, cli->error);
  json_object_set_string_member (fields, "user", argv[1]);
  json_object_set_boolean_member (fields, "relay_only", on);
  cli_event (cli, "set", fields, on ? "%s: relay only; %s never learns this device's addresses"
                                    : "%s: direct paths allowed again%s", argv[1],
             on ? argv[1] : "");
  return 0;
}
