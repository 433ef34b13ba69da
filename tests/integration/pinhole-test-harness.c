/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-harness.c: real pinhole-server and pinhole-cli processes for loopback
 * integration tests. Children are started with GSubprocess, stopped by their own PID, and
 * die with the test (PR_SET_PDEATHSIG) even when it is killed by a timeout. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-harness.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

/* running the programs under a tool: the last section */
static const char **wrapper_argv (void);
static guint        scaled       (guint ms);

/* ---- processes ---- */

static void
child_setup (gpointer data)
{
  /* a test that aborts or times out takes its servers and clients with it */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void read_line (PhProc *p);
static void read_err (PhProc *p);

static void
line_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  gsize len;
  char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
                                                          &len, &error);
  PhProc *p = user_data;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (line == NULL)
    {
      if (error != NULL)
        g_test_message ("%s: reading standard output: %s", p->name, error->message);
      p->out_eof = TRUE;
      return;
    }
  g_ptr_array_add (p->lines, line);
  if (line[0] == '{')
    {
      g_autoptr(JsonParser) parser = json_parser_new ();

      if (json_parser_load_from_data (parser, line, (gssize) len, NULL) &&
          JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        g_ptr_array_add (p->events,
                         json_object_ref (json_node_get_object (json_parser_get_root (parser))));
    }
  read_line (p);
}

static void
read_line (PhProc *p)
{
  g_data_input_stream_read_line_async (p->out, G_PRIORITY_DEFAULT, p->cancellable, line_cb, p);
}

static void
err_cb (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result,
                                                              &error);
  PhProc *p = user_data;
  gsize len;
  const char *data;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    {
      p->err_eof = TRUE;
      return;
    }
  data = g_bytes_get_data (bytes, &len);
  g_string_append_len (p->err_text, data, (gssize) len);
  read_err (p);
}

static void
read_err (PhProc *p)
{
  g_input_stream_read_bytes_async (p->err, 4096, G_PRIORITY_DEFAULT, p->cancellable, err_cb, p);
}

static void
wait_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GSubprocess *proc = G_SUBPROCESS (source);
  g_autoptr(GError) error = NULL;
  PhProc *p = user_data;

  if (!g_subprocess_wait_finish (proc, result, &error))
    return;   /* cancelled: @p is gone */
  p->exited = TRUE;
  if (g_subprocess_get_if_exited (proc))
    p->status = g_subprocess_get_exit_status (proc);
  else
    {
      p->status = -1;
      p->signaled = g_subprocess_get_if_signaled (proc);
    }
}

/**
 * ph_proc_spawn:
 * @env: (nullable): NAME=VALUE pairs added to the environment, which loses PINHOLE_*
 * Starts @argv with its standard output read line by line and its standard error collected.
 */
PhProc *
ph_proc_spawn (const char *const *argv,
               const char *const *env,
               gboolean           with_stdin,
               GError           **error)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE |
                               (with_stdin ? G_SUBPROCESS_FLAGS_STDIN_PIPE
                                           : G_SUBPROCESS_FLAGS_NONE));
  GSubprocess *proc;
  PhProc *p;

  g_subprocess_launcher_unsetenv (launcher, "PINHOLE_PASSWORD");
  g_subprocess_launcher_unsetenv (launcher, "PINHOLE_SERVER");
  g_subprocess_launcher_unsetenv (launcher, "PINHOLE_PROFILE");
  g_subprocess_launcher_unsetenv (launcher, "PINHOLE_CA_FILE");
  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_autofree char *name = g_strndup (env[i], strcspn (env[i], "="));
      const char *eq = strchr (env[i], '=');

      g_subprocess_launcher_setenv (launcher, name, eq ? eq + 1 : "", TRUE);
    }
  if (!with_stdin)
    g_subprocess_launcher_set_stdin_file_path (launcher, "/dev/null");
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, argv, error);
  if (proc == NULL)
    return NULL;

  p = g_new0 (PhProc, 1);
  p->proc = proc;
  p->name = g_path_get_basename (argv[0]);
  p->cancellable = g_cancellable_new ();
  p->lines = g_ptr_array_new_with_free_func (g_free);
  p->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  p->err_text = g_string_new (NULL);
  p->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  g_data_input_stream_set_newline_type (p->out, G_DATA_STREAM_NEWLINE_TYPE_LF);
  p->err = g_object_ref (g_subprocess_get_stderr_pipe (proc));
  if (with_stdin)
    p->stdin_pipe = g_object_ref (g_subprocess_get_stdin_pipe (proc));
  read_line (p);
  read_err (p);
  g_subprocess_wait_async (proc, p->cancellable, wait_cb, p);
  return p;
}

