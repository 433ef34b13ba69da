/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-udp-path.c: PinholeUdpPath over real UDP sockets on 127.0.0.1, the test standing between
 * each socket and its path to drop and reorder datagrams and to check none looks like STUN. */
#include <pseudotcp.h>
#include <string.h>
#include <sys/socket.h>

#include "pinhole-error.h"
#include "pinhole-stun-message.h"
#include "pinhole-udp-path.h"
#include "pinhole-test-util.h"

#define MAX_ITERATIONS 20000000

#define N_MANY 2000
#define MANY_MAX_SIZE (32 * 1024)
/* PseudoTcp waits at least 1 s for each retransmission timeout, several a second at 5% loss:
 * the lossy run carries chat-sized packets */
#define N_LOSSY 400
#define LOSSY_MAX_SIZE 2048
#define SEND_WINDOW (1024 * 1024)
#define MAX_DATAGRAMS_PER_WAKEUP 256

typedef struct
{
  /* owned */
  GSocket         *socket;
  GSocketAddress  *address;       /* where the socket is bound */
  GSource         *source;
  PinholeUdpPath  *path;          /* gets what arrives on socket, unless raw is set */
  PseudoTcpSocket *raw;           /* a bare PseudoTcp peer instead of a path */
  GRand           *rand;
  GByteArray      *held;          /* a datagram held back to reorder it, or NULL */
  guint            held_timer;    /* releases held if no other datagram comes first */
  GPtrArray       *received;      /* GBytes from the path, unless drop_received */
  GError          *closed_error;

  /* faults on datagrams arriving here, in percent */
  guint            drop_percent;
  guint            reorder_percent;

  guint            n_datagrams;
  guint            n_dropped;
  guint            n_reordered;
  guint            n_not_conversation; /* datagrams that could be taken for STUN */
  guint            n_received;
  guint            n_closed;
  guint            n_connected_notify;
  gboolean         drop_received;
  /* the many-packets check */
  guint32          peer_seed;
  guint            n_expected;
  guint            n_ok;
  guint            n_bad;
} Side;

/* ---- helpers ---- */


static void
deliver (Side         *side,
         const guint8 *data,
         gsize         len)
{
  if (side->raw != NULL)
    pseudo_tcp_socket_notify_packet (side->raw, (const gchar *) data, (guint32) len);
  else if (side->path != NULL)
    pinhole_udp_path_receive (side->path, data, len);
}

static gboolean
release_held_cb (gpointer user_data)
{
  Side *side = user_data;
  g_autoptr(GByteArray) held = g_steal_pointer (&side->held);

  side->held_timer = 0;
  deliver (side, held->data, held->len);
  return G_SOURCE_REMOVE;
}

/* the socket's owner: every datagram is checked, maybe dropped or held back, then handed on */
static gboolean
socket_readable_cb (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      user_data)
{
  Side *side = user_data;
  guint8 buf[65536];

  for (guint i = 0; i < MAX_DATAGRAMS_PER_WAKEUP; i++)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_receive_from (socket, NULL, (gchar *) buf, sizeof buf, NULL, &error);

      if (n < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          break;
        }
      side->n_datagrams++;
      if (pinhole_stun_message_looks_like_stun (buf, (gsize) n) || n < 4 ||
          (buf[0] & 0xC0) == 0)
        side->n_not_conversation++;

      if (g_rand_int_range (side->rand, 0, 100) < (gint32) side->drop_percent)
        {
          side->n_dropped++;
          continue;
        }
      if (side->held == NULL &&
          g_rand_int_range (side->rand, 0, 100) < (gint32) side->reorder_percent)
        {
          side->held = g_byte_array_new ();
          g_byte_array_append (side->held, buf, (guint) n);
          side->held_timer = g_timeout_add (2, release_held_cb, side);
          side->n_reordered++;
          continue;
        }
      deliver (side, buf, (gsize) n);
      if (side->held != NULL)
        {
          g_autoptr(GByteArray) held = g_steal_pointer (&side->held);

          g_clear_handle_id (&side->held_timer, g_source_remove);
          deliver (side, held->data, held->len);
        }
    }
  return G_SOURCE_CONTINUE;
}

