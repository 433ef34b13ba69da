/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-model.c: what the tests of the core model share: a server with alice and bob
 * as mutual contacts, in-process PinholeClients logged in as them, and waits for their
 * asynchronous calls. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-model.h"

char *
ph_model_profile_dir (PhModelFixture *f,
                      const char     *user)
{
  return g_build_filename (f->home, user, NULL);
}

int
ph_model_cli (PhModelFixture *f,
              const char     *user,
              gboolean        with_password,
              const char     *arg1,
              const char     *arg2)
{
  g_autofree char *dir = ph_model_profile_dir (f, user);
  g_autofree char *password = g_strconcat ("password-of-", user, NULL);
  const char *args[] = { arg1, arg2, NULL };
  g_autoptr(PhResult) r = ph_cli_run (f->server->url, dir, with_password ? password : NULL, NULL,
                                      args);

  return r->status;
}

void
ph_model_store_result_cb (GObject      *source,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  ((PhModelWait *) user_data)->result = g_object_ref (result);
}

gboolean
ph_model_has_result (gpointer data)
{
  return ((PhModelWait *) data)->result != NULL;
}

gboolean
ph_model_log_in (PinholeClient *client)
{
  g_autoptr(GError) error = NULL;
  PhModelWait w = { NULL };
  gboolean ok;

  pinhole_client_login_async (client, NULL, NULL, TRUE, NULL, ph_model_store_result_cb, &w);
  if (!ph_iterate_until (ph_model_has_result, &w, PH_MODEL_WAIT_MS))
    return FALSE;
  ok = pinhole_client_login_finish (client, w.result, &error);
  g_assert_no_error (error);
  g_clear_object (&w.result);
  return ok;
}

PinholeClient *
ph_model_client_new (PhModelFixture *f,
                     const char     *user,
                     gboolean        direct_paths)
{
  g_autofree char *dir = ph_model_profile_dir (f, user);
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeProfile) profile = pinhole_profile_open (dir, &error);
  PinholeClient *client;

  g_assert_no_error (error);
  client = pinhole_client_new (profile);
  pinhole_client_set_direct_paths (client, direct_paths);
  g_assert_true (ph_model_log_in (client));
  return client;
}

PinholeClient *
ph_model_client_log_in (PhModelFixture *f,
                        const char     *user)
{
  g_autofree char *dir = ph_model_profile_dir (f, user);
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeProfile) profile = pinhole_profile_open (dir, &error);
  PinholeClient *client;
  PhModelWait w = { NULL };

  g_assert_no_error (error);
  client = pinhole_client_new (profile);
  /* loopback: the relay is the path; the direct path search has its own tests */
  pinhole_client_set_direct_paths (client, FALSE);
  pinhole_client_login_async (client, NULL, NULL, TRUE, NULL, ph_model_store_result_cb, &w);
  g_assert_true (ph_iterate_until (ph_model_has_result, &w, PH_MODEL_WAIT_MS));
  g_assert_true (pinhole_client_login_finish (client, w.result, &error));
  g_assert_no_error (error);
  g_clear_object (&w.result);
  return client;
}

typedef struct
{
  PinholeClient *client;
  const char    *user;
  PinholePresence presence;
} PresenceWait;

static gboolean
presence_is (gpointer data)
{
  PresenceWait *w = data;
  PinholeContact *c = pinhole_client_lookup_contact (w->client, w->user);

  return c != NULL && pinhole_contact_get_presence (c) == w->presence;
}

gboolean
ph_model_wait_presence (PinholeClient   *client,
                        const char      *user,
                        PinholePresence  presence)
{
  PresenceWait w = { client, user, presence };

  return ph_iterate_until (presence_is, &w, PH_MODEL_WAIT_MS);
}

/* ---- fixture ---- */

void
ph_model_fixture_setup (PhModelFixture *f,
                        gconstpointer   data)
{
  g_autoptr(GError) error = NULL;

  f->home = ph_make_tmp_dir ("pinhole-model-XXXXXX");
  f->seen_props = g_ptr_array_new_with_free_func (g_free);
  f->seen_states = g_ptr_array_new_with_free_func (g_free);
  f->seen_received = g_ptr_array_new_with_free_func (g_free);
  /* @data: (nullable): more pinhole-server options */
  f->server = data != NULL ? ph_server_start_with (data, &error) : ph_server_start (&error);
  g_assert_no_error (error);
  if (f->server == NULL)
    return;
  g_assert_cmpint (ph_model_cli (f, "alice", TRUE, "register", "alice"), ==, 0);
  g_assert_cmpint (ph_model_cli (f, "bob", TRUE, "register", "bob"), ==, 0);
  g_assert_cmpint (ph_model_cli (f, "alice", FALSE, "add", "bob"), ==, 0);
  g_assert_cmpint (ph_model_cli (f, "bob", FALSE, "accept", "alice"), ==, 0);
}

void
ph_model_fixture_teardown (PhModelFixture *f,
                           gconstpointer   data)
{
  g_clear_object (&f->alice);
  g_clear_object (&f->bob);
  g_clear_pointer (&f->seen_props, g_ptr_array_unref);
  g_clear_pointer (&f->seen_states, g_ptr_array_unref);
  g_clear_pointer (&f->seen_received, g_ptr_array_unref);
  g_clear_pointer (&f->server, ph_server_free);
  ph_remove_tree (f->home);
  g_clear_pointer (&f->home, g_free);
}

PinholeMessage *
ph_model_send_text (PinholeConversation *conversation,
                    const char          *text,
                    GError             **error)
{
  PhModelWait w = { NULL };
  PinholeMessage *m;

  pinhole_conversation_send_async (conversation, text, NULL, ph_model_store_result_cb, &w);
  if (!ph_iterate_until (ph_model_has_result, &w, PH_MODEL_WAIT_MS))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "the send did not complete");
      return NULL;
    }
  m = pinhole_conversation_send_finish (conversation, w.result, error);
  g_clear_object (&w.result);
  return m;
}

/* Returns: (transfer full): the result @w got, after iterating the main context for it */
GAsyncResult *
ph_model_wait (PhModelWait *w)
{
  if (!ph_iterate_until (ph_model_has_result, w, PH_MODEL_WAIT_MS))
    return NULL;
  return g_steal_pointer (&w->result);
}

/* a "notify" handler that counts into @count */
void
ph_model_count_cb (GObject    *object,
                   GParamSpec *pspec,
                   guint      *count)
{
  (*count)++;
}
