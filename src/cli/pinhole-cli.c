/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-cli.c: the headless Pinhole client: global options, then one subcommand from the
 * table below. Its names, options and JSON events are a documented interface (README.md). */
#define G_LOG_DOMAIN "pinhole-cli"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cli-common.h"

static const CliCommand commands[] = {
  { "register", cli_register, "USER", "create the account USER (password: PINHOLE_PASSWORD)" },
  { "login", cli_login_command, "USER", "add this profile as a new device of the account USER" },
  { "add", cli_add, "USER", "ask USER to be your contact" },
  { "accept", cli_accept, "USER | ID [--to DIR]",
    "accept USER's contact request, or the file offer ID (saved into DIR)" },
  { "decline", cli_decline, "USER | ID", "decline USER's contact request, or the file offer ID" },
  { "remove", cli_remove, "USER", "remove USER from your contacts" },
  { "block", cli_block, "USER", "remove USER and refuse their contact requests for good" },
  { "unblock", cli_unblock, "USER", "let USER ask to be your contact again" },
  { "contacts", cli_contacts, "", "list contacts with presence, path and RTT" },
  { "send", cli_send, "USER TEXT|-", "send TEXT, or each line of standard input, to USER" },
  { "send-file", cli_send_file, "USER PATH...",
    "offer files and folders to USER and wait until USER has verified them" },
  { "transfers", cli_transfers, "", "list file transfers both ways, with their ids and state" },
  { "pause", cli_pause, "ID", "pause the file transfer ID" },
  { "resume", cli_resume, "ID", "resume the file transfer ID" },
  { "cancel", cli_cancel, "ID", "cancel the file transfer ID; the recipient removes its partials" },
  { "listen", cli_listen, "[--messages N] [--accept-files DIR]",
    "stay online and print every event; accept every file offer into DIR" },
  { "path", cli_path, "USER [--count N] [-v]",
    "print the path to USER and its RTT once a second" },
  { "set", cli_set, "USER relay-only on|off",
    "relay only with USER: never send USER this device's addresses" },
  { "trust", cli_trust, "USER", "trust USER's changed device keys after comparing fingerprints" },
  { "verify", cli_verify, "USER DEVICE [--off]",
    "mark USER's DEVICE verified after comparing its safety number" },
  { "fingerprint", cli_fingerprint, "[USER]", "print this device's or USER's key fingerprints" },
  { "history", cli_history, "USER [--limit N]", "print the conversation with USER" },
  { "devices", cli_devices, "", "list this account's devices" },
  { "revoke", cli_revoke, "DEVICE", "remove DEVICE from this account and log it out" },
};

static char *
commands_help (void)
{
  GString *s = g_string_new ("Commands:\n");

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *usage = g_strdup_printf ("%s %s", commands[i].name, commands[i].args);
      g_string_append_printf (s, "  %-28s %s\n", usage, commands[i].help);
    }
  g_string_append (s, "\nThe options above but --version may also follow the command "
                      "(pinhole-cli listen --json).\nEnvironment: PINHOLE_PASSWORD (password), "
                      "PINHOLE_PROFILE (profile folder), PINHOLE_SERVER (server URL).\nExit "
                      "status: 0 success, 1 failure (one line on standard error), 2 usage error.");
  return g_string_free (s, FALSE);
}

/* Returns: (transfer full): the options every command takes, stored in @target */
static GOptionEntry *
global_entries_new (Cli *target)
{
  GOptionEntry entries[] = {
    { "server", 0, 0, G_OPTION_ARG_STRING, &target->server,
      "server URL, ws:// or wss:// (default: the profile's, else " CLI_DEFAULT_SERVER ")",
      "URL" },
    { "profile", 0, 0, G_OPTION_ARG_FILENAME, &target->profile_dir,
      "profile folder: one identity each (default: ~/.local/share/pinhole/default)", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &target->json, "events and results as JSON lines", NULL },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &target->ca_file,
      "trust the certificates in this PEM file for wss:// (e.g. a self-signed server)", "FILE" },
    { NULL }
  };

  return g_memdup2 (entries, sizeof entries);
}

static void
take_string (char **field,
             char  *value)
{
  if (value == NULL)
    return;
  g_free (*field);
  *field = value;
}

