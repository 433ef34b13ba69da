/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-error.c: the PINHOLE_ERROR domain. */
#include "pinhole-error.h"

G_DEFINE_QUARK (pinhole-error-quark, pinhole_error)
