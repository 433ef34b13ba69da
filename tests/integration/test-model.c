/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-model.c: the core model as a view sees it, with no CLI code in the way: two
 * PinholeClients in this process on a real pinhole-server on loopback. The contact's presence,
 * path-kind and rtt-ms notify as the session comes up; a conversation gets the message
 * appended and its state goes sent → delivered; a message stored for an offline contact
 * becomes delivered when the contact comes online; a shutdown waits for a message on its way;
 * a device's key state follows trust. */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-model.h"

#include "pinhole-client-private.h"
#include "pinhole-enum-strings.h"
#include "pinhole-stanza.h"

#include <string.h>

#define WAIT_MS PH_MODEL_WAIT_MS

typedef PhModelFixture Fixture;

/* every value a property took: "name=nick" for enums, "name=measured|unknown" for numbers */
static void
trace_cb (GObject    *object,
          GParamSpec *pspec,
          GPtrArray  *trace)
{
  g_auto(GValue) value = G_VALUE_INIT;

  g_value_init (&value, pspec->value_type);
  g_object_get_property (object, pspec->name, &value);
  if (G_VALUE_HOLDS_ENUM (&value))
    g_ptr_array_add (trace,
                     g_strdup_printf ("%s=%s", pspec->name,
                                      pinhole_enum_to_nick (pspec->value_type,
                                                            g_value_get_enum (&value))));
  else if (G_VALUE_HOLDS_DOUBLE (&value))
    g_ptr_array_add (trace, g_strdup_printf ("%s=%s", pspec->name,
                                                     g_value_get_double (&value) >= 0
                                                     ? "measured" : "unknown"));
}

static gboolean
trace_has (GPtrArray  *trace,
           const char *value)
{
  return g_ptr_array_find_with_equal_func (trace, value, g_str_equal, NULL);
}

typedef struct
{
  GPtrArray  *trace;
  const char *value;
} TraceWait;

static gboolean
trace_has_cb (gpointer data)
{
  TraceWait *w = data;

  return trace_has (w->trace, w->value);
}

static gboolean
wait_trace (GPtrArray  *trace,
            const char *value)
{
  TraceWait w = { trace, value };

  return ph_iterate_until (trace_has_cb, &w, WAIT_MS);
}


/* ---- tests ---- */

static void
message_state_cb (PinholeMessage *message,
                  GParamSpec     *pspec,
                  GPtrArray      *states)
{
  g_ptr_array_add (states, g_strdup (pinhole_enum_to_nick (PINHOLE_TYPE_MESSAGE_STATE,
                                                           pinhole_message_get_state (message))));
}

/* the message appended to @conversation follows its states into @states */
static void
follow_appended_cb (GListModel *conversation,
                    guint       position,
                    guint       removed,
                    guint       added,
                    GPtrArray  *states)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(PinholeMessage) m = g_list_model_get_item (conversation, i);

      g_ptr_array_add (states, g_strdup (pinhole_enum_to_nick (PINHOLE_TYPE_MESSAGE_STATE,
                                                               pinhole_message_get_state (m))));
      g_signal_connect (m, "notify::state", G_CALLBACK (message_state_cb), states);
    }
}

static char *
join (GPtrArray *strings)
{
  g_ptr_array_add (strings, NULL);
  g_autofree char *s = g_strjoinv (" ", (char **) strings->pdata);
  g_ptr_array_remove_index (strings, strings->len - 1);
  return g_steal_pointer (&s);
}


static gboolean
conversation_has_one (gpointer data)
{
  return g_list_model_get_n_items (data) >= 1;
}

