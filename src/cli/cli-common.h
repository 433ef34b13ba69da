/* SPDX-License-Identifier: GPL-3.0-or-later
 * cli-common.h: what every pinhole-cli subcommand shares: the profile, the client, the main
 * loop, log-in, and output as text or JSON lines. */
#pragma once

#include "cli-escape.h"
#include "pinhole-client.h"
#include "pinhole-dbus-generated.h"
#include "pinhole-instance.h"
#include "pinhole-profile-lock.h"

#include <stdio.h>

G_BEGIN_DECLS

#define CLI_DEFAULT_SERVER "ws://127.0.0.1:7300/pinhole"

typedef struct
{
  /* global options */
  char           *server;      /* --server, or NULL for the profile's; another is refused
                                * but by login and register, which move the profile there */
  char           *profile_dir;
  gboolean        json;
  char           *ca_file;     /* --ca-file: trust these certificates for wss:// */
  gboolean        direct_paths; /* set by the commands that keep sessions: listen, path */

  /* owned */
  PinholeProfile *profile;
  PinholeClient  *client;
  PinholeProfileLock *instance_lock; /* held by listen until the client has shut down */
  PinholeInstance *instance;   /* listen: the client's model on the session bus */
  PinholeDBusInstance *remote; /* a one-shot command: the profile's running instance, which
                                * it uses instead of logging in (cli-remote.c) */
  GMainLoop      *loop;
  GError         *error;       /* what ends the command with exit status 1 */
  int             status;
} Cli;

typedef int (*CliHandler) (Cli *cli, int argc, char **argv);

typedef struct
{
  const char *name;
  CliHandler  handler;
  const char *args;
  const char *help;
} CliCommand;

gboolean cli_open_profile     (Cli          *cli);
char    *cli_get_password     (const char   *prompt,
                               GError      **error);
gboolean cli_login            (Cli          *cli,
                               gboolean      announce);
gboolean cli_check_server     (Cli          *cli);
gboolean cli_check_downgrade  (Cli          *cli,
                               const char   *server);
void     cli_run              (Cli          *cli);
guint    cli_deadline_new     (GCancellable *cancellable,
                               guint         seconds);
void     cli_deadline_clear   (GCancellable *cancellable,
                               guint         deadline);
void     cli_quit             (Cli          *cli,
                               const GError *error);
int      cli_fail             (Cli          *cli,
                               const GError *error);
/* one line of human-readable output: network text in it cannot drive the terminal */
void     cli_line             (FILE         *stream,
                               const char   *format,
                               ...) G_GNUC_PRINTF (2, 3);
int      cli_usage            (const char   *command,
                               const char   *message);
gboolean cli_parse_options    (const char   *command,
                               const char   *args,
                               GOptionEntry *entries,
                               int          *argc,
                               char       ***argv);

/* an event: the text line in text mode, escaped as by cli_line(), or {"event": name, fields…}
 * as one JSON line */
void     cli_event            (Cli          *cli,
                               const char   *name,
                               JsonObject   *fields,
                               const char   *format,
                               ...) G_GNUC_PRINTF (4, 5);

/* the profile's running instance (cli-remote.c): a one-shot command uses it when there is
 * one, and logs in itself when there is none */
typedef struct
{
  char     *user;
  char     *relation;
  char     *show;
  guint     n_devices;
  gboolean  key_changed;
  gboolean  verified;  /* every device of the contact is verified */
  char     *path;      /* nullable: no live session */
  gdouble   rtt_ms;    /* -1 when unknown */
} CliContactRow;

/* a call to the instance, its answer awaited on the main loop */
typedef struct
{
  Cli          *cli;
  GAsyncResult *result;   /* owned */
} CliWait;

void          cli_wait_cb       (GObject      *source,
                                 GAsyncResult *result,
                                 gpointer      user_data);
GAsyncResult *cli_wait_result   (CliWait      *w);
gboolean      cli_strip_remote  (gboolean      ok,
                                 GError      **error);

void      cli_contact_row_free      (CliContactRow *row);
gboolean  cli_connect               (Cli           *cli);
gboolean  cli_find_instance         (Cli           *cli);
void      cli_send_message_async    (Cli           *cli,
                                     const char    *user,
                                     const char    *text,
                                     GAsyncReadyCallback callback,
                                     gpointer       user_data);
