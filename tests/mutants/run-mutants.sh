#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs the mutation suite: each tests/mutants/*.patch breaks one property of Pinhole on
# purpose, and the tests it names must fail with it. For each mutant: apply it to a scratch
# copy of the tree, rebuild what changed, run its tests, revert. Prints TAP (one line per
# mutant) and exits non-zero if a mutant survives, no longer applies, or is malformed.
#
#   run-mutants.sh SOURCE_DIR SCRATCH_DIR [MUTANT.patch …]
#
# A mutant file starts with two header lines, then the diff (as `git diff` prints it):
#   Property: the server refuses a message to a user whose request is only pending
#   Kill: test-authorization:/integration/authorization/message/pending-out test-chat
# Each Kill item is a meson test name, optionally narrowed to one g_test path after ':'.
# Every item must fail for the mutant to count as killed.
set -u

src=${1:?usage: run-mutants.sh SOURCE_DIR SCRATCH_DIR [MUTANT.patch …]}
scratch=${2:?usage: run-mutants.sh SOURCE_DIR SCRATCH_DIR [MUTANT.patch …]}
shift 2
src=$(cd "$src" && pwd)

if [ $# -gt 0 ]; then
  mutants=("$@")
else
  mutants=("$src"/tests/mutants/*.patch)
fi

# a fresh copy of the tree as it is now (committed or not), and a build beside it that is
# kept between runs so that meson setup is paid once
tree=$scratch/tree
build=$scratch/build
rm -rf "$tree"
mkdir -p "$tree" "$build"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$src" && git ls-files -z --cached --others --exclude-standard \
     | xargs -0 -r -I{} sh -c '[ -e "{}" ] && printf "%s\0" "{}"' \
     | tar --null -T - -cf -) | tar -xmf - -C "$tree"
else
  (cd "$src" && tar --exclude='./_build*' --exclude='./build' -cf - .) | tar -xmf - -C "$tree"
fi
# a repository of its own, so that git apply works on it even though the scratch folder may
# sit inside the checkout's (ignored) build folder
git -C "$tree" init -q

log=$scratch/log
: > "$log"
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$tree" >>"$log" 2>&1 || { echo "Bail out! meson setup failed (see $log)"; exit 1; }
fi
meson compile -C "$build" >>"$log" 2>&1 || { echo "Bail out! the unmutated tree does not build (see $log)"; exit 1; }

echo "1..${#mutants[@]}"
n=0 killed=0 bad=0
for m in "${mutants[@]}"; do
  n=$((n + 1))
  name=$(basename "$m" .patch)
  property=$(sed -n '1,/^diff --git/{s/^Property: *//p}' "$m" | head -n 1)
  kill=$(sed -n '1,/^diff --git/{s/^Kill: *//p}' "$m" | head -n 1)
  if [ -z "$property" ] || [ -z "$kill" ]; then
    echo "not ok $n $name # malformed: it needs a Property: and a Kill: line before the diff"
    bad=$((bad + 1))
    continue
  fi
  if ! (cd "$tree" && git apply --check "$m" 2>>"$log"); then
    echo "not ok $n $name # does not apply to this tree any more: bring it up to date"
    bad=$((bad + 1))
    continue
  fi
  (cd "$tree" && git apply "$m") || { echo "not ok $n $name # git apply failed"; bad=$((bad + 1)); continue; }

  start=$(date +%s)
  survivors=""
  if ! meson compile -C "$build" >>"$log" 2>&1; then
    # a mutant that does not build proves nothing about the tests
    survivors="(it does not build)"
  else
    for item in $kill; do
      t=${item%%:*}
      args=()
      if [ "$t" != "$item" ]; then
        args=(--test-args "-p ${item#*:}")
      fi
      echo "== $name: $item" >>"$log"
      if meson test -C "$build" --no-rebuild --num-processes 1 "$t" "${args[@]}" >>"$log" 2>&1; then
        survivors="$survivors $item"
      fi
    done
  fi
  (cd "$tree" && git apply -R "$m") || { echo "Bail out! cannot revert $name"; exit 1; }
  secs=$(( $(date +%s) - start ))

  if [ -z "$survivors" ]; then
    killed=$((killed + 1))
    echo "ok $n $name # killed in ${secs}s: $property"
  else
    bad=$((bad + 1))
    echo "not ok $n $name # SURVIVED $survivors (${secs}s): $property"
  fi
done

echo "# mutants: $killed killed, $((n - killed)) not killed, of $n (log: $log)"
[ "$bad" -eq 0 ]
