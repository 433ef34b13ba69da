/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-session-private.h: PinholeSession internals: the state that pinhole-session.c shares
 * with its pinhole-session-*.c siblings, and hooks for tests and fuzzers; not for the app. */
#pragma once

#include "pinhole-error.h"
#include "pinhole-session.h"
#include "pinhole-session-frame.h"

G_BEGIN_DECLS

/* frames in flight before the sender waits for acknowledgements */
#define PINHOLE_SESSION_WINDOW        64
/* out-of-order frames the receiver buffers (sequence numbers past the cumulative ack); also
 * the most frames in flight of both classes together (bulk and channels 0-2 each use at most
 * PINHOLE_SESSION_WINDOW) */
#define PINHOLE_SESSION_RX_WINDOW     128
/* bulk frames sealed and sent in one turn of the main loop: between two turns a chat frame
 * that the app hands over gets its turn (docs/session.md §6) */
#define PINHOLE_SESSION_BULK_PER_TURN 2
/* the bulk window, in frames, set by delay (§6): it starts at START on a new path, and stays
 * between MIN and PINHOLE_SESSION_WINDOW */
#define PINHOLE_SESSION_BULK_WINDOW_START 8
#define PINHOLE_SESSION_BULK_WINDOW_MIN   4
/* half-done handshakes a responder keeps (docs/session.md §3) */
#define PINHOLE_SESSION_HS_ATTEMPTS   4
/* an initiator established but never confirmed sends a fresh HELLO after this many
 * retransmissions of FINISH, at most PINHOLE_SESSION_HS_RESTARTS times */
#define PINHOLE_SESSION_HS_RESTART_AFTER 2
#define PINHOLE_SESSION_HS_RESTARTS   3

/* hooks for tests and fuzzers (pinhole-session.c) */
void     _pinhole_session_set_rto         (PinholeSession *self,
                                           guint           initial_ms,
                                           guint           min_ms);
void     _pinhole_session_receive_packet  (PinholeSession *self,
                                           GBytes         *packet);
guint64  _pinhole_session_get_retransmissions (PinholeSession *self);
/* skip the handshake: for fuzzing the frame layer with known keys */
void     _pinhole_session_establish_with_keys (PinholeSession *self,
                                               const guint8   *tx_key,
                                               const guint8   *rx_key);
/* the handshake-only secrets, 32 bytes each: the X25519 ephemeral private key and the key of
 * FINISH; for tests to see them wiped once the handshake is over (forward secrecy,
 * docs/session.md §3) */
const guint8 *_pinhole_session_get_ephemeral_secret (PinholeSession *self);
const guint8 *_pinhole_session_get_finish_key       (PinholeSession *self);

/* ---- shared by pinhole-session.c and pinhole-session-*.c ---- */

/* the bitmap of the replay window over received DATA counters (pinhole-session-receive.c) */
#define REPLAY_WINDOW_BITS       1024

typedef struct
{
  guint64  id;          /* from send(), as ::acked reports it */
  guint64  seq;         /* given when it goes into flight */
  guint8   channel;
  guint    transmissions;
  gint64   sent_time;   /* µs, monotonic; of the last transmission */

  /* owned */
  GBytes  *payload;
} TxFrame;

typedef struct
{
  guint64  seq;         /* 0: empty slot */
  guint8   channel;

  /* owned */
  GBytes  *payload;
} RxSlot;

/* the responder's half-done handshakes: one per HELLO with its own eph_i (at most
 * PINHOLE_SESSION_HS_ATTEMPTS, the oldest goes first); eph_r's secret is wiped at once */
typedef struct
{
  guint8   peer_eph[32];
  guint8   eph_public[32];
  guint8   hs_key_finish[32];
  guint8   tx_key[32];
  guint8   rx_key[32];
  GBytes  *response;          /* owned: the sealed RESPONSE, resent on a repeated HELLO */
} PinholeSessionAttempt;