static void
side_init (Side   *side,
           guint32 seed)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GError) error = NULL;

  memset (side, 0, sizeof *side);
  side->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                               G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (side->socket, FALSE);
  /* the kernel caps this at net.core.rmem_max; a smaller buffer only means more loss */
  g_socket_set_option (side->socket, SOL_SOCKET, SO_RCVBUF, 4 * 1024 * 1024, NULL);
  g_assert_true (g_socket_bind (side->socket, any, FALSE, &error));
  g_assert_no_error (error);
  side->address = g_socket_get_local_address (side->socket, &error);
  g_assert_no_error (error);
  side->source = g_socket_create_source (side->socket, G_IO_IN, NULL);
  g_source_set_callback (side->source, G_SOURCE_FUNC (socket_readable_cb), side, NULL);
  g_source_attach (side->source, NULL);
  side->rand = g_rand_new_with_seed (seed);
  side->received = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

static void
side_clear (Side *side)
{
  if (side->path != NULL)
    g_signal_handlers_disconnect_by_data (side->path, side);
  g_clear_object (&side->path);
  g_clear_object (&side->raw);
  g_clear_handle_id (&side->held_timer, g_source_remove);
  g_source_destroy (side->source);
  g_clear_pointer (&side->source, g_source_unref);
  g_clear_object (&side->address);
  g_clear_object (&side->socket);
  g_clear_pointer (&side->rand, g_rand_free);
  g_clear_pointer (&side->held, g_byte_array_unref);
  g_clear_pointer (&side->received, g_ptr_array_unref);
  g_clear_error (&side->closed_error);
}

static guint max_size = MANY_MAX_SIZE;

/* the bytes of packet @i of the many-packets tests: its size and contents follow from @i */
static GBytes *
make_packet (guint32 seed,
             guint   i)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed ^ (i * 2654435761u));
  gsize size = (gsize) g_rand_int_range (rand, 1, (gint32) max_size + 1);
  guint8 *data = g_malloc (size);

  for (gsize j = 0; j < size; j++)
    data[j] = (guint8) g_rand_int (rand);
  return g_bytes_new_take (data, size);
}

static void
received_cb (PinholePath *path,
             GBytes      *packet,
             gpointer     user_data)
{
  Side *side = user_data;

  side->n_received++;
  if (side->peer_seed != 0)
    {
      g_autoptr(GBytes) expected = make_packet (side->peer_seed, side->n_expected++);

      if (g_bytes_equal (packet, expected))
        side->n_ok++;
      else
        side->n_bad++;
    }
  if (!side->drop_received)
    g_ptr_array_add (side->received, g_bytes_ref (packet));
}

static void
closed_cb (PinholePath  *path,
           const GError *error,
           gpointer      user_data)
{
  Side *side = user_data;

  side->n_closed++;
  g_clear_error (&side->closed_error);
  if (error != NULL)
    side->closed_error = g_error_copy (error);
}

static void
connected_cb (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  Side *side = user_data;

  side->n_connected_notify++;
}

/* a path on @side's socket towards @peer's */
static void
side_make_path (Side    *side,
                Side    *peer,
                gboolean initiator)
{
  side->path = pinhole_udp_path_new (side->socket, peer->address, PINHOLE_PATH_KIND_UDP_PUNCH,
                                     initiator);
  g_signal_connect (side->path, "received", G_CALLBACK (received_cb), side);
  g_signal_connect (side->path, "closed", G_CALLBACK (closed_cb), side);
  g_signal_connect (side->path, "notify::connected", G_CALLBACK (connected_cb), side);
}

typedef struct
{
  Side *a;
  Side *b;
} Pair;

static gboolean
both_connected (gpointer data)
{
  Pair *p = data;

  return pinhole_udp_path_is_connected (p->a->path) && pinhole_udp_path_is_connected (p->b->path);
}

static void
make_pair (Side *a,
           Side *b)
{
  Pair p = { a, b };

  side_init (a, 11);
  side_init (b, 22);
  side_make_path (a, b, TRUE);
  side_make_path (b, a, FALSE);
  g_assert_false (pinhole_udp_path_is_connected (a->path));
  g_assert_true (ph_iterate_until (both_connected, &p, 10000));
}

typedef struct
{
  Side *side;
  guint n;
} Count;

static gboolean
received_at_least (gpointer data)
{
  Count *c = data;

  return c->side->n_received >= c->n;
}

