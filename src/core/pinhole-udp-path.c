/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-udp-path.c: packets over UDP, framed as on TCP inside a PseudoTcp byte stream.
 * PseudoTcp (libnice, Debian-packaged, the engine of libnice's reliable mode) gives
 * retransmission and congestion control that are maintained and tested elsewhere, which a
 * home-made layer would not. */
#define G_LOG_DOMAIN "pinhole-udp-path"

#include <errno.h>
#include <pseudotcp.h>
#include <string.h>
#include <sys/socket.h>

#include "pinhole-error.h"
#include "pinhole-path-private.h"
#include "pinhole-udp-path.h"

#define FRAME_HEADER PINHOLE_PATH_FRAME_HEADER
/* PseudoTcp's header: conversation, seq, ack, control, flags, window, two timestamps */
#define PSEUDO_TCP_HEADER 24
#define PSEUDO_TCP_FLAGS_OFFSET 13
/* PseudoTcp's windows: large enough to keep a fast link busy, small enough to cost little per
 * peer; both ends must set them before the handshake (the window scale is negotiated there) */
#define PSEUDO_TCP_BUFFER (512 * 1024)
/* delayed ACKs wait at most this long (PseudoTcp's default, 100 ms, slows loss recovery) */
#define PSEUDO_TCP_ACK_DELAY_MS 10
/* rounds of flushing and draining in one pump when ::received handlers send again */
#define MAX_PUMP_ROUNDS 64

struct _PinholeUdpPath
{
  GObject            parent_instance;

  /* kind, remote, closed; queued: bytes in queue not yet in PseudoTcp */
  PinholePathStream  base;

  /* owned */
  PseudoTcpSocket   *ptcp;
  GSocket           *socket;        /* a reference; the socket's owner reads it, not the path */
  GSocketAddress    *remote_addr;
  GSource           *clock;         /* its ready time is PseudoTcp's next timer */
  GQueue             queue;         /* GBytes frames (header + packet) not yet in PseudoTcp */
  guint8            *rbuf;          /* FRAME_HEADER + MAX_PACKET: the frame being read */
  GError            *ptcp_error;    /* why PseudoTcp closed, until reported */

  gsize              head_offset;   /* bytes of the head frame already in PseudoTcp */
  gsize              rlen;          /* bytes in rbuf */
  gboolean           opened;        /* PseudoTcp reported the connection open */
  gboolean           connected;     /* ... and "connected" was notified */
  gboolean           pumping;
  gboolean           pump_again;
  gboolean           in_pure_ack;   /* PseudoTcp is processing a segment without data or flags */
  gboolean           sending;       /* inside send(): its caller sees what is queued itself */
  gboolean           drain_wanted;  /* send() left bytes queued: emit ::drained once they go */
};

enum { PROP_0, PROP_CONNECTED, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void pinhole_udp_path_iface_init (PinholePathInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PinholeUdpPath, pinhole_udp_path, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PINHOLE_TYPE_PATH,
                                                      pinhole_udp_path_iface_init))

/* ---- PseudoTcp callbacks: they record state; pump() acts on it outside PseudoTcp ---- */

static void
ptcp_opened_cb (PseudoTcpSocket *ptcp,
                gpointer         data)
{
  PinholeUdpPath *self = data;

  self->opened = TRUE;
}

static void
ptcp_nothing_cb (PseudoTcpSocket *ptcp,
                 gpointer         data)
{
  /* pump() reads and writes after every call into PseudoTcp */
}

static void
ptcp_closed_cb (PseudoTcpSocket *ptcp,
                guint32          err,
                gpointer         data)
{
  PinholeUdpPath *self = data;

  if (self->ptcp_error != NULL)
    return;
  switch (err)
    {
    case ECONNRESET:
      self->ptcp_error = g_error_new_literal (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                              "the peer reset the connection");
      break;
    case ETIMEDOUT:
      self->ptcp_error = g_error_new_literal (PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT,
                                              "no acknowledgement after repeated retransmissions");
      break;
    default:
      self->ptcp_error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                                      "the connection was aborted: %s", g_strerror ((int) err));
      break;
    }
}

