/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-client-direct.c: what every device's direct path search shares: the endpoint's
 * sockets, the router's port mappings and the local candidates, gathered once per log-in and
 * again when the network changes (each device's search is pinhole-device-direct.c); the
 * relay-only switch; and leaving cleanly, with the router's mappings deleted. */
#define G_LOG_DOMAIN "pinhole-direct"

#include "pinhole-client-private.h"
#include "pinhole-device-private.h"
#include "pinhole-error.h"

#include <string.h>

static void
add_local (gpointer device,
           gpointer candidate)
{
  _pinhole_device_direct_add_local (device, candidate);
}

static void
local_done (gpointer device,
            gpointer user_data)
{
  _pinhole_device_direct_local_done (device);
}

static void
network_changed (gpointer device,
                 gpointer user_data)
{
  _pinhole_device_direct_network_changed (device);
}

static void
candidate_added_cb (PinholeGatherer  *gatherer,
                    PinholeCandidate *candidate,
                    PinholeClient    *self)
{
  _pinhole_client_foreach_device (self, add_local, candidate);
}

static void
gathering_done_cb (PinholeGatherer *gatherer,
                   PinholeClient   *self)
{
  g_autofree char *nat = pinhole_gatherer_describe (gatherer);

  g_debug ("this device: %s", nat);
  _pinhole_client_foreach_device (self, local_done, NULL);
}

static void
network_changed_cb (GNetworkMonitor *monitor,
                    gboolean         available,
                    PinholeClient   *self)
{
  if (self->gatherer == NULL)
    return;
  g_debug ("network changed: gathering again");
  pinhole_gatherer_gather (self->gatherer);
  _pinhole_client_foreach_device (self, network_changed, NULL);
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

/* Returns: (transfer full) (nullable): what this device found of its network ("endpoint-
 * independent NAT, router port mapping"), %NULL without direct paths */
char *
pinhole_client_dup_network_description (PinholeClient *self)
{
  return self->gatherer != NULL ? pinhole_gatherer_describe (self->gatherer) : NULL;
}

/**
 * pinhole_client_dup_local_candidates:
 * Returns: (transfer full) (element-type utf8) (nullable): this device's candidates, the same
 *   for every contact, one line each ("udp host 192.168.1.20:41000"); %NULL without direct
 *   paths
 */
GPtrArray *
pinhole_client_dup_local_candidates (PinholeClient *self)
{
  GPtrArray *candidates, *out;

  g_return_val_if_fail (PINHOLE_IS_CLIENT (self), NULL);

  if (self->gatherer == NULL)
    return NULL;
  candidates = pinhole_gatherer_get_candidates (self->gatherer);
  out = g_ptr_array_new_full (candidates->len, g_free);
  for (guint i = 0; i < candidates->len; i++)
    g_ptr_array_add (out, pinhole_candidate_to_string (g_ptr_array_index (candidates, i)));
  return out;
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
  PinholeContact *contact = pinhole_client_lookup_contact (self, user);
  GListModel *devices;

  if (!pinhole_profile_set_relay_only (self->profile, user, relay_only, error))
    return FALSE;
  if (contact == NULL)
    return TRUE;
  devices = pinhole_contact_get_devices (contact);
  for (guint i = 0; i < g_list_model_get_n_items (devices); i++)
    {
      g_autoptr(PinholeDevice) device = g_list_model_get_item (devices, i);

      if (pinhole_device_get_session (device) == NULL)
        continue;
      _pinhole_device_direct_clear (device);
      _pinhole_device_direct_session_up (device);
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

/* how long a shutdown waits for messages on their way to be delivered or stored */
#define SHUTDOWN_SEND_WAIT_MS 5000

static void
shutdown_now (PinholeClient *self)
{
  GTask *task = g_steal_pointer (&self->shutdown);

  g_clear_handle_id (&self->shutdown_timeout, g_source_remove);
  /* pinhole_client_settle_async() only waits */
  if (g_task_get_source_tag (task) == pinhole_client_settle_async)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  pinhole_client_disconnect (self);
  if (self->mapper == NULL)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  pinhole_port_mapper_shutdown_async (self->mapper, g_task_get_cancellable (task),
                                      mapper_shutdown_cb, task);
}

static gboolean
shutdown_timeout_cb (gpointer user_data)
{
  PinholeClient *self = user_data;

  self->shutdown_timeout = 0;
  g_debug ("leaving with %u message(s) still on their way", self->sends_in_flight);
  shutdown_now (self);
  return G_SOURCE_REMOVE;
}

static void wait_for_sends (PinholeClient *self,
                            GTask         *task);

/* every message sent is delivered, stored or failed: a waiting shutdown goes on */
void
_pinhole_client_sends_settled (PinholeClient *self)
{
  if (self->shutdown != NULL)
    shutdown_now (self);
}

/**
 * pinhole_client_shutdown_async:
 * Leaves cleanly: waits (a few seconds at most) for messages on their way to be delivered,
 * stored or failed, so that none is left "sending" in the profile, then disconnects from the
 * server and deletes the port mappings this device made at the router (within the port
 * mapper's bounded time).
 */
void
pinhole_client_shutdown_async (PinholeClient       *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, pinhole_client_shutdown_async);
  wait_for_sends (self, task);
}

gboolean
pinhole_client_shutdown_finish (PinholeClient *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * pinhole_client_settle_async:
 * Waits, as pinhole_client_shutdown_async() does (a few seconds at most), for messages on
 * their way to be delivered, stored or failed, and for received ones to be acknowledged once
 * on disk, but stays connected: for a caller that disconnects by other means (a
 * PinholeReconnector).
 */
void
pinhole_client_settle_async (PinholeClient       *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, pinhole_client_settle_async);
  wait_for_sends (self, task);
}

gboolean
pinhole_client_settle_finish (PinholeClient *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* @task (transfer full) goes on once the sends are settled, or after SHUTDOWN_SEND_WAIT_MS */
static void
wait_for_sends (PinholeClient *self,
                GTask         *task)
{
  if (self->shutdown != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING, "already shutting down");
      g_object_unref (task);
      return;
    }
  self->shutdown = task;
  if (self->sends_in_flight == 0)
    {
      shutdown_now (self);
      return;
    }
  self->shutdown_timeout = g_timeout_add (SHUTDOWN_SEND_WAIT_MS, shutdown_timeout_cb, self);
}
