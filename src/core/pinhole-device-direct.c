/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-device-direct.c: the search for a direct path behind one device's session. Once
 * the session is up over the relay, an agent trades candidates with the device inside the
 * session (control channel, docs/protocol.md §8) and attaches the direct path it confirms.
 * When that path dies the session is already back on the relay; the search starts again with
 * back-off, and at once when the network changes. A contact marked relay-only never learns
 * our addresses. When no path is found, the device says why, from the NAT facts both sides
 * sent (PinholeNatInfo). */
#define G_LOG_DOMAIN "pinhole-direct"

#include "pinhole-client-private.h"
#include "pinhole-device-private.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"

#include <string.h>

#define RESTART_MIN_S 1
#define RESTART_MAX_S 30
#define MAX_CONTROL_BYTES 16384

static void
agent_send_control_cb (PinholeAgent  *agent,
                       JsonObject    *message,
                       PinholeDevice *self)
{
  if (g_strcmp0 (json_object_get_string_member_with_default (message, "t", ""),
                 "candidates") == 0)
    {
      PinholeNatInfo mine;

      pinhole_nat_info_of_gatherer (self->client->gatherer, &mine);
      json_object_set_object_member (message, "nat", pinhole_nat_info_to_json (&mine));
    }
  _pinhole_device_send_control (self, message);
}

static void
agent_path_ready_cb (PinholeAgent  *agent,
                     PinholePath   *path,
                     PinholeDevice *self)
{
  if (self->session == NULL)
    return;
  g_debug ("session with %s moves onto %s (%s)", self->id,
           pinhole_path_kind_to_string (pinhole_path_get_kind (path)),
           pinhole_path_get_remote (path));
  self->restart_backoff_s = 0;
  _pinhole_device_set_relay_reason (self, PINHOLE_RELAY_REASON_NONE, NULL);
  pinhole_session_attach_path (self->session, path);
  /* a path relabelled in place shows here: the session saw no change */
  _pinhole_device_update_path (self);
}

/* "why relayed", from what each side learnt of its own network */
static PinholeRelayReason
failure_reason (PinholeDevice *self)
{
  PinholeNatInfo mine, theirs = { PINHOLE_NAT_MAPPING_UNKNOWN, TRUE, TRUE, FALSE };
  gboolean my_symmetric, their_symmetric;

  pinhole_nat_info_of_gatherer (self->client->gatherer, &mine);
  if (self->has_peer_nat)
    theirs = self->peer_nat;
  my_symmetric = mine.mapping == PINHOLE_NAT_MAPPING_DEPENDENT;
  their_symmetric = theirs.mapping == PINHOLE_NAT_MAPPING_DEPENDENT;
  if (my_symmetric && their_symmetric && !mine.port_mapping && !theirs.port_mapping)
    return PINHOLE_RELAY_REASON_BOTH_SYMMETRIC;
  if (my_symmetric && !mine.port_mapping)
    return PINHOLE_RELAY_REASON_LOCAL_SYMMETRIC;
  if (their_symmetric && !theirs.port_mapping)
    return PINHOLE_RELAY_REASON_CONTACT_SYMMETRIC;
  if (!mine.udp && !theirs.udp)
    return PINHOLE_RELAY_REASON_UDP_BLOCKED_BOTH;
  if (!mine.udp)
    return PINHOLE_RELAY_REASON_UDP_BLOCKED_HERE;
  if (!theirs.udp)
    return PINHOLE_RELAY_REASON_UDP_BLOCKED_CONTACT;
  return PINHOLE_RELAY_REASON_CHECKS_FAILED;
}

static void
agent_failed_cb (PinholeAgent  *agent,
                 const char    *agent_reason,
                 PinholeDevice *self)
{
  PinholeRelayReason reason = failure_reason (self);

  _pinhole_device_set_relay_reason (self, reason,
                                    reason == PINHOLE_RELAY_REASON_CHECKS_FAILED ? agent_reason
                                                                                 : NULL);
  g_debug ("no direct path to %s: %s", self->id, pinhole_device_get_relay_reason_text (self));
  /* try again later: NAT mappings and routers change */
  _pinhole_device_direct_path_lost (self, NULL);
}

