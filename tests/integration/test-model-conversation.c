/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-model-conversation.c: what a contact row shows of a conversation, with two
 * PinholeClients in this process on a real pinhole-server on loopback: `unread` counts the
 * messages received since mark_read (and survives a restart), `last-message` follows the
 * newest, and a message that failed (the server's queue for the offline contact was full)
 * goes again with its id once the cause is gone. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-model.h"

#include "pinhole-error.h"

static gboolean
has_unread (gpointer conversation)
{
  return pinhole_conversation_get_unread (conversation) > 0;
}

static gboolean
is_delivered (gpointer message)
{
  return pinhole_message_get_state (message) == PINHOLE_MESSAGE_STATE_DELIVERED;
}

/* sends @text from alice to bob and waits until bob's conversation has it */
static void
send_to_bob (PhModelFixture *f,
             const char     *text)
{
  g_autoptr(GError) error = NULL;
  PinholeConversation *from_alice = pinhole_client_get_conversation (f->bob, "alice");
  guint before = pinhole_conversation_get_unread (from_alice);
  g_autoptr(PinholeMessage) m = ph_model_send_text (pinhole_client_get_conversation (f->alice,
                                                                                     "bob"),
                                                    text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (m);
  g_assert_true (ph_iterate_until (has_unread, from_alice, PH_MODEL_WAIT_MS));
  g_assert_cmpuint (pinhole_conversation_get_unread (from_alice), ==, before + 1);
}

static void
test_unread (PhModelFixture *f,
             gconstpointer   data)
{
  g_autoptr(GError) error = NULL;
  PinholeConversation *from_alice, *to_bob;
  PinholeMessage *last;
  guint unread_notes = 0, last_notes = 0;

  ph_return_if_failed ();
  f->alice = ph_model_client_log_in (f, "alice");
  f->bob = ph_model_client_log_in (f, "bob");
  g_assert_true (ph_model_wait_presence (f->alice, "bob", PINHOLE_PRESENCE_ONLINE));
  from_alice = pinhole_client_get_conversation (f->bob, "alice");
  to_bob = pinhole_client_get_conversation (f->alice, "bob");
  g_assert_cmpuint (pinhole_conversation_get_unread (from_alice), ==, 0);
  g_assert_null (pinhole_conversation_get_last_message (from_alice));
  g_signal_connect (from_alice, "notify::unread", G_CALLBACK (ph_model_count_cb), &unread_notes);
  g_signal_connect (from_alice, "notify::last-message", G_CALLBACK (ph_model_count_cb), &last_notes);

  send_to_bob (f, "one");
  send_to_bob (f, "two");
  ph_return_if_failed ();
  g_assert_cmpuint (pinhole_conversation_get_unread (from_alice), ==, 2);
  g_assert_cmpuint (unread_notes, ==, 2);
  g_assert_cmpuint (last_notes, ==, 2);
  last = pinhole_conversation_get_last_message (from_alice);
  g_assert_nonnull (last);
  g_assert_cmpstr (pinhole_message_get_text (last), ==, "two");
  g_assert_cmpint (pinhole_message_get_direction (last), ==, PINHOLE_MESSAGE_DIRECTION_IN);
  /* the sender's own messages are never unread; its last one is the preview there too */
  g_assert_cmpuint (pinhole_conversation_get_unread (to_bob), ==, 0);
  g_assert_cmpstr (pinhole_message_get_text (pinhole_conversation_get_last_message (to_bob)),
                   ==, "two");

  g_assert_true (pinhole_conversation_mark_read (from_alice, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pinhole_conversation_get_unread (from_alice), ==, 0);
  g_assert_cmpuint (unread_notes, ==, 3);
  send_to_bob (f, "three");
  ph_return_if_failed ();
  g_assert_cmpuint (pinhole_conversation_get_unread (from_alice), ==, 1);
  g_assert_cmpstr (pinhole_message_get_text (pinhole_conversation_get_last_message (from_alice)),
                   ==, "three");
  g_signal_handlers_disconnect_by_data (from_alice, &unread_notes);
  g_signal_handlers_disconnect_by_data (from_alice, &last_notes);

  /* a restarted client counts from the profile's read mark, and shows the newest */
  g_clear_object (&f->bob);
  f->bob = ph_model_client_log_in (f, "bob");
  from_alice = pinhole_client_get_conversation (f->bob, "alice");
  g_assert_cmpuint (pinhole_conversation_get_unread (from_alice), ==, 1);
  g_assert_cmpstr (pinhole_message_get_text (pinhole_conversation_get_last_message (from_alice)),
                   ==, "three");
  g_assert_true (pinhole_conversation_mark_read (from_alice, &error));
  g_clear_object (&f->bob);
  f->bob = ph_model_client_log_in (f, "bob");
  g_assert_cmpuint (pinhole_conversation_get_unread (pinhole_client_get_conversation (f->bob,
                                                                                      "alice")),
                    ==, 0);
}

static PinholeMessage *
retry (PinholeConversation *conversation,
       PinholeMessage      *failed,
       GError             **error)
{
  PhModelWait w = { NULL };
  g_autoptr(GAsyncResult) result = NULL;

  pinhole_conversation_retry_async (conversation, failed, NULL, ph_model_store_result_cb, &w);
  result = ph_model_wait (&w);
  if (result == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "the retry did not complete");
      return NULL;
    }
  return pinhole_conversation_retry_finish (conversation, result, error);
}

static const char *const one_offline[] = { "--max-offline", "1", NULL };

/* bob is offline and the server holds one message for him at most: the second fails; once he
 * has read the first, the retry of the second reaches him, with its id */
static void
test_retry (PhModelFixture *f,
            gconstpointer   data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeMessage) first = NULL;
  g_autoptr(PinholeMessage) again = NULL;
  g_autoptr(GPtrArray) history = NULL;
  g_autofree char *id = NULL;
  PinholeConversation *to_bob, *from_alice;
  PinholeMessage *failed;

  ph_return_if_failed ();
  f->alice = ph_model_client_log_in (f, "alice");
  to_bob = pinhole_client_get_conversation (f->alice, "bob");
  first = ph_model_send_text (to_bob, "first", &error);
  g_assert_no_error (error);
  g_assert_null (ph_model_send_text (to_bob, "second", &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
  g_clear_error (&error);
  failed = pinhole_conversation_get_last_message (to_bob);
  g_assert_nonnull (failed);
  ph_return_if_failed ();
  id = g_strdup (pinhole_message_get_id (failed));
  g_assert_cmpstr (pinhole_message_get_text (failed), ==, "second");
  g_assert_cmpint (pinhole_message_get_state (failed), ==, PINHOLE_MESSAGE_STATE_FAILED);
  g_assert_nonnull (pinhole_message_get_failure (failed));

  /* only a failed outgoing message goes again */
  g_assert_null (retry (to_bob, first, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED);
  g_clear_error (&error);

  /* bob comes, reads the first from the server, and the queue is free again */
  f->bob = ph_model_client_log_in (f, "bob");
  from_alice = pinhole_client_get_conversation (f->bob, "alice");
  g_assert_true (ph_iterate_until (is_delivered, first, PH_MODEL_WAIT_MS));
  again = retry (to_bob, failed, &error);
  g_assert_no_error (error);
  g_assert_true (again == failed);
  g_assert_cmpint (pinhole_message_get_state (failed), ==, PINHOLE_MESSAGE_STATE_DELIVERED);
  g_assert_null (pinhole_message_get_failure (failed));
  g_assert_cmpstr (pinhole_message_get_id (failed), ==, id);
  g_assert_nonnull (pinhole_conversation_lookup (from_alice, id));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (to_bob)), ==, 2);

  /* the profile has the new state, under the same id */
  history = pinhole_profile_list_messages (pinhole_client_get_profile (f->alice), "bob", 0, 10,
                                           &error);
  g_assert_no_error (error);
  g_assert_cmpuint (history->len, ==, 2);
  {
    PinholeHistoryEntry *e = g_ptr_array_index (history, 1);

    g_assert_cmpstr (e->id, ==, id);
    g_assert_cmpint (e->state, ==, PINHOLE_MESSAGE_STATE_DELIVERED);
  }
  /* and a delivered one does not go again */
  g_clear_object (&again);
  g_assert_null (retry (to_bob, failed, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
#define ADD(path, args, fn) \
  g_test_add (path, PhModelFixture, args, ph_model_fixture_setup, fn, ph_model_fixture_teardown)
  ADD ("/integration/model-conversation/unread", NULL, test_unread);
  ADD ("/integration/model-conversation/retry", one_offline, test_retry);
#undef ADD
  return g_test_run ();
}
