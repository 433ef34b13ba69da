/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client-direct.c: the search for direct paths behind each session. The client
 * gathers its candidates once per log-in and network change; every session, once up over the
 * relay, gets an agent that trades candidates with the peer inside the session (control
 * channel, docs/protocol.md §8) and attaches the direct path it confirms. When that path dies
 * the session is already back on the relay; the search starts again with back-off, and at
 * once when the network changes. A contact marked relay-only never learns our addresses. */
#define G_LOG_DOMAIN "pinhole-direct"

#include "pinhole-client-private.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"

#include <string.h>

#define RESTART_MIN_S 1
#define RESTART_MAX_S 30
#define MAX_CONTROL_BYTES 16384

/* ---- local state ---- */

static JsonObject *
local_nat_info (PinholeClient *self)
{
  JsonObject *o = json_object_new ();
  PinholeGatherer *g = self->gatherer;

  json_object_set_string_member (o, "mapping",
                                 g ? pinhole_nat_mapping_to_string (
                                   pinhole_gatherer_get_nat_mapping (g)) : "unknown NAT");
  json_object_set_boolean_member (o, "udp", g && pinhole_gatherer_get_udp_works (g));
  json_object_set_boolean_member (o, "tcp", g && pinhole_gatherer_get_tcp_works (g));
  json_object_set_boolean_member (o, "port_mapping", g && pinhole_gatherer_has_mapping (g));
  return o;
}

static void
send_control (PinholeClientPeer *peer,
              JsonObject        *message)
{
  g_autofree char *text = NULL;
  gsize len;
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GError) error = NULL;

  if (peer->session == NULL)
    return;
  text = pinhole_stanza_to_string (message, &len);
  payload = g_bytes_new_take (g_steal_pointer (&text), len);
  if (!pinhole_session_send (peer->session, PINHOLE_SESSION_CHANNEL_CONTROL, payload, NULL,
                             &error))
    g_debug ("control message to %s not sent: %s", peer->id, error->message);
}

static void
set_reason (PinholeClientPeer *peer,
            const char        *reason)
{
  g_free (peer->relay_reason);
  peer->relay_reason = g_strdup (reason);
}

/* ---- gathering ---- */

static void
candidate_added_cb (PinholeGatherer  *gatherer,
                    PinholeCandidate *candidate,
                    PinholeClient    *self)
{
  GHashTableIter iter;
  PinholeClientPeer *peer;

  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &peer))
    if (peer->agent != NULL)
      pinhole_agent_add_local_candidate (peer->agent, candidate);
}

static void
gathering_done_cb (PinholeGatherer *gatherer,
                   PinholeClient   *self)
{
  GHashTableIter iter;
  PinholeClientPeer *peer;
  g_autofree char *nat = pinhole_gatherer_describe (gatherer);

  g_debug ("this device: %s", nat);
  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &peer))
    if (peer->agent != NULL)
      pinhole_agent_local_done (peer->agent);
}

static void restart_agent (PinholeClientPeer *peer);

static void
network_changed_cb (GNetworkMonitor *monitor,
                    gboolean         available,
                    PinholeClient   *self)
{
  GHashTableIter iter;
  PinholeClientPeer *peer;

  if (self->gatherer == NULL)
    return;
  g_debug ("network changed: gathering again");
  pinhole_gatherer_gather (self->gatherer);
  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &peer))
    if (peer->agent != NULL)
      {
        peer->restart_backoff_s = 0;
        restart_agent (peer);
      }
}