typedef struct
{
  /* owned */
  PinholePath *path;

  gulong       received_id;
  gulong       closed_id;
  gulong       drained_id;
  gint64       last_rx;      /* µs; last authenticated packet that came on this path */
  gint64       probe_time;   /* µs; when the heartbeat now outstanding was first sent */
  gint64       probe_sent;   /* µs; when it was last sent again */
} PathEntry;

struct _PinholeSession
{
  GObject              parent_instance;

  /* owned */
  PinholeIdentity     *identity;
  GBytes              *local_public_key;
  GBytes              *peer_public_key;
  char                *local_id;
  char                *peer_id;
  GPtrArray           *paths;            /* PathEntry, in attach order; the last is current */
  GBytes              *hs_packet;        /* last handshake packet sent, for retransmission */
  GQueue               in_flight;        /* TxFrame, sent and unacknowledged, by seq */
  GQueue               waiting;          /* TxFrame on channels 0-2, not sent yet, by id */
  GQueue               bulk[256];        /* TxFrame on each bulk channel, not sent yet, by id */
  RxSlot               rx_slots[PINHOLE_SESSION_RX_WINDOW];

  gboolean             initiator;
  PinholeSessionState  state;
  gdouble              rtt_ms;
  guint64              send_queue_bytes;

  /* handshake; secrets wiped as soon as they are no longer needed */
  guint8               eph_secret[32];
  guint8               eph_public[32];
  guint8               peer_eph[32];
  gboolean             have_peer_eph;
  guint8               tx_key[32];
  guint8               rx_key[32];
  gboolean             peer_confirmed;     /* initiator: the responder has sent DATA */
  PinholeSessionAttempt attempts[PINHOLE_SESSION_HS_ATTEMPTS];   /* responder */
  guint                n_attempts;
  guint                restarts;           /* initiator: fresh HELLOs sent once established */
  guint                finish_restarts;    /* …answered: hs_packet is a FINISH when equal */
  guint8               prev_tx_key[32];    /* initiator: the keys before a restart, which */
  guint8               prev_rx_key[32];    /* the responder may have completed after all */
  gboolean             have_prev_keys;

  /* transmission counters and the replay window over received counters */
  guint64              tx_counter;
  gboolean             rx_any;
  guint64              rx_top;
  guint64              rx_bitmap[REPLAY_WINDOW_BITS / 64];

  /* sending */
  guint64              next_id;
  guint64              next_seq;
  guint                bulk_waiting;       /* frames in bulk[] */
  guint                bulk_in_flight;     /* bulk frames in in_flight */
  guint                bulk_next;          /* the bulk channel whose turn is next */
  guint                bulk_budget;        /* bulk frames this turn may still send */
  guint                bulk_window;        /* bulk frames in flight at most, by delay */
  gboolean             bulk_limited;       /* this round, bulk frames waited for the window */
  gboolean             bulk_decreased;     /* this round, the window shrank */
  gboolean             bulk_slow_start;    /* no queue seen yet on this path */
  guint64              round_end;          /* the round ends when this seq is acknowledged */
  gdouble              last_rtt;           /* ms; the latest RTT sample; < 0: none yet */
  gdouble              min_rtt;            /* ms; the least on this path; < 0 until measured */
  guint                bulk_source;        /* the next turn's idle */
  gboolean             pumping;
  guint64              peer_acked;
  guint                dup_acks;
  guint64              recover_seq;        /* fast recovery until this seq is acked; 0: none */
  guint64              retransmissions;

  /* receiving */
  guint64              rx_acked;           /* every DATA frame up to here was delivered */
  gboolean             ack_pending;
  guint                ack_source;

  /* timers */
  guint                retx_source;
  gint64               retx_due;           /* µs; next retransmission */
  gint64               progress_time;      /* µs; last handshake step or ack advance */
  guint                backoff;
  gdouble              srtt;               /* ms; < 0 until measured */
  gdouble              rttvar;
  guint                initial_rto_ms;
  guint                min_rto_ms;
  guint                timeout_ms;
  guint                ping_source;
  guint                ping_interval_ms;
  gint64               last_rx_time;       /* µs; last authenticated packet */
  guint64              ping_id;
  gint64               ping_sent_time;
  gboolean             ping_outstanding;
  guint                liveness_source;
  gint64               last_data_time;     /* µs; last DATA frame sent or received */
  PathEntry           *rx_entry;           /* the path of the packet being processed */
};