static gboolean
side_closed (gpointer data)
{
  return ((Side *) data)->n_closed > 0;
}

/* ---- tests ---- */

static void
test_conversation_not_stun (void)
{
  guint8 header[24] = { 0 };

  /* STUN's first two bits are zero (RFC 8489 §5); the conversation id's are not */
  g_assert_cmpuint (PINHOLE_UDP_PATH_CONVERSATION >> 30, !=, 0);
  /* even with the magic cookie where PseudoTcp puts its sequence number */
  header[0] = (guint8) (PINHOLE_UDP_PATH_CONVERSATION >> 24);
  header[1] = (guint8) (PINHOLE_UDP_PATH_CONVERSATION >> 16);
  header[2] = (guint8) (PINHOLE_UDP_PATH_CONVERSATION >> 8);
  header[3] = (guint8) PINHOLE_UDP_PATH_CONVERSATION;
  header[4] = 0x21;
  header[5] = 0x12;
  header[6] = 0xa4;
  header[7] = 0x42;
  g_assert_false (pinhole_stun_message_looks_like_stun (header, sizeof header));
}

static void
test_round_trip (void)
{
  Side a, b;
  g_autoptr(GBytes) hello = g_bytes_new_static ("hello", 5);
  g_autoptr(GBytes) world = g_bytes_new_static ("world!", 6);
  g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);
  g_autofree guint8 *big_data = g_malloc (PINHOLE_PATH_MAX_PACKET);
  g_autoptr(GBytes) big = NULL;
  g_autoptr(GError) error = NULL;
  Count to_b = { &b, 3 }, to_a = { &a, 1 };

  for (gsize i = 0; i < PINHOLE_PATH_MAX_PACKET; i++)
    big_data[i] = (guint8) (i * 7 + 3);
  big = g_bytes_new (big_data, PINHOLE_PATH_MAX_PACKET);

  make_pair (&a, &b);
  g_assert_cmpuint (a.n_connected_notify, ==, 1);
  g_assert_cmpuint (b.n_connected_notify, ==, 1);
  g_assert_cmpint (pinhole_path_get_kind (PINHOLE_PATH (a.path)), ==,
                   PINHOLE_PATH_KIND_UDP_PUNCH);
  {
    g_autofree char *expected =
      g_strdup_printf ("127.0.0.1:%u",
                       g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (b.address)));

    g_assert_cmpstr (pinhole_path_get_remote (PINHOLE_PATH (a.path)), ==, expected);
  }

  g_assert_true (pinhole_path_send (PINHOLE_PATH (a.path), hello, &error));
  g_assert_no_error (error);
  g_assert_true (pinhole_path_send (PINHOLE_PATH (a.path), empty, &error));
  g_assert_true (pinhole_path_send (PINHOLE_PATH (a.path), big, &error));
  g_assert_true (ph_iterate_until (received_at_least, &to_b, 10000));
  g_assert_true (g_bytes_equal (b.received->pdata[0], hello));
  g_assert_true (g_bytes_equal (b.received->pdata[1], empty));
  g_assert_true (g_bytes_equal (b.received->pdata[2], big));

  g_assert_true (pinhole_path_send (PINHOLE_PATH (b.path), world, &error));
  g_assert_true (ph_iterate_until (received_at_least, &to_a, 10000));
  g_assert_true (g_bytes_equal (a.received->pdata[0], world));

  g_assert_cmpuint (a.n_closed + b.n_closed, ==, 0);
  g_assert_cmpuint (a.n_datagrams, >, 0);
  g_assert_cmpuint (b.n_datagrams, >, 0);
  g_assert_cmpuint (a.n_not_conversation + b.n_not_conversation, ==, 0);
  side_clear (&a);
  side_clear (&b);
}

typedef struct
{
  Side *a;
  Side *b;
  guint n;
} Many;

static gboolean
many_done (Many *m)
{
  return (m->a->n_expected >= m->n && m->b->n_expected >= m->n) ||
         m->a->n_bad + m->b->n_bad > 0 || m->a->n_closed + m->b->n_closed > 0;
}

static void
many_fill (Side   *from,
           guint   n,
           guint  *next,
           guint32 seed)
{
  while (*next < n && pinhole_udp_path_get_queued_bytes (from->path) < SEND_WINDOW)
    {
      g_autoptr(GBytes) packet = make_packet (seed, *next);
      g_autoptr(GError) error = NULL;

      g_assert_true (pinhole_path_send (PINHOLE_PATH (from->path), packet, &error));
      g_assert_no_error (error);
      (*next)++;
    }
}

