/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench-sshd.c: a private sshd for the scp baseline. It never touches the machine's own
 * sshd: its own port, keys, configuration (no PAM, keys only, the bench's authorized_keys)
 * and PID file in a temporary folder, run in the foreground (-D) and stopped by its PID. */
#include "bench-sshd.h"
#include "natlab-pinhole.h"

#include <glib/gstdio.h>
#include <string.h>

#define SSHD_PROGRAM "/usr/sbin/sshd"
#define WAIT_TRIES   20

struct _BenchSshd
{
  char   *dir;       /* owned, removed by bench_sshd_stop */
  char   *client_key;
  char   *probe;     /* a small file for bench_sshd_wait */
  char   *cipher;
  PhProc *proc;
};

static PhProc *
spawn_in (const char         *ns,
          const char * const *argv,
          GError            **error)
{
  return ns ? natlab_pinhole_spawn (ns, argv, NULL, FALSE, error)
            : ph_proc_spawn (argv, NULL, FALSE, error);
}

static gboolean
keygen (const char *path,
        GError    **error)
{
  const char *argv[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path, NULL };
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                     &status, error))
    return FALSE;
  return g_spawn_check_wait_status (status, error);
}

BenchSshd *
bench_sshd_start (const char  *ns,
                  const char  *address,
                  const char  *port,
                  GError     **error)
{
  BenchSshd *s = g_new0 (BenchSshd, 1);
  g_autofree char *host_key = NULL, *config = NULL, *text = NULL, *pub = NULL;
  g_autofree char *pub_text = NULL, *authorized = NULL;
  const char *argv[] = { SSHD_PROGRAM, "-D", "-e", "-f", NULL, NULL };

  if (!g_file_test (SSHD_PROGRAM, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "%s missing: install openssh-server (build-aux/install-deps.sh)",
                   SSHD_PROGRAM);
      g_free (s);
      return NULL;
    }
  s->dir = g_dir_make_tmp ("pinhole-bench-sshd-XXXXXX", error);
  if (s->dir == NULL)
    {
      g_free (s);
      return NULL;
    }
  s->cipher = g_strdup ("?");
  host_key = g_build_filename (s->dir, "host_key", NULL);
  s->client_key = g_build_filename (s->dir, "client_key", NULL);
  pub = g_strconcat (s->client_key, ".pub", NULL);
  authorized = g_build_filename (s->dir, "authorized_keys", NULL);
  config = g_build_filename (s->dir, "sshd_config", NULL);
  s->probe = g_build_filename (s->dir, "probe", NULL);
  text = g_strdup_printf ("Port %s\nListenAddress %s\nHostKey %s\nPidFile %s/sshd.pid\n"
                          "AuthorizedKeysFile %s\nPasswordAuthentication no\n"
                          "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
                          "PermitRootLogin prohibit-password\nAllowUsers root\n"
                          "Subsystem sftp internal-sftp\n", port, address, host_key, s->dir,
                          authorized);
  /* sshd refuses to start without its privilege separation folder (Debian's is made by the
   * service unit, which this sshd does not use) */
  if (!keygen (host_key, error) || !keygen (s->client_key, error) ||
      !g_file_get_contents (pub, &pub_text, NULL, error) ||
      !g_file_set_contents (authorized, pub_text, -1, error) ||
      !g_file_set_contents (config, text, -1, error) ||
      !g_file_set_contents (s->probe, "probe\n", -1, error) ||
      g_mkdir_with_parents ("/run/sshd", 0755) != 0)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot make /run/sshd");
      bench_sshd_stop (s);
      return NULL;
    }
  argv[4] = config;
  s->proc = spawn_in (ns, argv, error);
  if (s->proc == NULL)
    {
      bench_sshd_stop (s);
      return NULL;
    }
  return s;
}

/* the cipher of "debug1: kex: server->client cipher: NAME MAC: ..." */
static void
note_cipher (BenchSshd *s,
             PhProc    *p)
{
  const char *at = strstr (p->err_text->str, "server->client cipher: ");
  g_autofree char *word = NULL;

  if (at == NULL)
    return;
  at += strlen ("server->client cipher: ");
  word = g_strndup (at, strcspn (at, " \n"));
  g_free (s->cipher);
  s->cipher = g_steal_pointer (&word);
}

gboolean
bench_sshd_scp (BenchSshd  *s,
                const char *ns,
                const char *address,
                const char *port,
                const char *file,
                const char *dest,
                double     *out_seconds,
                GError    **error)
{
  g_autofree char *target = g_strdup_printf ("root@%s:%s", address, dest);
  /* -F /dev/null: no user or system ssh_config; -v only for the cipher line */
  const char *argv[] = { "scp", "-q", "-v", "-F", "/dev/null", "-i", s->client_key, "-P", port,
                         "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                         "-o", "UserKnownHostsFile=/dev/null", file, target, NULL };
  struct stat st;
  guint timeout_ms = 60000;
  gint64 t0;
  PhProc *p;
  gboolean ok;

  /* 1 s per 100 KB and 60 s more */
  if (g_stat (file, &st) == 0)
    timeout_ms = (guint) MIN (st.st_size / 100 + 60000, 1800000);
  t0 = g_get_monotonic_time ();
  p = spawn_in (ns, argv, error);
  if (p == NULL)
    return FALSE;
  ok = ph_proc_wait (p, timeout_ms) && p->status == 0;
  *out_seconds = (g_get_monotonic_time () - t0) / 1e6;
  if (ok)
    note_cipher (s, p);
  else
    {
      /* the end of ssh -v's output says what went wrong */
      gsize len = p->err_text->len;

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "scp to %s:%s: status %d%s: …%s",
                   address, port, p->status, p->exited ? "" : " (still running)",
                   p->err_text->str + (len > 300 ? len - 300 : 0));
    }
  ph_proc_free (p);
  return ok;
}

gboolean
bench_sshd_wait (BenchSshd  *s,
                 const char *ns,
                 const char *address,
                 const char *port,
                 GError    **error)
{
  g_autofree char *dest = g_build_filename (s->dir, "probe-copy", NULL);

  for (guint i = 0; ; i++)
    {
      g_autoptr(GError) local = NULL;
      double seconds;

      if (bench_sshd_scp (s, ns, address, port, s->probe, dest, &seconds, &local))
        return TRUE;
      if (i == WAIT_TRIES || s->proc->exited)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local), "sshd never answered "
                                      "(%s): ", s->proc->err_text->str);
          return FALSE;
        }
      g_usleep (250 * 1000);
    }
}

const char *
bench_sshd_cipher (BenchSshd *s)
{
  return s->cipher;
}

void
bench_sshd_stop (BenchSshd *s)
{
  if (s == NULL)
    return;
  g_clear_pointer (&s->proc, ph_proc_free);
  if (s->dir != NULL)
    ph_remove_tree (s->dir);
  g_free (s->dir);
  g_free (s->client_key);
  g_free (s->probe);
  g_free (s->cipher);
  g_free (s);
}
