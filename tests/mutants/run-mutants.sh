#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs the mutation suite: each tests/mutants/*.patch breaks one property of Pinhole on
# purpose, and the tests it names must fail with it. Prints TAP, one line per mutant, and
# exits non-zero if a mutant survives, no longer applies, does not build, or is malformed.
#
#   run-mutants.sh SOURCE_DIR SCRATCH_DIR [MUTANT.patch …]
#       copy the tree to SCRATCH_DIR and build it; run every test a mutant names once on the
#       unmutated build (each must pass, with at least one case and no skip); then for each
#       mutant: apply it, rebuild what changed, run its tests (each must fail), revert it.
#   run-mutants.sh --check SOURCE_DIR BUILD_DIR [MUTANT.patch …]
#       in a second or two, without building: each mutant is well formed, still applies to
#       SOURCE_DIR, and names tests (and test paths) that BUILD_DIR has.
#
# A mutant file starts with two header lines, then the diff (as `git diff` prints it):
#   Property: the server refuses a message to a user whose request is only pending
#   Kill: test-authorization:/integration/authorization/message-live/pending-out test-chat
# Each Kill item is a meson test name, optionally narrowed to one g_test path after ':'.
set -u

here=$(cd "$(dirname "$0")" && pwd)
check_only=0
if [ "${1:-}" = "--check" ]; then
  check_only=1
  shift
fi
usage="usage: run-mutants.sh [--check] SOURCE_DIR SCRATCH_OR_BUILD_DIR [MUTANT.patch …]"
src=${1:?$usage}
work=${2:?$usage}
shift 2
src=$(cd "$src" && pwd)
mkdir -p "$work"
work=$(cd "$work" && pwd)

mutants=()
if [ $# -gt 0 ]; then
  for m in "$@"; do
    # absolute, since the work below happens inside the scratch copy
    mutants+=("$(cd "$(dirname "$m")" && pwd)/$(basename "$m")")
  done
else
  mutants=("$src"/tests/mutants/*.patch)
fi

header () {   # header FIELD FILE: the value of "FIELD:" before the diff
  sed -n "1,/^diff --git/{s/^$1: *//p}" "$2" | head -n 1
}

# a copy of the tree as it is now (committed or not), in a repository of its own so that
# git apply works on it even though the scratch folder may sit inside the checkout's
# (ignored) build folder
copy_tree () {
  rm -rf "$1"
  mkdir -p "$1"
  if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard \
       | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xmf - -C "$1"
  else
    (cd "$src" && tar --exclude='./_build*' --exclude='./build' -cf - .) | tar -xmf - -C "$1"
  fi
  git -C "$1" init -q
}

