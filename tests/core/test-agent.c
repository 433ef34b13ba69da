/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-agent.c: two agents on two endpoints find each other over 127.0.0.1: UDP and TCP
 * checks, nomination, the path they build, and what they do with hostile control messages.
 * Candidates are given by hand (loopback only); control messages pass from one agent to the
 * other through the main loop, as the session would carry them. */
#include "pinhole-quic-path.h"
#include "pinhole-tcp-path.h"
#include "pinhole-agent.h"
#include "pinhole-candidate.h"
#include "pinhole-endpoint.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"
#include "pinhole-test-util.h"

#include <string.h>

typedef struct _Side Side;

struct _Side
{
  PinholeEndpoint *endpoint;
  PinholeAgent    *agent;
  Side            *other;
  PinholePath     *path;
  char            *failed;
  GPtrArray       *received;   /* GBytes from the path */
  guint            n_control;
  gboolean         drop_nominations;
  guint            n_dropped;
  JsonArray       *extra;      /* candidates added to each "candidates" message sent */
  /* the QUIC fingerprint in its "candidates" messages is changed in transit: replaced by
   * forged_quic, or removed (an older peer) */
  gboolean         tamper_quic;
  char            *forged_quic;
};

typedef struct
{
  Side a;
  Side b;
} Fixture;

typedef struct
{
  Side       *to;
  JsonObject *message;
} Delivery;

static gboolean
deliver_cb (gpointer data)
{
  Delivery *d = data;
  g_autoptr(GError) error = NULL;

  if (d->to->agent != NULL)
    pinhole_agent_handle_control (d->to->agent, d->message, &error);
  g_assert_no_error (error);
  json_object_unref (d->message);
  g_free (d);
  return G_SOURCE_REMOVE;
}

static void
send_control_cb (PinholeAgent *agent,
                 JsonObject   *message,
                 Side         *side)
{
  Delivery *d;

  side->n_control++;
  if (side->drop_nominations &&
      g_strcmp0 (json_object_get_string_member (message, "t"), "nominate") == 0)
    {
      side->n_dropped++;
      return;
    }
  if (side->extra != NULL &&
      g_strcmp0 (json_object_get_string_member (message, "t"), "candidates") == 0)
    {
      JsonArray *list = json_object_get_array_member (message, "candidates");

      for (guint i = 0; i < json_array_get_length (side->extra); i++)
        json_array_add_element (list, json_array_dup_element (side->extra, i));
    }
  if (side->tamper_quic &&
      g_strcmp0 (json_object_get_string_member (message, "t"), "candidates") == 0)
    {
      g_assert_true (json_object_has_member (message, "quic"));
      if (side->forged_quic != NULL)
        json_object_set_string_member (message, "quic", side->forged_quic);
      else
        json_object_remove_member (message, "quic");
    }
  d = g_new0 (Delivery, 1);
  d->to = side->other;
  d->message = json_object_ref (message);
  g_idle_add (deliver_cb, d);
}

static void
received_cb (PinholePath *path,
             GBytes      *packet,
             Side        *side)
{
  g_ptr_array_add (side->received, g_bytes_ref (packet));
}

static void
path_ready_cb (PinholeAgent *agent,
               PinholePath  *path,
               Side         *side)
{
  g_set_object (&side->path, path);
  g_signal_connect (path, "received", G_CALLBACK (received_cb), side);
}

static void
failed_cb (PinholeAgent *agent,
           const char   *reason,
           Side         *side)
{
  g_free (side->failed);
  side->failed = g_strdup (reason);
}

static void
side_init (Side    *side,
           Side    *other,
           gboolean controlling)
{
  g_autoptr(GError) error = NULL;

  side->endpoint = pinhole_endpoint_new (&error);
  g_assert_no_error (error);
  side->agent = pinhole_agent_new (side->endpoint, controlling);
  side->other = other;
  side->received = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_signal_connect (side->agent, "send-control", G_CALLBACK (send_control_cb), side);
  g_signal_connect (side->agent, "path-ready", G_CALLBACK (path_ready_cb), side);
  g_signal_connect (side->agent, "failed", G_CALLBACK (failed_cb), side);
}

