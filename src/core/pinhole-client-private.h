/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client-private.h: state shared by the client's files: pinhole-client.c (the
 * connection, requests, pushes), -login.c (connect, register, log in), -certificate.c (the
 * server certificate the user trusted), -roster.c (contacts
 * and devices as the model), -chat.c (messages), -direct.c (local candidates for the
 * devices' direct path searches). */
#pragma once

#include <libsoup/soup.h>

#include "pinhole-client.h"
#include "pinhole-gatherer.h"
#include "pinhole-relay-channels.h"

G_BEGIN_DECLS

/* sealed pushes kept while the roster is not loaded (or a key waits for trust); more are left
 * on the server, which pushes them again at the next log-in */
#define PINHOLE_CLIENT_MAX_HELD_OFFLINE 256
/* server messages held until the log-in's result is handled (pinhole-client.c) */
#define PINHOLE_CLIENT_MAX_EARLY 256
/* receipts one delivered-ack acknowledges; the server takes at most this many in one */
#define PINHOLE_CLIENT_RECEIPTS_PER_ACK 200

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
  GListStore              *contacts;   /* PinholeContact by user: all but incoming */
  GListStore              *requests;   /* PinholeContact: incoming */
  GHashTable              *by_user;    /* user → PinholeContact, in one of the two stores */
  GHashTable              *conversations; /* user → PinholeConversation */
  GListStore              *transfers;  /* PinholeTransfer, both ways, in the order they began */
  guint                    transfer_expiry; /* the hourly look for offers 7 days old */
  PinholeRelayChannels    *relays;
  GPtrArray               *held_offline; /* JsonObject: sealed pushes waiting for the roster,
                                          * at most PINHOLE_CLIENT_MAX_HELD_OFFLINE */
  GQueue                   early;        /* EarlyMessage: pushes and relay frames that
                                          * came before the first log-in was handled */
  GPtrArray               *receipt_acks; /* JsonObject: receipts recorded, acknowledged
                                          * together, at most PINHOLE_CLIENT_RECEIPTS_PER_ACK */
  guint                    receipt_acks_timeout;
  GPtrArray               *synced_acks;  /* SyncedAck (pinhole-client-chat.c): messages
                                          * recorded, acknowledged after the next profile
                                          * sync */
  GCancellable            *offline_sync; /* the profile sync in flight, or NULL */
  GHashTable              *awaited_receipts; /* "device-id\nmessage-id" → AwaitedReceipt:
                                              * live copies the session acknowledged, not yet
                                              * confirmed on the receiver's disk */
  char                    *stun_host;
  GTlsCertificate         *rejected_certificate; /* of the last connection, if it refused one */
  char                    *rejected_server;      /* the server that presented it */

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
  gboolean                 roster_refreshing; /* a _refresh_roster_soon() is in flight */
  gboolean                 roster_again;      /* and another was asked for meanwhile */

  /* messages on their way: a shutdown waits for them (bounded) so none stays "sending" */
  guint                    sends_in_flight;
  GTask                   *shutdown;      /* waiting for sends_in_flight to reach 0 */
  guint                    shutdown_timeout;
};

/* pinhole-client.c */
void        _pinhole_client_handle_text (PinholeClient *self,
                                         GBytes        *message);
void        _pinhole_client_release_early (PinholeClient *self);
void        _pinhole_client_send_stanza (PinholeClient *self,
                                         JsonObject    *stanza);
void        _pinhole_client_close_channel (PinholeClient *self,
                                           guint32        channel);
void        _pinhole_client_connected   (PinholeClient           *self,
                                         SoupWebsocketConnection *ws);

/* pinhole-client-certificate.c */
void        _pinhole_client_watch_certificate (PinholeClient *self,
                                               SoupMessage   *msg,
                                               const char    *server_url);
GError     *_pinhole_client_certificate_error (PinholeClient *self,
                                               SoupMessage   *msg,
                                               const char    *server_url);

