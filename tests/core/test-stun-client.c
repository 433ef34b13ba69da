/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-stun-client.c: the STUN Binding client against PinholeStunResponder and against scripted
 * raw sockets on 127.0.0.1: retransmission, timeout, cancellation, credentials. The responder's
 * own tests are test-stun-responder.c. */
#include "pinhole-error.h"
#include "pinhole-stun-client.h"
#include "pinhole-stun-message.h"
#include "pinhole-stun-responder.h"
#include "pinhole-test-stun.h"
#include "pinhole-test-util.h"

#include <string.h>
#include <sys/socket.h>

#define WAIT_MS 10000

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
  g_autoptr(PinholeStunResponder) responder = pinhole_test_start_responder ();
  g_autoptr(GSocket) socket = pinhole_test_udp_socket ();
  g_autoptr(GSocketAddress) server =
    pinhole_test_loopback_address (pinhole_stun_responder_get_udp_port (responder));
  PinholeTestOutcome o = { 0 };

  pinhole_stun_client_binding_udp_async (socket, server, NULL, NULL, pinhole_test_udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  pinhole_test_assert_loopback (o.result->mapped_address, pinhole_test_local_port (socket));
  pinhole_test_assert_loopback (o.result->local_address, pinhole_test_local_port (socket));
  pinhole_test_assert_loopback (o.result->server_address,
                                pinhole_stun_responder_get_udp_port (responder));
  g_assert_cmpuint (o.result->requests_sent, ==, 1);
  g_assert_null (o.result->other_address);
  pinhole_test_outcome_clear (&o);

  /* the same socket again: the port the next user (hole punching) inherits is the same */
  pinhole_stun_client_binding_udp_async (socket, server, NULL, NULL, pinhole_test_udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  pinhole_test_assert_loopback (o.result->mapped_address, pinhole_test_local_port (socket));
  pinhole_test_outcome_clear (&o);
}

static void
test_udp_new_socket (void)
{
  g_autoptr(PinholeStunResponder) responder = pinhole_test_start_responder ();
  g_autoptr(GSocketAddress) server =
    pinhole_test_loopback_address (pinhole_stun_responder_get_udp_port (responder));
  PinholeTestOutcome o = { 0 };

  pinhole_stun_client_binding_udp_async (NULL, server, NULL, NULL, pinhole_test_udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  g_assert_nonnull (o.result->local_address);
  pinhole_test_assert_loopback (o.result->mapped_address,
                                g_inet_socket_address_get_port (o.result->local_address));
  pinhole_test_outcome_clear (&o);
}

static void
test_tcp (void)
{
  g_autoptr(PinholeStunResponder) responder = pinhole_test_start_responder ();
  g_autoptr(GSocketAddress) server =
    pinhole_test_loopback_address (pinhole_stun_responder_get_tcp_port (responder));
  g_autoptr(PinholeStunClientOptions) options = fast_options ();
  g_autoptr(GSocket) holder = NULL;
  g_autoptr(GSocketAddress) any_port = NULL;
  g_autoptr(GError) error = NULL;
  PinholeTestOutcome o = { 0 };
  guint16 port;

  pinhole_stun_client_binding_tcp_async (server, NULL, NULL, pinhole_test_tcp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  g_assert_nonnull (o.result->local_address);
  port = g_inet_socket_address_get_port (o.result->local_address);
  pinhole_test_assert_loopback (o.result->mapped_address, port);
  pinhole_test_assert_loopback (o.result->server_address,
                                pinhole_stun_responder_get_tcp_port (responder));
  pinhole_test_outcome_clear (&o);

  /* bound to a chosen port with SO_REUSEPORT, while another socket holds that port the way
   * a simultaneous-open socket will: twice in a row from the same port */
  holder = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  g_assert_no_error (error);
  g_socket_set_option (holder, SOL_SOCKET, SO_REUSEADDR, 1, &error);
  g_assert_no_error (error);
  g_socket_set_option (holder, SOL_SOCKET, SO_REUSEPORT, 1, &error);
  g_assert_no_error (error);
  any_port = pinhole_test_loopback_address (0);
  g_assert_true (g_socket_bind (holder, any_port, TRUE, &error));
  g_assert_no_error (error);
  port = pinhole_test_local_port (holder);
  options->tcp_local_address = pinhole_test_loopback_address (port);
  /* the second time to another server: the first connection's 4-tuple is in TIME_WAIT */
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(PinholeStunResponder) other = pinhole_test_start_responder ();
      g_autoptr(GSocketAddress) other_server =
        pinhole_test_loopback_address (pinhole_stun_responder_get_tcp_port (other));

      pinhole_stun_client_binding_tcp_async (i == 0 ? server : other_server, options, NULL,
                                             pinhole_test_tcp_done_cb, &o);
      g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
      g_assert_no_error (o.error);
      pinhole_test_assert_loopback (o.result->mapped_address, port);
      pinhole_test_assert_loopback (o.result->local_address, port);
      pinhole_test_outcome_clear (&o);
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
  reply->other_address = G_INET_SOCKET_ADDRESS (pinhole_test_loopback_address (3479));
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
  fake->socket = pinhole_test_udp_socket ();
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
  g_autoptr(GSocket) socket = pinhole_test_udp_socket ();
  g_autoptr(GSocketAddress) server = NULL;
  PinholeTestOutcome o = { 0 };

  fake_start (&fake);
  server = pinhole_test_loopback_address (pinhole_test_local_port (fake.socket));
  pinhole_stun_client_binding_udp_async (socket, server, options, NULL, pinhole_test_udp_done_cb,
                                         &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  g_assert_cmpuint (fake.received, ==, 3);
  g_assert_cmpuint (o.result->requests_sent, ==, 3);
  pinhole_test_assert_loopback (o.result->mapped_address, pinhole_test_local_port (socket));
  pinhole_test_assert_loopback (o.result->other_address, 3479);
  pinhole_test_outcome_clear (&o);
  fake_stop (&fake);
}

static void
test_timeout (void)
{
  FakeServer fake = { .silent = TRUE };
  g_autoptr(PinholeStunClientOptions) options = fast_options ();
  g_autoptr(GSocketAddress) server = NULL;
  PinholeTestOutcome o = { 0 };
  gint64 start, elapsed_ms, expected_ms;

  options->rto_ms = 10;
  /* §6.2.1: requests at 0, RTO, 3 RTO, ... 63 RTO, then the last wait of Rm * RTO */
  expected_ms = 10 * (1 + 2 + 4 + 8 + 16 + 32) + 16 * 10;
  fake_start (&fake);
  server = pinhole_test_loopback_address (pinhole_test_local_port (fake.socket));
  start = g_get_monotonic_time ();
  pinhole_stun_client_binding_udp_async (NULL, server, options, NULL, pinhole_test_udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_error (o.error, PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT);
  g_assert_null (o.result);
  elapsed_ms = (o.finished_us - start) / 1000;
  g_test_message ("timed out after %" G_GINT64_FORMAT " ms", elapsed_ms);
  g_assert_cmpint (elapsed_ms, >=, expected_ms);
  g_assert_cmpint (elapsed_ms, <, expected_ms + 3000);
  g_assert_cmpuint (fake.received, ==, 7);
  pinhole_test_outcome_clear (&o);
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
  PinholeTestOutcome o = { 0 };

  fake_start (&fake);
  server = pinhole_test_loopback_address (pinhole_test_local_port (fake.socket));
  pinhole_stun_client_binding_udp_async (NULL, server, options, cancellable,
                                         pinhole_test_udp_done_cb, &o);
  g_timeout_add_once (50, cancel_cb, cancellable);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (fake.received, >=, 1);
  pinhole_test_outcome_clear (&o);

  /* already cancelled */
  pinhole_stun_client_binding_udp_async (NULL, server, options, cancellable,
                                         pinhole_test_udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  pinhole_test_outcome_clear (&o);
  fake_stop (&fake);
}

/* a TCP listener that never accepts: the kernel completes the handshake, nobody answers */
static GSocket *
silent_tcp_listener (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) local = pinhole_test_loopback_address (0);

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
  g_autoptr(GSocketAddress) server =
    pinhole_test_loopback_address (pinhole_test_local_port (listener));
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  PinholeTestOutcome o = { 0 };

  pinhole_stun_client_binding_tcp_async (server, NULL, cancellable, pinhole_test_tcp_done_cb, &o);
  g_timeout_add_once (50, cancel_cb, cancellable);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  pinhole_test_outcome_clear (&o);
}

static void
test_tcp_timeout (void)
{
  g_autoptr(GSocket) listener = silent_tcp_listener ();
  g_autoptr(GSocketAddress) server =
    pinhole_test_loopback_address (pinhole_test_local_port (listener));
  g_autoptr(PinholeStunClientOptions) options = fast_options ();
  PinholeTestOutcome o = { 0 };
  gint64 start = g_get_monotonic_time ();

  options->tcp_timeout_ms = 200;
  pinhole_stun_client_binding_tcp_async (server, options, NULL, pinhole_test_tcp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_error (o.error, PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT);
  g_assert_cmpint ((o.finished_us - start) / 1000, >=, 200);
  pinhole_test_outcome_clear (&o);
}

static void
test_credentials (void)
{
  FakeServer fake = { .password = "s3cret", .expect_password = "s3cret" };
  g_autoptr(PinholeStunClientOptions) options = fast_options ();
  g_autoptr(GSocketAddress) server = NULL;
  PinholeTestOutcome o = { 0 };

  options->username = g_strdup ("bob:alice");
  options->password = g_strdup ("s3cret");
  options->software = g_strdup ("pinhole-test");
  fake_start (&fake);
  server = pinhole_test_loopback_address (pinhole_test_local_port (fake.socket));
  pinhole_stun_client_binding_udp_async (NULL, server, options, NULL, pinhole_test_udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  g_assert_cmpuint (fake.verified, ==, 1);
  g_assert_cmpstr (fake.username, ==, "bob:alice");
  pinhole_test_outcome_clear (&o);

  /* responses under another key are discarded as if never received (RFC 8489 §9.1.4) */
  fake.password = "other";
  options->rto_ms = 5;
  options->rc = 3;
  pinhole_stun_client_binding_udp_async (NULL, server, options, NULL, pinhole_test_udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_error (o.error, PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT);
  pinhole_test_outcome_clear (&o);

  /* and so are responses without MESSAGE-INTEGRITY */
  fake.password = NULL;
  pinhole_stun_client_binding_udp_async (NULL, server, options, NULL, pinhole_test_udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_error (o.error, PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT);
  pinhole_test_outcome_clear (&o);
  fake_stop (&fake);
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

  return g_test_run ();
}
