/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-common.c: profile and log-in handling, the main loop, and event output for
 * pinhole-cli. Errors end a command with one line on standard error and exit status 1. Every
 * line of text output goes through cli_escape(): names, messages and a server's errors come
 * from the network. */
#define G_LOG_DOMAIN "pinhole-cli"

#include "cli-common.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"

#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

gboolean
cli_open_profile (Cli *cli)
{
  if (cli->profile_dir == NULL)
    {
      const char *env = g_getenv ("PINHOLE_PROFILE");
      cli->profile_dir = env ? g_strdup (env)
                             : g_build_filename (g_get_user_data_dir (), "pinhole", "default",
                                                 NULL);
    }
  cli->profile = pinhole_profile_open (cli->profile_dir, &cli->error);
  if (cli->profile == NULL)
    return FALSE;
  cli->client = pinhole_client_new (cli->profile);
  /* a server's own CA given at register or login is remembered by the profile */
  if (cli->ca_file == NULL)
    cli->ca_file = pinhole_profile_dup_setting (cli->profile, "ca-file");
  else
    {
      g_autofree char *absolute = g_canonicalize_filename (cli->ca_file, NULL);
      g_free (cli->ca_file);
      cli->ca_file = g_steal_pointer (&absolute);
    }
  if (cli->ca_file != NULL && !pinhole_client_set_ca_file (cli->client, cli->ca_file, &cli->error))
    return FALSE;
  return TRUE;
}

/* the password from PINHOLE_PASSWORD, or asked on the terminal without echo */
char *
cli_get_password (const char *prompt,
                  GError    **error)
{
  const char *env = g_getenv ("PINHOLE_PASSWORD");
  struct termios old, quiet;
  char buf[1025];
  gboolean restore;

  if (env != NULL)
    return g_strdup (env);
  if (!isatty (STDIN_FILENO))
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                           "no password: set PINHOLE_PASSWORD or run on a terminal");
      return NULL;
    }
  fprintf (stderr, "%s", prompt);
  fflush (stderr);
  restore = tcgetattr (STDIN_FILENO, &old) == 0;
  if (restore)
    {
      quiet = old;
      quiet.c_lflag &= ~(tcflag_t) ECHO;
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
    }
  if (fgets (buf, sizeof buf, stdin) == NULL)
    buf[0] = '\0';
  if (restore)
    tcsetattr (STDIN_FILENO, TCSAFLUSH, &old);
  fprintf (stderr, "\n");
  buf[strcspn (buf, "\r\n")] = '\0';
  return g_strdup (buf);
}

static void
login_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Cli *cli = user_data;

  pinhole_client_login_finish (PINHOLE_CLIENT (source), result, &cli->error);
  g_main_loop_quit (cli->loop);
}

/* a profile bound to a wss:// server never goes to a ws:// one, not even to log in there: its
 * password would cross the network in the clear to whoever answers */
gboolean
cli_check_downgrade (Cli        *cli,
                     const char *server)
{
  g_autofree char *stored = pinhole_profile_dup_setting (cli->profile, "server");
  g_autofree char *own = stored ? pinhole_client_complete_server_url (stored) : NULL;
  g_autofree char *given = pinhole_client_complete_server_url (server);

  if (own == NULL || given == NULL || !g_str_has_prefix (own, "wss://") ||
      !g_str_has_prefix (given, "ws://"))
    return TRUE;
  cli->error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                            "this profile belongs to %s and never falls back to ws:// (%s); "
                            "use --profile DIR for another profile", own, given);
  return FALSE;
}

/* --server (or PINHOLE_SERVER) other than the profile's: refused before anything is sent, for
 * the token and the password belong to the profile's server only */
gboolean
cli_check_server (Cli *cli)
{
  g_autofree char *stored = pinhole_profile_dup_setting (cli->profile, "server");
  g_autofree char *own = NULL;
  g_autofree char *given = NULL;

  /* no server given, or no account yet (the client says "register first") */
  if (cli->server == NULL || stored == NULL)
    return TRUE;
  given = pinhole_client_complete_server_url (cli->server);
  if (given == NULL)
    {
      cli->error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                                "\"%s\" is not a ws:// or wss:// server address", cli->server);
      return FALSE;
    }
  if (pinhole_client_is_profile_server (cli->client, cli->server))
    return TRUE;
  if (!cli_check_downgrade (cli, cli->server))
    return FALSE;
  own = pinhole_client_complete_server_url (stored);
  cli->error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_AUTH,
                            "this profile belongs to %s; to use it with %s, log in there: "
                            "pinhole-cli --server %s login USER", own ? own : stored, given,
                            given);
  return FALSE;
}

