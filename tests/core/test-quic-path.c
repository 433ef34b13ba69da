/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-quic-path.c: PinholeQuicPath over real UDP sockets on 127.0.0.1, the test standing
 * between each socket and its path to drop datagrams, to go silent, and to check that every
 * datagram is QUIC by its first byte and none looks like STUN. */
#include <string.h>
#include <sys/socket.h>

#include "pinhole-error.h"
#include "pinhole-quic-path.h"
#include "pinhole-stun-message.h"
#include "pinhole-test-util.h"

#define N_MANY 2000
#define MANY_MAX_SIZE (32 * 1024)
#define LARGE_BYTES (64 * 1024 * 1024)
#define MAX_DATAGRAMS_PER_WAKEUP 256

typedef struct
{
  /* owned */
  GSocket                *socket;
  GSocketAddress         *address;      /* where the socket is bound */
  GSource                *source;
  PinholeQuicCertificate *certificate;
  PinholeQuicPath        *path;         /* gets what arrives on socket */
  GRand                  *rand;
  GPtrArray              *received;     /* GBytes from the path, unless drop_received */
  GError                 *closed_error;

  guint                   drop_percent; /* of datagrams arriving here */
  gboolean                deaf;         /* drop every datagram arriving here */

  guint                   n_datagrams;
  guint                   n_dropped;
  guint                   n_not_quic;   /* datagrams the demux would take for STUN */
  guint                   n_fixed_bit_clear; /* QUIC packets greased (RFC 9287) */
  guint                   n_received;
  guint                   n_closed;
  guint                   n_connected_notify;
  guint                   n_drained;
  gboolean                drop_received;
  /* the many-packets check: packets from the peer follow from peer_seed */
  guint32                 peer_seed;
  guint                   n_expected;
  guint                   n_ok;
  guint                   n_bad;
  /* the large transfer: bytes received, and their running check */
  guint64                 large_bytes;
  guint32                 large_sum;
} Side;

/* ---- helpers ---- */

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
      if (pinhole_stun_message_looks_like_stun (buf, (gsize) n))
        side->n_not_quic++;
      if ((buf[0] & 0x40) == 0)
        side->n_fixed_bit_clear++;
      if (side->deaf || g_rand_int_range (side->rand, 0, 100) < (gint32) side->drop_percent)
        {
          side->n_dropped++;
          continue;
        }
      if (side->path != NULL)
        pinhole_quic_path_receive (side->path, buf, (gsize) n);
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
  side->certificate = pinhole_quic_certificate_new (&error);
  g_assert_no_error (error);
  side->rand = g_rand_new_with_seed (seed);
  side->received = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

static void
side_clear (Side *side)
{
  if (side->path != NULL)
    g_signal_handlers_disconnect_by_data (side->path, side);
  g_clear_object (&side->path);
  g_source_destroy (side->source);
  g_clear_pointer (&side->source, g_source_unref);
  g_clear_object (&side->address);
  g_clear_object (&side->socket);
  g_clear_object (&side->certificate);
  g_clear_pointer (&side->rand, g_rand_free);
  g_clear_pointer (&side->received, g_ptr_array_unref);
  g_clear_error (&side->closed_error);
}

/* the bytes of packet @i of the many-packets tests: its size and contents follow from @i */
static GBytes *
make_packet (guint32 seed,
             guint   i)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed ^ (i * 2654435761u));
  gsize size = (gsize) g_rand_int_range (rand, 1, MANY_MAX_SIZE + 1);
  guint8 *data = g_malloc (size);

  for (gsize j = 0; j < size; j++)
    data[j] = (guint8) g_rand_int (rand);
  return g_bytes_new_take (data, size);
}

/* a position-dependent check over a byte stream: a lost, repeated or reordered packet
 * changes it */
static guint32
stream_sum (guint32       sum,
            guint64       offset,
            const guint8 *data,
            gsize         len)
{
  for (gsize i = 0; i < len; i++)
    sum = sum * 31u + (guint32) data[i] + (guint32) ((offset + i) & 0xff);
  return sum;
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
  if (side->drop_received)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (packet, &len);

      side->large_sum = stream_sum (side->large_sum, side->large_bytes, data, len);
      side->large_bytes += len;
    }
  else
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
  ((Side *) user_data)->n_connected_notify++;
}

