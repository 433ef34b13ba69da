/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-tcp-path.c: PinholeTcpPath over real TCP connections on 127.0.0.1: round trips, many
 * packets in order, oversized frames, peer close and EOF, the send-queue bound. */
#include <string.h>

#include "pinhole-error.h"
#include "pinhole-tcp-path.h"
#include "pinhole-test-path.h"
#include "pinhole-test-util.h"

#define MAX_ITERATIONS 10000000

#define N_MANY 2000
#define MANY_MAX_SIZE (32 * 1024)
#define SEND_WINDOW (1024 * 1024)

typedef struct
{
  PinholePath *path;
  GPtrArray   *received;       /* GBytes, unless drop_received */
  guint        n_received;
  gboolean     drop_received;
  GError      *closed_error;
  guint        n_closed;
  /* the many-packets check: what arrived against what was sent */
  guint        n_expected;
  guint        n_ok;
  guint        n_bad;
} End;

/* ---- helpers ---- */


static void
received_cb (PinholePath *path,
             GBytes      *packet,
             gpointer     user_data)
{
  End *end = user_data;

  end->n_received++;
  if (!end->drop_received)
    g_ptr_array_add (end->received, g_bytes_ref (packet));
}

static void
closed_cb (PinholePath  *path,
           const GError *error,
           gpointer      user_data)
{
  End *end = user_data;

  end->n_closed++;
  g_clear_error (&end->closed_error);
  if (error != NULL)
    end->closed_error = g_error_copy (error);
}

static void
end_init (End         *end,
          PinholePath *path)
{
  memset (end, 0, sizeof *end);
  end->path = path;
  end->received = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_signal_connect (path, "received", G_CALLBACK (received_cb), end);
  g_signal_connect (path, "closed", G_CALLBACK (closed_cb), end);
}

static void
end_clear (End *end)
{
  if (end->path != NULL)
    g_signal_handlers_disconnect_by_data (end->path, end);
  g_clear_object (&end->path);
  g_clear_pointer (&end->received, g_ptr_array_unref);
  g_clear_error (&end->closed_error);
}

static void
make_paths (End                *a,
            End                *b,
            GSocketConnection **out_raw_client,
            GSocketConnection **out_raw_server)
{
  g_autoptr(GSocketConnection) client = NULL;
  g_autoptr(GSocketConnection) server = NULL;

  pinhole_test_connect_tcp_pair (&client, &server);
  if (out_raw_client != NULL)
    *out_raw_client = g_steal_pointer (&client);
  else
    end_init (a, PINHOLE_PATH (pinhole_tcp_path_new (G_IO_STREAM (client),
                                                     PINHOLE_PATH_KIND_LAN,
                                                     "127.0.0.1:1")));
  if (out_raw_server != NULL)
    *out_raw_server = g_steal_pointer (&server);
  else
    end_init (b, PINHOLE_PATH (pinhole_tcp_path_new (G_IO_STREAM (server),
                                                     PINHOLE_PATH_KIND_TCP_PUNCH,
                                                     "127.0.0.1:2")));
}

/* the bytes of packet @i of the many-packets test: its size and contents follow from @i */
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

typedef struct
{
  End  *end;
  guint n;
} Count;

static gboolean
received_at_least (gpointer data)
{
  Count *c = data;

  return c->end->received->len >= c->n;
}

static gboolean
end_closed (gpointer data)
{
  return ((End *) data)->n_closed > 0;
}

/* ---- tests ---- */

static void
test_round_trip (void)
{
  End a, b;
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

  make_paths (&a, &b, NULL, NULL);
  g_assert_cmpint (pinhole_path_get_kind (a.path), ==, PINHOLE_PATH_KIND_LAN);
  g_assert_cmpint (pinhole_path_get_kind (b.path), ==, PINHOLE_PATH_KIND_TCP_PUNCH);
  g_assert_cmpstr (pinhole_path_get_remote (a.path), ==, "127.0.0.1:1");

  g_assert_true (pinhole_path_send (a.path, hello, &error));
  g_assert_no_error (error);
  g_assert_true (pinhole_path_send (a.path, empty, &error));
  g_assert_true (pinhole_path_send (a.path, big, &error));
  g_assert_true (ph_iterate_until (received_at_least, &to_b, 5000));
  g_assert_true (g_bytes_equal (b.received->pdata[0], hello));
  g_assert_true (g_bytes_equal (b.received->pdata[1], empty));
  g_assert_true (g_bytes_equal (b.received->pdata[2], big));

  g_assert_true (pinhole_path_send (b.path, world, &error));
  g_assert_true (ph_iterate_until (received_at_least, &to_a, 5000));
  g_assert_true (g_bytes_equal (a.received->pdata[0], world));
  g_assert_cmpuint (a.n_closed + b.n_closed, ==, 0);

  end_clear (&a);
  end_clear (&b);
}

