/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-transfer-text.c: a transfer card's words. Sizes and rates are GLib's
 * (g_format_size, decimal units as GNOME shows them); the path in use is said in the header's
 * words (pinhole-path-text.c), so that a card and the header never disagree. */
#include "pinhole-transfer-text.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pinhole-path-text.h"

/* the first component of @path, or all of it */
static char *
top_component (const char *path)
{
  const char *slash = strchr (path, '/');

  return slash != NULL ? g_strndup (path, slash - path) : g_strdup (path);
}

/* the index of the one entry that stands for the whole offer (a single file, or the folder
 * everything is in); -1 when there is none (several files side by side) */
gint
pinhole_transfer_text_main_entry (PinholeManifest *manifest)
{
  guint n = pinhole_manifest_get_n_entries (manifest);
  g_autofree char *top = NULL;
  gint folder = -1;

  if (n == 0)
    return -1;
  if (n == 1)
    return 0;
  top = top_component (pinhole_manifest_get_entry (manifest, 0)->path);
  for (guint i = 0; i < n; i++)
    {
      PinholeManifestEntry *e = pinhole_manifest_get_entry (manifest, i);
      g_autofree char *t = top_component (e->path);

      if (g_strcmp0 (t, top) != 0)
        return -1;
      if (e->folder && g_strcmp0 (e->path, top) == 0)
        folder = (gint) i;
    }
  return folder;
}

/* Returns: (transfer full) (nullable): the folder every entry is in or is ("photos" for
 * "photos/a.jpg" and "photos/2024/b.jpg"); %NULL for a single file or entries side by side */
char *
pinhole_transfer_text_common_folder (PinholeManifest *manifest)
{
  guint n = pinhole_manifest_get_n_entries (manifest);
  g_autofree char *top = NULL;
  gboolean inside = FALSE;

  for (guint i = 0; i < n; i++)
    {
      PinholeManifestEntry *e = pinhole_manifest_get_entry (manifest, i);
      g_autofree char *t = top_component (e->path);

      if (top != NULL && g_strcmp0 (t, top) != 0)
        return NULL;
      /* below it, or the folder's own entry */
      inside = inside || strchr (e->path, '/') != NULL || e->folder;
      if (top == NULL)
        top = g_steal_pointer (&t);
    }
  return inside ? g_steal_pointer (&top) : NULL;
}

/* Returns: (transfer full): "beach.jpg", "photos" (a folder and what is in it), "3 files" */
char *
pinhole_transfer_text_title (PinholeManifest *manifest)
{
  guint n = pinhole_manifest_get_n_entries (manifest);
  guint files = 0;
  g_autofree char *top = NULL;
  gboolean one_top = TRUE;

  for (guint i = 0; i < n; i++)
    {
      PinholeManifestEntry *e = pinhole_manifest_get_entry (manifest, i);
      g_autofree char *t = top_component (e->path);

      if (!e->folder)
        files++;
      if (top == NULL)
        top = g_steal_pointer (&t);
      else if (g_strcmp0 (t, top) != 0)
        one_top = FALSE;
    }
  /* one file, or everything inside one folder: its name says it best */
  if (top != NULL && one_top)
    return g_steal_pointer (&top);
  return g_strdup_printf (g_dngettext (NULL, "%u file", "%u files", files), files);
}

/* Returns: (transfer full): "2.5 MB", or "2.5 MB · 3 files" when there are several */
char *
pinhole_transfer_text_size (PinholeManifest *manifest)
{
  g_autofree char *size = g_format_size (pinhole_manifest_get_total_bytes (manifest));
  guint files = 0;

  for (guint i = 0; i < pinhole_manifest_get_n_entries (manifest); i++)
    if (!pinhole_manifest_get_entry (manifest, i)->folder)
      files++;
  if (files <= 1)
    return g_steal_pointer (&size);
  /* Translators: a transfer's size and how many files it has: "2.5 MB · 3 files" */
  return g_strdup_printf (g_dngettext (NULL, "%s · %u file", "%s · %u files", files), size,
                          files);
}

