/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-ws-stream.c: the GIOStream a WebSocket connection is given, over the TCP (or TLS)
 * connection. Its input passes bytes through PinholeWsLimit, which refuses a message whose
 * fragments together pass the limit before their payload is read (libsoup 3.2 bounds single
 * frames only); after a refusal nothing more is read and ::refused tells the owner, which
 * closes the WebSocket with 1009. Its output takes every byte at once and holds what the
 * socket does not take yet, so that what waits for a slow reader is known: libsoup 3.2's
 * SoupWebsocketConnection keeps its own queue of frames (priv->outgoing), unbounded and with
 * no getter, but since a write here never blocks, that queue is always empty and every
 * queued byte, pongs and close frames included, is counted here. Its owner bounds it.
 * Its input also reads ahead: libsoup 3.2 reads a WebSocket 1 KiB at a time
 * (READ_BUFFER_SIZE), so a 32 KiB relay frame cost 32 reads of the socket; one read here takes
 * up to READ_AHEAD bytes and serves libsoup's small reads from them. libsoup mostly reads until
 * a read would block, so the buffer is empty, and freed, when it waits: an idle connection
 * holds none. Where it stops early (a close sent, the server handling a request head) the
 * stream is readable and its source fires at once, and the buffer goes with the stream.
 * The three GTypes share this file: the input and output exist only for this stream. */
#define G_LOG_DOMAIN "pinhole-ws"

#include "pinhole-ws-stream.h"
#include "pinhole-ws-limit.h"

#include <string.h>

/* ---- input ---- */

#define PINHOLE_TYPE_WS_INPUT (pinhole_ws_input_get_type ())
G_DECLARE_FINAL_TYPE (PinholeWsInput, pinhole_ws_input, PINHOLE, WS_INPUT, GInputStream)

#define PINHOLE_TYPE_WS_OUTPUT (pinhole_ws_output_get_type ())
G_DECLARE_FINAL_TYPE (PinholeWsOutput, pinhole_ws_output, PINHOLE, WS_OUTPUT, GOutputStream)

struct _PinholeWsStream
{
  GIOStream        parent_instance;

  /* owned */
  GIOStream       *base;
  PinholeWsInput  *input;
  PinholeWsOutput *output;
  GError          *refusal;       /* why input was refused */
  guint            refused_idle;
  gboolean         stopped;       /* nothing more is read: refused, or stopped by the owner */

  PinholeWsLimit   limit;
};

struct _PinholeWsInput
{
  GInputStream     parent_instance;

  PinholeWsStream *owner;         /* borrowed: the owner holds this stream */
  GInputStream    *base;          /* borrowed from the owner's base */

  /* owned: bytes read from base, not yet given to the reader (nor scanned by the limit) */
  guint8          *ahead;         /* NULL when empty */
  gsize            ahead_start;
  gsize            ahead_len;
};

/* one read of the socket takes this much at most (a TLS connection gives a record at a time) */
#define READ_AHEAD (64 * 1024)

struct _PinholeWsOutput
{
  GOutputStream    parent_instance;

  /* borrowed, as above */
  PinholeWsStream *owner;
  GOutputStream   *base;

  /* owned */
  GByteArray      *pending;       /* taken from the writer, not yet by the socket, from */
  gsize            pending_start; /* this offset: the socket's partial writes move it, and
                                   * the array is compacted only now and then, so that a
                                   * reader that takes a little at a time costs no copying */
  GSource         *flush_source;
  GError          *error;         /* the socket's write error, given to the next writer */

  guint64          written;       /* bytes the socket took, in all */
  gsize            max_pending;   /* 0: no bound */
};

#define COMPACT_AFTER (1024 * 1024)

static gsize
pending_len (PinholeWsOutput *self)
{
  return self->pending->len - self->pending_start;
}

static const guint8 *
pending_data (PinholeWsOutput *self)
{
  return self->pending->data + self->pending_start;
}

