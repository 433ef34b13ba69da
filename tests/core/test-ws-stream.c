/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-ws-stream.c: PinholeWsStream's input under libsoup's reads, over a base stream that
 * counts its reads: WebSocket frames read 1 KiB at a time (as libsoup 3.2 reads) arrive
 * byte for byte with one base read per 64 KiB; a large read takes the bytes read ahead first,
 * in order; bytes read ahead make the stream readable, and its source fire, while the base is
 * not; and a message over the limit is still refused. */
#include "pinhole-ws-stream.h"

#include <string.h>

#define MAX_TEXT   (64 * 1024)
#define MAX_BINARY (512 * 1024)
#define SMALL_READ 1024

/* ---- a base input that counts its reads and can pretend to have nothing more yet ---- */

#define TEST_TYPE_COUNTING_INPUT (test_counting_input_get_type ())
G_DECLARE_FINAL_TYPE (TestCountingInput, test_counting_input, TEST, COUNTING_INPUT,
                      GInputStream)

struct _TestCountingInput
{
  GInputStream parent_instance;
  GByteArray  *data;
  gsize        pos;
  gsize        available;   /* bytes up to which reads may go now */
  guint        reads;
};

static void test_counting_input_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestCountingInput, test_counting_input, G_TYPE_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      test_counting_input_pollable_init))

static gssize
counting_read_nonblocking (GPollableInputStream *stream,
                           void                 *buffer,
                           gsize                 count,
                           GError              **error)
{
  TestCountingInput *self = TEST_COUNTING_INPUT (stream);
  gsize n;

  self->reads++;
  if (self->pos >= self->data->len)
    return 0;
  if (self->pos >= self->available)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "nothing yet");
      return -1;
    }
  n = MIN (count, self->available - self->pos);
  memcpy (buffer, self->data->data + self->pos, n);
  self->pos += n;
  return (gssize) n;
}

static gboolean
counting_is_readable (GPollableInputStream *stream)
{
  TestCountingInput *self = TEST_COUNTING_INPUT (stream);

  return self->pos < self->available || self->pos >= self->data->len;
}

static GSource *
counting_create_source (GPollableInputStream *stream,
                        GCancellable         *cancellable)
{
  GSource *source = g_pollable_source_new (G_OBJECT (stream));

  /* never ready by itself: only a readable PinholeWsStream's own child source fires */
  g_source_set_ready_time (source, -1);
  return source;
}

static gssize
counting_read (GInputStream *stream,
               void         *buffer,
               gsize         count,
               GCancellable *cancellable,
               GError      **error)
{
  return counting_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream), buffer, count, error);
}

static void
test_counting_input_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->is_readable = counting_is_readable;
  iface->create_source = counting_create_source;
  iface->read_nonblocking = counting_read_nonblocking;
}

static void
test_counting_input_finalize (GObject *object)
{
  g_byte_array_unref (TEST_COUNTING_INPUT (object)->data);
  G_OBJECT_CLASS (test_counting_input_parent_class)->finalize (object);
}

static void
test_counting_input_class_init (TestCountingInputClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_counting_input_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = counting_read;
}

static void
test_counting_input_init (TestCountingInput *self)
{
}

/* ---- frames ---- */

/* appends a binary frame, masked as a client's, whose payload counts up from @seed */
static void
add_frame (GByteArray *out,
           guint64     len,
           guint8      seed)
{
  guint8 h[14];
  guint n = 0;

  h[n++] = 0x82;
  if (len < 126)
    h[n++] = 0x80 | (guint8) len;
  else if (len < 65536)
    {
      h[n++] = 0x80 | 126;
      h[n++] = len >> 8;
      h[n++] = len;
    }
  else
    {
      h[n++] = 0x80 | 127;
      for (int i = 7; i >= 0; i--)
        h[n++] = len >> (8 * i);
    }
  memset (h + n, 0x5a, 4);
  n += 4;
  g_byte_array_append (out, h, n);
  for (guint64 i = 0; i < len; i++)
    {
      guint8 b = (guint8) (seed + i);

      g_byte_array_append (out, &b, 1);
    }
}

typedef struct
{
  TestCountingInput *base;
  GIOStream         *io;
  PinholeWsStream   *stream;
  GPollableInputStream *input;
  gboolean           refused;
} Fixture;

static void
refused_cb (PinholeWsStream *stream,
            GError          *error,
            gpointer         user_data)
{
  *(gboolean *) user_data = TRUE;
}

static void
setup (Fixture    *f,
       GByteArray *data)
{
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();

  f->base = g_object_new (TEST_TYPE_COUNTING_INPUT, NULL);
  f->base->data = g_byte_array_ref (data);
  f->base->available = data->len;
  f->io = g_simple_io_stream_new (G_INPUT_STREAM (f->base), out);
  f->stream = pinhole_ws_stream_new (f->io, FALSE, MAX_TEXT, MAX_BINARY);
  f->input = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (G_IO_STREAM (f->stream)));
  g_signal_connect (f->stream, "refused", G_CALLBACK (refused_cb), &f->refused);
}

static void
teardown (Fixture *f)
{
  g_clear_object (&f->stream);
  g_clear_object (&f->io);
  g_clear_object (&f->base);
}

