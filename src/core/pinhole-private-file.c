/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-private-file.c: SQLite creates its file 0644 less the umask, readable by every user
 * of the machine, and gives the -wal and -shm files the mode of the database file. So the
 * file is made 0600 before SQLite opens it, and an older one (with its -wal and -shm) is
 * brought to 0600. */
#include "pinhole-private-file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

/**
 * pinhole_private_file_prepare:
 * @path: a SQLite database file, created when missing
 * Makes @path, and its -wal and -shm files where they exist, mode 0600. Called before the
 * database is opened, on the opening thread: it touches three inodes of a local folder.
 * Returns: whether it could
 */
gboolean
pinhole_private_file_prepare (const char *path,
                              GError    **error)
{
  const char *suffixes[] = { "-wal", "-shm" };
  int fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  int saved;

  if (fd < 0 || fchmod (fd, 0600) != 0)
    {
      saved = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s",
                   path, g_strerror (saved));
      return FALSE;
    }
  close (fd);
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *other = g_strconcat (path, suffixes[i], NULL);

      if (g_chmod (other, 0600) != 0 && errno != ENOENT)
        {
          saved = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot chmod %s: %s",
                       other, g_strerror (saved));
          return FALSE;
        }
    }
  return TRUE;
}
