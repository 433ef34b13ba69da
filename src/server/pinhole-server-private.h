/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server-private.h: what the server's request handlers share. */
#pragma once

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "pinhole-server.h"
#include "pinhole-acceptor.h"
#include "pinhole-ws-stream.h"

G_BEGIN_DECLS

typedef struct _PinholeServerConnection PinholeServerConnection;
typedef struct _PinholeServerCommit PinholeServerCommit;

/* relay channels one connection is an end of, whichever end opened them */
#define PINHOLE_SERVER_MAX_CHANNELS 256

struct _PinholeServerConnection
{
  /* borrowed: the server outlives its connections (it closes them in dispose) */
  PinholeServer           *server;

  /* owned */
  SoupWebsocketConnection *ws;
  PinholeWsStream         *stream;      /* what ws runs on: its queued bytes */
  char                    *user;        /* NULL until logged in */
  char                    *device;
  char                    *show;        /* "online" / "away"; NULL when not announced */
  char                    *stun_host;   /* the host this client used to reach us */
  char                    *address;     /* the client's IP address, as the server sees it */
  GArray                  *channels;    /* guint32 relay channels this connection is on */

  double                   tokens;      /* request rate limiter (token bucket) */
  gint64                   tokens_at;
  double                   frame_tokens; /* relay frame rate limiter, likewise */
  gint64                   frame_tokens_at;
  guint                    strikes;     /* requests and frames over the rate, since a bucket
                                         * was last full */
  guint                    stall_check; /* armed while queued output is over the window */
  guint64                  stall_written; /* bytes the socket had taken when it was armed */
  gboolean                 authenticating;
  gboolean                 closed;
  guint8                   nonce[32];   /* the log-in challenge, once asked for */
  gboolean                 has_nonce;
  guint                    login_timeout;  /* closes it unless it logs in in time */
  GQueue                   outbox;      /* what waits behind a commit (pinhole-server-commit.c) */
  gsize                    outbox_bytes;
  GHashTable              *offline_batch; /* (nullable) ids of the sealed messages of the last
                                         * push of a full batch not yet acknowledged: when
                                         * the last goes, the next batch is pushed */
};

/* request types counted apart (handlers[] in pinhole-server.c, and "ping"); more is a bug */
#define PINHOLE_SERVER_MAX_REQUEST_TYPES 32

/* why a relay frame was not forwarded, as /metrics labels it */
typedef enum
{
  PINHOLE_SERVER_DROP_MALFORMED,
  PINHOLE_SERVER_DROP_NO_CHANNEL,
  PINHOLE_SERVER_DROP_WINDOW,
  PINHOLE_SERVER_DROP_RATE,
  PINHOLE_SERVER_DROP_BEFORE_LOGIN,
  PINHOLE_SERVER_N_DROPS
} PinholeServerDrop;

/* what /metrics counts since the start (pinhole-server-metrics.c) */
typedef struct
{
  guint64 requests[PINHOLE_SERVER_MAX_REQUEST_TYPES];
  guint64 relay_frames;                       /* forwarded */
  guint64 relay_bytes;
  guint64 relay_dropped[PINHOLE_SERVER_N_DROPS];
  guint64 commits;                            /* answers that waited for the disk */
  guint64 commit_failures;
  gint64  commit_wait_us;                     /* their waits, summed */
} PinholeServerMetrics;

struct _PinholeServer
{
  GObject             parent_instance;

  PinholeServerLimits limits;
  guint16             stun_port;
  guint16             stun_alt_port;

  /* owned */
  PinholeStore       *store;
  SoupServer         *soup;
  PinholeAcceptor    *acceptor;
  GTlsCertificate    *certificate;   /* wss:// when set */
  GHashTable         *handshakes;    /* "address port" → Handshake*: accepted, not upgraded */
  guint               purge_source;  /* drops expired sealed messages, hourly */
  GHashTable         *strikes;       /* failed log-ins per account and address */
  GHashTable         *connections;   /* PinholeServerConnection* (owned, rc box) */
  GHashTable         *devices;       /* "user/device" → connection (borrowed) */
  GHashTable         *users;         /* user → GPtrArray of connections (borrowed) */
  GHashTable         *channels;      /* channel → PinholeServerChannel* (owned) */
  guint32             next_channel;
  GCancellable       *cancellable;   /* the store's syncs; cancelled in dispose */
  PinholeServerCommit *commit;       /* (nullable) the request being handled wrote this */
  guint               pending_commits; /* answers waiting for a sync */
  gboolean            shutting_down; /* connections close once pending_commits is 0 */
  PinholeServerMetrics metrics;
  SoupServer         *metrics_soup;  /* (nullable) /metrics and /healthz for operators */
};

typedef struct
{
  guint32                  id;
  PinholeServerConnection *ends[2];   /* borrowed */
} PinholeServerChannel;

typedef void (*PinholeServerHandler) (PinholeServerConnection *connection,
                                      JsonObject              *stanza,
                                      const char              *id);

/* pinhole-server-throttle.c */
guint _pinhole_server_login_wait      (PinholeServer *server,
                                       const char    *user,
                                       const char    *address);
void  _pinhole_server_login_failed    (PinholeServer *server,
                                       const char    *user,
                                       const char    *address);
void  _pinhole_server_login_succeeded (PinholeServer *server,
                                       const char    *user);

/* pinhole-server-commit.c: answers after the sync of their writes */
typedef enum
{
  PINHOLE_SERVER_COMMIT_NONE = 0,
  /* the sync failed: after the error, the connection closes (a log-in the client takes as
   * failed but the server as done) */
  PINHOLE_SERVER_COMMIT_CLOSE_ON_FAILURE = 1 << 0,
} PinholeServerCommitFlags;

