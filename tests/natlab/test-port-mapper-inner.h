/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-port-mapper-inner.h: the modes test-port-mapper runs itself in inside the lab
 * (test-port-mapper-inner.c); each returns the exit status. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* --inner: the mapper, driven over stdin and stdout */
int inner_main       (void);
/* --send-udp HOST PORT PAYLOAD */
int send_udp_main    (const char *host,
                      const char *port,
                      const char *payload);
/* --connect-tcp HOST PORT */
int connect_tcp_main (const char *host,
                      const char *port);

G_END_DECLS