static void
test_live (Fixture      *f,
           gconstpointer data)
{
  GPtrArray *trace = f->seen_props;
  GPtrArray *states = f->seen_states;
  GPtrArray *received = f->seen_received;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeMessage) m = NULL;
  g_autofree char *seen = NULL;
  PinholeContact *bob;
  PinholeConversation *to_bob, *from_alice;

  ph_return_if_failed ();
  f->alice = ph_model_client_log_in (f, "alice");
  bob = pinhole_client_lookup_contact (f->alice, "bob");
  g_assert_nonnull (bob);
  ph_return_if_failed ();
  g_assert_cmpint (pinhole_contact_get_relation (bob), ==, PINHOLE_RELATION_MUTUAL);
  g_assert_cmpint (pinhole_contact_get_presence (bob), ==, PINHOLE_PRESENCE_OFFLINE);
  g_assert_cmpint (pinhole_contact_get_path_kind (bob), ==, PINHOLE_PATH_KIND_NONE);
  g_signal_connect (bob, "notify", G_CALLBACK (trace_cb), trace);

  /* bob comes online: alice's contact says so */
  f->bob = ph_model_client_log_in (f, "bob");
  g_assert_true (wait_trace (trace, "presence=online"));

  to_bob = pinhole_client_get_conversation (f->alice, "bob");
  from_alice = pinhole_client_get_conversation (f->bob, "alice");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (to_bob)), ==, 0);
  g_signal_connect (to_bob, "items-changed", G_CALLBACK (follow_appended_cb), states);
  g_signal_connect (from_alice, "items-changed", G_CALLBACK (follow_appended_cb), received);

  m = ph_model_send_text (to_bob, "hello over the model", &error);
  g_assert_no_error (error);
  g_assert_nonnull (m);
  ph_return_if_failed ();
  g_assert_cmpstr (pinhole_message_get_text (m), ==, "hello over the model");
  g_assert_cmpint (pinhole_message_get_direction (m), ==, PINHOLE_MESSAGE_DIRECTION_OUT);
  g_assert_cmpint (pinhole_message_get_state (m), ==, PINHOLE_MESSAGE_STATE_DELIVERED);
  seen = join (states);
  g_assert_cmpstr (seen, ==, "queued sent delivered");

  /* the session the message made shows on the contact: on the relay, with a round trip */
  g_assert_true (wait_trace (trace, "path-kind=relay"));
  g_assert_true (wait_trace (trace, "rtt-ms=measured"));
  g_assert_cmpstr (pinhole_contact_get_remote (bob), ==, "server");
  g_assert_cmpint (pinhole_contact_get_relay_reason (bob), ==, PINHOLE_RELAY_REASON_DIRECT_OFF);
  g_assert_cmpstr (pinhole_contact_get_relay_reason_text (bob), ==, "direct paths are off");

  /* and bob's conversation got it, once */
  g_assert_true (ph_iterate_until (conversation_has_one, from_alice, WAIT_MS));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (from_alice)), ==, 1);
  g_clear_pointer (&seen, g_free);
  seen = join (received);
  g_assert_cmpstr (seen, ==, "received");
  {
    g_autoptr(PinholeMessage) in = g_list_model_get_item (G_LIST_MODEL (from_alice), 0);

    g_assert_cmpstr (pinhole_message_get_text (in), ==, "hello over the model");
    g_assert_cmpint (pinhole_message_get_direction (in), ==, PINHOLE_MESSAGE_DIRECTION_IN);
  }

  /* bob leaves: the contact goes offline and the path to none */
  g_clear_object (&f->bob);
  g_assert_true (ph_model_wait_presence (f->alice, "bob", PINHOLE_PRESENCE_OFFLINE));
  g_assert_true (wait_trace (trace, "path-kind=none"));
}

static gboolean
is_delivered (gpointer message)
{
  return pinhole_message_get_state (message) == PINHOLE_MESSAGE_STATE_DELIVERED;
}

static void
count_delivered_cb (PinholeClient *client,
                    const char    *user,
                    const char    *id,
                    guint         *count)
{
  (*count)++;
}