static void
drained_cb (PinholePath *path,
            gpointer     user_data)
{
  ((Side *) user_data)->n_drained++;
}

/* a path on @side's socket towards @peer's, expecting @peer_fingerprint */
static void
side_make_path (Side       *side,
                Side       *peer,
                gboolean    initiator,
                const char *peer_fingerprint)
{
  side->path = pinhole_quic_path_new (side->socket, peer->address, PINHOLE_PATH_KIND_UDP_PUNCH,
                                      initiator, side->certificate, peer_fingerprint);
  g_signal_connect (side->path, "received", G_CALLBACK (received_cb), side);
  g_signal_connect (side->path, "closed", G_CALLBACK (closed_cb), side);
  g_signal_connect (side->path, "drained", G_CALLBACK (drained_cb), side);
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

  return pinhole_quic_path_is_connected (p->a->path) &&
         pinhole_quic_path_is_connected (p->b->path);
}

static gboolean
both_closed (gpointer data)
{
  Pair *p = data;

  return p->a->n_closed > 0 && p->b->n_closed > 0;
}

static void
make_pair (Side *a,
           Side *b)
{
  Pair p = { a, b };

  side_init (a, 11);
  side_init (b, 22);
  side_make_path (a, b, TRUE, pinhole_quic_certificate_get_fingerprint (b->certificate));
  side_make_path (b, a, FALSE, pinhole_quic_certificate_get_fingerprint (a->certificate));
  g_assert_false (pinhole_quic_path_is_connected (a->path));
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
test_certificate (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeQuicCertificate) one = pinhole_quic_certificate_new (&error);
  g_autoptr(PinholeQuicCertificate) two = pinhole_quic_certificate_new (&error);
  const char *fp = pinhole_quic_certificate_get_fingerprint (one);

  g_assert_no_error (error);
  /* 32 bytes as "AB:" pairs */
  g_assert_cmpuint (strlen (fp), ==, 32 * 3 - 1);
  g_assert_cmpint (fp[2], ==, ':');
  g_assert_cmpstr (fp, !=, pinhole_quic_certificate_get_fingerprint (two));
}

static void
test_round_trip (void)
{
  static const gsize sizes[] = { 1, 2, 5, 100, 1199, 1200, 1500, 4096, 16384, 65535,
                                 PINHOLE_PATH_MAX_PACKET };
  Side a, b;
  g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GError) error = NULL;
  Count to_b = { &b, G_N_ELEMENTS (sizes) }, to_a = { &a, G_N_ELEMENTS (sizes) };

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

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      guint8 *data = g_malloc (sizes[i]);

      for (gsize j = 0; j < sizes[i]; j++)
        data[j] = (guint8) (j * 7 + i);
      g_ptr_array_add (sent, g_bytes_new_take (data, sizes[i]));
    }
  /* the server sends first: it must not wait for the client's data to learn of the stream */
  for (guint i = 0; i < sent->len; i++)
    {
      g_assert_true (pinhole_path_send (PINHOLE_PATH (b.path), sent->pdata[i], &error));
      g_assert_no_error (error);
    }
  g_assert_true (ph_iterate_until (received_at_least, &to_a, 10000));
  for (guint i = 0; i < sent->len; i++)
    g_assert_true (pinhole_path_send (PINHOLE_PATH (a.path), sent->pdata[sent->len - 1 - i],
                                      &error));
  g_assert_true (ph_iterate_until (received_at_least, &to_b, 10000));
  ph_iterate_for (100);
  g_assert_cmpuint (a.received->len, ==, sent->len);
  g_assert_cmpuint (b.received->len, ==, sent->len);
  for (guint i = 0; i < sent->len; i++)
    {
      g_assert_true (g_bytes_equal (a.received->pdata[i], sent->pdata[i]));
      g_assert_true (g_bytes_equal (b.received->pdata[i], sent->pdata[sent->len - 1 - i]));
    }
  g_assert_cmpuint (a.n_closed + b.n_closed, ==, 0);
  g_assert_cmpuint (a.n_not_quic + b.n_not_quic, ==, 0);
  g_assert_cmpuint (a.n_datagrams, >, 0);
  g_test_message ("%u of %u datagrams with the fixed bit clear", a.n_fixed_bit_clear +
                  b.n_fixed_bit_clear, a.n_datagrams + b.n_datagrams);

  /* an oversized packet is refused, not sent */
  {
    g_autoptr(GBytes) too_big = g_bytes_new_take (g_malloc0 (PINHOLE_PATH_MAX_PACKET + 1),
                                                  PINHOLE_PATH_MAX_PACKET + 1);

    g_assert_false (pinhole_path_send (PINHOLE_PATH (a.path), too_big, &error));
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
  }
  side_clear (&a);
  side_clear (&b);
}