static void
pending_clear (PinholeWsOutput *self)
{
  g_byte_array_set_size (self->pending, 0);
  self->pending_start = 0;
}

static void
pending_consume (PinholeWsOutput *self,
                 gsize            n)
{
  self->pending_start += n;
  if (self->pending_start == self->pending->len)
    pending_clear (self);
  else if (self->pending_start >= COMPACT_AFTER && self->pending_start * 2 >= self->pending->len)
    {
      g_byte_array_remove_range (self->pending, 0, (guint) self->pending_start);
      self->pending_start = 0;
    }
}

enum
{
  SIGNAL_REFUSED,
  SIGNAL_DRAINED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void pinhole_ws_input_pollable_init (GPollableInputStreamInterface *iface);
static void pinhole_ws_output_pollable_init (GPollableOutputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PinholeWsInput, pinhole_ws_input, G_TYPE_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      pinhole_ws_input_pollable_init))
G_DEFINE_FINAL_TYPE_WITH_CODE (PinholeWsOutput, pinhole_ws_output, G_TYPE_OUTPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                      pinhole_ws_output_pollable_init))
G_DEFINE_FINAL_TYPE (PinholeWsStream, pinhole_ws_stream, G_TYPE_IO_STREAM)

static gboolean
refused_cb (gpointer user_data)
{
  PinholeWsStream *self = user_data;

  self->refused_idle = 0;
  g_signal_emit (self, signals[SIGNAL_REFUSED], 0, self->refusal);
  return G_SOURCE_REMOVE;
}

/* @count bytes were read into @buffer: Returns: how many of them the reader gets */
static gssize
input_filter (PinholeWsInput *self,
              guint8         *buffer,
              gssize          count,
              GError        **error)
{
  PinholeWsStream *owner = self->owner;
  g_autoptr(GError) refusal = NULL;
  gsize pass;

  if (count <= 0)
    return count;
  pass = pinhole_ws_limit_scan (&owner->limit, buffer, count, &refusal);
  if (refusal == NULL)
    return count;
  g_debug ("refusing input: %s", refusal->message);
  owner->refusal = g_steal_pointer (&refusal);
  owner->stopped = TRUE;
  /* told from the main loop, not from inside libsoup's read */
  owner->refused_idle = g_idle_add_full (G_PRIORITY_DEFAULT, refused_cb, g_object_ref (owner),
                                         g_object_unref);
  if (pass > 0)
    return pass;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "input refused");
  return -1;
}

static void
ahead_clear (PinholeWsInput *self)
{
  g_clear_pointer (&self->ahead, g_free);
  self->ahead_start = 0;
  self->ahead_len = 0;
}

/* moves up to @count read-ahead bytes to @buffer; Returns: how many */
static gsize
ahead_take (PinholeWsInput *self,
            void           *buffer,
            gsize           count)
{
  gsize n = MIN (count, self->ahead_len);

  memcpy (buffer, self->ahead + self->ahead_start, n);
  self->ahead_start += n;
  self->ahead_len -= n;
  if (self->ahead_len == 0)
    ahead_clear (self);
  return n;
}

static gssize
input_read_nonblocking (GPollableInputStream *stream,
                        void                 *buffer,
                        gsize                 count,
                        GError              **error)
{
  PinholeWsInput *self = PINHOLE_WS_INPUT (stream);
  gssize n;

  /* a stopped stream reads nothing more: its reader waits until it is closed */
  if (self->owner->stopped)
    {
      ahead_clear (self);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "input refused");
      return -1;
    }
  if (count == 0)
    return 0;
  if (self->ahead_len == 0 && count < READ_AHEAD)
    {
      self->ahead = g_malloc (READ_AHEAD);
      n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (self->base),
                                                    self->ahead, READ_AHEAD, NULL, error);
      if (n <= 0)
        {
          ahead_clear (self);
          return n;   /* would block, the base stream's error, or its end */
        }
      self->ahead_len = (gsize) n;
    }
  if (self->ahead_len > 0)
    n = (gssize) ahead_take (self, buffer, count);
  else
    n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (self->base), buffer,
                                                  count, NULL, error);
  return input_filter (self, buffer, n, error);
}

