/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-stun-client.c: the STUN Binding client against PinholeStunResponder and against scripted
 * raw sockets on 127.0.0.1: retransmission, timeout, cancellation, credentials, bad input. */
#include "pinhole-error.h"
#include "pinhole-stun-client.h"
#include "pinhole-stun-message.h"
#include "pinhole-stun-responder.h"
#include "pinhole-test-util.h"

#include <string.h>
#include <sys/socket.h>

#define WAIT_MS 10000

static GInetAddress *
loopback (void)
{
  return g_inet_address_new_from_string ("127.0.0.1");
}

static PinholeStunResponder *
start_responder (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) lo = loopback ();
  PinholeStunResponder *responder = pinhole_stun_responder_new ();

  g_assert_true (pinhole_stun_responder_listen (responder, lo, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pinhole_stun_responder_get_udp_port (responder), >, 0);
  g_assert_cmpuint (pinhole_stun_responder_get_udp_port (responder), ==,
                    pinhole_stun_responder_get_tcp_port (responder));
  return responder;
}

static GSocketAddress *
loopback_address (guint16 port)
{
  g_autoptr(GInetAddress) lo = loopback ();

  return g_inet_socket_address_new (lo, port);
}

static GSocket *
udp_socket (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) local = loopback_address (0);

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP,
                         &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, local, FALSE, &error));
  g_assert_no_error (error);
  g_socket_set_blocking (socket, FALSE);
  return g_steal_pointer (&socket);
}

static guint16
local_port (GSocket *socket)
{
  g_autoptr(GSocketAddress) local = g_socket_get_local_address (socket, NULL);

  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
}

static void
assert_loopback (GInetSocketAddress *address,
                 guint16             port)
{
  g_autofree char *ip = NULL;

  g_assert_nonnull (address);
  ip = g_inet_address_to_string (g_inet_socket_address_get_address (address));
  g_assert_cmpstr (ip, ==, "127.0.0.1");
  g_assert_cmpuint (g_inet_socket_address_get_port (address), ==, port);
}

typedef struct
{
  gboolean                 done;
  PinholeStunClientResult *result;
  GError                  *error;
  gint64                   finished_us;
} Outcome;

static void
outcome_clear (Outcome *o)
{
  g_clear_pointer (&o->result, pinhole_stun_client_result_free);
  g_clear_error (&o->error);
  o->done = FALSE;
}

static void
udp_done_cb (GObject      *source,
             GAsyncResult *res,
             gpointer      user_data)
{
  Outcome *o = user_data;

  o->result = pinhole_stun_client_binding_udp_finish (res, &o->error);
  o->finished_us = g_get_monotonic_time ();
  o->done = TRUE;
}

static void
tcp_done_cb (GObject      *source,
             GAsyncResult *res,
             gpointer      user_data)
{
  Outcome *o = user_data;

  o->result = pinhole_stun_client_binding_tcp_finish (res, &o->error);
  o->finished_us = g_get_monotonic_time ();
  o->done = TRUE;
}

static PinholeStunClientOptions *
fast_options (void)
{
  PinholeStunClientOptions *options = pinhole_stun_client_options_new ();

  options->rto_ms = 20;
  options->tcp_timeout_ms = 2000;
  return options;
}

/* against the responder */

