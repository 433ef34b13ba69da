# SPDX-License-Identifier: GPL-3.0-or-later
# Sourced by demo.sh and demo-cli.sh, after they set server, cli, demo, url and log: waits for
# the pinhole-server they started (server_pid) to listen, and makes a demo account.

# waits until the server announces itself, or fails with its log
demo_wait_server () {
  tries=0
  until grep -q listening "$log"; do
    tries=$((tries + 1))
    if [ $tries -gt 50 ] || ! kill -0 "$server_pid" 2>/dev/null; then
      echo "demo: pinhole-server did not start:" >&2; cat "$log" >&2; exit 1
    fi
    sleep 0.1
  done
  cat "$log"
}

# each demo account is a profile folder; accounts stay in the server's database between runs
account () {
  name=$1
  if ! "$cli" --profile "$demo/$name" contacts >/dev/null 2>&1; then
    rm -rf "${demo:?}/$name"
    "$cli" --server "$url" --profile "$demo/$name" register "$name" ||
      "$cli" --server "$url" --profile "$demo/$name" register "$name-$(date +%s)"
  fi
}