static gssize
input_read (GInputStream *stream,
            void         *buffer,
            gsize         count,
            GCancellable *cancellable,
            GError      **error)
{
  PinholeWsInput *self = PINHOLE_WS_INPUT (stream);
  gssize n;

  if (self->owner->stopped)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "input stopped");
      return -1;
    }
  if (self->ahead_len > 0)
    n = (gssize) ahead_take (self, buffer, count);
  else
    n = g_input_stream_read (self->base, buffer, count, cancellable, error);
  if (n < 0)
    return n;   /* the base stream's own error */
  n = input_filter (self, buffer, n, NULL);
  if (n < 0)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                         self->owner->refusal->message);
  return n;
}

static gboolean
input_close (GInputStream *stream,
             GCancellable *cancellable,
             GError      **error)
{
  /* the owner closes the base stream */
  return TRUE;
}

static gboolean
input_can_poll (GPollableInputStream *stream)
{
  return TRUE;
}

static gboolean
input_is_readable (GPollableInputStream *stream)
{
  PinholeWsInput *self = PINHOLE_WS_INPUT (stream);

  return !self->owner->stopped &&
         (self->ahead_len > 0 ||
          g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (self->base)));
}

static GSource *
input_create_source (GPollableInputStream *stream,
                     GCancellable         *cancellable)
{
  PinholeWsInput *self = PINHOLE_WS_INPUT (stream);
  GSource *source = g_pollable_source_new (G_OBJECT (stream));

  /* stopped: a source that never fires; bytes read ahead: one that fires at once */
  if (!self->owner->stopped && self->ahead_len > 0)
    {
      g_autoptr(GSource) now = g_timeout_source_new (0);

      g_source_set_dummy_callback (now);
      g_source_add_child_source (source, now);
    }
  else if (!self->owner->stopped)
    {
      g_autoptr(GSource) child =
        g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (self->base), NULL);

      g_source_set_dummy_callback (child);
      g_source_add_child_source (source, child);
    }
  if (cancellable != NULL)
    {
      g_autoptr(GSource) cancel = g_cancellable_source_new (cancellable);

      g_source_set_dummy_callback (cancel);
      g_source_add_child_source (source, cancel);
    }
  return source;
}

static void
pinhole_ws_input_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = input_can_poll;
  iface->is_readable = input_is_readable;
  iface->create_source = input_create_source;
  iface->read_nonblocking = input_read_nonblocking;
}

static void
pinhole_ws_input_finalize (GObject *object)
{
  ahead_clear (PINHOLE_WS_INPUT (object));
  G_OBJECT_CLASS (pinhole_ws_input_parent_class)->finalize (object);
}

static void
pinhole_ws_input_class_init (PinholeWsInputClass *klass)
{
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = pinhole_ws_input_finalize;
  stream_class->read_fn = input_read;
  stream_class->close_fn = input_close;
}

static void
pinhole_ws_input_init (PinholeWsInput *self)
{
}

/* ---- output ---- */

/* hands the socket what it takes now; Returns: FALSE on a write error (kept in ->error) */
static gboolean
output_flush_some (PinholeWsOutput *self)
{
  while (pending_len (self) > 0 && self->error == NULL)
    {
      GError *error = NULL;
      gssize n = g_pollable_output_stream_write_nonblocking (
        G_POLLABLE_OUTPUT_STREAM (self->base), pending_data (self), pending_len (self), NULL,
        &error);

      if (n < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            {
              g_error_free (error);
              return TRUE;
            }
          g_debug ("write: %s; dropping %" G_GSIZE_FORMAT " queued bytes", error->message,
                   pending_len (self));
          self->error = error;
          pending_clear (self);
          return FALSE;
        }
      self->written += n;
      pending_consume (self, n);
    }
  return self->error == NULL;
}