/* pinhole-client-roster.c */
void        _pinhole_client_refresh_roster_async (PinholeClient       *self,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
gboolean    _pinhole_client_refresh_roster_finish (PinholeClient *self,
                                                   GAsyncResult  *result,
                                                   GError       **error);
void        _pinhole_client_refresh_roster      (PinholeClient *self);
void        _pinhole_client_refresh_roster_soon (PinholeClient *self);
void        _pinhole_client_handle_presence     (PinholeClient *self,
                                                 JsonObject    *stanza);
void        _pinhole_client_handle_contact      (PinholeClient *self,
                                                 JsonObject    *stanza);
void        _pinhole_client_handle_contact_request (PinholeClient *self,
                                                    JsonObject    *stanza);
PinholeDevice *_pinhole_client_find_device      (PinholeClient *self,
                                                 const char    *user,
                                                 const char    *device);
void        _pinhole_client_foreach_device      (PinholeClient *self,
                                                 GFunc          func,
                                                 gpointer       user_data);
void        _pinhole_client_forget_roster       (PinholeClient *self);
void        _pinhole_client_load_cached_roster  (PinholeClient *self);
void        _pinhole_client_end_sessions        (PinholeClient *self,
                                                 const GError  *error);

/* pinhole-client-chat.c */
void        _pinhole_client_chat_frame          (PinholeDevice *device,
                                                 guint          channel,
                                                 GBytes        *payload,
                                                 PinholeClient *self);
void        _pinhole_client_handle_relay_open   (PinholeClient *self,
                                                 JsonObject    *stanza);
void        _pinhole_client_handle_relay_closed (PinholeClient *self,
                                                 JsonObject    *stanza);
void        _pinhole_client_handle_offline      (PinholeClient *self,
                                                 JsonObject    *stanza,
                                                 gboolean       roster_fresh);
void        _pinhole_client_handle_delivered    (PinholeClient *self,
                                                 JsonObject    *stanza);
void        _pinhole_client_flush_receipt_acks  (PinholeClient *self);
void        _pinhole_client_synced_ack_free     (gpointer       ack);
void        _pinhole_client_awaited_receipt_free (gpointer      awaited);
void        _pinhole_client_release_held        (PinholeClient *self);
void        _pinhole_client_send_text_async     (PinholeClient       *self,
                                                 const char          *user,
                                                 const char          *text,
                                                 char               **out_id,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
void        _pinhole_client_resend_async        (PinholeClient       *self,
                                                 const char          *user,
                                                 PinholeMessage      *message,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
void        _pinhole_client_send_held           (PinholeClient       *self,
                                                 const char          *user);
void        _pinhole_client_send_held_trusted   (PinholeClient       *self);

/* pinhole-client-direct.c */
void        _pinhole_client_sends_settled       (PinholeClient       *self);
void        _pinhole_client_direct_start        (PinholeClient *self);
void        _pinhole_client_direct_stop         (PinholeClient *self);

/* transfers (pinhole-client-transfer.c) */
void        _pinhole_client_transfer_offered    (PinholeClient   *self,
                                                 PinholeDevice   *device,
                                                 PinholeTransfer *transfer);
void        _pinhole_client_transfers_attach    (PinholeClient   *self,
                                                 PinholeDevice   *device);
void        _pinhole_client_track_transfer      (PinholeClient   *self,
                                                 PinholeTransfer *transfer);
char       *_pinhole_transfer_accepted_to_json  (GArray          *accepted);
GArray     *_pinhole_transfer_accepted_from_json (const char     *text,
                                                  guint           n_entries);
/* incoming offers a contact can have wait for an answer, over all its devices and sessions */
#define PINHOLE_CLIENT_MAX_OFFERS_PER_USER 16
/* the sender's side (pinhole-client-transfer-out.c) */
gboolean    _pinhole_client_transfer_is_unanswered (PinholeTransfer *transfer,
                                                    const char      *user);
void        _pinhole_client_transfer_out_changed (PinholeClient   *self,
                                                  PinholeTransfer *transfer);
void        _pinhole_client_transfers_offer_to  (PinholeClient   *self,
                                                 const char      *user,
                                                 const char      *device);
void        _pinhole_client_transfers_out_resume (PinholeClient  *self);
void        _pinhole_client_transfers_session_ended (PinholeClient *self,
                                                     PinholeDevice *device);
void        _pinhole_client_transfers_expire    (PinholeClient   *self);
gboolean    _pinhole_client_device_trusted      (PinholeClient   *self,
                                                 PinholeDevice   *device);
void        _pinhole_client_transfers_presence_cb (PinholeClient *self,
                                                   const char    *user,
                                                   const char    *device,
                                                   const char    *show,
                                                   gpointer       user_data);

/* pinhole-conversation.c */
PinholeConversation *_pinhole_conversation_new  (PinholeClient           *client,
                                                 const char              *user);
void        _pinhole_conversation_append        (PinholeConversation     *self,
                                                 PinholeMessage          *message);
void        _pinhole_conversation_forget_client (PinholeConversation     *self);
void        _pinhole_client_message_recorded    (PinholeClient           *self,
                                                 const char              *user,
                                                 const char              *id,
                                                 PinholeMessageDirection  direction,
                                                 const char              *text,
                                                 gint64                   timestamp,
                                                 PinholeMessageState      state);
void        _pinhole_client_message_state       (PinholeClient           *self,
                                                 const char              *user,
                                                 const char              *id,
                                                 PinholeMessageState      state,
                                                 const char              *failure);

/* signals, emitted by all the client's files */
enum
{
  PINHOLE_CLIENT_SIGNAL_MESSAGE_RECEIVED,
  PINHOLE_CLIENT_SIGNAL_PRESENCE_CHANGED,
  PINHOLE_CLIENT_SIGNAL_CONTACT_REQUEST,
  PINHOLE_CLIENT_SIGNAL_CONTACT_CHANGED,
  PINHOLE_CLIENT_SIGNAL_DELIVERED,
  PINHOLE_CLIENT_SIGNAL_KEY_CHANGED,
  PINHOLE_CLIENT_SIGNAL_DISCONNECTED,
  PINHOLE_CLIENT_N_SIGNALS
};
extern guint _pinhole_client_signals[PINHOLE_CLIENT_N_SIGNALS];

G_END_DECLS
