/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-model-pushes.c: what a server's pushes can make a client hold stays bounded. A flood
 * of presences for devices the client has no key for makes one roster request in flight, not
 * one per push; sealed pushes that arrive before the roster (or from a changed key) are kept
 * up to PINHOLE_CLIENT_MAX_HELD_OFFLINE, the rest left on the server; receipts are
 * acknowledged PINHOLE_CLIENT_RECEIPTS_PER_ACK at a time. The pushes go straight
 * to the client's stanza handlers, as a hostile server would send them. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-model.h"

#include "pinhole-client-private.h"
#include "pinhole-stanza.h"

#define FLOOD 2000

static gboolean
no_request_pending (gpointer client)
{
  return g_hash_table_size (((PinholeClient *) client)->pending) == 0;
}

static gboolean
roster_settled (gpointer client)
{
  return no_request_pending (client) && !((PinholeClient *) client)->roster_refreshing;
}

static void
test_presence_flood (PhModelFixture *f,
                     gconstpointer   data)
{
  guint most = 0;

  ph_return_if_failed ();
  f->alice = ph_model_client_log_in (f, "alice");
  ph_return_if_failed ();
  g_assert_true (ph_iterate_until (no_request_pending, f->alice, PH_MODEL_WAIT_MS));
  for (guint i = 0; i < FLOOD; i++)
    {
      g_autoptr(JsonObject) push = pinhole_stanza_new ("presence", NULL);
      g_autofree char *device = g_strdup_printf ("made-up-%u", i);

      json_object_set_string_member (push, "user", "bob");
      json_object_set_string_member (push, "device", device);
      json_object_set_string_member (push, "show", "online");
      _pinhole_client_handle_presence (f->alice, push);
      most = MAX (most, g_hash_table_size (f->alice->pending));
    }
  /* one refresh in flight, and one more asked for after it */
  g_assert_cmpuint (most, ==, 1);
  g_assert_true (ph_iterate_until (roster_settled, f->alice, PH_MODEL_WAIT_MS));
  /* and the roster is what the server says */
  g_assert_nonnull (pinhole_client_lookup_contact (f->alice, "bob"));
}

static void
test_offline_flood (PhModelFixture *f,
                    gconstpointer   data)
{
  g_autofree char *dir = ph_model_profile_dir (f, "alice");
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeProfile) profile = pinhole_profile_open (dir, &error);
  g_autoptr(PinholeClient) client = NULL;
  g_autofree char *sealed = g_base64_encode ((const guchar *) "not really sealed", 17);

  g_assert_no_error (error);
  client = pinhole_client_new (profile);
  /* not logged in: no roster yet, so every sealed push is kept for it */
  g_assert_false (client->roster_loaded);
  for (guint i = 0; i < FLOOD; i++)
    {
      g_autoptr(JsonObject) push = pinhole_stanza_new ("offline-message", NULL);
      g_autofree char *id = g_strdup_printf ("m%u", i);

      json_object_set_string_member (push, "message", id);
      json_object_set_string_member (push, "from", "bob");
      json_object_set_string_member (push, "from_device", "phone");
      json_object_set_string_member (push, "sealed", sealed);
      _pinhole_client_handle_offline (client, push, FALSE);
    }
  g_assert_cmpuint (client->held_offline->len, ==, PINHOLE_CLIENT_MAX_HELD_OFFLINE);
}

/* closed, or closing: the server has sent its close frame */
static gboolean
is_disconnected (gpointer client)
{
  SoupWebsocketConnection *ws = ((PinholeClient *) client)->ws;

  return ws == NULL || soup_websocket_connection_get_state (ws) != SOUP_WEBSOCKET_STATE_OPEN;
}

/* receipts come back in a few stanzas, however many arrive at once: one request each would
 * go over the server's request rate, and the server would close the connection */
static void
test_receipt_flood (PhModelFixture *f,
                    gconstpointer   data)
{
  guint most = 0;

  ph_return_if_failed ();
  f->alice = ph_model_client_log_in (f, "alice");
  ph_return_if_failed ();
  for (guint i = 0; i < FLOOD; i++)
    {
      g_autoptr(JsonObject) push = pinhole_stanza_new ("delivered", NULL);
      g_autofree char *id = g_strdup_printf ("m%u", i);

      json_object_set_string_member (push, "message", id);
      json_object_set_string_member (push, "user", "bob");
      json_object_set_string_member (push, "device", "phone");
      _pinhole_client_handle_delivered (f->alice, push);
      most = MAX (most, f->alice->receipt_acks->len);
    }
  g_assert_cmpuint (most, <=, PINHOLE_CLIENT_RECEIPTS_PER_ACK);
  /* the server answers them all (none of them is its), and keeps the connection */
  g_assert_true (ph_iterate_until (no_request_pending, f->alice, PH_MODEL_WAIT_MS));
  g_assert_false (ph_iterate_until (is_disconnected, f->alice, 1500));
  g_assert_cmpuint (f->alice->receipt_acks->len, ==, 0);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
#define ADD(path, fn) \
  g_test_add (path, PhModelFixture, NULL, ph_model_fixture_setup, fn, ph_model_fixture_teardown)
  ADD ("/integration/model-pushes/presence-flood", test_presence_flood);
  ADD ("/integration/model-pushes/offline-flood", test_offline_flood);
  ADD ("/integration/model-pushes/receipt-flood", test_receipt_flood);
#undef ADD
  return g_test_run ();
}
