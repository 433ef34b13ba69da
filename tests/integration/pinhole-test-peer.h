/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-peer.h: a raw WebSocket client of pinhole-server for tests that ask the server
 * directly, with no pinhole-cli to refuse first: it registers and logs in as a user, makes
 * requests whose answer code it checks, and looks for the pushes it got or must not get. */
#pragma once

#include "pinhole-test-harness.h"

G_BEGIN_DECLS

#define PH_RESULT 0   /* the expected "code" of a request that succeeds */

typedef struct
{
  char    *url;
  char    *user;
  char    *device;
  char    *key64;        /* the device key, base64, from ph_peer_new() */
  guint8   secret_key[64];
  char    *token;        /* base64, from the last password log-in */
  PhWs    *ws;           /* NULL while offline */
  GString *history;      /* every text the connections closed so far received */
  guint    cursor;       /* for ph_ws_wait_reply */
  guint    mark;         /* pushes are looked for from this text on */
  guint    mark_binary;
} PhPeer;

char       *ph_peer_new_key             (void);
PhPeer     *ph_peer_new                 (const char *url,
                                         const char *user);
void        ph_peer_free                (PhPeer     *p);
char       *ph_peer_proof_as            (PhPeer     *p,
                                         PhPeer     *keyholder,
                                         const char *user,
                                         const char *device);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhPeer, ph_peer_free)
char       *ph_peer_dup_password        (PhPeer     *p);
gboolean    ph_peer_connect             (PhPeer     *p);
gboolean    ph_peer_register            (PhPeer     *p);
gboolean    ph_peer_login_password      (PhPeer     *p);
gboolean    ph_peer_login               (PhPeer     *p);
void        ph_peer_close               (PhPeer     *p);

JsonObject *ph_peer_call                (PhPeer     *p,
                                         gint64      code,
                                         const char *fields_format,
                                         ...) G_GNUC_PRINTF (3, 4);
void        ph_peer_expect              (PhPeer     *p,
                                         gint64      code,
                                         const char *fields_format,
                                         ...) G_GNUC_PRINTF (3, 4);
void        ph_peer_sync                (PhPeer     *p);
void        ph_peer_mark                (PhPeer     *p);

JsonObject *ph_peer_wait_push           (PhPeer     *p,
                                         const char *type,
                                         ...) G_GNUC_NULL_TERMINATED;
void        ph_peer_expect_push         (PhPeer     *p,
                                         const char *type,
                                         ...) G_GNUC_NULL_TERMINATED;
void        ph_peer_expect_no_push      (PhPeer     *p,
                                         const char *type,
                                         const char *user);
gboolean    ph_peer_ever_received       (PhPeer     *p,
                                         const char *needle);

void        ph_peer_relate              (PhPeer     *p,
                                         const char *type,
                                         PhPeer     *other,
                                         const char *relation);
void        ph_peer_ask                 (PhPeer     *from,
                                         PhPeer     *to);
void        ph_peer_befriend            (PhPeer     *from,
                                         PhPeer     *to);
JsonObject *ph_peer_roster_item         (PhPeer     *observer,
                                         const char *user);

guint32     ph_peer_open_channel        (PhPeer     *actor,
                                         PhPeer     *target);
void        ph_peer_expect_relay_closed (PhPeer     *p,
                                         guint32     channel);
void        ph_peer_send_frame          (PhPeer     *p,
                                         guint32     channel);
void        ph_peer_expect_frame        (PhPeer     *from,
                                         PhPeer     *to,
                                         guint32     channel);

const char *ph_json_get_string          (JsonObject *o,
                                         const char *member);

G_END_DECLS