/* reads @count at a time until the stream would block or ends; Returns: what it read */
static GByteArray *
drain (Fixture *f,
       gsize    count,
       gboolean *ended)
{
  GByteArray *got = g_byte_array_new ();
  g_autofree guint8 *buf = g_malloc (count);

  *ended = FALSE;
  for (guint i = 0; i < 100000; i++)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_pollable_input_stream_read_nonblocking (f->input, buf, count, NULL, &error);

      if (n == 0)
        {
          *ended = TRUE;
          break;
        }
      if (n < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          break;
        }
      g_byte_array_append (got, buf, (guint) n);
    }
  return got;
}

static void
test_small_reads (void)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();
  g_autoptr(GByteArray) got = NULL;
  Fixture f = { 0 };
  gboolean ended;

  add_frame (data, 1000, 1);
  add_frame (data, 40000, 2);
  add_frame (data, 200000, 3);
  setup (&f, data);
  got = drain (&f, SMALL_READ, &ended);
  g_assert_true (ended);
  g_assert_cmpmem (got->data, got->len, data->data, data->len);
  /* 241 KiB in 1 KiB reads: without reading ahead that is 236 reads of the base */
  g_assert_cmpuint (f.base->reads, <=, data->len / (64 * 1024) + 2);
  g_assert_false (f.refused);
  teardown (&f);
}

/* a read larger than the read-ahead, after a small one: the bytes come in their order */
static void
test_mixed_reads (void)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();
  g_autoptr(GByteArray) got = g_byte_array_new ();
  g_autoptr(GByteArray) rest = NULL;
  g_autofree guint8 *big = g_malloc (100000);
  Fixture f = { 0 };
  gboolean ended;
  gssize n;

  add_frame (data, 300000, 7);
  setup (&f, data);
  n = g_pollable_input_stream_read_nonblocking (f.input, big, 10, NULL, NULL);
  g_assert_cmpint (n, ==, 10);
  g_byte_array_append (got, big, 10);
  n = g_pollable_input_stream_read_nonblocking (f.input, big, 100000, NULL, NULL);
  g_assert_cmpint (n, >, 0);
  g_byte_array_append (got, big, (guint) n);
  rest = drain (&f, 100000, &ended);
  g_byte_array_append (got, rest->data, rest->len);
  g_assert_true (ended);
  g_assert_cmpmem (got->data, got->len, data->data, data->len);
  teardown (&f);
}

static gboolean
fired_cb (GObject  *stream,
          gpointer  user_data)
{
  (*(guint *) user_data)++;
  return G_SOURCE_REMOVE;
}

/* bytes read ahead and not yet taken: readable, and a source fires, though the base has
 * nothing more; once taken, neither */
static void
test_readable_while_ahead (void)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();
  guint8 buf[SMALL_READ];
  Fixture f = { 0 };
  guint fired = 0;
  GSource *source;

  add_frame (data, 20000, 9);
  setup (&f, data);
  f.base->available = 10000;
  g_assert_cmpint (g_pollable_input_stream_read_nonblocking (f.input, buf, sizeof buf, NULL,
                                                             NULL), ==, sizeof buf);
  /* the base gave 10000 bytes at once; 1 KiB is taken, the rest waits here */
  f.base->available = f.base->pos;
  g_assert_false (g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (f.base)));
  g_assert_true (g_pollable_input_stream_is_readable (f.input));
  source = g_pollable_input_stream_create_source (f.input, NULL);
  g_source_set_callback (source, G_SOURCE_FUNC (fired_cb), &fired, NULL);
  g_source_attach (source, NULL);
  for (guint i = 0; i < 100 && fired == 0; i++)
    g_main_context_iteration (NULL, FALSE);
  g_source_destroy (source);
  g_source_unref (source);
  g_assert_cmpuint (fired, ==, 1);
  {
    gboolean ended;
    g_autoptr(GByteArray) rest = drain (&f, SMALL_READ, &ended);

    g_assert_false (ended);
    g_assert_cmpuint (rest->len, ==, 10000 - sizeof buf);
  }
  g_assert_false (g_pollable_input_stream_is_readable (f.input));
  teardown (&f);
}

/* a message over the limit is refused, read ahead or not: nothing of its payload passes */
static void
test_limit_still_refuses (void)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();
  g_autoptr(GByteArray) got = NULL;
  Fixture f = { 0 };
  gboolean ended;

  add_frame (data, 1000, 1);
  add_frame (data, MAX_BINARY + 1, 2);
  setup (&f, data);
  got = drain (&f, SMALL_READ, &ended);
  g_assert_false (ended);
  /* the first frame (header 4 + mask 4) passes, the second's header does not */
  g_assert_cmpuint (got->len, ==, 1000 + 8);
  for (guint i = 0; i < 100 && !f.refused; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_true (f.refused);
  teardown (&f);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ws-stream/small-reads", test_small_reads);
  g_test_add_func ("/ws-stream/mixed-reads", test_mixed_reads);
  g_test_add_func ("/ws-stream/readable-while-ahead", test_readable_while_ahead);
  g_test_add_func ("/ws-stream/limit-still-refuses", test_limit_still_refuses);
  return g_test_run ();
}
