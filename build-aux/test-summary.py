#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Reads meson's test logs (testlog*.json in each build folder given) and prints what ran:
# every test program that failed or skipped a subtest, then one line
# "N passed, N failed, N skipped" counting TAP subtests (a program without TAP counts as one).
# Exits 1 when anything failed or skipped: a skip in CI means a prerequisite is missing, and
# that must not pass unseen. --suite-failed: the test command itself failed (a build or set-up
# step), which counts as a failure even when no test did.
import glob
import json
import re
import sys

TAP_RESULT = re.compile(r'^(not ok|ok)\b[^#]*(#\s*(\w+))?', re.IGNORECASE)
FAILED = {'FAIL', 'TIMEOUT', 'UNEXPECTEDPASS', 'ERROR'}


def main(build_dirs):
    passed = failed = skipped = 0
    for build in build_dirs:
        logs = sorted(glob.glob(build + '/meson-logs/testlog*.json'))
        if not logs:
            print(f'{build}: no test log: its tests did not run')
            failed += 1
        for log in logs:
            with open(log, encoding='utf-8') as f:
                for line in f:
                    test = json.loads(line)
                    p = fl = s = 0
                    for out in (test.get('stdout') or '').splitlines():
                        m = TAP_RESULT.match(out)
                        if not m:
                            continue
                        directive = (m.group(3) or '').upper()
                        if directive == 'SKIP':
                            s += 1
                        elif m.group(1).lower() == 'ok':
                            # "ok # TODO" passed unexpectedly; "not ok # TODO" is an
                            # unfinished test (g_test_incomplete): neither may pass unseen
                            if directive == 'TODO':
                                fl += 1
                            else:
                                p += 1
                        else:
                            fl += 1
                    result = test['result']
                    if p + fl + s == 0:
                        p, fl, s = (result == 'OK', result in FAILED, result == 'SKIP')
                    elif result in FAILED and fl == 0:
                        fl = 1   # crashed or timed out after its last TAP line
                    if s:
                        print(f'{test["name"]}: {s} skipped subtest(s)')
                    if fl:
                        print(f'{test["name"]}: {result}')
                    passed += p
                    failed += fl
                    skipped += s
    return passed, failed, skipped


if __name__ == '__main__':
    args = sys.argv[1:]
    suite_failed = '--suite-failed' in args
    passed, failed, skipped = main([a for a in args if a != '--suite-failed'])
    if passed == 0 and failed == 0:
        print('no test ran')
        failed = 1
    if suite_failed and failed == 0:
        print('the test command failed before or between the tests (see its output above)')
        failed = 1
    print(f'{passed} passed, {failed} failed, {skipped} skipped')
    sys.exit(1 if failed or skipped else 0)
