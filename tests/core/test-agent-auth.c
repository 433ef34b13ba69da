/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-agent-auth.c: forged connectivity checks and forged answers to a real PinholeAgent on
 * 127.0.0.1 (RFC 8445 §7.2.5 and §7.3, short-term credentials). A scripted peer, an endpoint
 * of its own beside two raw sockets, holds the credentials a real peer would and breaks one
 * rule per test; every set has a genuine case beside its forgeries, so that no test passes
 * because nothing works at all. */
#include "pinhole-agent.h"
#include "pinhole-candidate.h"
#include "pinhole-endpoint.h"
#include "pinhole-test-util.h"

#include <string.h>

#define PEER_UFRAG "peer"
#define PEER_PWD   "peer-password-0123456789"
#define WRONG_PWD  "not-the-password-012345"
#define WRONG_UFRAG "evil"

typedef enum
{
  FORGE_NOTHING,             /* the genuine message: the positive control */
  FORGE_NO_INTEGRITY,
  FORGE_WRONG_PASSWORD,
  FORGE_WRONG_PEER_UFRAG,    /* requests: USERNAME "agent:evil" */
  FORGE_WRONG_UFRAG,         /* requests: USERNAME "evil:peer" */
  FORGE_NO_USERNAME,
  FORGE_WRONG_ADDRESS,       /* UDP responses: from a port the check did not go to */
  FORGE_WRONG_TXID,          /* responses */
  FORGE_NO_MAPPED_ADDRESS,   /* responses */
  FORGE_ERROR_CLASS,         /* responses: an error response, properly signed */
} Forgery;

typedef struct
{
  const char *path;
  Forgery     forgery;
  const char *outcome;       /* responses: the state of the agent's check in its report */
} Case;

typedef struct
{
  const Case         *c;

  /* the agent under test: controlling, with host candidates on 127.0.0.1 */
  PinholeEndpoint    *endpoint;
  PinholeAgent       *agent;
  char               *ufrag;          /* its credentials, from its candidates message */
  char               *pwd;
  guint               n_nominations;
  PinholePath        *path;

  /* the scripted peer */
  PinholeEndpoint    *peer;
  GSocket            *stranger;       /* another UDP port on 127.0.0.1 */
  gboolean            answering;      /* answers the agent's checks, forged as the case says */
  guint               n_answered;
  GIOStream          *stream;         /* the TCP connection between them */
  gboolean            got_answer;     /* to the peer's own request */
  PinholeStunMessage *answer;         /* NULL: none came (the connection closed) */
} Fixture;

#define iterate_until(f, condition, timeout_ms) \
  ph_iterate_until ((PhTestCondition) (condition), (f), (timeout_ms))

/* ---- addresses and messages ---- */

static GSocketAddress *
loopback (guint16 port)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);

  return g_inet_socket_address_new (lo, port);
}

static GSocket *
udp_socket_on_loopback (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) any_port = loopback (0);
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                            G_SOCKET_PROTOCOL_UDP, &error);

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, any_port, FALSE, &error));
  g_assert_no_error (error);
  g_socket_set_blocking (socket, FALSE);
  return g_steal_pointer (&socket);
}

static GBytes *
encode (const PinholeStunMessage *msg,
        const char               *key)
{
  g_autoptr(GError) error = NULL;
  GBytes *bytes = pinhole_stun_message_encode (msg, (const guint8 *) key,
                                               key != NULL ? strlen (key) : 0, TRUE, &error);

  g_assert_no_error (error);
  return bytes;
}

