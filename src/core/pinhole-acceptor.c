/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-acceptor.c: accepts TCP connections on a listening socket for the server's
 * WebSocket endpoint and the STUN-over-TCP responder.
 *
 * Why not GSocketService or libsoup's own listener: when the process is out of file
 * descriptors (EMFILE), GSocketService re-queues its accept at once and spins on the
 * still-readable socket, and libsoup 3.2's listener drops its accept source and never accepts
 * again, even after every fd is freed. Here an accept that fails for want of descriptors pauses
 * the loop and retries after a back-off (50 ms, doubling up to 1 s), so the listener serves
 * again as soon as descriptors are free. Connections beyond the limits (in all, or from one
 * source address) are accepted and closed at once, so that they neither wait in the backlog
 * nor keep the socket readable. A connection counts until its GSocketConnection is finalized,
 * that is until whoever took it (libsoup, the STUN responder) lets go of it.
 */
#define G_LOG_DOMAIN "pinhole-acceptor"

#include "pinhole-acceptor.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#define ACCEPTS_PER_WAKEUP 64
#define BACKOFF_FIRST_MS   50
#define BACKOFF_MAX_MS     1000

struct _PinholeAcceptor
{
  GObject      parent_instance;

  GSocket     *socket;
  GSource     *source;        /* readable; NULL while stopped or backing off */
  guint        backoff_id;
  guint        backoff_ms;
  gboolean     running;

  guint        max_connections;
  guint        max_per_address;
  guint        n_connections;
  GHashTable  *per_address;   /* char *address → count */
  guint64      refused;
};

enum
{
  SIGNAL_INCOMING,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PinholeAcceptor, pinhole_acceptor, G_TYPE_OBJECT)

/* one accepted connection, counted until it is finalized */
typedef struct
{
  PinholeAcceptor *self;      /* a reference: the counts outlive nothing they count */
  char            *address;
} Tracked;

static void
connection_gone (gpointer  data,
                 GObject  *where_the_object_was)
{
  Tracked *t = data;
  PinholeAcceptor *self = t->self;
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_address, t->address));

  g_assert (self->n_connections > 0 && n > 0);
  self->n_connections--;
  if (n == 1)
    g_hash_table_remove (self->per_address, t->address);
  else
    g_hash_table_insert (self->per_address, g_strdup (t->address), GUINT_TO_POINTER (n - 1));
  g_object_unref (t->self);
  g_free (t->address);
  g_free (t);
}

static char *
address_of (GSocket *socket)
{
  g_autoptr(GSocketAddress) remote = g_socket_get_remote_address (socket, NULL);

  if (!G_IS_INET_SOCKET_ADDRESS (remote))
    return g_strdup ("unknown");
  return g_inet_address_to_string (
    g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
}

static void
take (PinholeAcceptor *self,
      GSocket         *client)
{
  g_autofree char *address = address_of (client);
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_address, address));
  g_autoptr(GSocketConnection) connection = NULL;
  Tracked *t;

  if (self->n_connections >= self->max_connections || n >= self->max_per_address)
    {
      self->refused++;
      g_debug ("refused a connection from %s: %u open, %u from there", address,
               self->n_connections, n);
      g_socket_close (client, NULL);
      return;
    }
  /* small frames (chat, acks, pushes) go out at once, not after Nagle's wait for more: as
   * libsoup's own listener does */
  g_socket_set_option (client, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  connection = g_socket_connection_factory_create_connection (client);
  t = g_new0 (Tracked, 1);
  t->self = g_object_ref (self);
  t->address = g_strdup (address);
  self->n_connections++;
  g_hash_table_insert (self->per_address, g_steal_pointer (&address), GUINT_TO_POINTER (n + 1));
  g_object_weak_ref (G_OBJECT (connection), connection_gone, t);
  g_signal_emit (self, signals[SIGNAL_INCOMING], 0, connection);
}

static gboolean readable_cb (GSocket      *socket,
                             GIOCondition  condition,
                             gpointer      user_data);

static void
watch (PinholeAcceptor *self)
{
  self->source = g_socket_create_source (self->socket, G_IO_IN, NULL);
  g_source_set_callback (self->source, G_SOURCE_FUNC (readable_cb), self, NULL);
  g_source_attach (self->source, NULL);
}

static gboolean
resume_cb (gpointer user_data)
{
  PinholeAcceptor *self = user_data;

  self->backoff_id = 0;
  if (self->running)
    watch (self);
  return G_SOURCE_REMOVE;
}

/* out of descriptors (or buffers): wait, then try again */
static void
back_off (PinholeAcceptor *self,
          const GError    *error)
{
  self->backoff_ms = self->backoff_ms == 0 ? BACKOFF_FIRST_MS
                                           : MIN (self->backoff_ms * 2, BACKOFF_MAX_MS);
  g_message ("cannot accept a connection (%s): trying again in %u ms", error->message,
             self->backoff_ms);
  g_source_destroy (self->source);
  g_clear_pointer (&self->source, g_source_unref);
  self->backoff_id = g_timeout_add (self->backoff_ms, resume_cb, self);
}