static void
test_stored_then_delivered (Fixture      *f,
                            gconstpointer data)
{
  GPtrArray *states = f->seen_states;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeMessage) m = NULL;
  g_autoptr(JsonObject) again = pinhole_stanza_new ("delivered", NULL);
  g_autofree char *seen = NULL;
  PinholeConversation *to_bob;
  guint delivered = 0;

  ph_return_if_failed ();
  f->alice = ph_model_client_log_in (f, "alice");
  to_bob = pinhole_client_get_conversation (f->alice, "bob");
  g_signal_connect (to_bob, "items-changed", G_CALLBACK (follow_appended_cb), states);
  g_signal_connect (f->alice, "delivered", G_CALLBACK (count_delivered_cb), &delivered);

  /* bob is offline: the message is sealed and stored for him */
  m = ph_model_send_text (to_bob, "for when you are back", &error);
  g_assert_no_error (error);
  g_assert_nonnull (m);
  ph_return_if_failed ();
  g_assert_cmpint (pinhole_message_get_state (m), ==, PINHOLE_MESSAGE_STATE_STORED_FOR_OFFLINE);

  /* he logs in, reads it from the server, and the receipt makes it delivered */
  f->bob = ph_model_client_log_in (f, "bob");
  g_assert_true (ph_iterate_until (is_delivered, m, WAIT_MS));
  seen = join (states);
  g_assert_cmpstr (seen, ==, "queued stored-for-offline delivered");
  g_assert_cmpuint (g_list_model_get_n_items (
                      G_LIST_MODEL (pinhole_client_get_conversation (f->bob, "alice"))), ==, 1);
  g_assert_cmpuint (delivered, ==, 1);

  /* the same receipt again, as a server sends it when the acknowledgement was lost: nothing
   * changes and nothing is told again */
  json_object_set_string_member (again, "message", pinhole_message_get_id (m));
  json_object_set_string_member (again, "user", "bob");
  json_object_set_string_member (again, "device", "another-device");
  _pinhole_client_handle_delivered (f->alice, again);
  g_assert_cmpint (pinhole_message_get_state (m), ==, PINHOLE_MESSAGE_STATE_DELIVERED);
  g_assert_cmpuint (delivered, ==, 1);
  g_clear_pointer (&seen, g_free);
  seen = join (states);
  g_assert_cmpstr (seen, ==, "queued stored-for-offline delivered");
}

/* a client told to shut down right after a send waits for the message to be delivered, so
 * that it is never left "sending" in the profile */
static void
test_shutdown_waits (Fixture      *f,
                     gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  PhModelWait sent = { NULL }, down = { NULL };
  PinholeConversation *to_bob;
  PinholeMessage *m;

  ph_return_if_failed ();
  f->alice = ph_model_client_log_in (f, "alice");
  f->bob = ph_model_client_log_in (f, "bob");
  g_assert_true (ph_model_wait_presence (f->alice, "bob", PINHOLE_PRESENCE_ONLINE));
  ph_return_if_failed ();
  to_bob = pinhole_client_get_conversation (f->alice, "bob");
  pinhole_conversation_send_async (to_bob, "just before I quit", NULL, ph_model_store_result_cb,
                                   &sent);
  pinhole_client_shutdown_async (f->alice, NULL, ph_model_store_result_cb, &down);
  g_assert_true (ph_iterate_until (ph_model_has_result, &down, WAIT_MS));
  g_assert_true (pinhole_client_shutdown_finish (f->alice, down.result, &error));
  g_assert_no_error (error);
  m = pinhole_conversation_get_last_message (to_bob);
  g_assert_nonnull (m);
  ph_return_if_failed ();
  g_assert_cmpint (pinhole_message_get_state (m), ==, PINHOLE_MESSAGE_STATE_DELIVERED);
  g_assert_true (ph_iterate_until (ph_model_has_result, &sent, WAIT_MS));
  g_clear_object (&sent.result);
  g_clear_object (&down.result);
}

