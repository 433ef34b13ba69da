/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-tcp-path.c: packets over a connected TCP stream, each one a 4-byte big-endian length
 * and its bytes. Reads and writes are async on the main context; both sides are bounded. */
#define G_LOG_DOMAIN "pinhole-tcp-path"

#include <string.h>

#include "pinhole-error.h"
#include "pinhole-path-private.h"
#include "pinhole-tcp-path.h"

#define FRAME_HEADER PINHOLE_PATH_FRAME_HEADER
/* room for one whole frame and more, so that a read always makes progress */
#define READ_BUFFER_SIZE (2 * (FRAME_HEADER + PINHOLE_PATH_MAX_PACKET))
/* frames handed to one writev */
#define MAX_WRITE_FRAMES 64

typedef struct _ReadOp  ReadOp;
typedef struct _WriteOp WriteOp;

struct _PinholeTcpPath
{
  GObject            parent_instance;

  /* kind, remote, closed; queued: frame bytes in queue and in write_op */
  PinholePathStream  base;

  /* owned */
  GIOStream         *stream;
  GCancellable      *cancellable;   /* cancelled by close and dispose */
  guint8            *rbuf;          /* READ_BUFFER_SIZE; NULL while a read owns it */
  GQueue             queue;         /* GBytes packets not yet handed to a write */

  /* the operations in flight; they outlive the path if it goes first */
  ReadOp            *read_op;
  WriteOp           *write_op;

  gsize              rlen;          /* bytes in rbuf */
};

/* a read in flight owns the read buffer; self is NULL once the path is gone */
struct _ReadOp
{
  PinholeTcpPath *self;
  guint8         *buf;
};

/* a write in flight owns its frames and vectors */
struct _WriteOp
{
  PinholeTcpPath *self;
  GBytes         *packets[MAX_WRITE_FRAMES];
  guint8          headers[MAX_WRITE_FRAMES][FRAME_HEADER];
  GOutputVector   vectors[2 * MAX_WRITE_FRAMES];
  guint           n;
  gsize           bytes;
};

static void pinhole_tcp_path_iface_init (PinholePathInterface *iface);
static void start_read                  (PinholeTcpPath *self);
static void start_write                 (PinholeTcpPath *self);

G_DEFINE_FINAL_TYPE_WITH_CODE (PinholeTcpPath, pinhole_tcp_path, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PINHOLE_TYPE_PATH,
                                                      pinhole_tcp_path_iface_init))

static void
write_op_free (WriteOp *op)
{
  for (guint i = 0; i < op->n; i++)
    g_bytes_unref (op->packets[i]);
  g_free (op);
}

/* stops all I/O and closes the stream; the caller emits ::closed if it should */
static void
shut_down (PinholePath *path)
{
  PinholeTcpPath *self = PINHOLE_TCP_PATH (path);

  self->base.closed = TRUE;
  g_cancellable_cancel (self->cancellable);
  g_queue_clear_full (&self->queue, (GDestroyNotify) g_bytes_unref);
  self->base.queued = self->write_op != NULL ? self->write_op->bytes : 0;
  /* a socket connection closes at once, even with reads pending, and the peer sees EOF */
  if (!g_io_stream_is_closed (self->stream))
    {
      if (G_IS_SOCKET_CONNECTION (self->stream))
        g_io_stream_close (self->stream, NULL, NULL);
      else
        g_io_stream_close_async (self->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
    }
}

static void
parse_frames (PinholeTcpPath *self)
{
  gsize pos = 0;

  while (!self->base.closed && self->rlen - pos >= FRAME_HEADER)
    {
      const guint8 *p = self->rbuf + pos;
      guint32 len = pinhole_path_frame_header_get (p);
      g_autoptr(GBytes) packet = NULL;

      if (!_pinhole_path_stream_check_frame (&self->base, len))
        return;
      if (self->rlen - pos - FRAME_HEADER < len)
        break;
      packet = g_bytes_new (p + FRAME_HEADER, len);
      pos += FRAME_HEADER + len;
      pinhole_path_emit_received (PINHOLE_PATH (self), packet);
    }
  if (self->base.closed)
    return;
  memmove (self->rbuf, self->rbuf + pos, self->rlen - pos);
  self->rlen -= pos;
}

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  ReadOp *op = user_data;
  g_autoptr(PinholeTcpPath) self = NULL;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (op->self == NULL)
    {
      g_free (op->buf);
      g_free (op);
      return;
    }
  self = g_object_ref (op->self);
  self->read_op = NULL;
  self->rbuf = op->buf;
  g_free (op);

  if (self->base.closed)
    return;
  if (n < 0)
    {
      _pinhole_path_stream_close (&self->base, error);
      return;
    }
  if (n == 0)
    {
      g_autoptr(GError) eof = NULL;

      if (self->rlen > 0)
        eof = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                           "the peer closed the connection inside a frame (%" G_GSIZE_FORMAT
                           " bytes of it read)", self->rlen);
      else
        eof = g_error_new_literal (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                   "the peer closed the connection");
      _pinhole_path_stream_close (&self->base, eof);
      return;
    }
  self->rlen += (gsize) n;
  parse_frames (self);
  if (!self->base.closed)
    start_read (self);
}

