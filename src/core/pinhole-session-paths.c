/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-session-paths.c: the paths a session runs over: attaching and detaching them, moving
 * to a new current path, and the heartbeats that fail a silent peer or drop a silent direct
 * path. */
#define G_LOG_DOMAIN "pinhole-session"

#include "pinhole-session-private.h"

#include "pinhole-error.h"

/* direct paths: the keepalive every 15 s when idle matters because home routers drop idle
 * UDP mappings after 30 s */
/* A direct path is probed when it has been quiet this long (while the session is active),
 * the probe repeated every PROBE_REPEAT_MS; it is dead, and the session back on the relay,
 * once nothing came on it for PATH_DEAD_AFTER_MS and a probe went unanswered for
 * PROBE_WAIT_MS: at most about 4.25 s after the last reply (docs/session.md §6). */
#define HEARTBEAT_ACTIVE_MS      1000
#define HEARTBEAT_IDLE_MS        15000
#define ACTIVE_WINDOW_MS         30000
#define PATH_DEAD_AFTER_MS       4000
#define PROBE_WAIT_MS            3000
#define PROBE_REPEAT_MS          1000
#define LIVENESS_TICK_MS         250

static gint find_path (PinholeSession *self,
                       PinholePath    *path);

static PinholePath *
current_path (PinholeSession *self)
{
  PathEntry *entry;

  if (self->paths->len == 0)
    return NULL;
  entry = g_ptr_array_index (self->paths, self->paths->len - 1);
  return entry->path;
}

void
_pinhole_session_send_packet (PinholeSession *self,
                              GBytes         *packet)
{
  PinholePath *path = current_path (self);
  g_autoptr(GError) error = NULL;

  if (path == NULL)
    {
      g_debug ("no path: packet of %" G_GSIZE_FORMAT " bytes not sent",
               g_bytes_get_size (packet));
      return;
    }
  /* a refused send is a lost packet: retransmission covers it */
  if (!pinhole_path_send (path, packet, &error))
    g_debug ("path %s refused a packet: %s", pinhole_path_get_remote (path), error->message);
}

/* ---- paths ---- */

static void
path_received_cb (PinholePath *path,
                  GBytes      *packet,
                  gpointer     user_data)
{
  g_autoptr(PinholeSession) self = g_object_ref (user_data);
  gint index = find_path (self, path);

  self->rx_entry = index >= 0 ? g_ptr_array_index (self->paths, (guint) index) : NULL;
  _pinhole_session_process_packet (self, packet);
  self->rx_entry = NULL;
}

static void
path_closed_cb (PinholePath  *path,
                const GError *error,
                gpointer      user_data)
{
  g_autoptr(PinholeSession) self = g_object_ref (user_data);
  g_autoptr(PinholePath) hold G_GNUC_UNUSED = g_object_ref (path);

  g_debug ("path %s to %s closed: %s", pinhole_path_get_remote (path), self->peer_id,
           error != NULL ? error->message : "by us");
  pinhole_session_detach_path (self, path);
}

/* the path took what it held: bulk frames may go on (only the current path carries them) */
static void
path_drained_cb (PinholePath *path,
                 gpointer     user_data)
{
  PinholeSession *self = user_data;

  if (pinhole_session_get_path (self) == path)
    _pinhole_session_pump (self);
}

void
_pinhole_session_path_entry_free (gpointer data)
{
  PathEntry *entry = data;

  g_clear_signal_handler (&entry->received_id, entry->path);
  g_clear_signal_handler (&entry->closed_id, entry->path);
  g_clear_signal_handler (&entry->drained_id, entry->path);
  g_object_unref (entry->path);
  g_free (entry);
}

static gint
find_path (PinholeSession *self,
           PinholePath    *path)
{
  for (guint i = 0; i < self->paths->len; i++)
    {
      PathEntry *entry = g_ptr_array_index (self->paths, i);

      if (entry->path == path)
        return (gint) i;
    }
  return -1;
}