static void
side_drop_path (Side *side)
{
  if (side->path != NULL)
    {
      g_signal_handlers_disconnect_by_data (side->path, side);
      pinhole_path_close (side->path);
    }
  g_clear_object (&side->path);
}

static void
side_clear (Side *side)
{
  side_drop_path (side);
  if (side->agent != NULL)
    pinhole_agent_close (side->agent);
  g_clear_object (&side->agent);
  g_clear_object (&side->endpoint);
  g_clear_pointer (&side->received, g_ptr_array_unref);
  g_clear_pointer (&side->extra, json_array_unref);
  g_free (side->forged_quic);
  g_free (side->failed);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  side_init (&f->a, &f->b, TRUE);
  side_init (&f->b, &f->a, FALSE);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  side_clear (&f->a);
  side_clear (&f->b);
  /* let closes and cancellations finish */
  for (guint i = 0; i < 50 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

static void
add_loopback (Side            *side,
              PinholeTransport transport)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  guint16 port = transport == PINHOLE_TRANSPORT_UDP
                 ? pinhole_endpoint_get_udp_port (side->endpoint)
                 : pinhole_endpoint_get_tcp_port (side->endpoint);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (lo, port);
  g_autoptr(PinholeCandidate) c = pinhole_candidate_new (PINHOLE_CANDIDATE_HOST, transport,
                                                         G_INET_SOCKET_ADDRESS (address),
                                                         PINHOLE_PATH_KIND_LAN);

  pinhole_agent_add_local_candidate (side->agent, c);
}

/* conditions on the fixture, for ph_iterate_until() */
#define iterate_until(f, condition, timeout_ms) \
  ph_iterate_until ((PhTestCondition) (condition), (f), (timeout_ms))

static gboolean
both_have_paths (Fixture *f)
{
  return f->a.path != NULL && f->b.path != NULL;
}

static gboolean
both_received (Fixture *f)
{
  return f->a.received->len > 0 && f->b.received->len > 0;
}

static gboolean
a_failed (Fixture *f)
{
  return f->a.failed != NULL;
}

static gboolean
a_has_path (Fixture *f)
{
  return f->a.path != NULL;
}

static void
exchange_packets (Fixture *f)
{
  g_autoptr(GBytes) hello_a = g_bytes_new_static ("from a", 6);
  g_autoptr(GBytes) hello_b = g_bytes_new_static ("from b", 6);
  g_autoptr(GError) error = NULL;

  g_assert_true (pinhole_path_send (f->a.path, hello_a, &error));
  g_assert_no_error (error);
  g_assert_true (pinhole_path_send (f->b.path, hello_b, &error));
  g_assert_no_error (error);
  g_assert_true (iterate_until (f, both_received, 5000));
  g_assert_true (g_bytes_equal (g_ptr_array_index (f->a.received, 0), hello_b));
  g_assert_true (g_bytes_equal (g_ptr_array_index (f->b.received, 0), hello_a));
}

static void
test_udp (Fixture       *f,
          gconstpointer  data)
{
  add_loopback (&f->a, PINHOLE_TRANSPORT_UDP);
  add_loopback (&f->b, PINHOLE_TRANSPORT_UDP);
  pinhole_agent_local_done (f->a.agent);
  pinhole_agent_local_done (f->b.agent);

  g_assert_true (iterate_until (f, both_have_paths, 5000));
  g_assert_cmpint (pinhole_path_get_kind (f->a.path), ==, PINHOLE_PATH_KIND_LAN);
  g_assert_cmpint (pinhole_path_get_kind (f->b.path), ==, PINHOLE_PATH_KIND_LAN);
  g_assert_false (pinhole_agent_is_searching (f->a.agent));
  exchange_packets (f);
}

static void
test_tcp (Fixture       *f,
          gconstpointer  data)
{
  add_loopback (&f->a, PINHOLE_TRANSPORT_TCP);
  add_loopback (&f->b, PINHOLE_TRANSPORT_TCP);
  pinhole_agent_local_done (f->a.agent);
  pinhole_agent_local_done (f->b.agent);

  g_assert_true (iterate_until (f, both_have_paths, 5000));
  g_assert_cmpint (pinhole_path_get_kind (f->a.path), ==, PINHOLE_PATH_KIND_LAN);
  g_assert_cmpint (pinhole_path_get_kind (f->b.path), ==, PINHOLE_PATH_KIND_LAN);
  exchange_packets (f);
}

/* ---- a better path replaces a working one: make before break ---- */

typedef struct
{
  PinholePath *old;              /* borrowed: the path to be replaced */
  gboolean     old_closed;
  gboolean     closed_before_new;
  gboolean     replaced;
} Replacement;

static void
old_closed_cb (PinholePath  *path,
               const GError *error,
               Replacement  *r)
{
  r->old_closed = TRUE;
}

static void
replaced_cb (PinholeAgent *agent,
             PinholePath  *path,
             Replacement  *r)
{
  if (path == r->old || r->replaced)
    return;
  r->replaced = TRUE;
  r->closed_before_new = r->old_closed;
}

static gboolean
both_replaced (Replacement *r)
{
  return r[0].replaced && r[1].replaced;
}

static gboolean
both_old_closed (Replacement *r)
{
  return r[0].old_closed && r[1].old_closed;
}

/* a TCP path works first (the only candidates); UDP candidates come later and the pair moves
 * once onto UDP, preferred within a kind. The TCP path must stay open until the UDP one is
 * announced on each side — else each session would fall back to the relay in between and a
 * user would see "Relayed" flicker — and close a few seconds after. */
static void
test_tcp_then_udp (Fixture       *f,
                   gconstpointer  data)
{
  Replacement r[2] = { { 0 }, { 0 } };
  Side *sides[2] = { &f->a, &f->b };

  add_loopback (&f->a, PINHOLE_TRANSPORT_TCP);
  add_loopback (&f->b, PINHOLE_TRANSPORT_TCP);
  pinhole_agent_local_done (f->a.agent);
  pinhole_agent_local_done (f->b.agent);
  g_assert_true (iterate_until (f, both_have_paths, 5000));
  for (guint i = 0; i < 2; i++)
    {
      r[i].old = sides[i]->path;
      g_assert_true (PINHOLE_IS_TCP_PATH (r[i].old));
      g_signal_connect (r[i].old, "closed", G_CALLBACK (old_closed_cb), &r[i]);
      g_signal_connect (sides[i]->agent, "path-ready", G_CALLBACK (replaced_cb), &r[i]);
    }

  add_loopback (&f->a, PINHOLE_TRANSPORT_UDP);
  add_loopback (&f->b, PINHOLE_TRANSPORT_UDP);
  g_assert_true (ph_iterate_until ((PhTestCondition) both_replaced, r, 10000));
  for (guint i = 0; i < 2; i++)
    {
      g_assert_false (r[i].closed_before_new);
      g_assert_true (PINHOLE_IS_QUIC_PATH (sides[i]->path));
    }
  exchange_packets (f);
  /* and the TCP path goes once both have moved */
  g_assert_true (ph_iterate_until ((PhTestCondition) both_old_closed, r, 10000));
  for (guint i = 0; i < 2; i++)
    g_signal_handlers_disconnect_by_data (sides[i]->agent, &r[i]);
}

/* the controlled side reports what it tried; the report names every check */
static void
test_report (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GPtrArray) report = NULL;

  add_loopback (&f->a, PINHOLE_TRANSPORT_UDP);
  add_loopback (&f->b, PINHOLE_TRANSPORT_UDP);
  pinhole_agent_local_done (f->a.agent);
  pinhole_agent_local_done (f->b.agent);
  g_assert_true (iterate_until (f, both_have_paths, 5000));
  report = pinhole_agent_dup_report (f->a.agent);
  g_assert_cmpuint (report->len, >=, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (report, 0), "succeeded"));
}

