/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-agent.c: connectivity checks and nomination for one peer device (RFC 8445 §6–§8,
 * simplified: one component, fixed roles, every remote candidate checked at once rather than
 * paced, since a device has a handful of candidates and speed matters more than politeness).
 * UDP checks are STUN Binding requests with USERNAME "peer-ufrag:our-ufrag" and
 * MESSAGE-INTEGRITY keyed by the peer's password; a request we answer from an address we did
 * not check yet triggers a check back to it (a peer-reflexive candidate, §7.3.1.3), which is
 * what opens both NATs. TCP checks run over each connection, both directions, with the TCP
 * path's framing; the connection then becomes the path. libnice implements full ICE; its
 * pacing and pair states cost time that a two-party chat does not need, and it has no
 * miniupnpc/libnatpmp mapped candidates, so the checks are our own. */
#define G_LOG_DOMAIN "pinhole-agent"

#include "pinhole-agent.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"
#include "pinhole-tcp-path.h"
#include "pinhole-udp-path.h"

#include <sodium.h>
#include <string.h>

#define UDP_CHECK_RTO_MS     100
#define UDP_CHECK_TRIES      9        /* about 8 s in all */
#define TCP_CONNECT_MS       1500
#define TCP_RETRY_MS         250
#define TCP_DEADLINE_MS      8000
#define NOMINATE_WAIT_MS     120      /* after the first success, for better pairs to succeed */
#define MAX_EARLY_DATAGRAMS  16
#define MAX_TCP_CHECKS       16
#define UDP_CONNECT_MS       5000     /* PseudoTcp's handshake over a checked pair */

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

  gboolean          controlling;
  guint64           tiebreaker;
  gboolean          local_done;
  gboolean          remote_done;
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

G_DEFINE_FINAL_TYPE (PinholeAgent, pinhole_agent, G_TYPE_OBJECT)

