/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-register.c: `pinhole-cli register USER` creates the account on the server and binds this
 * profile's device to it; `login USER` binds this profile, as a further device, to an
 * existing account. */
#include "cli-common.h"
#include "pinhole-error.h"

static void
register_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr(GError) error = NULL;

  pinhole_client_register_finish (PINHOLE_CLIENT (source), result, &error);
  cli_quit (cli, error);
}

/* a profile is one identity: it binds to one account only */
static gboolean
check_unbound (Cli        *cli,
               const char *user,
               char      **out_stored)
{
  g_autofree char *stored = pinhole_profile_dup_setting (cli->profile, "user");

  if (stored != NULL && g_strcmp0 (stored, user) != 0)
    {
      cli->error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_EXISTS,
                                "this profile is %s already; use --profile DIR for another "
                                "identity", stored);
      return FALSE;
    }
  *out_stored = g_steal_pointer (&stored);
  return TRUE;
}

static int
report_bound (Cli        *cli,
              const char *event,
              const char *verb,
              const char *user,
              const char *server)
{
  g_autoptr(JsonObject) fields = json_object_new ();
  const char *device = pinhole_client_get_device (cli->client);

  if (cli->ca_file != NULL)
    pinhole_profile_set_setting (cli->profile, "ca-file", cli->ca_file, NULL);
  json_object_set_string_member (fields, "user", user);
  json_object_set_string_member (fields, "device", device);
  json_object_set_string_member (fields, "server", server);
  cli_event (cli, event, fields, "%s %s on %s (this device: %s)", verb, user, server, device);
  return 0;
}

int
cli_register (Cli   *cli,
              int    argc,
              char **argv)
{
  GOptionEntry entries[] = { { NULL } };
  g_autofree char *password = NULL;
  g_autofree char *stored = NULL;
  const char *server = cli->server ? cli->server : CLI_DEFAULT_SERVER;

  if (!cli_parse_options ("register", "USER", entries, &argc, &argv))
    return 2;
  if (argc != 2)
    return cli_usage ("register", "expected USER");
  if (!check_unbound (cli, argv[1], &stored))
    return cli_fail (cli, cli->error);
  if (stored != NULL)
    {
      cli->error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_EXISTS,
                                "this profile is registered as %s already", stored);
      return cli_fail (cli, cli->error);
    }
  if (!cli_check_downgrade (cli, server))
    return cli_fail (cli, cli->error);
  password = cli_get_password ("New password: ", &cli->error);
  if (password == NULL)
    return cli_fail (cli, cli->error);
  pinhole_client_register_async (cli->client, server, argv[1], password, NULL, register_cb, cli);
  cli_run (cli);
  if (cli->error != NULL)
    return cli_fail (cli, cli->error);
  return report_bound (cli, "registered", "registered", argv[1], server);
}

int
cli_login_command (Cli   *cli,
                   int    argc,
                   char **argv)
{
  GOptionEntry entries[] = { { NULL } };
  g_autofree char *stored = NULL;
  g_autofree char *profile_server = pinhole_profile_dup_setting (cli->profile, "server");
  g_autofree char *profile_token = pinhole_profile_dup_setting (cli->profile, "token");
  const char *server = cli->server ? cli->server
                                   : profile_server ? profile_server : CLI_DEFAULT_SERVER;

  if (!cli_parse_options ("login", "USER", entries, &argc, &argv))
    return 2;
  if (argc != 2)
    return cli_usage ("login", "expected USER");
  if (!check_unbound (cli, argv[1], &stored) || !cli_check_downgrade (cli, server))
    return cli_fail (cli, cli->error);
  /* the user asked for this server: the profile moves there, with the token it issues */
  if (!pinhole_profile_set_setting (cli->profile, "user", argv[1], &cli->error) ||
      !pinhole_profile_set_setting (cli->profile, "server", server, &cli->error) ||
      !pinhole_profile_set_setting (cli->profile, "token", NULL, &cli->error))
    return cli_fail (cli, cli->error);
  if (!cli_login (cli, FALSE))
    {
      /* leave the profile as it was: its account, server and token, or none */
      pinhole_profile_set_setting (cli->profile, "user", stored, NULL);
      pinhole_profile_set_setting (cli->profile, "server", profile_server, NULL);
      pinhole_profile_set_setting (cli->profile, "token", profile_token, NULL);
      return cli_fail (cli, cli->error);
    }
  return report_bound (cli, "logged-in", "logged in as", argv[1], server);
}