static gboolean output_writable_cb (GObject  *base,
                                    gpointer  user_data);

/* waits for the socket to take more, while bytes are pending */
static void
output_watch (PinholeWsOutput *self)
{
  if (pending_len (self) == 0 || self->error != NULL)
    {
      if (self->flush_source != NULL)
        {
          g_source_destroy (self->flush_source);
          g_clear_pointer (&self->flush_source, g_source_unref);
        }
      return;
    }
  if (self->flush_source != NULL)
    return;
  self->flush_source =
    g_pollable_output_stream_create_source (G_POLLABLE_OUTPUT_STREAM (self->base), NULL);
  g_source_set_callback (self->flush_source, G_SOURCE_FUNC (output_writable_cb), self, NULL);
  g_source_attach (self->flush_source, g_main_context_get_thread_default ());
}

static gboolean
output_writable_cb (GObject  *base,
                    gpointer  user_data)
{
  PinholeWsOutput *self = user_data;

  output_flush_some (self);
  if (pending_len (self) > 0 && self->error == NULL)
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&self->flush_source, g_source_unref);
  if (self->error == NULL)
    g_signal_emit (self->owner, signals[SIGNAL_DRAINED], 0);
  return G_SOURCE_REMOVE;
}

static gssize
output_write_nonblocking (GPollableOutputStream *stream,
                          const void            *buffer,
                          gsize                  count,
                          GError               **error)
{
  PinholeWsOutput *self = PINHOLE_WS_OUTPUT (stream);
  gsize done = 0;

  if (self->error == NULL && pending_len (self) > 0)
    output_flush_some (self);
  if (self->error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->error));
      return -1;
    }
  if (pending_len (self) == 0)
    {
      GError *write_error = NULL;
      gssize n = g_pollable_output_stream_write_nonblocking (
        G_POLLABLE_OUTPUT_STREAM (self->base), buffer, count, NULL, &write_error);

      if (n < 0 && !g_error_matches (write_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          self->error = g_error_copy (write_error);
          g_propagate_error (error, write_error);
          return -1;
        }
      g_clear_error (&write_error);
      done = n > 0 ? (gsize) n : 0;
      self->written += done;
    }
  /* past the bound the stream fails: libsoup then closes it, whatever it was writing (a pong
   * to a ping flood is written without the owner's knowing) */
  if (self->max_pending > 0 && count - done > self->max_pending - MIN (pending_len (self),
                                                                      self->max_pending))
    {
      self->error = g_error_new (G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                                 "more than %" G_GSIZE_FORMAT " bytes wait for the peer",
                                 self->max_pending);
      g_debug ("%s; dropping them", self->error->message);
      pending_clear (self);
      output_watch (self);
      g_propagate_error (error, g_error_copy (self->error));
      return -1;
    }
  /* the rest waits here, where it is counted, and never in libsoup's queue */
  g_byte_array_append (self->pending, (const guint8 *) buffer + done, count - done);
  output_watch (self);
  return count;
}

static gssize
output_write (GOutputStream *stream,
              const void    *buffer,
              gsize          count,
              GCancellable  *cancellable,
              GError       **error)
{
  PinholeWsOutput *self = PINHOLE_WS_OUTPUT (stream);
  gsize n;

  if (self->error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->error));
      return -1;
    }
  if (pending_len (self) > 0)
    {
      if (!g_output_stream_write_all (self->base, pending_data (self), pending_len (self), &n,
                                      cancellable, error))
        return -1;
      self->written += n;
      pending_clear (self);
      output_watch (self);
    }
  if (!g_output_stream_write_all (self->base, buffer, count, &n, cancellable, error))
    return -1;
  self->written += n;
  return count;
}

static gboolean
output_flush (GOutputStream *stream,
              GCancellable  *cancellable,
              GError       **error)
{
  PinholeWsOutput *self = PINHOLE_WS_OUTPUT (stream);

  return output_write (stream, "", 0, cancellable, error) >= 0 &&
         g_output_stream_flush (self->base, cancellable, error);
}