static void
test_udp_own_socket (void)
{
  g_autoptr(PinholeStunResponder) responder = start_responder ();
  g_autoptr(GSocket) socket = udp_socket ();
  g_autoptr(GSocketAddress) server =
    loopback_address (pinhole_stun_responder_get_udp_port (responder));
  Outcome o = { 0 };

  pinhole_stun_client_binding_udp_async (socket, server, NULL, NULL, udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  assert_loopback (o.result->mapped_address, local_port (socket));
  assert_loopback (o.result->local_address, local_port (socket));
  assert_loopback (o.result->server_address, pinhole_stun_responder_get_udp_port (responder));
  g_assert_cmpuint (o.result->requests_sent, ==, 1);
  g_assert_null (o.result->other_address);
  outcome_clear (&o);

  /* the same socket again: the port the next user (hole punching) inherits is the same */
  pinhole_stun_client_binding_udp_async (socket, server, NULL, NULL, udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  assert_loopback (o.result->mapped_address, local_port (socket));
  outcome_clear (&o);
}

static void
test_udp_new_socket (void)
{
  g_autoptr(PinholeStunResponder) responder = start_responder ();
  g_autoptr(GSocketAddress) server =
    loopback_address (pinhole_stun_responder_get_udp_port (responder));
  Outcome o = { 0 };

  pinhole_stun_client_binding_udp_async (NULL, server, NULL, NULL, udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  g_assert_nonnull (o.result->local_address);
  assert_loopback (o.result->mapped_address,
                   g_inet_socket_address_get_port (o.result->local_address));
  outcome_clear (&o);
}

static void
test_tcp (void)
{
  g_autoptr(PinholeStunResponder) responder = start_responder ();
  g_autoptr(GSocketAddress) server =
    loopback_address (pinhole_stun_responder_get_tcp_port (responder));
  g_autoptr(PinholeStunClientOptions) options = fast_options ();
  g_autoptr(GSocket) holder = NULL;
  g_autoptr(GSocketAddress) any_port = NULL;
  g_autoptr(GError) error = NULL;
  Outcome o = { 0 };
  guint16 port;

  pinhole_stun_client_binding_tcp_async (server, NULL, NULL, tcp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  g_assert_nonnull (o.result->local_address);
  port = g_inet_socket_address_get_port (o.result->local_address);
  assert_loopback (o.result->mapped_address, port);
  assert_loopback (o.result->server_address, pinhole_stun_responder_get_tcp_port (responder));
  outcome_clear (&o);

  /* bound to a chosen port with SO_REUSEPORT, while another socket holds that port the way
   * a simultaneous-open socket will: twice in a row from the same port */
  holder = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  g_assert_no_error (error);
  g_socket_set_option (holder, SOL_SOCKET, SO_REUSEADDR, 1, &error);
  g_assert_no_error (error);
  g_socket_set_option (holder, SOL_SOCKET, SO_REUSEPORT, 1, &error);
  g_assert_no_error (error);
  any_port = loopback_address (0);
  g_assert_true (g_socket_bind (holder, any_port, TRUE, &error));
  g_assert_no_error (error);
  port = local_port (holder);
  options->tcp_local_address = loopback_address (port);
  /* the second time to another server: the first connection's 4-tuple is in TIME_WAIT */
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(PinholeStunResponder) other = start_responder ();
      g_autoptr(GSocketAddress) other_server =
        loopback_address (pinhole_stun_responder_get_tcp_port (other));

      pinhole_stun_client_binding_tcp_async (i == 0 ? server : other_server, options, NULL,
                                             tcp_done_cb, &o);
      g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
      g_assert_no_error (o.error);
      assert_loopback (o.result->mapped_address, port);
      assert_loopback (o.result->local_address, port);
      outcome_clear (&o);
    }
}

/* scripted UDP server */

typedef struct
{
  GSocket    *socket;
  GSource    *source;
  guint       ignore_first;   /* requests left unanswered */
  gboolean    silent;
  gboolean    noise;          /* send garbage and a foreign transaction before answering */
  const char *password;       /* answer with MESSAGE-INTEGRITY under this key */
  const char *expect_password; /* requests must verify under this key */
  guint       received;
  guint       verified;
  char       *username;
} FakeServer;

static GBytes *
fake_response (const PinholeStunMessage *request,
               GSocketAddress           *from,
               const guint8             *tid,
               const char               *password)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) reply = NULL;
  GBytes *bytes;

  reply = pinhole_stun_message_new (PINHOLE_STUN_CLASS_SUCCESS, PINHOLE_STUN_METHOD_BINDING, tid);
  reply->xor_mapped_address = G_INET_SOCKET_ADDRESS (g_object_ref (from));
  reply->other_address = G_INET_SOCKET_ADDRESS (loopback_address (3479));
  bytes = pinhole_stun_message_encode (reply, (const guint8 *) password,
                                       password ? strlen (password) : 0, TRUE, &error);
  g_assert_no_error (error);
  return bytes;
}

static gboolean
fake_read_cb (GSocket      *socket,
              GIOCondition  condition,
              gpointer      user_data)
{
  FakeServer *fake = user_data;
  guint8 buffer[2048];
  g_autoptr(GSocketAddress) from = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) request = NULL;
  g_autoptr(GBytes) reply = NULL;
  gssize n;

  n = g_socket_receive_from (socket, &from, (char *) buffer, sizeof buffer, NULL, &error);
  if (n < 0)
    return G_SOURCE_CONTINUE;
  request = pinhole_stun_message_decode (buffer, (gsize) n, &error);
  g_assert_no_error (error);
  g_assert_cmpint (request->klass, ==, PINHOLE_STUN_CLASS_REQUEST);
  g_assert_true (request->has_fingerprint);
  fake->received++;
  if (fake->expect_password != NULL
      && pinhole_stun_message_verify_integrity (request, (const guint8 *) fake->expect_password,
                                                strlen (fake->expect_password), NULL))
    fake->verified++;
  if (request->username != NULL && fake->username == NULL)
    fake->username = g_strdup (request->username);

  if (fake->silent || fake->received <= fake->ignore_first)
    return G_SOURCE_CONTINUE;

  if (fake->noise)
    {
      static const char garbage[] = "not a STUN message at all, just bytes";
      guint8 other_tid[12];
      g_autoptr(GBytes) foreign = NULL;

      memcpy (other_tid, request->transaction_id, sizeof other_tid);
      other_tid[0] ^= 0xff;
      foreign = fake_response (request, from, other_tid, fake->password);
      g_socket_send_to (socket, from, garbage, sizeof garbage, NULL, NULL);
      g_socket_send_to (socket, from, (const char *) buffer, 19, NULL, NULL);
      g_socket_send_to (socket, from, g_bytes_get_data (foreign, NULL),
                        g_bytes_get_size (foreign), NULL, NULL);
    }
  reply = fake_response (request, from, request->transaction_id, fake->password);
  g_socket_send_to (socket, from, g_bytes_get_data (reply, NULL), g_bytes_get_size (reply), NULL,
                    &error);
  g_assert_no_error (error);
  return G_SOURCE_CONTINUE;
}