enum { SIGNAL_SEND_CONTROL, SIGNAL_PATH_READY, SIGNAL_FAILED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void maybe_nominate (PinholeAgent *self);
static void check_exhausted (PinholeAgent *self);
static void tcp_check_read (TcpCheck *check);
static void reset_round (PinholeAgent *self);
static void drop_path (PinholeAgent *self);
static void resend_local (PinholeAgent *self);
static gboolean connect_timeout_cb (gpointer user_data);

/* ---- helpers ---- */

static char *
random_token (gsize bytes)
{
  g_autofree guint8 *raw = g_malloc (bytes);
  GString *s = g_string_new (NULL);

  randombytes_buf (raw, bytes);
  for (gsize i = 0; i < bytes; i++)
    g_string_append_printf (s, "%02x", raw[i]);
  return g_string_free (s, FALSE);
}

static gboolean
same_address (GInetSocketAddress *a,
              GInetSocketAddress *b)
{
  return a != NULL && b != NULL &&
         g_inet_socket_address_get_port (a) == g_inet_socket_address_get_port (b) &&
         g_inet_address_equal (g_inet_socket_address_get_address (a),
                               g_inet_socket_address_get_address (b));
}

static void
emit_control (PinholeAgent *self,
              JsonObject   *message)
{
  g_signal_emit (self, signals[SIGNAL_SEND_CONTROL], 0, message);
}

/* ---- path kind and rank: LAN, then router mappings, then punched holes ---- */

static PinholePathKind
pair_kind (PinholeAgent        *self,
           PinholeTransport     transport,
           PinholeCandidateType remote_type,
           PinholePathKind      remote_via,
           GInetSocketAddress  *seen)
{
  PinholeCandidate *mine = NULL;

  for (guint i = 0; i < self->local->len; i++)
    {
      PinholeCandidate *c = g_ptr_array_index (self->local, i);

      if (c->transport == transport && same_address (c->address, seen))
        mine = c;
    }
  if (remote_type == PINHOLE_CANDIDATE_HOST && mine != NULL &&
      mine->type == PINHOLE_CANDIDATE_HOST)
    return PINHOLE_PATH_KIND_LAN;
  if (remote_type == PINHOLE_CANDIDATE_MAPPED)
    return remote_via;
  if (mine != NULL && mine->type == PINHOLE_CANDIDATE_MAPPED)
    return mine->via;
  return transport == PINHOLE_TRANSPORT_TCP ? PINHOLE_PATH_KIND_TCP_PUNCH
                                            : PINHOLE_PATH_KIND_UDP_PUNCH;
}

static int
kind_rank (PinholePathKind kind)
{
  switch (kind)
    {
    case PINHOLE_PATH_KIND_LAN: return 0;
    case PINHOLE_PATH_KIND_UPNP:
    case PINHOLE_PATH_KIND_NAT_PMP: return 1;
    case PINHOLE_PATH_KIND_UDP_PUNCH:
    case PINHOLE_PATH_KIND_TCP_PUNCH: return 2;
    case PINHOLE_PATH_KIND_RELAY:
    default: return 3;
    }
}

/* ---- STUN messages ---- */

static GBytes *
build_request (PinholeAgent *self,
               guint8       *out_txid)
{
  g_autoptr(PinholeStunMessage) msg = pinhole_stun_message_new (PINHOLE_STUN_CLASS_REQUEST,
                                                                PINHOLE_STUN_METHOD_BINDING,
                                                                NULL);

  pinhole_stun_message_set_random_transaction_id (msg);
  memcpy (out_txid, msg->transaction_id, PINHOLE_STUN_TRANSACTION_ID_LEN);
  msg->username = g_strdup_printf ("%s:%s", self->remote_ufrag, self->local_ufrag);
  msg->has_priority = TRUE;
  msg->priority = pinhole_candidate_compute_priority (PINHOLE_CANDIDATE_PRFLX,
                                                      PINHOLE_TRANSPORT_UDP, 65535);
  if (self->controlling)
    {
      msg->has_ice_controlling = TRUE;
      msg->ice_controlling = self->tiebreaker;
    }
  else
    {
      msg->has_ice_controlled = TRUE;
      msg->ice_controlled = self->tiebreaker;
    }
  /* RFC 8445 §7.2.2: keyed with the password of the agent that answers */
  return pinhole_stun_message_encode (msg, (const guint8 *) self->remote_pwd,
                                      strlen (self->remote_pwd), TRUE, NULL);
}

static GBytes *
build_response (PinholeAgent       *self,
                PinholeStunMessage *request,
                GInetSocketAddress *from)
{
  g_autoptr(PinholeStunMessage) msg = pinhole_stun_message_new (PINHOLE_STUN_CLASS_SUCCESS,
                                                                PINHOLE_STUN_METHOD_BINDING,
                                                                request->transaction_id);

  msg->xor_mapped_address = g_object_ref (from);
  return pinhole_stun_message_encode (msg, (const guint8 *) self->local_pwd,
                                      strlen (self->local_pwd), TRUE, NULL);
}

/* a request for us: our ufrag first, the peer's second, keyed with our password */
static gboolean
request_is_authentic (PinholeAgent       *self,
                      PinholeStunMessage *request)
{
  g_autofree char *expected = NULL;
  g_autoptr(GError) error = NULL;

  if (!request->has_message_integrity || request->username == NULL)
    return FALSE;
  /* a check can overtake the peer's candidates (they travel through the server): our own
   * password authenticates it, the peer's ufrag is compared once known */
  expected = self->remote_ufrag != NULL
             ? g_strdup_printf ("%s:%s", self->local_ufrag, self->remote_ufrag)
             : g_strdup_printf ("%s:", self->local_ufrag);
  if (self->remote_ufrag != NULL ? g_strcmp0 (request->username, expected) != 0
                                 : !g_str_has_prefix (request->username, expected))
    return FALSE;
  if (!pinhole_stun_message_verify_integrity (request, (const guint8 *) self->local_pwd,
                                              strlen (self->local_pwd), &error))
    {
      g_debug ("check with a bad MESSAGE-INTEGRITY dropped: %s", error->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
response_is_authentic (PinholeAgent       *self,
                       PinholeStunMessage *response)
{
  g_autoptr(GError) error = NULL;

  if (response->klass != PINHOLE_STUN_CLASS_SUCCESS || response->xor_mapped_address == NULL ||
      !response->has_message_integrity || self->remote_pwd == NULL)
    return FALSE;
  if (!pinhole_stun_message_verify_integrity (response, (const guint8 *) self->remote_pwd,
                                              strlen (self->remote_pwd), &error))
    {
      g_debug ("check response with a bad MESSAGE-INTEGRITY dropped: %s", error->message);
      return FALSE;
    }
  return TRUE;
}

/* ---- UDP checks ---- */

static void
udp_check_free (UdpCheck *check)
{
  if (check->handler)
    pinhole_endpoint_remove_datagram_handler (check->agent->endpoint,
                                              G_SOCKET_ADDRESS (check->remote->address));
  g_queue_clear_full (&check->early, (GDestroyNotify) g_bytes_unref);
  pinhole_candidate_free (check->remote);
  g_clear_object (&check->seen);
  g_free (check);
}

static void
early_datagram_cb (const guint8 *data,
                   gsize         len,
                   gpointer      user_data)
{
  UdpCheck *check = user_data;

  if (g_queue_get_length (&check->early) < MAX_EARLY_DATAGRAMS)
    g_queue_push_tail (&check->early, g_bytes_new (data, len));
}

static UdpCheck *
find_udp_check (PinholeAgent       *self,
                GInetSocketAddress *address)
{
  for (guint i = 0; i < self->udp_checks->len; i++)
    {
      UdpCheck *check = g_ptr_array_index (self->udp_checks, i);

      if (same_address (check->remote->address, address))
        return check;
    }
  return NULL;
}

typedef struct
{
  PinholeAgent *agent;        /* owned reference */
  GCancellable *cancellable;  /* owned: the round's */
  GInetSocketAddress *to;     /* owned */
} CheckRound;

static void
check_round_free (CheckRound *r)
{
  g_object_unref (r->agent);
  g_object_unref (r->cancellable);
  g_object_unref (r->to);
  g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CheckRound, check_round_free)

static void
udp_check_done_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(CheckRound) r = user_data;
  PinholeAgent *self = r->agent;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) response =
    pinhole_endpoint_stun_request_finish (PINHOLE_ENDPOINT (source), result, &error);
  UdpCheck *check;

  if (g_cancellable_is_cancelled (r->cancellable) || self->closed)
    return;
  check = find_udp_check (self, r->to);
  if (check == NULL || check->state == CHECK_SUCCEEDED)
    return;
  if (response == NULL || !response_is_authentic (self, response))
    {
      g_autofree char *text = pinhole_candidate_to_string (check->remote);

      g_debug ("check to %s failed: %s", text, error ? error->message : "bad response");
      check->state = CHECK_FAILED;
      check_exhausted (self);
      return;
    }
  check->state = CHECK_SUCCEEDED;
  check->rtt_ms = (g_get_monotonic_time () - check->started) / 1000.0;
  g_set_object (&check->seen, response->xor_mapped_address);
  {
    g_autofree char *text = pinhole_candidate_to_string (check->remote);
    g_debug ("check to %s succeeded in %.1f ms", text, check->rtt_ms);
  }
  maybe_nominate (self);
}

static void
udp_check_start (PinholeAgent *self,
                 UdpCheck     *check)
{
  guint8 txid[PINHOLE_STUN_TRANSACTION_ID_LEN];
  g_autoptr(GBytes) request = build_request (self, txid);
  CheckRound *r = g_new0 (CheckRound, 1);

  r->agent = g_object_ref (self);
  r->cancellable = g_object_ref (self->cancellable);
  r->to = g_object_ref (check->remote->address);
  check->state = CHECK_IN_PROGRESS;
  check->started = g_get_monotonic_time ();
  pinhole_endpoint_stun_request_async (self->endpoint, G_SOCKET_ADDRESS (check->remote->address),
                                       request, txid, UDP_CHECK_RTO_MS, UDP_CHECK_TRIES,
                                       self->cancellable, udp_check_done_cb, r);
}

static void
add_udp_check (PinholeAgent           *self,
               const PinholeCandidate *remote)
{
  UdpCheck *check;

  if (find_udp_check (self, remote->address) != NULL)
    return;
  check = g_new0 (UdpCheck, 1);
  check->agent = self;
  check->remote = pinhole_candidate_copy (remote);
  g_queue_init (&check->early);
  g_ptr_array_add (self->udp_checks, check);
  /* the peer may nominate this pair and start its path before our own check returns: keep
   * what it sends until our end of the path exists */
  pinhole_endpoint_add_datagram_handler (self->endpoint, G_SOCKET_ADDRESS (remote->address),
                                         early_datagram_cb, check, NULL);
  check->handler = TRUE;
  if (self->remote_pwd != NULL)
    udp_check_start (self, check);
}

/* ---- TCP checks ---- */

static void
tcp_check_free (TcpCheck *check)
{
  if (check->stream != NULL && !check->taken)
    g_io_stream_close (check->stream, NULL, NULL);
  g_clear_object (&check->stream);
  g_clear_object (&check->remote);
  g_clear_object (&check->seen);
  g_free (check);
}

static gboolean
tcp_check_done (TcpCheck *check)
{
  return check->got_request && check->got_response && !check->failed;
}

static void
tcp_check_fail (TcpCheck   *check,
                const char *why)
{
  g_debug ("TCP check failed: %s", why);
  check->failed = TRUE;
  if (check->stream != NULL)
    g_io_stream_close (check->stream, NULL, NULL);
  check_exhausted (check->agent);
}

static void
tcp_check_send_request (TcpCheck *check)
{
  g_autoptr(GBytes) request = build_request (check->agent, check->txid);

  check->sent_request = TRUE;
  check->started = g_get_monotonic_time ();
  pinhole_tcp_stun_write (check->stream, request);
}

/* a request on one of our TCP connections: answer it, and ask our own question */
static void
tcp_check_got_request (TcpCheck           *check,
                       PinholeStunMessage *request)
{
  PinholeAgent *self = check->agent;
  g_autoptr(GBytes) response = NULL;

  if (check->got_request || !request_is_authentic (self, request))
    {
      tcp_check_fail (check, "unexpected or unauthenticated request");
      return;
    }
  check->got_request = TRUE;
  response = build_response (self, request, check->remote);
  pinhole_tcp_stun_write (check->stream, response);
  /* our own question needs the peer's password: it may still be on its way */
  if (!check->sent_request && self->remote_pwd != NULL)
    tcp_check_send_request (check);
}

static void
tcp_frame_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  TcpCheck *check = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) msg = pinhole_tcp_stun_read_finish (G_IO_STREAM (source), result,
                                                                    &error);
  PinholeAgent *self;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;   /* the agent restarted or closed: check freed with the round */
  self = check->agent;
  check->reading = FALSE;
  if (msg == NULL)
    {
      tcp_check_fail (check, error->message);
      return;
    }
  if (msg->klass == PINHOLE_STUN_CLASS_REQUEST)
    tcp_check_got_request (check, msg);
  else if (msg->klass == PINHOLE_STUN_CLASS_SUCCESS &&
           memcmp (msg->transaction_id, check->txid, sizeof check->txid) == 0 &&
           response_is_authentic (self, msg))
    {
      check->got_response = TRUE;
      check->rtt_ms = (g_get_monotonic_time () - check->started) / 1000.0;
      g_set_object (&check->seen, msg->xor_mapped_address);
    }
  else
    {
      tcp_check_fail (check, "unexpected frame");
      return;
    }
  if (check->failed)
    return;
  if (tcp_check_done (check))
    {
      g_autofree char *remote = pinhole_socket_address_to_string (G_SOCKET_ADDRESS (
        check->remote));
      g_debug ("TCP check with %s succeeded in %.1f ms", remote, check->rtt_ms);
      maybe_nominate (self);
    }
  else
    tcp_check_read (check);
}

