/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-path.c: an in-memory PinholePath pair. Packets reach the other end from a
 * timeout source, never inside send(), with seeded (repeatable) loss, reordering and copies;
 * the delay and faults set on one end apply to the packets that end sends. */
#define G_LOG_DOMAIN "pinhole-test-path"

#include "pinhole-test-path.h"

#include <gio/gio.h>

#include "pinhole-test-util.h"

typedef struct
{
  GBytes *packet;
  gint64  due;    /* µs, monotonic */
} Pending;

struct _PinholeTestPath
{
  GObject          parent_instance;

  /* owned */
  GRand           *rand;
  GQueue           inbox;      /* Pending, for this end's listeners */
  GPtrArray       *captured;   /* GBytes sent from this end, when capturing */
  GQueue           held;       /* GBytes sent and not yet taken, while holding */
  char            *remote;

  /* borrowed: cleared by the peer's dispose */
  PinholeTestPath *peer;

  PinholePathKind  kind;
  guint            deliver_source;
  guint            closed_source;
  gboolean         closed;
  gboolean         closed_by_peer;
  gboolean         silent;
  gboolean         holding;
  gsize            held_bytes;
  gdouble          drop;
  gdouble          reorder;
  gdouble          duplicate;
  guint            delay_ms;
  guint64          rate;          /* bytes per second this end sends at most; 0: no bound */
  gint64           link_free;     /* µs; when the link has sent what it was given */
  guint            n_sent;
  guint            n_dropped;
};

static void pinhole_test_path_iface_init (PinholePathInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PinholeTestPath, pinhole_test_path, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PINHOLE_TYPE_PATH,
                                                      pinhole_test_path_iface_init))

static void
pending_free (gpointer data)
{
  Pending *p = data;

  g_bytes_unref (p->packet);
  g_free (p);
}

static void schedule_delivery (PinholeTestPath *self);

static gboolean
deliver_cb (gpointer user_data)
{
  g_autoptr(PinholeTestPath) self = g_object_ref (user_data);
  g_autoptr(GPtrArray) due = g_ptr_array_new_with_free_func (pending_free);
  gint64 now = g_get_monotonic_time ();

  self->deliver_source = 0;
  /* take what is due first: listeners may send, which only appends to the peer's inbox */
  while (self->inbox.length > 0 && ((Pending *) g_queue_peek_head (&self->inbox))->due <= now)
    g_ptr_array_add (due, g_queue_pop_head (&self->inbox));

  for (guint i = 0; i < due->len && !self->closed; i++)
    pinhole_path_emit_received (PINHOLE_PATH (self), ((Pending *) due->pdata[i])->packet);

  schedule_delivery (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_delivery (PinholeTestPath *self)
{
  Pending *head;
  gint64 now;

  if (self->deliver_source != 0 || self->closed || self->inbox.length == 0)
    return;
  head = g_queue_peek_head (&self->inbox);
  now = g_get_monotonic_time ();
  self->deliver_source = g_timeout_add (head->due > now ? (guint) ((head->due - now + 999) / 1000)
                                                        : 0, deliver_cb, self);
}

static void
enqueue (PinholeTestPath *self,
         GBytes          *packet,
         guint            delay_ms,
         gboolean         reorder,
         gint64           sent)
{
  Pending *p = g_new0 (Pending, 1);

  p->packet = g_bytes_ref (packet);
  p->due = sent + (gint64) delay_ms * 1000;
  if (reorder && self->inbox.length > 0)
    {
      /* overtake the packet queued before it */
      Pending *prev = g_queue_peek_tail (&self->inbox);

      p->due = prev->due;
      g_queue_insert_before (&self->inbox, self->inbox.tail, p);
    }
  else
    {
      /* keep dues monotonic so that the queue stays in delivery order */
      if (self->inbox.length > 0)
        p->due = MAX (p->due, ((Pending *) g_queue_peek_tail (&self->inbox))->due);
      g_queue_push_tail (&self->inbox, p);
    }
  schedule_delivery (self);
}

static gboolean
test_path_send (PinholePath *path,
                GBytes      *packet,
                GError     **error)
{
  PinholeTestPath *self = PINHOLE_TEST_PATH (path);
  PinholeTestPath *peer = self->peer;

  if (self->closed || peer == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "test path is closed");
      return FALSE;
    }
  if (g_bytes_get_size (packet) > PINHOLE_PATH_MAX_PACKET)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "packet too large");
      return FALSE;
    }

  if (self->holding)
    {
      g_queue_push_tail (&self->held, g_bytes_ref (packet));
      self->held_bytes += g_bytes_get_size (packet);
      return TRUE;
    }
  self->n_sent++;
  if (self->captured != NULL)
    g_ptr_array_add (self->captured, g_bytes_ref (packet));
  if (self->silent || g_rand_double (self->rand) < self->drop)
    {
      self->n_dropped++;
      return TRUE;
    }
  {
    /* a link of self->rate bytes a second sends packets one after the other: what it was
     * given meanwhile waits in its queue, as in a router's */
    gint64 sent = g_get_monotonic_time ();

    if (self->rate > 0)
      {
        self->link_free = MAX (self->link_free, sent) +
                          (gint64) (g_bytes_get_size (packet) * G_USEC_PER_SEC / self->rate);
        sent = self->link_free;
      }
    enqueue (peer, packet, self->delay_ms, g_rand_double (self->rand) < self->reorder, sent);
    if (g_rand_double (self->rand) < self->duplicate)
      enqueue (peer, packet, self->delay_ms, FALSE, sent);
  }
  return TRUE;
}

