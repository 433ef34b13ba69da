/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-instance-bus.h: what the running instance of a profile (pinhole-instance.c) and the
 * one-shot commands that call it agree on: the session bus to use, the profile's bus name,
 * object paths, the D-Bus names of PINHOLE_ERROR, and the bounds on a caller. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* the instance, and the object manager of its contacts */
#define PINHOLE_INSTANCE_OBJECT_PATH   "/org/pinhole/Pinhole"
#define PINHOLE_INSTANCE_CONTACTS_PATH "/org/pinhole/Pinhole/contacts"

/* method calls the instance works on at once, over all callers; more are refused with
 * org.freedesktop.DBus.Error.LimitsExceeded */
#define PINHOLE_INSTANCE_MAX_CALLS 64
/* the longest user name a caller may pass */
#define PINHOLE_INSTANCE_MAX_USER  256
/* the paths one SendFiles call may name, and the longest of them */
#define PINHOLE_INSTANCE_MAX_SEND_PATHS 256
#define PINHOLE_INSTANCE_MAX_SEND_PATH  4096
/* paths watched at once (OpenPath), over all callers: each keeps a device probing */
#define PINHOLE_INSTANCE_MAX_WATCHES 16

const char *pinhole_instance_get_bus_address  (void);
char       *pinhole_instance_dup_bus_name     (const char *profile_dir);
char       *pinhole_instance_dup_contact_path (const char *user);
void        pinhole_instance_register_errors  (void);

G_END_DECLS
