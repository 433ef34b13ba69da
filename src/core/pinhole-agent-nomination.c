/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-agent-nomination.c: the agent's nomination (RFC 8445 §8): ranking the pairs whose
 * checks passed, the controlling side choosing one and the controlled side following, and the
 * direct path built on the chosen pair. */
#define G_LOG_DOMAIN "pinhole-agent"

#include "pinhole-agent-private.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"
#include "pinhole-tcp-path.h"
#include "pinhole-quic-path.h"

#include <string.h>

#define NOMINATE_WAIT_MS     120      /* after the first success, for better pairs to succeed */
#define UDP_CONNECT_MS       5000     /* the QUIC handshake over a checked pair */
#define RETIRE_MS            3000     /* a replaced path stays open after its successor works */

static gboolean connect_timeout_cb (gpointer user_data);

/* a UDP pair can carry a QUIC path only when both ends have a certificate and the peer told
 * us its fingerprint (an older peer does not: its UDP pairs are checked, never nominated) */
static gboolean
quic_possible (PinholeAgent *self)
{
  return self->quic_certificate != NULL && self->remote_quic_fingerprint != NULL;
}

/* ---- path kind and rank: LAN, then router mappings, then punched holes ---- */

PinholePathKind
_pinhole_agent_pair_kind (PinholeAgent        *self,
                          PinholeTransport     transport,
                          PinholeCandidateType remote_type,
                          PinholePathKind      remote_via,
                          GInetSocketAddress  *seen)
{
  PinholeCandidate *mine = NULL;

  for (guint i = 0; i < self->local->len; i++)
    {
      PinholeCandidate *c = g_ptr_array_index (self->local, i);

      if (c->transport == transport && _pinhole_agent_same_address (c->address, seen))
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
    case PINHOLE_PATH_KIND_NAT_PMP:
    case PINHOLE_PATH_KIND_PCP: return 1;
    case PINHOLE_PATH_KIND_UDP_PUNCH:
    case PINHOLE_PATH_KIND_TCP_PUNCH: return 2;
    case PINHOLE_PATH_KIND_RELAY:
    default: return 3;
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

      if (c->state != CHECK_SUCCEEDED || !quic_possible (self))
        continue;
      p = (Pair) { PINHOLE_TRANSPORT_UDP,
                   _pinhole_agent_pair_kind (self, PINHOLE_TRANSPORT_UDP, c->remote->type,
                                             c->remote->via, c->seen),
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
      if (!_pinhole_agent_tcp_check_done (c) || (c->taken && c != self->path_check))
        continue;
      c->remote_type = _pinhole_agent_remote_type_of (self, PINHOLE_TRANSPORT_TCP, c->remote, &via);
      p = (Pair) { PINHOLE_TRANSPORT_TCP,
                   _pinhole_agent_pair_kind (self, PINHOLE_TRANSPORT_TCP, c->remote_type, via,
                                             c->seen),
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

/* the replaced path goes: at once (nothing replaced it), or RETIRE_MS after its successor
 * was announced, once the peer has moved too */
static void
drop_retiring (PinholeAgent *self)
{
  g_clear_handle_id (&self->retire_source, g_source_remove);
  /* the new path may have taken over the same remote address */
  if (self->retiring_remote != NULL &&
      !_pinhole_agent_same_address (self->retiring_remote, self->path_remote))
    pinhole_endpoint_remove_datagram_handler (self->endpoint,
                                              G_SOCKET_ADDRESS (self->retiring_remote));
  g_clear_object (&self->retiring_remote);
  if (self->retiring != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->retiring, self);
      pinhole_path_close (self->retiring);
    }
  g_clear_object (&self->retiring);
  self->retiring_check = NULL;
}

static gboolean
retire_cb (gpointer user_data)
{
  PinholeAgent *self = user_data;

  self->retire_source = 0;
  g_debug ("the replaced direct path closes");
  drop_retiring (self);
  return G_SOURCE_REMOVE;
}

static void
announce_path (PinholeAgent *self)
{
  g_clear_handle_id (&self->connect_source, g_source_remove);
  g_clear_handle_id (&self->settle_source, g_source_remove);
  self->settle_source = g_timeout_add_seconds (5, settle_cb, self);
  g_signal_emit (self, _pinhole_agent_signals[PINHOLE_AGENT_SIGNAL_PATH_READY], 0, self->path);
  if (self->retiring != NULL && self->retire_source == 0)
    self->retire_source = g_timeout_add (RETIRE_MS, retire_cb, self);
}

/* the current path, without touching the one retiring */
static void
drop_current (PinholeAgent *self)
{
  g_clear_handle_id (&self->connect_source, g_source_remove);
  if (self->path_remote != NULL &&
      !_pinhole_agent_same_address (self->path_remote, self->retiring_remote))
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

/* The current path steps aside for the one about to be built, still open (make before
 * break). Only a path that works (announced) retires: one still connecting is dropped, and
 * the working one that was retiring stays. */
static void
retire_path (PinholeAgent *self)
{
  if (self->path == NULL)
    return;
  if (self->connect_source != 0)
    {
      drop_current (self);
      return;
    }
  drop_retiring (self);
  g_signal_handlers_disconnect_by_data (self->path, self);
  self->retiring = g_steal_pointer (&self->path);
  self->retiring_remote = g_steal_pointer (&self->path_remote);
  self->retiring_check = self->path_check;
  self->path_check = NULL;
}

static void
udp_path_connected_cb (GObject      *object,
                       GParamSpec   *pspec,
                       PinholeAgent *self)
{
  if (!pinhole_quic_path_is_connected (PINHOLE_QUIC_PATH (object)) ||
      self->path != (gpointer) object)
    return;
  g_signal_handlers_disconnect_by_func (object, udp_path_connected_cb, self);
  announce_path (self);
}

/* the QUIC path closed before it connected: its handshake failed (the peer showed another
 * certificate than the one its fingerprint names, or refused ours). It is given up as one
 * that never connected, from the main loop: the close may come from inside its receive(),
 * which the endpoint's handler is still running. */
static void
udp_path_closed_cb (PinholePath  *path,
                    const GError *error,
                    PinholeAgent *self)
{
  if (self->path != path || self->connect_source == 0)
    return;
  g_debug ("the direct path was refused: %s", error != NULL ? error->message : "closed");
  self->path_refused = TRUE;
  g_source_remove (self->connect_source);
  self->connect_source = g_idle_add (connect_timeout_cb, self);
}

static void
udp_path_datagram_cb (const guint8 *data,
                      gsize         len,
                      gpointer      user_data)
{
  pinhole_quic_path_receive (PINHOLE_QUIC_PATH (user_data), data, len);
}

/* builds the path on @pair and announces it when it can carry packets */
void
_pinhole_agent_drop_path (PinholeAgent *self)
{
  drop_retiring (self);
  drop_current (self);
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
    g_signal_emit (self, _pinhole_agent_signals[PINHOLE_AGENT_SIGNAL_PATH_READY], 0, self->path);
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
  retire_path (self);
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
    PinholeQuicPath *path = pinhole_quic_path_new (
      pinhole_endpoint_get_udp_socket (self->endpoint), G_SOCKET_ADDRESS (c->remote->address),
      kind, self->controlling, self->quic_certificate, self->remote_quic_fingerprint);
    GBytes *early;

    self->path = PINHOLE_PATH (path);
    /* the path takes over the remote address from the check's early queue */
    pinhole_endpoint_add_datagram_handler (self->endpoint,
                                           G_SOCKET_ADDRESS (c->remote->address),
                                           udp_path_datagram_cb, g_object_ref (path),
                                           g_object_unref);
    c->handler = FALSE;
    g_set_object (&self->path_remote, c->remote->address);
    g_debug ("direct path %s over QUIC to %s", pinhole_path_kind_to_string (kind),
             pinhole_path_get_remote (self->path));
    g_signal_connect (path, "notify::connected", G_CALLBACK (udp_path_connected_cb), self);
    g_signal_connect (path, "closed", G_CALLBACK (udp_path_closed_cb), self);
    self->path_refused = FALSE;
    self->connect_source = g_timeout_add (UDP_CONNECT_MS, connect_timeout_cb, self);
    while ((early = g_queue_pop_head (&c->early)) != NULL)
      {
        gsize len;
        const guint8 *data = g_bytes_get_data (early, &len);

        pinhole_quic_path_receive (path, data, len);
        g_bytes_unref (early);
      }
    udp_path_connected_cb (G_OBJECT (path), NULL, self);
  }
}

/* QUIC did not connect over a pair whose checks passed: the peer never built its end (a lost
 * nomination), the mapping vanished, or a certificate did not match its fingerprint; the
 * search ends and is started again later */
static gboolean
connect_timeout_cb (gpointer user_data)
{
  PinholeAgent *self = user_data;

  gboolean refused = self->path_refused;

  self->connect_source = 0;
  self->path_refused = FALSE;
  g_debug ("the direct path never connected");
  if (self->retiring != NULL)
    {
      /* the path it was to replace still works: keep that one */
      gboolean same_remote = _pinhole_agent_same_address (self->path_remote,
                                                          self->retiring_remote);

      drop_current (self);
      g_clear_handle_id (&self->retire_source, g_source_remove);
      self->path = g_steal_pointer (&self->retiring);
      self->path_remote = g_steal_pointer (&self->retiring_remote);
      self->path_check = self->retiring_check;
      self->retiring_check = NULL;
      /* the new path had taken over its datagrams */
      if (same_remote && PINHOLE_IS_QUIC_PATH (self->path))
        pinhole_endpoint_add_datagram_handler (self->endpoint,
                                               G_SOCKET_ADDRESS (self->path_remote),
                                               udp_path_datagram_cb, g_object_ref (self->path),
                                               g_object_unref);
      return G_SOURCE_REMOVE;
    }
  _pinhole_agent_drop_path (self);
  if (!self->failed_reported)
    {
      self->failed_reported = TRUE;
      g_signal_emit (self, _pinhole_agent_signals[PINHOLE_AGENT_SIGNAL_FAILED], 0,
                     refused ? "the nominated path was refused: its certificate did not match"
                             : "the nominated path never connected");
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
  _pinhole_agent_emit_control (self, message);
  build_path (self, best.transport, best.kind, best.check);
  return G_SOURCE_REMOVE;
}

void
_pinhole_agent_maybe_nominate (PinholeAgent *self)
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
gboolean
_pinhole_agent_handle_nominate (PinholeAgent *self,
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
  if (strcmp (transport, "udp") == 0 && !quic_possible (self))
    {
      /* an older peer's PseudoTcp path (0.1.x), or one whose fingerprint we never got: not built;
       * the peer's end never connects and its search ends (it stays on the relay) */
      g_debug ("nomination of udp %s ignored: no QUIC fingerprint from the peer", peer);
      return TRUE;
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
                _pinhole_agent_udp_check_start (self, c);
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
          if (!_pinhole_agent_tcp_check_done (c))
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