/* a peer whose only candidate answers nothing: the search ends with a reason, in bounded time */
static void
test_unreachable (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GSocket) silent = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                            G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(PinholeCandidate) c = NULL;
  g_autoptr(JsonObject) message = json_object_new ();
  JsonArray *list = json_array_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (g_socket_bind (silent, any, FALSE, &error));
  bound = g_socket_get_local_address (silent, &error);
  c = pinhole_candidate_new (PINHOLE_CANDIDATE_HOST, PINHOLE_TRANSPORT_UDP,
                             G_INET_SOCKET_ADDRESS (bound), PINHOLE_PATH_KIND_LAN);
  json_array_add_object_element (list, pinhole_candidate_to_json (c));
  json_object_set_string_member (message, "t", "candidates");
  json_object_set_string_member (message, "ufrag", "abcd1234");
  json_object_set_string_member (message, "pwd", "0123456789abcdef0123456789abcdef");
  json_object_set_array_member (message, "candidates", list);
  json_object_set_boolean_member (message, "done", TRUE);

  /* b stays out of it: a hears only from the silent socket; a is on loopback itself, or it
   * would refuse a loopback candidate */
  g_clear_object (&f->b.agent);
  add_loopback (&f->a, PINHOLE_TRANSPORT_UDP);
  g_assert_true (pinhole_agent_handle_control (f->a.agent, message, &error));
  g_assert_no_error (error);
  g_assert_true (iterate_until (f, a_failed, 15000));
  g_assert_null (f->a.path);
  /* the peer did offer a candidate: what failed is the checks */
  g_assert_cmpstr (f->a.failed, ==, "every connectivity check failed");
}

