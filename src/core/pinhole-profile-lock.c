/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-profile-lock.c: the profile's instance lock, an flock(2) on PROFILE/instance.lock
 * holding the owner's process id. The kernel drops the lock when its holder exits, however
 * it exits, so a crash never leaves a profile locked. */
#define G_LOG_DOMAIN "pinhole-profile"

#include "pinhole-profile-lock.h"
#include "pinhole-error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

struct _PinholeProfileLock
{
  int   fd;
  char *path;
};

/* the process id the holder wrote, or 0 when it cannot be read */
static long
read_holder (int fd)
{
  char buf[32];
  ssize_t n = pread (fd, buf, sizeof buf - 1, 0);

  if (n <= 0)
    return 0;
  buf[n] = '\0';
  return strtol (buf, NULL, 10);
}

/**
 * pinhole_profile_lock_acquire:
 * @dir: the profile folder, which must exist
 * Takes the profile's instance lock, or fails with %PINHOLE_ERROR_BUSY when another process
 * holds it. A small local file: opened on the calling thread, at start-up only.
 * Returns: (transfer full) (nullable): the lock, held until pinhole_profile_lock_release()
 */
PinholeProfileLock *
pinhole_profile_lock_acquire (const char *dir,
                              GError    **error)
{
  g_autofree char *path = NULL;
  g_autofree char *pid = NULL;
  PinholeProfileLock *lock;
  int fd;

  g_return_val_if_fail (dir != NULL, NULL);

  path = g_build_filename (dir, "instance.lock", NULL);
  fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot open %s: %s",
                   path, g_strerror (saved));
      return NULL;
    }
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      int saved = errno;
      long holder = saved == EWOULDBLOCK ? read_holder (fd) : 0;

      close (fd);
      if (saved != EWOULDBLOCK)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot lock %s: %s",
                       path, g_strerror (saved));
          return NULL;
        }
      if (holder > 0)
        g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_BUSY,
                     "the profile %s is in use by another Pinhole (process %ld)", dir, holder);
      else
        g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_BUSY,
                     "the profile %s is in use by another Pinhole", dir);
      return NULL;
    }
  pid = g_strdup_printf ("%ld\n", (long) getpid ());
  if (ftruncate (fd, 0) != 0 || pwrite (fd, pid, strlen (pid), 0) != (ssize_t) strlen (pid))
    g_debug ("cannot write the process id into %s: %s", path, g_strerror (errno));

  lock = g_new0 (PinholeProfileLock, 1);
  lock->fd = fd;
  lock->path = g_steal_pointer (&path);
  return lock;
}

/* lets the next instance have the profile */
void
pinhole_profile_lock_release (PinholeProfileLock *lock)
{
  if (lock == NULL)
    return;
  /* emptied first, so that no one reads a stale process id in the moment before close */
  if (ftruncate (lock->fd, 0) != 0)
    g_debug ("cannot empty %s: %s", lock->path, g_strerror (errno));
  close (lock->fd);
  g_free (lock->path);
  g_free (lock);
}
