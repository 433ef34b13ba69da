#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# bench-throughput.py: relay throughput (bench-relay-throughput: two PinholeClients, one
# session over a local pinhole-server) alternated with iperf3 TCP on loopback sending the same
# number of bytes, RUNS times each; prints each run, the medians and their ratio.
#
#   bench/bench-throughput.py [--build _build-bench] [--runs 5] [--mib 200]

import argparse
import json
import re
import socket
import statistics
import subprocess


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def pinhole_run(build, mib):
    out = subprocess.run(
        [build + "/bench/bench-relay-throughput", build + "/src/server/pinhole-server",
         "--mib", str(mib)],
        check=True, timeout=mib + 120, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True).stdout
    return float(re.search(r"= ([0-9.]+) MB/s", out).group(1))


def iperf3_run(mib):
    port = free_port()
    server = subprocess.Popen(["iperf3", "-s", "-1", "--forceflush", "-B", "127.0.0.1",
                               "-p", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        # iperf3 prints "Server listening on PORT" once it accepts tests
        for _ in range(20):
            line = server.stdout.readline()
            if not line or "listening" in line:
                break
        out = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-n",
                              "%dM" % mib, "-J"],
                             check=True, timeout=120, stdout=subprocess.PIPE, text=True).stdout
        result = json.loads(out)
        return result["end"]["sum_received"]["bits_per_second"] / 8 / 1e6
    finally:
        stop(server)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="_build-bench")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mib", type=int, default=200)
    args = ap.parse_args()
    relay, tcp = [], []
    for i in range(args.runs):
        relay.append(pinhole_run(args.build, args.mib))
        tcp.append(iperf3_run(args.mib))
        print("run %d: relay %.1f MB/s, iperf3 %.1f MB/s" % (i + 1, relay[-1], tcp[-1]),
              flush=True)
    r, t = statistics.median(relay), statistics.median(tcp)
    print("median of %d runs, %d MiB each: relay %.1f MB/s, iperf3 TCP loopback %.1f MB/s, "
          "ratio %.3f (%.1f%%)" % (args.runs, args.mib, r, t, r / t, 100 * r / t))


if __name__ == "__main__":
    main()
