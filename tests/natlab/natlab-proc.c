/* SPDX-License-Identifier: GPL-3.0-or-later
 * natlab-proc.c: the NAT lab's processes: started with GSubprocess, in a namespace or where
 * the test runs, waited for with a deadline on a private main context, and stopped by PID. */
#define G_LOG_DOMAIN "natlab"

#include "natlab.h"
#include "natlab-private.h"
#include "pinhole-test-util.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

/* ---- waiting with a deadline, on a private main context ---- */

void
_natlab_pause_ms (guint ms)
{
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  gboolean never = FALSE;

  ph_wait_flag_in (ctx, &never, ms);
}

/* ---- processes ---- */

static void
child_setup (gpointer data)
{
  (void) data;
  /* a test that crashes takes its lab processes with it (kept across exec) */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

GSubprocess *
_natlab_spawn_full (const char * const *argv,
                    GSubprocessFlags    flags,
                    const char         *log_path,   /* nullable: stdout and stderr to this file */
                    GError            **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;

  launcher = g_subprocess_launcher_new (flags);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  if (log_path != NULL)
    {
      g_subprocess_launcher_set_stdout_file_path (launcher, log_path);
      g_subprocess_launcher_set_flags (launcher, flags | G_SUBPROCESS_FLAGS_STDERR_MERGE);
    }
  return g_subprocess_launcher_spawnv (launcher, argv, error);
}

static void
wait_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  gboolean *done = data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *done = TRUE;
}

gboolean
_natlab_proc_running (GSubprocess *proc)
{
  return g_subprocess_get_identifier (proc) != NULL;
}

/* waits up to timeout_ms for proc to end; TRUE when it has */
gboolean
_natlab_proc_wait (GSubprocess *proc,
                   guint        timeout_ms)
{
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  gboolean done = FALSE;

  if (!_natlab_proc_running (proc))
    return TRUE;
  g_main_context_push_thread_default (ctx);
  g_subprocess_wait_async (proc, cancellable, wait_done_cb, &done);
  ph_wait_flag_in (ctx, &done, timeout_ms);
  if (!done)
    {
      g_cancellable_cancel (cancellable);
      ph_wait_flag_in (ctx, &done, 1000);
    }
  g_main_context_pop_thread_default (ctx);
  return !_natlab_proc_running (proc);
}

/* SIGTERM, a bounded wait, then SIGKILL */
void
_natlab_proc_stop (GSubprocess *proc)
{
  if (!_natlab_proc_running (proc))
    return;
  g_subprocess_send_signal (proc, SIGTERM);
  if (!_natlab_proc_wait (proc, STOP_GRACE_MS))
    {
      g_subprocess_force_exit (proc);
      _natlab_proc_wait (proc, STOP_GRACE_MS);
    }
}

typedef struct
{
  gboolean done;
  char    *out;
  char    *err;
  GError  *error;
} RunState;

static void
communicate_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  RunState *st = data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &st->out, &st->err,
                                        &st->error);
  st->done = TRUE;
}

/* runs argv (a full command line, no namespace added) to completion within timeout_ms */
gboolean
_natlab_run_argv (const char * const *argv,
                  const char         *stdin_text,
                  guint               timeout_ms,
                  char              **out_stdout,
                  GError            **error)
{
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autofree char *cmdline = g_strjoinv (" ", (char **) argv);
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE;
  RunState st = { 0 };
  gboolean ok = FALSE;

  if (stdin_text != NULL)
    flags |= G_SUBPROCESS_FLAGS_STDIN_PIPE;
  proc = _natlab_spawn_full (argv, flags, NULL, error);
  if (proc == NULL)
    {
      g_prefix_error (error, "%s: ", cmdline);
      return FALSE;
    }

  g_main_context_push_thread_default (ctx);
  g_subprocess_communicate_utf8_async (proc, stdin_text, cancellable, communicate_cb, &st);
  if (!ph_wait_flag_in (ctx, &st.done, timeout_ms))
    {
      g_subprocess_force_exit (proc);
      g_cancellable_cancel (cancellable);
      ph_wait_flag_in (ctx, &st.done, 2000);
      g_main_context_pop_thread_default (ctx);
      _natlab_proc_wait (proc, 2000);
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_TIMEOUT, "%s: still running after %u ms",
                   cmdline, timeout_ms);
      goto out;
    }
  g_main_context_pop_thread_default (ctx);
  _natlab_proc_wait (proc, 2000);

  if (st.error != NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&st.error), "%s: ", cmdline);
      goto out;
    }
  if (!g_subprocess_get_successful (proc))
    {
      g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_FAILED, "%s: exit status %d: %s%s",
                   cmdline,
                   g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : -1,
                   g_strstrip (st.err ? st.err : ""),
                   (st.out && *st.out) ? g_strstrip (st.out) : "");
      goto out;
    }
  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&st.out);
  ok = TRUE;

