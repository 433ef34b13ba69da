/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-relay-channels.c: relay channel number → PinholeRelayPath, and the routing of relay
 * frames (docs/protocol.md §7) to them. */
#define G_LOG_DOMAIN "pinhole-relay"

#include "pinhole-relay-channels.h"
#include "pinhole-stanza.h"

struct _PinholeRelayChannels
{
  GHashTable *paths;   /* channel → PinholeRelayPath (owned) */
};

PinholeRelayChannels *
pinhole_relay_channels_new (void)
{
  PinholeRelayChannels *self = g_new0 (PinholeRelayChannels, 1);

  self->paths = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
  return self;
}

void
pinhole_relay_channels_free (PinholeRelayChannels *self)
{
  g_hash_table_unref (self->paths);
  g_free (self);
}

void
pinhole_relay_channels_add (PinholeRelayChannels *self,
                            PinholeRelayPath     *relay)
{
  g_hash_table_insert (self->paths, GUINT_TO_POINTER (pinhole_relay_path_get_channel (relay)),
                       g_object_ref (relay));
}

/* Returns: whether @relay was the path of its channel (and is no longer) */
gboolean
pinhole_relay_channels_remove (PinholeRelayChannels *self,
                               PinholeRelayPath     *relay)
{
  gpointer channel = GUINT_TO_POINTER (pinhole_relay_path_get_channel (relay));

  if (g_hash_table_lookup (self->paths, channel) != relay)
    return FALSE;
  return g_hash_table_remove (self->paths, channel);
}

/* Returns: (transfer none) (nullable) */
PinholeRelayPath *
pinhole_relay_channels_lookup (PinholeRelayChannels *self,
                               guint32               channel)
{
  return g_hash_table_lookup (self->paths, GUINT_TO_POINTER (channel));
}

/* one binary message from the server; frames of unknown channels are dropped */
void
pinhole_relay_channels_deliver (PinholeRelayChannels *self,
                                GBytes               *message)
{
  guint32 channel;
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GError) error = NULL;
  PinholeRelayPath *path;

  if (!pinhole_relay_frame_parse (message, &channel, &payload, &error))
    {
      g_debug ("bad relay frame: %s", error->message);
      return;
    }
  path = pinhole_relay_channels_lookup (self, channel);
  if (path != NULL)
    _pinhole_relay_path_deliver (path, payload);
}

/* the server connection is gone: every relay path closes with @error */
void
pinhole_relay_channels_lose_all (PinholeRelayChannels *self,
                                 const GError         *error)
{
  g_autoptr(GHashTable) paths = g_steal_pointer (&self->paths);
  GHashTableIter iter;
  PinholeRelayPath *relay;

  self->paths = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
  g_hash_table_iter_init (&iter, paths);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &relay))
    _pinhole_relay_path_lost (relay, error);
}