static void
tcp_check_read (TcpCheck *check)
{
  check->reading = TRUE;
  pinhole_tcp_stun_read_async (check->stream, check->agent->cancellable, tcp_frame_cb, check);
}

static PinholeCandidateType
remote_type_of (PinholeAgent       *self,
                PinholeTransport    transport,
                GInetSocketAddress *address,
                PinholePathKind    *out_via)
{
  for (guint i = 0; i < self->remote->len; i++)
    {
      PinholeCandidate *c = g_ptr_array_index (self->remote, i);

      if (c->transport == transport && same_address (c->address, address))
        {
          *out_via = c->via;
          return c->type;
        }
    }
  *out_via = PINHOLE_PATH_KIND_LAN;
  return PINHOLE_CANDIDATE_PRFLX;
}

static TcpCheck *
add_tcp_check (PinholeAgent       *self,
               GIOStream          *stream,
               GInetSocketAddress *remote)
{
  TcpCheck *check;
  PinholePathKind via;

  if (self->tcp_checks->len >= MAX_TCP_CHECKS)
    {
      g_io_stream_close (stream, NULL, NULL);
      return NULL;
    }
  check = g_new0 (TcpCheck, 1);
  check->agent = self;
  check->stream = g_object_ref (stream);
  check->remote = g_object_ref (remote);
  check->remote_type = remote_type_of (self, PINHOLE_TRANSPORT_TCP, remote, &via);
  g_ptr_array_add (self->tcp_checks, check);
  return check;
}

static void tcp_target_try (TcpTarget *target);

static gboolean
tcp_retry_cb (gpointer user_data)
{
  TcpTarget *target = user_data;

  target->retry = 0;
  tcp_target_try (target);
  return G_SOURCE_REMOVE;
}

static void
tcp_connected_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(CheckRound) r = user_data;
  PinholeAgent *self = r->agent;
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) stream = pinhole_endpoint_tcp_connect_finish (PINHOLE_ENDPOINT (source),
                                                                     result, &error);
  TcpTarget *target = NULL;
  TcpCheck *check;

  if (g_cancellable_is_cancelled (r->cancellable) || self->closed)
    return;
  for (guint i = 0; i < self->tcp_targets->len; i++)
    if (same_address (((TcpTarget *) g_ptr_array_index (self->tcp_targets, i))->remote->address,
                      r->to))
      target = g_ptr_array_index (self->tcp_targets, i);
  if (target == NULL)
    return;
  if (stream == NULL)
    {
      /* refused or timed out: the peer's NAT may open a moment later (simultaneous open) */
      if (g_get_monotonic_time () < target->deadline)
        target->retry = g_timeout_add (TCP_RETRY_MS, tcp_retry_cb, target);
      else
        check_exhausted (self);
      return;
    }
  target->connected = TRUE;
  check = add_tcp_check (self, stream, target->remote->address);
  if (check == NULL)
    return;
  tcp_check_send_request (check);
  tcp_check_read (check);
}

static void
tcp_target_try (TcpTarget *target)
{
  PinholeAgent *self = target->agent;
  CheckRound *r = g_new0 (CheckRound, 1);

  r->agent = g_object_ref (self);
  r->cancellable = g_object_ref (self->cancellable);
  r->to = g_object_ref (target->remote->address);
  pinhole_endpoint_tcp_connect_async (self->endpoint, G_SOCKET_ADDRESS (target->remote->address),
                                      TCP_CONNECT_MS, self->cancellable, tcp_connected_cb, r);
}