/* a check from the peer to the agent, as RFC 8445 §7.2.2 builds it unless @forgery says */
static GBytes *
peer_request (Fixture *f,
              Forgery  forgery,
              guint8  *out_txid)
{
  g_autoptr(PinholeStunMessage) msg = pinhole_stun_message_new (PINHOLE_STUN_CLASS_REQUEST,
                                                                PINHOLE_STUN_METHOD_BINDING,
                                                                NULL);

  pinhole_stun_message_set_random_transaction_id (msg);
  if (out_txid != NULL)
    memcpy (out_txid, msg->transaction_id, PINHOLE_STUN_TRANSACTION_ID_LEN);
  if (forgery == FORGE_WRONG_PEER_UFRAG)
    msg->username = g_strdup_printf ("%s:%s", f->ufrag, WRONG_UFRAG);
  else if (forgery == FORGE_WRONG_UFRAG)
    msg->username = g_strdup_printf ("%s:%s", WRONG_UFRAG, PEER_UFRAG);
  else if (forgery != FORGE_NO_USERNAME)
    msg->username = g_strdup_printf ("%s:%s", f->ufrag, PEER_UFRAG);
  msg->has_priority = TRUE;
  msg->priority = pinhole_candidate_compute_priority (PINHOLE_CANDIDATE_PRFLX,
                                                      PINHOLE_TRANSPORT_UDP, 65535);
  msg->has_ice_controlled = TRUE;
  msg->ice_controlled = 42;
  return encode (msg, forgery == FORGE_NO_INTEGRITY ? NULL
                      : forgery == FORGE_WRONG_PASSWORD ? WRONG_PWD : f->pwd);
}

/* the peer's answer to the agent's check @request, which came from @from */
static GBytes *
peer_response (const PinholeStunMessage *request,
               GSocketAddress           *from,
               Forgery                   forgery)
{
  g_autoptr(PinholeStunMessage) msg = NULL;
  guint8 txid[PINHOLE_STUN_TRANSACTION_ID_LEN];

  memcpy (txid, request->transaction_id, sizeof txid);
  if (forgery == FORGE_WRONG_TXID)
    txid[0] ^= 0xff;
  msg = pinhole_stun_message_new (forgery == FORGE_ERROR_CLASS ? PINHOLE_STUN_CLASS_ERROR
                                                               : PINHOLE_STUN_CLASS_SUCCESS,
                                  PINHOLE_STUN_METHOD_BINDING, txid);
  if (forgery == FORGE_ERROR_CLASS)
    {
      msg->error_code = 400;
      msg->error_reason = g_strdup ("Bad Request");
    }
  if (forgery != FORGE_NO_MAPPED_ADDRESS)
    msg->xor_mapped_address = G_INET_SOCKET_ADDRESS (g_object_ref (from));
  return encode (msg, forgery == FORGE_NO_INTEGRITY ? NULL
                      : forgery == FORGE_WRONG_PASSWORD ? WRONG_PWD : PEER_PWD);
}

/* a success response keyed with @pwd that tells @mapped where the request came from */
static void
assert_authentic_answer (PinholeStunMessage *answer,
                         const char         *pwd,
                         GSocketAddress     *mapped)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *got = NULL;
  g_autofree char *expected = NULL;

  g_assert_nonnull (answer);
  g_assert_cmpint (answer->klass, ==, PINHOLE_STUN_CLASS_SUCCESS);
  g_assert_true (pinhole_stun_message_verify_integrity (answer, (const guint8 *) pwd,
                                                        strlen (pwd), &error));
  g_assert_no_error (error);
  g_assert_nonnull (answer->xor_mapped_address);
  got = pinhole_socket_address_to_string (G_SOCKET_ADDRESS (answer->xor_mapped_address));
  expected = pinhole_socket_address_to_string (mapped);
  g_assert_cmpstr (got, ==, expected);
}

/* ---- the agent and the scripted peer ---- */

static void
send_control_cb (PinholeAgent *agent,
                 JsonObject   *message,
                 Fixture      *f)
{
  const char *t = json_object_get_string_member (message, "t");

  if (g_strcmp0 (t, "candidates") == 0)
    {
      g_free (f->ufrag);
      g_free (f->pwd);
      f->ufrag = g_strdup (json_object_get_string_member (message, "ufrag"));
      f->pwd = g_strdup (json_object_get_string_member (message, "pwd"));
    }
  else if (g_strcmp0 (t, "nominate") == 0)
    f->n_nominations++;
}