/* the history is paged: the newest page at once, older ones on demand */
static void
test_history_pages (Fixture      *f,
                    gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  PinholeConversation *to_bob;
  guint total = 0;

  ph_return_if_failed ();
  f->alice = ph_model_client_log_in (f, "alice");
  for (guint i = 0; i < 60; i++)
    {
      g_autofree char *text = g_strdup_printf ("stored %u", i);
      PinholeConversation *to_bob = pinhole_client_get_conversation (f->alice, "bob");
      g_autoptr(PinholeMessage) m = ph_model_send_text (to_bob, text, &error);

      g_assert_no_error (error);
      ph_return_if_failed ();
    }
  /* a client that starts now sees the newest 50, then the 10 before them */
  g_clear_object (&f->alice);
  f->alice = ph_model_client_log_in (f, "alice");
  to_bob = pinhole_client_get_conversation (f->alice, "bob");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (to_bob)), ==, 50);
  g_assert_true (pinhole_conversation_get_has_older (to_bob));
  {
    g_autoptr(PinholeMessage) first = g_list_model_get_item (G_LIST_MODEL (to_bob), 0);
    g_assert_cmpstr (pinhole_message_get_text (first), ==, "stored 10");
  }
  total = pinhole_conversation_load_older (to_bob, 50, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (total, ==, 10);
  g_assert_false (pinhole_conversation_get_has_older (to_bob));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (to_bob)), ==, 60);
  for (guint i = 0; i < 60; i++)
    {
      g_autoptr(PinholeMessage) m = g_list_model_get_item (G_LIST_MODEL (to_bob), i);
      g_autofree char *want = g_strdup_printf ("stored %u", i);

      g_assert_cmpstr (pinhole_message_get_text (m), ==, want);
      g_assert_cmpint (pinhole_message_get_state (m), ==,
                       PINHOLE_MESSAGE_STATE_STORED_FOR_OFFLINE);
    }
}

/* a later start shows the contacts and their history before, or without, the server */
static void
test_offline_roster (Fixture      *f,
                     gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeProfile) profile = NULL;
  g_autofree char *dir = ph_model_profile_dir (f, "alice");
  PinholeContact *bob, *bob_online;

  ph_return_if_failed ();
  f->alice = ph_model_client_log_in (f, "alice");
  {
    g_autoptr(PinholeMessage) m = ph_model_send_text (pinhole_client_get_conversation (f->alice, "bob"),
                                             "before the restart", &error);
    g_assert_no_error (error);
  }
  g_clear_object (&f->alice);
  g_assert_true (ph_server_stop (f->server, NULL));

  profile = pinhole_profile_open (dir, &error);
  g_assert_no_error (error);
  f->alice = pinhole_client_new (profile);
  g_assert_cmpuint (g_list_model_get_n_items (pinhole_client_get_contacts (f->alice)), ==, 1);
  bob = pinhole_client_lookup_contact (f->alice, "bob");
  g_assert_nonnull (bob);
  ph_return_if_failed ();
  g_assert_cmpint (pinhole_contact_get_relation (bob), ==, PINHOLE_RELATION_MUTUAL);
  g_assert_cmpint (pinhole_contact_get_presence (bob), ==, PINHOLE_PRESENCE_OFFLINE);
  g_assert_cmpuint (g_list_model_get_n_items (pinhole_contact_get_devices (bob)), ==, 1);
  {
    PinholeConversation *to_bob = pinhole_client_get_conversation (f->alice, "bob");
    guint n = g_list_model_get_n_items (G_LIST_MODEL (to_bob));
    g_autoptr(PinholeMessage) last = n > 0 ? g_list_model_get_item (G_LIST_MODEL (to_bob), n - 1)
                                           : NULL;

    g_assert_nonnull (last);
    ph_return_if_failed ();
    g_assert_cmpstr (pinhole_message_get_text (last), ==, "before the restart");
  }

  /* the server's roster takes over the same objects: a view bound to them stays bound */
  g_assert_true (ph_server_restart (f->server, NULL));
  g_assert_true (ph_model_log_in (f->alice));
  bob_online = pinhole_client_lookup_contact (f->alice, "bob");
  g_assert_true (bob_online == bob);
}

typedef struct
{
  PinholeClient *client;
  const char    *user;
} PathWait;

