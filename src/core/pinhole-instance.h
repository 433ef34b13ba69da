/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-instance.h: the running instance of a profile on the session bus. The program that
 * owns the profile's server connection (pinhole-cli listen, later the app) exports its
 * client's model with it: the instance at /org/pinhole/Pinhole, one object per contact below
 * it, under the profile's own bus name, so that one-shot commands use this connection
 * instead of logging in again (org.pinhole.Pinhole.xml, docs/architecture.md). */
#pragma once

#include <gio/gio.h>

#include "pinhole-client.h"

G_BEGIN_DECLS

#define PINHOLE_TYPE_INSTANCE (pinhole_instance_get_type ())
G_DECLARE_FINAL_TYPE (PinholeInstance, pinhole_instance, PINHOLE, INSTANCE, GObject)

PinholeInstance *pinhole_instance_new          (PinholeClient       *client);
const char      *pinhole_instance_get_bus_name (PinholeInstance     *self);
void             pinhole_instance_start_async  (PinholeInstance     *self,
                                                const char          *address,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
gboolean         pinhole_instance_start_finish (PinholeInstance     *self,
                                                GAsyncResult        *result,
                                                GError             **error);
void             pinhole_instance_stop_async   (PinholeInstance     *self,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
gboolean         pinhole_instance_stop_finish  (PinholeInstance     *self,
                                                GAsyncResult        *result,
                                                GError             **error);

G_END_DECLS