const char *
ph_proc_get_pid (PhProc *p)
{
  return g_subprocess_get_identifier (p->proc);
}

static gboolean
proc_done (gpointer data)
{
  PhProc *p = data;

  return p->exited && p->out_eof && p->err_eof;
}

static gboolean
proc_exited (gpointer data)
{
  return ((PhProc *) data)->exited;
}

/* Returns: whether the process exited and closed its output within @timeout_ms */
gboolean
ph_proc_wait (PhProc *p,
              guint   timeout_ms)
{
  return ph_iterate_until (proc_done, p, timeout_ms);
}

/* SIGTERM, then SIGKILL after PH_STOP_GRACE_MS; Returns: whether it ended by itself */
gboolean
ph_proc_stop (PhProc *p)
{
  if (p->exited)
    return TRUE;
  g_subprocess_send_signal (p->proc, SIGTERM);
  if (ph_iterate_until (proc_exited, p, scaled (PH_STOP_GRACE_MS)))
    {
      ph_proc_wait (p, scaled (PH_STOP_GRACE_MS));
      return TRUE;
    }
  g_test_message ("%s (pid %s) ignored SIGTERM for %u ms: killing it", p->name,
                  ph_proc_get_pid (p) ? ph_proc_get_pid (p) : "?", scaled (PH_STOP_GRACE_MS));
  ph_proc_kill (p);
  return FALSE;
}

void
ph_proc_kill (PhProc *p)
{
  if (!p->exited)
    g_subprocess_force_exit (p->proc);
  if (!ph_proc_wait (p, PH_STOP_GRACE_MS))
    g_test_message ("%s did not go away after SIGKILL", p->name);
}

void
ph_proc_free (PhProc *p)
{
  if (p == NULL)
    return;
  if (!p->exited)
    ph_proc_stop (p);
  g_cancellable_cancel (p->cancellable);
  g_clear_object (&p->stdin_pipe);
  g_clear_object (&p->out);
  g_clear_object (&p->err);
  g_clear_object (&p->proc);
  g_clear_object (&p->cancellable);
  g_ptr_array_unref (p->lines);
  g_ptr_array_unref (p->events);
  g_string_free (p->err_text, TRUE);
  g_free (p->name);
  g_free (p);
}

gboolean
ph_proc_write (PhProc     *p,
               const char *text)
{
  g_autoptr(GError) error = NULL;

  g_assert (p->stdin_pipe != NULL);
  if (!g_output_stream_write_all (p->stdin_pipe, text, strlen (text), NULL, NULL, &error))
    {
      g_test_message ("%s: writing standard input: %s", p->name, error->message);
      return FALSE;
    }
  return TRUE;
}

void
ph_proc_close_stdin (PhProc *p)
{
  if (p->stdin_pipe != NULL)
    g_output_stream_close (p->stdin_pipe, NULL, NULL);
}

typedef struct
{
  PhProc      *p;
  guint       *cursor;
  PhEventMatch match;
  gpointer     data;
  JsonObject  *found;
} EventWait;

static gboolean
event_found (gpointer data)
{
  EventWait *w = data;

  for (; *w->cursor < w->p->events->len; (*w->cursor)++)
    {
      JsonObject *event = g_ptr_array_index (w->p->events, *w->cursor);

      if (w->match (event, w->data))
        {
          (*w->cursor)++;
          w->found = event;
          return TRUE;
        }
    }
  /* nothing more will come */
  return w->p->out_eof;
}

/**
 * ph_proc_wait_event:
 * @cursor: (inout): the index of the first event to look at; moved past the match
 * Returns: (transfer none) (nullable): the first matching event, or %NULL when none came
 *   before @timeout_ms passed or the output ended
 */
JsonObject *
ph_proc_wait_event (PhProc       *p,
                    guint        *cursor,
                    PhEventMatch  match,
                    gpointer      data,
                    guint         timeout_ms)
{
  EventWait w = { p, cursor, match, data, NULL };

  ph_iterate_until (event_found, &w, timeout_ms);
  return w.found;
}

typedef struct
{
  const char *event;
  const char *member;
  const char *value;
} NamedMatch;