static void
path_ready_cb (PinholeAgent *agent,
               PinholePath  *path,
               Fixture      *f)
{
  g_set_object (&f->path, path);
}

/* the agent's check of the peer: it must be genuine; the answer is what the case forges */
static void
peer_request_cb (PinholeEndpoint    *endpoint,
                 PinholeStunMessage *request,
                 GSocketAddress     *from,
                 GIOStream          *stream,
                 gpointer            user_data)
{
  Fixture *f = user_data;
  g_autofree char *username = g_strdup_printf ("%s:%s", PEER_UFRAG, f->ufrag);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) response = NULL;

  g_assert_cmpstr (request->username, ==, username);
  g_assert_true (pinhole_stun_message_verify_integrity (request, (const guint8 *) PEER_PWD,
                                                        strlen (PEER_PWD), &error));
  g_assert_no_error (error);
  if (!f->answering)
    return;
  f->n_answered++;
  response = peer_response (request, from, f->c->forgery);
  if (stream != NULL)
    {
      /* and the peer's own check, which a taken answer would complete into a path */
      g_autoptr(GBytes) check = peer_request (f, FORGE_NOTHING, NULL);

      g_set_object (&f->stream, stream);
      pinhole_tcp_stun_write (stream, response);
      pinhole_tcp_stun_write (stream, check);
    }
  else if (f->c->forgery == FORGE_WRONG_ADDRESS)
    {
      gsize len;
      const gchar *data = g_bytes_get_data (response, &len);

      g_assert_cmpint (g_socket_send_to (f->stranger, from, data, len, NULL, &error), ==,
                       (gssize) len);
      g_assert_no_error (error);
    }
  else
    {
      g_assert_true (pinhole_endpoint_send_to (endpoint, from, response, &error));
      g_assert_no_error (error);
    }
}

static void
add_local (Fixture         *f,
           PinholeTransport transport)
{
  g_autoptr(GSocketAddress) address = loopback (
    transport == PINHOLE_TRANSPORT_UDP ? pinhole_endpoint_get_udp_port (f->endpoint)
                                       : pinhole_endpoint_get_tcp_port (f->endpoint));
  g_autoptr(PinholeCandidate) c = pinhole_candidate_new (PINHOLE_CANDIDATE_HOST, transport,
                                                         G_INET_SOCKET_ADDRESS (address),
                                                         PINHOLE_PATH_KIND_LAN);

  pinhole_agent_add_local_candidate (f->agent, c);
}

static gboolean
knows_credentials (Fixture *f)
{
  return f->pwd != NULL;
}

/* the peer's credentials for the agent, with the peer's host candidate on @transport, or no
 * candidate when @with_candidate is FALSE */