static PseudoTcpWriteResult
ptcp_write_packet_cb (PseudoTcpSocket *ptcp,
                      const gchar     *buffer,
                      guint32          len,
                      gpointer         data)
{
  PinholeUdpPath *self = data;
  GOutputVector vector = { buffer, len };
  g_autoptr(GError) error = NULL;
  GPollableReturn res;

  /* PseudoTcp answers a pure ACK whose sequence number is not the next expected with another
   * pure ACK; when both directions have a gap, the two ends then volley ACKs as fast as the
   * link allows until the gaps fill. TCP never acknowledges a pure ACK (RFC 9293 §3.8.6.3),
   * so neither do we. Window probes would need the answer, but this path reads everything at
   * once and its receive window never closes. */
  if (self->in_pure_ack && len == PSEUDO_TCP_HEADER && buffer[PSEUDO_TCP_FLAGS_OFFSET] == 0)
    return WR_SUCCESS;

  /* the socket is shared and may be blocking: a zero timeout never waits */
  res = g_socket_send_message_with_timeout (self->socket, self->remote_addr, &vector, 1, NULL, 0,
                                            G_SOCKET_MSG_NONE, 0, NULL, NULL, &error);
  if (res == G_POLLABLE_RETURN_FAILED)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE))
        return WR_TOO_LARGE;
      /* WR_FAIL would abort the connection at once; a datagram lost here is retransmitted
       * like one lost on the way, and a lasting failure ends in a retransmission timeout */
      g_debug ("%s: send failed: %s", self->base.remote, error->message);
    }
  return WR_SUCCESS;
}

/* ---- the pump ---- */

static void
schedule_clock (PinholeUdpPath *self)
{
  guint64 deadline_ms = 0;
  gint64 now_us, ready, current;
  gint32 delay_ms;

  if (self->base.closed || !pseudo_tcp_socket_get_next_clock (self->ptcp, &deadline_ms))
    {
      g_source_set_ready_time (self->clock, -1);
      return;
    }
  now_us = g_get_monotonic_time ();
  /* PseudoTcp counts milliseconds in 32 bits: compare modulo 2^32 */
  delay_ms = (gint32) ((guint32) deadline_ms - (guint32) (now_us / 1000));
  ready = now_us + (gint64) MAX (delay_ms, 0) * 1000;
  /* moving the ready time wakes the context: only bring it forward; firing early is harmless */
  current = g_source_get_ready_time (self->clock);
  if (current == -1 || ready < current)
    g_source_set_ready_time (self->clock, ready);
}

static void
shut_down (PinholePath *path)
{
  PinholeUdpPath *self = PINHOLE_UDP_PATH (path);

  self->base.closed = TRUE;
  g_queue_clear_full (&self->queue, (GDestroyNotify) g_bytes_unref);
  self->base.queued = 0;
  self->head_offset = 0;
  /* a reset tells the peer at once; PseudoTcp sends it before returning */
  pseudo_tcp_socket_close (self->ptcp, TRUE);
  g_clear_error (&self->ptcp_error);
  g_source_set_ready_time (self->clock, -1);
}

static void
flush_writes (PinholeUdpPath *self)
{
  GBytes *frame;

  while (!self->base.closed && (frame = g_queue_peek_head (&self->queue)) != NULL)
    {
      gsize size;
      const guint8 *data = g_bytes_get_data (frame, &size);
      gint n = pseudo_tcp_socket_send (self->ptcp, (const char *) data + self->head_offset,
                                       (guint32) (size - self->head_offset));

      if (n <= 0)
        return;
      self->head_offset += (gsize) n;
      self->base.queued -= (gsize) n;
      if (self->head_offset < size)
        return;
      g_bytes_unref (g_queue_pop_head (&self->queue));
      self->head_offset = 0;
    }
}