static gboolean
host_is_loopback (const char *host)
{
  g_autoptr(GInetAddress) address = host ? g_inet_address_new_from_string (host) : NULL;

  if (host != NULL && g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  return address != NULL && g_inet_address_get_is_loopback (address);
}

/* at log-in: the endpoint and port mapper once, a fresh round of gathering every time */
void
_pinhole_client_direct_start (PinholeClient *self)
{
  g_autoptr(GError) error = NULL;

  if (self->endpoint == NULL && self->direct_error == NULL)
    {
      self->endpoint = pinhole_endpoint_new (&error);
      if (self->endpoint == NULL)
        {
          self->direct_error = g_strdup_printf ("no local sockets for direct paths: %s",
                                                error->message);
          g_debug ("%s", self->direct_error);
          return;
        }
      /* a server on loopback means the peers are on this machine: no router is involved */
      if (g_getenv ("PINHOLE_NO_PORT_MAPPING") == NULL && !host_is_loopback (self->stun_host))
        self->mapper = pinhole_port_mapper_new ();
      self->gatherer = pinhole_gatherer_new (self->endpoint, self->mapper);
      g_signal_connect (self->gatherer, "candidate-added", G_CALLBACK (candidate_added_cb),
                        self);
      g_signal_connect (self->gatherer, "done", G_CALLBACK (gathering_done_cb), self);
      self->monitor = g_network_monitor_get_default ();
      self->monitor_id = g_signal_connect (self->monitor, "network-changed",
                                           G_CALLBACK (network_changed_cb), self);
    }
  if (self->gatherer == NULL)
    return;
  if (self->stun_host != NULL)
    pinhole_gatherer_set_stun_server (self->gatherer, self->stun_host, (guint16) self->stun_port,
                                      (guint16) self->stun_alt_port);
  pinhole_gatherer_gather (self->gatherer);
}

/* when the client is disposed: mappings at the router are deleted by the port mapper */
void
_pinhole_client_direct_stop (PinholeClient *self)
{
  if (self->monitor != NULL)
    g_clear_signal_handler (&self->monitor_id, self->monitor);
  self->monitor = NULL;
  if (self->gatherer != NULL)
    g_signal_handlers_disconnect_by_data (self->gatherer, self);
  g_clear_object (&self->gatherer);
  g_clear_object (&self->mapper);
  g_clear_object (&self->endpoint);
  g_clear_pointer (&self->direct_error, g_free);
}

/* ---- agents ---- */

static void
agent_send_control_cb (PinholeAgent      *agent,
                       JsonObject        *message,
                       PinholeClientPeer *peer)
{
  if (g_strcmp0 (json_object_get_string_member_with_default (message, "t", ""),
                 "candidates") == 0)
    json_object_set_object_member (message, "nat", local_nat_info (peer->client));
  send_control (peer, message);
}

static void
agent_path_ready_cb (PinholeAgent      *agent,
                     PinholePath       *path,
                     PinholeClientPeer *peer)
{
  if (peer->session == NULL)
    return;
  g_debug ("session with %s moves onto %s (%s)", peer->id,
           pinhole_path_kind_to_string (pinhole_path_get_kind (path)),
           pinhole_path_get_remote (path));
  peer->restart_backoff_s = 0;
  g_clear_pointer (&peer->relay_reason, g_free);
  pinhole_session_attach_path (peer->session, path);
  /* a path relabelled in place is announced here: the session saw no change */
  _pinhole_client_emit_path (peer);
}

/* "why relayed", from what each side learnt of its own network */
static char *
failure_reason (PinholeClientPeer *peer,
                const char        *agent_reason)
{
  PinholeGatherer *g = peer->client->gatherer;
  gboolean my_symmetric = g && pinhole_gatherer_get_nat_mapping (g) ==
                          PINHOLE_NAT_MAPPING_DEPENDENT;
  gboolean my_mapping = g && pinhole_gatherer_has_mapping (g);
  gboolean my_udp = g && pinhole_gatherer_get_udp_works (g);
  gboolean their_symmetric = FALSE, their_mapping = FALSE, their_udp = TRUE;

  if (peer->peer_nat != NULL)
    {
      their_symmetric = strstr (json_object_get_string_member_with_default (
                                  peer->peer_nat, "mapping", ""), "dependent") != NULL &&
                        strstr (json_object_get_string_member_with_default (
                                  peer->peer_nat, "mapping", ""), "independent") == NULL;
      their_mapping = json_object_get_boolean_member_with_default (peer->peer_nat,
                                                                  "port_mapping", FALSE);
      their_udp = json_object_get_boolean_member_with_default (peer->peer_nat, "udp", TRUE);
    }
  if (my_symmetric && their_symmetric && !my_mapping && !their_mapping)
    return g_strdup ("both sides endpoint-dependent NAT, no port mapping");
  if (my_symmetric && !my_mapping)
    return g_strdup ("this side's endpoint-dependent NAT has no port mapping, and the "
                     "contact could not be reached");
  if (their_symmetric && !their_mapping)
    return g_strdup ("the contact's endpoint-dependent NAT has no port mapping, and this side "
                     "could not be reached");
  if (!my_udp || !their_udp)
    return g_strdup_printf ("UDP is blocked on %s and TCP punching failed",
                            !my_udp && !their_udp ? "both networks"
                            : !my_udp ? "this network" : "the contact's network");
  return g_strdup (agent_reason);
}

static void
agent_failed_cb (PinholeAgent      *agent,
                 const char        *reason,
                 PinholeClientPeer *peer)
{
  g_autofree char *why = failure_reason (peer, reason);

  g_debug ("no direct path to %s: %s", peer->id, why);
  set_reason (peer, why);
  /* try again later: NAT mappings and routers change */
  _pinhole_client_direct_path_lost (peer, NULL);
}

static void
create_agent (PinholeClientPeer *peer)
{
  PinholeClient *self = peer->client;
  GPtrArray *candidates;

  if (peer->agent != NULL || self->gatherer == NULL)
    return;
  /* one side nominates: the smaller "user/device" id, a rule both sides know */
  peer->agent = pinhole_agent_new (self->endpoint, strcmp (self->local_id, peer->id) < 0);
  g_signal_connect (peer->agent, "send-control", G_CALLBACK (agent_send_control_cb), peer);
  g_signal_connect (peer->agent, "path-ready", G_CALLBACK (agent_path_ready_cb), peer);
  g_signal_connect (peer->agent, "failed", G_CALLBACK (agent_failed_cb), peer);
  candidates = pinhole_gatherer_get_candidates (self->gatherer);
  for (guint i = 0; i < candidates->len; i++)
    pinhole_agent_add_local_candidate (peer->agent, g_ptr_array_index (candidates, i));
  if (pinhole_gatherer_is_done (self->gatherer))
    pinhole_agent_local_done (peer->agent);
  set_reason (peer, "looking for a direct path");
}

/* the session is up over the relay: start looking, unless the contact is relay-only */
void
_pinhole_client_direct_session_up (PinholeClientPeer *peer)
{
  PinholeClient *self = peer->client;

  if (pinhole_profile_get_relay_only (self->profile, peer->user))
    {
      g_autoptr(JsonObject) message = json_object_new ();

      set_reason (peer, "relay-only by choice");
      json_object_set_string_member (message, "t", "relay-only");
      send_control (peer, message);
      return;
    }
  if (self->gatherer == NULL)
    {
      set_reason (peer, self->direct_error ? self->direct_error : "direct paths are off");
      return;
    }
  create_agent (peer);
}

/* a control message from the peer's side of the session */
void
_pinhole_client_direct_control (PinholeClientPeer *peer,
                                GBytes            *payload)
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
      g_debug ("bad control message from %s: %s", peer->id, error->message);
      return;
    }
  /* what the peer sent, whether we use it or not: the relay-only tests watch for candidates */
  g_debug ("control message \"%s\" from %s", t, peer->id);
  if (strcmp (t, "relay-only") == 0)
    {
      peer->peer_relay_only = TRUE;
      set_reason (peer, "relay-only by the contact's choice");
      if (peer->agent != NULL)
        pinhole_agent_close (peer->agent);
      g_clear_object (&peer->agent);
      return;
    }
  /* our own relay-only choice: the peer's candidates are not answered, so neither side
   * learns the other's address */
  if (pinhole_profile_get_relay_only (peer->client->profile, peer->user) ||
      peer->peer_relay_only)
    return;
  if (strcmp (t, "candidates") == 0)
    {
      JsonNode *nat = json_object_get_member (message, "nat");

      /* the peer is searching now: a restart of ours would only cut its round short */
      g_clear_handle_id (&peer->restart_source, g_source_remove);

      if (nat != NULL && JSON_NODE_HOLDS_OBJECT (nat))
        {
          g_clear_pointer (&peer->peer_nat, json_object_unref);
          peer->peer_nat = json_object_ref (json_node_get_object (nat));
        }
      create_agent (peer);
    }
  if (peer->agent == NULL)
    return;
  if (!pinhole_agent_handle_control (peer->agent, message, &error))
    g_debug ("control message from %s refused: %s", peer->id, error->message);
}