/* Returns: (transfer full): "40 s left", "3 min left", "2 h 5 min left" */
char *
pinhole_transfer_text_time_left (guint64 seconds)
{
  if (seconds < 60)
    /* Translators: the time a transfer still needs, in seconds */
    return g_strdup_printf (_("%u s left"), (guint) seconds);
  if (seconds < 3600)
    /* Translators: the time a transfer still needs, in minutes */
    return g_strdup_printf (_("%u min left"), (guint) ((seconds + 30) / 60));
  if (seconds < 100 * 3600)
    /* Translators: the time a transfer still needs, in hours and minutes */
    return g_strdup_printf (_("%u h %u min left"), (guint) (seconds / 3600),
                            (guint) (seconds % 3600 / 60));
  return g_strdup (_("more than 4 days left"));
}

/**
 * pinhole_transfer_text_progress:
 * @rate: bytes a second; 0 while not measured
 * Returns: (transfer full): "12.3 MB of 1.0 GB · 24.0 MB/s · 40 s left"; the rate and the time
 * only while it moves and the rate is known
 */
char *
pinhole_transfer_text_progress (guint64  done,
                                guint64  total,
                                gdouble  rate,
                                gboolean paused)
{
  g_autofree char *d = g_format_size (done);
  g_autofree char *t = g_format_size (total);
  g_autofree char *of = NULL;
  g_autofree char *r = NULL;
  g_autofree char *left = NULL;

  /* Translators: a transfer's progress: "12.3 MB of 1.0 GB" */
  of = g_strdup_printf (_("%s of %s"), d, t);
  if (paused || rate < 1 || done >= total)
    return g_steal_pointer (&of);
  r = g_format_size ((guint64) rate);
  left = pinhole_transfer_text_time_left ((guint64) ((total - done) / rate + 0.5));
  /* Translators: a transfer's progress, its speed and the time left:
   * "12.3 MB of 1.0 GB · 24.0 MB/s · 40 s left" */
  return g_strdup_printf (_("%s · %s/s · %s"), of, r, left);
}

/* Returns: (transfer full) (nullable): the header's words for the path, without the
 * round-trip time ("Direct · UDP hole punch", "Relayed via server") */
char *
pinhole_transfer_text_path (const char *path_kind_nick)
{
  PinholePathKind kind;

  if (path_kind_nick == NULL || !pinhole_path_kind_from_string (path_kind_nick, &kind))
    return NULL;
  return pinhole_path_text_title (kind, -1);
}

/* Returns: (transfer full): the card's sentence for where the transfer stands */
char *
pinhole_transfer_text_status (PinholeTransferDirection  direction,
                              PinholeTransferState      state,
                              const char               *peer,
                              const char               *error)
{
  gboolean out = direction == PINHOLE_TRANSFER_DIRECTION_OUTGOING;

  switch (state)
    {
    case PINHOLE_TRANSFER_STATE_OFFERING:
      /* Translators: %s is the contact's user name */
      return g_strdup_printf (_("Offering to %s…"), peer);
    case PINHOLE_TRANSFER_STATE_OFFERED:
      if (out)
        /* Translators: %s is the contact's user name */
        return g_strdup_printf (_("Waiting for %s to accept"), peer);
      /* Translators: %s is the contact's user name */
      return g_strdup_printf (_("%s wants to send you this"), peer);
    case PINHOLE_TRANSFER_STATE_RUNNING:
      return out ? g_strdup_printf (_("Sending to %s"), peer)
                 : g_strdup_printf (_("Receiving from %s"), peer);
    case PINHOLE_TRANSFER_STATE_PAUSED:
      return g_strdup (_("Paused"));
    case PINHOLE_TRANSFER_STATE_DONE:
      /* Translators: %s is the contact's user name */
      return out ? g_strdup_printf (_("Delivered to %s and verified."), peer)
                 : g_strdup (_("Received and verified."));
    case PINHOLE_TRANSFER_STATE_DECLINED:
      return out ? g_strdup_printf (_("%s declined it."), peer)
                 : g_strdup (_("You declined it."));
    case PINHOLE_TRANSFER_STATE_CANCELLED:
      return g_strdup (_("The transfer was cancelled."));
    case PINHOLE_TRANSFER_STATE_FAILED:
    default:
      if (error != NULL && *error != '\0')
        /* Translators: %s is the reason, a sentence from the other side or the disk */
        return g_strdup_printf (_("The transfer failed: %s"), error);
      return g_strdup (_("The transfer failed."));
    }
}