static void
drain_reads (PinholeUdpPath *self)
{
  while (!self->base.closed)
    {
      gsize want, len = 0;
      gint n;

      if (self->rlen >= FRAME_HEADER)
        {
          len = pinhole_path_frame_header_get (self->rbuf);
          want = FRAME_HEADER + len - self->rlen;
        }
      else
        want = FRAME_HEADER - self->rlen;

      if (want > 0)
        {
          n = pseudo_tcp_socket_recv (self->ptcp, (char *) self->rbuf + self->rlen, want);
          if (n < 0)
            return;
          if (n == 0)
            {
              g_autoptr(GError) error = g_error_new_literal (PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                                                             "the peer closed the connection");
              _pinhole_path_stream_close (&self->base, error);
              return;
            }
          self->rlen += (gsize) n;
        }

      if (self->rlen == FRAME_HEADER)
        {
          len = pinhole_path_frame_header_get (self->rbuf);
          if (!_pinhole_path_stream_check_frame (&self->base, len))
            return;
        }
      if (self->rlen >= FRAME_HEADER && self->rlen == FRAME_HEADER + len)
        {
          g_autoptr(GBytes) packet = g_bytes_new (self->rbuf + FRAME_HEADER, len);

          self->rlen = 0;
          pinhole_path_emit_received (PINHOLE_PATH (self), packet);
        }
    }
}

/* acts on whatever the last call into PseudoTcp changed: queued writes, readable data,
 * the connection opening or closing, the next timer */
static void
pump (PinholeUdpPath *self)
{
  g_autoptr(PinholeUdpPath) hold G_GNUC_UNUSED = NULL;
  guint rounds = 0;

  if (self->pumping)
    {
      self->pump_again = TRUE;
      return;
    }
  hold = g_object_ref (self);
  self->pumping = TRUE;
  do
    {
      self->pump_again = FALSE;
      if (self->opened && !self->connected && !self->base.closed)
        {
          self->connected = TRUE;
          g_debug ("%s: connected", self->base.remote);
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
        }
      flush_writes (self);
      drain_reads (self);
      if (self->ptcp_error != NULL && !self->base.closed)
        {
          g_autoptr(GError) error = g_steal_pointer (&self->ptcp_error);
          _pinhole_path_stream_close (&self->base, error);
        }
    }
  while (self->pump_again && !self->base.closed && ++rounds < MAX_PUMP_ROUNDS);
  self->pumping = FALSE;
  if (self->pump_again && !self->base.closed)
    g_source_set_ready_time (self->clock, 0);   /* finish in the next iteration */
  else
    schedule_clock (self);
  if (self->drain_wanted && !self->sending && self->base.queued == 0 && !self->base.closed)
    {
      self->drain_wanted = FALSE;
      pinhole_path_emit_drained (PINHOLE_PATH (self));
    }
}

