/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-stun-responder.c: PinholeStunResponder on 127.0.0.1 as raw sockets and our client see
 * it: the attributes of a success, 420 for an unknown attribute, garbage over UDP and TCP, a
 * TCP stream of requests, and its limits. */
#include "pinhole-error.h"
#include "pinhole-stun-client.h"
#include "pinhole-stun-message.h"
#include "pinhole-stun-responder.h"
#include "pinhole-test-stun.h"
#include "pinhole-test-util.h"

#include <string.h>
#include <sys/socket.h>

#define WAIT_MS 10000

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
  g_autoptr(PinholeStunResponder) responder = pinhole_test_start_responder ();
  g_autoptr(GSocket) socket = pinhole_test_udp_socket ();
  g_autoptr(GSocketAddress) server =
    pinhole_test_loopback_address (pinhole_stun_responder_get_udp_port (responder));
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
  g_autoptr(PinholeStunResponder) responder = pinhole_test_start_responder ();
  g_autoptr(GSocket) socket = pinhole_test_udp_socket ();
  g_autoptr(GSocketAddress) server =
    pinhole_test_loopback_address (pinhole_stun_responder_get_udp_port (responder));
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
  pinhole_test_assert_loopback (reply->xor_mapped_address, pinhole_test_local_port (socket));
}

static void
test_responder_garbage_udp (void)
{
  g_autoptr(PinholeStunResponder) responder = pinhole_test_start_responder ();
  g_autoptr(GSocket) socket = pinhole_test_udp_socket ();
  g_autoptr(GSocketAddress) server =
    pinhole_test_loopback_address (pinhole_stun_responder_get_udp_port (responder));
  g_autoptr(GRand) rand = g_rand_new_with_seed (5769);
  PinholeTestOutcome o = { 0 };
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
  pinhole_stun_client_binding_udp_async (socket, server, NULL, NULL, pinhole_test_udp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  pinhole_test_assert_loopback (o.result->mapped_address, pinhole_test_local_port (socket));
  pinhole_test_outcome_clear (&o);
}

static GSocket *
tcp_connect (guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) server = pinhole_test_loopback_address (port);

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
  g_autoptr(PinholeStunResponder) responder = pinhole_test_start_responder ();
  guint16 port = pinhole_stun_responder_get_tcp_port (responder);
  g_autoptr(GSocketAddress) server = pinhole_test_loopback_address (port);
  PinholeTestOutcome o = { 0 };
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

  pinhole_stun_client_binding_tcp_async (server, NULL, NULL, pinhole_test_tcp_done_cb, &o);
  g_assert_true (ph_wait_flag (&o.done, WAIT_MS));
  g_assert_no_error (o.error);
  g_assert_nonnull (o.result->mapped_address);
  pinhole_test_outcome_clear (&o);
}

/* two requests in one segment, the second split across two writes: two answers in order */
static void
test_responder_tcp_stream (void)
{
  g_autoptr(PinholeStunResponder) responder = pinhole_test_start_responder ();
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
          pinhole_test_assert_loopback (reply->xor_mapped_address,
                                        pinhole_test_local_port (socket));
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
  g_autoptr(PinholeStunResponder) responder = pinhole_test_start_responder ();
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

  g_test_add_func ("/stun/responder/success-attributes", test_responder_success_attributes);
  g_test_add_func ("/stun/responder/unknown-attribute-420", test_responder_420);
  g_test_add_func ("/stun/responder/garbage-udp", test_responder_garbage_udp);
  g_test_add_func ("/stun/responder/garbage-tcp", test_responder_garbage_tcp);
  g_test_add_func ("/stun/responder/tcp-stream", test_responder_tcp_stream);
  g_test_add_func ("/stun/responder/limits", test_responder_limits);

  return g_test_run ();
}