static void
tell_peer (Fixture         *f,
           gboolean         with_candidate,
           PinholeTransport transport)
{
  g_autoptr(JsonObject) message = json_object_new ();
  JsonArray *list = json_array_new ();
  g_autoptr(GError) error = NULL;

  if (with_candidate)
    {
      g_autoptr(GSocketAddress) address = loopback (
        transport == PINHOLE_TRANSPORT_UDP ? pinhole_endpoint_get_udp_port (f->peer)
                                           : pinhole_endpoint_get_tcp_port (f->peer));
      g_autoptr(PinholeCandidate) c = pinhole_candidate_new (PINHOLE_CANDIDATE_HOST, transport,
                                                             G_INET_SOCKET_ADDRESS (address),
                                                             PINHOLE_PATH_KIND_LAN);

      json_array_add_object_element (list, pinhole_candidate_to_json (c));
    }
  json_object_set_string_member (message, "t", "candidates");
  json_object_set_string_member (message, "ufrag", PEER_UFRAG);
  json_object_set_string_member (message, "pwd", PEER_PWD);
  json_object_set_array_member (message, "candidates", list);
  json_object_set_boolean_member (message, "done", FALSE);
  /* a QUIC fingerprint, or the agent never nominates a UDP pair; the path it then builds
   * never connects, which these tests do not need */
  json_object_set_string_member (message, "quic",
                                 "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                                 "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF");
  g_assert_true (pinhole_agent_handle_control (f->agent, message, &error));
  g_assert_no_error (error);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->c = data;
  f->endpoint = pinhole_endpoint_new (&error);
  g_assert_no_error (error);
  f->agent = pinhole_agent_new (f->endpoint, TRUE);
  g_signal_connect (f->agent, "send-control", G_CALLBACK (send_control_cb), f);
  g_signal_connect (f->agent, "path-ready", G_CALLBACK (path_ready_cb), f);
  add_local (f, PINHOLE_TRANSPORT_UDP);
  add_local (f, PINHOLE_TRANSPORT_TCP);
  g_assert_true (iterate_until (f, knows_credentials, 5000));

  f->peer = pinhole_endpoint_new (&error);
  g_assert_no_error (error);
  pinhole_endpoint_register_ufrag (f->peer, PEER_UFRAG, peer_request_cb, f);
  f->stranger = udp_socket_on_loopback ();
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  pinhole_agent_close (f->agent);
  if (f->path != NULL)
    pinhole_path_close (f->path);
  g_clear_object (&f->path);
  g_clear_object (&f->agent);
  g_clear_object (&f->endpoint);
  if (f->stream != NULL)
    g_io_stream_close (f->stream, NULL, NULL);
  g_clear_object (&f->stream);
  pinhole_endpoint_unregister_ufrag (f->peer, PEER_UFRAG);
  g_clear_object (&f->peer);
  g_clear_object (&f->stranger);
  g_clear_pointer (&f->answer, pinhole_stun_message_free);
  g_free (f->ufrag);
  g_free (f->pwd);
  /* let closes and cancellations finish */
  for (guint i = 0; i < 50 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

static gboolean
got_answer (Fixture *f)
{
  return f->got_answer;
}

/* the state of the agent's check whose report line starts with @prefix ("udp ",
 * "tcp connection "): "checking", "failed", "succeeded"; NULL when there is no such check */
static char *
check_state (Fixture    *f,
             const char *prefix)
{
  g_autoptr(GPtrArray) report = pinhole_agent_dup_report (f->agent);

  for (guint i = 0; i < report->len; i++)
    {
      const char *line = g_ptr_array_index (report, i);
      const char *state = g_strrstr (line, ": ");

      if (g_str_has_prefix (line, prefix) && state != NULL)
        return g_strndup (state + 2, strcspn (state + 2, " "));
    }
  return NULL;
}

/* no path, none nominated, and the agent still looks for one */
static void
assert_no_path (Fixture *f)
{
  g_assert_cmpuint (f->n_nominations, ==, 0);
  g_assert_null (f->path);
  g_assert_true (pinhole_agent_is_searching (f->agent));
}

/* ---- forged checks over UDP ---- */

static void
barrier_answered_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Fixture *f = user_data;
  g_autoptr(GError) error = NULL;

  f->answer = pinhole_endpoint_stun_request_finish (PINHOLE_ENDPOINT (source), result, &error);
  g_assert_no_error (error);
  f->got_answer = TRUE;
}

/* A check from a stranger's port, forged as the case says, then a genuine one from the
 * peer's port: the agent reads its socket in order, so once the genuine check is answered the
 * forged one has been dealt with. A forged check gets no answer and teaches the agent no
 * peer-reflexive candidate; the genuine case gets both. */
static void
test_udp_request (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GSocketAddress) agent = loopback (pinhole_endpoint_get_udp_port (f->endpoint));
  g_autoptr(GSocket) forger = udp_socket_on_loopback ();
  g_autoptr(GSocketAddress) forger_address = g_socket_get_local_address (forger, NULL);
  g_autoptr(GBytes) forged = peer_request (f, f->c->forgery, NULL);
  g_autoptr(GBytes) genuine = NULL;
  g_autoptr(GSocketAddress) peer = loopback (pinhole_endpoint_get_udp_port (f->peer));
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) reply = NULL;
  guint8 txid[PINHOLE_STUN_TRANSACTION_ID_LEN];
  guint8 buffer[2048];
  gssize n;

  tell_peer (f, FALSE, PINHOLE_TRANSPORT_UDP);
  g_assert_cmpint (g_socket_send_to (forger, agent, g_bytes_get_data (forged, NULL),
                                     g_bytes_get_size (forged), NULL, &error), >, 0);
  g_assert_no_error (error);
  genuine = peer_request (f, FORGE_NOTHING, txid);
  pinhole_endpoint_stun_request_async (f->peer, agent, genuine, txid, 100, 5, NULL,
                                       barrier_answered_cb, f);
  g_assert_true (iterate_until (f, got_answer, 5000));
  assert_authentic_answer (f->answer, f->pwd, peer);

  n = g_socket_receive (forger, (gchar *) buffer, sizeof buffer, NULL, &error);
  if (f->c->forgery == FORGE_NOTHING)
    {
      g_assert_no_error (error);
      reply = pinhole_stun_message_decode (buffer, (gsize) n, &error);
      g_assert_no_error (error);
      assert_authentic_answer (reply, f->pwd, forger_address);
      g_assert_cmpuint (pinhole_agent_get_n_remote_candidates (f->agent), ==, 2);
    }
  else
    {
      if (n >= 0)
        g_error ("a forged check got %" G_GSSIZE_FORMAT " bytes back", n);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
      g_assert_cmpuint (pinhole_agent_get_n_remote_candidates (f->agent), ==, 1);
    }
  /* the peer does not answer the agent's own checks here */
  assert_no_path (f);
}

