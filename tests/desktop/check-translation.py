#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Checks a built translation the way the app will load it: bindtextdomain() on the build's
# locale folder (po/LANG/LC_MESSAGES/pinhole.mo), then known strings from each kind of source
# (core C, desktop file, settings schema, metainfo), and that the .po has nothing left
# untranslated or fuzzy. Prints TAP.
#
#   check-translation.py LOCALEDIR PO_FILE
import gettext
import re
import subprocess
import sys

DOMAIN = 'pinhole'
LANG = 'de'
KNOWN = [
    ('relayed by the server', 'über den Server weitergeleitet'),  # src/core/pinhole-enum-strings.c
    ('looking for a direct path', 'ein direkter Weg wird gesucht'),
    ('Chat with your friends, end to end encrypted, directly where the network allows',
     'Mit Ihren Freunden chatten, Ende-zu-Ende-verschlüsselt und direkt, '
     'wo das Netzwerk es zulässt'),                                # the desktop file
    ('Window width', 'Fensterbreite'),                             # the settings schema
    ('Chat with your friends, end to end encrypted',               # the metainfo summary
     'Mit Ihren Freunden chatten, Ende-zu-Ende-verschlüsselt'),
]


def main(localedir, po_file):
    n = failed = 0

    def check(ok, what, why=''):
        nonlocal n, failed
        n += 1
        print(('ok %d ' if ok else 'not ok %d ') % n + what)
        if not ok:
            failed += 1
            if why:
                print('# ' + why)

    try:
        t = gettext.translation(DOMAIN, localedir=localedir, languages=[LANG])
    except OSError as e:
        check(False, f'{localedir}/{LANG}/LC_MESSAGES/{DOMAIN}.mo loads', str(e))
        print(f'1..{n}')
        return 1
    check(True, f'{localedir}/{LANG}/LC_MESSAGES/{DOMAIN}.mo loads')
    for msgid, want in KNOWN:
        got = t.gettext(msgid)
        check(got == want, f'"{msgid}" is "{want}"', f'it is "{got}"')

    stats = subprocess.run(['msgfmt', '--check', '--statistics', '-o', '/dev/null', po_file],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = stats.stdout.strip()
    check(stats.returncode == 0, f'msgfmt --check accepts {po_file}', out)
    check(re.search(r'fuzzy|untranslated', out) is None,
          f'{po_file} has no fuzzy or untranslated message', out)
    print(f'1..{n}')
    return 1 if failed else 0


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit('usage: check-translation.py LOCALEDIR PO_FILE')
    sys.exit(main(sys.argv[1], sys.argv[2]))
