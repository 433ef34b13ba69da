/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-agent-control.c: the control messages between the two agents: local candidates
 * trickled to the peer, the peer's credentials and candidates (and its restarts) taken in,
 * and each message from the peer dispatched. */
#define G_LOG_DOMAIN "pinhole-agent"

#include "pinhole-agent-private.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"

#include <string.h>

void
_pinhole_agent_emit_control (PinholeAgent *self,
                             JsonObject   *message)
{
  g_signal_emit (self, _pinhole_agent_signals[PINHOLE_AGENT_SIGNAL_SEND_CONTROL], 0, message);
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
  if (self->quic_certificate != NULL)
    json_object_set_string_member (message, "quic",
                                   pinhole_quic_certificate_get_fingerprint (
                                     self->quic_certificate));
  _pinhole_agent_emit_control (self, message);
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
          _pinhole_agent_maybe_nominate (self);
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

/* Loopback is a peer's address only when the peer is on this machine: when our own host
 * candidates are loopback ones, which the gatherer offers only with a server on this machine
 * (two profiles on one machine, and the loopback tests). */
static gboolean
peer_may_be_on_loopback (PinholeAgent *self)
{
  for (guint i = 0; i < self->local->len; i++)
    {
      PinholeCandidate *c = g_ptr_array_index (self->local, i);

      if (c->type == PINHOLE_CANDIDATE_HOST &&
          g_inet_address_get_is_loopback (g_inet_socket_address_get_address (c->address)))
        return TRUE;
    }
  return FALSE;
}

/* the one place where the peer's candidates are accepted: a refused one is dropped, the rest
 * still used (docs/protocol.md §8) */
static void
add_remote_candidate (PinholeAgent     *self,
                      PinholeCandidate *candidate)
{
  const char *reason = NULL;

  if (!pinhole_candidate_is_peer_address (candidate, peer_may_be_on_loopback (self), &reason))
    {
      g_autofree char *text = pinhole_candidate_to_string (candidate);

      g_debug ("refused the peer's candidate %s: %s", text, reason);
      return;
    }
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
  if (self->n_remote_signalled >= PINHOLE_CANDIDATES_MAX)
    {
      g_autofree char *text = pinhole_candidate_to_string (candidate);

      g_debug ("dropped the peer's candidate %s: %d taken this round already", text,
               PINHOLE_CANDIDATES_MAX);
      return;
    }
  g_ptr_array_add (self->remote, pinhole_candidate_copy (candidate));
  self->n_remote_signalled++;
  if (g_socket_address_get_family (G_SOCKET_ADDRESS (candidate->address)) != G_SOCKET_FAMILY_IPV4)
    return;   /* the endpoint is IPv4 only */
  if (candidate->transport == PINHOLE_TRANSPORT_UDP)
    _pinhole_agent_add_udp_check (self, candidate);
  else
    _pinhole_agent_add_tcp_target (self, candidate);
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
  const char *quic = NULL;
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
  if (!pinhole_candidates_quic_fingerprint (message, &quic, error))
    return FALSE;
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
      _pinhole_agent_reset_round (self);
      _pinhole_agent_drop_path (self);
      _pinhole_agent_resend_local (self);
    }
  if (quic != NULL && g_strcmp0 (quic, self->remote_quic_fingerprint) != 0)
    {
      g_free (self->remote_quic_fingerprint);
      self->remote_quic_fingerprint = g_strdup (quic);
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
            _pinhole_agent_udp_check_start (self, c);
        }
      for (guint i = 0; i < self->tcp_checks->len; i++)
        {
          TcpCheck *c = g_ptr_array_index (self->tcp_checks, i);
          if (!c->failed && c->got_request && !c->sent_request)
            _pinhole_agent_tcp_check_send_request (c);
        }
    }
  for (guint i = 0; i < parsed->len; i++)
    add_remote_candidate (self, g_ptr_array_index (parsed, i));
  /* a candidate may have been renamed (srflx → mapped): the best pair may be better now */
  _pinhole_agent_maybe_nominate (self);
  if (done != NULL && JSON_NODE_HOLDS_VALUE (done) && json_node_get_boolean (done))
    {
      self->remote_done = TRUE;
      _pinhole_agent_check_exhausted (self);
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
      return _pinhole_agent_handle_nominate (self, message, error);
    }
  g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL, "unknown control message \"%s\"",
               t);
  return FALSE;
}

void
_pinhole_agent_resend_local (PinholeAgent *self)
{
  g_ptr_array_set_size (self->pending_out, 0);
  for (guint i = 0; i < self->local->len; i++)
    g_ptr_array_add (self->pending_out, pinhole_candidate_copy (g_ptr_array_index (self->local,
                                                                                   i)));
  schedule_flush (self);
}