static void
fake_start (FakeServer *fake)
{
  fake->socket = udp_socket ();
  fake->source = g_socket_create_source (fake->socket, G_IO_IN, NULL);
  g_source_set_callback (fake->source, G_SOURCE_FUNC (fake_read_cb), fake, NULL);
  g_source_attach (fake->source, NULL);
}

static void
fake_stop (FakeServer *fake)
{
  g_source_destroy (fake->source);
  g_clear_pointer (&fake->source, g_source_unref);
  g_clear_object (&fake->socket);
  g_clear_pointer (&fake->username, g_free);
}

static void
test_retransmit (void)
{
  FakeServer fake = { .ignore_first = 2, .noise = TRUE };
  g_autoptr(PinholeStunClientOptions) options = fast_options ();
  g_autoptr(GSocket) socket = udp_socket ();
  g_autoptr(GSocketAddress) server = NULL;
  Outcome o = { 0 };

  fake_start (&fake);
  server = loopback_address (local_port (fake.socket));
  pinhole_stun_client_binding_udp_async (socket, server, options, NULL, udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  g_assert_cmpuint (fake.received, ==, 3);
  g_assert_cmpuint (o.result->requests_sent, ==, 3);
  assert_loopback (o.result->mapped_address, local_port (socket));
  assert_loopback (o.result->other_address, 3479);
  outcome_clear (&o);
  fake_stop (&fake);
}

static void
test_timeout (void)
{
  FakeServer fake = { .silent = TRUE };
  g_autoptr(PinholeStunClientOptions) options = fast_options ();
  g_autoptr(GSocketAddress) server = NULL;
  Outcome o = { 0 };
  gint64 start, elapsed_ms, expected_ms;

  options->rto_ms = 10;
  /* §6.2.1: requests at 0, RTO, 3 RTO, ... 63 RTO, then the last wait of Rm * RTO */
  expected_ms = 10 * (1 + 2 + 4 + 8 + 16 + 32) + 16 * 10;
  fake_start (&fake);
  server = loopback_address (local_port (fake.socket));
  start = g_get_monotonic_time ();
  pinhole_stun_client_binding_udp_async (NULL, server, options, NULL, udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_error (o.error, PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT);
  g_assert_null (o.result);
  elapsed_ms = (o.finished_us - start) / 1000;
  g_test_message ("timed out after %" G_GINT64_FORMAT " ms", elapsed_ms);
  g_assert_cmpint (elapsed_ms, >=, expected_ms);
  g_assert_cmpint (elapsed_ms, <, expected_ms + 3000);
  g_assert_cmpuint (fake.received, ==, 7);
  outcome_clear (&o);
  fake_stop (&fake);
}

static void
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static void
test_cancel_udp (void)
{
  FakeServer fake = { .silent = TRUE };
  g_autoptr(PinholeStunClientOptions) options = fast_options ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GSocketAddress) server = NULL;
  Outcome o = { 0 };

  fake_start (&fake);
  server = loopback_address (local_port (fake.socket));
  pinhole_stun_client_binding_udp_async (NULL, server, options, cancellable, udp_done_cb, &o);
  g_timeout_add_once (50, cancel_cb, cancellable);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (fake.received, >=, 1);
  outcome_clear (&o);

  /* already cancelled */
  pinhole_stun_client_binding_udp_async (NULL, server, options, cancellable, udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  outcome_clear (&o);
  fake_stop (&fake);
}

/* a TCP listener that never accepts: the kernel completes the handshake, nobody answers */
static GSocket *
silent_tcp_listener (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) local = loopback_address (0);

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, local, TRUE, &error));
  g_assert_true (g_socket_listen (socket, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&socket);
}