/* @refusing pins a certificate that is not its peer's */
static void
check_wrong_fingerprint (gboolean client_refuses)
{
  Side a, b;
  Pair p = { &a, &b };
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeQuicCertificate) other = pinhole_quic_certificate_new (&error);
  g_autoptr(GBytes) hello = g_bytes_new_static ("hello", 5);
  const char *wrong = pinhole_quic_certificate_get_fingerprint (other);

  side_init (&a, 11);
  side_init (&b, 22);
  side_make_path (&a, &b, TRUE, client_refuses
                  ? wrong : pinhole_quic_certificate_get_fingerprint (b.certificate));
  side_make_path (&b, &a, FALSE, client_refuses
                  ? pinhole_quic_certificate_get_fingerprint (a.certificate) : wrong);
  /* queued before the handshake: must never arrive */
  g_assert_true (pinhole_path_send (PINHOLE_PATH (a.path), hello, NULL));
  g_assert_true (pinhole_path_send (PINHOLE_PATH (b.path), hello, NULL));
  g_assert_true (ph_iterate_until (both_closed, &p, 5000));
  ph_iterate_for (100);
  g_assert_cmpuint (a.n_closed, ==, 1);
  g_assert_cmpuint (b.n_closed, ==, 1);
  g_assert_error (a.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_CERTIFICATE);
  g_assert_error (b.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_CERTIFICATE);
  g_test_message ("client: %s; server: %s", a.closed_error->message, b.closed_error->message);
  g_assert_cmpuint (a.n_received + b.n_received, ==, 0);
  g_assert_cmpuint (a.n_connected_notify + b.n_connected_notify, ==, 0);
  g_assert_false (pinhole_path_send (PINHOLE_PATH (a.path), hello, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED);
  side_clear (&a);
  side_clear (&b);
}

static void
test_wrong_fingerprint_client (void)
{
  check_wrong_fingerprint (TRUE);
}

static void
test_wrong_fingerprint_server (void)
{
  check_wrong_fingerprint (FALSE);
}

typedef struct
{
  Side *a;
  Side *b;
  guint n;
} Many;

static gboolean
many_done (gpointer data)
{
  Many *m = data;

  return m->a->n_received >= m->n && m->b->n_received >= m->n;
}

