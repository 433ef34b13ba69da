/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-transfers.h: what the transfer tests with real programs share: a `listen` of a
 * profile (on a test bus or none, accepting files or not), and the waits they match. */
#pragma once

#include "pinhole-test-fixture.h"

G_BEGIN_DECLS

/* Returns: (transfer none): @profile's listen, online; debug lines of pinhole-transfer in it */
PhProc   *ph_transfer_listen        (PhFixture  *f,
                                     const char *profile,
                                     const char *bus_env,      /* nullable: no bus */
                                     const char *accept_dir);  /* nullable */
/* a PhEventMatch: a progress event of at least *(gint64 *) data bytes */
gboolean  ph_transfer_progress_past (JsonObject *event,
                                     gpointer    data);
/* for ph_iterate_until (): the folder @data holds no partial file */
gboolean  ph_transfer_no_partials   (gpointer    data);

G_END_DECLS
