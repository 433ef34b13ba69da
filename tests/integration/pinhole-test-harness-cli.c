/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-harness-cli.c: pinhole-cli commands for integration tests, run to their end or
 * left running, with a profile, a password on standard input and JSON events. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-harness.h"
#include "pinhole-test-harness-private.h"

#include <string.h>

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
  for (const char **w = _ph_wrapper_argv (); *w != NULL; w++)
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
  if (!ph_proc_wait (p, _ph_scaled (PH_CLI_MS)))
    {
      g_test_message ("pinhole-cli %s still runs after %u ms: killing it", joined,
                      _ph_scaled (PH_CLI_MS));
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
    n += g_strcmp0 (ph_event_string (g_ptr_array_index (r->events, i), "event"), event) == 0;
  return n;
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
