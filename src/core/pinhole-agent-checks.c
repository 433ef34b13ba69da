/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-agent-checks.c: the agent's connectivity checks (RFC 8445 §7): STUN Binding requests
 * and responses with short-term credentials, over UDP and over TCP connections both ways, the
 * checks the peer's requests trigger, and the verdict once every check has failed. */
#define G_LOG_DOMAIN "pinhole-agent"

#include "pinhole-agent-private.h"
#include "pinhole-tcp-path.h"

#include <sodium.h>
#include <string.h>

#define UDP_CHECK_RTO_MS     100
#define UDP_CHECK_TRIES      9        /* about 8 s in all */
#define TCP_CONNECT_MS       1500
#define TCP_RETRY_MS         250
#define TCP_DEADLINE_MS      8000
#define MAX_EARLY_DATAGRAMS  16
#define MAX_TCP_CHECKS       16

static void tcp_check_read (TcpCheck *check);

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

void
_pinhole_agent_udp_check_free (UdpCheck *check)
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

      if (_pinhole_agent_same_address (check->remote->address, address))
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
      _pinhole_agent_check_exhausted (self);
      return;
    }
  check->state = CHECK_SUCCEEDED;
  check->rtt_ms = (g_get_monotonic_time () - check->started) / 1000.0;
  g_set_object (&check->seen, response->xor_mapped_address);
  {
    g_autofree char *text = pinhole_candidate_to_string (check->remote);
    g_debug ("check to %s succeeded in %.1f ms", text, check->rtt_ms);
  }
  _pinhole_agent_maybe_nominate (self);
}

void
_pinhole_agent_udp_check_start (PinholeAgent *self,
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

void
_pinhole_agent_add_udp_check (PinholeAgent           *self,
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
    _pinhole_agent_udp_check_start (self, check);
}

/* ---- TCP checks ---- */

void
_pinhole_agent_tcp_check_free (TcpCheck *check)
{
  if (check->stream != NULL && !check->taken)
    g_io_stream_close (check->stream, NULL, NULL);
  g_clear_object (&check->stream);
  g_clear_object (&check->remote);
  g_clear_object (&check->seen);
  g_free (check);
}

gboolean
_pinhole_agent_tcp_check_done (TcpCheck *check)
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
  _pinhole_agent_check_exhausted (check->agent);
}

