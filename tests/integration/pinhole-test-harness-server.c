/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-harness-server.c: a real pinhole-server on 127.0.0.1 for integration tests,
 * with its own port, database and log, started, stopped and restarted by the test. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-harness.h"
#include "pinhole-test-harness-private.h"

#include <stdio.h>
#include <string.h>

/* ---- the server ---- */

static gboolean
server_ready (gpointer data)
{
  PhProc *p = data;

  return p->lines->len >= 3 || p->out_eof;
}

static gboolean
server_spawn (PhServer *s,
              guint16   port,
              GError  **error)
{
  const char *program = g_getenv ("PINHOLE_SERVER_PROGRAM");
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", port);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  g_autoptr(GUri) uri = NULL;
  const char *line, *ws, *stun;
  guint stun_port = 0;

  if (program == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           "PINHOLE_SERVER_PROGRAM is not set (run the tests with meson test)");
      return FALSE;
    }
  g_strv_builder_addv (builder, _ph_wrapper_argv ());
  g_strv_builder_add_many (builder, program, "--listen", listen, "--stun-port", "0", "--db",
                           s->db_path, NULL);
  if (s->extra_args != NULL)
    g_strv_builder_addv (builder, (const char **) s->extra_args);
  argv = g_strv_builder_end (builder);
  s->proc = ph_proc_spawn ((const char *const *) argv, NULL, FALSE, error);
  if (s->proc == NULL)
    return FALSE;
  if (!ph_iterate_until (server_ready, s->proc, _ph_scaled (PH_SERVER_START_MS)) ||
      s->proc->lines->len < 3)
    {
      ph_proc_stop (s->proc);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "pinhole-server did not announce its ports (status %d): %s",
                   s->proc->status, s->proc->err_text->str);
      g_string_append (s->log, s->proc->err_text->str);
      g_clear_pointer (&s->proc, ph_proc_free);
      return FALSE;
    }
  /* "pinhole-server VER listening on ws://127.0.0.1:PORT/pinhole" (wss:// with TLS) */
  line = g_ptr_array_index (s->proc->lines, 0);
  ws = strstr (line, "wss://");
  if (ws == NULL)
    ws = strstr (line, "ws://");
  uri = ws ? g_uri_parse (ws, G_URI_FLAGS_NONE, NULL) : NULL;
  /* "stun on 127.0.0.1 port N and M (udp and tcp)" */
  stun = strstr (g_ptr_array_index (s->proc->lines, 1), " port ");
  if (uri == NULL || g_uri_get_port (uri) <= 0 || stun == NULL ||
      sscanf (stun, " port %u", &stun_port) != 1 || stun_port == 0 || stun_port > 65535)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "cannot read the ports from \"%s\" / \"%s\"", line,
                   (char *) g_ptr_array_index (s->proc->lines, 1));
      ph_proc_stop (s->proc);
      g_clear_pointer (&s->proc, ph_proc_free);
      return FALSE;
    }
  g_free (s->url);
  s->url = g_strdup (ws);
  s->port = (guint16) g_uri_get_port (uri);
  s->stun_port = (guint16) stun_port;
  return TRUE;
}

/* starts pinhole-server on 127.0.0.1, any free port, with a new database in a temporary
 * folder */
PhServer *
ph_server_start (GError **error)
{
  return ph_server_start_with (NULL, error);
}

/* ph_server_start() with more pinhole-server options, e.g. { "--max-offline", "5", NULL } */
PhServer *
ph_server_start_with (const char *const *extra_args,
                      GError            **error)
{
  PhServer *s = g_new0 (PhServer, 1);

  s->extra_args = g_strdupv ((char **) extra_args);

  s->log = g_string_new (NULL);
  s->dir = g_dir_make_tmp ("pinhole-server-XXXXXX", error);
  if (s->dir == NULL)
    {
      ph_server_free (s);
      return NULL;
    }
  s->db_path = g_build_filename (s->dir, "pinhole.db", NULL);
  if (!server_spawn (s, 0, error))
    {
      ph_server_free (s);
      return NULL;
    }
  return s;
}

/* starts a stopped server again on the same port and database */
gboolean
ph_server_restart (PhServer *s,
                   GError  **error)
{
  g_assert (s->proc == NULL);
  return server_spawn (s, s->port, error);
}

/* SIGTERM and a bounded wait, then SIGKILL; Returns: whether it shut down by itself */
gboolean
ph_server_stop (PhServer *s,
                int      *exit_status)
{
  gboolean clean;

  if (s->proc == NULL)
    return TRUE;
  clean = ph_proc_stop (s->proc);
  if (exit_status != NULL)
    *exit_status = s->proc->status;
  g_string_append (s->log, s->proc->err_text->str);
  g_clear_pointer (&s->proc, ph_proc_free);
  return clean;
}

/* Returns: (transfer full): the standard error of every run, the current one so far */
char *
ph_server_dup_log (PhServer *s)
{
  return g_strconcat (s->log->str, s->proc ? s->proc->err_text->str : "", NULL);
}

void
ph_server_free (PhServer *s)
{
  if (s == NULL)
    return;
  ph_server_stop (s, NULL);
  if (s->dir != NULL)
    ph_remove_tree (s->dir);
  g_string_free (s->log, TRUE);
  g_free (s->dir);
  g_free (s->db_path);
  g_free (s->url);
  g_strfreev (s->extra_args);
  g_free (s);
}
