/* SPDX-License-Identifier: GPL-3.0-or-later
 * natlab-pinhole.h: the real pinhole-server and pinhole-cli programs in NAT lab namespaces,
 * for tests and benchmarks: a server on the lab's public host, users on lab hosts, and CLI
 * processes followed line by line through the integration test harness. */
#pragma once

#include "natlab.h"
#include "pinhole-test-harness.h"

G_BEGIN_DECLS

typedef struct
{
  Natlab     *lab;      /* borrowed */
  char       *home;     /* profiles (one folder per user) and the server database */
  PhProc     *server;
  char       *url;
  GHashTable *host_of;  /* user -> lab host */
  GPtrArray  *procs;    /* PhProc*: long-running processes, stopped by natlab_pinhole_free */
  GStrv       cli_env;  /* nullable: more VAR=value for every pinhole-cli (a bus address) */
} NatlabPinhole;

typedef enum
{
  NATLAB_PINHOLE_PASSWORD     = 1 << 0,  /* PINHOLE_PASSWORD=password-of-USER */
  NATLAB_PINHOLE_PORT_MAPPING = 1 << 1,  /* without PINHOLE_NO_PORT_MAPPING */
  NATLAB_PINHOLE_STDIN        = 1 << 2,  /* a standard input pipe */
} NatlabPinholeFlags;

/* the server's STUN port (and the next one); not 3478/3479, where the lab runs coturn */
#define NATLAB_PINHOLE_STUN_PORT "3490"

NatlabPinhole *natlab_pinhole_new        (Natlab             *lab,
                                          GError            **error);
/* stops every process it started, then removes its folder; the lab stays */
void           natlab_pinhole_free       (NatlabPinhole      *ph);

/* a host for @user on @site's LAN */
gboolean       natlab_pinhole_add_user   (NatlabPinhole      *ph,
                                          const char         *site,
                                          const char         *user,
                                          GError            **error);
const char    *natlab_pinhole_ns         (NatlabPinhole      *ph,
                                          const char         *user);
/* pinhole-server on the lab's public server address, WebSocket on @port */
gboolean       natlab_pinhole_start_server (NatlabPinhole    *ph,
                                            const char       *port,
                                            GError          **error);
/* stops the server (SIGTERM, then SIGKILL); natlab_pinhole_start_server starts it again on the
 * same database */
gboolean       natlab_pinhole_stop_server (NatlabPinhole    *ph);
/* a process in namespace @ns (transfer full) */
PhProc        *natlab_pinhole_spawn      (const char         *ns,
                                          const char * const *argv,
                                          const char * const *env,
                                          gboolean            with_stdin,
                                          GError            **error);
/* `pinhole-cli --server URL --profile HOME/USER --json ARGS…` in @user's host (transfer full) */
PhProc        *natlab_pinhole_cli_spawn  (NatlabPinhole      *ph,
                                          const char         *user,
                                          NatlabPinholeFlags  flags,
                                          const char * const *args,
                                          GError            **error);
/* one command to its end within PH_CLI_MS and with status 0 */
gboolean       natlab_pinhole_cli_run    (NatlabPinhole      *ph,
                                          const char         *user,
                                          NatlabPinholeFlags  flags,
                                          const char * const *args,
                                          GError            **error);
/* accounts @a and @b (registered from their hosts), mutual contacts */
gboolean       natlab_pinhole_make_pair  (NatlabPinhole      *ph,
                                          const char         *a,
                                          const char         *b,
                                          GError            **error);
/* `listen` for @user, once online; kept and stopped by natlab_pinhole_free (transfer none) */
PhProc        *natlab_pinhole_listen     (NatlabPinhole      *ph,
                                          const char         *user,
                                          NatlabPinholeFlags  flags,
                                          GError            **error);

/* (nullable) the "path" member of a path event, NULL for other events */
const char    *natlab_pinhole_path_of    (JsonObject         *event);
/* PhEventMatch: a path event whose path is neither "relay" nor "none" */
gboolean       natlab_pinhole_is_direct  (JsonObject         *event,
                                          gpointer            data);
gboolean       natlab_pinhole_is_relay   (JsonObject         *event,
                                          gpointer            data);

G_END_DECLS