/* logs in with the profile's token, or PINHOLE_PASSWORD when there is none or it is refused;
 * only ever to the profile's own server */
gboolean
cli_login (Cli     *cli,
           gboolean announce)
{
  g_autofree char *token = NULL;
  g_autofree char *password = NULL;

  if (!cli_check_server (cli))
    return FALSE;
  token = pinhole_profile_dup_setting (cli->profile, "token");
  if (token == NULL || g_getenv ("PINHOLE_PASSWORD") != NULL)
    {
      password = cli_get_password ("Password: ", &cli->error);
      if (password == NULL)
        return FALSE;
    }
  /* only what keeps a session (listen, path, send -) looks for direct paths */
  pinhole_client_set_direct_paths (cli->client, cli->direct_paths);
  pinhole_client_login_async (cli->client, cli->server, password, announce, NULL, login_cb, cli);
  g_main_loop_run (cli->loop);
  return cli->error == NULL;
}

void
cli_run (Cli *cli)
{
  g_main_loop_run (cli->loop);
}

static gboolean
deadline_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

/* cancels @cancellable (which must outlive it) in @seconds; Returns: the deadline, for
 * cli_deadline_clear() */
guint
cli_deadline_new (GCancellable *cancellable,
                  guint         seconds)
{
  return g_timeout_add_seconds (seconds, deadline_cb, cancellable);
}

/* the work ended before its deadline, or by it */
void
cli_deadline_clear (GCancellable *cancellable,
                    guint         deadline)
{
  /* cancelled only by the deadline, which is gone then */
  if (!g_cancellable_is_cancelled (cancellable))
    g_source_remove (deadline);
}

/* ends the running command; @error: (nullable): the failure, if it failed */
void
cli_quit (Cli          *cli,
          const GError *error)
{
  if (error != NULL && cli->error == NULL)
    cli->error = g_error_copy (error);
  g_main_loop_quit (cli->loop);
}

static void
cli_line_valist (FILE       *stream,
                 const char *format,
                 va_list     args)
{
  g_autofree char *line = g_strdup_vprintf (format, args);
  g_autofree char *escaped = cli_escape (line);

  fprintf (stream, "%s\n", escaped);
}

/* prints the line, with its control characters escaped by cli_escape(), and a newline */
void
cli_line (FILE       *stream,
          const char *format,
          ...)
{
  va_list args;

  va_start (args, format);
  cli_line_valist (stream, format, args);
  va_end (args);
}

int
cli_fail (Cli          *cli,
          const GError *error)
{
  cli_line (stderr, "pinhole-cli: %s", error->message);
  return 1;
}

int
cli_usage (const char *command,
           const char *message)
{
  cli_line (stderr, "pinhole-cli %s: %s (see pinhole-cli --help)", command, message);
  return 2;
}

/* parses a subcommand's own options; leaves the positional arguments in argv[1..] */
gboolean
cli_parse_options (const char   *command,
                   const char   *args,
                   GOptionEntry *entries,
                   int          *argc,
                   char       ***argv)
{
  g_autofree char *summary = g_strdup_printf ("%s %s", command, args);
  g_autoptr(GOptionContext) context = g_option_context_new (summary);
  g_autoptr(GError) error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      cli_usage (command, error->message);
      return FALSE;
    }
  /* GLib keeps a "--" that an argument like "--json" follows; the first one ended the
   * options, and what follows it is positional (`send bob -- --json` sends "--json") */
  for (int i = 1; i < *argc; i++)
    if (strcmp ((*argv)[i], "--") == 0)
      {
        memmove (&(*argv)[i], &(*argv)[i + 1], (gsize) (*argc - i) * sizeof (char *));
        (*argc)--;
        break;
      }
  return TRUE;
}

void
cli_event (Cli        *cli,
           const char *name,
           JsonObject *fields,
           const char *format,
           ...)
{
  if (cli->json)
    {
      g_autoptr(JsonObject) o = json_object_new ();
      g_autofree char *line = NULL;

      json_object_set_string_member (o, "event", name);
      if (fields != NULL)
        {
          JsonObjectIter iter;
          const char *member;
          JsonNode *node;

          json_object_iter_init (&iter, fields);
          while (json_object_iter_next (&iter, &member, &node))
            json_object_set_member (o, member, json_node_copy (node));
        }
      line = pinhole_stanza_to_string (o, NULL);
      printf ("%s\n", line);
    }
  else
    {
      va_list args;

      va_start (args, format);
      cli_line_valist (stdout, format, args);
      va_end (args);
    }
  fflush (stdout);
}