static gboolean
is_direct (gpointer data)
{
  PathWait *w = data;
  PinholeContact *c = pinhole_client_lookup_contact (w->client, w->user);
  PinholePathKind kind = c ? pinhole_contact_get_path_kind (c) : PINHOLE_PATH_KIND_NONE;

  return kind != PINHOLE_PATH_KIND_NONE && kind != PINHOLE_PATH_KIND_RELAY;
}

static gboolean
is_disconnected (gpointer client)
{
  return !pinhole_client_is_connected (client);
}

static PinholeSession *
session_with (PinholeClient *client,
              const char    *user)
{
  PinholeDevice *d = pinhole_contact_get_current_device (pinhole_client_lookup_contact (client,
                                                                                          user));

  return d != NULL ? pinhole_device_get_session (d) : NULL;
}

static void
count_session_cb (GObject    *device,
                  GParamSpec *pspec,
                  guint      *changes)
{
  (*changes)++;
}

/* sends @text and asserts that it arrives in @to_conversation once, live */
static void
assert_live (PinholeConversation *from,
             PinholeConversation *to,
             const char          *text)
{
  g_autoptr(GError) error = NULL;
  guint before = g_list_model_get_n_items (G_LIST_MODEL (to));
  g_autoptr(PinholeMessage) m = ph_model_send_text (from, text, &error);
  guint count = 0;

  g_assert_no_error (error);
  g_assert_nonnull (m);
  if (m == NULL)
    return;
  g_assert_cmpint (pinhole_message_get_state (m), ==, PINHOLE_MESSAGE_STATE_DELIVERED);
  /* the receipt is the peer's acknowledgement: the copy is recorded there already */
  for (guint i = before; i < g_list_model_get_n_items (G_LIST_MODEL (to)); i++)
    {
      g_autoptr(PinholeMessage) in = g_list_model_get_item (G_LIST_MODEL (to), i);

      if (g_strcmp0 (pinhole_message_get_text (in), text) == 0)
        count++;
    }
  g_assert_cmpuint (count, ==, 1);
}

static gint candidates_from_alice;

/* the debug lines of the core that say a session got its relay back, or that bob's side got
 * alice's candidates */

static GLogWriterOutput
count_resumed_writer (GLogLevelFlags   level,
                      const GLogField *fields,
                      gsize            n_fields,
                      gpointer         user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, "MESSAGE") == 0 && fields[i].length < 0 &&
        g_str_has_suffix (fields[i].value, " has the relay again"))
      g_atomic_int_inc ((gint *) user_data);
    else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0 && fields[i].length < 0 &&
             g_str_has_prefix (fields[i].value, "control message \"candidates\" from alice/"))
      g_atomic_int_inc (&candidates_from_alice);
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static gint resumed;

static gboolean
both_resumed (gpointer data)
{
  return g_atomic_int_get (&resumed) >= 2;
}

/* a session on a direct path outlives the server: chat flows both ways while the server is
 * gone, and when it is back the same session carries on, with the relay behind it again */
