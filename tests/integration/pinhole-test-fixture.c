/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-fixture.c: one server, a folder of profiles and the long-running clients of a
 * claim test, with the steps that every such test takes. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-fixture.h"

#include <stdarg.h>

void
ph_fixture_setup_bare (PhFixture     *f,
                       gconstpointer  data)
{
  f->procs = g_ptr_array_new_with_free_func ((GDestroyNotify) ph_proc_free);
  f->home = ph_make_tmp_dir ("pinhole-test-XXXXXX");
}

/* Returns: whether the server runs; the test has failed otherwise */
gboolean
ph_fixture_start_server (PhFixture         *f,
                         const char *const *args)
{
  g_autoptr(GError) error = NULL;

  f->server = ph_server_start_with (args, &error);
  g_assert_no_error (error);
  if (f->server == NULL)
    return FALSE;
  g_test_message ("server %s (database %s)", f->server->url, f->server->db_path);
  return TRUE;
}

void
ph_fixture_setup (PhFixture     *f,
                  gconstpointer  data)
{
  ph_fixture_setup_bare (f, data);
  ph_fixture_start_server (f, NULL);
}

void
ph_fixture_teardown (PhFixture     *f,
                     gconstpointer  data)
{
  g_clear_pointer (&f->procs, g_ptr_array_unref);
  if (f->server != NULL && g_test_failed ())
    {
      g_autofree char *log = ph_server_dup_log (f->server);
      g_test_message ("server log:\n%s", log);
    }
  g_clear_pointer (&f->server, ph_server_free);
  ph_remove_tree (f->home);
  g_clear_pointer (&f->home, g_free);
}

/* Returns: (transfer full): the folder of the profile @profile */
char *
ph_fixture_profile (PhFixture  *f,
                    const char *profile)
{
  return g_build_filename (f->home, profile, NULL);
}

char *
ph_password_of (const char *user)
{
  return g_strconcat ("password-of-", user, NULL);
}

/**
 * ph_fixture_cli_with:
 * @url: (nullable): --server, or %NULL for the profile's
 * Runs `pinhole-cli --profile HOME/PROFILE ARGS…` to its end.
 * Returns: (transfer full)
 */
PhResult *
ph_fixture_cli_with (PhFixture          *f,
                     const char         *profile,
                     const char         *url,
                     const char         *password,
                     const PhCliOptions *options,
                     const char *const  *args)
{
  g_autofree char *dir = ph_fixture_profile (f, profile);

  return ph_cli_run_with (url, dir, password, options, NULL, args);
}

static PhResult *
fixture_cli_valist (PhFixture          *f,
                    const char         *profile,
                    const PhCliOptions *options,
                    va_list             ap)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  const char *arg;

  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (gpointer) arg);
  g_ptr_array_add (args, NULL);
  return ph_fixture_cli_with (f, profile, NULL, NULL, options,
                              (const char *const *) args->pdata);
}

/* runs `pinhole-cli --profile HOME/PROFILE --json ARGS… NULL` against the profile's server */
PhResult *
ph_fixture_cli (PhFixture  *f,
                const char *profile,
                ...)
{
  PhResult *r;
  va_list ap;

  va_start (ap, profile);
  r = fixture_cli_valist (f, profile, NULL, ap);
  va_end (ap);
  return r;
}

/* ph_fixture_cli() with @options (more environment, or the plain-text output) */
PhResult *
ph_fixture_cli_options (PhFixture          *f,
                        const char         *profile,
                        const PhCliOptions *options,
                        ...)
{
  PhResult *r;
  va_list ap;

  va_start (ap, options);
  r = fixture_cli_valist (f, profile, options, ap);
  va_end (ap);
  return r;
}

/**
 * ph_fixture_cli_full:
 * @url: (nullable): --server, or %NULL for the profile's
 * @password: (nullable): given on standard input, or %NULL for none
 * @stdin_text: (nullable): standard input after the password
 * Runs `pinhole-cli --profile HOME/PROFILE --json ARGS… NULL` to its end.
 * Returns: (transfer full)
 */
PhResult *
ph_fixture_cli_full (PhFixture  *f,
                     const char *profile,
                     const char *url,
                     const char *password,
                     const char *stdin_text,
                     ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *dir = ph_fixture_profile (f, profile);
  const char *arg;
  va_list ap;

  va_start (ap, stdin_text);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  return ph_cli_run (url, dir, password, stdin_text, (const char *const *) args->pdata);
}