/* a new current path: resend everything unacknowledged on it and measure it */
static void
current_path_changed (PinholeSession *self)
{
  g_autoptr(PinholeSession) hold G_GNUC_UNUSED = g_object_ref (self);
  PinholePath *path = current_path (self);

  g_debug ("session with %s now on %s", self->peer_id,
           path != NULL ? pinhole_path_get_remote (path) : "no path");
  g_signal_emit (self, _pinhole_session_signals[PINHOLE_SESSION_SIGNAL_PATH_CHANGED], 0);
  if (path == NULL || !_pinhole_session_is_live (self))
    return;

  /* the old path's RTT says nothing about this one */
  self->srtt = -1;
  self->rttvar = 0;
  _pinhole_session_reset_bulk_window (self);

  if (self->hs_packet != NULL &&
      (self->state == PINHOLE_SESSION_STATE_HANDSHAKING || !self->peer_confirmed))
    _pinhole_session_send_packet (self, self->hs_packet);

  if (self->state == PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      for (GList *l = self->in_flight.head; l != NULL; l = l->next)
        _pinhole_session_transmit_data (self, l->data);
      self->recover_seq = 0;
      self->dup_acks = 0;
      pinhole_session_ping (self);
      /* a new path is probed at once and must answer like any other */
      {
        PathEntry *entry = g_ptr_array_index (self->paths, self->paths->len - 1);

        entry->probe_time = entry->probe_sent = g_get_monotonic_time ();
      }
      _pinhole_session_arm_liveness (self);
      /* bulk frames the old path held back may go on this one */
      _pinhole_session_pump (self);
    }
  if (_pinhole_session_is_live (self))
    _pinhole_session_restart_retransmit (self);
}

/**
 * pinhole_session_attach_path:
 * @path: a path to the peer device
 *
 * Listens to @path, makes it the current path and resends on it whatever is
 * unacknowledged. Packets are accepted on every attached path. Attaching an attached
 * path makes it current again.
 */
void
pinhole_session_attach_path (PinholeSession *self,
                             PinholePath    *path)
{
  PathEntry *entry;
  gint index;

  g_return_if_fail (PINHOLE_IS_SESSION (self));
  g_return_if_fail (PINHOLE_IS_PATH (path));

  if (current_path (self) == path)
    return;

  index = find_path (self, path);
  if (index >= 0)
    {
      entry = g_ptr_array_steal_index (self->paths, (guint) index);
    }
  else
    {
      entry = g_new0 (PathEntry, 1);
      entry->path = g_object_ref (path);
      entry->received_id = g_signal_connect (path, "received",
                                             G_CALLBACK (path_received_cb), self);
      entry->closed_id = g_signal_connect (path, "closed", G_CALLBACK (path_closed_cb), self);
      entry->drained_id = g_signal_connect (path, "drained", G_CALLBACK (path_drained_cb), self);
    }
  g_ptr_array_add (self->paths, entry);
  current_path_changed (self);
}

/**
 * pinhole_session_add_backup_path:
 * @path: a path to the peer device
 *
 * Listens to @path like an attached path but leaves the current one alone: @path becomes
 * current when the others are detached (a relay channel opened again behind a working direct
 * path). With no current path it is attached as by pinhole_session_attach_path().
 */
void
pinhole_session_add_backup_path (PinholeSession *self,
                                 PinholePath    *path)
{
  PathEntry *entry;

  g_return_if_fail (PINHOLE_IS_SESSION (self));
  g_return_if_fail (PINHOLE_IS_PATH (path));

  if (current_path (self) == NULL)
    {
      pinhole_session_attach_path (self, path);
      return;
    }
  if (find_path (self, path) >= 0)
    return;
  entry = g_new0 (PathEntry, 1);
  entry->path = g_object_ref (path);
  entry->received_id = g_signal_connect (path, "received", G_CALLBACK (path_received_cb), self);
  entry->closed_id = g_signal_connect (path, "closed", G_CALLBACK (path_closed_cb), self);
  entry->drained_id = g_signal_connect (path, "drained", G_CALLBACK (path_drained_cb), self);
  /* the least recently attached: the last to become current */
  g_ptr_array_insert (self->paths, 0, entry);
}

/**
 * pinhole_session_detach_path:
 * @path: an attached path
 *
 * Stops listening to @path; if it was current, the most recently attached of the others
 * becomes current. Does not close @path.
 */
