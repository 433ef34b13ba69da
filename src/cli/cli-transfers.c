/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-transfers.c: `pinhole-cli transfers`: one line per transfer, both ways (pending,
 * running, done, failed): id, direction, peer, names, bytes, state. Through the running
 * instance its list of this run and what the profile kept; without one, what the profile
 * keeps (the transfers not over). Names from the network go through cli_line's escaping. */
#define G_LOG_DOMAIN "pinhole-cli"

#include "cli-common.h"
#include "pinhole-error.h"
#include "pinhole-transfer-message.h"

#include <string.h>

#define MAX_NAMES_SHOWN 3

const char *
cli_transfer_direction (PinholeTransfer *t)
{
  return pinhole_transfer_get_direction (t) == PINHOLE_TRANSFER_DIRECTION_INCOMING ? "incoming"
                                                                                  : "outgoing";
}

gboolean
cli_is_transfer_id (const char *arg)
{
  return pinhole_transfer_id_is_valid (arg);
}

/* a progress event, as send-file and accept print it: at most twice a second (@last: when
 * the one before went out), and always the last one */
void
cli_transfer_progress (Cli        *cli,
                       gint64     *last,
                       const char *id,
                       guint64     done,
                       guint64     total,
                       gdouble     rate,
                       const char *path)
{
  g_autofree char *done_text = NULL, *total_text = NULL, *rate_text = NULL;
  g_autoptr(JsonObject) fields = NULL;
  gint64 now = g_get_monotonic_time ();
  gint64 eta = rate > 0 ? (gint64) ((total - done) / rate + 0.5) : -1;

  if (now - *last < CLI_PROGRESS_INTERVAL_US && done < total)
    return;
  *last = now;
  done_text = g_format_size (done);
  total_text = g_format_size (total);
  rate_text = g_format_size ((guint64) rate);
  fields = json_object_new ();
  if (path != NULL && *path == '\0')
    path = NULL;
  json_object_set_string_member (fields, "id", id);
  json_object_set_int_member (fields, "bytes", (gint64) done);
  json_object_set_int_member (fields, "total", (gint64) total);
  json_object_set_double_member (fields, "rate", rate);
  json_object_set_int_member (fields, "eta", eta);
  json_object_set_string_member (fields, "path", path != NULL ? path : "none");
  if (eta >= 0)
    cli_event (cli, "progress", fields, "%s of %s, %s/s, %" G_GINT64_FORMAT " s left, via %s",
               done_text, total_text, rate_text, eta, path != NULL ? path : "no path");
  else
    cli_event (cli, "progress", fields, "%s of %s, via %s", done_text, total_text,
               path != NULL ? path : "no path");
}

/* the sender begins a run: how much the recipient lacks, and what was sent before it */
void
cli_transfer_run_event (Cli             *cli,
                        PinholeTransfer *t,
                        guint64          missing)
{
  g_autoptr(JsonObject) fields = json_object_new ();
  g_autofree char *missing_text = g_format_size (missing);

  json_object_set_string_member (fields, "id", pinhole_transfer_get_id (t));
  json_object_set_int_member (fields, "missing", (gint64) missing);
  json_object_set_int_member (fields, "sent", (gint64) pinhole_transfer_get_bytes_sent (t));
  cli_event (cli, "run", fields, "transfer %s: sending the %s that %s does not have yet",
             pinhole_transfer_get_id (t), missing_text, pinhole_transfer_get_peer (t));
}

/* an incoming offer: its size, and the first name (escaped, as every line) */
void
cli_transfer_offer_event (Cli             *cli,
                          PinholeTransfer *t)
{
  g_autoptr(JsonObject) fields = json_object_new ();
  PinholeManifest *m = pinhole_transfer_get_manifest (t);
  g_autofree char *size = g_format_size (pinhole_manifest_get_total_bytes (m));

  json_object_set_string_member (fields, "id", pinhole_transfer_get_id (t));
  json_object_set_string_member (fields, "peer", pinhole_transfer_get_peer (t));
  json_object_set_int_member (fields, "files", pinhole_manifest_get_n_entries (m));
  json_object_set_int_member (fields, "bytes", (gint64) pinhole_manifest_get_total_bytes (m));
  json_object_set_string_member (fields, "first", pinhole_manifest_get_entry (m, 0)->path);
  cli_event (cli, "offer", fields, "offer %s from %s: %u entries, %s, first %s",
             pinhole_transfer_get_id (t), pinhole_transfer_get_peer (t),
             pinhole_manifest_get_n_entries (m), size, pinhole_manifest_get_entry (m, 0)->path);
}

