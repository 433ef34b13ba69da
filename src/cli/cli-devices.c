/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-devices.c: `pinhole-cli devices` lists the account's devices (this one marked), and
 * `revoke DEVICE` removes one: its login token and the messages waiting for it go, and it is
 * logged out (docs/protocol.md §4). Both log in themselves, without announcing the device. */
#include "cli-common.h"

typedef struct
{
  Cli       *cli;
  GPtrArray *devices;   /* owned, PinholeAccountDevice; NULL after revoke */
} DevicesRun;

static void
list_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  DevicesRun *run = user_data;
  g_autoptr(GError) error = NULL;

  run->devices = pinhole_client_list_devices_finish (PINHOLE_CLIENT (source), result, &error);
  cli_quit (run->cli, error);
}

static void
revoke_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  DevicesRun *run = user_data;
  g_autoptr(GError) error = NULL;

  pinhole_client_revoke_device_finish (PINHOLE_CLIENT (source), result, &error);
  cli_quit (run->cli, error);
}

int
cli_devices (Cli   *cli,
             int    argc,
             char **argv)
{
  GOptionEntry entries[] = { { NULL } };
  DevicesRun run = { cli, NULL };
  g_autoptr(GPtrArray) devices = NULL;

  if (!cli_parse_options ("devices", "", entries, &argc, &argv))
    return 2;
  if (argc != 1)
    return cli_usage ("devices", "expected no arguments");
  if (!cli_check_server (cli) || !cli_login (cli, FALSE))
    return cli_fail (cli, cli->error);
  pinhole_client_list_devices_async (cli->client, NULL, list_cb, &run);
  cli_run (cli);
  devices = g_steal_pointer (&run.devices);
  if (cli->error != NULL)
    return cli_fail (cli, cli->error);
  for (guint i = 0; i < devices->len; i++)
    {
      PinholeAccountDevice *d = devices->pdata[i];
      g_autoptr(JsonObject) fields = json_object_new ();

      json_object_set_string_member (fields, "device", d->name);
      json_object_set_boolean_member (fields, "online", d->online);
      json_object_set_boolean_member (fields, "this", d->is_this);
      cli_event (cli, "device", fields, "%s%s%s", d->name, d->online ? "  online" : "",
                 d->is_this ? "  (this device)" : "");
    }
  return 0;
}

int
cli_revoke (Cli   *cli,
            int    argc,
            char **argv)
{
  GOptionEntry entries[] = { { NULL } };
  DevicesRun run = { cli, NULL };
  g_autoptr(JsonObject) fields = json_object_new ();

  if (!cli_parse_options ("revoke", "DEVICE", entries, &argc, &argv))
    return 2;
  if (argc != 2)
    return cli_usage ("revoke", "expected DEVICE (see pinhole-cli devices)");
  if (!cli_check_server (cli) || !cli_login (cli, FALSE))
    return cli_fail (cli, cli->error);
  pinhole_client_revoke_device_async (cli->client, argv[1], NULL, revoke_cb, &run);
  cli_run (cli);
  if (cli->error != NULL)
    return cli_fail (cli, cli->error);
  json_object_set_string_member (fields, "device", argv[1]);
  cli_event (cli, "revoked", fields, "%s is removed from the account and logged out; it can "
             "log in again only with the password", argv[1]);
  return 0;
}
