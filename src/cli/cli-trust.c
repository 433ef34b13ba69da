/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-trust.c: `fingerprint [USER]` prints key fingerprints to compare out of band;
 * `trust USER` accepts USER's changed device keys afterwards. Both are local. */
#include "cli-common.h"

#include <stdio.h>

int
cli_fingerprint (Cli   *cli,
                 int    argc,
                 char **argv)
{
  GOptionEntry entries[] = { { NULL } };

  if (!cli_parse_options ("fingerprint", "[USER]", entries, &argc, &argv))
    return 2;
  if (argc > 2)
    return cli_usage ("fingerprint", "expected at most USER");
  if (argc == 1)
    {
      g_autoptr(GBytes) key = pinhole_identity_dup_public_key (
        pinhole_profile_get_identity (cli->profile));
      g_autofree char *fp = pinhole_fingerprint_for_key (key);
      g_autoptr(JsonObject) fields = json_object_new ();

      json_object_set_string_member (fields, "fingerprint", fp);
      cli_event (cli, "fingerprint", fields, "this device: %s", fp);
      return 0;
    }
  {
    g_autoptr(GPtrArray) fps = pinhole_profile_list_fingerprints (cli->profile, argv[1]);

    if (fps->len == 0)
      {
        cli_line (stderr, "pinhole-cli: no keys of %s known yet; they are learnt on first "
                  "contact", argv[1]);
        return 1;
      }
    for (guint i = 0; i < fps->len; i++)
      {
        g_autoptr(JsonObject) fields = json_object_new ();

        json_object_set_string_member (fields, "user", argv[1]);
        json_object_set_string_member (fields, "fingerprint", g_ptr_array_index (fps, i));
        cli_event (cli, "fingerprint", fields, "%s %s", argv[1],
                   (char *) g_ptr_array_index (fps, i));
      }
  }
  return 0;
}

int
cli_trust (Cli   *cli,
           int    argc,
           char **argv)
{
  GOptionEntry entries[] = { { NULL } };
  g_autoptr(JsonObject) fields = json_object_new ();
  gboolean trusted = FALSE;

  if (!cli_parse_options ("trust", "USER", entries, &argc, &argv))
    return 2;
  if (argc != 2)
    return cli_usage ("trust", "expected USER");
  /* a running instance holds the contact's key state: it trusts, and its model follows */
  if (cli_find_instance (cli))
    {
      if (!cli_remote_trust (cli, argv[1], &trusted))
        return cli_fail (cli, cli->error);
    }
  else if (pinhole_profile_has_untrusted_key (cli->profile, argv[1]))
    {
      if (!pinhole_profile_trust_keys (cli->profile, argv[1], &cli->error))
        return cli_fail (cli, cli->error);
      trusted = TRUE;
    }
  json_object_set_string_member (fields, "user", argv[1]);
  if (trusted)
    cli_event (cli, "trust", fields, "%s's current device keys are trusted now", argv[1]);
  else
    cli_event (cli, "trust", fields, "no changed key of %s waits for trust", argv[1]);
  return 0;
}