static void
print_row (Cli                *cli,
           const char         *id,
           const char         *direction,
           const char         *peer,
           const char *const  *names,
           guint               n_names,
           guint64             bytes,
           guint64             total,
           const char         *state,
           const char         *error)
{
  g_autoptr(JsonObject) fields = json_object_new ();
  JsonArray *array = json_array_new ();
  g_autoptr(GString) shown = g_string_new (NULL);
  g_autofree char *bytes_text = g_format_size (bytes);
  g_autofree char *total_text = g_format_size (total);

  for (guint i = 0; i < n_names; i++)
    {
      json_array_add_string_element (array, names[i]);
      if (i < MAX_NAMES_SHOWN)
        g_string_append_printf (shown, "%s%s", i > 0 ? ", " : "", names[i]);
    }
  if (n_names > MAX_NAMES_SHOWN)
    g_string_append_printf (shown, " and %u more", n_names - MAX_NAMES_SHOWN);
  json_object_set_string_member (fields, "id", id);
  json_object_set_string_member (fields, "direction", direction);
  json_object_set_string_member (fields, "peer", peer);
  json_object_set_array_member (fields, "names", array);
  json_object_set_int_member (fields, "bytes", (gint64) bytes);
  json_object_set_int_member (fields, "total", (gint64) total);
  json_object_set_string_member (fields, "state", state);
  if (error != NULL && *error != '\0')
    json_object_set_string_member (fields, "reason", error);
  /* every field goes through cli_event's escaping: names and reasons come from peers */
  cli_event (cli, "transfer", fields, "%s  %s  %s %s  %s  %s / %s  %s%s%s", id, direction,
             strcmp (direction, "incoming") == 0 ? "from" : "to", peer, shown->str, bytes_text,
             total_text, state, error != NULL && *error != '\0' ? ": " : "",
             error != NULL ? error : "");
}

static int
list_remote (Cli *cli)
{
  CliWait w = { cli };
  g_autoptr(GVariant) list = NULL;
  GVariantIter iter;
  const char *id, *direction, *peer, *state, *error, *path;
  g_autofree const char **names = NULL;
  guint64 bytes, total;

  pinhole_dbus_instance_call_list_transfers (cli->remote, NULL, cli_wait_cb, &w);
  if (!cli_strip_remote (pinhole_dbus_instance_call_list_transfers_finish (cli->remote, &list,
                                                                           cli_wait_result (&w),
                                                                           &cli->error),
                         &cli->error))
    {
      g_clear_object (&w.result);
      return cli_fail (cli, cli->error);
    }
  g_clear_object (&w.result);
  g_variant_iter_init (&iter, list);
  while (g_variant_iter_next (&iter, "(&s&s&s^a&stt&s&s&s)", &id, &direction, &peer, &names,
                              &bytes, &total, &state, &error, &path))
    {
      print_row (cli, id, direction, peer, names, g_strv_length ((char **) names), bytes, total,
                 state, error);
      g_clear_pointer (&names, g_free);
    }
  return 0;
}

/* what the profile keeps: no log-in, nothing on the network */
static int
list_profile (Cli *cli)
{
  g_autoptr(GPtrArray) records = pinhole_profile_list_transfers (cli->profile);

  for (guint i = 0; i < records->len; i++)
    {
      PinholeTransferRecord *r = records->pdata[i];
      g_autoptr(PinholeManifest) m = pinhole_manifest_parse (r->manifest, strlen (r->manifest),
                                                             NULL);
      g_autoptr(GPtrArray) names = g_ptr_array_new ();

      if (m == NULL)
        continue;
      for (guint j = 0; j < pinhole_manifest_get_n_entries (m); j++)
        g_ptr_array_add (names, pinhole_manifest_get_entry (m, j)->path);
      print_row (cli, r->id,
                 r->direction == PINHOLE_TRANSFER_DIRECTION_INCOMING ? "incoming" : "outgoing",
                 r->peer, (const char *const *) names->pdata, names->len, 0,
                 pinhole_manifest_get_total_bytes (m),
                 pinhole_transfer_state_to_string (r->state), NULL);
    }
  return 0;
}

int
cli_transfers (Cli   *cli,
               int    argc,
               char **argv)
{
  GOptionEntry entries[] = { { NULL } };

  if (!cli_parse_options ("transfers", "", entries, &argc, &argv))
    return 2;
  if (argc != 1)
    return cli_usage ("transfers", "expected no argument");
  if (cli_find_instance (cli))
    return list_remote (cli);
  return list_profile (cli);
}