static const char *
member_string (JsonObject *o,
               const char *member)
{
  JsonNode *node = json_object_get_member (o, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
named_match (JsonObject *event,
             gpointer    data)
{
  NamedMatch *m = data;

  return g_strcmp0 (member_string (event, "event"), m->event) == 0 &&
         (m->member == NULL || g_strcmp0 (member_string (event, m->member), m->value) == 0);
}

/* the first event named @event (whose string @member is @value, when given) */
JsonObject *
ph_proc_wait_named (PhProc     *p,
                    guint      *cursor,
                    const char *event,
                    const char *member,
                    const char *value,
                    guint       timeout_ms)
{
  NamedMatch m = { event, member, value };

  return ph_proc_wait_event (p, cursor, named_match, &m, timeout_ms);
}

guint
ph_proc_count (PhProc     *p,
               const char *event)
{
  guint n = 0;

  for (guint i = 0; i < p->events->len; i++)
    n += g_strcmp0 (member_string (g_ptr_array_index (p->events, i), "event"), event) == 0;
  return n;
}

typedef struct
{
  PhProc     *p;
  const char *event;
  guint       count;
} CountWait;

static gboolean
count_reached (gpointer data)
{
  CountWait *w = data;

  return ph_proc_count (w->p, w->event) >= w->count || w->p->out_eof;
}

/* Returns: whether at least @count @event events came within @timeout_ms */
gboolean
ph_proc_wait_count (PhProc     *p,
                    const char *event,
                    guint       count,
                    guint       timeout_ms)
{
  CountWait w = { p, event, count };

  ph_iterate_until (count_reached, &w, timeout_ms);
  return ph_proc_count (p, event) >= count;
}

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
  g_strv_builder_addv (builder, wrapper_argv ());
  g_strv_builder_add_many (builder, program, "--listen", listen, "--stun-port", "0", "--db",
                           s->db_path, NULL);
  if (s->extra_args != NULL)
    g_strv_builder_addv (builder, (const char **) s->extra_args);
  argv = g_strv_builder_end (builder);
  s->proc = ph_proc_spawn ((const char *const *) argv, NULL, FALSE, error);
  if (s->proc == NULL)
    return FALSE;
  if (!ph_iterate_until (server_ready, s->proc, scaled (PH_SERVER_START_MS)) ||
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

/* ---- pinhole-cli ---- */

void
ph_result_free (PhResult *r)
{
  g_free (r->out);
  g_free (r->err);
  g_free (r->pid);
  g_ptr_array_unref (r->events);
  g_free (r);
}

/**
 * ph_cli_spawn_with:
 * @profile: (nullable): %NULL adds no --profile (@args may hold one, typed where a user would)
 * @options: (nullable): more environment, or the plain-text output
 * Starts `pinhole-cli [--server URL] [--profile PROFILE] --json ARGS…` with PINHOLE_PASSWORD
 * set to @password, or unset when %NULL.
 */
PhProc *
ph_cli_spawn_with (const char         *url,
                   const char         *profile,
                   const char         *password,
                   const PhCliOptions *options,
                   gboolean            with_stdin,
                   const char *const  *args)
{
  const char *program = g_getenv ("PINHOLE_CLI_PROGRAM");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *password_env = password ? g_strconcat ("PINHOLE_PASSWORD=", password, NULL)
                                           : NULL;
  g_autoptr(GPtrArray) env = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  PhProc *p;

  if (program == NULL)
    {
      g_test_fail_printf ("PINHOLE_CLI_PROGRAM is not set (run the tests with meson test)");
      return NULL;
    }
  for (const char **w = wrapper_argv (); *w != NULL; w++)
    g_ptr_array_add (argv, (gpointer) *w);
  g_ptr_array_add (argv, (gpointer) program);
  if (url != NULL)
    {
      g_ptr_array_add (argv, "--server");
      g_ptr_array_add (argv, (gpointer) url);
    }
  if (profile != NULL)
    {
      g_ptr_array_add (argv, "--profile");
      g_ptr_array_add (argv, (gpointer) profile);
    }
  if (options == NULL || !options->text)
    g_ptr_array_add (argv, "--json");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  if (password_env != NULL)
    g_ptr_array_add (env, password_env);
  for (guint i = 0; options != NULL && options->env != NULL && options->env[i] != NULL; i++)
    g_ptr_array_add (env, (gpointer) options->env[i]);
  g_ptr_array_add (env, NULL);
  p = ph_proc_spawn ((const char *const *) argv->pdata, (const char *const *) env->pdata,
                     with_stdin, &error);
  if (p == NULL)
    g_test_fail_printf ("cannot start %s: %s", program, error->message);
  return p;
}

/**
 * ph_cli_run_with:
 * @options: (nullable): as for ph_cli_spawn_with()
 * Runs one pinhole-cli command to its end (killed after PH_CLI_MS).
 * Returns: (transfer full): its exit status, output and PID
 */
PhResult *
ph_cli_run_with (const char         *url,
                 const char         *profile,
                 const char         *password,
                 const PhCliOptions *options,
                 const char         *stdin_text,
                 const char *const  *args)
{
  PhProc *p = ph_cli_spawn_with (url, profile, password, options, stdin_text != NULL, args);
  PhResult *r = g_new0 (PhResult, 1);
  g_autofree char *joined = g_strjoinv (" ", (char **) args);

  r->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  if (p == NULL)
    {
      r->status = -1;
      r->out = g_strdup ("");
      r->err = g_strdup ("not started");
      return r;
    }
  r->pid = g_strdup (ph_proc_get_pid (p));
  if (stdin_text != NULL)
    {
      ph_proc_write (p, stdin_text);
      ph_proc_close_stdin (p);
    }
  if (!ph_proc_wait (p, scaled (PH_CLI_MS)))
    {
      g_test_message ("pinhole-cli %s still runs after %u ms: killing it", joined,
                      scaled (PH_CLI_MS));
      ph_proc_kill (p);
      r->status = -1;
    }
  else
    r->status = p->status;
  {
    GString *out = g_string_new (NULL);

    for (guint i = 0; i < p->lines->len; i++)
      g_string_append_printf (out, "%s\n", (char *) g_ptr_array_index (p->lines, i));
    r->out = g_string_free (out, FALSE);
  }
  r->err = g_strdup (p->err_text->str);
  for (guint i = 0; i < p->events->len; i++)
    g_ptr_array_add (r->events, json_object_ref (g_ptr_array_index (p->events, i)));
  g_test_message ("pinhole-cli %s -> %d%s%s", joined, r->status, *r->err ? ": " : "",
                  r->err);
  ph_proc_free (p);
  return r;
}

guint
ph_result_count (PhResult   *r,
                 const char *event)
{
  guint n = 0;

  for (guint i = 0; i < r->events->len; i++)
    n += g_strcmp0 (member_string (g_ptr_array_index (r->events, i), "event"), event) == 0;
  return n;
}

/* ---- raw WebSocket ---- */

typedef struct
{
  gboolean                 done;
  SoupWebsocketConnection *ws;
  GError                  *error;
} WsConnect;

static void
ws_connect_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  WsConnect *w = user_data;

  w->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &w->error);
  w->done = TRUE;
}

static gboolean
ws_connect_done (gpointer data)
{
  return ((WsConnect *) data)->done;
}

static void
ws_message_cb (SoupWebsocketConnection *conn,
               gint                     type,
               GBytes                  *message,
               PhWs                    *ws)
{
  if (type == SOUP_WEBSOCKET_DATA_TEXT)
    {
      gsize len;
      const char *data = g_bytes_get_data (message, &len);

      g_ptr_array_add (ws->texts, g_strndup (data, len));
    }
  else
    ws->n_binary++;
}

static void
ws_closed_cb (SoupWebsocketConnection *conn,
              PhWs                    *ws)
{
  ws->closed = TRUE;
  ws->close_code = soup_websocket_connection_get_close_code (conn);
}

/* a WebSocket to @url with the "pinhole-1" subprotocol, that records what it receives */
PhWs *
ph_ws_connect (const char *url,
               GError    **error)
{
  char *protocols[] = { "pinhole-1", NULL };
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, url);
  WsConnect w = { FALSE, NULL, NULL };
  PhWs *ws;

  if (msg == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad URL %s", url);
      return NULL;
    }
  soup_session_websocket_connect_async (session, msg, NULL, protocols, G_PRIORITY_DEFAULT, NULL,
                                        ws_connect_cb, &w);
  if (!ph_iterate_until (ws_connect_done, &w, PH_EVENT_MS))
    {
      /* the callback still refers to @w: wait for it after cancelling */
      soup_session_abort (session);
      ph_iterate_until (ws_connect_done, &w, PH_EVENT_MS);
      g_clear_object (&w.ws);
      g_clear_error (&w.error);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no WebSocket to %s in time", url);
      return NULL;
    }
  if (w.ws == NULL)
    {
      g_propagate_error (error, w.error);
      return NULL;
    }
  ws = g_new0 (PhWs, 1);
  ws->session = g_steal_pointer (&session);
  ws->ws = w.ws;
  ws->texts = g_ptr_array_new_with_free_func (g_free);
  soup_websocket_connection_set_max_incoming_payload_size (ws->ws, 1024 * 1024);
  g_signal_connect (ws->ws, "message", G_CALLBACK (ws_message_cb), ws);
  g_signal_connect (ws->ws, "closed", G_CALLBACK (ws_closed_cb), ws);
  return ws;
}

