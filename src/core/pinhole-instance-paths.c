/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-instance-paths.c: the paths callers of a running instance watch (OpenPath): the
 * device keeps probing its session's RTT while someone watches, and stops when the last
 * watcher calls ClosePath or leaves the bus, so that no caller can leave it probing. */
#define G_LOG_DOMAIN "pinhole-instance"

#include "pinhole-instance-private.h"
#include "pinhole-error.h"
#include "pinhole-instance-bus.h"

typedef struct
{
  /* borrowed: the instance owns its watches */
  PinholeInstance *instance;

  /* owned */
  char            *key;       /* "sender user" */
  char            *sender;
  PinholeDevice   *device;    /* held probing */

  guint            name_watch;
} PathWatch;

static void
watch_free (PathWatch *w)
{
  g_clear_handle_id (&w->name_watch, g_bus_unwatch_name);
  pinhole_device_release_probes (w->device);
  g_object_unref (w->device);
  g_free (w->sender);
  g_free (w->key);
  g_free (w);
}

/* Returns: (transfer full): an empty table of watches */
GHashTable *
_pinhole_instance_watches_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) watch_free);
}

static char *
watch_key (const char *sender,
           const char *user)
{
  /* no bus name holds a space */
  return g_strconcat (sender, " ", user, NULL);
}

/* the caller left the bus: its watches end with it */
static void
sender_vanished_cb (GDBusConnection *connection,
                    const char      *name,
                    gpointer         user_data)
{
  PathWatch *w = user_data;
  PinholeInstance *self = w->instance;
  GHashTableIter iter;
  PathWatch *other;

  g_debug ("%s left the bus: its paths are no longer watched", name);
  g_hash_table_iter_init (&iter, self->watches);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &other))
    if (g_strcmp0 (other->sender, name) == 0)
      g_hash_table_iter_remove (&iter);
}

/**
 * _pinhole_instance_watch_path:
 * @sender: the caller's unique bus name
 * Keeps @device probing while @sender watches @user's path. Watching again is one watch.
 * Returns: %FALSE with %PINHOLE_ERROR_LIMIT past PINHOLE_INSTANCE_MAX_WATCHES
 */
gboolean
_pinhole_instance_watch_path (PinholeInstance *self,
                              const char      *sender,
                              const char      *user,
                              PinholeDevice   *device,
                              GError         **error)
{
  g_autofree char *key = watch_key (sender, user);
  PathWatch *w = g_hash_table_lookup (self->watches, key);

  if (w != NULL && w->device == device)
    return TRUE;
  if (w == NULL && g_hash_table_size (self->watches) >= PINHOLE_INSTANCE_MAX_WATCHES)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "at most %d paths are watched at once", PINHOLE_INSTANCE_MAX_WATCHES);
      return FALSE;
    }
  /* the session moved to another device of the contact: watch that one */
  if (w != NULL)
    g_hash_table_remove (self->watches, key);
  w = g_new0 (PathWatch, 1);
  w->instance = self;
  w->key = g_steal_pointer (&key);
  w->sender = g_strdup (sender);
  w->device = g_object_ref (device);
  pinhole_device_hold_probes (device);
  g_hash_table_insert (self->watches, w->key, w);
  /* after the insert: a caller already gone is told at once, and removes it */
  w->name_watch = g_bus_watch_name_on_connection (self->connection, sender,
                                                  G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                                  sender_vanished_cb, w, NULL);
  return TRUE;
}

void
_pinhole_instance_unwatch_path (PinholeInstance *self,
                                const char      *sender,
                                const char      *user)
{
  g_autofree char *key = watch_key (sender, user);

  g_hash_table_remove (self->watches, key);
}