#define GOOD_FP "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:" \
                "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"
#define LOWER_FP "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:" \
                 "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff"
#define NOCOLON_FP "00-11-22-33-44-55-66-77-88-99-AA-BB-CC-DD-EE-FF-" \
                   "00-11-22-33-44-55-66-77-88-99-AA-BB-CC-DD-EE-FF"

/* hostile control messages are refused with an error and change nothing */
static void
test_hostile_control (Fixture       *f,
                      gconstpointer  data)
{
  const char *bad[] = {
    "{}",
    "{\"t\":\"unknown\"}",
    "{\"t\":\"candidates\"}",
    "{\"t\":\"candidates\",\"ufrag\":\"ab\",\"pwd\":\"short\",\"candidates\":[]}",
    "{\"t\":\"candidates\",\"ufrag\":\"abcd\",\"pwd\":\"0123456789abcdef012345\","
      "\"candidates\":5}",
    "{\"t\":\"candidates\",\"ufrag\":\"abcd\",\"pwd\":\"0123456789abcdef012345\","
      "\"candidates\":[{\"type\":\"host\",\"transport\":\"sctp\",\"address\":\"127.0.0.1\","
      "\"port\":1,\"priority\":1}]}",
    "{\"t\":\"candidates\",\"ufrag\":\"abcd\",\"pwd\":\"0123456789abcdef012345\","
      "\"candidates\":[{\"type\":\"host\",\"transport\":\"udp\",\"address\":\"127.0.0.1\","
      "\"port\":70000,\"priority\":1}]}",
    "{\"t\":\"candidates\",\"ufrag\":\"abcd\",\"pwd\":\"0123456789abcdef012345\","
      "\"candidates\":[{\"type\":\"mapped\",\"transport\":\"udp\",\"address\":\"127.0.0.1\","
      "\"port\":7,\"priority\":1,\"via\":\"relay\"}]}",
    "{\"t\":\"nominate\",\"transport\":\"udp\",\"kind\":\"lan\",\"peer\":\"127.0.0.1:1\"}",
    /* the QUIC fingerprint: not a string, too short, lower case, no colons, too long */
    "{\"t\":\"candidates\",\"ufrag\":\"abcd\",\"pwd\":\"0123456789abcdef012345\","
      "\"candidates\":[],\"quic\":7}",
    "{\"t\":\"candidates\",\"ufrag\":\"abcd\",\"pwd\":\"0123456789abcdef012345\","
      "\"candidates\":[],\"quic\":\"AB:CD\"}",
    "{\"t\":\"candidates\",\"ufrag\":\"abcd\",\"pwd\":\"0123456789abcdef012345\","
      "\"candidates\":[],\"quic\":\"" LOWER_FP "\"}",
    "{\"t\":\"candidates\",\"ufrag\":\"abcd\",\"pwd\":\"0123456789abcdef012345\","
      "\"candidates\":[],\"quic\":\"" NOCOLON_FP "\"}",
    "{\"t\":\"candidates\",\"ufrag\":\"abcd\",\"pwd\":\"0123456789abcdef012345\","
      "\"candidates\":[],\"quic\":\"" GOOD_FP ":00\"}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonObject) message = pinhole_stanza_parse_object (bad[i], strlen (bad[i]),
                                                                   &error);

      g_assert_no_error (error);
      /* a is controlling: a nomination sent to it is refused too */
      g_assert_false (pinhole_agent_handle_control (f->a.agent, message, &error));
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
    }
  g_assert_cmpuint (pinhole_agent_get_n_remote_candidates (f->a.agent), ==, 0);
}

