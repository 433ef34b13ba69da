#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs one validator (appstreamcli, desktop-file-validate, glib-compile-schemas) and reports
# it as one TAP case, so that a validator's complaint fails the test and shows in its log.
# A validator that is not installed fails the test: these ship with the build's packages.
#
#   check-tool.py WHAT PROGRAM ARG…
import subprocess
import sys


def main(what, argv):
    try:
        run = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except FileNotFoundError:
        print('1..1')
        print(f'not ok 1 {what}')
        print(f'# {argv[0]} is not installed (build-aux/install-deps.sh installs it)')
        return 1
    print('1..1')
    print(('ok 1 ' if run.returncode == 0 else 'not ok 1 ') + what)
    for line in run.stdout.splitlines():
        print('# ' + line)
    if run.returncode != 0:
        print(f'# {" ".join(argv)} exited {run.returncode}')
    return 0 if run.returncode == 0 else 1


if __name__ == '__main__':
    if len(sys.argv) < 3:
        sys.exit('usage: check-tool.py WHAT PROGRAM ARG…')
    sys.exit(main(sys.argv[1], sys.argv[2:]))
