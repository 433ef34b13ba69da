/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-harness.h: runs the real pinhole-server and pinhole-cli programs on loopback
 * for integration tests: start, stop and restart the server, run CLI commands, follow the
 * JSON events of long-running ones, and talk raw WebSocket to the server. Every wait is
 * bounded by a deadline and iterates the main context. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

/* ph_iterate_until (), ph_make_tmp_dir (), ph_remove_tree () */
#include "pinhole-test-util.h"

G_BEGIN_DECLS

/* deadlines, in milliseconds */
#define PH_SERVER_START_MS 10000
#define PH_STOP_GRACE_MS   5000
#define PH_CLI_MS          20000
#define PH_EVENT_MS        10000

/* with g_test_set_nonfatal_assertions(), a failed check ends the test function so that the
 * fixture's teardown still stops every process */
#define ph_return_if_failed() G_STMT_START { if (g_test_failed ()) return; } G_STMT_END

/* ---- processes ---- */

typedef struct
{
  GSubprocess      *proc;
  char             *name;       /* for messages */
  GOutputStream    *stdin_pipe; /* NULL unless asked for */
  GDataInputStream *out;
  GInputStream     *err;
  GCancellable     *cancellable;
  GPtrArray        *lines;      /* char*: every stdout line */
  GPtrArray        *events;     /* JsonObject*: the stdout lines that are JSON objects */
  GString          *err_text;
  gboolean          out_eof;
  gboolean          err_eof;
  gboolean          exited;
  int               status;     /* exit status; -1 when killed by a signal */
  gboolean          signaled;
} PhProc;

PhProc  *ph_proc_spawn        (const char *const *argv,
                               const char *const *env,    /* NAME=VALUE, nullable */
                               gboolean           with_stdin,
                               GError           **error);
gboolean ph_proc_wait         (PhProc     *p,
                               guint       timeout_ms);
gboolean ph_proc_stop         (PhProc     *p);           /* SIGTERM, bounded wait, SIGKILL */
void     ph_proc_kill         (PhProc     *p);           /* SIGKILL and reap */
void     ph_proc_free         (PhProc     *p);
gboolean ph_proc_write        (PhProc     *p,
                               const char *text);
void     ph_proc_close_stdin  (PhProc     *p);
const char *ph_proc_get_pid   (PhProc     *p);

typedef gboolean (*PhEventMatch) (JsonObject *event,
                                  gpointer    data);

JsonObject *ph_proc_wait_event (PhProc       *p,
                                guint        *cursor,
                                PhEventMatch  match,
                                gpointer      data,
                                guint         timeout_ms);
JsonObject *ph_proc_wait_named (PhProc     *p,
                                guint      *cursor,
                                const char *event,
                                const char *member,     /* nullable */
                                const char *value,
                                guint       timeout_ms);
const char *ph_event_string    (JsonObject *event,
                                const char *member);
guint       ph_proc_count      (PhProc     *p,
                                const char *event);
gboolean    ph_proc_wait_count (PhProc     *p,
                                const char *event,
                                guint       count,
                                guint       timeout_ms);

/* ---- the server ---- */

typedef struct
{
  char    *dir;        /* temporary folder with the database */
  char    *db_path;
  GString *log;        /* standard error of the runs stopped so far */
  char    *url;        /* ws://127.0.0.1:PORT/pinhole */
  guint16  port;
  guint16  stun_port;
  PhProc  *proc;       /* NULL while stopped */
  char   **extra_args; /* more pinhole-server options, kept for restarts */
} PhServer;

PhServer *ph_server_start   (GError  **error);
PhServer *ph_server_start_with (const char *const *extra_args,
                                GError            **error);
gboolean  ph_server_restart (PhServer *server,
                             GError  **error);
gboolean  ph_server_stop    (PhServer *server,
                             int      *exit_status);
char     *ph_server_dup_log (PhServer *server);
void      ph_server_free    (PhServer *server);

/* ---- pinhole-cli ---- */

typedef struct
{
  int        status;   /* exit status, or -1 when it had to be killed */
  char      *out;
  char      *err;
  GPtrArray *events;   /* JsonObject*: the JSON lines of standard output */
  char      *pid;      /* the process it ran as, or NULL if it did not start */
} PhResult;

void      ph_result_free (PhResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhResult, ph_result_free)

PhResult *ph_cli_run     (const char        *url,        /* nullable: the profile's */
                          const char        *profile,
                          const char        *password,   /* nullable */
                          const char        *stdin_text, /* nullable */
                          const char *const *args);
PhProc   *ph_cli_spawn   (const char        *url,
                          const char        *profile,
                          const char        *password,
                          gboolean           with_stdin,
                          const char *const *args);
guint     ph_result_count (PhResult   *r,
                           const char *event);

/* ---- raw WebSocket ---- */

typedef struct
{
  SoupSession             *session;
  SoupWebsocketConnection *ws;
  GPtrArray               *texts;     /* char*: every text message received */
  guint                    n_binary;
  gboolean                 closed;
  gushort                  close_code;
} PhWs;

PhWs       *ph_ws_connect    (const char *url,
                              GError    **error);
void        ph_ws_send       (PhWs       *ws,
                              const char *text);
JsonObject *ph_ws_wait_reply (PhWs       *ws,
                              guint      *cursor,
                              const char *id,      /* nullable: an error without id */
                              guint       timeout_ms);
gboolean    ph_ws_wait_closed (PhWs      *ws,
                               guint      timeout_ms);
char       *ph_device_key_new (guint8     secret_key[64]);
char       *ph_login_proof_sign (const guint8 *secret_key,
                                 const char   *nonce64,
                                 const char   *user,
                                 const char   *device);
char       *ph_ws_login_proof (PhWs         *ws,
                               guint        *cursor,
                               const guint8 *secret_key,
                               const char   *user,
                               const char   *device);
void        ph_ws_free       (PhWs       *ws);

/* ---- CLI runs with environment or plain text ---- */

typedef struct
{
  const char *const *env;    /* NAME=VALUE pairs, nullable: e.g. G_MESSAGES_DEBUG, LC_ALL */
  gboolean           text;   /* the plain-text output: no --json */
} PhCliOptions;

PhProc   *ph_cli_spawn_with (const char         *url,
                             const char         *profile,    /* nullable */
                             const char         *password,
                             const PhCliOptions *options,    /* nullable */
                             gboolean            with_stdin,
                             const char *const  *args);
PhResult *ph_cli_run_with   (const char         *url,
                             const char         *profile,    /* nullable */
                             const char         *password,
                             const PhCliOptions *options,    /* nullable */
                             const char         *stdin_text, /* nullable */
                             const char *const  *args);

/* ---- running the programs under a tool (valgrind) ---- */

void      ph_set_wrapper    (const char *const  *argv,       /* nullable: none */
                             guint               slowdown);

G_END_DECLS
