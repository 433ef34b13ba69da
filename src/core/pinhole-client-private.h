/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client-private.h: state shared by pinhole-client.c (connection, requests, roster)
 * and pinhole-client-chat.c (sessions and messages). */
#pragma once

#include <libsoup/soup.h>

#include "pinhole-client.h"
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

  guint                    stun_port;
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
void        _pinhole_client_drop_all_peers      (PinholeClient *self,
                                                 const GError  *error);
void        _pinhole_client_peer_info           (PinholeClient *self,
                                                 const char    *user,
                                                 char         **out_path,
                                                 gdouble       *out_rtt);

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