/* A genuine check from the peer's port, answered; then the same bytes from a stranger's port,
 * as someone who captured them would send them on: no answer, no peer-reflexive candidate.
 * The peer's own retransmission (same bytes, same port) is still answered. */
static void
test_udp_request_replayed (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GSocketAddress) agent = loopback (pinhole_endpoint_get_udp_port (f->endpoint));
  g_autoptr(GSocket) forger = udp_socket_on_loopback ();
  g_autoptr(GSocketAddress) peer = loopback (pinhole_endpoint_get_udp_port (f->peer));
  g_autoptr(GBytes) genuine = NULL;
  g_autoptr(GBytes) barrier = NULL;
  g_autoptr(GError) error = NULL;
  guint8 txid[PINHOLE_STUN_TRANSACTION_ID_LEN];
  guint8 barrier_txid[PINHOLE_STUN_TRANSACTION_ID_LEN];
  guint8 buffer[2048];
  gssize n;

  tell_peer (f, FALSE, PINHOLE_TRANSPORT_UDP);
  genuine = peer_request (f, FORGE_NOTHING, txid);
  pinhole_endpoint_stun_request_async (f->peer, agent, genuine, txid, 100, 5, NULL,
                                       barrier_answered_cb, f);
  g_assert_true (iterate_until (f, got_answer, 5000));
  assert_authentic_answer (f->answer, f->pwd, peer);
  g_assert_cmpuint (pinhole_agent_get_n_remote_candidates (f->agent), ==, 1);

  /* replayed from elsewhere, then a barrier from the peer */
  g_assert_cmpint (g_socket_send_to (forger, agent, g_bytes_get_data (genuine, NULL),
                                     g_bytes_get_size (genuine), NULL, &error), >, 0);
  g_assert_no_error (error);
  f->got_answer = FALSE;
  g_clear_pointer (&f->answer, pinhole_stun_message_free);
  barrier = peer_request (f, FORGE_NOTHING, barrier_txid);
  pinhole_endpoint_stun_request_async (f->peer, agent, barrier, barrier_txid, 100, 5, NULL,
                                       barrier_answered_cb, f);
  g_assert_true (iterate_until (f, got_answer, 5000));
  n = g_socket_receive (forger, (gchar *) buffer, sizeof buffer, NULL, &error);
  if (n >= 0)
    g_error ("a replayed check got %" G_GSSIZE_FORMAT " bytes back", n);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_assert_cmpuint (pinhole_agent_get_n_remote_candidates (f->agent), ==, 1);

  /* the peer's retransmission of the first check, from its own port: answered again */
  f->got_answer = FALSE;
  g_clear_pointer (&f->answer, pinhole_stun_message_free);
  pinhole_endpoint_stun_request_async (f->peer, agent, genuine, txid, 100, 5, NULL,
                                       barrier_answered_cb, f);
  g_assert_true (iterate_until (f, got_answer, 5000));
  assert_authentic_answer (f->answer, f->pwd, peer);
  assert_no_path (f);
}

