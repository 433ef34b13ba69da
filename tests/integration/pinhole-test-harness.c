/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-harness.c: the processes of loopback integration tests, and the tool they may
 * run under. Children are started with GSubprocess, stopped by their own PID, and die with
 * the test (PR_SET_PDEATHSIG) even when it is killed by a timeout. The server, the CLI and
 * raw WebSocket clients are in pinhole-test-harness-{server,cli,ws}.c. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-harness.h"
#include "pinhole-test-harness-private.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

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
 * @env: (nullable): NAME=VALUE pairs added to the environment, which loses PINHOLE_* and
 *   DBUS_SESSION_BUS_ADDRESS
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
  /* a one-shot command would use a listen of its profile through the session bus: only a
   * test's own bus (pinhole-test-bus.h), given in @env, may connect them */
  g_subprocess_launcher_unsetenv (launcher, "DBUS_SESSION_BUS_ADDRESS");
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
  if (ph_iterate_until (proc_exited, p, _ph_scaled (PH_STOP_GRACE_MS)))
    {
      ph_proc_wait (p, _ph_scaled (PH_STOP_GRACE_MS));
      return TRUE;
    }
  g_test_message ("%s (pid %s) ignored SIGTERM for %u ms: killing it", p->name,
                  ph_proc_get_pid (p) ? ph_proc_get_pid (p) : "?", _ph_scaled (PH_STOP_GRACE_MS));
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

/* Returns: (nullable): the string member @member of @event, which may be %NULL */
const char *
ph_event_string (JsonObject *event,
                 const char *member)
{
  JsonNode *node = event ? json_object_get_member (event, member) : NULL;

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

  return g_strcmp0 (ph_event_string (event, "event"), m->event) == 0 &&
         (m->member == NULL || g_strcmp0 (ph_event_string (event, m->member), m->value) == 0);
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
    n += g_strcmp0 (ph_event_string (g_ptr_array_index (p->events, i), "event"), event) == 0;
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
const char **
_ph_wrapper_argv (void)
{
  static const char *none[] = { NULL };

  return wrapper != NULL ? (const char **) wrapper : none;
}

guint
_ph_scaled (guint ms)
{
  return ms * time_factor;
}