/* what a contact may name as its address (docs/protocol.md §8) */
static void
test_peer_address (void)
{
  static const struct
  {
    const char *address;
    guint16     port;
    gboolean    peer;
  } cases[] = {
    { "203.0.113.7", 41000, TRUE },  { "10.1.2.3", 5, TRUE },      { "192.168.1.20", 9, TRUE },
    { "172.16.0.1", 9, TRUE },       { "172.31.255.1", 9, TRUE },  { "2001:db8::1", 9, TRUE },
    { "fd00::1", 9, TRUE },          { "203.0.113.7", 0, FALSE },  { "127.0.0.1", 22, FALSE },
    { "127.8.9.10", 22, FALSE },     { "::1", 22, FALSE },         { "0.0.0.0", 22, FALSE },
    { "0.1.2.3", 22, FALSE },        { "::", 22, FALSE },          { "224.0.0.1", 9, FALSE },
    { "239.255.255.250", 1900, FALSE }, { "ff02::1", 9, FALSE },   { "255.255.255.255", 9, FALSE },
    { "169.254.1.1", 80, FALSE },    { "fe80::1", 80, FALSE },     { "febf::1", 80, FALSE },
    { "::ffff:127.0.0.1", 22, FALSE }, { "::ffff:169.254.1.1", 22, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GInetAddress) ip = g_inet_address_new_from_string (cases[i].address);
      g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (ip, cases[i].port);
      g_autoptr(PinholeCandidate) c = pinhole_candidate_new (
        PINHOLE_CANDIDATE_HOST, PINHOLE_TRANSPORT_UDP, G_INET_SOCKET_ADDRESS (sa),
        PINHOLE_PATH_KIND_LAN);

      g_test_message ("%s port %u", cases[i].address, cases[i].port);
      g_assert_cmpint (pinhole_candidate_is_peer_address (c, FALSE, NULL), ==, cases[i].peer);
    }
}

