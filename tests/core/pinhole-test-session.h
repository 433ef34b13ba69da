/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-session.h: two sessions, alice (initiator) and bob, over an in-memory relay
 * path, recording what each delivers, acknowledges and reports; shared by the session tests. */
#pragma once

#include "pinhole-identity.h"
#include "pinhole-session.h"
#include "pinhole-test-path.h"

G_BEGIN_DECLS

typedef struct
{
  PinholeSession *session;
  GPtrArray      *received;      /* GBytes, in delivery order */
  GArray         *channels;      /* guint, beside received */
  GArray         *acked;         /* guint64 */
  GError         *closed_error;
  guint           n_established;
  guint           n_closed;
  guint           n_path_changed;
} PinholeTestPeer;

typedef struct
{
  PinholeIdentity *alice_id;
  PinholeIdentity *bob_id;
  PinholeTestPeer  alice;
  PinholeTestPeer  bob;
  PinholeTestPath *path_a;      /* alice's end */
  PinholeTestPath *path_b;      /* bob's end */
} PinholeTestSessions;

void     pinhole_test_peer_init              (PinholeTestPeer     *peer,
                                              PinholeIdentity     *identity,
                                              const char          *local_id,
                                              const char          *peer_id,
                                              GBytes              *peer_key,
                                              gboolean             initiator);
void     pinhole_test_peer_clear             (PinholeTestPeer     *peer);
void     pinhole_test_peer_send_numbered     (PinholeTestPeer     *peer,
                                              guint32              first,
                                              guint32              count);
void     pinhole_test_peer_assert_numbered   (PinholeTestPeer     *peer,
                                              guint32              count);
GBytes  *pinhole_test_numbered_payload       (guint32              n);

void     pinhole_test_sessions_setup_keys    (PinholeTestSessions *f,
                                              gboolean             alice_knows_wrong_key,
                                              gboolean             bob_knows_wrong_key);
void     pinhole_test_sessions_setup         (PinholeTestSessions *f,
                                              gconstpointer        data);
void     pinhole_test_sessions_teardown      (PinholeTestSessions *f,
                                              gconstpointer        data);
gboolean pinhole_test_sessions_both_established (gpointer          data);
void     pinhole_test_sessions_establish     (PinholeTestSessions *f);

G_END_DECLS
