/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-path.c: the PinholePath interface and the names of path kinds. */
#define G_LOG_DOMAIN "pinhole-path"

#include "pinhole-path.h"
#include "pinhole-enum-strings.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

G_DEFINE_INTERFACE (PinholePath, pinhole_path, G_TYPE_OBJECT)

enum { SIGNAL_RECEIVED, SIGNAL_CLOSED, SIGNAL_DRAINED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
pinhole_path_default_init (PinholePathInterface *iface)
{
  /**
   * PinholePath::received:
   * @packet: one whole packet as the peer sent it
   */
  signals[SIGNAL_RECEIVED] =
    g_signal_new ("received", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_BYTES);
  /**
   * PinholePath::closed:
   * @error: (nullable): why the path closed, or %NULL after pinhole_path_close()
   */
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
  /**
   * PinholePath::drained:
   * Everything sent has gone to the socket (pinhole_path_get_queued_bytes() is 0).
   */
  signals[SIGNAL_DRAINED] =
    g_signal_new ("drained", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
}

gboolean
pinhole_path_send (PinholePath *self,
                   GBytes      *packet,
                   GError     **error)
{
  g_return_val_if_fail (PINHOLE_IS_PATH (self), FALSE);
  g_return_val_if_fail (packet != NULL, FALSE);
  return PINHOLE_PATH_GET_IFACE (self)->send (self, packet, error);
}

PinholePathKind
pinhole_path_get_kind (PinholePath *self)
{
  g_return_val_if_fail (PINHOLE_IS_PATH (self), PINHOLE_PATH_KIND_RELAY);
  return PINHOLE_PATH_GET_IFACE (self)->get_kind (self);
}

const char *
pinhole_path_get_remote (PinholePath *self)
{
  g_return_val_if_fail (PINHOLE_IS_PATH (self), NULL);
  return PINHOLE_PATH_GET_IFACE (self)->get_remote (self);
}

void
pinhole_path_close (PinholePath *self)
{
  g_return_if_fail (PINHOLE_IS_PATH (self));
  PINHOLE_PATH_GET_IFACE (self)->close (self);
}

/* relabels a path whose implementation allows it; others keep their kind */
void
pinhole_path_set_kind (PinholePath     *self,
                       PinholePathKind  kind)
{
  g_return_if_fail (PINHOLE_IS_PATH (self));
  if (PINHOLE_PATH_GET_IFACE (self)->set_kind != NULL)
    PINHOLE_PATH_GET_IFACE (self)->set_kind (self, kind);
}

/* Returns: the bytes the path holds that its socket has not taken; 0 for a path that cannot
 * tell (the relay: libsoup does not say what a WebSocket connection still holds) */
gsize
pinhole_path_get_queued_bytes (PinholePath *self)
{
  g_return_val_if_fail (PINHOLE_IS_PATH (self), 0);
  if (PINHOLE_PATH_GET_IFACE (self)->get_queued_bytes == NULL)
    return 0;
  return PINHOLE_PATH_GET_IFACE (self)->get_queued_bytes (self);
}

void
pinhole_path_emit_drained (PinholePath *self)
{
  g_signal_emit (self, signals[SIGNAL_DRAINED], 0);
}

void
pinhole_path_emit_received (PinholePath *self,
                            GBytes      *packet)
{
  g_signal_emit (self, signals[SIGNAL_RECEIVED], 0, packet);
}

void
pinhole_path_emit_closed (PinholePath  *self,
                          const GError *error)
{
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);
}

const char *
pinhole_path_kind_to_string (PinholePathKind kind)
{
  g_return_val_if_fail (kind <= PINHOLE_PATH_KIND_NONE, NULL);
  return pinhole_enum_to_nick (PINHOLE_TYPE_PATH_KIND, kind);
}

gboolean
pinhole_path_kind_from_string (const char      *name,
                               PinholePathKind *out_kind)
{
  int value;

  /* "none" names no path: a peer cannot offer it */
  if (!pinhole_enum_from_nick (PINHOLE_TYPE_PATH_KIND, name, &value) ||
      value == PINHOLE_PATH_KIND_NONE)
    return FALSE;
  *out_kind = (PinholePathKind) value;
  return TRUE;
}

/**
 * pinhole_path_tune_tcp_socket:
 * @socket: a TCP socket that carries session packets (a TCP path's, or the server
 *   connection's under the relay paths)
 * @what: for the debug message when an option is refused
 *
 * Packets are whole messages, so small ones are not held back (TCP_NODELAY); and the kernel
 * keeps at most %PINHOLE_PATH_TCP_NOTSENT_LOWAT bytes not yet sent (TCP_NOTSENT_LOWAT), so that
 * the rest waits where the path counts it (pinhole_path_get_queued_bytes()) and a session's
 * bulk frames wait in the session, where a chat frame overtakes them, instead of in a send
 * buffer of several MiB in front of it.
 */
void
pinhole_path_tune_tcp_socket (GSocket    *socket,
                              const char *what)
{
  g_autoptr(GError) error = NULL;

  if (!g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, &error))
    g_debug ("%s: TCP_NODELAY: %s", what, error->message);
  g_clear_error (&error);
  if (!g_socket_set_option (socket, IPPROTO_TCP, TCP_NOTSENT_LOWAT,
                            PINHOLE_PATH_TCP_NOTSENT_LOWAT, &error))
    g_debug ("%s: TCP_NOTSENT_LOWAT: %s", what, error->message);
}
