/* SPDX-License-Identifier: GPL-3.0-or-later
 * natlab-pinhole.c: pinhole-server and pinhole-cli inside NAT lab namespaces (`ip netns exec`
 * execs the program, so the PID the harness stops is the program's own). */
#define G_LOG_DOMAIN "natlab-pinhole"

#include "natlab-pinhole.h"

#include <string.h>

NatlabPinhole *
natlab_pinhole_new (Natlab  *lab,
                    GError **error)
{
  g_autofree char *home = g_dir_make_tmp ("pinhole-natlab-XXXXXX", error);
  NatlabPinhole *ph;

  if (home == NULL)
    return NULL;
  ph = g_new0 (NatlabPinhole, 1);
  ph->lab = lab;
  ph->home = g_steal_pointer (&home);
  ph->host_of = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  ph->procs = g_ptr_array_new_with_free_func ((GDestroyNotify) ph_proc_free);
  return ph;
}

void
natlab_pinhole_free (NatlabPinhole *ph)
{
  if (ph == NULL)
    return;
  g_ptr_array_unref (ph->procs);
  g_clear_pointer (&ph->server, ph_proc_free);
  ph_remove_tree (ph->home);
  g_free (ph->home);
  g_free (ph->url);
  g_strfreev (ph->cli_env);
  g_hash_table_unref (ph->host_of);
  g_free (ph);
}

gboolean
natlab_pinhole_add_user (NatlabPinhole *ph,
                         const char    *site,
                         const char    *user,
                         GError       **error)
{
  /* lab host names are letters and digits */
  g_autofree char *host = g_strconcat (user, "h", NULL);

  if (!natlab_add_host (ph->lab, site, host, error))
    return FALSE;
  g_hash_table_insert (ph->host_of, g_strdup (user), g_steal_pointer (&host));
  return TRUE;
}

const char *
natlab_pinhole_ns (NatlabPinhole *ph,
                   const char    *user)
{
  const char *host = g_hash_table_lookup (ph->host_of, user);

  return host ? natlab_host_ns (ph->lab, host) : NULL;
}

PhProc *
natlab_pinhole_spawn (const char         *ns,
                      const char * const *argv,
                      const char * const *env,
                      gboolean            with_stdin,
                      GError            **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) full = NULL;

  g_strv_builder_add_many (b, "ip", "netns", "exec", ns, NULL);
  g_strv_builder_addv (b, (const char **) argv);
  full = g_strv_builder_end (b);
  return ph_proc_spawn ((const char * const *) full, env, with_stdin, error);
}

static const char *
program (const char *variable,
         GError    **error)
{
  const char *path = g_getenv (variable);

  if (path == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s is not set", variable);
  return path;
}

static gboolean
first_line (gpointer data)
{
  PhProc *p = data;

  return p->lines->len >= 1 || p->out_eof;
}

gboolean
natlab_pinhole_start_server (NatlabPinhole *ph,
                             const char    *port,
                             GError       **error)
{
  const char *server = program ("PINHOLE_SERVER_PROGRAM", error);
  g_autofree char *listen = g_strdup_printf ("%s:%s", natlab_server_address (ph->lab), port);
  g_autofree char *db = g_build_filename (ph->home, "server.db", NULL);

  if (server == NULL)
    return FALSE;
  {
    const char *argv[] = { server, "--listen", listen, "--stun-port",
                           NATLAB_PINHOLE_STUN_PORT, "--db", db, NULL };

    ph->server = natlab_pinhole_spawn (natlab_server_ns (ph->lab), argv, NULL, FALSE, error);
  }
  if (ph->server == NULL)
    return FALSE;
  ph_iterate_until (first_line, ph->server, PH_SERVER_START_MS);
  if (ph->server->lines->len == 0 ||
      strstr (g_ptr_array_index (ph->server->lines, 0), "listening on") == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "pinhole-server did not start: %s",
                   ph->server->err_text->str);
      return FALSE;
    }
  g_free (ph->url);
  ph->url = g_strdup_printf ("ws://%s/pinhole", listen);
  return TRUE;
}

gboolean
natlab_pinhole_stop_server (NatlabPinhole *ph)
{
  gboolean clean = ph->server == NULL || ph_proc_stop (ph->server);

  /* the URL stays: the clients keep naming the server that is gone */
  g_clear_pointer (&ph->server, ph_proc_free);
  return clean;
}

