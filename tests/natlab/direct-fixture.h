/* SPDX-License-Identifier: GPL-3.0-or-later
 * direct-fixture.h: the fixture of the direct-path programs (test-direct-paths,
 * test-direct-stream): a NAT lab with pinhole-server on its server host and a user host per
 * site, and the steps every such test takes. */
#pragma once

#include "natlab-pinhole.h"

G_BEGIN_DECLS

#define SERVER_PORT      "7300"
/* from both clients online to a direct path: gathering, candidate exchange and checks */
#define DIRECT_MS        20000

/* site names: not "a", which `ip link add a type veth` reads as "address" */
#define WEST "west"
#define EAST "east"

typedef struct
{
  Natlab        *lab;
  NatlabPinhole *ph;
} DirectFixture;

#define CHECK_LAB(f) G_STMT_START { if ((f)->lab == NULL) return; } G_STMT_END

#define path_of(event) natlab_pinhole_path_of (event)
#define is_direct_event natlab_pinhole_is_direct
#define is_relay_event natlab_pinhole_is_relay

/* for g_test_add (): the lab and pinhole-server's host, or none (then CHECK_LAB returns) */
void     direct_fixture_setup    (DirectFixture *f,
                                  gconstpointer  data);
void     direct_fixture_teardown (DirectFixture *f,
                                  gconstpointer  data);
/* each step fails the test and returns FALSE or NULL when it cannot be taken */
gboolean direct_check            (gboolean    ok,
                                  GError     *error,
                                  const char *what);
gboolean direct_add_site         (DirectFixture *f,
                                  const char    *site,
                                  NatlabNat      nat);
gboolean direct_add_user_host    (DirectFixture *f,
                                  const char    *site,
                                  const char    *user);
gboolean direct_server_start     (DirectFixture *f,
                                  const char    *port);
PhProc  *direct_cli_spawnv       (DirectFixture      *f,
                                  const char         *user,
                                  NatlabPinholeFlags  flags,
                                  const char * const *args);
gboolean direct_make_pair        (DirectFixture *f,
                                  const char    *a,
                                  const char    *b);
PhProc  *direct_listen_start     (DirectFixture     *f,
                                  const char        *user,
                                  NatlabPinholeFlags flags);
char    *direct_path_history     (PhProc *p);
void     direct_log_proc         (PhProc *p);
PhProc  *direct_path_run         (DirectFixture *f,
                                  guint          count);

G_END_DECLS
