/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-transfer-run.c: a timed `pinhole-cli send-file` to a running `listen --accept-files`,
 * both real programs, followed through their --json events; every wait has a deadline and
 * both processes are stopped by their PIDs. */
#include "bench-transfer-run.h"
#include "bench-common.h"
#include "natlab-pinhole.h"

#include <glib/gstdio.h>
#include <string.h>

#define ONLINE_MS    20000
#define EXIT_MS      20000
#define SAMPLE_MS    100

void
bench_send_result_clear (BenchSendResult *r)
{
  g_clear_pointer (&r->paths, g_free);
}

static PhProc *
spawn_cli (const BenchPeers   *peers,
           const char         *user,
           const char * const *args,
           GError            **error)
{
  g_autofree char *profile = g_build_filename (peers->home, user, NULL);
  g_autofree char *password = g_strconcat ("PINHOLE_PASSWORD=bench-password-of-", user, NULL);
  const char *env[] = { password, NULL };
  const char *ns = strcmp (user, "alice") == 0 ? peers->alice_ns : peers->bob_ns;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  PhProc *p;

  g_strv_builder_add_many (b, peers->cli, "--server", peers->url, "--profile", profile,
                           "--json", NULL);
  g_strv_builder_addv (b, (const char **) args);
  argv = g_strv_builder_end (b);
  p = ns ? natlab_pinhole_spawn (ns, (const char * const *) argv, env, FALSE, error)
         : ph_proc_spawn ((const char * const *) argv, env, FALSE, error);
  if (p != NULL)
    {
      g_free (p->name);
      p->name = g_strdup_printf ("%s: pinhole-cli %s", user, args[0]);
    }
  return p;
}

gboolean
bench_peers_cli (const BenchPeers   *peers,
                 const char         *user,
                 const char * const *args,
                 GError            **error)
{
  PhProc *p = spawn_cli (peers, user, args, error);
  gboolean ok;

  if (p == NULL)
    return FALSE;
  ok = ph_proc_wait (p, PH_CLI_MS) && p->status == 0;
  if (!ok)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: status %d%s: %s", p->name,
                 p->status, p->exited ? "" : " (still running)", p->err_text->str);
  ph_proc_free (p);
  return ok;
}

gboolean
bench_peers_make_pair (const BenchPeers *peers,
                       GError          **error)
{
  return bench_peers_cli (peers, "alice", (const char *[]) { "register", "alice", NULL }, error) &&
         bench_peers_cli (peers, "bob", (const char *[]) { "register", "bob", NULL }, error) &&
         bench_peers_cli (peers, "alice", (const char *[]) { "add", "bob", NULL }, error) &&
         bench_peers_cli (peers, "bob", (const char *[]) { "accept", "alice", NULL }, error);
}

typedef struct
{
  int    pid;
  gint64 hwm_kib;
} Sample;

static gboolean
sample_cb (gpointer data)
{
  Sample *s = data;
  gint64 kib = bench_proc_status_kib (s->pid, "VmHWM");

  s->hwm_kib = MAX (s->hwm_kib, kib);
  return G_SOURCE_CONTINUE;
}

static gboolean
wake_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* removes what listen received, and its partial files if it failed */
static void
empty_inbox (const char *inbox)
{
  ph_remove_tree (inbox);
  g_mkdir_with_parents (inbox, 0700);
}