gboolean  cli_send_message_finish   (Cli           *cli,
                                     GAsyncResult  *result,
                                     guint         *out_live,
                                     guint         *out_stored,
                                     GError       **error);
void      cli_contact_async         (Cli           *cli,
                                     const char    *verb,
                                     const char    *user,
                                     GAsyncReadyCallback callback,
                                     gpointer       user_data);
char     *cli_contact_finish        (Cli           *cli,
                                     GAsyncResult  *result,
                                     GError       **error);
gboolean  cli_remote_set_relay_only (Cli           *cli,
                                     const char    *user,
                                     gboolean       on);
gboolean  cli_remote_trust          (Cli           *cli,
                                     const char    *user,
                                     gboolean      *out_trusted);
GPtrArray *cli_remote_list_contacts (Cli           *cli);
/* the pace of `path` (cli-path-pace.c) */
typedef struct
{
  Cli       *cli;
  gint       count;          /* --count, 0 for no end */
  gboolean (*line) (gpointer data);   /* prints one line; %FALSE ends the lines */
  gpointer   data;

  gint       printed;
  guint      tick;
  GObject   *rtt_object;     /* owned */
  gulong     rtt_id;
} CliPathPace;

void      cli_path_pace_start       (CliPathPace   *pace,
                                     GObject       *rtt_object);
void      cli_path_pace_run         (CliPathPace   *pace);
void      cli_path_print            (Cli           *cli,
                                     const char    *user,
                                     JsonObject    *report,
                                     gboolean       verbose);
int       cli_remote_path           (Cli           *cli,
                                     const char    *user,
                                     gint           count,
                                     gboolean       verbose);

int cli_register (Cli *cli, int argc, char **argv);
int cli_login_command (Cli *cli, int argc, char **argv);
int cli_add      (Cli *cli, int argc, char **argv);
int cli_accept   (Cli *cli, int argc, char **argv);
int cli_decline  (Cli *cli, int argc, char **argv);
int cli_remove   (Cli *cli, int argc, char **argv);
int cli_block    (Cli *cli, int argc, char **argv);
int cli_unblock  (Cli *cli, int argc, char **argv);
int cli_contacts (Cli *cli, int argc, char **argv);
int cli_send     (Cli *cli, int argc, char **argv);
int cli_send_file (Cli *cli, int argc, char **argv);

/* listen's transfers (cli-listen-transfers.c) */
typedef struct _CliListenTransfers CliListenTransfers;
CliListenTransfers *cli_listen_transfers_start (Cli                *cli,
                                                const char         *accept_dir);
void                cli_listen_transfers_stop  (CliListenTransfers *self);
/* transfers (cli-transfers.c, cli-transfer-control.c) */
const char *cli_transfer_direction (PinholeTransfer *t);
gboolean    cli_is_transfer_id     (const char      *arg);
/* progress events go out at most this often (cli_transfer_progress) */
#define CLI_PROGRESS_INTERVAL_US (G_USEC_PER_SEC / 2)
void        cli_transfer_progress  (Cli             *cli,
                                    gint64          *last,
                                    const char      *id,
                                    guint64          done,
                                    guint64          total,
                                    gdouble          rate,
                                    const char      *path);
void        cli_transfer_run_event (Cli             *cli,
                                    PinholeTransfer *t,
                                    guint64          missing);
void        cli_transfer_offer_event (Cli           *cli,
                                      PinholeTransfer *t);
int cli_transfers (Cli *cli, int argc, char **argv);
int cli_transfer_accept  (Cli *cli, int argc, char **argv);
int cli_transfer_decline (Cli *cli, int argc, char **argv);
int cli_pause    (Cli *cli, int argc, char **argv);
int cli_resume   (Cli *cli, int argc, char **argv);
int cli_cancel   (Cli *cli, int argc, char **argv);
int cli_listen   (Cli *cli, int argc, char **argv);
int cli_path     (Cli *cli, int argc, char **argv);
int cli_trust    (Cli *cli, int argc, char **argv);
int cli_verify   (Cli *cli, int argc, char **argv);
int cli_fingerprint (Cli *cli, int argc, char **argv);
int cli_history  (Cli *cli, int argc, char **argv);
int cli_set      (Cli *cli, int argc, char **argv);
int cli_devices  (Cli *cli, int argc, char **argv);
int cli_revoke   (Cli *cli, int argc, char **argv);

G_END_DECLS