void
ph_ws_send (PhWs       *ws,
            const char *text)
{
  if (soup_websocket_connection_get_state (ws->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text (ws->ws, text);
}

typedef struct
{
  PhWs       *ws;
  guint      *cursor;
  const char *id;
  JsonObject *found;
} ReplyWait;

static gboolean
reply_found (gpointer data)
{
  ReplyWait *w = data;

  for (; *w->cursor < w->ws->texts->len; (*w->cursor)++)
    {
      const char *text = g_ptr_array_index (w->ws->texts, *w->cursor);
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonObject *o;
      const char *type;

      if (!json_parser_load_from_data (parser, text, -1, NULL) ||
          !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        continue;
      o = json_node_get_object (json_parser_get_root (parser));
      type = member_string (o, "type");
      if (g_strcmp0 (type, "result") != 0 && g_strcmp0 (type, "error") != 0)
        continue;
      if (w->id != NULL ? g_strcmp0 (member_string (o, "id"), w->id) == 0
                        : member_string (o, "id") == NULL && g_str_equal (type, "error"))
        {
          (*w->cursor)++;
          w->found = json_object_ref (o);
          return TRUE;
        }
    }
  return w->ws->closed;
}

/**
 * ph_ws_wait_reply:
 * @cursor: (inout): the index of the first received text to look at
 * @id: (nullable): the request id, or %NULL for an error that names no request
 * Returns: (transfer full) (nullable): the "result" or "error" stanza answering @id
 */
JsonObject *
ph_ws_wait_reply (PhWs       *ws,
                  guint      *cursor,
                  const char *id,
                  guint       timeout_ms)
{
  ReplyWait w = { ws, cursor, id, NULL };

  ph_iterate_until (reply_found, &w, timeout_ms);
  return w.found;
}

static gboolean
ws_closed (gpointer data)
{
  return ((PhWs *) data)->closed;
}

gboolean
ph_ws_wait_closed (PhWs  *ws,
                   guint  timeout_ms)
{
  return ph_iterate_until (ws_closed, ws, timeout_ms);
}

void
ph_ws_free (PhWs *ws)
{
  if (ws == NULL)
    return;
  if (!ws->closed)
    {
      soup_websocket_connection_close (ws->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      ph_ws_wait_closed (ws, PH_STOP_GRACE_MS);
    }
  g_signal_handlers_disconnect_by_data (ws->ws, ws);
  g_clear_object (&ws->ws);
  g_clear_object (&ws->session);
  g_ptr_array_unref (ws->texts);
  g_free (ws);
}

/* ---- CLI runs with environment or plain text (test-keys, test-tls, test-contacts,
 * test-paths) ---- */

PhProc *
ph_cli_spawn (const char        *url,
              const char        *profile,
              const char        *password,
              gboolean           with_stdin,
              const char *const *args)
{
  return ph_cli_spawn_with (url, profile, password, NULL, with_stdin, args);
}

PhResult *
ph_cli_run (const char        *url,
            const char        *profile,
            const char        *password,
            const char        *stdin_text,
            const char *const *args)
{
  return ph_cli_run_with (url, profile, password, NULL, stdin_text, args);
}

/* ---- running the programs under a tool (valgrind) ---- */

static GStrv wrapper;          /* put before every program started, or NULL */
static guint time_factor = 1;

/**
 * ph_set_wrapper:
 * @argv: (nullable): a command that runs the program that follows it, e.g. `valgrind --quiet`;
 *   %NULL runs the programs themselves
 * @slowdown: how many times longer the deadlines for starting, running and stopping the
 *   programs become
 * Makes every pinhole-server and pinhole-cli the harness starts from now on run under @argv.
 */
void
ph_set_wrapper (const char *const *argv,
                guint              slowdown)
{
  g_clear_pointer (&wrapper, g_strfreev);
  wrapper = argv ? g_strdupv ((char **) argv) : NULL;
  time_factor = MAX (slowdown, 1);
}

/* Returns: (transfer none): the wrapper's arguments, empty without one */
static const char **
wrapper_argv (void)
{
  static const char *none[] = { NULL };

  return wrapper != NULL ? (const char **) wrapper : none;
}

static guint
scaled (guint ms)
{
  return ms * time_factor;
}
