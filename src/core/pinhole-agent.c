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
 * miniupnpc/libnatpmp mapped candidates, so the checks are our own.
 * This file: the object, its rounds of checks and its public API; the checks, the nomination
 * and the candidate exchange are in pinhole-agent-*.c. */
#define G_LOG_DOMAIN "pinhole-agent"

#include "pinhole-agent.h"
#include "pinhole-agent-private.h"

#include <sodium.h>

G_DEFINE_FINAL_TYPE (PinholeAgent, pinhole_agent, G_TYPE_OBJECT)

guint _pinhole_agent_signals[PINHOLE_AGENT_N_SIGNALS];

/* ---- helpers ---- */

gboolean
_pinhole_agent_same_address (GInetSocketAddress *a,
                             GInetSocketAddress *b)
{
  return a != NULL && b != NULL &&
         g_inet_socket_address_get_port (a) == g_inet_socket_address_get_port (b) &&
         g_inet_address_equal (g_inet_socket_address_get_address (a),
                               g_inet_socket_address_get_address (b));
}

/* ---- lifecycle ---- */

void
_pinhole_agent_reset_round (PinholeAgent *self)
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
  self->n_remote_signalled = 0;
  self->n_remote_prflx = 0;
  g_clear_pointer (&self->pending_nomination, json_object_unref);
  g_clear_pointer (&self->remote_ufrag, g_free);
  g_clear_pointer (&self->remote_pwd, g_free);
  self->remote_done = FALSE;
  self->failed_reported = FALSE;
  self->nominated_rank = G_MAXINT;
  self->moved_within_rank = FALSE;
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
  _pinhole_agent_reset_round (self);
  _pinhole_agent_drop_path (self);
  _pinhole_agent_new_credentials (self);
  _pinhole_agent_resend_local (self);
}

void
pinhole_agent_close (PinholeAgent *self)
{
  if (self->closed)
    return;
  self->closed = TRUE;
  _pinhole_agent_reset_round (self);
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
          pinhole_path_kind_to_string (_pinhole_agent_pair_kind (self, PINHOLE_TRANSPORT_UDP,
                                                                 c->remote->type, c->remote->via,
                                                                 c->seen))));
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
                                             : _pinhole_agent_tcp_check_done (c) ? "succeeded"
                                             : "checking"));
    }
  return out;
}

static void
pinhole_agent_dispose (GObject *object)
{
  PinholeAgent *self = PINHOLE_AGENT (object);

  pinhole_agent_close (self);
  _pinhole_agent_drop_path (self);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->endpoint);
  g_clear_object (&self->quic_certificate);
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
  _pinhole_agent_forget_requests (self);
  g_free (self->local_ufrag);
  g_free (self->local_pwd);
  g_free (self->remote_ufrag);
  g_free (self->remote_pwd);
  g_free (self->remote_quic_fingerprint);
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
  _pinhole_agent_signals[PINHOLE_AGENT_SIGNAL_SEND_CONTROL] =
    g_signal_new ("send-control", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, JSON_TYPE_OBJECT);
  /**
   * PinholeAgent::path-ready:
   * @path: a confirmed direct path that can carry packets now
   */
  _pinhole_agent_signals[PINHOLE_AGENT_SIGNAL_PATH_READY] =
    g_signal_new ("path-ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, PINHOLE_TYPE_PATH);
  /**
   * PinholeAgent::failed:
   * @reason: why no direct path was found
   */
  _pinhole_agent_signals[PINHOLE_AGENT_SIGNAL_FAILED] =
    g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
pinhole_agent_init (PinholeAgent *self)
{
  self->local = g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_candidate_free);
  self->remote = g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_candidate_free);
  self->udp_checks = g_ptr_array_new_with_free_func (
    (GDestroyNotify) _pinhole_agent_udp_check_free);
  self->tcp_checks = g_ptr_array_new_with_free_func (
    (GDestroyNotify) _pinhole_agent_tcp_check_free);
  self->tcp_targets = g_ptr_array_new_with_free_func (
    (GDestroyNotify) _pinhole_agent_tcp_target_free);
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
  g_autoptr(GError) error = NULL;

  self->endpoint = g_object_ref (endpoint);
  self->controlling = controlling;
  randombytes_buf (&self->tiebreaker, sizeof self->tiebreaker);
  self->cancellable = g_cancellable_new ();
  _pinhole_agent_new_credentials (self);
  /* one certificate per agent, that is per peer device and session: the fingerprint then
   * travels in every candidates message rather than per nomination, and an Ed25519 key costs
   * nothing to keep */
  self->quic_certificate = pinhole_quic_certificate_new (&error);
  if (self->quic_certificate == NULL)
    g_warning ("no QUIC certificate, so no direct UDP path: %s", error->message);
  return self;
}
