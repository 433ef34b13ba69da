#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# run-gui-test.sh PROGRAM [ARGS]: runs a GTK test on the display it is given, else on a
# private Xvfb through xvfb-run (Debian's xvfb package). Without either it fails, or skips
# when PINHOLE_TEST_ALLOW_SKIP=1, as tests/pinhole-test-missing.h does.
if [ -n "$DISPLAY" ]; then
  exec "$@"
fi
if command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run -a -s "-screen 0 1280x800x24" "$@"
fi
echo "no DISPLAY and no xvfb-run (apt install xvfb)" >&2
if [ "$PINHOLE_TEST_ALLOW_SKIP" = 1 ]; then
  exit 77
fi
exit 1