static void
tcp_target_free (TcpTarget *target)
{
  g_clear_handle_id (&target->retry, g_source_remove);
  pinhole_candidate_free (target->remote);
  g_free (target);
}

static void
add_tcp_target (PinholeAgent           *self,
                const PinholeCandidate *remote)
{
  TcpTarget *target;

  for (guint i = 0; i < self->tcp_targets->len; i++)
    if (same_address (((TcpTarget *) g_ptr_array_index (self->tcp_targets, i))->remote->address,
                      remote->address))
      return;
  target = g_new0 (TcpTarget, 1);
  target->agent = self;
  target->remote = pinhole_candidate_copy (remote);
  target->deadline = g_get_monotonic_time () + (gint64) TCP_DEADLINE_MS * 1000;
  g_ptr_array_add (self->tcp_targets, target);
  tcp_target_try (target);
}

/* ---- incoming checks ---- */

static void
request_cb (PinholeEndpoint    *endpoint,
            PinholeStunMessage *request,
            GSocketAddress     *from,
            GIOStream          *stream,
            gpointer            user_data)
{
  PinholeAgent *self = user_data;
  GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (from);

  if (self->closed || !request_is_authentic (self, request))
    {
      if (stream != NULL)
        g_io_stream_close (stream, NULL, NULL);
      return;
    }

  if (stream != NULL)
    {
      /* the peer connected to our TCP port */
      TcpCheck *check = add_tcp_check (self, stream, inet);

      if (check == NULL)
        return;
      tcp_check_got_request (check, request);
      if (!check->failed)
        tcp_check_read (check);
      return;
    }

  {
    g_autoptr(GBytes) response = build_response (self, request, inet);
    UdpCheck *check;

    pinhole_endpoint_send_to (self->endpoint, from, response, NULL);
    /* RFC 8445 §7.3.1.3–4: a triggered check, from a peer-reflexive address if it is new */
    check = find_udp_check (self, inet);
    if (check == NULL)
      {
        g_autoptr(PinholeCandidate) prflx = pinhole_candidate_new (
          PINHOLE_CANDIDATE_PRFLX, PINHOLE_TRANSPORT_UDP, inet, PINHOLE_PATH_KIND_UDP_PUNCH);

        prflx->priority = request->has_priority ? request->priority : prflx->priority;
        g_ptr_array_add (self->remote, pinhole_candidate_copy (prflx));
        add_udp_check (self, prflx);
      }
    else if (check->state == CHECK_FAILED || check->state == CHECK_WAITING)
      udp_check_start (self, check);
  }
}

/* ---- nomination ---- */

typedef struct
{
  PinholeTransport    transport;
  PinholePathKind     kind;
  GInetSocketAddress *remote;   /* borrowed */
  GInetSocketAddress *seen;     /* borrowed */
  gdouble             rtt_ms;
  gpointer            check;    /* UdpCheck or TcpCheck */
} Pair;

/* TRUE when @p beats @best: a better kind; within a kind UDP before TCP, then the faster
 * check. Check times do not compare across transports: a UDP check's time includes the
 * retransmissions that punching needs, a TCP check's leaves out the handshake. */
static gboolean
pair_better (const Pair *p,
             const Pair *best)
{
  if (kind_rank (p->kind) != kind_rank (best->kind))
    return kind_rank (p->kind) < kind_rank (best->kind);
  if (p->transport != best->transport)
    return p->transport == PINHOLE_TRANSPORT_UDP;
  return p->rtt_ms < best->rtt_ms;
}

static gboolean
best_pair (PinholeAgent *self,
           Pair         *best)
{
  gboolean found = FALSE;

  for (guint i = 0; i < self->udp_checks->len; i++)
    {
      UdpCheck *c = g_ptr_array_index (self->udp_checks, i);
      Pair p;

      if (c->state != CHECK_SUCCEEDED)
        continue;
      p = (Pair) { PINHOLE_TRANSPORT_UDP,
                   pair_kind (self, PINHOLE_TRANSPORT_UDP, c->remote->type, c->remote->via,
                              c->seen),
                   c->remote->address, c->seen, c->rtt_ms, c };
      if (!found || pair_better (&p, best))
        *best = p, found = TRUE;
    }
  for (guint i = 0; i < self->tcp_checks->len; i++)
    {
      TcpCheck *c = g_ptr_array_index (self->tcp_checks, i);
      PinholePathKind via;
      Pair p;

      /* a connection handed to a path counts only while that path is ours: it may be
       * relabelled, never built again */
      if (!tcp_check_done (c) || (c->taken && c != self->path_check))
        continue;
      c->remote_type = remote_type_of (self, PINHOLE_TRANSPORT_TCP, c->remote, &via);
      p = (Pair) { PINHOLE_TRANSPORT_TCP,
                   pair_kind (self, PINHOLE_TRANSPORT_TCP, c->remote_type, via, c->seen),
                   c->remote, c->seen, c->rtt_ms, c };
      if (!found || pair_better (&p, best))
        *best = p, found = TRUE;
    }
  return found;
}

/* some seconds after a path works, better pairs have had their chance: the TCP connections
 * and connects still under way are closed */
static gboolean
settle_cb (gpointer user_data)
{
  PinholeAgent *self = user_data;

  self->settle_source = 0;
  for (guint i = 0; i < self->tcp_targets->len; i++)
    {
      TcpTarget *t = g_ptr_array_index (self->tcp_targets, i);

      g_clear_handle_id (&t->retry, g_source_remove);
      t->deadline = 0;
    }
  for (guint i = 0; i < self->tcp_checks->len; i++)
    {
      TcpCheck *c = g_ptr_array_index (self->tcp_checks, i);

      if (!c->taken && !c->failed)
        {
          c->failed = TRUE;
          g_io_stream_close (c->stream, NULL, NULL);
        }
    }
  return G_SOURCE_REMOVE;
}

static void
announce_path (PinholeAgent *self)
{
  g_clear_handle_id (&self->connect_source, g_source_remove);
  g_clear_handle_id (&self->settle_source, g_source_remove);
  self->settle_source = g_timeout_add_seconds (5, settle_cb, self);
  g_signal_emit (self, signals[SIGNAL_PATH_READY], 0, self->path);
}

static void
udp_path_connected_cb (GObject      *object,
                       GParamSpec   *pspec,
                       PinholeAgent *self)
{
  if (!pinhole_udp_path_is_connected (PINHOLE_UDP_PATH (object)) || self->path != (gpointer) object)
    return;
  g_signal_handlers_disconnect_by_func (object, udp_path_connected_cb, self);
  announce_path (self);
}