/* @n numbered packets each way at once, sent as the queues allow */
static void
run_many (guint drop_percent,
          guint n)
{
  Side a, b;
  Many m = { &a, &b, n };
  guint next_a = 0, next_b = 0;
  gint64 deadline;

  make_pair (&a, &b);
  a.drop_percent = b.drop_percent = drop_percent;
  a.peer_seed = 222;
  b.peer_seed = 111;
  a.drop_received = b.drop_received = FALSE;
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (!many_done (&m) && g_get_monotonic_time () < deadline)
    {
      while (next_a < n)
        {
          g_autoptr(GBytes) packet = make_packet (111, next_a);
          g_autoptr(GError) error = NULL;

          if (!pinhole_path_send (PINHOLE_PATH (a.path), packet, &error))
            {
              g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
              break;
            }
          next_a++;
        }
      while (next_b < n)
        {
          g_autoptr(GBytes) packet = make_packet (222, next_b);
          g_autoptr(GError) error = NULL;

          if (!pinhole_path_send (PINHOLE_PATH (b.path), packet, &error))
            {
              g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
              break;
            }
          next_b++;
        }
      g_main_context_iteration (NULL, TRUE);
    }
  g_test_message ("%u packets each way, %u%% loss: %u and %u datagrams, %u and %u dropped", n,
                  drop_percent, a.n_datagrams, b.n_datagrams, a.n_dropped, b.n_dropped);
  g_assert_cmpuint (a.n_ok, ==, n);
  g_assert_cmpuint (b.n_ok, ==, n);
  g_assert_cmpuint (a.n_bad + b.n_bad, ==, 0);
  if (drop_percent > 0)
    g_assert_cmpuint (a.n_dropped + b.n_dropped, >, 0);
  ph_iterate_for (50);
  g_assert_cmpuint (a.n_received, ==, n);
  g_assert_cmpuint (b.n_received, ==, n);
  g_assert_cmpuint (a.n_closed + b.n_closed, ==, 0);
  side_clear (&a);
  side_clear (&b);
}

static void
test_many (void)
{
  run_many (0, N_MANY);
}

static void
test_lossy (void)
{
  run_many (2, N_MANY);
}

typedef struct
{
  Side  *side;
  gsize  bytes;
} Bytes;

static gboolean
large_received (gpointer data)
{
  Bytes *b = data;

  return b->side->large_bytes >= b->bytes;
}

/* 64 MiB one way in 64 KiB packets: the sender's queue stays bounded, send() says when it is
 * full, ::drained says when to go on */