gboolean
bench_peers_send_file (const BenchPeers *peers,
                       const char       *file,
                       const char       *sha256,
                       const char       *inbox,
                       const char       *want_kind,
                       BenchSendResult  *out,
                       GError          **error)
{
  g_autoptr(GString) paths = g_string_new (NULL);
  g_autofree char *last_kind = NULL;
  struct stat st;
  PhProc *bob = NULL, *alice = NULL;
  JsonObject *done = NULL;
  Sample sample = { 0 };
  guint sample_id = 0, wake_id = 0, alice_cursor = 0, bob_cursor = 0;
  gint64 t0, t_done = 0, t_kind = 0, deadline;
  gint64 bytes_kind = -1, last_bytes = 0;
  guint timeout_ms;
  gboolean ok = FALSE;

  memset (out, 0, sizeof *out);
  out->on_kind_mbps = -1;
  if (g_stat (file, &st) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s: no such file", file);
      return FALSE;
    }
  /* 1 s per 100 KB and 60 s more, as the other lab benchmarks */
  timeout_ms = (guint) MIN (st.st_size / 100 + 60000, 1800000);
  bob = spawn_cli (peers, "bob", (const char *[]) { "listen", "--accept-files", inbox, NULL },
                   error);
  if (bob == NULL)
    return FALSE;
  if (ph_proc_wait_named (bob, &bob_cursor, "online", NULL, NULL, ONLINE_MS) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "bob's listen did not come online: "
                   "%s", bob->err_text->str);
      goto out;
    }

  t0 = g_get_monotonic_time ();
  alice = spawn_cli (peers, "alice", (const char *[]) { "send-file", "bob", file, NULL }, error);
  if (alice == NULL)
    goto out;
  sample.pid = (int) g_ascii_strtoll (ph_proc_get_pid (alice), NULL, 10);
  sample_id = g_timeout_add (SAMPLE_MS, sample_cb, &sample);
  wake_id = g_timeout_add (20, wake_cb, NULL);
  deadline = t0 + timeout_ms * G_GINT64_CONSTANT (1000);
  while (done == NULL && g_get_monotonic_time () < deadline)
    {
      gint64 now;

      g_main_context_iteration (NULL, TRUE);
      now = g_get_monotonic_time ();
      for (; alice_cursor < alice->events->len; alice_cursor++)
        {
          JsonObject *e = g_ptr_array_index (alice->events, alice_cursor);
          const char *path = ph_event_string (e, "path");

          if (g_strcmp0 (ph_event_string (e, "event"), "progress") != 0 || path == NULL)
            continue;
          if (out->first_progress_s == 0)
            out->first_progress_s = (now - t0) / 1e6;
          if (g_strcmp0 (path, last_kind) != 0)
            {
              g_string_append_printf (paths, "%s%s", paths->len ? "," : "", path);
              g_free (last_kind);
              last_kind = g_strdup (path);
            }
          last_bytes = json_object_get_int_member_with_default (e, "bytes", last_bytes);
        }
      for (; bob_cursor < bob->events->len; bob_cursor++)
        {
          JsonObject *e = g_ptr_array_index (bob->events, bob_cursor);
          const char *name = ph_event_string (e, "event");

          /* bob's listen reports the path as soon as the session moves; alice's progress
           * names it only with the next verified block */
          if (g_strcmp0 (name, "path") == 0 && bytes_kind < 0 && want_kind != NULL &&
              g_strcmp0 (ph_event_string (e, "path"), want_kind) == 0)
            {
              bytes_kind = last_bytes;
              t_kind = now;
            }
          if (g_strcmp0 (name, "done") == 0)
            {
              done = e;
              t_done = now;
              /* a transfer shorter than SAMPLE_MS has no sample yet: alice still runs until
               * she has seen bob's done, so her peak can be read now */
              sample_cb (&sample);
              break;
            }
          if (g_strcmp0 (name, "failed") == 0 || g_strcmp0 (name, "cancelled") == 0)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "bob: transfer %s: %s", name,
                           ph_event_string (e, "reason"));
              goto out;
            }
        }
      if (alice->exited && done == NULL && alice->status != 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "send-file: status %d: %s",
                       alice->status, alice->err_text->str);
          goto out;
        }
    }
  if (done == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no done from bob in %u ms "
                   "(%" G_GINT64_FORMAT " bytes verified)", timeout_ms, last_bytes);
      goto out;
    }
  if (g_strcmp0 (ph_event_string (done, "sha256"), sha256) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "bob verified %s, the file is %s",
                   ph_event_string (done, "sha256"), sha256);
      goto out;
    }
  out->seconds = (t_done - t0) / 1e6;
  out->mbps = st.st_size / out->seconds / 1e6;
  if (bytes_kind >= 0 && t_done > t_kind)
    {
      out->bytes_before_kind = (guint64) bytes_kind;
      out->on_kind_mbps = (st.st_size - bytes_kind) / ((t_done - t_kind) / 1e6) / 1e6;
    }
  else
    out->bytes_before_kind = (guint64) st.st_size;
  out->paths = g_string_free (g_steal_pointer (&paths), FALSE);
  out->bob_hwm_kib = bench_proc_status_kib ((int) g_ascii_strtoll (ph_proc_get_pid (bob), NULL,
                                                                   10), "VmHWM");
  if (!ph_proc_wait (alice, EXIT_MS) || alice->status != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "send-file: status %d%s after done: %s",
                   alice->status, alice->exited ? "" : " (still running)", alice->err_text->str);
      goto out;
    }
  out->alice_hwm_kib = sample.hwm_kib;
  ok = TRUE;

out:
  g_clear_handle_id (&sample_id, g_source_remove);
  g_clear_handle_id (&wake_id, g_source_remove);
  ph_proc_free (alice);
  ph_proc_free (bob);
  empty_inbox (inbox);
  if (!ok)
    bench_send_result_clear (out);
  return ok;
}
