/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-history.c: `pinhole-cli history USER [--limit N]`: the stored conversation. */
#include "cli-common.h"
#include "pinhole-enum-strings.h"

int
cli_history (Cli   *cli,
             int    argc,
             char **argv)
{
  gint limit = 50;
  GOptionEntry entries[] = {
    { "limit", 'l', 0, G_OPTION_ARG_INT, &limit, "the newest N messages (default 50)", "N" },
    { NULL }
  };
  g_autoptr(GPtrArray) messages = NULL;
  g_autofree char *me = NULL;

  if (!cli_parse_options ("history", "USER", entries, &argc, &argv))
    return 2;
  if (argc != 2 || limit < 1)
    return cli_usage ("history", "expected USER and a positive --limit");
  me = pinhole_profile_dup_setting (cli->profile, "user");
  messages = pinhole_profile_list_messages (cli->profile, argv[1], 0, (guint) limit,
                                            &cli->error);
  if (messages == NULL)
    return cli_fail (cli, cli->error);
  for (guint i = 0; i < messages->len; i++)
    {
      PinholeHistoryEntry *e = g_ptr_array_index (messages, i);
      g_autoptr(JsonObject) fields = json_object_new ();
      g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (e->timestamp);
      g_autofree char *when = dt ? g_date_time_format (dt, "%Y-%m-%d %H:%M") : g_strdup ("?");
      gboolean out = e->direction == PINHOLE_MESSAGE_DIRECTION_OUT;
      const char *state = pinhole_enum_to_nick (PINHOLE_TYPE_MESSAGE_STATE, e->state);

      json_object_set_string_member (fields, "from", out ? (me ? me : "me") : e->peer);
      json_object_set_string_member (fields, "to", out ? e->peer : (me ? me : "me"));
      json_object_set_string_member (fields, "id", e->id);
      json_object_set_string_member (fields, "text", e->text);
      json_object_set_int_member (fields, "ts", e->timestamp);
      json_object_set_string_member (fields, "state", state);
      cli_event (cli, "history", fields, "[%s] %s: %s%s%s%s", when,
                 out ? (me ? me : "me") : e->peer, e->text, out ? "  (" : "",
                 out ? state : "", out ? ")" : "");
    }
  return 0;
}