static gboolean
readable_cb (GSocket      *socket,
             GIOCondition  condition,
             gpointer      user_data)
{
  PinholeAcceptor *self = user_data;

  for (guint i = 0; i < ACCEPTS_PER_WAKEUP; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) client = g_socket_accept (self->socket, NULL, &error);

      if (client != NULL)
        {
          self->backoff_ms = 0;
          take (self, client);
          continue;
        }
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES) ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE) ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_FAILED))
        {
          back_off (self, error);
          return G_SOURCE_REMOVE;
        }
      /* the peer gave up before we took it (ECONNABORTED): the next one */
      g_debug ("accept: %s", error->message);
    }
  return G_SOURCE_CONTINUE;
}

/**
 * pinhole_acceptor_listen_tcp:
 * Returns: (transfer full): a TCP socket bound to @address (port 0: any) and listening with
 *   a backlog of PINHOLE_ACCEPTOR_BACKLOG
 */
GSocket *
pinhole_acceptor_listen_tcp (GInetSocketAddress *address,
                             GError            **error)
{
  g_autoptr(GSocket) socket =
    g_socket_new (g_socket_address_get_family (G_SOCKET_ADDRESS (address)),
                  G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);

  if (socket == NULL || !g_socket_bind (socket, G_SOCKET_ADDRESS (address), TRUE, error))
    return NULL;
  g_socket_set_listen_backlog (socket, PINHOLE_ACCEPTOR_BACKLOG);
  if (!g_socket_listen (socket, error))
    return NULL;
  return g_steal_pointer (&socket);
}

/**
 * pinhole_acceptor_new:
 * @listening: a listening socket (pinhole_acceptor_listen_tcp())
 * @max_connections: connections open at once, from anywhere
 * @max_per_address: connections open at once from one source address
 *
 * Nothing is accepted before pinhole_acceptor_start(). Each accepted connection is passed to
 * the `incoming` signal; a handler that wants it keeps a reference.
 */
PinholeAcceptor *
pinhole_acceptor_new (GSocket *listening,
                      guint    max_connections,
                      guint    max_per_address)
{
  PinholeAcceptor *self = g_object_new (PINHOLE_TYPE_ACCEPTOR, NULL);

  g_return_val_if_fail (G_IS_SOCKET (listening), NULL);
  self->socket = g_object_ref (listening);
  g_socket_set_blocking (self->socket, FALSE);
  self->max_connections = MAX (max_connections, 1);
  self->max_per_address = MAX (max_per_address, 1);
  return self;
}

void
pinhole_acceptor_start (PinholeAcceptor *self)
{
  g_return_if_fail (PINHOLE_IS_ACCEPTOR (self));
  if (self->running)
    return;
  self->running = TRUE;
  watch (self);
}

/* stops accepting and closes the listening socket; accepted connections are not touched */
void
pinhole_acceptor_stop (PinholeAcceptor *self)
{
  g_return_if_fail (PINHOLE_IS_ACCEPTOR (self));
  self->running = FALSE;
  g_clear_handle_id (&self->backoff_id, g_source_remove);
  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_clear_pointer (&self->source, g_source_unref);
    }
  g_socket_close (self->socket, NULL);
}

GSocket *
pinhole_acceptor_get_socket (PinholeAcceptor *self)
{
  return self->socket;
}

guint
pinhole_acceptor_get_n_connections (PinholeAcceptor *self)
{
  return self->n_connections;
}

/* Returns: how many connections were closed at once for being over a limit */
guint64
pinhole_acceptor_get_n_refused (PinholeAcceptor *self)
{
  return self->refused;
}

static void
pinhole_acceptor_dispose (GObject *object)
{
  PinholeAcceptor *self = PINHOLE_ACCEPTOR (object);

  if (self->socket != NULL)
    pinhole_acceptor_stop (self);
  G_OBJECT_CLASS (pinhole_acceptor_parent_class)->dispose (object);
}

static void
pinhole_acceptor_finalize (GObject *object)
{
  PinholeAcceptor *self = PINHOLE_ACCEPTOR (object);

  g_clear_object (&self->socket);
  g_hash_table_unref (self->per_address);
  G_OBJECT_CLASS (pinhole_acceptor_parent_class)->finalize (object);
}

static void
pinhole_acceptor_class_init (PinholeAcceptorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pinhole_acceptor_dispose;
  object_class->finalize = pinhole_acceptor_finalize;

  /**
   * PinholeAcceptor::incoming:
   * @connection: the accepted connection
   */
  signals[SIGNAL_INCOMING] =
    g_signal_new ("incoming", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_SOCKET_CONNECTION);
}

static void
pinhole_acceptor_init (PinholeAcceptor *self)
{
  self->per_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}
