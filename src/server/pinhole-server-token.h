/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server-token.h: what a login token that a device presents is worth: it expires, and
 * one old enough is replaced by a new one, the old staying good a little while for another
 * process of the same profile that read it before (docs/protocol.md §4). */
#pragma once

#include "pinhole-store.h"

G_BEGIN_DECLS

typedef enum
{
  PINHOLE_TOKEN_REFUSED,   /* not this device's token */
  PINHOLE_TOKEN_EXPIRED,   /* this device's, but older than its lifetime */
  PINHOLE_TOKEN_VALID,     /* logs in */
  PINHOLE_TOKEN_ROTATE,    /* logs in, and the device gets a new one */
} PinholeTokenVerdict;

/* a token replaced by rotation still logs in for this long */
#define PINHOLE_TOKEN_OVERLAP_US ((gint64) G_USEC_PER_SEC * 3600)

PinholeTokenVerdict pinhole_token_check (const PinholeStoreToken *stored,
                                         GBytes                  *device_key,
                                         GBytes                  *token_hash,
                                         gint64                   now,
                                         gint64                   lifetime,
                                         gint64                   rotate_after);

G_END_DECLS
