/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-agent-private.h: the state that pinhole-agent.c shares with pinhole-agent-checks.c,
 * pinhole-agent-nomination.c and pinhole-agent-control.c; not for the app. */
#pragma once

#include "pinhole-agent.h"
#include "pinhole-quic-certificate.h"

G_BEGIN_DECLS

typedef enum
{
  CHECK_WAITING,
  CHECK_IN_PROGRESS,
  CHECK_SUCCEEDED,
  CHECK_FAILED,
} CheckState;

/* a UDP check towards one remote address */
typedef struct
{
  PinholeAgent        *agent;        /* borrowed */
  PinholeCandidate    *remote;       /* owned */
  GInetSocketAddress  *seen;         /* owned: our address as the peer saw it */
  CheckState           state;
  gint64               started;
  gdouble              rtt_ms;
  GQueue               early;        /* GBytes: datagrams before the path exists */
  gboolean             handler;      /* a datagram handler is registered for remote */
} UdpCheck;

/* a TCP connection under check, ours (connect) or theirs (accept) */
typedef struct
{
  PinholeAgent        *agent;        /* borrowed */
  GIOStream           *stream;       /* owned */
  GInetSocketAddress  *remote;       /* owned */
  PinholeCandidateType remote_type;
  GInetSocketAddress  *seen;         /* owned */
  gboolean             sent_request;
  gboolean             got_request;
  gboolean             got_response;
  gboolean             reading;
  gboolean             failed;
  gboolean             taken;        /* became a path */
  guint8               txid[PINHOLE_STUN_TRANSACTION_ID_LEN];
  gint64               started;
  gdouble              rtt_ms;
} TcpCheck;

/* a remote TCP candidate we keep connecting to until it answers or the deadline passes */
typedef struct
{
  PinholeAgent        *agent;        /* borrowed */
  PinholeCandidate    *remote;       /* owned */
  gint64               deadline;
  guint                retry;
  gboolean             connected;
} TcpTarget;

struct _PinholeAgent
{
  GObject           parent_instance;

  /* owned */
  PinholeEndpoint  *endpoint;
  GCancellable     *cancellable;     /* of the current round of checks */
  char             *local_ufrag;
  char             *local_pwd;
  char             *remote_ufrag;
  char             *remote_pwd;
  GPtrArray        *local;           /* PinholeCandidate */
  GPtrArray        *remote;          /* PinholeCandidate */
  GPtrArray        *udp_checks;      /* UdpCheck */
  GPtrArray        *tcp_checks;      /* TcpCheck */
  GPtrArray        *tcp_targets;     /* TcpTarget */
  GPtrArray        *pending_out;     /* PinholeCandidate not yet sent to the peer */
  JsonObject       *pending_nomination;  /* controlled: waits for its check to finish */
  PinholePath      *path;            /* the path built last */
  gpointer          path_check;      /* the UdpCheck or TcpCheck under it */
  GInetSocketAddress *path_remote;   /* the UDP path's remote, routed to it by the endpoint */
  /* the path a better one replaces: it carries on until the new one works, and a while after,
   * so that the session (ours and the peer's) moves from path to path without the relay */
  PinholePath      *retiring;
  GInetSocketAddress *retiring_remote;
  gpointer          retiring_check;
  guint             retire_source;

  /* the certificate our QUIC paths show, one for the agent's life (all its rounds): its
   * fingerprint goes with every candidates message; NULL if GnuTLS could not make one */
  PinholeQuicCertificate *quic_certificate;
  /* the fingerprint the peer's QUIC paths show, from its candidates messages; NULL: the peer
   * sent none (an older Pinhole), and no UDP pair becomes a path */
  char             *remote_quic_fingerprint;
  gboolean          path_refused;    /* the path connecting closed: its handshake failed */

  gboolean          controlling;
  guint64           tiebreaker;
  gboolean          local_done;
  gboolean          remote_done;
  guint             n_remote_signalled;  /* in remote, from the peer's messages this round */
  guint             n_remote_prflx;      /* in remote, learnt from its checks this round */
  /* the last authentic UDP requests, to tell a retransmission (same source) from a replay
   * (another source) */
  struct {
    guint8              txid[12];
    GInetSocketAddress *from;            /* owned; NULL: an empty slot */
  }                 recent_requests[32];
  guint             next_recent;
  gboolean          closed;
  gboolean          failed_reported;
  guint             flush_source;
  guint             nominate_source;
  guint             fail_source;
  guint             settle_source;   /* ends the other TCP checks once a path works */
  guint             connect_source;  /* a UDP path that does not connect in time fails */
  int               nominated_rank;  /* of the nominated pair; G_MAXINT: none yet */
  PinholeTransport  nominated_transport;
  gboolean          moved_within_rank;
};

/* signals: defined in pinhole-agent.c, emitted by its siblings */
enum
{
  PINHOLE_AGENT_SIGNAL_SEND_CONTROL,
  PINHOLE_AGENT_SIGNAL_PATH_READY,
  PINHOLE_AGENT_SIGNAL_FAILED,
  PINHOLE_AGENT_N_SIGNALS
};
extern guint _pinhole_agent_signals[PINHOLE_AGENT_N_SIGNALS];

/* the object (pinhole-agent.c) */
gboolean _pinhole_agent_same_address (GInetSocketAddress *a,
                                      GInetSocketAddress *b);
void     _pinhole_agent_reset_round (PinholeAgent *self);

/* connectivity checks (pinhole-agent-checks.c) */
void     _pinhole_agent_new_credentials (PinholeAgent *self);
void     _pinhole_agent_forget_requests (PinholeAgent *self);
void     _pinhole_agent_udp_check_free (UdpCheck *check);
void     _pinhole_agent_udp_check_start (PinholeAgent *self,
                                         UdpCheck     *check);
void     _pinhole_agent_add_udp_check (PinholeAgent           *self,
                                       const PinholeCandidate *remote);
void     _pinhole_agent_tcp_check_free (TcpCheck *check);
gboolean _pinhole_agent_tcp_check_done (TcpCheck *check);
void     _pinhole_agent_tcp_check_send_request (TcpCheck *check);
PinholeCandidateType _pinhole_agent_remote_type_of (PinholeAgent       *self,
                                                    PinholeTransport    transport,
                                                    GInetSocketAddress *address,
                                                    PinholePathKind    *out_via);
void     _pinhole_agent_tcp_target_free (TcpTarget *target);
void     _pinhole_agent_add_tcp_target (PinholeAgent           *self,
                                        const PinholeCandidate *remote);
void     _pinhole_agent_check_exhausted (PinholeAgent *self);

/* nomination and the path built on the nominated pair (pinhole-agent-nomination.c) */
PinholePathKind _pinhole_agent_pair_kind (PinholeAgent         *self,
                                          PinholeTransport      transport,
                                          PinholeCandidateType  remote_type,
                                          PinholePathKind       remote_via,
                                          GInetSocketAddress   *seen);
void     _pinhole_agent_maybe_nominate (PinholeAgent *self);
gboolean _pinhole_agent_handle_nominate (PinholeAgent  *self,
                                         JsonObject    *message,
                                         GError       **error);
void     _pinhole_agent_drop_path (PinholeAgent *self);

/* control messages (pinhole-agent-control.c) */
void     _pinhole_agent_emit_control (PinholeAgent *self,
                                      JsonObject   *message);
void     _pinhole_agent_resend_local (PinholeAgent *self);

G_END_DECLS