static gboolean
clock_cb (gpointer user_data)
{
  PinholeUdpPath *self = user_data;
  g_autoptr(PinholeUdpPath) hold G_GNUC_UNUSED = g_object_ref (self);

  if (!self->base.closed)
    {
      pseudo_tcp_socket_notify_clock (self->ptcp);
      pump (self);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
clock_dispatch (GSource     *source,
                GSourceFunc  callback,
                gpointer     user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs clock_funcs = { NULL, NULL, clock_dispatch, NULL, NULL, NULL };

/* ---- PinholePath ---- */

static gboolean
udp_send (PinholePath *path,
          GBytes      *packet,
          GError     **error)
{
  PinholeUdpPath *self = PINHOLE_UDP_PATH (path);
  gsize len = g_bytes_get_size (packet);
  guint8 *frame;

  if (!_pinhole_path_stream_reserve (&self->base, len, error))
    return FALSE;
  frame = g_malloc (FRAME_HEADER + len);
  pinhole_path_frame_header_put (frame, (guint32) len);
  if (len > 0)
    memcpy (frame + FRAME_HEADER, g_bytes_get_data (packet, NULL), len);
  g_queue_push_tail (&self->queue, g_bytes_new_take (frame, FRAME_HEADER + len));
  self->sending = TRUE;
  pump (self);
  self->sending = FALSE;
  if (self->base.queued > 0)
    self->drain_wanted = TRUE;
  return TRUE;
}

static PinholePathKind
udp_get_kind (PinholePath *path)
{
  return PINHOLE_UDP_PATH (path)->base.kind;
}

static void
udp_set_kind (PinholePath     *path,
              PinholePathKind  kind)
{
  PINHOLE_UDP_PATH (path)->base.kind = kind;
}

static const char *
udp_get_remote (PinholePath *path)
{
  return PINHOLE_UDP_PATH (path)->base.remote;
}

static void
udp_close (PinholePath *path)
{
  _pinhole_path_stream_close (&PINHOLE_UDP_PATH (path)->base, NULL);
}

static gsize
udp_get_queued_bytes (PinholePath *path)
{
  return PINHOLE_UDP_PATH (path)->base.queued;
}

static void
pinhole_udp_path_iface_init (PinholePathInterface *iface)
{
  iface->send = udp_send;
  iface->get_kind = udp_get_kind;
  iface->set_kind = udp_set_kind;
  iface->get_remote = udp_get_remote;
  iface->close = udp_close;
  iface->get_queued_bytes = udp_get_queued_bytes;
}

/* ---- GObject ---- */

static void
pinhole_udp_path_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  PinholeUdpPath *self = PINHOLE_UDP_PATH (object);

  switch (prop_id)
    {
    case PROP_CONNECTED:
      g_value_set_boolean (value, self->connected);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pinhole_udp_path_dispose (GObject *object)
{
  PinholeUdpPath *self = PINHOLE_UDP_PATH (object);

  if (self->ptcp != NULL && !self->base.closed)
    shut_down (PINHOLE_PATH (self));
  if (self->clock != NULL)
    {
      g_source_destroy (self->clock);
      g_clear_pointer (&self->clock, g_source_unref);
    }
  g_clear_object (&self->ptcp);
  g_clear_object (&self->socket);
  g_clear_object (&self->remote_addr);
  g_queue_clear_full (&self->queue, (GDestroyNotify) g_bytes_unref);
  G_OBJECT_CLASS (pinhole_udp_path_parent_class)->dispose (object);
}

static void
pinhole_udp_path_finalize (GObject *object)
{
  PinholeUdpPath *self = PINHOLE_UDP_PATH (object);

  g_clear_error (&self->ptcp_error);
  g_free (self->rbuf);
  _pinhole_path_stream_clear (&self->base);
  G_OBJECT_CLASS (pinhole_udp_path_parent_class)->finalize (object);
}

static void
pinhole_udp_path_class_init (PinholeUdpPathClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = pinhole_udp_path_get_property;
  object_class->dispose = pinhole_udp_path_dispose;
  object_class->finalize = pinhole_udp_path_finalize;

  /**
   * PinholeUdpPath:connected:
   * Whether the PseudoTcp handshake with the peer completed.
   */
  properties[PROP_CONNECTED] =
    g_param_spec_boolean ("connected", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pinhole_udp_path_init (PinholeUdpPath *self)
{
  _pinhole_path_stream_init (&self->base, PINHOLE_PATH (self), G_LOG_DOMAIN, "UDP",
                             PINHOLE_UDP_PATH_MAX_QUEUED, shut_down);
  g_queue_init (&self->queue);
  self->rbuf = g_malloc (FRAME_HEADER + PINHOLE_PATH_MAX_PACKET);
}

/* a quarter of what the kernel gives the socket (SO_RCVBUF reads back twice the usable
 * size on Linux), between 32 KiB and PSEUDO_TCP_BUFFER */
static guint
receive_window (GSocket *socket)
{
  gint size = 0;

  if (!g_socket_get_option (socket, SOL_SOCKET, SO_RCVBUF, &size, NULL) || size <= 0)
    return 64 * 1024;
  return CLAMP ((guint) size / 4, 32 * 1024u, (guint) PSEUDO_TCP_BUFFER);
}

/**
 * pinhole_udp_path_new:
 * @socket: a bound UDP socket; the path sends on it but never reads it or closes it
 * @remote: the peer's address
 * @kind: how the address was found
 * @initiator: whether this end opens the PseudoTcp connection; the other end must not
 *
 * The path runs on the thread-default main context. The socket's owner hands it every
 * datagram from @remote that is not STUN with pinhole_udp_path_receive().
 *
 * Returns: (transfer full): the path
 */
PinholeUdpPath *
pinhole_udp_path_new (GSocket         *socket,
                      GSocketAddress  *remote,
                      PinholePathKind  kind,
                      gboolean         initiator)
{
  PseudoTcpCallbacks callbacks = { 0 };
  PinholeUdpPath *self;

  g_return_val_if_fail (G_IS_SOCKET (socket), NULL);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (remote), NULL);
  g_return_val_if_fail (kind <= PINHOLE_PATH_KIND_RELAY, NULL);

  self = g_object_new (PINHOLE_TYPE_UDP_PATH, NULL);
  self->socket = g_object_ref (socket);
  self->remote_addr = g_object_ref (remote);
  self->base.kind = kind;
  {
    g_autofree char *host =
      g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
    guint16 port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (remote));

    if (g_inet_address_get_family (g_inet_socket_address_get_address (
          G_INET_SOCKET_ADDRESS (remote))) == G_SOCKET_FAMILY_IPV6)
      self->base.remote = g_strdup_printf ("[%s]:%u", host, port);
    else
      self->base.remote = g_strdup_printf ("%s:%u", host, port);
  }

  self->clock = g_source_new (&clock_funcs, sizeof (GSource));
  g_source_set_callback (self->clock, clock_cb, self, NULL);
  g_source_set_static_name (self->clock, "pinhole-udp-path clock");
  g_source_attach (self->clock, g_main_context_get_thread_default ());

  callbacks.user_data = self;
  callbacks.PseudoTcpOpened = ptcp_opened_cb;
  callbacks.PseudoTcpReadable = ptcp_nothing_cb;
  callbacks.PseudoTcpWritable = ptcp_nothing_cb;
  callbacks.PseudoTcpClosed = ptcp_closed_cb;
  callbacks.WritePacket = ptcp_write_packet_cb;
  self->ptcp = pseudo_tcp_socket_new (PINHOLE_UDP_PATH_CONVERSATION, &callbacks);
  /* packets are whole messages: do not hold small ones back (Nagle). The receive window
   * must fit the socket's receive buffer (shared with the other paths on it): a window the
   * kernel cannot hold drops datagrams, and each loss costs PseudoTcp a retransmission
   * timeout of at least a second */
  g_object_set (self->ptcp,
                "no-delay", TRUE,
                "ack-delay", PSEUDO_TCP_ACK_DELAY_MS,
                "rcv-buf", receive_window (socket),
                "snd-buf", PSEUDO_TCP_BUFFER,
                NULL);
  pseudo_tcp_socket_notify_mtu (self->ptcp, PINHOLE_UDP_PATH_MTU);
  if (initiator)
    pseudo_tcp_socket_connect (self->ptcp);
  schedule_clock (self);
  return self;
}

/**
 * pinhole_udp_path_receive:
 * @data: one datagram from the path's remote address, not a STUN message
 *
 * Datagrams of another conversation, and malformed ones, are ignored.
 */
void
pinhole_udp_path_receive (PinholeUdpPath *self,
                          const guint8   *data,
                          gsize           len)
{
  g_autoptr(PinholeUdpPath) hold G_GNUC_UNUSED = NULL;

  g_return_if_fail (PINHOLE_IS_UDP_PATH (self));
  g_return_if_fail (data != NULL || len == 0);

  if (self->base.closed || len > G_MAXUINT16)
    return;
  hold = g_object_ref (self);
  self->in_pure_ack = len == PSEUDO_TCP_HEADER && data[PSEUDO_TCP_FLAGS_OFFSET] == 0;
  if (!pseudo_tcp_socket_notify_packet (self->ptcp, (const gchar *) data, (guint32) len))
    g_debug ("%s: PseudoTcp ignored a datagram of %" G_GSIZE_FORMAT " bytes", self->base.remote,
             len);
  self->in_pure_ack = FALSE;
  pump (self);
}

gboolean
pinhole_udp_path_is_connected (PinholeUdpPath *self)
{
  g_return_val_if_fail (PINHOLE_IS_UDP_PATH (self), FALSE);
  return self->connected;
}

/* frame bytes (headers included) not yet taken by PseudoTcp */
gsize
pinhole_udp_path_get_queued_bytes (PinholeUdpPath *self)
{
  g_return_val_if_fail (PINHOLE_IS_UDP_PATH (self), FALSE);
  return self->base.queued;
}