static gboolean
restart_cb (gpointer user_data)
{
  PinholeClientPeer *peer = user_data;

  peer->restart_source = 0;
  /* the reason stays what the last round found until a round finds better */
  if (peer->agent != NULL && peer->session != NULL)
    pinhole_agent_restart (peer->agent);
  return G_SOURCE_REMOVE;
}

static void
restart_agent (PinholeClientPeer *peer)
{
  g_clear_handle_id (&peer->restart_source, g_source_remove);
  if (peer->restart_backoff_s == 0)
    {
      restart_cb (peer);
      peer->restart_backoff_s = RESTART_MIN_S;
      return;
    }
  peer->restart_source = g_timeout_add_seconds (peer->restart_backoff_s, restart_cb, peer);
  peer->restart_backoff_s = MIN (peer->restart_backoff_s * 2, RESTART_MAX_S);
}

/* the direct path died (or none was found, @path %NULL): look again, with back-off */
void
_pinhole_client_direct_path_lost (PinholeClientPeer *peer,
                                  PinholePath       *path)
{
  if (path != NULL)
    {
      g_debug ("direct path to %s lost", peer->id);
      set_reason (peer, "the direct path stopped answering; looking again");
    }
  if (peer->agent == NULL)
    return;
  if (peer->restart_backoff_s == 0)
    peer->restart_backoff_s = RESTART_MIN_S;
  restart_agent (peer);
}