static void
create_agent (PinholeDevice *self)
{
  PinholeClient *client = self->client;
  GPtrArray *candidates;

  if (self->agent != NULL || client->gatherer == NULL)
    return;
  /* one side nominates: the smaller "user/device" id, a rule both sides know */
  self->agent = pinhole_agent_new (client->endpoint, strcmp (client->local_id, self->id) < 0);
  g_signal_connect (self->agent, "send-control", G_CALLBACK (agent_send_control_cb), self);
  g_signal_connect (self->agent, "path-ready", G_CALLBACK (agent_path_ready_cb), self);
  g_signal_connect (self->agent, "failed", G_CALLBACK (agent_failed_cb), self);
  candidates = pinhole_gatherer_get_candidates (client->gatherer);
  for (guint i = 0; i < candidates->len; i++)
    pinhole_agent_add_local_candidate (self->agent, g_ptr_array_index (candidates, i));
  if (pinhole_gatherer_is_done (client->gatherer))
    pinhole_agent_local_done (self->agent);
  _pinhole_device_set_relay_reason (self, PINHOLE_RELAY_REASON_SEARCHING, NULL);
}

/* the session is up over the relay: start looking, unless the contact is relay-only */
void
_pinhole_device_direct_session_up (PinholeDevice *self)
{
  PinholeClient *client = self->client;

  if (pinhole_profile_get_relay_only (client->profile, self->user))
    {
      g_autoptr(JsonObject) message = json_object_new ();

      _pinhole_device_set_relay_reason (self, PINHOLE_RELAY_REASON_RELAY_ONLY, NULL);
      json_object_set_string_member (message, "t", "relay-only");
      _pinhole_device_send_control (self, message);
      return;
    }
  if (client->gatherer == NULL)
    {
      if (client->direct_error != NULL)
        _pinhole_device_set_relay_reason (self, PINHOLE_RELAY_REASON_NO_SOCKETS,
                                          client->direct_error);
      else
        _pinhole_device_set_relay_reason (self, PINHOLE_RELAY_REASON_DIRECT_OFF, NULL);
      return;
    }
  create_agent (self);
}

static void
learn_peer_nat (PinholeDevice *self,
                JsonObject    *message)
{
  JsonNode *nat = json_object_get_member (message, "nat");
  g_autoptr(GError) error = NULL;
  PinholeNatInfo info;

  if (nat == NULL || !JSON_NODE_HOLDS_OBJECT (nat))
    return;
  if (!pinhole_nat_info_from_json (json_node_get_object (nat), &info, &error))
    {
      g_debug ("%s sent NAT facts we cannot read: %s", self->id, error->message);
      return;
    }
  self->peer_nat = info;
  self->has_peer_nat = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), _pinhole_device_props[PINHOLE_DEVICE_PROP_NAT]);
}

/* a control message from the device's side of the session */
void
_pinhole_device_direct_control (PinholeDevice *self,
                                GBytes        *payload)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) message = NULL;
  gsize len;
  const char *data = g_bytes_get_data (payload, &len);
  const char *t;

  if (len > MAX_CONTROL_BYTES)
    return;
  message = pinhole_stanza_parse_object (data, len, &error);
  if (message == NULL || (t = pinhole_stanza_require_string (message, "t", 16, &error)) == NULL)
    {
      g_debug ("bad control message from %s: %s", self->id, error->message);
      return;
    }
  /* what the peer sent, whether we use it or not: the relay-only tests watch for candidates */
  g_debug ("control message \"%s\" from %s", t, self->id);
  if (strcmp (t, "relay-only") == 0)
    {
      self->peer_relay_only = TRUE;
      _pinhole_device_set_relay_reason (self, PINHOLE_RELAY_REASON_CONTACT_RELAY_ONLY, NULL);
      if (self->agent != NULL)
        pinhole_agent_close (self->agent);
      g_clear_object (&self->agent);
      return;
    }
  /* candidates from a peer that was relay-only: it turned the switch off */
  if (strcmp (t, "candidates") == 0 && self->peer_relay_only)
    {
      self->peer_relay_only = FALSE;
      _pinhole_device_set_relay_reason (self, PINHOLE_RELAY_REASON_NOT_YET, NULL);
    }
  /* our own relay-only choice: the peer's candidates are not answered, so neither side
   * learns the other's address */
  if (pinhole_profile_get_relay_only (self->client->profile, self->user) ||
      self->peer_relay_only)
    return;
  if (strcmp (t, "candidates") == 0)
    {
      /* the peer is searching now: a restart of ours would only cut its round short */
      g_clear_handle_id (&self->restart_source, g_source_remove);
      learn_peer_nat (self, message);
      create_agent (self);
    }
  if (self->agent == NULL)
    return;
  if (!pinhole_agent_handle_control (self->agent, message, &error))
    g_debug ("control message from %s refused: %s", self->id, error->message);
}