static void
start_read (PinholeTcpPath *self)
{
  ReadOp *op;

  g_assert (self->read_op == NULL && self->rbuf != NULL);
  g_assert (self->rlen < READ_BUFFER_SIZE);

  op = g_new0 (ReadOp, 1);
  op->self = self;
  op->buf = g_steal_pointer (&self->rbuf);
  self->read_op = op;
  g_input_stream_read_async (g_io_stream_get_input_stream (self->stream), op->buf + self->rlen,
                             READ_BUFFER_SIZE - self->rlen, G_PRIORITY_DEFAULT,
                             self->cancellable, read_cb, op);
}

static void
write_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  WriteOp *op = user_data;
  g_autoptr(PinholeTcpPath) self = NULL;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = g_output_stream_writev_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  if (op->self == NULL)
    {
      write_op_free (op);
      return;
    }
  self = g_object_ref (op->self);
  self->write_op = NULL;
  g_assert (self->base.queued >= op->bytes);
  self->base.queued -= op->bytes;
  write_op_free (op);

  if (self->base.closed)
    return;
  if (!ok)
    {
      _pinhole_path_stream_close (&self->base, error);
      return;
    }
  start_write (self);
  if (self->base.queued == 0)
    pinhole_path_emit_drained (PINHOLE_PATH (self));
}

static void
start_write (PinholeTcpPath *self)
{
  WriteOp *op;

  if (self->base.closed || self->write_op != NULL || g_queue_is_empty (&self->queue))
    return;

  op = g_new0 (WriteOp, 1);
  op->self = self;
  while (op->n < MAX_WRITE_FRAMES && !g_queue_is_empty (&self->queue))
    {
      GBytes *packet = g_queue_pop_head (&self->queue);
      gsize len = g_bytes_get_size (packet);
      guint8 *h = op->headers[op->n];

      pinhole_path_frame_header_put (h, (guint32) len);
      op->vectors[2 * op->n].buffer = h;
      op->vectors[2 * op->n].size = FRAME_HEADER;
      op->vectors[2 * op->n + 1].buffer = g_bytes_get_data (packet, NULL);
      op->vectors[2 * op->n + 1].size = len;
      op->packets[op->n++] = packet;
      op->bytes += FRAME_HEADER + len;
    }
  self->write_op = op;
  g_output_stream_writev_all_async (g_io_stream_get_output_stream (self->stream), op->vectors,
                                    2 * op->n, G_PRIORITY_DEFAULT, self->cancellable, write_cb,
                                    op);
}

static gboolean
tcp_send (PinholePath *path,
          GBytes      *packet,
          GError     **error)
{
  PinholeTcpPath *self = PINHOLE_TCP_PATH (path);
  gsize len = g_bytes_get_size (packet);

  if (!_pinhole_path_stream_reserve (&self->base, len, error))
    return FALSE;
  g_queue_push_tail (&self->queue, g_bytes_ref (packet));
  start_write (self);
  return TRUE;
}

