/* SPDX-License-Identifier: GPL-3.0-or-later
 * direct-fixture.c: the lab, its pinhole-server and the steps the direct-path programs share
 * (test-direct-paths, test-direct-stream); a failed step fails the test and says why. */
#define G_LOG_DOMAIN "pinhole-test"

#include "direct-fixture.h"
#include "../pinhole-test-missing.h"

#include <string.h>

void
direct_fixture_setup (DirectFixture *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->lab = natlab_new (&error);
  if (f->lab == NULL)
    {
      if (g_error_matches (error, NATLAB_ERROR, NATLAB_ERROR_UNSUPPORTED))
        {
          g_autofree char *what = g_strdup_printf ("no NAT lab here: %s", error->message);

          ph_test_missing (what);
        }
      else
        g_test_fail_printf ("natlab_new: %s", error->message);
      return;
    }
  f->ph = natlab_pinhole_new (f->lab, &error);
  g_assert_no_error (error);
  if (f->ph == NULL)
    g_clear_pointer (&f->lab, natlab_free);
}

void
direct_fixture_teardown (DirectFixture *f,
                         gconstpointer  data)
{
  if (f->ph != NULL && f->ph->server != NULL)
    {
      ph_proc_stop (f->ph->server);
      if (g_test_failed ())
        g_test_message ("server log:\n%s", f->ph->server->err_text->str);
    }
  g_clear_pointer (&f->ph, natlab_pinhole_free);
  g_clear_pointer (&f->lab, natlab_free);
}

/* fails the test with @error's message when @ok is FALSE; Returns: @ok */
gboolean
direct_check (gboolean    ok,
              GError     *error,
              const char *what)
{
  if (!ok)
    g_test_fail_printf ("%s: %s", what, error ? error->message : "failed");
  return ok;
}

gboolean
direct_add_site (DirectFixture *f,
                 const char    *site,
                 NatlabNat      nat)
{
  g_autoptr(GError) error = NULL;

  return direct_check (natlab_add_site (f->lab, site, nat, &error), error, "natlab_add_site");
}

gboolean
direct_add_user_host (DirectFixture *f,
                      const char    *site,
                      const char    *user)
{
  g_autoptr(GError) error = NULL;

  return direct_check (natlab_pinhole_add_user (f->ph, site, user, &error), error,
                       "natlab_add_host");
}

gboolean
direct_server_start (DirectFixture *f,
                     const char    *port)
{
  g_autoptr(GError) error = NULL;

  if (!direct_check (natlab_pinhole_start_server (f->ph, port, &error), error, "pinhole-server"))
    return FALSE;
  g_test_message ("%s", (char *) g_ptr_array_index (f->ph->server->lines, 0));
  return TRUE;
}

PhProc *
direct_cli_spawnv (DirectFixture      *f,
                   const char         *user,
                   NatlabPinholeFlags  flags,
                   const char * const *args)
{
  g_autoptr(GError) error = NULL;
  PhProc *p = natlab_pinhole_cli_spawn (f->ph, user, flags, args, &error);

  direct_check (p != NULL, error, "pinhole-cli");
  return p;
}

gboolean
direct_make_pair (DirectFixture *f,
                  const char    *a,
                  const char    *b)
{
  g_autoptr(GError) error = NULL;

  return direct_check (natlab_pinhole_make_pair (f->ph, a, b, &error), error, "accounts");
}

PhProc *
direct_listen_start (DirectFixture     *f,
                     const char        *user,
                     NatlabPinholeFlags flags)
{
  g_autoptr(GError) error = NULL;
  PhProc *p = natlab_pinhole_listen (f->ph, user, flags, &error);

  direct_check (p != NULL, error, "listen");
  return p;
}

/* ---- path events ---- */

/* every path event of @p, e.g. "relay udp-punch", consecutive repeats folded */
char *
direct_path_history (PhProc *p)
{
  GString *s = g_string_new (NULL);
  const char *last = NULL;

  for (guint i = 0; i < p->events->len; i++)
    {
      const char *path = path_of (g_ptr_array_index (p->events, i));

      if (path == NULL || g_strcmp0 (path, last) == 0)
        continue;
      g_string_append_printf (s, "%s%s", s->len ? " " : "", path);
      last = path;
    }
  return g_string_free (s, FALSE);
}

void
direct_log_proc (PhProc *p)
{
  g_test_message ("%s: %u lines; standard error:\n%s", p->name, p->lines->len,
                  p->err_text->str);
  for (guint i = 0; i < p->lines->len; i++)
    if (strstr (g_ptr_array_index (p->lines, i), "\"path\"") != NULL ||
        strstr (g_ptr_array_index (p->lines, i), "\"event\":\"message\"") == NULL)
      g_test_message ("  %s", (char *) g_ptr_array_index (p->lines, i));
}

/* `path bob --count N` from alice's host; Returns: (transfer full) (nullable): the ended
 * process, with its path events */
PhProc *
direct_path_run (DirectFixture *f,
                 guint          count)
{
  g_autofree char *count_text = g_strdup_printf ("%u", count);
  PhProc *p = direct_cli_spawnv (f, "alice", 0,
                                 (const char *[]) { "path", "bob", "--count", count_text, NULL });

  if (p == NULL)
    return NULL;
  if (!ph_proc_wait (p, (count + 10) * 1000) || p->status != 0)
    {
      direct_log_proc (p);
      g_test_fail_printf ("pinhole-cli path bob --count %u: status %d%s", count, p->status,
                          p->exited ? "" : " (still running)");
      ph_proc_free (p);
      return NULL;
    }
  return p;
}