static void
udp_path_datagram_cb (const guint8 *data,
                      gsize         len,
                      gpointer      user_data)
{
  pinhole_udp_path_receive (PINHOLE_UDP_PATH (user_data), data, len);
}

/* builds the path on @pair and announces it when it can carry packets */
static void
drop_path (PinholeAgent *self)
{
  g_clear_handle_id (&self->connect_source, g_source_remove);
  if (self->path_remote != NULL)
    pinhole_endpoint_remove_datagram_handler (self->endpoint,
                                              G_SOCKET_ADDRESS (self->path_remote));
  g_clear_object (&self->path_remote);
  if (self->path != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->path, self);
      pinhole_path_close (self->path);
    }
  g_clear_object (&self->path);
  self->path_check = NULL;
}

/* the pair under the path is of a better kind than thought: same path, new name */
static void
relabel_path (PinholeAgent   *self,
              PinholePathKind kind)
{
  g_debug ("direct path %s is %s", pinhole_path_get_remote (self->path),
           pinhole_path_kind_to_string (kind));
  pinhole_path_set_kind (self->path, kind);
  if (self->connect_source == 0)
    g_signal_emit (self, signals[SIGNAL_PATH_READY], 0, self->path);
}

static void
build_path (PinholeAgent    *self,
            PinholeTransport transport,
            PinholePathKind  kind,
            gpointer         check)
{
  if (self->path != NULL && self->path_check == check)
    {
      relabel_path (self, kind);
      return;
    }
  drop_path (self);
  self->path_check = check;
  if (transport == PINHOLE_TRANSPORT_TCP)
    {
      TcpCheck *c = check;
      g_autofree char *remote = pinhole_socket_address_to_string (G_SOCKET_ADDRESS (c->remote));

      c->taken = TRUE;
      self->path = PINHOLE_PATH (pinhole_tcp_path_new (c->stream, kind, remote));
      g_debug ("direct path %s over TCP to %s", pinhole_path_kind_to_string (kind), remote);
      announce_path (self);
      return;
    }
  {
    UdpCheck *c = check;
    PinholeUdpPath *path = pinhole_udp_path_new (
      pinhole_endpoint_get_udp_socket (self->endpoint), G_SOCKET_ADDRESS (c->remote->address),
      kind, self->controlling);
    GBytes *early;

    self->path = PINHOLE_PATH (path);
    /* the path takes over the remote address from the check's early queue */
    pinhole_endpoint_add_datagram_handler (self->endpoint,
                                           G_SOCKET_ADDRESS (c->remote->address),
                                           udp_path_datagram_cb, g_object_ref (path),
                                           g_object_unref);
    c->handler = FALSE;
    g_set_object (&self->path_remote, c->remote->address);
    g_debug ("direct path %s over UDP to %s", pinhole_path_kind_to_string (kind),
             pinhole_path_get_remote (self->path));
    g_signal_connect (path, "notify::connected", G_CALLBACK (udp_path_connected_cb), self);
    self->connect_source = g_timeout_add (UDP_CONNECT_MS, connect_timeout_cb, self);
    while ((early = g_queue_pop_head (&c->early)) != NULL)
      {
        gsize len;
        const guint8 *data = g_bytes_get_data (early, &len);

        pinhole_udp_path_receive (path, data, len);
        g_bytes_unref (early);
      }
    udp_path_connected_cb (G_OBJECT (path), NULL, self);
  }
}

/* PseudoTcp did not connect over a pair whose checks passed: the peer never built its end
 * (a lost nomination) or the mapping vanished; the search ends and is started again later */
static gboolean
connect_timeout_cb (gpointer user_data)
{
  PinholeAgent *self = user_data;

  self->connect_source = 0;
  g_debug ("the direct path never connected");
  drop_path (self);
  if (!self->failed_reported)
    {
      self->failed_reported = TRUE;
      g_signal_emit (self, signals[SIGNAL_FAILED], 0, "the nominated path never connected");
    }
  return G_SOURCE_REMOVE;
}

/* a better kind of path, or once, UDP after a TCP path of the same kind that answered first
 * (UDP is preferred within a kind, see pair_better) */
static gboolean
worth_nominating (PinholeAgent *self,
                  const Pair   *best)
{
  int rank = kind_rank (best->kind);

  if (rank < self->nominated_rank)
    return TRUE;
  return rank == self->nominated_rank && !self->moved_within_rank &&
         self->nominated_transport == PINHOLE_TRANSPORT_TCP &&
         best->transport == PINHOLE_TRANSPORT_UDP;
}

static gboolean
nominate_cb (gpointer user_data)
{
  PinholeAgent *self = user_data;
  Pair best;
  g_autoptr(JsonObject) message = NULL;
  g_autofree char *remote = NULL;
  g_autofree char *seen = NULL;

  self->nominate_source = 0;
  if (self->closed || !best_pair (self, &best) || !worth_nominating (self, &best))
    return G_SOURCE_REMOVE;
  if (kind_rank (best.kind) == self->nominated_rank)
    self->moved_within_rank = TRUE;
  self->nominated_rank = kind_rank (best.kind);
  self->nominated_transport = best.transport;
  remote = pinhole_socket_address_to_string (G_SOCKET_ADDRESS (best.remote));
  seen = pinhole_socket_address_to_string (G_SOCKET_ADDRESS (best.seen));
  message = json_object_new ();
  json_object_set_string_member (message, "t", "nominate");
  json_object_set_string_member (message, "transport",
                                 pinhole_transport_to_string (best.transport));
  json_object_set_string_member (message, "kind", pinhole_path_kind_to_string (best.kind));
  /* the controlled side finds the pair by the address it saw our checks come from */
  json_object_set_string_member (message, "peer", seen);
  json_object_set_string_member (message, "remote", remote);
  emit_control (self, message);
  build_path (self, best.transport, best.kind, best.check);
  return G_SOURCE_REMOVE;
}

static void
maybe_nominate (PinholeAgent *self)
{
  Pair best;

  if (!self->controlling)
    {
      /* a nomination that waited for this check to finish */
      if (self->pending_nomination != NULL)
        {
          g_autoptr(JsonObject) message = g_steal_pointer (&self->pending_nomination);
          pinhole_agent_handle_control (self, message, NULL);
        }
      return;
    }
  if (self->nominate_source != 0 || !best_pair (self, &best) || !worth_nominating (self, &best))
    return;
  /* LAN cannot be beaten: go at once; otherwise give better pairs a moment */
  self->nominate_source = g_timeout_add (kind_rank (best.kind) == 0 ? 0 : NOMINATE_WAIT_MS,
                                         nominate_cb, self);
}