static PinholePathKind
tcp_get_kind (PinholePath *path)
{
  return PINHOLE_TCP_PATH (path)->base.kind;
}

static void
tcp_set_kind (PinholePath     *path,
              PinholePathKind  kind)
{
  PINHOLE_TCP_PATH (path)->base.kind = kind;
}

static const char *
tcp_get_remote (PinholePath *path)
{
  return PINHOLE_TCP_PATH (path)->base.remote;
}

static void
tcp_close (PinholePath *path)
{
  _pinhole_path_stream_close (&PINHOLE_TCP_PATH (path)->base, NULL);
}

static gsize
tcp_get_queued_bytes (PinholePath *path)
{
  return PINHOLE_TCP_PATH (path)->base.queued;
}

static void
pinhole_tcp_path_iface_init (PinholePathInterface *iface)
{
  iface->send = tcp_send;
  iface->get_kind = tcp_get_kind;
  iface->set_kind = tcp_set_kind;
  iface->get_remote = tcp_get_remote;
  iface->close = tcp_close;
  iface->get_queued_bytes = tcp_get_queued_bytes;
}

static void
pinhole_tcp_path_dispose (GObject *object)
{
  PinholeTcpPath *self = PINHOLE_TCP_PATH (object);

  if (self->stream != NULL && !self->base.closed)
    shut_down (PINHOLE_PATH (self));
  /* the operations in flight free themselves when they complete */
  if (self->read_op != NULL)
    self->read_op->self = NULL;
  self->read_op = NULL;
  if (self->write_op != NULL)
    self->write_op->self = NULL;
  self->write_op = NULL;
  g_queue_clear_full (&self->queue, (GDestroyNotify) g_bytes_unref);
  g_clear_object (&self->stream);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (pinhole_tcp_path_parent_class)->dispose (object);
}

static void
pinhole_tcp_path_finalize (GObject *object)
{
  PinholeTcpPath *self = PINHOLE_TCP_PATH (object);

  g_free (self->rbuf);
  _pinhole_path_stream_clear (&self->base);
  G_OBJECT_CLASS (pinhole_tcp_path_parent_class)->finalize (object);
}

static void
pinhole_tcp_path_class_init (PinholeTcpPathClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pinhole_tcp_path_dispose;
  object_class->finalize = pinhole_tcp_path_finalize;
}

static void
pinhole_tcp_path_init (PinholeTcpPath *self)
{
  _pinhole_path_stream_init (&self->base, PINHOLE_PATH (self), G_LOG_DOMAIN, "TCP",
                             PINHOLE_TCP_PATH_MAX_QUEUED, shut_down);
  g_queue_init (&self->queue);
  self->cancellable = g_cancellable_new ();
  self->rbuf = g_malloc (READ_BUFFER_SIZE);
}

/**
 * pinhole_tcp_path_new:
 * @stream: a connected stream, usually a #GSocketConnection; the path closes it
 * @kind: how the connection was found
 * @remote: the far end for display, "203.0.113.7:41000"
 *
 * Starts reading at once on the thread-default main context.
 *
 * Returns: (transfer full): the path
 */
PinholeTcpPath *
pinhole_tcp_path_new (GIOStream       *stream,
                      PinholePathKind  kind,
                      const char      *remote)
{
  PinholeTcpPath *self;

  g_return_val_if_fail (G_IS_IO_STREAM (stream), NULL);
  g_return_val_if_fail (kind <= PINHOLE_PATH_KIND_RELAY, NULL);
  g_return_val_if_fail (remote != NULL, NULL);

  self = g_object_new (PINHOLE_TYPE_TCP_PATH, NULL);
  self->stream = g_object_ref (stream);
  self->base.kind = kind;
  self->base.remote = g_strdup (remote);

  if (G_IS_SOCKET_CONNECTION (stream))
    pinhole_path_tune_tcp_socket (g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream)),
                                  remote);
  start_read (self);
  return self;
}

/* frame bytes (headers included) waiting for the socket */
gsize
pinhole_tcp_path_get_queued_bytes (PinholeTcpPath *self)
{
  g_return_val_if_fail (PINHOLE_IS_TCP_PATH (self), 0);
  return self->base.queued;
}