/* signals, emitted by every file */
enum
{
  PINHOLE_SESSION_SIGNAL_ESTABLISHED,
  PINHOLE_SESSION_SIGNAL_FRAME_RECEIVED,
  PINHOLE_SESSION_SIGNAL_ACKED,
  PINHOLE_SESSION_SIGNAL_PATH_CHANGED,
  PINHOLE_SESSION_SIGNAL_PATH_LOST,
  PINHOLE_SESSION_SIGNAL_CLOSED,
  PINHOLE_SESSION_N_SIGNALS
};
extern guint _pinhole_session_signals[PINHOLE_SESSION_N_SIGNALS];

/* the object and its state (pinhole-session.c) */
void     _pinhole_session_tx_frame_free   (gpointer        data);
gboolean _pinhole_session_is_live         (PinholeSession *self);
void     _pinhole_session_set_state       (PinholeSession      *self,
                                           PinholeSessionState  state);
void     _pinhole_session_update_send_queue_bytes (PinholeSession *self,
                                                   gint64          delta);
void     _pinhole_session_set_rtt_ms      (PinholeSession *self,
                                           gdouble         rtt_ms);
void     _pinhole_session_finish          (PinholeSession *self,
                                           GError         *error);
void     _pinhole_session_fail            (PinholeSession *self,
                                           PinholeError    code,
                                           const char     *format,
                                           ...) G_GNUC_PRINTF (3, 4);

/* the handshake (pinhole-session-handshake.c) */
void     _pinhole_session_wipe_handshake_secrets (PinholeSession *self);
void     _pinhole_session_new_ephemeral   (PinholeSession *self);
void     _pinhole_session_establish       (PinholeSession *self);
void     _pinhole_session_restart_handshake (PinholeSession *self);
void     _pinhole_session_handle_hello    (PinholeSession             *self,
                                           const PinholeSessionPacket *packet);
void     _pinhole_session_handle_response (PinholeSession             *self,
                                           const PinholeSessionPacket *packet);
void     _pinhole_session_handle_finish   (PinholeSession             *self,
                                           const PinholeSessionPacket *packet);

/* sending (pinhole-session-send.c) */
void     _pinhole_session_rtt_sample      (PinholeSession *self,
                                           gdouble         sample_ms);
void     _pinhole_session_transmit_frame  (PinholeSession          *self,
                                           PinholeSessionFrameType  type,
                                           guint64                  seq,
                                           guint8                   channel,
                                           GBytes                  *payload);
void     _pinhole_session_transmit_data   (PinholeSession *self,
                                           TxFrame        *frame);
void     _pinhole_session_pump            (PinholeSession *self);
void     _pinhole_session_reset_bulk_window (PinholeSession *self);
void     _pinhole_session_schedule_ack    (PinholeSession *self);
void     _pinhole_session_arm_retransmit  (PinholeSession *self);
void     _pinhole_session_restart_retransmit (PinholeSession *self);
void     _pinhole_session_process_ack     (PinholeSession *self,
                                           guint64         ack,
                                           gboolean        pure_ack);

/* receiving (pinhole-session-receive.c) */
void     _pinhole_session_process_packet  (PinholeSession *self,
                                           GBytes         *bytes);

/* paths and heartbeats (pinhole-session-paths.c) */
void     _pinhole_session_send_packet     (PinholeSession *self,
                                           GBytes         *packet);
void     _pinhole_session_path_entry_free (gpointer        data);
void     _pinhole_session_arm_ping        (PinholeSession *self);
void     _pinhole_session_arm_liveness    (PinholeSession *self);

G_END_DECLS