/* controlled: the controlling side chose a pair; build our end of it */
static gboolean
handle_nominate (PinholeAgent *self,
                 JsonObject   *message,
                 GError      **error)
{
  const char *transport = pinhole_stanza_require_string (message, "transport", 8, error);
  const char *kind_name = transport ? pinhole_stanza_require_string (message, "kind", 16, error)
                                    : NULL;
  const char *peer = kind_name ? pinhole_stanza_require_string (message, "peer", 64, error)
                               : NULL;
  PinholePathKind kind;

  if (peer == NULL)
    return FALSE;
  if (!pinhole_path_kind_from_string (kind_name, &kind) || kind == PINHOLE_PATH_KIND_RELAY)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "nomination of path kind \"%s\"", kind_name);
      return FALSE;
    }
  if (strcmp (transport, "udp") == 0)
    {
      for (guint i = 0; i < self->udp_checks->len; i++)
        {
          UdpCheck *c = g_ptr_array_index (self->udp_checks, i);
          g_autofree char *address = pinhole_socket_address_to_string (
            G_SOCKET_ADDRESS (c->remote->address));

          if (strcmp (address, peer) != 0)
            continue;
          if (c->state != CHECK_SUCCEEDED)
            {
              /* the peer's checks of this pair passed: ours should too, try again now */
              if (c->state != CHECK_IN_PROGRESS && self->remote_pwd != NULL)
                udp_check_start (self, c);
              break;
            }
          build_path (self, PINHOLE_TRANSPORT_UDP, kind, c);
          return TRUE;
        }
    }
  else
    {
      for (guint i = 0; i < self->tcp_checks->len; i++)
        {
          TcpCheck *c = g_ptr_array_index (self->tcp_checks, i);
          g_autofree char *address = pinhole_socket_address_to_string (
            G_SOCKET_ADDRESS (c->remote));

          if (c->failed || (c->taken && c != self->path_check) || strcmp (address, peer) != 0)
            continue;
          if (!tcp_check_done (c))
            break;
          build_path (self, PINHOLE_TRANSPORT_TCP, kind, c);
          return TRUE;
        }
    }
  /* our check of that pair has not finished yet: try again when it does */
  g_debug ("nomination of %s %s waits for our check", transport, peer);
  g_clear_pointer (&self->pending_nomination, json_object_unref);
  self->pending_nomination = json_object_ref (message);
  return TRUE;
}

/* ---- failure ---- */

static gboolean
all_checks_over (PinholeAgent *self)
{
  if (!self->remote_done || self->remote_pwd == NULL)
    return FALSE;
  for (guint i = 0; i < self->udp_checks->len; i++)
    {
      UdpCheck *c = g_ptr_array_index (self->udp_checks, i);

      if (c->state == CHECK_IN_PROGRESS || c->state == CHECK_SUCCEEDED)
        return FALSE;
    }
  for (guint i = 0; i < self->tcp_checks->len; i++)
    {
      TcpCheck *c = g_ptr_array_index (self->tcp_checks, i);

      if (!c->failed)
        return FALSE;
    }
  for (guint i = 0; i < self->tcp_targets->len; i++)
    {
      TcpTarget *t = g_ptr_array_index (self->tcp_targets, i);

      if (t->retry != 0 || (!t->connected && g_get_monotonic_time () < t->deadline))
        return FALSE;
    }
  return TRUE;
}

static gboolean
report_failure_cb (gpointer user_data)
{
  PinholeAgent *self = user_data;

  self->fail_source = 0;
  if (self->closed || self->failed_reported || !all_checks_over (self))
    return G_SOURCE_REMOVE;
  self->failed_reported = TRUE;
  g_debug ("no direct path: every check failed");
  g_signal_emit (self, signals[SIGNAL_FAILED], 0,
                 self->remote->len == 0 ? "the peer offers no candidates"
                                        : "every connectivity check failed");
  return G_SOURCE_REMOVE;
}

static void
check_exhausted (PinholeAgent *self)
{
  if (self->fail_source == 0 && !self->failed_reported)
    self->fail_source = g_idle_add (report_failure_cb, self);
}

/* ---- candidates exchange ---- */

static gboolean
flush_candidates_cb (gpointer user_data)
{
  PinholeAgent *self = user_data;
  g_autoptr(JsonObject) message = json_object_new ();
  JsonArray *array = json_array_new ();

  self->flush_source = 0;
  for (guint i = 0; i < self->pending_out->len; i++)
    json_array_add_object_element (array,
                                   pinhole_candidate_to_json (g_ptr_array_index (self->pending_out,
                                                                                 i)));
  g_ptr_array_set_size (self->pending_out, 0);
  json_object_set_string_member (message, "t", "candidates");
  json_object_set_string_member (message, "ufrag", self->local_ufrag);
  json_object_set_string_member (message, "pwd", self->local_pwd);
  json_object_set_array_member (message, "candidates", array);
  json_object_set_boolean_member (message, "done", self->local_done);
  emit_control (self, message);
  return G_SOURCE_REMOVE;
}

static void
schedule_flush (PinholeAgent *self)
{
  /* candidates found in one main-loop turn travel together */
  if (self->flush_source == 0)
    self->flush_source = g_idle_add (flush_candidates_cb, self);
}

/* a local candidate, from the gatherer; sent to the peer (trickled) */
void
pinhole_agent_add_local_candidate (PinholeAgent           *self,
                                   const PinholeCandidate *candidate)
{
  for (guint i = 0; i < self->local->len; i++)
    {
      PinholeCandidate *known = g_ptr_array_index (self->local, i);

      if (!pinhole_candidate_equal (known, candidate))
        continue;
      if (known->type != candidate->type)
        {
          /* the same address is a router mapping after all: the peer learns it, and a path
           * through it is relabelled */
          known->type = candidate->type;
          known->via = candidate->via;
          known->priority = candidate->priority;
          g_ptr_array_add (self->pending_out, pinhole_candidate_copy (candidate));
          schedule_flush (self);
          maybe_nominate (self);
        }
      return;
    }
  if (self->local->len >= PINHOLE_CANDIDATES_MAX)
    return;
  g_ptr_array_add (self->local, pinhole_candidate_copy (candidate));
  g_ptr_array_add (self->pending_out, pinhole_candidate_copy (candidate));
  schedule_flush (self);
}

