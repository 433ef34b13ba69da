/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-model-trust.c: verified devices and safety numbers as a view sees them, with two
 * PinholeClients in this process on a real pinhole-server on loopback: both sides show the
 * same safety number for a device key; a verified device stays verified across a restart;
 * when its key changes it is CHANGED and unverified, cannot be verified before it is trusted,
 * and after pinhole_client_trust() it is TRUSTED and still unverified. A message sent while a
 * key waits for trust is held (shown, kept across a restart) and goes out once it is trusted. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-model.h"

#include "pinhole-error.h"

#include <sqlite3.h>
#include <string.h>

/* Returns: (transfer none) (nullable): @user's one device, as @client's model has it */
static PinholeDevice *
only_device (PinholeClient *client,
             const char    *user)
{
  PinholeContact *c = pinhole_client_lookup_contact (client, user);
  g_autoptr(PinholeDevice) d = NULL;

  if (c == NULL || g_list_model_get_n_items (pinhole_contact_get_devices (c)) != 1)
    return NULL;
  d = g_list_model_get_item (pinhole_contact_get_devices (c), 0);
  return d;   /* the contact's list keeps it */
}

static gboolean
is_disconnected (gpointer client)
{
  return !pinhole_client_is_connected (client);
}

/* gives the device @device of bob on the server the key of the profile @dir (what a server
 * that swaps keys would do), with the server stopped */