static gboolean
output_close (GOutputStream *stream,
              GCancellable  *cancellable,
              GError       **error)
{
  return TRUE;
}

static gboolean
output_can_poll (GPollableOutputStream *stream)
{
  return TRUE;
}

static gboolean
output_is_writable (GPollableOutputStream *stream)
{
  return TRUE;
}

static GSource *
output_create_source (GPollableOutputStream *stream,
                      GCancellable          *cancellable)
{
  /* always writable: a source that fires at once */
  GSource *source = g_pollable_source_new (G_OBJECT (stream));
  g_autoptr(GSource) now = g_timeout_source_new (0);

  g_source_set_dummy_callback (now);
  g_source_add_child_source (source, now);
  return source;
}

static void
pinhole_ws_output_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = output_can_poll;
  iface->is_writable = output_is_writable;
  iface->create_source = output_create_source;
  iface->write_nonblocking = output_write_nonblocking;
}

static void
pinhole_ws_output_finalize (GObject *object)
{
  PinholeWsOutput *self = PINHOLE_WS_OUTPUT (object);

  if (self->flush_source != NULL)
    {
      g_source_destroy (self->flush_source);
      g_source_unref (self->flush_source);
    }
  g_byte_array_unref (self->pending);
  g_clear_error (&self->error);
  G_OBJECT_CLASS (pinhole_ws_output_parent_class)->finalize (object);
}

static void
pinhole_ws_output_class_init (PinholeWsOutputClass *klass)
{
  GOutputStreamClass *stream_class = G_OUTPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = pinhole_ws_output_finalize;
  stream_class->write_fn = output_write;
  stream_class->flush = output_flush;
  stream_class->close_fn = output_close;
}

static void
pinhole_ws_output_init (PinholeWsOutput *self)
{
  self->pending = g_byte_array_new ();
}

/* ---- the stream ---- */

static GInputStream *
stream_get_input_stream (GIOStream *stream)
{
  return G_INPUT_STREAM (PINHOLE_WS_STREAM (stream)->input);
}

static GOutputStream *
stream_get_output_stream (GIOStream *stream)
{
  return G_OUTPUT_STREAM (PINHOLE_WS_STREAM (stream)->output);
}

/* what is still pending when the stream closes goes if the socket takes it now (a close
 * frame, usually); a reader that does not read loses the rest */
static void
stream_close_prepare (PinholeWsStream *self)
{
  output_flush_some (self->output);
  pending_clear (self->output);
  output_watch (self->output);
  g_clear_handle_id (&self->refused_idle, g_source_remove);
}

static gboolean
stream_close (GIOStream    *stream,
              GCancellable *cancellable,
              GError      **error)
{
  PinholeWsStream *self = PINHOLE_WS_STREAM (stream);

  stream_close_prepare (self);
  return g_io_stream_close (self->base, cancellable, error);
}