void
pinhole_agent_local_done (PinholeAgent *self)
{
  self->local_done = TRUE;
  schedule_flush (self);
}

static void
add_remote_candidate (PinholeAgent     *self,
                      PinholeCandidate *candidate)
{
  for (guint i = 0; i < self->remote->len; i++)
    {
      PinholeCandidate *known = g_ptr_array_index (self->remote, i);

      if (pinhole_candidate_equal (known, candidate))
        {
          /* a peer-reflexive guess the peer now names properly */
          known->type = candidate->type;
          known->via = candidate->via;
          return;
        }
    }
  g_ptr_array_add (self->remote, pinhole_candidate_copy (candidate));
  if (g_socket_address_get_family (G_SOCKET_ADDRESS (candidate->address)) != G_SOCKET_FAMILY_IPV4)
    return;   /* the endpoint is IPv4 only */
  if (candidate->transport == PINHOLE_TRANSPORT_UDP)
    add_udp_check (self, candidate);
  else
    add_tcp_target (self, candidate);
}

static gboolean
handle_candidates (PinholeAgent *self,
                   JsonObject   *message,
                   GError      **error)
{
  const char *ufrag = pinhole_stanza_require_string (message, "ufrag", 64, error);
  const char *pwd = ufrag ? pinhole_stanza_require_string (message, "pwd", 128, error) : NULL;
  JsonNode *list = json_object_get_member (message, "candidates");
  JsonNode *done = json_object_get_member (message, "done");
  g_autoptr(GPtrArray) parsed = g_ptr_array_new_with_free_func (
    (GDestroyNotify) pinhole_candidate_free);

  if (pwd == NULL)
    return FALSE;
  if (strlen (ufrag) < 4 || strlen (pwd) < 22)
    {
      /* RFC 8445 §5.3: at least 24 bits of ufrag and 128 bits of password */
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "ICE credentials are too short");
      return FALSE;
    }
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list) ||
      json_array_get_length (json_node_get_array (list)) > PINHOLE_CANDIDATES_MAX)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "\"candidates\" is not an array of at most %d", PINHOLE_CANDIDATES_MAX);
      return FALSE;
    }
  for (guint i = 0; i < json_array_get_length (json_node_get_array (list)); i++)
    {
      JsonNode *item = json_array_get_element (json_node_get_array (list), i);
      PinholeCandidate *c;

      if (!JSON_NODE_HOLDS_OBJECT (item))
        {
          g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                               "a candidate is not an object");
          return FALSE;
        }
      c = pinhole_candidate_from_json (json_node_get_object (item), error);
      if (c == NULL)
        return FALSE;
      g_ptr_array_add (parsed, c);
    }

  if (self->remote_ufrag != NULL && strcmp (self->remote_ufrag, ufrag) != 0)
    {
      /* new credentials: the peer restarted its search (a path died, the network changed).
       * We start over too, but keep our credentials, or two restarts would answer each other
       * for ever; the peer forgot our candidates, so they go again. */
      g_debug ("peer restarted its checks");
      reset_round (self);
      drop_path (self);
      resend_local (self);
    }
  if (self->remote_ufrag == NULL)
    {
      self->remote_ufrag = g_strdup (ufrag);
      self->remote_pwd = g_strdup (pwd);
      /* checks to candidates learnt before the credentials (peer-reflexive ones), and
       * our side of TCP checks the peer started */
      for (guint i = 0; i < self->udp_checks->len; i++)
        {
          UdpCheck *c = g_ptr_array_index (self->udp_checks, i);
          if (c->state == CHECK_WAITING)
            udp_check_start (self, c);
        }
      for (guint i = 0; i < self->tcp_checks->len; i++)
        {
          TcpCheck *c = g_ptr_array_index (self->tcp_checks, i);
          if (!c->failed && c->got_request && !c->sent_request)
            tcp_check_send_request (c);
        }
    }
  for (guint i = 0; i < parsed->len && self->remote->len < PINHOLE_CANDIDATES_MAX * 2; i++)
    add_remote_candidate (self, g_ptr_array_index (parsed, i));
  /* a candidate may have been renamed (srflx → mapped): the best pair may be better now */
  maybe_nominate (self);
  if (done != NULL && JSON_NODE_HOLDS_VALUE (done) && json_node_get_boolean (done))
    {
      self->remote_done = TRUE;
      check_exhausted (self);
    }
  return TRUE;
}

/**
 * pinhole_agent_handle_control:
 * A control message from the peer's agent: {"t": "candidates", …} or {"t": "nominate", …}.
 */
gboolean
pinhole_agent_handle_control (PinholeAgent *self,
                              JsonObject   *message,
                              GError      **error)
{
  const char *t = pinhole_stanza_require_string (message, "t", 16, error);

  if (t == NULL || self->closed)
    return FALSE;
  if (strcmp (t, "candidates") == 0)
    return handle_candidates (self, message, error);
  if (strcmp (t, "nominate") == 0)
    {
      if (self->controlling)
        {
          g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                               "both sides are controlling");
          return FALSE;
        }
      return handle_nominate (self, message, error);
    }
  g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL, "unknown control message \"%s\"",
               t);
  return FALSE;
}

/* ---- lifecycle ---- */

static void
resend_local (PinholeAgent *self)
{
  g_ptr_array_set_size (self->pending_out, 0);
  for (guint i = 0; i < self->local->len; i++)
    g_ptr_array_add (self->pending_out, pinhole_candidate_copy (g_ptr_array_index (self->local,
                                                                                   i)));
  schedule_flush (self);
}

static void
reset_round (PinholeAgent *self)
{
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  g_clear_handle_id (&self->nominate_source, g_source_remove);
  g_clear_handle_id (&self->fail_source, g_source_remove);
  g_clear_handle_id (&self->settle_source, g_source_remove);
  g_ptr_array_set_size (self->udp_checks, 0);
  g_ptr_array_set_size (self->tcp_checks, 0);
  g_ptr_array_set_size (self->tcp_targets, 0);
  g_ptr_array_set_size (self->remote, 0);
  g_clear_pointer (&self->pending_nomination, json_object_unref);
  g_clear_pointer (&self->remote_ufrag, g_free);
  g_clear_pointer (&self->remote_pwd, g_free);
  self->remote_done = FALSE;
  self->failed_reported = FALSE;
  self->nominated_rank = G_MAXINT;
  self->moved_within_rank = FALSE;
}

