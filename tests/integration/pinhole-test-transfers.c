/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-transfers.c: the shared steps of the transfer tests with real programs. */
#include "pinhole-test-transfers.h"
#include "pinhole-test-transfer.h"

PhProc *
ph_transfer_listen (PhFixture  *f,
                    const char *profile,
                    const char *bus_env,
                    const char *accept_dir)
{
  const char *env[] = { "G_MESSAGES_DEBUG=pinhole-transfer", bus_env, NULL };
  PhCliOptions options = { env, FALSE };
  const char *args[] = { "listen", accept_dir != NULL ? "--accept-files" : NULL, accept_dir,
                         NULL };
  PhProc *p = ph_fixture_spawn (f, profile, &options, args);
  guint cursor = 0;

  g_assert_nonnull (p);
  if (ph_proc_wait_named (p, &cursor, "online", NULL, NULL, PH_EVENT_MS) == NULL)
    g_test_fail_printf ("%s's listen did not come online: %s", profile, p->err_text->str);
  return p;
}

gboolean
ph_transfer_progress_past (JsonObject *event,
                           gpointer    data)
{
  return g_strcmp0 (ph_event_string (event, "event"), "progress") == 0 &&
         json_object_get_int_member_with_default (event, "bytes", 0) >= *(gint64 *) data;
}

gboolean
ph_transfer_no_partials (gpointer data)
{
  return ph_test_count_partials (data) == 0;
}