static void
test_cancel_tcp (void)
{
  g_autoptr(GSocket) listener = silent_tcp_listener ();
  g_autoptr(GSocketAddress) server = loopback_address (local_port (listener));
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Outcome o = { 0 };

  pinhole_stun_client_binding_tcp_async (server, NULL, cancellable, tcp_done_cb, &o);
  g_timeout_add_once (50, cancel_cb, cancellable);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  outcome_clear (&o);
}

static void
test_tcp_timeout (void)
{
  g_autoptr(GSocket) listener = silent_tcp_listener ();
  g_autoptr(GSocketAddress) server = loopback_address (local_port (listener));
  g_autoptr(PinholeStunClientOptions) options = fast_options ();
  Outcome o = { 0 };
  gint64 start = g_get_monotonic_time ();

  options->tcp_timeout_ms = 200;
  pinhole_stun_client_binding_tcp_async (server, options, NULL, tcp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_error (o.error, PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT);
  g_assert_cmpint ((o.finished_us - start) / 1000, >=, 200);
  outcome_clear (&o);
}

static void
test_credentials (void)
{
  FakeServer fake = { .password = "s3cret", .expect_password = "s3cret" };
  g_autoptr(PinholeStunClientOptions) options = fast_options ();
  g_autoptr(GSocketAddress) server = NULL;
  Outcome o = { 0 };

  options->username = g_strdup ("bob:alice");
  options->password = g_strdup ("s3cret");
  options->software = g_strdup ("pinhole-test");
  fake_start (&fake);
  server = loopback_address (local_port (fake.socket));
  pinhole_stun_client_binding_udp_async (NULL, server, options, NULL, udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  g_assert_cmpuint (fake.verified, ==, 1);
  g_assert_cmpstr (fake.username, ==, "bob:alice");
  outcome_clear (&o);

  /* responses under another key are discarded as if never received (RFC 8489 §9.1.4) */
  fake.password = "other";
  options->rto_ms = 5;
  options->rc = 3;
  pinhole_stun_client_binding_udp_async (NULL, server, options, NULL, udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_error (o.error, PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT);
  outcome_clear (&o);

  /* and so are responses without MESSAGE-INTEGRITY */
  fake.password = NULL;
  pinhole_stun_client_binding_udp_async (NULL, server, options, NULL, udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_error (o.error, PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT);
  outcome_clear (&o);
  fake_stop (&fake);
}

/* the responder */

typedef struct
{
  gboolean ready;
} Readable;

static gboolean
readable_cb (GSocket      *socket,
             GIOCondition  condition,
             gpointer      user_data)
{
  ((Readable *) user_data)->ready = TRUE;
  return G_SOURCE_REMOVE;
}

static void
wait_readable (GSocket *socket)
{
  Readable r = { FALSE };
  GSource *source = g_socket_create_source (socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);

  g_source_set_callback (source, G_SOURCE_FUNC (readable_cb), &r, NULL);
  g_source_attach (source, NULL);
  ph_wait_flag (&r.ready, WAIT_MS);
  g_source_destroy (source);
  g_source_unref (source);
  g_assert_true (r.ready);
}

static void
test_responder_420 (void)
{
  g_autoptr(PinholeStunResponder) responder = start_responder ();
  g_autoptr(GSocket) socket = udp_socket ();
  g_autoptr(GSocketAddress) server =
    loopback_address (pinhole_stun_responder_get_udp_port (responder));
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) reply = NULL;
  guint8 buffer[2048];
  gssize n;
  /* a Binding request with comprehension-required 0x0031 and comprehension-optional 0xc057 */
  static const guint8 request[] = {
    0x00, 0x01, 0x00, 0x10, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    0x00, 0x31, 0x00, 0x00,
    0xc0, 0x57, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef,
    0x00, 0x31, 0x00, 0x00,
  };

  g_socket_send_to (socket, server, (const char *) request, sizeof request, NULL, &error);
  g_assert_no_error (error);
  wait_readable (socket);
  n = g_socket_receive (socket, (char *) buffer, sizeof buffer, NULL, &error);
  g_assert_no_error (error);
  reply = pinhole_stun_message_decode (buffer, (gsize) n, &error);
  g_assert_no_error (error);
  g_assert_cmpint (reply->klass, ==, PINHOLE_STUN_CLASS_ERROR);
  g_assert_cmpuint (reply->method, ==, PINHOLE_STUN_METHOD_BINDING);
  g_assert_cmpmem (reply->transaction_id, 12, request + 8, 12);
  g_assert_cmpuint (reply->error_code, ==, 420);
  g_assert_nonnull (reply->unknown_attributes);
  g_assert_cmpuint (reply->unknown_attributes->len, >=, 1);
  g_assert_cmphex (g_array_index (reply->unknown_attributes, guint16, 0), ==, 0x0031);
  for (guint i = 0; i < reply->unknown_attributes->len; i++)
    g_assert_cmphex (g_array_index (reply->unknown_attributes, guint16, i), !=, 0xc057);
  g_assert_true (reply->has_fingerprint);
  g_assert_null (reply->xor_mapped_address);
}

static void
test_responder_success_attributes (void)
{
  g_autoptr(PinholeStunResponder) responder = start_responder ();
  g_autoptr(GSocket) socket = udp_socket ();
  g_autoptr(GSocketAddress) server =
    loopback_address (pinhole_stun_responder_get_udp_port (responder));
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) request = NULL;
  g_autoptr(PinholeStunMessage) reply = NULL;
  g_autoptr(GBytes) bytes = NULL;
  guint8 buffer[2048];
  gssize n;

  pinhole_stun_responder_set_software (responder, "test responder");
  request = pinhole_stun_message_new (PINHOLE_STUN_CLASS_REQUEST, PINHOLE_STUN_METHOD_BINDING,
                                      NULL);
  pinhole_stun_message_set_random_transaction_id (request);
  bytes = pinhole_stun_message_encode (request, NULL, 0, FALSE, &error);
  g_assert_no_error (error);
  g_socket_send_to (socket, server, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                    NULL, &error);
  g_assert_no_error (error);
  wait_readable (socket);
  n = g_socket_receive (socket, (char *) buffer, sizeof buffer, NULL, &error);
  g_assert_no_error (error);
  reply = pinhole_stun_message_decode (buffer, (gsize) n, &error);
  g_assert_no_error (error);
  g_assert_cmpint (reply->klass, ==, PINHOLE_STUN_CLASS_SUCCESS);
  g_assert_cmpmem (reply->transaction_id, 12, request->transaction_id, 12);
  g_assert_cmpstr (reply->software, ==, "test responder");
  g_assert_true (reply->has_fingerprint);
  g_assert_true (pinhole_stun_message_check_fingerprint (reply, &error));
  assert_loopback (reply->xor_mapped_address, local_port (socket));
}

static void
test_responder_garbage_udp (void)
{
  g_autoptr(PinholeStunResponder) responder = start_responder ();
  g_autoptr(GSocket) socket = udp_socket ();
  g_autoptr(GSocketAddress) server =
    loopback_address (pinhole_stun_responder_get_udp_port (responder));
  g_autoptr(GRand) rand = g_rand_new_with_seed (5769);
  Outcome o = { 0 };
  guint8 buffer[600];

  for (guint i = 0; i < 200; i++)
    {
      guint len = (guint) g_rand_int_range (rand, 0, sizeof buffer);

      for (guint j = 0; j < len; j++)
        buffer[j] = (guint8) g_rand_int_range (rand, 0, 256);
      /* half of them look like STUN, so that they reach the decoder */
      if (i % 2 == 0 && len >= 20)
        {
          buffer[0] &= 0x3f;
          buffer[4] = 0x21;
          buffer[5] = 0x12;
          buffer[6] = 0xa4;
          buffer[7] = 0x42;
        }
      g_socket_send_to (socket, server, (const char *) buffer, len, NULL, NULL);
    }
  pinhole_stun_client_binding_udp_async (socket, server, NULL, NULL, udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  assert_loopback (o.result->mapped_address, local_port (socket));
  outcome_clear (&o);
}

static GSocket *
tcp_connect (guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) server = loopback_address (port);

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  g_assert_no_error (error);
  /* loopback: the kernel completes the handshake without the responder's help */
  g_assert_true (g_socket_connect (socket, server, NULL, &error));
  g_assert_no_error (error);
  g_socket_set_blocking (socket, FALSE);
  return g_steal_pointer (&socket);
}

/* TRUE when the responder closed the connection (EOF or reset) */
static gboolean
tcp_closed_by_peer (GSocket *socket)
{
  guint8 buffer[256];

  for (guint i = 0; i < 16; i++)
    {
      g_autoptr(GError) error = NULL;
      gssize n;

      wait_readable (socket);
      n = g_socket_receive (socket, (char *) buffer, sizeof buffer, NULL, &error);
      if (n == 0 || (n < 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)))
        return TRUE;
    }
  return FALSE;
}

static void
test_responder_garbage_tcp (void)
{
  g_autoptr(PinholeStunResponder) responder = start_responder ();
  guint16 port = pinhole_stun_responder_get_tcp_port (responder);
  g_autoptr(GSocketAddress) server = loopback_address (port);
  Outcome o = { 0 };
  static const char garbage[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
  /* a STUN header claiming 65532 bytes: more than the responder buffers */
  static const guint8 huge[] = { 0x00, 0x01, 0xff, 0xfc, 0x21, 0x12, 0xa4, 0x42,
                                 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
  /* a well-framed message that fails validation: attribute overruns */
  static const guint8 bad[] = { 0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42,
                                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                0x80, 0x22, 0x00, 0x40 };
  struct { const guint8 *data; gsize len; } cases[] = {
    { (const guint8 *) garbage, sizeof garbage - 1 },
    { huge, sizeof huge },
    { bad, sizeof bad },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GSocket) socket = tcp_connect (port);
      g_autoptr(GError) error = NULL;

      g_socket_send (socket, (const char *) cases[i].data, cases[i].len, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (tcp_closed_by_peer (socket));
    }

  pinhole_stun_client_binding_tcp_async (server, NULL, NULL, tcp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  g_assert_nonnull (o.result->mapped_address);
  outcome_clear (&o);
}

/* two requests in one segment, the second split across two writes: two answers in order */
static void
test_responder_tcp_stream (void)
{
  g_autoptr(PinholeStunResponder) responder = start_responder ();
  g_autoptr(GSocket) socket = tcp_connect (pinhole_stun_responder_get_tcp_port (responder));
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GByteArray) in = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  PinholeStunMessage *requests[3];
  guint answered = 0;

  for (guint i = 0; i < G_N_ELEMENTS (requests); i++)
    {
      g_autoptr(GBytes) bytes = NULL;

      requests[i] = pinhole_stun_message_new (PINHOLE_STUN_CLASS_REQUEST,
                                              PINHOLE_STUN_METHOD_BINDING, NULL);
      pinhole_stun_message_set_random_transaction_id (requests[i]);
      bytes = pinhole_stun_message_encode (requests[i], NULL, 0, TRUE, &error);
      g_assert_no_error (error);
      g_byte_array_append (out, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    }
  g_socket_send (socket, (const char *) out->data, out->len - 5, NULL, &error);
  g_assert_no_error (error);

  for (guint round = 0; round < 32 && answered < G_N_ELEMENTS (requests); round++)
    {
      guint8 buffer[512];
      gssize n;

      if (round == 1)
        {
          g_socket_send (socket, (const char *) out->data + out->len - 5, 5, NULL, &error);
          g_assert_no_error (error);
        }
      wait_readable (socket);
      n = g_socket_receive (socket, (char *) buffer, sizeof buffer, NULL, &error);
      if (n < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          g_clear_error (&error);
          continue;
        }
      g_assert_cmpint (n, >, 0);
      g_byte_array_append (in, buffer, (guint) n);
      while (in->len >= PINHOLE_STUN_HEADER_LEN)
        {
          gsize total = PINHOLE_STUN_HEADER_LEN + (gsize) (in->data[2] << 8 | in->data[3]);
          g_autoptr(PinholeStunMessage) reply = NULL;

          if (in->len < total)
            break;
          reply = pinhole_stun_message_decode (in->data, total, &error);
          g_assert_no_error (error);
          g_assert_cmpint (reply->klass, ==, PINHOLE_STUN_CLASS_SUCCESS);
          g_assert_cmpmem (reply->transaction_id, 12, requests[answered]->transaction_id, 12);
          assert_loopback (reply->xor_mapped_address, local_port (socket));
          g_byte_array_remove_range (in, 0, (guint) total);
          answered++;
        }
    }
  g_assert_cmpuint (answered, ==, G_N_ELEMENTS (requests));
  for (guint i = 0; i < G_N_ELEMENTS (requests); i++)
    pinhole_stun_message_free (requests[i]);
}

static void
test_responder_limits (void)
{
  g_autoptr(PinholeStunResponder) responder = start_responder ();
  guint16 port = pinhole_stun_responder_get_tcp_port (responder);
  g_autoptr(GSocket) first = NULL;
  g_autoptr(GSocket) second = NULL;
  g_autoptr(GSocket) third = NULL;
  gboolean never = FALSE;

  pinhole_stun_responder_set_max_connections (responder, 2);
  pinhole_stun_responder_set_idle_timeout_ms (responder, 300);
  first = tcp_connect (port);
  second = tcp_connect (port);
  /* let the responder accept both */
  for (guint i = 0; i < 100 && pinhole_stun_responder_get_n_connections (responder) < 2; i++)
    ph_wait_flag (&never, 10);
  g_assert_cmpuint (pinhole_stun_responder_get_n_connections (responder), ==, 2);

  /* over the limit: closed at once */
  third = tcp_connect (port);
  g_assert_true (tcp_closed_by_peer (third));
  g_assert_cmpuint (pinhole_stun_responder_get_n_connections (responder), ==, 2);

  /* idle: both closed after the timeout */
  g_assert_true (tcp_closed_by_peer (first));
  g_assert_true (tcp_closed_by_peer (second));
  g_assert_cmpuint (pinhole_stun_responder_get_n_connections (responder), ==, 0);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/stun/client/udp", test_udp_own_socket);
  g_test_add_func ("/stun/client/udp-new-socket", test_udp_new_socket);
  g_test_add_func ("/stun/client/tcp", test_tcp);
  g_test_add_func ("/stun/client/retransmit", test_retransmit);
  g_test_add_func ("/stun/client/timeout", test_timeout);
  g_test_add_func ("/stun/client/cancel-udp", test_cancel_udp);
  g_test_add_func ("/stun/client/cancel-tcp", test_cancel_tcp);
  g_test_add_func ("/stun/client/tcp-timeout", test_tcp_timeout);
  g_test_add_func ("/stun/client/credentials", test_credentials);
  g_test_add_func ("/stun/responder/success-attributes", test_responder_success_attributes);
  g_test_add_func ("/stun/responder/unknown-attribute-420", test_responder_420);
  g_test_add_func ("/stun/responder/garbage-udp", test_responder_garbage_udp);
  g_test_add_func ("/stun/responder/garbage-tcp", test_responder_garbage_tcp);
  g_test_add_func ("/stun/responder/tcp-stream", test_responder_tcp_stream);
  g_test_add_func ("/stun/responder/limits", test_responder_limits);

  return g_test_run ();
}
