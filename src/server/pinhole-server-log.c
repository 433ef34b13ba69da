/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server-log.c: `pinhole-server --log-json` writes each log line to standard error
 * as one JSON object, for log collectors outside systemd (containers, hosted platforms):
 * {"time": "2026-12-03T12:00:00.123456Z", "level": "message", "domain": "pinhole-server",
 * "message": "…"}. Under systemd nothing is needed: GLib's default writer already sends
 * structured fields to the journal. G_MESSAGES_DEBUG chooses the debug domains as usual. */
#include "pinhole-server-log.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

static const char *
level_name (GLogLevelFlags level)
{
  if (level & G_LOG_LEVEL_ERROR)
    return "error";
  if (level & G_LOG_LEVEL_CRITICAL)
    return "critical";
  if (level & G_LOG_LEVEL_WARNING)
    return "warning";
  if (level & G_LOG_LEVEL_MESSAGE)
    return "message";
  if (level & G_LOG_LEVEL_INFO)
    return "info";
  return "debug";
}

/* Returns: (transfer full) (nullable): the text of the field @key, NUL-terminated or not */
static char *
field (const GLogField *fields,
       gsize            n_fields,
       const char      *key)
{
  for (gsize i = 0; i < n_fields; i++)
    if (strcmp (fields[i].key, key) == 0)
      return fields[i].length < 0 ? g_strdup (fields[i].value)
                                  : g_strndup (fields[i].value, (gsize) fields[i].length);
  return NULL;
}

static GLogWriterOutput
json_writer (GLogLevelFlags   level,
             const GLogField *fields,
             gsize            n_fields,
             gpointer         user_data)
{
  g_autofree char *domain = field (fields, n_fields, "GLIB_DOMAIN");
  g_autofree char *message = field (fields, n_fields, "MESSAGE");
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format_iso8601 (now);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *line = NULL;

  if (g_log_writer_default_would_drop (level, domain))
    return G_LOG_WRITER_HANDLED;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "time");
  json_builder_add_string_value (builder, stamp);
  json_builder_set_member_name (builder, "level");
  json_builder_add_string_value (builder, level_name (level));
  json_builder_set_member_name (builder, "domain");
  json_builder_add_string_value (builder, domain != NULL ? domain : "");
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message != NULL ? message : "");
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  line = json_generator_to_data (generator, NULL);
  /* one write of the whole line, so that lines from threads do not interleave */
  fprintf (stderr, "%s\n", line);
  fflush (stderr);
  return G_LOG_WRITER_HANDLED;
}

void
pinhole_server_log_use_json (void)
{
  g_log_set_writer_func (json_writer, NULL, NULL);
}