void
_pinhole_agent_tcp_check_send_request (TcpCheck *check)
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
    _pinhole_agent_tcp_check_send_request (check);
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
  if (_pinhole_agent_tcp_check_done (check))
    {
      g_autofree char *remote = pinhole_socket_address_to_string (G_SOCKET_ADDRESS (
        check->remote));
      g_debug ("TCP check with %s succeeded in %.1f ms", remote, check->rtt_ms);
      _pinhole_agent_maybe_nominate (self);
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

PinholeCandidateType
_pinhole_agent_remote_type_of (PinholeAgent       *self,
                               PinholeTransport    transport,
                               GInetSocketAddress *address,
                               PinholePathKind    *out_via)
{
  for (guint i = 0; i < self->remote->len; i++)
    {
      PinholeCandidate *c = g_ptr_array_index (self->remote, i);

      if (c->transport == transport && _pinhole_agent_same_address (c->address, address))
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
  check->remote_type = _pinhole_agent_remote_type_of (self, PINHOLE_TRANSPORT_TCP, remote, &via);
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
    if (_pinhole_agent_same_address (
          ((TcpTarget *) g_ptr_array_index (self->tcp_targets, i))->remote->address, r->to))
      target = g_ptr_array_index (self->tcp_targets, i);
  if (target == NULL)
    return;
  if (stream == NULL)
    {
      /* refused or timed out: the peer's NAT may open a moment later (simultaneous open) */
      if (g_get_monotonic_time () < target->deadline)
        target->retry = g_timeout_add (TCP_RETRY_MS, tcp_retry_cb, target);
      else
        _pinhole_agent_check_exhausted (self);
      return;
    }
  target->connected = TRUE;
  check = add_tcp_check (self, stream, target->remote->address);
  if (check == NULL)
    return;
  _pinhole_agent_tcp_check_send_request (check);
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

void
_pinhole_agent_tcp_target_free (TcpTarget *target)
{
  g_clear_handle_id (&target->retry, g_source_remove);
  pinhole_candidate_free (target->remote);
  g_free (target);
}

void
_pinhole_agent_add_tcp_target (PinholeAgent           *self,
                               const PinholeCandidate *remote)
{
  TcpTarget *target;

  for (guint i = 0; i < self->tcp_targets->len; i++)
    if (_pinhole_agent_same_address (
          ((TcpTarget *) g_ptr_array_index (self->tcp_targets, i))->remote->address,
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

/* A request keeps its transaction id when it is retransmitted, from the same source. The same
 * request from another source is a replay — someone captured it and sends it on, perhaps to
 * make us answer (and check) an address of their choosing — and is dropped. Returns: TRUE to
 * drop @request from @from */
static gboolean
is_replayed (PinholeAgent       *self,
             PinholeStunMessage *request,
             GInetSocketAddress *from)
{
  guint slot;

  for (guint i = 0; i < G_N_ELEMENTS (self->recent_requests); i++)
    if (self->recent_requests[i].from != NULL &&
        memcmp (self->recent_requests[i].txid, request->transaction_id,
                sizeof self->recent_requests[i].txid) == 0)
      return !_pinhole_agent_same_address (self->recent_requests[i].from, from);
  slot = self->next_recent++ % G_N_ELEMENTS (self->recent_requests);
  memcpy (self->recent_requests[slot].txid, request->transaction_id,
          sizeof self->recent_requests[slot].txid);
  g_set_object (&self->recent_requests[slot].from, from);
  return FALSE;
}

void
_pinhole_agent_forget_requests (PinholeAgent *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->recent_requests); i++)
    g_clear_object (&self->recent_requests[i].from);
}

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

  if (is_replayed (self, request, inet))
    {
      g_autofree char *text = g_inet_address_to_string (g_inet_socket_address_get_address (inet));

      g_debug ("a check seen from another address, replayed from %s:%u, dropped", text,
               g_inet_socket_address_get_port (inet));
      return;
    }

  {
    g_autoptr(GBytes) response = build_response (self, request, inet);
    UdpCheck *check;

    pinhole_endpoint_send_to (self->endpoint, from, response, NULL);
    /* RFC 8445 §7.3.1.3–4: a triggered check, from a peer-reflexive address if it is new */
    check = find_udp_check (self, inet);
    if (check == NULL && self->n_remote_prflx >= PINHOLE_PRFLX_CANDIDATES_MAX)
      {
        /* the source of an authentic request is the peer's, whatever its address: only
         * how many we learn is bounded */
        g_debug ("not learning a peer-reflexive candidate: %d already",
                 PINHOLE_PRFLX_CANDIDATES_MAX);
        return;
      }
    if (check == NULL)
      {
        g_autoptr(PinholeCandidate) prflx = pinhole_candidate_new (
          PINHOLE_CANDIDATE_PRFLX, PINHOLE_TRANSPORT_UDP, inet, PINHOLE_PATH_KIND_UDP_PUNCH);

        prflx->priority = request->has_priority ? request->priority : prflx->priority;
        g_ptr_array_add (self->remote, pinhole_candidate_copy (prflx));
        self->n_remote_prflx++;
        _pinhole_agent_add_udp_check (self, prflx);
      }
    else if (check->state == CHECK_FAILED || check->state == CHECK_WAITING)
      _pinhole_agent_udp_check_start (self, check);
  }
}

/* ---- credentials ---- */

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

void
_pinhole_agent_new_credentials (PinholeAgent *self)
{
  if (self->local_ufrag != NULL)
    pinhole_endpoint_unregister_ufrag (self->endpoint, self->local_ufrag);
  g_free (self->local_ufrag);
  g_free (self->local_pwd);
  self->local_ufrag = random_token (4);
  self->local_pwd = random_token (16);
  pinhole_endpoint_register_ufrag (self->endpoint, self->local_ufrag, request_cb, self);
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
  g_signal_emit (self, _pinhole_agent_signals[PINHOLE_AGENT_SIGNAL_FAILED], 0,
                 self->remote->len == 0 ? "the peer offers no candidates"
                                        : "every connectivity check failed");
  return G_SOURCE_REMOVE;
}

void
_pinhole_agent_check_exhausted (PinholeAgent *self)
{
  if (self->fail_source == 0 && !self->failed_reported)
    self->fail_source = g_idle_add (report_failure_cb, self);
}