static void
test_server_loss (Fixture      *f,
                  gconstpointer data)
{
  PathWait to_bob = { NULL, "bob" }, to_alice = { NULL, "alice" };
  PinholeConversation *a_conv, *b_conv;
  PinholeSession *a_session, *b_session;
  PinholeDevice *a_device, *b_device;
  guint a_changes = 0, b_changes = 0;

  ph_return_if_failed ();
  f->alice = ph_model_client_new (f, "alice", TRUE);
  f->bob = ph_model_client_new (f, "bob", TRUE);
  to_bob.client = f->alice;
  to_alice.client = f->bob;
  g_assert_true (ph_model_wait_presence (f->alice, "bob", PINHOLE_PRESENCE_ONLINE));
  a_conv = pinhole_client_get_conversation (f->alice, "bob");
  b_conv = pinhole_client_get_conversation (f->bob, "alice");

  /* a first message opens the session; the search then finds the loopback path */
  assert_live (a_conv, b_conv, "before");
  g_assert_true (ph_iterate_until (is_direct, &to_bob, WAIT_MS));
  g_assert_true (ph_iterate_until (is_direct, &to_alice, WAIT_MS));
  ph_return_if_failed ();
  a_session = session_with (f->alice, "bob");
  b_session = session_with (f->bob, "alice");
  a_device = pinhole_contact_get_current_device (pinhole_client_lookup_contact (f->alice, "bob"));
  b_device = pinhole_contact_get_current_device (pinhole_client_lookup_contact (f->bob, "alice"));
  g_signal_connect (a_device, "notify::session", G_CALLBACK (count_session_cb), &a_changes);
  g_signal_connect (b_device, "notify::session", G_CALLBACK (count_session_cb), &b_changes);

  /* the server goes away */
  g_assert_true (ph_server_stop (f->server, NULL));
  g_assert_true (ph_iterate_until (is_disconnected, f->alice, WAIT_MS));
  g_assert_true (ph_iterate_until (is_disconnected, f->bob, WAIT_MS));
  assert_live (a_conv, b_conv, "alice without the server");
  assert_live (b_conv, a_conv, "bob without the server");
  g_assert_true (is_direct (&to_bob));
  g_assert_cmpint (pinhole_contact_get_presence (pinhole_client_lookup_contact (f->alice, "bob")),
                   ==, PINHOLE_PRESENCE_ONLINE);

  /* it comes back, and both log in again: the same sessions carry on */
  g_assert_true (ph_server_restart (f->server, NULL));
  g_assert_true (ph_model_log_in (f->alice));
  g_assert_true (ph_model_log_in (f->bob));
  /* each side has the relay behind the session again: one opened it, the other took it */
  g_assert_true (ph_iterate_until (both_resumed, NULL, WAIT_MS));
  assert_live (a_conv, b_conv, "alice with the server again");
  assert_live (b_conv, a_conv, "bob with the server again");
  g_assert_true (session_with (f->alice, "bob") == a_session);
  g_assert_true (session_with (f->bob, "alice") == b_session);
  g_assert_cmpuint (a_changes, ==, 0);
  g_assert_cmpuint (b_changes, ==, 0);
  g_signal_handlers_disconnect_by_data (a_device, &a_changes);
  g_signal_handlers_disconnect_by_data (b_device, &b_changes);
}

typedef struct
{
  PinholeClient      *client;
  const char         *user;
  PinholeRelayReason  reason;
} ReasonWait;

static gboolean
reason_is (gpointer data)
{
  ReasonWait *w = data;
  PinholeContact *c = pinhole_client_lookup_contact (w->client, w->user);

  return c != NULL && pinhole_contact_get_path_kind (c) == PINHOLE_PATH_KIND_RELAY &&
         pinhole_contact_get_relay_reason (c) == w->reason;
}

/* the privacy switch on one long-lived session: on, the pair goes to the relay and both sides
 * say why; off again, the same session goes direct again */