void
pinhole_session_detach_path (PinholeSession *self,
                             PinholePath    *path)
{
  gboolean was_current;
  gint index;

  g_return_if_fail (PINHOLE_IS_SESSION (self));
  g_return_if_fail (PINHOLE_IS_PATH (path));

  index = find_path (self, path);
  if (index < 0)
    return;
  was_current = current_path (self) == path;
  g_ptr_array_remove_index (self->paths, (guint) index);
  if (was_current)
    current_path_changed (self);
}

/**
 * pinhole_session_get_path:
 * Returns: (transfer none) (nullable): the path frames are sent on
 */
PinholePath *
pinhole_session_get_path (PinholeSession *self)
{
  g_return_val_if_fail (PINHOLE_IS_SESSION (self), NULL);
  return current_path (self);
}

/* ---- pings ---- */

static gboolean
ping_cb (gpointer user_data)
{
  PinholeSession *self = user_data;
  gint64 now = g_get_monotonic_time ();

  if (now - self->last_rx_time >= (gint64) self->timeout_ms * 1000)
    {
      self->ping_source = 0;
      _pinhole_session_fail (self, PINHOLE_ERROR_TIMEOUT, "Nothing heard from %s for %u ms",
                             self->peer_id, self->timeout_ms);
      return G_SOURCE_REMOVE;
    }
  pinhole_session_ping (self);
  return G_SOURCE_CONTINUE;
}

void
_pinhole_session_arm_ping (PinholeSession *self)
{
  g_clear_handle_id (&self->ping_source, g_source_remove);
  if (self->state == PINHOLE_SESSION_STATE_ESTABLISHED && self->ping_interval_ms > 0)
    self->ping_source = g_timeout_add (self->ping_interval_ms, ping_cb, self);
}

/* ---- direct path liveness ---- */

static gboolean
liveness_cb (gpointer user_data)
{
  PinholeSession *self = user_data;
  PinholePath *path = current_path (self);
  PathEntry *entry;
  gint64 now = g_get_monotonic_time ();
  gboolean active, outstanding;

  if (path == NULL || pinhole_path_get_kind (path) == PINHOLE_PATH_KIND_RELAY ||
      self->state != PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      self->liveness_source = 0;
      return G_SOURCE_REMOVE;
    }
  entry = g_ptr_array_index (self->paths, self->paths->len - 1);
  outstanding = entry->probe_time > entry->last_rx;
  if (outstanding && now - entry->probe_time >= (gint64) PROBE_WAIT_MS * 1000 &&
      now - entry->last_rx >= (gint64) PATH_DEAD_AFTER_MS * 1000)
    {
      g_autoptr(PinholePath) dead = g_object_ref (path);
      g_autoptr(PinholeSession) hold G_GNUC_UNUSED = g_object_ref (self);

      g_debug ("path %s to %s silent for %" G_GINT64_FORMAT " ms: falling back",
               pinhole_path_get_remote (dead), self->peer_id, (now - entry->last_rx) / 1000);
      self->liveness_source = 0;
      pinhole_session_detach_path (self, dead);
      g_signal_emit (self, _pinhole_session_signals[PINHOLE_SESSION_SIGNAL_PATH_LOST], 0, dead);
      return G_SOURCE_REMOVE;
    }
  active = now - self->last_data_time < (gint64) ACTIVE_WINDOW_MS * 1000;
  if (outstanding && now - entry->probe_sent >= (gint64) PROBE_REPEAT_MS * 1000)
    {
      /* one lost probe must not look like a dead path */
      entry->probe_sent = now;
      pinhole_session_ping (self);
    }
  else if (!outstanding &&
           now - MAX (entry->probe_time, entry->last_rx) >=
           (gint64) (active ? HEARTBEAT_ACTIVE_MS : HEARTBEAT_IDLE_MS) * 1000)
    {
      entry->probe_time = entry->probe_sent = now;
      pinhole_session_ping (self);
    }
  return G_SOURCE_CONTINUE;
}

void
_pinhole_session_arm_liveness (PinholeSession *self)
{
  PinholePath *path = current_path (self);

  if (self->liveness_source != 0 || path == NULL ||
      pinhole_path_get_kind (path) == PINHOLE_PATH_KIND_RELAY ||
      self->state != PINHOLE_SESSION_STATE_ESTABLISHED)
    return;
  self->liveness_source = g_timeout_add (LIVENESS_TICK_MS, liveness_cb, self);
}