static void
run_many (guint n_packets,
          guint packet_max_size,
          guint drop_percent,
          guint reorder_percent)
{
  Side a, b;
  Many m = { &a, &b, n_packets };
  guint next_a = 0, next_b = 0, n = 0;
  gint64 start, deadline;

  max_size = packet_max_size;
  make_pair (&a, &b);
  a.drop_percent = b.drop_percent = drop_percent;
  a.reorder_percent = b.reorder_percent = reorder_percent;
  a.drop_received = b.drop_received = TRUE;
  a.peer_seed = 2;
  b.peer_seed = 1;

  start = g_get_monotonic_time ();
  deadline = start + 240 * G_USEC_PER_SEC;
  while (!many_done (&m) && g_get_monotonic_time () < deadline && n++ < MAX_ITERATIONS)
    {
      many_fill (&a, n_packets, &next_a, 1);
      many_fill (&b, n_packets, &next_b, 2);
      g_main_context_iteration (NULL, TRUE);
    }
  g_test_message ("%u packets each way in %.1f s; datagrams %u/%u, dropped %u/%u, "
                  "reordered %u/%u", n_packets,
                  (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC,
                  a.n_datagrams, b.n_datagrams, a.n_dropped, b.n_dropped, a.n_reordered,
                  b.n_reordered);
  /* nothing more may arrive: each packet exactly once */
  ph_iterate_for (300);

  g_assert_cmpuint (a.n_bad, ==, 0);
  g_assert_cmpuint (b.n_bad, ==, 0);
  g_assert_cmpuint (a.n_ok, ==, n_packets);
  g_assert_cmpuint (b.n_ok, ==, n_packets);
  g_assert_cmpuint (a.n_received, ==, n_packets);
  g_assert_cmpuint (b.n_received, ==, n_packets);
  g_assert_cmpuint (a.n_closed + b.n_closed, ==, 0);
  g_assert_cmpuint (a.n_not_conversation + b.n_not_conversation, ==, 0);
  if (drop_percent > 0)
    {
      g_assert_cmpuint (a.n_dropped, >, 0);
      g_assert_cmpuint (b.n_dropped, >, 0);
    }
  if (reorder_percent > 0)
    g_assert_cmpuint (a.n_reordered + b.n_reordered, >, 0);
  side_clear (&a);
  side_clear (&b);
}

static void
test_many (void)
{
  run_many (N_MANY, MANY_MAX_SIZE, 0, 0);
}

static void
test_lossy (void)
{
  run_many (N_LOSSY, LOSSY_MAX_SIZE, 5, 3);
}

static void
test_close (void)
{
  Side a, b;
  g_autoptr(GBytes) packet = g_bytes_new_static ("x", 1);
  g_autoptr(GError) error = NULL;

  make_pair (&a, &b);
  pinhole_path_close (PINHOLE_PATH (a.path));
  g_assert_cmpuint (a.n_closed, ==, 1);
  g_assert_null (a.closed_error);
  pinhole_path_close (PINHOLE_PATH (a.path));
  g_assert_cmpuint (a.n_closed, ==, 1);
  g_assert_false (pinhole_path_send (PINHOLE_PATH (a.path), packet, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED);

  /* the reset reaches the peer */
  g_assert_true (ph_iterate_until (side_closed, &b, 5000));
  g_assert_cmpuint (b.n_closed, ==, 1);
  g_assert_error (b.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED);
  ph_iterate_for (50);
  g_assert_cmpuint (a.n_closed, ==, 1);
  g_assert_cmpuint (b.n_closed, ==, 1);
  side_clear (&a);
  side_clear (&b);
}

static void
test_peer_unref (void)
{
  Side a, b;

  /* dropping a path without close() also resets the connection */
  make_pair (&a, &b);
  g_signal_handlers_disconnect_by_data (a.path, &a);
  g_clear_object (&a.path);
  g_assert_true (ph_iterate_until (side_closed, &b, 5000));
  g_assert_error (b.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED);
  side_clear (&a);
  side_clear (&b);
}

static void
test_queue_limit (void)
{
  Side a, b;
  g_autoptr(GBytes) packet = g_bytes_new_take (g_malloc0 (32768), 32768);
  g_autoptr(GBytes) oversized = g_bytes_new_take (g_malloc0 (PINHOLE_PATH_MAX_PACKET + 1),
                                                  PINHOLE_PATH_MAX_PACKET + 1);
  g_autoptr(GError) error = NULL;
  guint accepted = 0;

  /* no peer path: the connection never opens and everything stays queued */
  side_init (&a, 1);
  side_init (&b, 2);
  side_make_path (&a, &b, TRUE);
  g_assert_false (pinhole_path_send (PINHOLE_PATH (a.path), oversized, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
  g_clear_error (&error);
  for (guint i = 0; i < 1024 && error == NULL; i++)
    if (pinhole_path_send (PINHOLE_PATH (a.path), packet, &error))
      accepted++;
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
  g_assert_cmpuint (accepted, ==, PINHOLE_UDP_PATH_MAX_QUEUED / (32768 + 4));
  g_assert_cmpuint (pinhole_udp_path_get_queued_bytes (a.path), <=, PINHOLE_UDP_PATH_MAX_QUEUED);
  g_assert_false (pinhole_udp_path_is_connected (a.path));
  g_assert_cmpuint (a.n_closed, ==, 0);
  side_clear (&a);
  side_clear (&b);
}

/* ---- a bare PseudoTcp peer, to send what a path never would ---- */

static PseudoTcpWriteResult
raw_write_cb (PseudoTcpSocket *ptcp,
              const gchar     *buffer,
              guint32          len,
              gpointer         data)
{
  Side *side = data;
  GSocketAddress *to = g_object_get_data (G_OBJECT (ptcp), "to");

  g_socket_send_to (side->socket, to, buffer, len, NULL, NULL);
  return WR_SUCCESS;
}

static void
raw_opened_cb (PseudoTcpSocket *ptcp,
               gpointer         data)
{
  g_object_set_data (G_OBJECT (ptcp), "opened", GINT_TO_POINTER (TRUE));
}

static gboolean
raw_clock_cb (gpointer data)
{
  Side *side = data;

  if (side->raw != NULL)
    pseudo_tcp_socket_notify_clock (side->raw);
  return G_SOURCE_CONTINUE;
}

static gboolean
raw_opened (gpointer data)
{
  Side *side = data;

  return g_object_get_data (G_OBJECT (side->raw), "opened") != NULL;
}

static void
test_oversized_frame (void)
{
  Side a, b;
  PseudoTcpCallbacks callbacks = { 0 };
  static const guint8 header[4] = { 0x00, 0x01, 0x00, 0x01 };
  guint clock;

  side_init (&a, 1);
  side_init (&b, 2);
  callbacks.user_data = &b;
  callbacks.PseudoTcpOpened = raw_opened_cb;
  callbacks.WritePacket = raw_write_cb;
  b.raw = pseudo_tcp_socket_new (PINHOLE_UDP_PATH_CONVERSATION, &callbacks);
  g_object_set_data (G_OBJECT (b.raw), "to", a.address);
  clock = g_timeout_add (5, raw_clock_cb, &b);
  side_make_path (&a, &b, TRUE);

  g_assert_true (ph_iterate_until (raw_opened, &b, 10000));
  g_assert_cmpint (pseudo_tcp_socket_send (b.raw, (const char *) header, sizeof header), ==,
                   sizeof header);
  g_assert_true (ph_iterate_until (side_closed, &a, 10000));
  g_assert_cmpuint (a.n_closed, ==, 1);
  g_assert_error (a.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_assert_cmpuint (a.n_received, ==, 0);
  g_source_remove (clock);
  side_clear (&a);
  side_clear (&b);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/path/udp/conversation-not-stun", test_conversation_not_stun);
  g_test_add_func ("/path/udp/round-trip", test_round_trip);
  g_test_add_func ("/path/udp/many", test_many);
  g_test_add_func ("/path/udp/lossy", test_lossy);
  g_test_add_func ("/path/udp/close", test_close);
  g_test_add_func ("/path/udp/peer-unref", test_peer_unref);
  g_test_add_func ("/path/udp/queue-limit", test_queue_limit);
  g_test_add_func ("/path/udp/oversized-frame", test_oversized_frame);

  return g_test_run ();
}