static void
test_relay_only_toggle (Fixture      *f,
                        gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  PathWait to_bob = { NULL, "bob" }, to_alice = { NULL, "alice" };
  ReasonWait mine = { NULL, "bob", PINHOLE_RELAY_REASON_RELAY_ONLY };
  ReasonWait theirs = { NULL, "alice", PINHOLE_RELAY_REASON_CONTACT_RELAY_ONLY };
  PinholeSession *session;

  ph_return_if_failed ();
  f->alice = ph_model_client_new (f, "alice", TRUE);
  f->bob = ph_model_client_new (f, "bob", TRUE);
  to_bob.client = mine.client = f->alice;
  to_alice.client = theirs.client = f->bob;
  g_assert_true (ph_model_wait_presence (f->alice, "bob", PINHOLE_PRESENCE_ONLINE));
  assert_live (pinhole_client_get_conversation (f->alice, "bob"),
               pinhole_client_get_conversation (f->bob, "alice"), "hello");
  g_assert_true (ph_iterate_until (is_direct, &to_bob, WAIT_MS));
  g_assert_true (ph_iterate_until (is_direct, &to_alice, WAIT_MS));
  ph_return_if_failed ();
  session = session_with (f->bob, "alice");

  g_assert_true (pinhole_client_set_relay_only (f->alice, "bob", TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (ph_iterate_until (reason_is, &mine, WAIT_MS));
  g_assert_true (ph_iterate_until (reason_is, &theirs, WAIT_MS));

  g_assert_true (pinhole_client_set_relay_only (f->alice, "bob", FALSE, &error));
  g_assert_no_error (error);
  g_assert_true (ph_iterate_until (is_direct, &to_bob, WAIT_MS));
  g_assert_true (ph_iterate_until (is_direct, &to_alice, WAIT_MS));
  g_assert_true (session_with (f->bob, "alice") == session);
}

typedef struct
{
  gint seen;
} CandidatesWait;

static gboolean
more_candidates (gpointer data)
{
  return g_atomic_int_get (&candidates_from_alice) > ((CandidatesWait *) data)->seen;
}

/* "Try direct again": alice searches, bob (direct paths off) never answers, so alice's round
 * waits for ever; asked to retry, she sends her candidates again at once */
static void
test_retry_direct (Fixture      *f,
                   gconstpointer data)
{
  ReasonWait searching = { NULL, "bob", PINHOLE_RELAY_REASON_SEARCHING };
  CandidatesWait w = { 0 };
  PinholeDevice *device;

  ph_return_if_failed ();
  /* bob's device traces each control message it gets (pinhole-device-direct.c) */
  g_setenv ("G_MESSAGES_DEBUG", "pinhole-direct", TRUE);
  f->alice = ph_model_client_new (f, "alice", TRUE);
  f->bob = ph_model_client_new (f, "bob", FALSE);
  searching.client = f->alice;
  g_assert_true (ph_model_wait_presence (f->alice, "bob", PINHOLE_PRESENCE_ONLINE));
  assert_live (pinhole_client_get_conversation (f->alice, "bob"),
               pinhole_client_get_conversation (f->bob, "alice"), "hello");
  g_assert_true (ph_iterate_until (reason_is, &searching, WAIT_MS));
  w.seen = 0;
  g_assert_true (ph_iterate_until (more_candidates, &w, WAIT_MS));
  ph_return_if_failed ();
  /* the first round is out; nothing more comes unasked */
  ph_iterate_for (1500);
  w.seen = g_atomic_int_get (&candidates_from_alice);
  g_assert_false (ph_iterate_until (more_candidates, &w, 1500));

  device = pinhole_contact_get_current_device (pinhole_client_lookup_contact (f->alice, "bob"));
  pinhole_device_retry_direct (device);
  g_assert_true (ph_iterate_until (more_candidates, &w, 2000));
  g_assert_cmpint (pinhole_device_get_relay_reason (device), ==, PINHOLE_RELAY_REASON_SEARCHING);
  g_unsetenv ("G_MESSAGES_DEBUG");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
  /* debug lines go to stderr: stdout is the TAP stream */
  g_log_writer_default_set_use_stderr (TRUE);
  g_log_set_writer_func (count_resumed_writer, &resumed, NULL);
#define ADD(path, fn) \
  g_test_add (path, Fixture, NULL, ph_model_fixture_setup, fn, ph_model_fixture_teardown)
  ADD ("/integration/model/live", test_live);
  ADD ("/integration/model/stored-then-delivered", test_stored_then_delivered);
  ADD ("/integration/model/shutdown-waits", test_shutdown_waits);
  ADD ("/integration/model/history-pages", test_history_pages);
  ADD ("/integration/model/server-loss", test_server_loss);
  ADD ("/integration/model/relay-only-toggle", test_relay_only_toggle);
  ADD ("/integration/model/offline-roster", test_offline_roster);
  ADD ("/integration/model/retry-direct", test_retry_direct);
  return g_test_run ();
}
