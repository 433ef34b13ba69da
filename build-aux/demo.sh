#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs what Pinhole needs, builds it, starts a local pinhole-server on 127.0.0.1:7300
# (SQLite database in the user data folder), makes two demo accounts, alice and bob, who are
# contacts, and opens a Pinhole window for each. The server runs until both windows are closed
# or Ctrl-C. The same story on the command line, without windows: build-aux/demo-cli.sh.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

# The app's compiled GSettings schema, run from the build tree. Once the schema is in data/,
# the build compiles it into _build/data and this is the only line to change (if at all).
schema_dir=${PINHOLE_SCHEMA_DIR:-$top/_build/data}

./build-aux/install-deps.sh
[ -f _build/build.ninja ] || meson setup _build
meson compile -C _build

server=$top/_build/src/server/pinhole-server
cli=$top/_build/src/cli/pinhole-cli
app=$top/_build/src/app/pinhole
demo=${XDG_DATA_HOME:-$HOME/.local/share}/pinhole/demo
url=ws://127.0.0.1:7300/pinhole
export PINHOLE_PASSWORD=${PINHOLE_PASSWORD:-demo-password}

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  cat >&2 <<TXT
demo: no display (neither DISPLAY nor WAYLAND_DISPLAY is set), so there is nowhere to open
the two Pinhole windows. Run this from a desktop session, or over ssh -X. Without a display:
  build-aux/demo-cli.sh               the same demo on the command line
  /usr/bin/python3 build-aux/screenshots.py   pictures of the windows, under a private Xvfb,
                                      in docs/screenshots/
TXT
  exit 1
fi

if [ ! -f "$schema_dir/gschemas.compiled" ]; then
  echo "demo: no compiled GSettings schema for the app in $schema_dir (the build makes it)" >&2
  exit 1
fi
export GSETTINGS_SCHEMA_DIR=$schema_dir

log=$(mktemp)
"$server" >"$log" 2>&1 &
server_pid=$!
alice_pid=
bob_pid=
cleanup () {
  trap - EXIT INT TERM
  for pid in $alice_pid $bob_pid $server_pid; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$top/build-aux/demo-common.sh"
demo_wait_server
user_of () {
  sqlite3 "$demo/$1/profile.db" "select value from settings where key='user'"
}

account alice
account bob
alice=$(user_of alice)
bob=$(user_of bob)
# contacts already from an earlier run: add and accept then have nothing to do
if ! "$cli" --profile "$demo/alice" contacts 2>/dev/null | grep -q "^$bob  *mutual"; then
  "$cli" --profile "$demo/alice" add "$bob" || true   # asked already in an earlier run
  "$cli" --profile "$demo/bob" accept "$alice"
fi

"$app" --profile "$demo/alice" &
alice_pid=$!
"$app" --profile "$demo/bob" &
bob_pid=$!

cat <<TXT

Two Pinhole windows: $alice and $bob (profiles in $demo), contacts of each other, on the
server at $url. Pick the other in the sidebar and write; the header bar shows the path,
relayed at first and then direct. Close both windows or press Ctrl-C to stop the server.
TXT
wait "$alice_pid" 2>/dev/null || true
alice_pid=
wait "$bob_pid" 2>/dev/null || true
bob_pid=
