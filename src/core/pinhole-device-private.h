/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-device-private.h: a PinholeDevice's state, shared by pinhole-device.c (the object
 * and its properties), pinhole-device-session.c (the session, its relay channel and the
 * frames waiting for acknowledgement) and pinhole-device-direct.c (the direct path search),
 * and the calls the client makes on it. */
#pragma once

#include "pinhole-transfer-link.h"

#include "pinhole-agent.h"
#include "pinhole-client.h"
#include "pinhole-device.h"
#include "pinhole-relay-path.h"

G_BEGIN_DECLS

/* a reliable frame went onto a session (it may still be lost with it) */
typedef void (*PinholeDeviceSent) (PinholeDevice *device,
                                   gpointer       user_data);

/* a reliable frame's fate: @error %NULL when the device acknowledged it, otherwise the
 * session ended first */
typedef void (*PinholeDeviceSettled) (PinholeDevice *device,
                                      GBytes        *payload,
                                      const GError  *error,
                                      gpointer       user_data);

struct _PinholeDevice
{
  GObject             parent_instance;

  PinholeClient      *client;     /* borrowed: the client outlives its devices' use of it */
  char               *user;
  char               *name;
  char               *id;         /* "user/device" */
  GBytes             *key;        /* as the server publishes it */
  PinholePresence     presence;
  PinholeKeyState     key_state;
  gboolean            verified;   /* its key is the trusted one and the user verified it */

  /* the session (pinhole-device-session.c) */
  PinholeSession     *session;
  PinholeTransferLink *transfers; /* the transfers on session */
  PinholeRelayPath   *relay;
  GQueue              outbox;     /* Outgoing*: sent or waiting, not yet acknowledged */
  GPtrArray          *waiters;    /* GTask* waiting for an established session */
  guint               establish_timeout;
  guint               probe_source;
  guint               probe_holds;
  gboolean            resuming;   /* a relay-open to carry on the session is in flight */
  PinholePathKind     path_kind;
  gdouble             rtt_ms;
  char               *remote;

  /* the direct path search (pinhole-device-direct.c) */
  PinholeAgent       *agent;
  PinholeRelayReason  relay_reason;
  char               *relay_detail;  /* the agent's or the system's words, for some reasons */
  PinholeNatInfo      peer_nat;
  gboolean            has_peer_nat;
  guint               restart_source;
  guint               restart_backoff_s;
  guint               transfer_retries;  /* sessions for transfers that ended unestablished */
  gboolean            peer_relay_only;
};

enum
{
  PINHOLE_DEVICE_PROP_0,
  PINHOLE_DEVICE_PROP_USER,
  PINHOLE_DEVICE_PROP_NAME,
  PINHOLE_DEVICE_PROP_PRESENCE,
  PINHOLE_DEVICE_PROP_KEY_STATE,
  PINHOLE_DEVICE_PROP_SESSION,
  PINHOLE_DEVICE_PROP_PATH_KIND,
  PINHOLE_DEVICE_PROP_RTT_MS,
  PINHOLE_DEVICE_PROP_REMOTE,
  PINHOLE_DEVICE_PROP_RELAY_REASON,
  PINHOLE_DEVICE_PROP_RELAY_REASON_TEXT,
  PINHOLE_DEVICE_PROP_NAT,
  PINHOLE_DEVICE_PROP_VERIFIED,
  PINHOLE_DEVICE_N_PROPS
};
extern GParamSpec *_pinhole_device_props[PINHOLE_DEVICE_N_PROPS];

/* pinhole-device.c */
PinholeDevice *_pinhole_device_new          (PinholeClient   *client,
                                             const char      *user,
                                             const char      *name,
                                             GBytes          *key);
void           _pinhole_device_set_key      (PinholeDevice   *self,
                                             GBytes          *key);
void           _pinhole_device_set_presence (PinholeDevice   *self,
                                             PinholePresence  presence);
void           _pinhole_device_refresh_key_state (PinholeDevice *self);
void           _pinhole_device_update_path  (PinholeDevice   *self);
void           _pinhole_device_set_relay_reason (PinholeDevice      *self,
                                                 PinholeRelayReason  reason,
                                                 const char         *detail);
void           _pinhole_device_forget       (PinholeDevice   *self,
                                             const GError    *error);
void           _pinhole_device_emit_frame   (PinholeDevice   *self,
                                             guint            channel,
                                             GBytes          *payload);

/* pinhole-device-session.c */
void           _pinhole_device_send         (PinholeDevice        *self,
                                             guint                 channel,
                                             GBytes               *payload,
                                             PinholeDeviceSent     sent,
                                             PinholeDeviceSettled  settled,
                                             gpointer              user_data);
void           _pinhole_device_send_best_effort (PinholeDevice *self,
                                                 guint          channel,
                                                 JsonObject    *message);
void           _pinhole_device_send_control (PinholeDevice   *self,
                                             JsonObject      *message);
void           _pinhole_device_ensure_session (PinholeDevice *self);
void           _pinhole_device_wait_session (PinholeDevice   *self,
                                             GTask           *task);
void           _pinhole_device_accept_relay (PinholeDevice    *self,
                                             PinholeRelayPath *relay);
gboolean       _pinhole_device_prefers_own_session (PinholeDevice *self);
void           _pinhole_device_relay_lost   (PinholeDevice    *self,
                                             PinholeRelayPath *relay,
                                             const GError     *error);
void           _pinhole_device_server_lost  (PinholeDevice   *self,
                                             const GError    *error);
void           _pinhole_device_end_session  (PinholeDevice   *self,
                                             const GError    *error);
void           _pinhole_device_resume_relay (PinholeDevice    *self);
gboolean       _pinhole_device_resume_on    (PinholeDevice    *self,
                                             PinholeRelayPath *relay);

/* pinhole-device-direct.c */
void           _pinhole_device_direct_session_up (PinholeDevice *self);
void           _pinhole_device_direct_control    (PinholeDevice *self,
                                                  GBytes        *payload);
void           _pinhole_device_direct_path_lost  (PinholeDevice *self,
                                                  PinholePath   *path);
void           _pinhole_device_direct_clear      (PinholeDevice *self);
void           _pinhole_device_direct_network_changed (PinholeDevice *self);
void           _pinhole_device_direct_add_local  (PinholeDevice    *self,
                                                  PinholeCandidate *candidate);
void           _pinhole_device_direct_local_done (PinholeDevice *self);

G_END_DECLS