PhProc *
natlab_pinhole_cli_spawn (NatlabPinhole      *ph,
                          const char         *user,
                          NatlabPinholeFlags  flags,
                          const char * const *args,
                          GError            **error)
{
  const char *cli = program ("PINHOLE_CLI_PROGRAM", error);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  g_autofree char *profile = g_build_filename (ph->home, user, NULL);
  g_autofree char *password = g_strconcat ("PINHOLE_PASSWORD=password-of-", user, NULL);
  g_autoptr(GStrvBuilder) env_b = g_strv_builder_new ();
  g_auto(GStrv) env = NULL;
  PhProc *p;

  if (cli == NULL)
    return NULL;
  if (natlab_pinhole_ns (ph, user) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no lab host for %s", user);
      return NULL;
    }
  if (flags & NATLAB_PINHOLE_PASSWORD)
    g_strv_builder_add (env_b, password);
  if (ph->cli_env != NULL)
    g_strv_builder_addv (env_b, (const char **) ph->cli_env);
  env = g_strv_builder_end (env_b);
  if (flags & NATLAB_PINHOLE_PORT_MAPPING)
    g_strv_builder_add_many (b, "env", "-u", "PINHOLE_NO_PORT_MAPPING", NULL);
  g_strv_builder_add_many (b, cli, "--server", ph->url, "--profile", profile, "--json", NULL);
  g_strv_builder_addv (b, (const char **) args);
  argv = g_strv_builder_end (b);
  p = natlab_pinhole_spawn (natlab_pinhole_ns (ph, user), (const char * const *) argv,
                            (const char * const *) env,
                            (flags & NATLAB_PINHOLE_STDIN) != 0, error);
  if (p != NULL)
    {
      g_free (p->name);
      p->name = g_strdup_printf ("%s: pinhole-cli %s", user, args[0]);
    }
  return p;
}

gboolean
natlab_pinhole_cli_run (NatlabPinhole      *ph,
                        const char         *user,
                        NatlabPinholeFlags  flags,
                        const char * const *args,
                        GError            **error)
{
  PhProc *p = natlab_pinhole_cli_spawn (ph, user, flags, args, error);
  gboolean ok;

  if (p == NULL)
    return FALSE;
  ok = ph_proc_wait (p, PH_CLI_MS) && p->status == 0;
  if (!ok)
    {
      g_autofree char *joined = g_strjoinv (" ", (char **) args);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: pinhole-cli %s: status %d%s: %s",
                   user, joined, p->status, p->exited ? "" : " (still running)",
                   p->err_text->str);
    }
  ph_proc_free (p);
  return ok;
}

gboolean
natlab_pinhole_make_pair (NatlabPinhole *ph,
                          const char    *a,
                          const char    *b,
                          GError       **error)
{
  return natlab_pinhole_cli_run (ph, a, NATLAB_PINHOLE_PASSWORD,
                                 (const char *[]) { "register", a, NULL }, error) &&
         natlab_pinhole_cli_run (ph, b, NATLAB_PINHOLE_PASSWORD,
                                 (const char *[]) { "register", b, NULL }, error) &&
         natlab_pinhole_cli_run (ph, a, 0, (const char *[]) { "add", b, NULL }, error) &&
         natlab_pinhole_cli_run (ph, b, 0, (const char *[]) { "accept", a, NULL }, error);
}

PhProc *
natlab_pinhole_listen (NatlabPinhole      *ph,
                       const char         *user,
                       NatlabPinholeFlags  flags,
                       GError            **error)
{
  PhProc *p = natlab_pinhole_cli_spawn (ph, user, flags, (const char *[]) { "listen", NULL },
                                        error);
  guint cursor = 0;

  if (p == NULL)
    return NULL;
  g_ptr_array_add (ph->procs, p);
  if (ph_proc_wait_named (p, &cursor, "online", NULL, NULL, PH_EVENT_MS) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: listen did not come online: %s",
                   user, p->err_text->str);
      return NULL;
    }
  return p;
}

const char *
natlab_pinhole_path_of (JsonObject *event)
{
  if (g_strcmp0 (json_object_get_string_member_with_default (event, "event", ""), "path") != 0)
    return NULL;
  return json_object_get_string_member_with_default (event, "path", "");
}

gboolean
natlab_pinhole_is_direct (JsonObject *event,
                          gpointer    data)
{
  const char *path = natlab_pinhole_path_of (event);

  return path != NULL && strcmp (path, "relay") != 0 && strcmp (path, "none") != 0;
}

gboolean
natlab_pinhole_is_relay (JsonObject *event,
                         gpointer    data)
{
  return g_strcmp0 (natlab_pinhole_path_of (event), "relay") == 0;
}
