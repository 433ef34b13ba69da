#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs what Pinhole needs, builds it, and runs the whole test suite:
#   1. _build: every suite (unit, integration, natlab, fuzz corpus replay);
#   2. _build: the mutation suite (tests/mutants): each mutant must make its tests fail;
#   3. _build-asan: clang with AddressSanitizer and UBSan: unit tests, corpus replay, and a
#      bounded libFuzzer run of every harness.
# Meson's summaries are kept in _build*/meson-logs/testlog.txt; .ci/run reads them.
set -eu
cd "$(dirname "$0")/.."

./build-aux/install-deps.sh

status=0

if [ ! -f _build/build.ninja ]; then
  meson setup _build
fi
meson compile -C _build
meson test -C _build --print-errorlogs --num-processes 2 || status=1
meson test -C _build --setup mutants --suite mutants --print-errorlogs || status=1

if [ ! -f _build-asan/build.ninja ]; then
  CC=clang meson setup _build-asan -Dfuzzing=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dfuzz_seconds="${PINHOLE_FUZZ_SECONDS:-20}"
fi
meson compile -C _build-asan
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C _build-asan --print-errorlogs --num-processes 2 \
  --suite unit --suite fuzz --suite fuzz-run || status=1

exit $status
