/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-path.h: an in-memory PinholePath pair for tests, with deterministic loss,
 * reordering, duplication, delay and a link's rate; delivery always comes from a main-loop source. */
#pragma once

#include "pinhole-path.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_TEST_PATH (pinhole_test_path_get_type ())
G_DECLARE_FINAL_TYPE (PinholeTestPath, pinhole_test_path, PINHOLE, TEST_PATH, GObject)

void     pinhole_test_path_new_pair     (PinholePathKind   kind,
                                         guint32           seed,
                                         PinholeTestPath **out_a,
                                         PinholeTestPath **out_b);
/* what happens to packets sent from this end: fractions in [0, 1] */
void     pinhole_test_path_set_faults   (PinholeTestPath  *self,
                                         gdouble           drop,
                                         gdouble           reorder,
                                         gdouble           duplicate);
void     pinhole_test_path_set_delay    (PinholeTestPath  *self,
                                         guint             delay_ms);
/* a link of @bytes_per_second (0: no bound) that queues what it is given */
void     pinhole_test_path_set_rate     (PinholeTestPath  *self,
                                         guint64           bytes_per_second);
/* drop everything sent from this end */
void     pinhole_test_path_set_silent   (PinholeTestPath  *self,
                                         gboolean          silent);
/* remember every packet sent from this end */
void     pinhole_test_path_set_capture  (PinholeTestPath  *self,
                                         gboolean          capture);
GPtrArray *pinhole_test_path_get_captured (PinholeTestPath *self);
/* deliver @packet to this end's listeners, as if the peer had sent it */
void     pinhole_test_path_inject       (PinholeTestPath  *self,
                                         GBytes           *packet);
guint    pinhole_test_path_get_n_sent    (PinholeTestPath *self);
guint    pinhole_test_path_get_n_dropped (PinholeTestPath *self);
gboolean pinhole_test_path_is_closed     (PinholeTestPath *self);

/* hold what this end sends as queued bytes until taken (a socket slow to take it) */
void       pinhole_test_path_set_holding (PinholeTestPath *self,
                                          gboolean         holding);
GPtrArray *pinhole_test_path_take_held   (PinholeTestPath *self,
                                          guint            n);
guint      pinhole_test_path_get_n_held  (PinholeTestPath *self);

/* a connected pair of TCP streams over 127.0.0.1 */
void     pinhole_test_connect_tcp_pair   (GSocketConnection **out_client,
                                          GSocketConnection **out_server);

G_END_DECLS