typedef struct
{
  End    *a;
  End    *b;
  guint32 seed;
  guint   next_a;   /* next packet index a sends */
  guint   next_b;
} Many;

static void
many_received_cb (PinholePath *path,
                  GBytes      *packet,
                  gpointer     user_data)
{
  End *end = user_data;
  /* a's packets use seed 1, b's seed 2: the receiver checks the other end's sequence */
  guint32 seed = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (path), "peer-seed"));
  g_autoptr(GBytes) expected = make_packet (seed, end->n_expected);

  end->n_expected++;
  if (g_bytes_equal (packet, expected))
    end->n_ok++;
  else
    end->n_bad++;
}

static gboolean
many_done (gpointer data)
{
  Many *m = data;

  return (m->a->n_expected >= N_MANY && m->b->n_expected >= N_MANY) ||
         m->a->n_bad + m->b->n_bad > 0 || m->a->n_closed + m->b->n_closed > 0;
}

static void
many_fill (End   *from,
           guint *next,
           guint32 seed)
{
  PinholeTcpPath *path = PINHOLE_TCP_PATH (from->path);

  while (*next < N_MANY && pinhole_tcp_path_get_queued_bytes (path) < SEND_WINDOW)
    {
      g_autoptr(GBytes) packet = make_packet (seed, *next);
      g_autoptr(GError) error = NULL;

      g_assert_true (pinhole_path_send (from->path, packet, &error));
      g_assert_no_error (error);
      (*next)++;
    }
}

static void
test_many (void)
{
  End a, b;
  Many m = { &a, &b, 0, 0, 0 };
  gint64 deadline;
  guint n = 0;

  make_paths (&a, &b, NULL, NULL);
  g_object_set_data (G_OBJECT (a.path), "peer-seed", GUINT_TO_POINTER (2));
  g_object_set_data (G_OBJECT (b.path), "peer-seed", GUINT_TO_POINTER (1));
  a.drop_received = b.drop_received = TRUE;
  g_signal_connect (a.path, "received", G_CALLBACK (many_received_cb), &a);
  g_signal_connect (b.path, "received", G_CALLBACK (many_received_cb), &b);

  /* both directions at once, each sender keeping about SEND_WINDOW queued */
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (!many_done (&m) && g_get_monotonic_time () < deadline && n++ < MAX_ITERATIONS)
    {
      many_fill (&a, &m.next_a, 1);
      many_fill (&b, &m.next_b, 2);
      g_main_context_iteration (NULL, TRUE);
    }
  /* nothing more may arrive: each packet exactly once */
  ph_iterate_for (100);

  g_assert_cmpuint (a.n_bad, ==, 0);
  g_assert_cmpuint (b.n_bad, ==, 0);
  g_assert_cmpuint (a.n_ok, ==, N_MANY);
  g_assert_cmpuint (b.n_ok, ==, N_MANY);
  g_assert_cmpuint (a.n_received, ==, N_MANY);
  g_assert_cmpuint (b.n_received, ==, N_MANY);
  g_assert_cmpuint (a.n_closed + b.n_closed, ==, 0);

  end_clear (&a);
  end_clear (&b);
}

static void
test_oversized_frame (void)
{
  End a, b;
  g_autoptr(GSocketConnection) raw = NULL;
  g_autoptr(GError) error = NULL;
  gsize written = 0;
  /* one byte over the limit */
  static const guint8 header[4] = { 0x00, 0x01, 0x00, 0x01 };

  make_paths (&a, &b, &raw, NULL);
  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (raw)),
                                            header, sizeof header, &written, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ph_iterate_until (end_closed, &b, 5000));
  g_assert_cmpuint (b.n_closed, ==, 1);
  g_assert_error (b.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_assert_cmpuint (b.received->len, ==, 0);

  /* a closed path refuses to send and closes only once */
  {
    g_autoptr(GBytes) packet = g_bytes_new_static ("x", 1);

    g_assert_false (pinhole_path_send (b.path, packet, &error));
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED);
    pinhole_path_close (b.path);
    g_assert_cmpuint (b.n_closed, ==, 1);
  }
  end_clear (&b);
}

