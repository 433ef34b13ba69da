#!/bin/sh
# Bounded libFuzzer run: new inputs go to a temporary folder, the seed corpus stays as it is.
# Usage: run-fuzzer.sh HARNESS CORPUS_DIR SECONDS
set -eu
harness=$1 corpus=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work" "$corpus"
