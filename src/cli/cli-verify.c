/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-verify.c: `verify USER DEVICE [--off]` marks a contact's device verified (or not) once
 * its safety number, printed here, matches what the device shows (`fingerprint` there). */
#include "cli-common.h"
#include "pinhole-error.h"

int
cli_verify (Cli   *cli,
            int    argc,
            char **argv)
{
  gboolean off = FALSE;
  GOptionEntry entries[] = {
    { "off", 0, 0, G_OPTION_ARG_NONE, &off, "mark the device not verified", NULL },
    { NULL }
  };
  g_autoptr(JsonObject) fields = json_object_new ();
  g_autofree char *number = NULL;
  PinholeContact *contact;
  PinholeDevice *device;

  if (!cli_parse_options ("verify", "USER DEVICE [--off]", entries, &argc, &argv))
    return 2;
  if (argc != 3)
    return cli_usage ("verify", "expected USER DEVICE");
  if (!cli_connect (cli))
    return cli_fail (cli, cli->error);
  /* the mark is the model's: a running instance would not see a change made beside it */
  if (cli->remote != NULL)
    {
      g_set_error_literal (&cli->error, PINHOLE_ERROR, PINHOLE_ERROR_BUSY,
                           "this profile is in use by a running instance: stop it to verify "
                           "a device");
      return cli_fail (cli, cli->error);
    }
  contact = pinhole_client_lookup_contact (cli->client, argv[1]);
  device = contact != NULL ? pinhole_contact_lookup_device (contact, argv[2]) : NULL;
  if (device != NULL)
    number = pinhole_device_dup_safety_number (device);
  if (!pinhole_client_set_verified (cli->client, argv[1], argv[2], !off, &cli->error))
    return cli_fail (cli, cli->error);
  json_object_set_string_member (fields, "user", argv[1]);
  json_object_set_string_member (fields, "device", argv[2]);
  json_object_set_boolean_member (fields, "verified", !off);
  json_object_set_string_member (fields, "safety_number", number);
  cli_event (cli, "verify", fields, "%s/%s (%s) is %s", argv[1], argv[2], number,
             off ? "not verified" : "verified");
  return 0;
}
