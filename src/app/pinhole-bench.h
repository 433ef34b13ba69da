/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-bench.h: the responsiveness benchmark's probe (bench/bench-app.py). Only with
 * PINHOLE_BENCH=USER in the environment: it prints when the first frame is drawn, then opens
 * USER's conversation, scrolls up through its history (all of it, or PINHOLE_BENCH_MAX
 * messages), prints the times and the RSS, and quits. Without the variable it does nothing. */
#pragma once

#include "pinhole-window.h"

G_BEGIN_DECLS

void pinhole_bench_attach (PinholeWindow *window);

G_END_DECLS