static gboolean
restart_cb (gpointer user_data)
{
  PinholeDevice *self = user_data;

  self->restart_source = 0;
  /* the reason stays what the last round found until a round finds better */
  if (self->agent != NULL && self->session != NULL)
    pinhole_agent_restart (self->agent);
  return G_SOURCE_REMOVE;
}

static void
restart_agent (PinholeDevice *self)
{
  g_clear_handle_id (&self->restart_source, g_source_remove);
  if (self->restart_backoff_s == 0)
    {
      restart_cb (self);
      self->restart_backoff_s = RESTART_MIN_S;
      return;
    }
  self->restart_source = g_timeout_add_seconds (self->restart_backoff_s, restart_cb, self);
  self->restart_backoff_s = MIN (self->restart_backoff_s * 2, RESTART_MAX_S);
}

/**
 * pinhole_device_retry_direct:
 * The person asked to try a direct path again ("Try direct again"): a pair on the relay
 * starts a new round of the search now, with new credentials and its candidates sent again,
 * instead of waiting out the back-off. Does nothing on a direct path, without a session, or
 * while either side is relay-only (there is no search to restart then).
 */
void
pinhole_device_retry_direct (PinholeDevice *self)
{
  g_return_if_fail (PINHOLE_IS_DEVICE (self));

  if (self->agent == NULL || self->session == NULL ||
      pinhole_device_get_path_kind (self) != PINHOLE_PATH_KIND_RELAY)
    return;
  g_debug ("searching for a direct path to %s again, as asked", self->id);
  self->restart_backoff_s = 0;
  restart_agent (self);
  _pinhole_device_set_relay_reason (self, PINHOLE_RELAY_REASON_SEARCHING, NULL);
}

/* the direct path died (or none was found, @path %NULL): look again, with back-off */
void
_pinhole_device_direct_path_lost (PinholeDevice *self,
                                  PinholePath   *path)
{
  if (path != NULL)
    {
      g_debug ("direct path to %s lost", self->id);
      _pinhole_device_set_relay_reason (self, PINHOLE_RELAY_REASON_PATH_LOST, NULL);
    }
  if (self->agent == NULL)
    return;
  if (self->restart_backoff_s == 0)
    self->restart_backoff_s = RESTART_MIN_S;
  restart_agent (self);
}

/* the network changed: gather again (the client does) and search again at once */
void
_pinhole_device_direct_network_changed (PinholeDevice *self)
{
  if (self->agent == NULL)
    return;
  self->restart_backoff_s = 0;
  restart_agent (self);
}

void
_pinhole_device_direct_add_local (PinholeDevice    *self,
                                  PinholeCandidate *candidate)
{
  if (self->agent != NULL)
    pinhole_agent_add_local_candidate (self->agent, candidate);
}

void
_pinhole_device_direct_local_done (PinholeDevice *self)
{
  if (self->agent != NULL)
    pinhole_agent_local_done (self->agent);
}

void
_pinhole_device_direct_clear (PinholeDevice *self)
{
  g_clear_handle_id (&self->restart_source, g_source_remove);
  if (self->agent != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->agent, self);
      pinhole_agent_close (self->agent);
    }
  g_clear_object (&self->agent);
  self->peer_relay_only = FALSE;
  self->restart_backoff_s = 0;
  _pinhole_device_set_relay_reason (self, PINHOLE_RELAY_REASON_NONE, NULL);
}
