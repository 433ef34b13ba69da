#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# run-all.sh: builds the benchmarks in BUILD (default _build-bench, a release build) and runs
# each one as docs/benchmarks.md quotes it, after a line describing the machine.
#
#   bench/run-all.sh [BUILD]
set -eu

build=${1:-_build-bench}
server=$build/src/server/pinhole-server

[ -d "$build" ] || meson setup "$build" -Dbuildtype=release
ninja -C "$build" bench/bench-relay-throughput bench/bench-server-load \
  bench/bench-lab-throughput bench/bench-transfer bench/bench-transfer-chat bench/bench-aead \
  src/server/pinhole-server src/cli/pinhole-cli

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
echo "== machine: nproc $(nproc), $cpu," \
  "kernel $(uname -r), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

echo "== 1. send-to-print latency (3 runs)"
for i in 1 2 3; do
  bench/bench-latency.py --build "$build" --count 1000 --interval-ms 5
done

echo "== 2. relay throughput next to iperf3"
bench/bench-throughput.py --build "$build" --runs 5 --mib 200

echo "== 3. server memory per idle client (3 runs)"
for i in 1 2 3; do
  "$build/bench/bench-server-load" "$server" memory --clients 2000 2>/dev/null
done

echo "== 4. routed relay frames per second (3 runs)"
for i in 1 2 3; do
  "$build/bench/bench-server-load" "$server" route --pairs 50 --window 16 --seconds 5 \
    2>/dev/null
done

echo "== 5. session throughput in the NAT lab next to iperf3 (root: network namespaces)"
if [ "$(id -u)" = 0 ]; then
  "$build/bench/bench-lab-throughput" --build "$build" --runs 5 --mib 64 --lossy-mib 16 \
    --loss 0,100
else
  echo "skipped: needs root"
fi

echo "== 8. file transfer next to scp and iperf3: the loopback relay"
"$build/bench/bench-transfer" --build "$build" loopback --runs 3 --mib 1024

echo "== 8. file transfer next to scp and iperf3: direct TCP and UDP in the NAT lab (root)"
if [ "$(id -u)" = 0 ]; then
  "$build/bench/bench-transfer" --build "$build" lab --runs 3 --delays 0,20 --losses 0,100
else
  echo "skipped: needs root"
fi

echo "== 9. chat latency during a transfer, next to idle"
"$build/bench/bench-transfer-chat" --build "$build" --runs 3 --count 500 --interval-ms 5 \
  --mib 1024

echo "== 10. AEAD and SHA-256 per 32 KiB frame"
"$build/bench/bench-aead" --runs 5 --mib 512