static void
add_extra (Side             *side,
           PinholeTransport  transport,
           const char       *address,
           guint16           port)
{
  g_autoptr(GInetAddress) ip = g_inet_address_new_from_string (address);
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (ip, port);
  g_autoptr(PinholeCandidate) c = pinhole_candidate_new (
    PINHOLE_CANDIDATE_HOST, transport, G_INET_SOCKET_ADDRESS (sa), PINHOLE_PATH_KIND_LAN);

  if (side->extra == NULL)
    side->extra = json_array_new ();
  json_array_add_object_element (side->extra, pinhole_candidate_to_json (c));
}

static GSocket *
bind_decoy (GSocketType  type,
            guint16     *out_port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, type, 0, &error);

  g_assert_no_error (error);
  g_socket_set_blocking (socket, FALSE);
  g_assert_true (g_socket_bind (socket, any, TRUE, &error));
  if (type == G_SOCKET_TYPE_STREAM)
    g_assert_true (g_socket_listen (socket, &error));
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  *out_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  return g_steal_pointer (&socket);
}

static gboolean
never (Fixture *f)
{
  return FALSE;
}

/* A contact names our own loopback (and every other address no peer can have): no check and
 * no connection goes there. a is on 127.0.0.1 but offers no loopback candidate, as with a
 * server elsewhere; b learns a's address by hand, and a learns b's from b's checks
 * (peer-reflexive), so a real path still forms. The decoys are a UDP socket and a TCP
 * listener on 127.0.0.1, named by b among the refused kinds. */
static void
test_refused_candidates (Fixture       *f,
                         gconstpointer  data)
{
  guint16 udp_port, tcp_port;
  g_autoptr(GSocket) udp = bind_decoy (G_SOCKET_TYPE_DATAGRAM, &udp_port);
  g_autoptr(GSocket) tcp = bind_decoy (G_SOCKET_TYPE_STREAM, &tcp_port);
  const char *refused[] = { "127.0.0.1", "127.0.0.2", "0.0.0.0", "224.0.0.1",
                            "255.255.255.255", "169.254.1.1", "::1", "fe80::1",
                            "::ffff:127.0.0.1" };

  add_extra (&f->a, PINHOLE_TRANSPORT_UDP, "127.0.0.1",
             pinhole_endpoint_get_udp_port (f->a.endpoint));
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      add_extra (&f->b, PINHOLE_TRANSPORT_UDP, refused[i], udp_port);
      add_extra (&f->b, PINHOLE_TRANSPORT_TCP, refused[i], tcp_port);
    }
  add_extra (&f->b, PINHOLE_TRANSPORT_UDP, "127.0.0.1", 0);
  add_loopback (&f->b, PINHOLE_TRANSPORT_UDP);
  pinhole_agent_local_done (f->a.agent);
  pinhole_agent_local_done (f->b.agent);

  g_assert_true (iterate_until (f, both_have_paths, 5000));
  exchange_packets (f);
  /* checks are sent at once and retransmitted within 500 ms: none may arrive later */
  iterate_until (f, never, 600);
  g_assert_false (g_socket_condition_check (udp, G_IO_IN));
  g_assert_false (g_socket_condition_check (tcp, G_IO_IN));
  /* only b's address as its checks came from it: its own loopback candidate is refused too */
  g_assert_cmpuint (pinhole_agent_get_n_remote_candidates (f->a.agent), ==, 1);
}

/* a peer's candidates beyond PINHOLE_CANDIDATES_MAX in one round are cut, over several
 * messages too; private addresses are kept (IPv6 ones: taken, never sent to) */
