/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-acceptor.h: the accept loop of a listening TCP socket that survives running out of
 * file descriptors and bounds what it takes: in all, and per source address. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* the listen backlog: a burst of connections waits in the kernel, not refused */
#define PINHOLE_ACCEPTOR_BACKLOG 1024

#define PINHOLE_TYPE_ACCEPTOR (pinhole_acceptor_get_type ())
G_DECLARE_FINAL_TYPE (PinholeAcceptor, pinhole_acceptor, PINHOLE, ACCEPTOR, GObject)

GSocket         *pinhole_acceptor_listen_tcp         (GInetSocketAddress *address,
                                                      GError            **error);
PinholeAcceptor *pinhole_acceptor_new                (GSocket            *listening,
                                                      guint               max_connections,
                                                      guint               max_per_address);
void             pinhole_acceptor_start              (PinholeAcceptor    *self);
void             pinhole_acceptor_stop               (PinholeAcceptor    *self);
GSocket         *pinhole_acceptor_get_socket         (PinholeAcceptor    *self);
guint            pinhole_acceptor_get_n_connections  (PinholeAcceptor    *self);
guint64          pinhole_acceptor_get_n_refused      (PinholeAcceptor    *self);

G_END_DECLS
