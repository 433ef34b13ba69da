/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-devices.c: `pinhole-cli devices` lists the account's devices (this one marked), and
 * `revoke DEVICE` removes one: its login token and the messages waiting for it go, and it is
 * logged out (docs/protocol.md §4). Both log in themselves, without announcing the device. */
#include "cli-common.h"
#include "pinhole-stanza.h"

typedef struct
{
  Cli        *cli;
  JsonObject *reply;   /* owned */
} DevicesRun;

static void
request_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  DevicesRun *run = user_data;
  g_autoptr(GError) error = NULL;

  run->reply = pinhole_client_request_finish (PINHOLE_CLIENT (source), result, &error);
  cli_quit (run->cli, error);
}

/* sends @stanza on a one-shot log-in; Returns: (transfer full) (nullable): the result */
static JsonObject *
call (Cli        *cli,
      JsonObject *stanza)
{
  DevicesRun run = { cli, NULL };

  if (!cli_check_server (cli) || !cli_login (cli, FALSE))
    return NULL;
  pinhole_client_request_async (cli->client, stanza, NULL, request_cb, &run);
  cli_run (cli);
  if (cli->error != NULL)
    g_clear_pointer (&run.reply, json_object_unref);
  return run.reply;
}

int
cli_devices (Cli   *cli,
             int    argc,
             char **argv)
{
  GOptionEntry entries[] = { { NULL } };
  g_autoptr(JsonObject) stanza = pinhole_stanza_new ("devices", NULL);
  g_autoptr(JsonObject) reply = NULL;
  JsonNode *list;

  if (!cli_parse_options ("devices", "", entries, &argc, &argv))
    return 2;
  if (argc != 1)
    return cli_usage ("devices", "expected no arguments");
  if ((reply = call (cli, stanza)) == NULL)
    return cli_fail (cli, cli->error);
  list = json_object_get_member (reply, "devices");
  for (guint i = 0; list != NULL && JSON_NODE_HOLDS_ARRAY (list) &&
                    i < json_array_get_length (json_node_get_array (list)); i++)
    {
      JsonObject *d = json_array_get_object_element (json_node_get_array (list), i);
      const char *name = d ? json_object_get_string_member_with_default (d, "device", NULL)
                           : NULL;
      gboolean online = d && json_object_get_boolean_member_with_default (d, "online", FALSE);
      gboolean here = d && json_object_get_boolean_member_with_default (d, "this", FALSE);
      g_autoptr(JsonObject) fields = json_object_new ();

      if (name == NULL)
        continue;
      json_object_set_string_member (fields, "device", name);
      json_object_set_boolean_member (fields, "online", online);
      json_object_set_boolean_member (fields, "this", here);
      cli_event (cli, "device", fields, "%s%s%s", name, online ? "  online" : "",
                 here ? "  (this device)" : "");
    }
  return 0;
}

int
cli_revoke (Cli   *cli,
            int    argc,
            char **argv)
{
  GOptionEntry entries[] = { { NULL } };
  g_autoptr(JsonObject) stanza = pinhole_stanza_new ("revoke", NULL);
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(JsonObject) fields = json_object_new ();

  if (!cli_parse_options ("revoke", "DEVICE", entries, &argc, &argv))
    return 2;
  if (argc != 2)
    return cli_usage ("revoke", "expected DEVICE (see pinhole-cli devices)");
  json_object_set_string_member (stanza, "device", argv[1]);
  if ((reply = call (cli, stanza)) == NULL)
    return cli_fail (cli, cli->error);
  json_object_set_string_member (fields, "device", argv[1]);
  cli_event (cli, "revoked", fields, "%s is removed from the account and logged out; it can "
             "log in again only with the password", argv[1]);
  return 0;
}