/* ---- forged answers over UDP ---- */

static gboolean
udp_check_settled (Fixture *f)
{
  g_autofree char *state = check_state (f, "udp ");

  /* a check that succeeded is followed by its nomination */
  return f->n_nominations > 0 || g_strcmp0 (state, "failed") == 0 || f->n_answered >= 3;
}

/* The agent checks the peer, which answers every try as the case forges. A forged answer
 * fails the check ("failed") or never reaches it ("checking" through three tries); only the
 * genuine one makes a pair the agent nominates. */
static void
test_udp_response (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *state = NULL;

  f->answering = TRUE;
  tell_peer (f, TRUE, PINHOLE_TRANSPORT_UDP);
  g_assert_true (iterate_until (f, udp_check_settled, 5000));
  state = check_state (f, "udp ");
  g_assert_cmpstr (state, ==, f->c->outcome);
  if (f->c->forgery == FORGE_NOTHING)
    {
      g_assert_cmpuint (f->n_nominations, ==, 1);
      g_assert_false (pinhole_agent_is_searching (f->agent));
    }
  else
    assert_no_path (f);
}

/* ---- forged checks and answers over TCP ---- */

static void
answer_read_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Fixture *f = user_data;
  g_autoptr(GError) error = NULL;

  f->answer = pinhole_tcp_stun_read_finish (G_IO_STREAM (source), result, &error);
  if (f->answer == NULL)
    g_test_message ("no answer: %s", error->message);
  f->got_answer = TRUE;
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Fixture *f = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) request = NULL;

  f->stream = pinhole_endpoint_tcp_connect_finish (PINHOLE_ENDPOINT (source), result, &error);
  g_assert_no_error (error);
  request = peer_request (f, f->c->forgery, NULL);
  pinhole_tcp_stun_write (f->stream, request);
  pinhole_tcp_stun_read_async (f->stream, NULL, answer_read_cb, f);
}

/* the peer connects to the agent's TCP port with a check forged as the case says: the agent
 * closes the connection without an answer, or answers the genuine check */
static void
test_tcp_request (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GSocketAddress) agent = loopback (pinhole_endpoint_get_tcp_port (f->endpoint));
  g_autoptr(GSocketAddress) peer = loopback (pinhole_endpoint_get_tcp_port (f->peer));

  tell_peer (f, FALSE, PINHOLE_TRANSPORT_TCP);
  pinhole_endpoint_tcp_connect_async (f->peer, agent, 2000, NULL, connected_cb, f);
  g_assert_true (iterate_until (f, got_answer, 5000));
  if (f->c->forgery == FORGE_NOTHING)
    assert_authentic_answer (f->answer, f->pwd, peer);
  else
    g_assert_null (f->answer);
  assert_no_path (f);
}

static gboolean
tcp_check_settled (Fixture *f)
{
  g_autofree char *state = check_state (f, "tcp connection ");

  return f->path != NULL || g_strcmp0 (state, "failed") == 0;
}

/* the agent connects to the peer and checks; the peer answers as the case forges, then asks
 * its own genuine question on the same connection. Only the genuine answer makes the
 * connection a path. */