void _pinhole_server_commit_begin   (PinholeServerConnection  *c,
                                     const char               *id,
                                     PinholeServerCommitFlags  flags);
void _pinhole_server_commit_end     (PinholeServer            *server);
void _pinhole_server_output_text    (PinholeServerConnection  *c,
                                     char                     *text,
                                     const char               *answer_id);
void _pinhole_server_output_binary  (PinholeServerConnection  *c,
                                     GBytes                   *frame);
void _pinhole_server_outbox_clear   (PinholeServerConnection  *c);
/* pinhole-server.c: the socket itself, and the shutdown that waits for commits */
void _pinhole_server_write_text     (PinholeServerConnection  *c,
                                     const char               *text);
void _pinhole_server_write_binary   (PinholeServerConnection  *c,
                                     GBytes                   *frame);
void _pinhole_server_commit_settled (PinholeServer            *server);

/* pinhole-server.c: the name of request type @i, NULL past the last (for /metrics) */
const char *_pinhole_server_request_type (guint i);
/* pinhole-server-metrics.c */
char       *_pinhole_server_metrics_text (PinholeServer *server);
void        _pinhole_server_healthz      (PinholeServer     *server,
                                          SoupServerMessage *msg);

/* sending */
void _pinhole_server_send          (PinholeServerConnection *connection,
                                    JsonObject              *stanza);
void _pinhole_server_send_result   (PinholeServerConnection *connection,
                                    const char              *id,
                                    JsonObject              *result);
void _pinhole_server_send_error    (PinholeServerConnection *connection,
                                    const char              *id,
                                    int                      code,
                                    const char              *text);
void _pinhole_server_send_gerror   (PinholeServerConnection *connection,
                                    const char              *id,
                                    const GError            *error);
void _pinhole_server_send_to_user  (PinholeServer           *server,
                                    const char              *user,
                                    JsonObject              *stanza);

/* connections */
PinholeServerConnection *_pinhole_server_connection_ref   (PinholeServerConnection *c);
void                     _pinhole_server_connection_unref (PinholeServerConnection *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeServerConnection, _pinhole_server_connection_unref)
PinholeServerConnection *_pinhole_server_find_device (PinholeServer *server,
                                                      const char    *user,
                                                      const char    *device);
void _pinhole_server_login_complete (PinholeServerConnection *connection,
                                     const char              *id,
                                     const char              *user,
                                     const char              *device,
                                     GBytes                  *token,
                                     gboolean                 announce);

/* presence */
void _pinhole_server_broadcast_presence (PinholeServerConnection *connection,
                                         const char              *show);
void _pinhole_server_send_presences_of  (PinholeServerConnection *to,
                                         const char              *contact);
gboolean _pinhole_server_are_mutual (PinholeServer *server,
                                     const char    *a,
                                     const char    *b);

/* relay */
void _pinhole_server_close_channel (PinholeServer *server,
                                    guint32        channel,
                                    PinholeServerConnection *closer);

/* handlers, one file each group */
void _pinhole_server_handle_register (PinholeServerConnection *c, JsonObject *s, const char *id);
void _pinhole_server_handle_login    (PinholeServerConnection *c, JsonObject *s, const char *id);
void _pinhole_server_handle_roster   (PinholeServerConnection *c, JsonObject *s, const char *id);
void _pinhole_server_handle_subscribe (PinholeServerConnection *c, JsonObject *s, const char *id);
void _pinhole_server_handle_accept   (PinholeServerConnection *c, JsonObject *s, const char *id);
void _pinhole_server_handle_decline  (PinholeServerConnection *c, JsonObject *s, const char *id);
void _pinhole_server_handle_remove   (PinholeServerConnection *c, JsonObject *s, const char *id);
void _pinhole_server_handle_block    (PinholeServerConnection *c, JsonObject *s, const char *id);
void _pinhole_server_handle_challenge (PinholeServerConnection *c, JsonObject *s, const char *id);
void _pinhole_server_connection_close (PinholeServerConnection *c, gushort code,
                                       const char *reason);
guint _pinhole_server_register_wait (PinholeServer *server, const char *address);
void  _pinhole_server_registered    (PinholeServer *server, const char *address);
void _pinhole_server_handle_devices  (PinholeServerConnection *c, JsonObject *s, const char *id);
void _pinhole_server_handle_revoke   (PinholeServerConnection *c, JsonObject *s, const char *id);
void _pinhole_server_handle_unblock  (PinholeServerConnection *c, JsonObject *s, const char *id);
void _pinhole_server_handle_presence (PinholeServerConnection *c, JsonObject *s, const char *id);
void _pinhole_server_handle_message  (PinholeServerConnection *c, JsonObject *s, const char *id);
void _pinhole_server_handle_offline_ack (PinholeServerConnection *c, JsonObject *s,
                                         const char *id);
void _pinhole_server_handle_delivered_ack (PinholeServerConnection *c, JsonObject *s,
                                           const char *id);
void _pinhole_server_handle_relay_open (PinholeServerConnection *c, JsonObject *s,
                                        const char *id);
void _pinhole_server_handle_relay_close (PinholeServerConnection *c, JsonObject *s,
                                         const char *id);
void _pinhole_server_handle_signal   (PinholeServerConnection *c, JsonObject *s, const char *id);
void _pinhole_server_push_offline    (PinholeServerConnection *c);
void _pinhole_server_push_receipts   (PinholeServerConnection *c);

G_END_DECLS