static gsize
test_path_get_queued_bytes (PinholePath *path)
{
  return PINHOLE_TEST_PATH (path)->held_bytes;
}

/**
 * pinhole_test_path_set_holding:
 * While holding, packets sent from this end wait (and count as queued bytes) until
 * pinhole_test_path_take_held() hands them on, like a socket that is slow to take them.
 */
void
pinhole_test_path_set_holding (PinholeTestPath *self,
                               gboolean         holding)
{
  self->holding = holding;
}

/* the socket takes the first @n held packets (they go on as if sent now); ::drained when none
 * is left. Returns: the packets taken, in order */
GPtrArray *
pinhole_test_path_take_held (PinholeTestPath *self,
                             guint            n)
{
  GPtrArray *taken = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  gboolean holding = self->holding;

  self->holding = FALSE;
  while (n-- > 0 && self->held.length > 0)
    {
      GBytes *packet = g_queue_pop_head (&self->held);

      self->held_bytes -= g_bytes_get_size (packet);
      test_path_send (PINHOLE_PATH (self), packet, NULL);
      g_ptr_array_add (taken, packet);
    }
  self->holding = holding;
  if (self->held.length == 0)
    pinhole_path_emit_drained (PINHOLE_PATH (self));
  return taken;
}

guint
pinhole_test_path_get_n_held (PinholeTestPath *self)
{
  return self->held.length;
}

static PinholePathKind
test_path_get_kind (PinholePath *path)
{
  return PINHOLE_TEST_PATH (path)->kind;
}

static const char *
test_path_get_remote (PinholePath *path)
{
  return PINHOLE_TEST_PATH (path)->remote;
}

static gboolean
emit_closed_cb (gpointer user_data)
{
  g_autoptr(PinholeTestPath) self = g_object_ref (user_data);

  self->closed_source = 0;
  if (self->closed_by_peer)
    {
      g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                                     "the other end closed the test path");
      pinhole_path_emit_closed (PINHOLE_PATH (self), error);
    }
  else
    {
      pinhole_path_emit_closed (PINHOLE_PATH (self), NULL);
    }
  return G_SOURCE_REMOVE;
}

static void
mark_closed (PinholeTestPath *self,
             gboolean         by_peer)
{
  if (self->closed)
    return;
  self->closed = TRUE;
  self->closed_by_peer = by_peer;
  g_clear_handle_id (&self->deliver_source, g_source_remove);
  g_queue_clear_full (&self->inbox, pending_free);
  self->closed_source = g_idle_add (emit_closed_cb, self);
}

static void
test_path_close (PinholePath *path)
{
  PinholeTestPath *self = PINHOLE_TEST_PATH (path);

  if (self->closed)
    return;
  mark_closed (self, FALSE);
  if (self->peer != NULL)
    mark_closed (self->peer, TRUE);
}

static void
pinhole_test_path_iface_init (PinholePathInterface *iface)
{
  iface->send = test_path_send;
  iface->get_kind = test_path_get_kind;
  iface->get_remote = test_path_get_remote;
  iface->close = test_path_close;
  iface->get_queued_bytes = test_path_get_queued_bytes;
}

static void
pinhole_test_path_dispose (GObject *object)
{
  PinholeTestPath *self = PINHOLE_TEST_PATH (object);

  if (self->peer != NULL)
    {
      self->peer->peer = NULL;
      self->peer = NULL;
    }
  g_clear_handle_id (&self->deliver_source, g_source_remove);
  g_clear_handle_id (&self->closed_source, g_source_remove);
  g_queue_clear_full (&self->inbox, pending_free);

  G_OBJECT_CLASS (pinhole_test_path_parent_class)->dispose (object);
}

static void
pinhole_test_path_finalize (GObject *object)
{
  PinholeTestPath *self = PINHOLE_TEST_PATH (object);

  g_rand_free (self->rand);
  g_clear_pointer (&self->captured, g_ptr_array_unref);
  g_queue_clear_full (&self->held, (GDestroyNotify) g_bytes_unref);
  g_free (self->remote);

  G_OBJECT_CLASS (pinhole_test_path_parent_class)->finalize (object);
}