if [ "$check_only" -eq 1 ]; then
  build=$work
  tree=$(mktemp -d)
  trap 'rm -rf "$tree"' EXIT
  copy_tree "$tree"
  tests_json=$(meson introspect --tests "$build")
  echo "1..${#mutants[@]}"
  n=0 bad=0
  for m in "${mutants[@]}"; do
    n=$((n + 1))
    name=$(basename "$m" .patch)
    property=$(header Property "$m")
    kill=$(header Kill "$m")
    problem=""
    if [ -z "$property" ] || [ -z "$kill" ]; then
      problem="malformed: it needs a Property: and a Kill: line before the diff"
    elif ! (cd "$tree" && git apply --check "$m" 2>/dev/null); then
      problem="does not apply to this tree any more: bring it up to date"
    else
      for item in $kill; do
        t=${item%%:*}
        exe=$(printf '%s' "$tests_json" | /usr/bin/python3 -c '
import json, sys
found = [t["cmd"][0] for t in json.load(sys.stdin) if t["name"] == sys.argv[1]]
print(found[0] if len(found) == 1 else len(found))' "$t")
        if [ "$exe" = 0 ]; then
          problem="names no test called $t"
        elif [ "${exe#/}" = "$exe" ]; then
          problem="names $t, which $exe tests are called: meson would run them all"
        elif [ "$t" != "$item" ] && ! "$exe" -l 2>/dev/null | grep -qxF "${item#*:}"; then
          problem="$t has no test path ${item#*:}"
        fi
        [ -n "$problem" ] && break
      done
    fi
    if [ -z "$problem" ]; then
      echo "ok $n $name"
    else
      echo "not ok $n $name # $problem"
      bad=$((bad + 1))
    fi
  done
  [ "$bad" -eq 0 ]
  exit
fi

# Mutants run in LANES lanes at once (PINHOLE_MUTANT_LANES, 2 by default: most of a Kill
# test's time is spent waiting on timers and sockets, not on the CPU). Each lane has its
# own copy of the tree and its own build, and takes the next mutant from a shared queue.
# A test that meson may not run beside others (is_parallel: false, such as the NAT lab's)
# holds the lanes' lock alone; every other test holds it shared.
lanes=${PINHOLE_MUTANT_LANES:-2}
[ "$lanes" -ge 1 ] 2>/dev/null || lanes=1
[ "$lanes" -gt "${#mutants[@]}" ] && lanes=${#mutants[@]}
[ "$lanes" -lt 1 ] && lanes=1
rm -f "$work"/result.* "$work"/next "$work"/serial-tests
echo 0 > "$work/next"

lane_dir () {   # lane_dir LANE KIND: lane 0 keeps the names tree, build and log
  if [ "$1" -eq 0 ]; then echo "$work/$2"; else echo "$work/$2.$1"; fi
}

# next_mutant: prints the index of the next mutant no lane has taken, or nothing
next_mutant () {
  (
    flock -x 9
    i=$(cat "$work/next")
    if [ "$i" -lt "${#mutants[@]}" ]; then
      echo $((i + 1)) > "$work/next"
      echo "$i"
    fi
  ) 9>"$work/queue.lock"
}

# run_lane LANE: builds the lane's copy, then runs mutants from the queue until it is empty;
# each mutant's TAP line (without its number) goes to result.INDEX
run_lane () {
  local lane=$1 tree build log i m name property kill item verdict broken survivors why start secs
  local dirty=0   # the build holds a reverted mutant's objects
  local -A baseline=()
  tree=$(lane_dir "$lane" tree)
  build=$(lane_dir "$lane" build)
  log=$(lane_dir "$lane" log)
  : > "$log"
  copy_tree "$tree"
  if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$tree" >>"$log" 2>&1 || { echo "meson setup failed (see $log)" > "$work/bail.$lane"; return; }
  fi
  meson compile -C "$build" >>"$log" 2>&1 || { echo "the unmutated tree does not build (see $log)" > "$work/bail.$lane"; return; }
  if [ "$lane" -eq 0 ]; then
    meson introspect --tests "$build" | /usr/bin/python3 -c '
import json, sys
print("\n".join(t["name"] for t in json.load(sys.stdin) if not t["is_parallel"]))' \
      > "$work/serial-tests.tmp" && mv "$work/serial-tests.tmp" "$work/serial-tests"
  fi
  while [ ! -f "$work/serial-tests" ] && [ ! -f "$work/bail.0" ]; do sleep 1; done

  # run_item ITEM: runs one Kill item in this lane's build; prints pass, fail or empty
  run_item () {
    local t=${1%%:*} args=() mode=-s
    [ "$t" != "$1" ] && args=(--test-args "-p ${1#*:}")
    grep -qxF "$t" "$work/serial-tests" 2>/dev/null && mode=-x
    [ "${alone:-}" = yes ] && mode=-x
    echo "== $1" >>"$log"
    flock "$mode" "$work/lanes.lock" \
      meson test -C "$build" --no-rebuild --num-processes 1 "$t" "${args[@]}" >>"$log" 2>&1
    /usr/bin/python3 "$here/verdict.py" "$build"
  }

  while i=$(next_mutant) && [ -n "$i" ]; do
    m=${mutants[$i]}
    name=$(basename "$m" .patch)
    property=$(header Property "$m")
    kill=$(header Kill "$m")
    alone=$(header Alone "$m")   # "yes": its tests measure time, and run with no other lane
    if [ -z "$property" ] || [ -z "$kill" ]; then
      echo "not ok $name # malformed: it needs a Property: and a Kill: line before the diff" > "$work/result.$i"
      continue
    fi
    # each Kill item once on the unmutated build: a test that fails, skips or runs nothing
    # there would make any mutant look killed
    broken=""
    for item in $kill; do
      if [ -z "${baseline[$item]+set}" ] && [ "$dirty" -eq 1 ]; then
        meson compile -C "$build" >>"$log" 2>&1 || { echo "the unmutated tree does not build again (see $log)" > "$work/bail.$lane"; return; }
        dirty=0
      fi
      [ -n "${baseline[$item]+set}" ] || baseline[$item]=$(run_item "$item")
      case "${baseline[$item]}" in
        pass) ;;
        *) broken="$broken $item (${baseline[$item]})" ;;
      esac
    done
    if [ -n "$broken" ]; then
      echo "not ok $name # its tests do not pass without the mutant:$broken" > "$work/result.$i"
      continue
    fi
    if ! (cd "$tree" && git apply --check "$m" 2>>"$log"); then
      echo "not ok $name # does not apply to this tree any more: bring it up to date" > "$work/result.$i"
      continue
    fi
    (cd "$tree" && git apply "$m") || { echo "not ok $name # git apply failed" > "$work/result.$i"; continue; }

    start=$(date +%s)
    survivors="" why=""
    if ! meson compile -C "$build" >>"$log" 2>&1; then
      # a mutant that does not build proves nothing about the tests
      survivors=" (it does not build)"
    else
      for item in $kill; do
        verdict=$(run_item "$item")
        case "$verdict" in
          fail*) [ -z "$why" ] && why=${verdict#fail } ;;
          *) survivors="$survivors $item ($verdict)" ;;
        esac
      done
    fi
    (cd "$tree" && git apply -R "$m") || { echo "cannot revert $name" > "$work/bail.$lane"; return; }
    dirty=1
    secs=$(( $(date +%s) - start ))

    if [ -z "$survivors" ]; then
      printf 'ok %s # killed in %ss: %s\n#   %s\n' "$name" "$secs" "$property" "$why" > "$work/result.$i"
    else
      echo "not ok $name # SURVIVED$survivors (${secs}s): $property" > "$work/result.$i"
    fi
  done
}

