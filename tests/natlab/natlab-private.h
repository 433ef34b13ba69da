/* SPDX-License-Identifier: GPL-3.0-or-later
 * natlab-private.h: what natlab.c, natlab-proc.c and natlab-link.c share and the tests do
 * not see: the lab's sites and hosts, and the processes and commands the lab runs. */
#pragma once

#include "natlab.h"

G_BEGIN_DECLS

#define NETEM_QUEUE        0
#define STOP_GRACE_MS      3000
#define READY_MS           10000

typedef struct
{
  char        *name;
  NatlabNat    nat;
  guint        index;          /* 1.. */
  char        *ns;
  char        *public_address;
  char        *lan_prefix;     /* "10.3.0" or "198.51.100.32" (a /28) */
  guint        n_hosts;
  GSubprocess *netem;          /* NULL without delay */
  guint        delay_ms;
  GSubprocess *miniupnpd;
  gboolean     delay_chain;    /* the iptables chain for the queue rules exists */
} Site;

typedef struct
{
  char *name;
  char *ns;
  char *address;
  Site *site;                  /* borrowed */
} Host;

struct _Natlab
{
  char        *prefix;         /* "natlab-PID-N-" */
  char        *inet_ns;
  char        *server_ns;
  char        *server_address;
  char        *server_address2;
  char        *tmpdir;
  char        *netem_program;

  GPtrArray   *namespaces;     /* char*: every namespace made, in order */
  GPtrArray   *sites;          /* Site* */
  GPtrArray   *hosts;          /* Host* */
  GPtrArray   *procs;          /* GSubprocess*: every process started */
  GPtrArray   *blocks;         /* char*: "siteA\nsiteB\nall|udp" blocked */
  GSubprocess *stun;           /* coturn on the server host, for miniupnpd */
};

/* ---- natlab.c ---- */

Site        *_natlab_find_site        (Natlab             *lab,
                                       const char         *name);

/* ---- natlab-proc.c ---- */

void         _natlab_pause_ms         (guint               ms);
GSubprocess *_natlab_spawn_full       (const char * const *argv,
                                       GSubprocessFlags    flags,
                                       const char         *log_path, /* nullable: stdout and
                                                                      * stderr to this file */
                                       GError            **error);
gboolean     _natlab_proc_running     (GSubprocess        *proc);
gboolean     _natlab_proc_wait        (GSubprocess        *proc,
                                       guint               timeout_ms);
void         _natlab_proc_stop        (GSubprocess        *proc);
gboolean     _natlab_run_argv         (const char * const *argv,
                                       const char         *stdin_text,
                                       guint               timeout_ms,
                                       char              **out_stdout,
                                       GError            **error);
GStrv        _natlab_in_ns            (const char         *ns,
                                       const char * const *argv);
gboolean     _natlab_cmd              (const char         *ns,
                                       GError            **error,
                                       ...) G_GNUC_NULL_TERMINATED;
gboolean     _natlab_nft_load         (const char         *ns,
                                       const char         *ruleset,
                                       GError            **error);
gboolean     _natlab_wait_ready_line  (GSubprocess        *proc,
                                       guint               timeout_ms,
                                       GError            **error);

G_END_DECLS
