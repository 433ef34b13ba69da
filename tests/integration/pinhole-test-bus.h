/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-bus.h: a session bus of the test's own (dbus-daemon --session), for the tests
 * of a running instance: its address goes to the children that should see it; every other
 * child is started without one (ph_proc_spawn drops DBUS_SESSION_BUS_ADDRESS). */
#pragma once

#include "pinhole-test-harness.h"

G_BEGIN_DECLS

typedef struct
{
  PhProc *proc;
  char   *address;   /* unix:path=…,guid=… */
  char   *env;       /* DBUS_SESSION_BUS_ADDRESS=address, for PhCliOptions.env */
  char   *config;    /* nullable: the configuration file written for it */
} PhBus;

PhBus *ph_bus_start           (void);
PhBus *ph_bus_start_anonymous (void);
void   ph_bus_free            (PhBus *bus);   /* stops the daemon by its PID */

G_END_DECLS
