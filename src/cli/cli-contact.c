/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-contact.c: `add`, `accept`, `decline`, `remove`, `block` and `unblock USER`: the roster
 * requests, which differ only in their verb and the sentence they print. */
#include "cli-common.h"

typedef struct
{
  Cli  *cli;
  char *relation;
} ContactRun;

static void
contact_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  ContactRun *run = user_data;
  g_autoptr(GError) error = NULL;

  run->relation = cli_contact_finish (run->cli, result, &error);
  cli_quit (run->cli, error);
}

static int
contact_command (Cli        *cli,
                 const char *command,
                 const char *verb,
                 int         argc,
                 char      **argv)
{
  GOptionEntry entries[] = { { NULL } };
  ContactRun run = { cli, NULL };
  g_autoptr(JsonObject) fields = json_object_new ();
  g_autofree char *relation = NULL;
  const char *user;

  if (!cli_parse_options (command, "USER", entries, &argc, &argv))
    return 2;
  if (argc != 2)
    return cli_usage (command, "expected USER");
  user = argv[1];
  if (!cli_connect (cli))
    return cli_fail (cli, cli->error);
  cli_contact_async (cli, verb, user, contact_cb, &run);
  cli_run (cli);
  relation = run.relation;
  if (cli->error != NULL)
    return cli_fail (cli, cli->error);

  json_object_set_string_member (fields, "user", user);
  json_object_set_string_member (fields, "relation", relation);
  if (g_strcmp0 (relation, "mutual") == 0)
    cli_event (cli, "contact", fields, "%s is your contact", user);
  else if (g_strcmp0 (relation, "blocked") == 0)
    cli_event (cli, "contact", fields, "%s is blocked: their contact requests no longer reach "
               "you", user);
  else if (g_strcmp0 (relation, "requested") == 0)
    cli_event (cli, "contact", fields, "asked %s to be your contact; waiting for them to accept",
               user);
  else
    cli_event (cli, "contact", fields, "%s is not your contact", user);
  return 0;
}

int
cli_add (Cli *cli, int argc, char **argv)
{
  return contact_command (cli, "add", "subscribe", argc, argv);
}

/* a transfer's id (32 hex digits) among the arguments makes accept and decline answer an
 * offer instead of a contact request */
static gboolean
names_transfer (int    argc,
                char **argv)
{
  for (int i = 1; i < argc; i++)
    if (cli_is_transfer_id (argv[i]))
      return TRUE;
  return FALSE;
}

int
cli_accept (Cli *cli, int argc, char **argv)
{
  if (names_transfer (argc, argv))
    return cli_transfer_accept (cli, argc, argv);
  return contact_command (cli, "accept", "accept", argc, argv);
}

int
cli_decline (Cli *cli, int argc, char **argv)
{
  if (names_transfer (argc, argv))
    return cli_transfer_decline (cli, argc, argv);
  return contact_command (cli, "decline", "decline", argc, argv);
}

int
cli_remove (Cli *cli, int argc, char **argv)
{
  return contact_command (cli, "remove", "remove", argc, argv);
}

int
cli_block (Cli *cli, int argc, char **argv)
{
  return contact_command (cli, "block", "block", argc, argv);
}

int
cli_unblock (Cli *cli, int argc, char **argv)
{
  return contact_command (cli, "unblock", "unblock", argc, argv);
}
