/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client-private.h: state shared by pinhole-client.c (connection, requests, roster)
 * and pinhole-client-chat.c (sessions and messages). */
#pragma once

#include <libsoup/soup.h>

#include "pinhole-client.h"
#include "pinhole-agent.h"
#include "pinhole-gatherer.h"
#include "pinhole-relay-path.h"

G_BEGIN_DECLS

typedef struct
{
  char   *device;
  GBytes *key;        /* as the server publishes it */
  char   *show;       /* "online", "away", "offline" */
} PinholeClientDevice;

typedef struct
{
  char       *user;
  char       *relation;
  GHashTable *devices;   /* device → PinholeClientDevice (owned) */
} PinholeClientContact;

typedef struct _PinholeClientPeer PinholeClientPeer;

/* one contact's device: its session, and the search for a direct path to it */
struct _PinholeClientPeer
{
  PinholeClient    *client;   /* borrowed: the client owns its peers */
  char             *user;
  char             *device;
  char             *id;       /* "user/device" */
  GBytes           *key;

  /* owned */
  PinholeSession   *session;
  PinholeRelayPath *relay;
  GQueue            outbox;   /* OutMessage* */
  GPtrArray        *waiters;  /* GTask* waiting for the session to be established */
  const char       *last_path; /* static: the path name last announced */
  guint             establish_timeout;

  /* direct paths (pinhole-client-direct.c) */
  PinholeAgent     *agent;            /* owned, nullable */
  char             *relay_reason;     /* why the session is on the relay, when it is */
  JsonObject       *peer_nat;         /* owned, nullable: what the peer says of its NAT */
  guint             restart_source;
  guint             restart_backoff_s;
  gboolean          peer_relay_only;
};

struct _PinholeClient
{
  GObject                  parent_instance;

  /* owned */
  PinholeProfile          *profile;
  SoupSession             *soup;
  SoupWebsocketConnection *ws;
  char                    *user;
  char                    *device;
  char                    *local_id;   /* "user/device" */
  GHashTable              *pending;    /* request id → GTask */
  GHashTable              *contacts;   /* user → PinholeClientContact */
  GHashTable              *peers;      /* "user/device" → PinholeClientPeer */
  GHashTable              *relays;     /* channel → PinholeRelayPath (owned) */
  GPtrArray               *held_offline; /* JsonObject: sealed pushes waiting for the roster */
  char                    *stun_host;

  /* direct paths: owned, created at the first log-in */
  PinholeEndpoint         *endpoint;
  PinholePortMapper       *mapper;
  PinholeGatherer         *gatherer;
  GNetworkMonitor         *monitor;      /* borrowed default monitor */
  gulong                   monitor_id;
  char                    *direct_error; /* why direct paths are off, when they are */

  guint                    stun_port;
  guint                    stun_alt_port;
  gboolean                 direct_paths;
  guint64                  next_request;
  gboolean                 roster_loaded;
};

/* requests */
void        _pinhole_client_send_stanza (PinholeClient *self,
                                         JsonObject    *stanza);
void        _pinhole_client_refresh_roster (PinholeClient *self);
PinholeClientContact *_pinhole_client_find_contact (PinholeClient *self,
                                                    const char    *user);

/* chat (pinhole-client-chat.c) */
void        _pinhole_client_peer_free        (PinholeClientPeer *peer);
void        _pinhole_client_handle_relay_open   (PinholeClient *self,
                                                 JsonObject    *stanza);
void        _pinhole_client_handle_relay_closed (PinholeClient *self,
                                                 JsonObject    *stanza);
void        _pinhole_client_handle_offline      (PinholeClient *self,
                                                 JsonObject    *stanza,
                                                 gboolean       roster_fresh);
void        _pinhole_client_handle_delivered    (PinholeClient *self,
                                                 JsonObject    *stanza);
void        _pinhole_client_emit_path           (PinholeClientPeer *peer);
void        _pinhole_client_drop_all_peers      (PinholeClient *self,
                                                 const GError  *error);
void        _pinhole_client_peer_info           (PinholeClient *self,
                                                 const char    *user,
                                                 char         **out_path,
                                                 gdouble       *out_rtt);

/* direct paths (pinhole-client-direct.c) */
void        _pinhole_client_direct_start        (PinholeClient     *self);
void        _pinhole_client_direct_stop         (PinholeClient     *self);
void        _pinhole_client_direct_session_up   (PinholeClientPeer *peer);
void        _pinhole_client_direct_control      (PinholeClientPeer *peer,
                                                 GBytes            *payload);
void        _pinhole_client_direct_path_lost    (PinholeClientPeer *peer,
                                                 PinholePath       *path);
void        _pinhole_client_direct_peer_clear   (PinholeClientPeer *peer);
const char *_pinhole_client_direct_reason       (PinholeClientPeer *peer);
PinholeClientPeer *_pinhole_client_find_peer_of (PinholeClient *self,
                                                 const char    *user);

/* signals, emitted by both files */
enum
{
  PINHOLE_CLIENT_SIGNAL_MESSAGE_RECEIVED,
  PINHOLE_CLIENT_SIGNAL_PRESENCE_CHANGED,
  PINHOLE_CLIENT_SIGNAL_CONTACT_REQUEST,
  PINHOLE_CLIENT_SIGNAL_CONTACT_CHANGED,
  PINHOLE_CLIENT_SIGNAL_DELIVERED,
  PINHOLE_CLIENT_SIGNAL_KEY_CHANGED,
  PINHOLE_CLIENT_SIGNAL_PATH_CHANGED,
  PINHOLE_CLIENT_SIGNAL_DISCONNECTED,
  PINHOLE_CLIENT_N_SIGNALS
};
extern guint _pinhole_client_signals[PINHOLE_CLIENT_N_SIGNALS];

G_END_DECLS