static void
base_closed_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (g_io_stream_close_finish (G_IO_STREAM (source), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
stream_close_async (GIOStream          *stream,
                    int                 io_priority,
                    GCancellable       *cancellable,
                    GAsyncReadyCallback callback,
                    gpointer            user_data)
{
  PinholeWsStream *self = PINHOLE_WS_STREAM (stream);
  GTask *task = g_task_new (stream, cancellable, callback, user_data);

  /* on this thread: the default would close in a worker, beside the main loop's flushing */
  stream_close_prepare (self);
  g_io_stream_close_async (self->base, io_priority, cancellable, base_closed_cb, task);
}

static gboolean
stream_close_finish (GIOStream    *stream,
                     GAsyncResult *result,
                     GError      **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
pinhole_ws_stream_dispose (GObject *object)
{
  PinholeWsStream *self = PINHOLE_WS_STREAM (object);

  g_clear_handle_id (&self->refused_idle, g_source_remove);
  G_OBJECT_CLASS (pinhole_ws_stream_parent_class)->dispose (object);
}

static void
pinhole_ws_stream_finalize (GObject *object)
{
  PinholeWsStream *self = PINHOLE_WS_STREAM (object);

  g_clear_object (&self->input);
  g_clear_object (&self->output);
  g_clear_object (&self->base);
  g_clear_error (&self->refusal);
  G_OBJECT_CLASS (pinhole_ws_stream_parent_class)->finalize (object);
}

static void
pinhole_ws_stream_class_init (PinholeWsStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  object_class->dispose = pinhole_ws_stream_dispose;
  object_class->finalize = pinhole_ws_stream_finalize;
  stream_class->get_input_stream = stream_get_input_stream;
  stream_class->get_output_stream = stream_get_output_stream;
  stream_class->close_fn = stream_close;
  stream_class->close_async = stream_close_async;
  stream_class->close_finish = stream_close_finish;

  /**
   * PinholeWsStream::refused:
   * @error: why: a message over the limit, or a request head refused
   *
   * Input stopped for good; the owner closes the WebSocket.
   */
  signals[SIGNAL_REFUSED] =
    g_signal_new ("refused", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);

  /**
   * PinholeWsStream::drained:
   *
   * The socket took every byte that waited for it (pinhole_ws_stream_get_queued_bytes() is
   * 0 again); a writer that held back goes on.
   */
  signals[SIGNAL_DRAINED] =
    g_signal_new ("drained", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
}

static void
pinhole_ws_stream_init (PinholeWsStream *self)
{
}

/**
 * pinhole_ws_stream_new:
 * @base: the connection (TCP or TLS), pollable both ways
 * @http_head: the input starts with an HTTP request head (a server's side); a client reads
 *   the server's answer from @base itself and gives the stream only the frames after it
 * @max_text: bytes of a whole text message, fragments together
 * @max_binary: bytes of a whole binary message
 *
 * Returns: (transfer full): a stream to hand to libsoup instead of @base
 */
PinholeWsStream *
pinhole_ws_stream_new (GIOStream *base,
                       gboolean   http_head,
                       guint64    max_text,
                       guint64    max_binary)
{
  PinholeWsStream *self;

  g_return_val_if_fail (G_IS_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (base)), NULL);
  g_return_val_if_fail (G_IS_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (base)),
                        NULL);
  self = g_object_new (PINHOLE_TYPE_WS_STREAM, NULL);
  self->base = g_object_ref (base);
  pinhole_ws_limit_init (&self->limit, http_head, max_text, max_binary);
  self->input = g_object_new (PINHOLE_TYPE_WS_INPUT, NULL);
  self->input->owner = self;
  self->input->base = g_io_stream_get_input_stream (base);
  self->output = g_object_new (PINHOLE_TYPE_WS_OUTPUT, NULL);
  self->output->owner = self;
  self->output->base = g_io_stream_get_output_stream (base);
  return self;
}

/* a write that would leave more than @max_bytes waiting for the socket fails, and with it the
 * stream (0: no bound) */
void
pinhole_ws_stream_set_max_queued (PinholeWsStream *self,
                                  gsize            max_bytes)
{
  self->output->max_pending = max_bytes;
}

/* reads nothing more: what libsoup would go on reading and handling while it waits (up to
 * 5 s) for a closed peer's close frame stays in the socket */
void
pinhole_ws_stream_stop_input (PinholeWsStream *self)
{
  self->stopped = TRUE;
}

GIOStream *
pinhole_ws_stream_get_base (PinholeWsStream *self)
{
  return self->base;
}

/* Returns: bytes written to this stream that the socket has not taken yet */
gsize
pinhole_ws_stream_get_queued_bytes (PinholeWsStream *self)
{
  return pending_len (self->output);
}

/* Returns: bytes the socket has taken since the stream was made */
guint64
pinhole_ws_stream_get_written_bytes (PinholeWsStream *self)
{
  return self->output->written;
}