static void
pinhole_test_path_class_init (PinholeTestPathClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pinhole_test_path_dispose;
  object_class->finalize = pinhole_test_path_finalize;
}

static void
pinhole_test_path_init (PinholeTestPath *self)
{
  g_queue_init (&self->inbox);
  g_queue_init (&self->held);
}

/**
 * pinhole_test_path_new_pair:
 * @out_a: (out) (transfer full): one end
 * @out_b: (out) (transfer full): the other end
 *
 * The ends do not keep each other alive; a disposed end behaves as closed for the other.
 */
void
pinhole_test_path_new_pair (PinholePathKind   kind,
                            guint32           seed,
                            PinholeTestPath **out_a,
                            PinholeTestPath **out_b)
{
  PinholeTestPath *a = g_object_new (PINHOLE_TYPE_TEST_PATH, NULL);
  PinholeTestPath *b = g_object_new (PINHOLE_TYPE_TEST_PATH, NULL);

  a->kind = b->kind = kind;
  a->rand = g_rand_new_with_seed (seed);
  b->rand = g_rand_new_with_seed (seed ^ 0x9e3779b9u);
  a->remote = g_strdup_printf ("test-b-%u", seed);
  b->remote = g_strdup_printf ("test-a-%u", seed);
  a->peer = b;
  b->peer = a;
  *out_a = a;
  *out_b = b;
}

void
pinhole_test_path_set_faults (PinholeTestPath *self,
                              gdouble          drop,
                              gdouble          reorder,
                              gdouble          duplicate)
{
  self->drop = drop;
  self->reorder = reorder;
  self->duplicate = duplicate;
}

void
pinhole_test_path_set_delay (PinholeTestPath *self,
                             guint            delay_ms)
{
  self->delay_ms = delay_ms;
}

/* packets sent from this end go through a link of @bytes_per_second (0: no bound), queued
 * behind each other */
void
pinhole_test_path_set_rate (PinholeTestPath *self,
                            guint64          bytes_per_second)
{
  self->rate = bytes_per_second;
}

void
pinhole_test_path_set_silent (PinholeTestPath *self,
                              gboolean         silent)
{
  self->silent = silent;
}

void
pinhole_test_path_set_capture (PinholeTestPath *self,
                               gboolean         capture)
{
  if (capture && self->captured == NULL)
    self->captured = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  else if (!capture)
    g_clear_pointer (&self->captured, g_ptr_array_unref);
}

/**
 * pinhole_test_path_get_captured:
 * Returns: (transfer none) (nullable): the packets sent from this end while capturing
 */
GPtrArray *
pinhole_test_path_get_captured (PinholeTestPath *self)
{
  return self->captured;
}

void
pinhole_test_path_inject (PinholeTestPath *self,
                          GBytes          *packet)
{
  if (!self->closed)
    enqueue (self, packet, 0, FALSE, g_get_monotonic_time ());
}

guint
pinhole_test_path_get_n_sent (PinholeTestPath *self)
{
  return self->n_sent;
}

guint
pinhole_test_path_get_n_dropped (PinholeTestPath *self)
{
  return self->n_dropped;
}

gboolean
pinhole_test_path_is_closed (PinholeTestPath *self)
{
  return self->closed;
}

/* ---- real TCP streams on loopback ---- */

static gboolean
pointer_set (gpointer data)
{
  return *(gpointer *) data != NULL;
}

static void
connect_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  GSocketConnection **out = user_data;
  g_autoptr(GError) error = NULL;

  *out = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  g_assert_no_error (error);
}

static void
accept_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GSocketConnection **out = user_data;
  g_autoptr(GError) error = NULL;

  *out = g_socket_listener_accept_finish (G_SOCKET_LISTENER (source), result, NULL, &error);
  g_assert_no_error (error);
}

/* a connected pair of TCP streams over 127.0.0.1 */
void
pinhole_test_connect_tcp_pair (GSocketConnection **out_client,
                               GSocketConnection **out_server)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;

  *out_client = NULL;
  *out_server = NULL;
  /* loopback only: no proxy look-up (and no libproxy threads) */
  g_socket_client_set_enable_proxy (client, FALSE);
  g_socket_listener_add_address (listener, any, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, &bound, &error);
  g_assert_no_error (error);
  g_socket_listener_accept_async (listener, NULL, accept_cb, out_server);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (bound), NULL, connect_cb,
                                 out_client);
  g_assert_true (ph_iterate_until (pointer_set, out_client, 5000));
  g_assert_true (ph_iterate_until (pointer_set, out_server, 5000));
  g_socket_listener_close (listener);
}
