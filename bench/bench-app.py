#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench-app.py: the app's responsiveness, next to plain GTK doing the same steps.

For each run, on its own Xvfb: a profile with 200 contacts (the roster the profile keeps)
and a conversation of 10,000 stored messages with one of them; `pinhole` starts on it with
PINHOLE_BENCH set (src/app/pinhole-bench.c) and the server unreachable, so nothing but the
app is measured. Figures: time from spawning the process to its first drawn frame, time to
open the conversation (drawn) once the window is idle, the RSS then, time to scroll up
through --page-through messages of its history (the view reads 50 at a time, each page
drawn), the mean time of the first and of the last ten pages, the rows the list holds at the
end and the RSS then. The baseline is bench-gtk-baseline, a plain GTK window with a list
doing the same steps (its list keeps every row), run alternately with the app. Medians of
--runs runs; the CPU time the app's process used by its first frame and by the end of the
open is given too, as a shared machine moves it less than the wall clock."""
import argparse
import base64
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

def free_display():
    for n in range(140, 200):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return n
    raise SystemExit("no free X display in :140-:199")

def make_profile(build, folder, contacts, messages):
    cli = os.path.join(build, "src/cli/pinhole-cli")
    subprocess.run([cli, "--profile", folder, "fingerprint"], check=True,
                   stdout=subprocess.DEVNULL)
    db = sqlite3.connect(os.path.join(folder, "profile.db"))
    roster = []
    for i in range(contacts):
        key = base64.b64encode(os.urandom(32)).decode()
        roster.append('{"user":"c%03d","relation":"mutual","devices":[{"device":"d%03d","key":"%s"}]}'
                      % (i, i, key))
    settings = {"user": "bench", "server": "ws://127.0.0.1:9/pinhole", "token": "x" * 43,
                "roster": '{"contacts":[%s]}' % ",".join(roster)}
    for k, v in settings.items():
        db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (k, v))
    start = int(time.time()) - messages * 60
    rows = []
    for i in range(messages):
        out = i % 3 != 0
        rows.append(("c000", "m%05d" % i, 0 if out else 1,
                     "message %d of a long conversation, a line of ordinary length" % i,
                     start + i * 60, "delivered" if out else "received"))
    db.executemany("INSERT INTO history (peer, id, direction, text, timestamp, state) "
                   "VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    # opened once by this build, as a profile in use is: what a first open after an upgrade
    # does to the file (an index, say) is not the start being measured
    subprocess.run([cli, "--profile", folder, "fingerprint"], check=True,
                   stdout=subprocess.DEVNULL)

def run_one(argv, env, timeout):
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    out = {}
    try:
        deadline = t0 + timeout
        for line in proc.stdout:
            words = line.split()
            if not words:
                continue
            if words[0] == "first-frame":
                out["first_ms"] = (time.monotonic() - t0) * 1000
                if len(words) > 1:
                    out["first_cpu_ms"] = float(words[1])
            elif words[0] == "settled-ms":
                out["settled_ms"] = float(words[1])
            elif words[0] == "open-ms":
                out["open_ms"] = float(words[1])
                if len(words) > 2:
                    out["open_cpu_ms"] = float(words[2])
            elif words[0] == "page-ms":
                out["page_first_ms"] = float(words[1])
                out["page_last_ms"] = float(words[2])
            elif words[0] == "rows":
                out["rows"] = int(words[1])
            elif words[0] == "open-rss-kib":
                out["open_rss_mib"] = int(words[1]) / 1024
            elif words[0] == "scroll-ms":
                out["scroll_ms"] = float(words[1])
                out["messages"] = int(words[3])
            elif words[0] == "rss-kib":
                out["rss_mib"] = int(words[1]) / 1024
            if time.monotonic() > deadline:
                break
        proc.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="_build-bench")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--contacts", type=int, default=200)
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--page-through", type=int, default=2000,
                    help="messages to page through")
    ap.add_argument("--baseline-page-through", type=int, default=None,
                    help="rows the baseline pages through (default: --page-through; its "
                         "GtkListBox keeps them all and grows quadratically)")
    ap.add_argument("--display", type=int, default=None,
                    help="the X display number for Xvfb (default: a free one in :140-:199)")
    ap.add_argument("--schemas", default=None,
                    help="compiled GSettings schemas (default: BUILD/data)")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    schemas = args.schemas or os.path.join(build, "data")
    tmp = tempfile.mkdtemp(prefix="bench-app-")
    display = args.display if args.display is not None else free_display()
    baseline_rows = args.baseline_page_through or args.page_through
    xvfb = subprocess.Popen(["Xvfb", f":{display}", "-screen", "0", "1280x800x24", "-nolisten",
                             "tcp"], stderr=subprocess.DEVNULL)
    results = {"pinhole": [], "gtk": []}
    try:
        for _ in range(50):
            if os.path.exists(f"/tmp/.X11-unix/X{display}"):
                break
            time.sleep(0.1)
        env = dict(os.environ, DISPLAY=f":{display}", GSETTINGS_BACKEND="memory",
                   GSETTINGS_SCHEMA_DIR=schemas, NO_AT_BRIDGE="1", PINHOLE_BENCH="c000",
                   PINHOLE_BENCH_MAX=str(args.page_through))
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        for run in range(args.runs):
            profile = os.path.join(tmp, f"profile-{run}")
            make_profile(build, profile, args.contacts, args.messages)
            results["pinhole"].append(run_one(
                [os.path.join(build, "src/app/pinhole"), "--profile", profile], env, 300))
            results["gtk"].append(run_one(
                [os.path.join(build, "bench/bench-gtk-baseline"), str(baseline_rows)], env, 300))
    finally:
        xvfb.terminate()
        xvfb.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{args.runs} runs, {args.contacts} contacts, {args.messages} messages stored, "
          f"{args.page_through} paged through ({baseline_rows} by the baseline); medians; "
          f"load average {' '.join('%.2f' % x for x in os.getloadavg())} at the end")
    print(f"{'':10} {'first frame ms':>15} {'open ms':>9} {'RSS open MiB':>13} "
          f"{'page through ms':>16} {'RSS after MiB':>14}")
    medians = {}
    for name, runs in results.items():
        keys = ["first_ms", "open_ms", "open_rss_mib", "scroll_ms", "rss_mib"]
        if any(k not in r for r in runs for k in keys):
            print(f"{name}: incomplete runs: {runs}", file=sys.stderr)
            return 1
        medians[name] = {k: statistics.median(r[k] for r in runs) for k in keys}
        m = medians[name]
        print(f"{name:10} {m['first_ms']:15.0f} {m['open_ms']:9.1f} {m['open_rss_mib']:13.1f} "
              f"{m['scroll_ms']:16.0f} {m['rss_mib']:14.1f}")
    p, g = medians["pinhole"], medians["gtk"]
    print(f"{'ratio':10} {p['first_ms']/g['first_ms']:15.2f} {p['open_ms']/g['open_ms']:9.2f} "
          f"{p['open_rss_mib']/g['open_rss_mib']:13.2f} {p['scroll_ms']/g['scroll_ms']:16.2f} "
          f"{p['rss_mib']/g['rss_mib']:14.2f}")
    print("messages paged in:", [r["messages"] for r in results["pinhole"]])
    def median_of(runs, key):
        values = [r[key] for r in runs if key in r]
        return statistics.median(values) if values else float("nan")
    med = lambda key: median_of(results["pinhole"], key)
    bmed = lambda key: median_of(results["gtk"], key)
    print(f"pinhole: ms per page, first ten {med('page_first_ms'):.1f}, last ten "
          f"{med('page_last_ms'):.1f}; rows at the end {med('rows'):.0f}; "
          f"first frame to idle {med('settled_ms'):.0f} ms; CPU ms at first frame "
          f"{med('first_cpu_ms'):.0f}, after the open {med('open_cpu_ms'):.0f}")
    print(f"plain GTK: CPU ms at first frame {bmed('first_cpu_ms'):.0f}, after the open "
          f"{bmed('open_cpu_ms'):.0f}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
