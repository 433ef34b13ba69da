/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-file-discard.c: the recipient's partial files of a cancelled transfer removed by
 * name, in a worker, when no writer of them is open (docs/transfer.md §6, §8): after a
 * restart, or while writers were still being opened. The opens follow no link, as writing
 * does (pinhole_file_writer_discard_entry()). */
#define G_LOG_DOMAIN "pinhole-transfer"

#include "pinhole-file-writer.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

typedef struct
{
  char            *folder;
  PinholeManifest *manifest;   /* a copy */
  GArray          *accepted;
} DiscardData;

static void
discard_data_free (gpointer data)
{
  DiscardData *d = data;

  g_free (d->folder);
  pinhole_manifest_free (d->manifest);
  g_array_unref (d->accepted);
  g_free (d);
}

static void
discard_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  DiscardData *d = task_data;
  int fd = open (d->folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  for (guint i = 0; fd >= 0 && d->manifest != NULL && i < d->accepted->len; i++)
    {
      PinholeManifestEntry *e = pinhole_manifest_get_entry (d->manifest,
                                                            g_array_index (d->accepted,
                                                                           guint32, i));
      g_autoptr(GError) error = NULL;

      if (!e->folder && !pinhole_file_writer_discard_entry (fd, e, &error))
        g_debug ("%s", error->message);
    }
  if (fd >= 0)
    close (fd);
  g_task_return_boolean (task, TRUE);
}

/**
 * pinhole_file_discard_partials_async:
 * @manifest: copied; @accepted: the entries whose partials go, copied
 * Removes the partial file of each accepted file entry below @folder, in a worker; a partial
 * that is not there is no error.
 */
void
pinhole_file_discard_partials_async (const char          *folder,
                                     PinholeManifest     *manifest,
                                     GArray              *accepted,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  DiscardData *d = g_new0 (DiscardData, 1);
  gsize len;
  g_autofree char *text = pinhole_manifest_to_string (manifest, &len);

  d->folder = g_strdup (folder);
  d->manifest = pinhole_manifest_parse (text, len, NULL);
  d->accepted = g_array_copy (accepted);
  g_task_set_source_tag (task, pinhole_file_discard_partials_async);
  g_task_set_task_data (task, d, discard_data_free);
  g_task_run_in_thread (task, discard_thread);
}