static void
swap_server_key (PhModelFixture *f,
                 const char     *device,
                 GBytes         *key)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;

  g_assert_true (ph_server_stop (f->server, NULL));
  g_assert_cmpint (sqlite3_open (f->server->db_path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "UPDATE devices SET key = ?1 WHERE user = 'bob' "
                                           "AND device = ?2", -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_blob (stmt, 1, g_bytes_get_data (key, NULL), (int) g_bytes_get_size (key),
                     SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, device, -1, SQLITE_TRANSIENT);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
  g_assert_cmpint (sqlite3_changes (db), ==, 1);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  g_assert_true (ph_server_restart (f->server, NULL));
}

static void
test_verify (PhModelFixture *f,
             gconstpointer   data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeMessage) m = NULL;
  g_autoptr(PinholeClient) swapped = NULL;
  g_autoptr(GBytes) swapped_key = NULL;
  g_autofree char *device = NULL;
  g_autofree char *bob_own = NULL;
  g_autofree char *alice_own = NULL;
  g_autofree char *bob_seen = NULL;
  g_autofree char *alice_seen = NULL;
  g_autofree char *swapped_own = NULL;
  g_autofree char *swapped_seen = NULL;
  PinholeDevice *d;
  PinholeContact *c;
  guint device_notes = 0, contact_notes = 0;

  ph_return_if_failed ();
  f->alice = ph_model_client_log_in (f, "alice");
  f->bob = ph_model_client_log_in (f, "bob");
  g_assert_true (ph_model_wait_presence (f->alice, "bob", PINHOLE_PRESENCE_ONLINE));
  g_assert_true (ph_model_wait_presence (f->bob, "alice", PINHOLE_PRESENCE_ONLINE));
  d = only_device (f->alice, "bob");
  c = pinhole_client_lookup_contact (f->alice, "bob");
  g_assert_nonnull (d);
  ph_return_if_failed ();
  device = g_strdup (pinhole_device_get_name (d));

  /* each side shows of the other's device the number that device shows of itself */
  bob_own = pinhole_client_dup_safety_number (f->bob);
  alice_own = pinhole_client_dup_safety_number (f->alice);
  bob_seen = pinhole_device_dup_safety_number (d);
  alice_seen = pinhole_device_dup_safety_number (only_device (f->bob, "alice"));
  g_assert_cmpstr (bob_seen, ==, bob_own);
  g_assert_cmpstr (alice_seen, ==, alice_own);
  g_assert_cmpstr (alice_own, !=, bob_own);
  g_assert_cmpuint (strlen (bob_own), ==, 12 * 5 + 11);

  /* a first message trusts bob's key on first use: trusted, not verified */
  m = ph_model_send_text (pinhole_client_get_conversation (f->alice, "bob"), "hello", &error);
  g_assert_no_error (error);
  g_assert_cmpint (pinhole_device_get_key_state (d), ==, PINHOLE_KEY_STATE_TRUSTED);
  g_assert_false (pinhole_device_get_verified (d));
  g_assert_false (pinhole_contact_get_verified (c));

  /* alice compared the numbers: the device and, with it, the contact are verified */
  g_signal_connect (d, "notify::verified", G_CALLBACK (ph_model_count_cb), &device_notes);
  g_signal_connect (c, "notify::verified", G_CALLBACK (ph_model_count_cb), &contact_notes);
  g_assert_true (pinhole_client_set_verified (f->alice, "bob", device, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (pinhole_device_get_verified (d));
  g_assert_true (pinhole_contact_get_verified (c));
  g_assert_cmpuint (device_notes, ==, 1);
  g_assert_cmpuint (contact_notes, ==, 1);
  g_assert_false (pinhole_client_set_verified (f->alice, "bob", "no-such-device", TRUE,
                                               &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* a restarted client has it from the profile */
  g_clear_object (&f->alice);
  f->alice = ph_model_client_log_in (f, "alice");
  d = only_device (f->alice, "bob");
  c = pinhole_client_lookup_contact (f->alice, "bob");
  g_assert_nonnull (d);
  ph_return_if_failed ();
  g_assert_true (pinhole_device_get_verified (d));
  g_assert_true (pinhole_contact_get_verified (c));

  /* the server swaps bob's device key for another profile's: the device shows the change */
  g_clear_object (&f->bob);
  {
    g_autofree char *dir = ph_model_profile_dir (f, "bob-swapped");
    g_autoptr(PinholeProfile) profile = pinhole_profile_open (dir, &error);

    g_assert_no_error (error);
    swapped = pinhole_client_new (profile);
    swapped_key = pinhole_identity_dup_public_key (pinhole_profile_get_identity (profile));
  }
  device_notes = contact_notes = 0;
  g_signal_connect (d, "notify::verified", G_CALLBACK (ph_model_count_cb), &device_notes);
  g_signal_connect (c, "notify::verified", G_CALLBACK (ph_model_count_cb), &contact_notes);
  swap_server_key (f, device, swapped_key);
  g_assert_true (ph_iterate_until (is_disconnected, f->alice, PH_MODEL_WAIT_MS));
  g_assert_true (ph_model_log_in (f->alice));
  ph_return_if_failed ();
  g_assert_true (d == only_device (f->alice, "bob"));
  g_assert_cmpint (pinhole_device_get_key_state (d), ==, PINHOLE_KEY_STATE_CHANGED);
  g_assert_false (pinhole_device_get_verified (d));
  g_assert_false (pinhole_contact_get_verified (c));
  g_assert_cmpuint (device_notes, ==, 1);
  g_assert_cmpuint (contact_notes, ==, 1);

  /* the number to compare now is the new key's, and differs from the old one */
  swapped_own = pinhole_client_dup_safety_number (swapped);
  swapped_seen = pinhole_device_dup_safety_number (d);
  g_assert_cmpstr (swapped_seen, ==, swapped_own);
  g_assert_cmpstr (swapped_seen, !=, bob_own);

  /* a changed key is trusted first, then verified */
  g_assert_false (pinhole_client_set_verified (f->alice, "bob", device, TRUE, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_KEY_CHANGED);
  g_clear_error (&error);
  g_assert_false (pinhole_device_get_verified (d));
  g_assert_true (pinhole_client_trust (f->alice, "bob", &error));
  g_assert_no_error (error);
  g_assert_cmpint (pinhole_device_get_key_state (d), ==, PINHOLE_KEY_STATE_TRUSTED);
  g_assert_false (pinhole_device_get_verified (d));
  g_assert_false (pinhole_contact_get_verified (c));
  g_assert_true (pinhole_client_set_verified (f->alice, "bob", device, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (pinhole_device_get_verified (d));
  g_assert_true (pinhole_contact_get_verified (c));
  /* and unverified again on request */
  g_assert_true (pinhole_client_set_verified (f->alice, "bob", device, FALSE, &error));
  g_assert_no_error (error);
  g_assert_false (pinhole_device_get_verified (d));
  g_assert_false (pinhole_contact_get_verified (c));
  g_signal_handlers_disconnect_by_data (d, &device_notes);
  g_signal_handlers_disconnect_by_data (c, &contact_notes);
}

static gboolean
has_two_devices (gpointer client)
{
  PinholeContact *c = pinhole_client_lookup_contact (client, "bob");

  return c != NULL && g_list_model_get_n_items (pinhole_contact_get_devices (c)) == 2;
}

typedef struct
{
  PinholeConversation *conversation;
  const char          *text;
} TextWait;

static gboolean
last_text_is (gpointer data)
{
  TextWait *w = data;
  PinholeMessage *m = pinhole_conversation_get_last_message (w->conversation);

  return m != NULL && g_strcmp0 (pinhole_message_get_text (m), w->text) == 0;
}

static gboolean
is_settled (gpointer message)
{
  PinholeMessageState state = pinhole_message_get_state (message);

  return state == PINHOLE_MESSAGE_STATE_DELIVERED || state == PINHOLE_MESSAGE_STATE_FAILED;
}

static void
test_held (PhModelFixture *f,
           gconstpointer   data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeMessage) first = NULL;
  g_autoptr(PinholeMessage) none = NULL;
  g_autoptr(PinholeClient) bob_new = NULL;
  g_autofree char *held_id = NULL;
  PinholeConversation *to_bob;
  PinholeMessage *held;
  TextWait arrived;

  ph_return_if_failed ();
  f->alice = ph_model_client_log_in (f, "alice");
  f->bob = ph_model_client_log_in (f, "bob");
  g_assert_true (ph_model_wait_presence (f->alice, "bob", PINHOLE_PRESENCE_ONLINE));
  first = ph_model_send_text (pinhole_client_get_conversation (f->alice, "bob"), "first",
                              &error);
  g_assert_no_error (error);
  ph_return_if_failed ();

  /* bob signs in on a new device: its key is not trusted yet, so a message is held */
  {
    g_autofree char *dir = ph_model_profile_dir (f, "bob-new");
    const char *args[] = { "login", "bob", NULL };
    g_autoptr(PhResult) r = ph_cli_run (f->server->url, dir, "password-of-bob", NULL, args);

    g_assert_cmpint (r->status, ==, 0);
  }
  bob_new = ph_model_client_log_in (f, "bob-new");
  g_assert_true (ph_iterate_until (has_two_devices, f->alice, PH_MODEL_WAIT_MS));
  ph_return_if_failed ();
  to_bob = pinhole_client_get_conversation (f->alice, "bob");
  none = ph_model_send_text (to_bob, "while the key is new", &error);
  g_assert_null (none);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_KEY_CHANGED);
  g_clear_error (&error);
  held = pinhole_conversation_get_last_message (to_bob);
  g_assert_nonnull (held);
  ph_return_if_failed ();
  g_assert_cmpstr (pinhole_message_get_text (held), ==, "while the key is new");
  g_assert_cmpint (pinhole_message_get_state (held), ==, PINHOLE_MESSAGE_STATE_HELD);
  held_id = g_strdup (pinhole_message_get_id (held));

  /* it is kept: a restarted client still shows it held, and nothing reached bob */
  g_clear_object (&f->alice);
  f->alice = ph_model_client_log_in (f, "alice");
  g_assert_true (ph_iterate_until (has_two_devices, f->alice, PH_MODEL_WAIT_MS));
  to_bob = pinhole_client_get_conversation (f->alice, "bob");
  held = pinhole_conversation_get_last_message (to_bob);
  g_assert_nonnull (held);
  ph_return_if_failed ();
  g_assert_cmpstr (pinhole_message_get_id (held), ==, held_id);
  g_assert_cmpint (pinhole_message_get_state (held), ==, PINHOLE_MESSAGE_STATE_HELD);
  g_assert_null (pinhole_conversation_get_last_message (
                   pinhole_client_get_conversation (bob_new, "alice")));

  /* trusting the key sends it: delivered, and on bob's new device */
  g_assert_true (pinhole_client_trust (f->alice, "bob", &error));
  g_assert_no_error (error);
  g_assert_true (ph_iterate_until (is_settled, held, PH_MODEL_WAIT_MS));
  g_assert_cmpint (pinhole_message_get_state (held), ==, PINHOLE_MESSAGE_STATE_DELIVERED);
  arrived.conversation = pinhole_client_get_conversation (bob_new, "alice");
  arrived.text = "while the key is new";
  g_assert_true (ph_iterate_until (last_text_is, &arrived, PH_MODEL_WAIT_MS));
  arrived.conversation = pinhole_client_get_conversation (f->bob, "alice");
  g_assert_true (ph_iterate_until (last_text_is, &arrived, PH_MODEL_WAIT_MS));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
#define ADD(path, fn) \
  g_test_add (path, PhModelFixture, NULL, ph_model_fixture_setup, fn, ph_model_fixture_teardown)
  ADD ("/integration/model-trust/verify", test_verify);
  ADD ("/integration/model-trust/held", test_held);
#undef ADD
  return g_test_run ();
}