static void
test_tcp_response (Fixture       *f,
                   gconstpointer  data)
{
  f->answering = TRUE;
  tell_peer (f, TRUE, PINHOLE_TRANSPORT_TCP);
  g_assert_true (iterate_until (f, tcp_check_settled, 5000));
  g_assert_cmpuint (f->n_answered, ==, 1);
  if (f->c->forgery == FORGE_NOTHING)
    {
      g_assert_nonnull (f->path);
      g_assert_cmpuint (f->n_nominations, ==, 1);
    }
  else
    {
      g_autofree char *state = check_state (f, "tcp connection ");

      g_assert_cmpstr (state, ==, "failed");
      assert_no_path (f);
    }
}

/* ---- the cases ---- */

static const Case udp_requests[] = {
  { "/agent/auth/udp-request/genuine", FORGE_NOTHING },
  { "/agent/auth/udp-request/no-integrity", FORGE_NO_INTEGRITY },
  { "/agent/auth/udp-request/wrong-password", FORGE_WRONG_PASSWORD },
  { "/agent/auth/udp-request/wrong-peer-ufrag", FORGE_WRONG_PEER_UFRAG },
  { "/agent/auth/udp-request/wrong-ufrag", FORGE_WRONG_UFRAG },
  { "/agent/auth/udp-request/no-username", FORGE_NO_USERNAME },
};

static const Case udp_responses[] = {
  { "/agent/auth/udp-response/genuine", FORGE_NOTHING, "succeeded" },
  { "/agent/auth/udp-response/no-integrity", FORGE_NO_INTEGRITY, "failed" },
  { "/agent/auth/udp-response/wrong-password", FORGE_WRONG_PASSWORD, "failed" },
  { "/agent/auth/udp-response/no-mapped-address", FORGE_NO_MAPPED_ADDRESS, "failed" },
  { "/agent/auth/udp-response/error-class", FORGE_ERROR_CLASS, "failed" },
  /* dropped before they reach the check, which goes on trying */
  { "/agent/auth/udp-response/wrong-address", FORGE_WRONG_ADDRESS, "checking" },
  { "/agent/auth/udp-response/wrong-txid", FORGE_WRONG_TXID, "checking" },
};

static const Case udp_replays[] = {
  { "/agent/auth/udp-request/replayed", FORGE_NOTHING },
};

static const Case tcp_requests[] = {
  { "/agent/auth/tcp-request/genuine", FORGE_NOTHING },
  { "/agent/auth/tcp-request/no-integrity", FORGE_NO_INTEGRITY },
  { "/agent/auth/tcp-request/wrong-password", FORGE_WRONG_PASSWORD },
  { "/agent/auth/tcp-request/wrong-peer-ufrag", FORGE_WRONG_PEER_UFRAG },
};

static const Case tcp_responses[] = {
  { "/agent/auth/tcp-response/genuine", FORGE_NOTHING },
  { "/agent/auth/tcp-response/no-integrity", FORGE_NO_INTEGRITY },
  { "/agent/auth/tcp-response/wrong-password", FORGE_WRONG_PASSWORD },
  { "/agent/auth/tcp-response/wrong-txid", FORGE_WRONG_TXID },
};

static void
add_cases (const Case *cases,
           gsize       n,
           void      (*func) (Fixture *, gconstpointer))
{
  for (gsize i = 0; i < n; i++)
    g_test_add (cases[i].path, Fixture, &cases[i], fixture_setup, func, fixture_teardown);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  add_cases (udp_requests, G_N_ELEMENTS (udp_requests), test_udp_request);
  add_cases (udp_replays, G_N_ELEMENTS (udp_replays), test_udp_request_replayed);
  add_cases (udp_responses, G_N_ELEMENTS (udp_responses), test_udp_response);
  add_cases (tcp_requests, G_N_ELEMENTS (tcp_requests), test_tcp_request);
  add_cases (tcp_responses, G_N_ELEMENTS (tcp_responses), test_tcp_response);

  return g_test_run ();
}