static void
new_credentials (PinholeAgent *self)
{
  if (self->local_ufrag != NULL)
    pinhole_endpoint_unregister_ufrag (self->endpoint, self->local_ufrag);
  g_free (self->local_ufrag);
  g_free (self->local_pwd);
  self->local_ufrag = random_token (4);
  self->local_pwd = random_token (16);
  pinhole_endpoint_register_ufrag (self->endpoint, self->local_ufrag, request_cb, self);
}

/**
 * pinhole_agent_restart:
 * Forgets every check and the path, takes new credentials and sends the local candidates
 * again: after the direct path died or the network changed.
 */
void
pinhole_agent_restart (PinholeAgent *self)
{
  if (self->closed)
    return;
  reset_round (self);
  drop_path (self);
  new_credentials (self);
  resend_local (self);
}

void
pinhole_agent_close (PinholeAgent *self)
{
  if (self->closed)
    return;
  self->closed = TRUE;
  reset_round (self);
  g_clear_handle_id (&self->flush_source, g_source_remove);
  if (self->local_ufrag != NULL)
    pinhole_endpoint_unregister_ufrag (self->endpoint, self->local_ufrag);
}

/* TRUE while checks run or wait for the peer */
gboolean
pinhole_agent_is_searching (PinholeAgent *self)
{
  return !self->closed && !self->failed_reported && self->path == NULL;
}

guint
pinhole_agent_get_n_remote_candidates (PinholeAgent *self)
{
  return self->remote->len;
}

/**
 * pinhole_agent_dup_report:
 * Returns: (transfer full) (element-type utf8): one line per check, "udp srflx
 *   203.0.113.7:41000: succeeded in 12.3 ms (udp-punch)"
 */
GPtrArray *
pinhole_agent_dup_report (PinholeAgent *self)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  static const char *const states[] = { "waiting", "checking", "succeeded", "failed" };

  for (guint i = 0; i < self->udp_checks->len; i++)
    {
      UdpCheck *c = g_ptr_array_index (self->udp_checks, i);
      g_autofree char *text = pinhole_candidate_to_string (c->remote);

      if (c->state == CHECK_SUCCEEDED)
        g_ptr_array_add (out, g_strdup_printf (
          "%s: succeeded in %.1f ms (%s)", text, c->rtt_ms,
          pinhole_path_kind_to_string (pair_kind (self, PINHOLE_TRANSPORT_UDP, c->remote->type,
                                                  c->remote->via, c->seen))));
      else
        g_ptr_array_add (out, g_strdup_printf ("%s: %s", text, states[c->state]));
    }
  for (guint i = 0; i < self->tcp_targets->len; i++)
    {
      TcpTarget *t = g_ptr_array_index (self->tcp_targets, i);
      g_autofree char *text = pinhole_candidate_to_string (t->remote);

      g_ptr_array_add (out, g_strdup_printf ("%s: %s", text,
                                             t->connected ? "connected"
                                             : g_get_monotonic_time () < t->deadline
                                               ? "connecting" : "no connection"));
    }
  for (guint i = 0; i < self->tcp_checks->len; i++)
    {
      TcpCheck *c = g_ptr_array_index (self->tcp_checks, i);
      g_autofree char *remote = pinhole_socket_address_to_string (G_SOCKET_ADDRESS (c->remote));

      g_ptr_array_add (out, g_strdup_printf ("tcp connection %s: %s", remote,
                                             c->failed ? "failed"
                                             : tcp_check_done (c) ? "succeeded" : "checking"));
    }
  return out;
}

static void
pinhole_agent_dispose (GObject *object)
{
  PinholeAgent *self = PINHOLE_AGENT (object);

  pinhole_agent_close (self);
  drop_path (self);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->endpoint);
  G_OBJECT_CLASS (pinhole_agent_parent_class)->dispose (object);
}

static void
pinhole_agent_finalize (GObject *object)
{
  PinholeAgent *self = PINHOLE_AGENT (object);

  g_ptr_array_unref (self->local);
  g_ptr_array_unref (self->remote);
  g_ptr_array_unref (self->udp_checks);
  g_ptr_array_unref (self->tcp_checks);
  g_ptr_array_unref (self->tcp_targets);
  g_ptr_array_unref (self->pending_out);
  g_free (self->local_ufrag);
  g_free (self->local_pwd);
  g_free (self->remote_ufrag);
  g_free (self->remote_pwd);
  G_OBJECT_CLASS (pinhole_agent_parent_class)->finalize (object);
}

static void
pinhole_agent_class_init (PinholeAgentClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pinhole_agent_dispose;
  object_class->finalize = pinhole_agent_finalize;

  /**
   * PinholeAgent::send-control:
   * @message: a JSON object for the peer's agent, to carry reliably (inside the session)
   */
  signals[SIGNAL_SEND_CONTROL] =
    g_signal_new ("send-control", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, JSON_TYPE_OBJECT);
  /**
   * PinholeAgent::path-ready:
   * @path: a confirmed direct path that can carry packets now
   */
  signals[SIGNAL_PATH_READY] =
    g_signal_new ("path-ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, PINHOLE_TYPE_PATH);
  /**
   * PinholeAgent::failed:
   * @reason: why no direct path was found
   */
  signals[SIGNAL_FAILED] =
    g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
pinhole_agent_init (PinholeAgent *self)
{
  self->local = g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_candidate_free);
  self->remote = g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_candidate_free);
  self->udp_checks = g_ptr_array_new_with_free_func ((GDestroyNotify) udp_check_free);
  self->tcp_checks = g_ptr_array_new_with_free_func ((GDestroyNotify) tcp_check_free);
  self->tcp_targets = g_ptr_array_new_with_free_func ((GDestroyNotify) tcp_target_free);
  self->pending_out = g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_candidate_free);
  self->nominated_rank = G_MAXINT;
}

/**
 * pinhole_agent_new:
 * @controlling: whether this side nominates (one side of a pair, by a rule both agree on)
 * Returns: (transfer full)
 */
PinholeAgent *
pinhole_agent_new (PinholeEndpoint *endpoint,
                   gboolean         controlling)
{
  PinholeAgent *self = g_object_new (PINHOLE_TYPE_AGENT, NULL);

  self->endpoint = g_object_ref (endpoint);
  self->controlling = controlling;
  randombytes_buf (&self->tiebreaker, sizeof self->tiebreaker);
  self->cancellable = g_cancellable_new ();
  new_credentials (self);
  return self;
}
