/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-path.c: an in-memory PinholePath pair. Packets reach the other end from a
 * timeout source, never inside send(), with seeded (repeatable) loss, reordering and copies;
 * the delay and faults set on one end apply to the packets that end sends. */
#define G_LOG_DOMAIN "pinhole-test-path"

#include "pinhole-test-path.h"

#include <gio/gio.h>

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
  char            *remote;

  /* borrowed: cleared by the peer's dispose */
  PinholeTestPath *peer;

  PinholePathKind  kind;
  guint            deliver_source;
  guint            closed_source;
  gboolean         closed;
  gboolean         closed_by_peer;
  gboolean         silent;
  gdouble          drop;
  gdouble          reorder;
  gdouble          duplicate;
  guint            delay_ms;
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
         gboolean         reorder)
{
  Pending *p = g_new0 (Pending, 1);

  p->packet = g_bytes_ref (packet);
  p->due = g_get_monotonic_time () + (gint64) delay_ms * 1000;
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

  self->n_sent++;
  if (self->captured != NULL)
    g_ptr_array_add (self->captured, g_bytes_ref (packet));
  if (self->silent || g_rand_double (self->rand) < self->drop)
    {
      self->n_dropped++;
      return TRUE;
    }
  enqueue (peer, packet, self->delay_ms, g_rand_double (self->rand) < self->reorder);
  if (g_rand_double (self->rand) < self->duplicate)
    enqueue (peer, packet, self->delay_ms, FALSE);
  return TRUE;
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
    enqueue (self, packet, 0, FALSE);
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
