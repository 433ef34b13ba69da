#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# bench-latency.py: send-to-print latency of one chat line over the loopback relay
# (`pinhole-cli send bob -` to `pinhole-cli listen --json`), next to two floors measured in the
# same run: a pipe through `cat` and a loopback TCP echo. Standard library only.
#
#   bench/bench-latency.py [--build _build-bench] [--count 1000] [--interval-ms 5]

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PASSWORD = "bench-password-1"
DEADLINE_S = 300


def percentile(values, p):
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def summary(name, samples_ns):
    us = [v / 1000.0 for v in samples_ns]
    return {
        "name": name,
        "n": len(us),
        "median_us": statistics.median(us),
        "p90_us": percentile(us, 90),
        "p99_us": percentile(us, 99),
        "max_us": max(us),
    }


def stop(proc, timeout=5):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_server(build, tmp):
    server = subprocess.Popen(
        [os.path.join(build, "src/server/pinhole-server"), "--listen", "127.0.0.1:0",
         "--stun-port", "0", "--db", os.path.join(tmp, "server.db")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = server.stdout.readline()
    url = next((w for w in line.split() if w.startswith("ws://")), None)
    if url is None:
        stop(server)
        raise RuntimeError("pinhole-server printed no URL: %r" % line)
    return server, url


def cli(build, profile, *args, server=None, check=True, **kw):
    cmd = [os.path.join(build, "src/cli/pinhole-cli"), "--profile", profile]
    if server:
        cmd += ["--server", server]
    env = dict(os.environ, PINHOLE_PASSWORD=PASSWORD)
    return subprocess.run(cmd + list(args), env=env, check=check, timeout=60,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def paced_run(write_line, read_line, count, warmup, interval_ns):
    """Writes count+warmup stamped lines, one every interval; a reader thread stamps arrivals.
    Returns the latencies of the last count lines, in ns."""
    total = count + warmup
    sent = {}
    got = {}
    done = threading.Event()

    def reader():
        deadline = time.monotonic() + DEADLINE_S
        while len(got) < total and time.monotonic() < deadline:
            seq = read_line()
            if seq is None:
                break
            got.setdefault(seq, time.monotonic_ns())
        done.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    next_at = time.monotonic_ns()
    for i in range(total):
        now = time.monotonic_ns()
        if now < next_at:
            time.sleep((next_at - now) / 1e9)
        sent[i] = time.monotonic_ns()
        write_line("%d %d" % (i, sent[i]))
        next_at += interval_ns
    done.wait(DEADLINE_S)
    missing = [i for i in range(warmup, total) if i not in got]
    if missing:
        raise RuntimeError("%d of %d lines never arrived (first: %d)"
                           % (len(missing), count, missing[0]))
    return [got[i] - sent[i] for i in range(warmup, total)]


def bench_pinhole(build, tmp, count, warmup, interval_ns):
    server, url = start_server(build, tmp)
    listen = send = None
    try:
        alice = os.path.join(tmp, "alice")
        bob = os.path.join(tmp, "bob")
        cli(build, alice, "register", "alice", server=url)
        cli(build, bob, "register", "bob", server=url)
        cli(build, alice, "add", "bob")
        cli(build, bob, "accept", "alice")

        env = dict(os.environ)
        env.pop("PINHOLE_PASSWORD", None)
        listen = subprocess.Popen(
            [os.path.join(build, "src/cli/pinhole-cli"), "--profile", bob, "--json", "listen",
             "--messages", str(count + warmup)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, bufsize=1)
        # bob is online once his own "online" event is out
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = listen.stdout.readline()
            if not line or json.loads(line).get("event") == "online":
                break
        send = subprocess.Popen(
            [os.path.join(build, "src/cli/pinhole-cli"), "--profile", alice, "send", "bob", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            text=True, env=env, bufsize=1)

        def write_line(text):
            send.stdin.write(text + "\n")
            send.stdin.flush()

        def read_line():
            while True:
                line = listen.stdout.readline()
                if not line:
                    return None
                ev = json.loads(line)
                if ev.get("event") == "message":
                    return int(ev["text"].split()[0])

        lat = paced_run(write_line, read_line, count, warmup, interval_ns)
        send.stdin.close()
        send.wait(30)
        listen.wait(30)
        return lat
    finally:
        stop(send)
        stop(listen)
        stop(server)


def bench_pipe(count, warmup, interval_ns):
    cat = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                           bufsize=1)
    try:
        def write_line(text):
            cat.stdin.write(text + "\n")
            cat.stdin.flush()

        def read_line():
            line = cat.stdout.readline()
            return int(line.split()[0]) if line else None

        return paced_run(write_line, read_line, count, warmup, interval_ns)
    finally:
        cat.stdin.close()
        stop(cat)


ECHO_SERVER = r"""
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while True:
    d = c.recv(65536)
    if not d: break
    c.sendall(d)
"""


def bench_tcp_echo(count, warmup, interval_ns):
    echo = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE,
                            text=True)
    try:
        port = int(echo.stdout.readline())
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("r")
        try:
            def write_line(text):
                s.sendall((text + "\n").encode())

            def read_line():
                line = f.readline()
                return int(line.split()[0]) if line else None

            return paced_run(write_line, read_line, count, warmup, interval_ns)
        finally:
            s.close()
    finally:
        stop(echo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="_build-bench")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--interval-ms", type=float, default=5.0)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    interval_ns = int(args.interval_ms * 1e6)
    tmp = tempfile.mkdtemp(prefix="pinhole-bench-latency-")
    try:
        results = [
            summary("pinhole send -> listen (relay)",
                    bench_pinhole(args.build, tmp, args.count, args.warmup, interval_ns)),
            summary("pipe through cat", bench_pipe(args.count, args.warmup, interval_ns)),
            summary("loopback TCP echo", bench_tcp_echo(args.count, args.warmup, interval_ns)),
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(results))
        return
    print("%d messages each, one every %.1f ms, after %d warm-up messages"
          % (args.count, args.interval_ms, args.warmup))
    print("%-34s %10s %10s %10s %10s" % ("", "median us", "p90 us", "p99 us", "max us"))
    for r in results:
        print("%-34s %10.0f %10.0f %10.0f %10.0f"
              % (r["name"], r["median_us"], r["p90_us"], r["p99_us"], r["max_us"]))
    base = results[1]["median_us"]
    print("median ratio pinhole / pipe: %.1fx; pinhole / TCP echo: %.1fx"
          % (results[0]["median_us"] / base, results[0]["median_us"] / results[2]["median_us"]))


if __name__ == "__main__":
    main()
