#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs what Pinhole needs, builds it, starts a local pinhole-server on loopback (SQLite
# database in the user data folder), and shows two accounts, alice and bob, becoming contacts
# and chatting end to end encrypted through it. The server keeps running until Ctrl-C, so
# that you can go on with pinhole-cli (the commands to try are printed at the end).
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

./build-aux/install-deps.sh
[ -f _build/build.ninja ] || meson setup _build
meson compile -C _build

server=$top/_build/src/server/pinhole-server
cli=$top/_build/src/cli/pinhole-cli
demo=${XDG_DATA_HOME:-$HOME/.local/share}/pinhole/demo
url=ws://127.0.0.1:7300/pinhole
export PINHOLE_PASSWORD=${PINHOLE_PASSWORD:-demo-password}

log=$(mktemp)
"$server" >"$log" 2>&1 &
server_pid=$!
listen_pid=
cleanup () {
  [ -n "$listen_pid" ] && kill "$listen_pid" 2>/dev/null
  kill "$server_pid" 2>/dev/null
  wait 2>/dev/null
  rm -f "$log"
}
trap cleanup EXIT INT TERM

. "$top/build-aux/demo-common.sh"
demo_wait_server

# the account, and the key its device made
account_shown () {
  account "$1"
  "$cli" --profile "$demo/$1" fingerprint
}
say () { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "two accounts, each a profile with its own device key"
account_shown alice
account_shown bob
alice=$(sqlite3 "$demo/alice/profile.db" "select value from settings where key='user'")
bob=$(sqlite3 "$demo/bob/profile.db" "select value from settings where key='user'")

say "$alice asks $bob to be a contact; $bob accepts"
"$cli" --profile "$demo/alice" add "$bob"
"$cli" --profile "$demo/bob" accept "$alice"

say "$alice writes while $bob is offline: the message is sealed to $bob's device key and stored"
"$cli" --profile "$demo/alice" send "$bob" "Hi $bob, this waited for you on the server, sealed."

say "$bob comes online (pinhole-cli listen) and receives it"
"$cli" --profile "$demo/bob" listen &
listen_pid=$!
sleep 1

say "now both are online: messages go over an encrypted session, on the relay at first"
printf 'Live now, over our session.\nEach line is one message, in order.\n' |
  "$cli" --profile "$demo/alice" send "$bob" -
sleep 0.5

say "the path to $bob and its round-trip time: the session moves off the relay to a direct path"
"$cli" --profile "$demo/alice" path "$bob" --count 3

say "$alice's contacts"
"$cli" --profile "$demo/alice" contacts

kill "$listen_pid"; wait "$listen_pid" 2>/dev/null || true; listen_pid=

cat <<TXT

The server is still running on $url (Ctrl-C stops it). Try, in another terminal:
  $cli --profile $demo/bob listen
  $cli --profile $demo/alice send $bob "hello again"
  $cli --profile $demo/alice history $bob
TXT
wait "$server_pid"
