/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-profile-lock.h: one running instance per profile. The program that keeps a
 * profile's server connection (pinhole-cli listen; the GTK app, when it comes) holds the
 * profile's lock until it has shut down; a second one is refused with who holds it. One-shot
 * commands take no lock. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PinholeProfileLock PinholeProfileLock;

PinholeProfileLock *pinhole_profile_lock_acquire (const char         *dir,
                                                  GError            **error);
void                pinhole_profile_lock_release (PinholeProfileLock *lock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeProfileLock, pinhole_profile_lock_release)

G_END_DECLS