out:
  g_free (st.out);
  g_free (st.err);
  g_clear_error (&st.error);
  return ok;
}

/* argv with "ip netns exec NS" in front */
GStrv
_natlab_in_ns (const char         *ns,
               const char * const *argv)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  g_strv_builder_add_many (b, "ip", "netns", "exec", ns, NULL);
  g_strv_builder_addv (b, (const char **) argv);
  return g_strv_builder_end (b);
}

/* runs a command given as varargs; ns NULL runs it where the test runs (only `ip -n`,
 * `ip netns` itself) */
gboolean
_natlab_cmd (const char *ns,
             GError    **error,
             ...)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  g_auto(GStrv) full = NULL;
  const char *arg;
  va_list ap;

  va_start (ap, error);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_strv_builder_add (b, arg);
  va_end (ap);
  argv = g_strv_builder_end (b);
  if (ns != NULL)
    full = _natlab_in_ns (ns, (const char * const *) argv);
  return _natlab_run_argv ((const char * const *) (full ? full : argv), NULL, NATLAB_RUN_MS, NULL,
                           error);
}

/* loads an nftables ruleset (text) in namespace ns */
gboolean
_natlab_nft_load (const char *ns,
                  const char *ruleset,
                  GError    **error)
{
  const char *argv[] = { "ip", "netns", "exec", ns, "nft", "-f", "-", NULL };

  return _natlab_run_argv (argv, ruleset, NATLAB_RUN_MS, NULL, error);
}

/* ---- processes in namespaces ---- */

static void
read_line_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  RunState *st = data;

  st->out = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
                                                       NULL, &st->error);
  st->done = TRUE;
}

/* waits for the first line of proc's standard output to start with "ready" */
gboolean
_natlab_wait_ready_line (GSubprocess *proc,
                         guint        timeout_ms,
                         GError     **error)
{
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GDataInputStream) in = NULL;
  RunState st = { 0 };
  gboolean ok;

  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (in), FALSE);
  g_main_context_push_thread_default (ctx);
  g_data_input_stream_read_line_async (in, G_PRIORITY_DEFAULT, cancellable, read_line_cb, &st);
  if (!ph_wait_flag_in (ctx, &st.done, timeout_ms))
    {
      g_cancellable_cancel (cancellable);
      ph_wait_flag_in (ctx, &st.done, 1000);
    }
  g_main_context_pop_thread_default (ctx);

  ok = st.out != NULL && g_str_has_prefix (st.out, "ready");
  if (!ok)
    g_set_error (error, NATLAB_ERROR, NATLAB_ERROR_TIMEOUT, "not ready within %u ms (%s)",
                 timeout_ms,
                 st.error ? st.error->message : st.out ? st.out : "no output");
  g_free (st.out);
  g_clear_error (&st.error);
  return ok;
}

GSubprocess *
natlab_spawnv (Natlab             *lab,
               const char         *ns,
               GSubprocessFlags    flags,
               const char * const *argv,
               GError            **error)
{
  g_auto(GStrv) full = NULL;
  GSubprocess *proc;

  g_return_val_if_fail (lab != NULL, NULL);
  g_return_val_if_fail (ns != NULL, NULL);
  g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);

  full = _natlab_in_ns (ns, argv);
  proc = _natlab_spawn_full ((const char * const *) full, flags, NULL, error);
  if (proc != NULL)
    g_ptr_array_add (lab->procs, g_object_ref (proc));
  return proc;
}

static GStrv
collect_argv (const char *argv0,
              va_list     ap)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  const char *arg;

  g_strv_builder_add (b, argv0);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_strv_builder_add (b, arg);
  return g_strv_builder_end (b);
}

GSubprocess *
natlab_spawn (Natlab           *lab,
              const char       *ns,
              GSubprocessFlags  flags,
              GError          **error,
              const char       *argv0,
              ...)
{
  g_auto(GStrv) argv = NULL;
  va_list ap;

  va_start (ap, argv0);
  argv = collect_argv (argv0, ap);
  va_end (ap);
  return natlab_spawnv (lab, ns, flags, (const char * const *) argv, error);
}

gboolean
natlab_run (Natlab     *lab,
            const char *ns,
            char      **out_stdout,
            GError    **error,
            const char *argv0,
            ...)
{
  g_auto(GStrv) argv = NULL;
  g_auto(GStrv) full = NULL;
  va_list ap;

  g_return_val_if_fail (lab != NULL, FALSE);
  g_return_val_if_fail (ns != NULL, FALSE);

  va_start (ap, argv0);
  argv = collect_argv (argv0, ap);
  va_end (ap);
  full = _natlab_in_ns (ns, (const char * const *) argv);
  return _natlab_run_argv ((const char * const *) full, NULL, NATLAB_RUN_MS, out_stdout, error);
}
