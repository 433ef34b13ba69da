#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# What the last `meson test` run of one test in BUILD showed, for run-mutants.sh: prints
# "pass" (it ran at least one test case, all passed, none skipped), "fail" (a case failed,
# or the program crashed or timed out), or "empty" (it ran no case, or skipped one), and
# for "fail" the first failed assertion it printed, if any.
import json
import re
import sys


def main(build):
    with open(build + '/meson-logs/testlog.json', encoding='utf-8') as f:
        lines = [line for line in f if line.strip()]
    if len(lines) != 1:
        print('empty', f'{len(lines)} tests in the log')
        return
    test = json.loads(lines[0])
    out = (test.get('stdout') or '').splitlines()
    ok = sum(1 for line in out if re.match(r'^ok\b', line) and '# SKIP' not in line)
    skipped = sum(1 for line in out if re.match(r'^ok\b.*# SKIP', line))
    failed = [line for line in out if re.match(r'^not ok\b', line)]
    if test['result'] == 'OK':
        print('pass' if ok > 0 and skipped == 0 else 'empty')
        return
    why = next((line.lstrip('# ') for line in out if 'ERROR:' in line),
               failed[0] if failed else test['result'])
    print('fail', why[:200])


if __name__ == '__main__':
    main(sys.argv[1])