static void
test_limit_frame_accepted (void)
{
  End a, b;
  g_autoptr(GSocketConnection) raw = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *frame = g_malloc0 (4 + PINHOLE_PATH_MAX_PACKET);
  Count one = { &b, 1 };

  /* exactly the limit is fine, even when written a byte at a time in two parts */
  frame[1] = 0x01;
  make_paths (&a, &b, &raw, NULL);
  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (raw)),
                                            frame, 3, NULL, NULL, &error));
  ph_iterate_for (20);
  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (raw)),
                                            frame + 3, 1 + PINHOLE_PATH_MAX_PACKET, NULL, NULL,
                                            &error));
  g_assert_no_error (error);
  g_assert_true (ph_iterate_until (received_at_least, &one, 5000));
  g_assert_cmpuint (g_bytes_get_size (b.received->pdata[0]), ==, PINHOLE_PATH_MAX_PACKET);
  g_assert_cmpuint (b.n_closed, ==, 0);
  end_clear (&b);
}

static void
test_close (void)
{
  End a, b;

  make_paths (&a, &b, NULL, NULL);
  pinhole_path_close (a.path);
  g_assert_cmpuint (a.n_closed, ==, 1);
  g_assert_null (a.closed_error);
  pinhole_path_close (a.path);
  g_assert_cmpuint (a.n_closed, ==, 1);

  g_assert_true (ph_iterate_until (end_closed, &b, 5000));
  g_assert_cmpuint (b.n_closed, ==, 1);
  g_assert_error (b.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED);
  ph_iterate_for (20);
  g_assert_cmpuint (a.n_closed, ==, 1);
  g_assert_cmpuint (b.n_closed, ==, 1);

  end_clear (&a);
  end_clear (&b);
}

static void
test_peer_eof (void)
{
  End a, b;
  g_autoptr(GSocketConnection) raw = NULL;
  g_autoptr(GError) error = NULL;
  static const guint8 partial[6] = { 0, 0, 0, 9, 'a', 'b' };

  /* EOF inside a frame */
  make_paths (&a, &b, NULL, &raw);
  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (raw)),
                                            partial, sizeof partial, NULL, NULL, &error));
  g_assert_true (g_io_stream_close (G_IO_STREAM (raw), NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ph_iterate_until (end_closed, &a, 5000));
  g_assert_cmpuint (a.n_closed, ==, 1);
  g_assert_error (a.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED);
  g_assert_cmpuint (a.received->len, ==, 0);
  end_clear (&a);
}

static void
test_unref_while_busy (void)
{
  End a, b;
  g_autoptr(GBytes) packet = g_bytes_new_take (g_malloc0 (32768), 32768);

  /* dropping a path with reads and writes in flight neither leaks nor touches freed memory */
  make_paths (&a, &b, NULL, NULL);
  for (guint i = 0; i < 64; i++)
    g_assert_true (pinhole_path_send (a.path, packet, NULL));
  end_clear (&a);
  g_assert_true (ph_iterate_until (end_closed, &b, 5000));
  g_assert_error (b.closed_error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED);
  end_clear (&b);
  ph_iterate_for (20);
}

static void
test_queue_limit (void)
{
  End a, b;
  g_autoptr(GSocketConnection) raw = NULL;
  g_autoptr(GBytes) packet = g_bytes_new_take (g_malloc0 (32768), 32768);
  g_autoptr(GBytes) oversized = g_bytes_new_take (g_malloc0 (PINHOLE_PATH_MAX_PACKET + 1),
                                                  PINHOLE_PATH_MAX_PACKET + 1);
  g_autoptr(GError) error = NULL;
  guint accepted = 0;

  /* the peer never reads, and the main context does not run: the queue must fill */
  make_paths (&a, &b, NULL, &raw);
  g_assert_false (pinhole_path_send (a.path, oversized, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
  g_clear_error (&error);

  for (guint i = 0; i < 1024 && error == NULL; i++)
    if (pinhole_path_send (a.path, packet, &error))
      accepted++;
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
  g_assert_cmpuint (accepted, >=, PINHOLE_TCP_PATH_MAX_QUEUED / (32768 + 4) - 1);
  g_assert_cmpuint (pinhole_tcp_path_get_queued_bytes (PINHOLE_TCP_PATH (a.path)), <=,
                    PINHOLE_TCP_PATH_MAX_QUEUED);
  g_assert_cmpuint (a.n_closed, ==, 0);
  end_clear (&a);
  ph_iterate_for (20);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/path/tcp/round-trip", test_round_trip);
  g_test_add_func ("/path/tcp/many", test_many);
  g_test_add_func ("/path/tcp/oversized-frame", test_oversized_frame);
  g_test_add_func ("/path/tcp/limit-frame-accepted", test_limit_frame_accepted);
  g_test_add_func ("/path/tcp/close", test_close);
  g_test_add_func ("/path/tcp/peer-eof", test_peer_eof);
  g_test_add_func ("/path/tcp/unref-while-busy", test_unref_while_busy);
  g_test_add_func ("/path/tcp/queue-limit", test_queue_limit);

  return g_test_run ();
}