void
_pinhole_client_direct_peer_clear (PinholeClientPeer *peer)
{
  g_clear_handle_id (&peer->restart_source, g_source_remove);
  if (peer->agent != NULL)
    {
      g_signal_handlers_disconnect_by_data (peer->agent, peer);
      pinhole_agent_close (peer->agent);
    }
  g_clear_object (&peer->agent);
  peer->peer_relay_only = FALSE;
  peer->restart_backoff_s = 0;
}

/* Returns: (nullable): why the session with @peer is on the relay */
const char *
_pinhole_client_direct_reason (PinholeClientPeer *peer)
{
  return peer->relay_reason;
}

/**
 * pinhole_client_dup_path_report:
 * What `pinhole-cli path` shows: {"path", "remote", "rtt_ms", "peer", "reason" (when
 * relayed), "candidates" (the checks tried and their results), "this_network",
 * "their_network"}.
 * Returns: (transfer full) (nullable): the report, or %NULL without a live session to @user
 */
JsonObject *
pinhole_client_dup_path_report (PinholeClient *self,
                                const char    *user)
{
  PinholeClientPeer *peer = _pinhole_client_find_peer_of (self, user);
  PinholePath *path;
  JsonObject *o;
  gdouble rtt;

  if (peer == NULL)
    return NULL;
  path = pinhole_session_get_path (peer->session);
  rtt = pinhole_session_get_rtt_ms (peer->session);
  o = json_object_new ();
  json_object_set_string_member (o, "path",
                                 pinhole_path_kind_to_string (pinhole_path_get_kind (path)));
  json_object_set_string_member (o, "remote", pinhole_path_get_remote (path));
  if (rtt >= 0)
    json_object_set_double_member (o, "rtt_ms", rtt);
  else
    json_object_set_null_member (o, "rtt_ms");
  json_object_set_string_member (o, "peer", peer->id);
  if (pinhole_path_get_kind (path) == PINHOLE_PATH_KIND_RELAY)
    json_object_set_string_member (o, "reason", peer->relay_reason ? peer->relay_reason
                                                                   : "no direct path yet");
  if (peer->agent != NULL)
    {
      g_autoptr(GPtrArray) lines = pinhole_agent_dup_report (peer->agent);
      JsonArray *array = json_array_new ();

      for (guint i = 0; i < lines->len; i++)
        json_array_add_string_element (array, g_ptr_array_index (lines, i));
      json_object_set_array_member (o, "candidates", array);
    }
  if (self->gatherer != NULL)
    {
      g_autofree char *mine = pinhole_gatherer_describe (self->gatherer);
      json_object_set_string_member (o, "this_network", mine);
    }
  if (peer->peer_nat != NULL)
    json_object_set_object_member (o, "their_network", json_object_ref (peer->peer_nat));
  return o;
}

/**
 * pinhole_client_set_relay_only:
 * The privacy switch: with @relay_only no candidate of this device is sent to @user, who so
 * never learns its addresses; a direct path in use is dropped at once.
 */
gboolean
pinhole_client_set_relay_only (PinholeClient *self,
                               const char    *user,
                               gboolean       relay_only,
                               GError       **error)
{
  GHashTableIter iter;
  PinholeClientPeer *peer;

  if (!pinhole_profile_set_relay_only (self->profile, user, relay_only, error))
    return FALSE;
  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &peer))
    if (strcmp (peer->user, user) == 0 && peer->session != NULL)
      {
        _pinhole_client_direct_peer_clear (peer);
        _pinhole_client_direct_session_up (peer);
      }
  return TRUE;
}

static void
mapper_shutdown_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (!pinhole_port_mapper_shutdown_finish (PINHOLE_PORT_MAPPER (source), result, &error))
    g_debug ("port mappings not all removed: %s", error->message);
  g_task_return_boolean (task, TRUE);
}

/**
 * pinhole_client_shutdown_async:
 * Leaves cleanly: disconnects from the server and deletes the port mappings this device made
 * at the router (within the port mapper's bounded time).
 */
void
pinhole_client_shutdown_async (PinholeClient       *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, pinhole_client_shutdown_async);
  pinhole_client_disconnect (self);
  if (self->mapper == NULL)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  pinhole_port_mapper_shutdown_async (self->mapper, cancellable, mapper_shutdown_cb, task);
}

gboolean
pinhole_client_shutdown_finish (PinholeClient *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
