/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-instance-private.h: the instance's state, shared by pinhole-instance.c (the bus
 * connection, the name and the exported objects), pinhole-instance-calls.c (the methods) and
 * pinhole-instance-paths.c (the paths callers watch). */
#pragma once

#include "pinhole-dbus-generated.h"
#include "pinhole-instance.h"

G_BEGIN_DECLS

struct _PinholeInstance
{
  GObject                   parent_instance;

  /* owned */
  PinholeClient            *client;
  char                     *bus_name;
  GDBusConnection          *connection;   /* our own, so that closing it releases the name */
  GDBusObjectManagerServer *manager;
  PinholeDBusInstance      *skeleton;
  GHashTable               *exported;     /* user → PinholeInstanceContact */
  GHashTable               *watches;      /* "sender user" → a watched path (-paths.c) */
  GCancellable             *cancellable;  /* cancelled in dispose: ends every call */

  GPtrArray                *transfers;    /* PinholeTransfer watched (-transfers.c) */
  gulong                    contacts_changed_id;
  gulong                    transfers_changed_id;
  gulong                    pending_changed_id;
  guint                     n_calls;      /* at most PINHOLE_INSTANCE_MAX_CALLS */
};

/* one exported contact */
typedef struct
{
  /* borrowed: the instance owns this record */
  PinholeInstance           *instance;

  /* owned */
  char                      *user;
  PinholeContact            *contact;
  PinholeDBusObjectSkeleton *object;
  PinholeDBusContact        *skeleton;
  GPtrArray                 *bindings;    /* GBinding*, unbound on unexport */
  GListModel                *devices;

  gulong                     devices_changed_id;
} PinholeInstanceContact;

void       _pinhole_instance_connect_calls         (PinholeInstance        *self);
void       _pinhole_instance_connect_contact_calls (PinholeInstance        *self,
                                                    PinholeInstanceContact *exported);

void       _pinhole_instance_transfers_start (PinholeInstance *self);
void       _pinhole_instance_transfers_stop  (PinholeInstance *self);
GVariant  *_pinhole_instance_list_transfers  (PinholeInstance *self);

GHashTable *_pinhole_instance_watches_new  (void);
gboolean   _pinhole_instance_watch_path    (PinholeInstance        *self,
                                            const char             *sender,
                                            const char             *user,
                                            PinholeDevice          *device,
                                            GError                **error);
void       _pinhole_instance_unwatch_path  (PinholeInstance        *self,
                                            const char             *sender,
                                            const char             *user);

G_END_DECLS