rm -f "$work"/bail.*
pids=()
for lane in $(seq 0 $((lanes - 1))); do
  run_lane "$lane" &
  pids+=($!)
done
wait "${pids[@]}"

for f in "$work"/bail.*; do
  [ -f "$f" ] && { echo "Bail out! $(cat "$f")"; exit 1; }
done

echo "1..${#mutants[@]}"
n=0 killed=0 bad=0
for i in "${!mutants[@]}"; do
  n=$((n + 1))
  if [ ! -f "$work/result.$i" ]; then
    echo "not ok $n $(basename "${mutants[$i]}" .patch) # no lane ran it"
    bad=$((bad + 1))
    continue
  fi
  # the number goes after "ok" or "not ok"
  sed "1s/^\(not ok\|ok\) /\1 $n /" "$work/result.$i"
  if head -n 1 "$work/result.$i" | grep -q '^ok '; then
    killed=$((killed + 1))
  else
    bad=$((bad + 1))
  fi
done

# a NAT lab test that a mutant made abort could not take its lab down: its namespaces carry
# its process id (natlab.c), so those of processes that are gone are removed here
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^natlab-[0-9]*-'); do
  pid=${ns#natlab-}
  pid=${pid%%-*}
  [ -d "/proc/$pid" ] || ip netns del "$ns" 2>/dev/null
done

echo "# mutants: $killed killed, $((n - killed)) not killed, of $n (logs: $work/log*)"
[ "$bad" -eq 0 ]