static void
test_candidate_cap (Fixture       *f,
                    gconstpointer  data)
{
  for (guint m = 0; m < 2; m++)
    {
      g_autoptr(GString) text = g_string_new ("{\"t\":\"candidates\",\"ufrag\":\"abcd\","
                                              "\"pwd\":\"0123456789abcdef012345\","
                                              "\"candidates\":[");
      g_autoptr(JsonObject) message = NULL;
      g_autoptr(GError) error = NULL;

      for (guint i = 0; i < 20; i++)
        g_string_append_printf (text, "%s{\"type\":\"host\",\"transport\":\"udp\","
                                "\"address\":\"fd00::%u\",\"port\":9,\"priority\":1}",
                                i == 0 ? "" : ",", m * 20 + i + 1);
      g_string_append (text, "]}");
      message = pinhole_stanza_parse_object (text->str, text->len, &error);
      g_assert_no_error (error);
      g_assert_true (pinhole_agent_handle_control (f->a.agent, message, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (pinhole_agent_get_n_remote_candidates (f->a.agent), ==,
                    PINHOLE_CANDIDATES_MAX);
}

/* the nomination never arrives: the controlling side builds its end, the controlled side
 * builds nothing however long it waits, and keeps searching without reporting a failure.
 * The session over the controlling side's end finds it silent, and its owner restarts the
 * agent; the controlled side follows the new round, and this time both ends are built. */
static void
test_lost_nomination (Fixture       *f,
                      gconstpointer  data)
{
  f->a.drop_nominations = TRUE;
  add_loopback (&f->a, PINHOLE_TRANSPORT_TCP);
  add_loopback (&f->b, PINHOLE_TRANSPORT_TCP);
  pinhole_agent_local_done (f->a.agent);
  pinhole_agent_local_done (f->b.agent);
  g_assert_true (iterate_until (f, a_has_path, 5000));
  /* a nomination delivered in this time would have been acted on many times over */
  ph_iterate_for (500);
  g_assert_cmpuint (f->a.n_dropped, ==, 1);
  g_assert_null (f->b.path);
  g_assert_true (pinhole_agent_is_searching (f->b.agent));
  g_assert_null (f->b.failed);

  f->a.drop_nominations = FALSE;
  side_drop_path (&f->a);
  pinhole_agent_restart (f->a.agent);
  g_assert_true (pinhole_agent_is_searching (f->a.agent));
  g_assert_true (iterate_until (f, both_have_paths, 3000));
  exchange_packets (f);
}

/* over UDP the controlling side's end waits for the QUIC handshake, which never comes:
 * the search ends with a reason instead of hanging */
static void
test_lost_nomination_udp (Fixture       *f,
                          gconstpointer  data)
{
  f->a.drop_nominations = TRUE;
  add_loopback (&f->a, PINHOLE_TRANSPORT_UDP);
  add_loopback (&f->b, PINHOLE_TRANSPORT_UDP);
  pinhole_agent_local_done (f->a.agent);
  pinhole_agent_local_done (f->b.agent);
  g_assert_true (iterate_until (f, a_failed, 10000));
  g_assert_cmpstr (f->a.failed, ==, "the nominated path never connected");
  g_assert_null (f->a.path);
  g_assert_null (f->b.path);
}

/* the fingerprint a's candidates carry is forged in transit: b's QUIC end pins a certificate
 * that a does not show, the handshake fails, and neither end gets a path: the search ends
 * with the reason, and the session stays on the relay */
static void
test_wrong_fingerprint (Fixture       *f,
                        gconstpointer  data)
{
  f->a.tamper_quic = TRUE;
  f->a.forged_quic = g_strdup (GOOD_FP);
  add_loopback (&f->a, PINHOLE_TRANSPORT_UDP);
  add_loopback (&f->b, PINHOLE_TRANSPORT_UDP);
  pinhole_agent_local_done (f->a.agent);
  pinhole_agent_local_done (f->b.agent);
  /* well before the 5 s a path that never connects is given: the refusal ends it */
  g_assert_true (iterate_until (f, a_failed, 4000));
  g_assert_cmpstr (f->a.failed, ==,
                   "the nominated path was refused: its certificate did not match");
  ph_iterate_for (300);
  g_assert_null (f->a.path);
  g_assert_null (f->b.path);
}

/* a TCP path works; the UDP pair found later is refused (forged fingerprint): the session
 * stays on the TCP path, which is neither closed nor replaced */
static void
test_wrong_fingerprint_keeps_path (Fixture       *f,
                                   gconstpointer  data)
{
  Replacement r[2] = { { 0 }, { 0 } };
  Side *sides[2] = { &f->a, &f->b };

  f->a.tamper_quic = TRUE;
  f->a.forged_quic = g_strdup (GOOD_FP);
  add_loopback (&f->a, PINHOLE_TRANSPORT_TCP);
  add_loopback (&f->b, PINHOLE_TRANSPORT_TCP);
  pinhole_agent_local_done (f->a.agent);
  pinhole_agent_local_done (f->b.agent);
  g_assert_true (iterate_until (f, both_have_paths, 5000));
  for (guint i = 0; i < 2; i++)
    {
      r[i].old = sides[i]->path;
      g_signal_connect (r[i].old, "closed", G_CALLBACK (old_closed_cb), &r[i]);
      g_signal_connect (sides[i]->agent, "path-ready", G_CALLBACK (replaced_cb), &r[i]);
    }
  add_loopback (&f->a, PINHOLE_TRANSPORT_UDP);
  add_loopback (&f->b, PINHOLE_TRANSPORT_UDP);
  /* the UDP pair is checked, nominated and refused in well under this */
  ph_iterate_for (3000);
  for (guint i = 0; i < 2; i++)
    {
      g_assert_false (r[i].replaced);
      g_assert_false (r[i].old_closed);
      g_assert_true (sides[i]->path == r[i].old);
      g_signal_handlers_disconnect_by_data (sides[i]->agent, &r[i]);
      g_signal_handlers_disconnect_by_data (r[i].old, &r[i]);
    }
  g_assert_null (f->a.failed);
  exchange_packets (f);
}

/* a peer that sends no fingerprint (an older Pinhole): its UDP pairs are checked but never
 * become a path; a TCP pair does */
static void
test_no_fingerprint (Fixture       *f,
                     gconstpointer  data)
{
  f->a.tamper_quic = TRUE;
  f->b.tamper_quic = TRUE;
  add_loopback (&f->a, PINHOLE_TRANSPORT_UDP);
  add_loopback (&f->b, PINHOLE_TRANSPORT_UDP);
  add_loopback (&f->a, PINHOLE_TRANSPORT_TCP);
  add_loopback (&f->b, PINHOLE_TRANSPORT_TCP);
  pinhole_agent_local_done (f->a.agent);
  pinhole_agent_local_done (f->b.agent);
  g_assert_true (iterate_until (f, both_have_paths, 5000));
  ph_iterate_for (1000);
  g_assert_true (PINHOLE_IS_TCP_PATH (f->a.path));
  g_assert_true (PINHOLE_IS_TCP_PATH (f->b.path));
  exchange_packets (f);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/agent/udp", test_udp);
  ADD ("/agent/tcp", test_tcp);
  ADD ("/agent/tcp-then-udp", test_tcp_then_udp);
  ADD ("/agent/report", test_report);
  ADD ("/agent/unreachable", test_unreachable);
  ADD ("/agent/hostile-control", test_hostile_control);
  ADD ("/agent/refused-candidates", test_refused_candidates);
  ADD ("/agent/candidate-cap", test_candidate_cap);
  g_test_add_func ("/agent/peer-address", test_peer_address);
  ADD ("/agent/lost-nomination", test_lost_nomination);
  ADD ("/agent/lost-nomination-udp", test_lost_nomination_udp);
  ADD ("/agent/wrong-fingerprint", test_wrong_fingerprint);
  ADD ("/agent/wrong-fingerprint-keeps-path", test_wrong_fingerprint_keeps_path);
  ADD ("/agent/no-fingerprint", test_no_fingerprint);
#undef ADD

  return g_test_run ();
}