static void
test_large (void)
{
  Side a, b;
  Bytes done = { &b, LARGE_BYTES };
  g_autofree guint8 *block = g_malloc (PINHOLE_PATH_MAX_PACKET);
  guint32 sum = 0;
  guint64 offset = 0;
  guint n_limit = 0;
  gsize max_queued = 0;
  gint64 start, deadline;

  make_pair (&a, &b);
  b.drop_received = TRUE;
  start = g_get_monotonic_time ();
  deadline = start + 60 * G_USEC_PER_SEC;
  while (offset < LARGE_BYTES && g_get_monotonic_time () < deadline)
    {
      g_autoptr(GBytes) packet = NULL;
      g_autoptr(GError) error = NULL;
      guint drained = a.n_drained;

      for (gsize j = 0; j < PINHOLE_PATH_MAX_PACKET; j++)
        block[j] = (guint8) ((offset + j) * 13 / 7);
      packet = g_bytes_new (block, PINHOLE_PATH_MAX_PACKET);
      if (pinhole_path_send (PINHOLE_PATH (a.path), packet, &error))
        {
          sum = stream_sum (sum, offset, block, PINHOLE_PATH_MAX_PACKET);
          offset += PINHOLE_PATH_MAX_PACKET;
          max_queued = MAX (max_queued, pinhole_path_get_queued_bytes (PINHOLE_PATH (a.path)));
          continue;
        }
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
      n_limit++;
      /* full: wait for the queue to drain, as the session's scheduler does */
      while (a.n_drained == drained && g_get_monotonic_time () < deadline && a.n_closed == 0)
        g_main_context_iteration (NULL, TRUE);
    }
  g_assert_cmpuint (offset, ==, LARGE_BYTES);
  g_assert_true (ph_iterate_until (large_received, &done, 30000));
  g_test_message ("64 MiB over loopback in %.2f s; send() was full %u times",
                  (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC, n_limit);
  g_assert_cmpuint (b.large_bytes, ==, LARGE_BYTES);
  g_assert_cmpuint (b.large_sum, ==, sum);
  g_assert_cmpuint (n_limit, >, 0);
  g_assert_cmpuint (max_queued, <=, PINHOLE_QUIC_PATH_MAX_QUEUED);
  g_assert_cmpuint (pinhole_path_get_queued_bytes (PINHOLE_PATH (a.path)), ==, 0);
  g_assert_cmpuint (a.n_closed + b.n_closed, ==, 0);
  side_clear (&a);
  side_clear (&b);
}

static void
test_close (void)
{
  Side a, b;
  g_autoptr(GBytes) hello = g_bytes_new_static ("hello", 5);
  g_autoptr(GError) error = NULL;
  gint64 start;

  make_pair (&a, &b);
  start = g_get_monotonic_time ();
  pinhole_path_close (PINHOLE_PATH (a.path));
  g_assert_cmpuint (a.n_closed, ==, 1);
  g_assert_null (a.closed_error);
  /* the peer hears of it at once, not after its idle timeout */
  g_assert_true (ph_iterate_until (side_closed, &b, 2000));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 1000 * 1000);
  g_assert_error (b.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED);
  g_assert_false (pinhole_path_send (PINHOLE_PATH (a.path), hello, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED);
  pinhole_path_close (PINHOLE_PATH (a.path));
  g_assert_cmpuint (a.n_closed, ==, 1);
  side_clear (&a);
  side_clear (&b);
}

/* a peer that goes silent is noticed by the idle timeout; a live but idle one is kept by the
 * keepalive PINGs */
static void
test_idle (void)
{
  Side a, b;
  gint64 start, elapsed_ms;

  make_pair (&a, &b);
  /* nothing to send for longer than the idle timeout: the PINGs keep the path */
  ph_iterate_for (PINHOLE_QUIC_PATH_IDLE_TIMEOUT_MS + 1000);
  g_assert_cmpuint (a.n_closed + b.n_closed, ==, 0);

  /* a hears nothing more: it closes within the bound */
  a.deaf = TRUE;
  start = g_get_monotonic_time ();
  g_assert_true (ph_iterate_until (side_closed, &a, PINHOLE_QUIC_PATH_IDLE_TIMEOUT_MS + 2000));
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  g_test_message ("closed %" G_GINT64_FORMAT " ms after the peer went silent", elapsed_ms);
  g_assert_error (a.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT);
  g_assert_cmpint (elapsed_ms, >=, PINHOLE_QUIC_PATH_IDLE_TIMEOUT_MS - PINHOLE_QUIC_PATH_KEEPALIVE_MS);
  side_clear (&a);
  side_clear (&b);
}

static void
test_garbage (void)
{
  Side a, b;
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  g_autoptr(GBytes) hello = g_bytes_new_static ("hello", 5);
  Count to_b = { &b, 1 };

  make_pair (&a, &b);
  /* datagrams that are not STUN, so the socket's owner hands them to the path, but are not
   * this connection's packets change nothing */
  for (guint i = 0; i < 2000; i++)
    {
      guint8 buf[1500];
      gsize len = (gsize) g_rand_int_range (rand, 1, sizeof buf);

      for (gsize j = 0; j < len; j++)
        buf[j] = (guint8) g_rand_int (rand);
      if (pinhole_stun_message_looks_like_stun (buf, len))
        continue;
      pinhole_quic_path_receive (a.path, buf, len);
      pinhole_quic_path_receive (b.path, buf, len);
    }
  g_assert_cmpuint (a.n_closed + b.n_closed, ==, 0);
  g_assert_true (pinhole_path_send (PINHOLE_PATH (a.path), hello, NULL));
  g_assert_true (ph_iterate_until (received_at_least, &to_b, 5000));
  g_assert_cmpuint (a.n_closed + b.n_closed, ==, 0);
  side_clear (&a);
  side_clear (&b);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/path/quic/certificate", test_certificate);
  g_test_add_func ("/path/quic/round-trip", test_round_trip);
  g_test_add_func ("/path/quic/wrong-fingerprint-client", test_wrong_fingerprint_client);
  g_test_add_func ("/path/quic/wrong-fingerprint-server", test_wrong_fingerprint_server);
  g_test_add_func ("/path/quic/many", test_many);
  g_test_add_func ("/path/quic/lossy", test_lossy);
  g_test_add_func ("/path/quic/large", test_large);
  g_test_add_func ("/path/quic/close", test_close);
  g_test_add_func ("/path/quic/garbage", test_garbage);
  g_test_add_func ("/path/quic/idle", test_idle);
  return g_test_run ();
}