/* the global options given after the command name (`pinhole-cli listen --json`), up to a
 * "--": they mean what they mean before it, and win over those. The command's own options
 * and arguments stay in @argv for it. */
static gboolean
parse_global_options_after (Cli    *cli,
                            int    *argc,
                            char ***argv)
{
  Cli after = { 0 };
  g_autofree GOptionEntry *entries = global_entries_new (&after);
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_ignore_unknown_options (context, TRUE);
  /* `COMMAND --help` is the command's own help */
  g_option_context_set_help_enabled (context, FALSE);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      cli_usage ((*argv)[1], error->message);
      return FALSE;
    }
  /* separate storage: GOption would drop, not free, a string set by the first parse */
  take_string (&cli->server, after.server);
  take_string (&cli->profile_dir, after.profile_dir);
  take_string (&cli->ca_file, after.ca_file);
  cli->json |= after.json;
  return TRUE;
}

static void
shutdown_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Cli *cli = user_data;

  pinhole_client_shutdown_finish (PINHOLE_CLIENT (source), result, NULL);
  cli->status = -1;   /* done */
  g_main_loop_quit (cli->loop);
}

int
main (int   argc,
      char *argv[])
{
  Cli cli = { 0 };
  gboolean version = FALSE;
  g_autofree GOptionEntry *entries = global_entries_new (&cli);
  GOptionEntry version_entries[] = {
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "print the version", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("COMMAND [ARGS…]");
  g_autoptr(GError) error = NULL;
  g_autofree char *help = commands_help ();
  int status = 2;

  setlocale (LC_ALL, "");
  g_option_context_set_summary (context, "Pinhole: chat with your contacts, directly whenever "
                                "the network allows.");
  g_option_context_set_description (context, help);
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_main_entries (context, version_entries, NULL);
  /* parsing stops at the command; parse_global_options_after () reads the rest */
  g_option_context_set_strict_posix (context, TRUE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      cli_line (stderr, "pinhole-cli: %s", error->message);
      return 2;
    }
  if (version)
    {
      printf ("pinhole-cli %s\n", PINHOLE_VERSION);
      return 0;
    }
  if (argc < 2)
    {
      fprintf (stderr, "pinhole-cli: no command given\n\n%s\n", help);
      return 2;
    }
  if (!parse_global_options_after (&cli, &argc, &argv))
    {
      status = 2;
      goto out;
    }
  if (cli.ca_file == NULL && g_getenv ("PINHOLE_CA_FILE") != NULL)
    cli.ca_file = g_strdup (g_getenv ("PINHOLE_CA_FILE"));
  if (cli.server == NULL && g_getenv ("PINHOLE_SERVER") != NULL)
    cli.server = g_strdup (g_getenv ("PINHOLE_SERVER"));

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      {
        cli.loop = g_main_loop_new (NULL, FALSE);
        if (!cli_open_profile (&cli))
          status = cli_fail (&cli, cli.error);
        else
          status = commands[i].handler (&cli, argc - 1, argv + 1);
        goto out;
      }
  {
    g_autofree char *command = cli_escape (argv[1]);

    fprintf (stderr, "pinhole-cli: unknown command \"%s\"\n\n%s\n", command, help);
  }

out:
  /* listen stopped its instance already; a one-shot command's proxy goes before the client */
  g_clear_object (&cli.instance);
  g_clear_object (&cli.remote);
  if (cli.client != NULL)
    {
      /* a clean exit also removes the router's port mappings (bounded by the mapper) */
      cli.status = 0;
      pinhole_client_shutdown_async (cli.client, NULL, shutdown_cb, &cli);
      if (cli.status != -1)
        g_main_loop_run (cli.loop);
    }
  g_clear_object (&cli.client);
  /* only now, with the connection closed and the port mappings gone, may another take it */
  g_clear_pointer (&cli.instance_lock, pinhole_profile_lock_release);
  g_clear_object (&cli.profile);
  g_clear_pointer (&cli.loop, g_main_loop_unref);
  g_clear_error (&cli.error);
  g_free (cli.server);
  g_free (cli.profile_dir);
  g_free (cli.ca_file);
  return status;
}