/* `register` or `login` USER with the profile @profile; Returns: (transfer full) (nullable):
 * the device the profile is */
static char *
bind_account (PhFixture  *f,
              const char *profile,
              const char *verb,
              const char *event_name,
              const char *user)
{
  g_autofree char *password = ph_password_of (user);
  const char *args[] = { verb, user, NULL };
  g_autoptr(PhResult) r = ph_fixture_cli_with (f, profile, f->server->url, password, NULL, args);
  JsonObject *event = ph_result_event (r, event_name);

  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (event);
  if (event == NULL)
    return NULL;
  g_assert_cmpstr (ph_event_string (event, "user"), ==, user);
  return g_strdup (ph_event_string (event, "device"));
}

/* creates the account @user, bound to the profile of the same name */
void
ph_fixture_register (PhFixture  *f,
                     const char *user)
{
  g_free (bind_account (f, user, "register", "registered", user));
}

/* Returns: (transfer full) (nullable): the device @profile becomes, a further one of @user */
char *
ph_fixture_login (PhFixture  *f,
                  const char *profile,
                  const char *user)
{
  return bind_account (f, profile, "login", "logged-in", user);
}

/* asserts that the command @r succeeded and printed an @event whose @member is @value */
void
ph_assert_result_event (PhResult   *r,
                        const char *event,
                        const char *member,
                        const char *value)
{
  JsonObject *o = ph_result_event (r, event);

  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (o);
  if (o != NULL)
    g_assert_cmpstr (ph_event_string (o, member), ==, value);
}

/* `VERB OTHER` (add, accept…) from @user, answered with the relation @expected_relation */
void
ph_fixture_contact_request (PhFixture  *f,
                            const char *user,
                            const char *verb,
                            const char *other,
                            const char *expected_relation)
{
  g_autoptr(PhResult) r = ph_fixture_cli (f, user, verb, other, NULL);

  ph_assert_result_event (r, "contact", "relation", expected_relation);
}

/* @a asks @b, who accepts */
void
ph_fixture_contacts (PhFixture  *f,
                     const char *a,
                     const char *b)
{
  ph_fixture_contact_request (f, a, "add", b, "requested");
  ph_fixture_contact_request (f, b, "accept", a, "mutual");
}

/* starts `pinhole-cli --json ARGS…` for @profile, stopped in teardown; Returns:
 * (transfer none) (nullable) */
PhProc *
ph_fixture_spawn (PhFixture          *f,
                  const char         *profile,
                  const PhCliOptions *options,
                  const char *const  *args)
{
  g_autofree char *dir = ph_fixture_profile (f, profile);
  PhProc *p = ph_cli_spawn_with (NULL, dir, NULL, options, FALSE, args);

  if (p != NULL)
    g_ptr_array_add (f->procs, p);
  return p;
}

/* starts `listen` for @profile, an account of @user, and waits for its "online" event;
 * Returns: (transfer none) (nullable) */
PhProc *
ph_fixture_listen (PhFixture  *f,
                   const char *profile,
                   const char *user)
{
  const char *args[] = { "listen", NULL };
  PhProc *p = ph_fixture_spawn (f, profile, NULL, args);
  guint cursor = 0;

  if (p == NULL)
    return NULL;
  if (ph_proc_wait_named (p, &cursor, "online", "user", user, PH_EVENT_MS) == NULL)
    g_test_fail_printf ("%s's listen did not come online: %s", profile, p->err_text->str);
  return p;
}

/* Returns: (nullable): the device a listen came online as */
const char *
ph_listen_device (PhProc *listen)
{
  guint cursor = 0;
  JsonObject *online;

  if (listen == NULL)
    return NULL;
  online = ph_proc_wait_named (listen, &cursor, "online", NULL, NULL, 0);
  return online ? ph_event_string (online, "device") : NULL;
}

/* Returns: (transfer none) (nullable): the first event named @event of a finished command */
JsonObject *
ph_result_event (PhResult   *r,
                 const char *event)
{
  for (guint i = 0; i < r->events->len; i++)
    {
      JsonObject *o = g_ptr_array_index (r->events, i);

      if (g_strcmp0 (ph_event_string (o, "event"), event) == 0)
        return o;
    }
  return NULL;
}
