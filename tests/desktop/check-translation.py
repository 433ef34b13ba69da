#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Checks a built translation the way the app will load it: bindtextdomain() on the build's
# locale folder (po/LANG/LC_MESSAGES/pinhole.mo), then known strings from each kind of source
# (core C, the app's C and templates, desktop file, settings schema, metainfo, a plural), that
# the .po has nothing left untranslated or fuzzy, that it translates every message the sources
# in POTFILES.in mark today, and that POTFILES.in lists every source file that marks one.
# Prints TAP.
#
#   check-translation.py LOCALEDIR PO_FILE SOURCE_DIR
import gettext
import os
import re
import subprocess
import sys
import tempfile

DOMAIN = 'pinhole'
LANG = 'de'
KNOWN = [
    ('relayed by the server', 'über den Server weitergeleitet'),  # src/core/pinhole-enum-strings.c
    ('looking for a direct path', 'ein direkter Weg wird gesucht'),
    ('Direct · UDP hole punch', 'Direkt · UDP-Hole-Punching'),     # src/app/pinhole-path-text.c
    ('Wrong password for %s.', 'Falsches Passwort für %s.'),       # src/app/pinhole-sign-in-view.c
    ('_Create Account', '_Konto erstellen'),                       # ui/pinhole-sign-in-view.ui
    ('Show shortcuts', 'Tastenkürzel anzeigen'),                   # ui/gtk/help-overlay.ui
    ('Chat with your friends, end to end encrypted, directly where the network allows',
     'Mit Ihren Freunden chatten, Ende-zu-Ende-verschlüsselt und direkt, '
     'wo das Netzwerk es zulässt'),                                # the desktop file
    ('Window width', 'Fensterbreite'),                             # the settings schema
    ('Chat with your friends, end to end encrypted',               # the metainfo summary
     'Mit Ihren Freunden chatten, Ende-zu-Ende-verschlüsselt'),
]
# src/app/pinhole-contact-row.c: the unread count, through the catalog's Plural-Forms
PLURAL = ('%u unread message', '%u unread messages',
          {1: '%u ungelesene Nachricht', 2: '%u ungelesene Nachrichten'})

# the keywords of meson's i18n.gettext(preset: 'glib'), the way po/meson.build extracts; the
# other source kinds (.ui, .desktop.in, .gschema.xml, .metainfo.xml.in) xgettext knows by name
XGETTEXT_KEYWORDS = ['_', 'N_', 'C_:1c,2', 'NC_:1c,2', 'g_dcgettext:2', 'g_dngettext:2,3',
                     'g_dpgettext2:2c,3']
# what marks a string for translation in a C file or a template
MARKS = re.compile(r'\b(?:N?C?_|g_dc?n?gettext|g_dpgettext2?|ngettext)\s*\(|translatable="yes"')


def potfiles(source_dir):
    with open(os.path.join(source_dir, 'po', 'POTFILES.in')) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith('#')]


def marking_sources(source_dir):
    """the files under src/ and ui/ that mark a string, relative to @source_dir"""
    found = []
    for top in ('src', 'ui'):
        for folder, _, names in os.walk(os.path.join(source_dir, top)):
            for name in names:
                if not name.endswith(('.c', '.ui')):
                    continue
                path = os.path.join(folder, name)
                with open(path, errors='replace') as f:
                    if MARKS.search(f.read()):
                        found.append(os.path.relpath(path, source_dir))
    return sorted(found)


def main(localedir, po_file, source_dir):
    n = failed = 0

    def check(ok, what, why=''):
        nonlocal n, failed
        n += 1
        print(('ok %d ' if ok else 'not ok %d ') % n + what)
        if not ok:
            failed += 1
            for line in why.splitlines():
                print('# ' + line)

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
    singular, plural, wants = PLURAL
    for count, want in wants.items():
        got = t.ngettext(singular, plural, count)
        check(got == want, f'"{singular}" for {count} is "{want}"', f'it is "{got}"')

    stats = subprocess.run(['msgfmt', '--check', '--statistics', '-o', '/dev/null', po_file],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = stats.stdout.strip()
    check(stats.returncode == 0, f'msgfmt --check accepts {po_file}', out)
    check(re.search(r'fuzzy|untranslated', out) is None,
          f'{po_file} has no fuzzy or untranslated message', out)

    listed = potfiles(source_dir)
    unlisted = [p for p in marking_sources(source_dir) if p not in listed]
    check(not unlisted, 'po/POTFILES.in lists every file under src/ and ui/ that marks a string',
          'not listed: ' + ' '.join(unlisted))
    gone = [p for p in listed if not os.path.exists(os.path.join(source_dir, p))]
    check(not gone, 'every file po/POTFILES.in lists exists', 'missing: ' + ' '.join(gone))

    # the messages the sources mark now, against the .po: msgcmp counts a fuzzy or an
    # untranslated entry as missing, so this fails until every new string is translated
    with tempfile.TemporaryDirectory(prefix='pinhole-translation-') as tmp:
        pot = os.path.join(tmp, 'now.pot')
        xgettext = subprocess.run(
            ['xgettext', '--from-code=UTF-8', '--package-name=' + DOMAIN, '-o', pot,
             '-D', source_dir] + ['--keyword=' + k for k in XGETTEXT_KEYWORDS] +
            [p for p in listed if p not in gone],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check(xgettext.returncode == 0, 'xgettext reads every file po/POTFILES.in lists',
              xgettext.stdout)
        if xgettext.returncode == 0:
            cmp = subprocess.run(['msgcmp', po_file, pot], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
            # msgcmp names a message by a line of it, in the .po or the temporary template:
            # quote its msgid
            lacking = []
            for path, line in re.findall(r'^(.*?):(\d+): ', cmp.stdout, re.M):
                if path not in (pot, po_file):
                    continue
                with open(path) as f:
                    lines = f.read().splitlines()
                i = min(int(line), len(lines)) - 1
                while i > 0 and not lines[i].startswith('msgid '):
                    i -= 1
                if lines[i] not in lacking:
                    lacking.append(lines[i])
            check(cmp.returncode == 0,
                  f'{po_file} translates every message the sources mark',
                  'lacking: ' + '; '.join(lacking) + '\n' + cmp.stdout +
                  '(ninja -C _build pinhole-pot pinhole-update-po merges them in; then translate)')
    print(f'1..{n}')
    return 1 if failed else 0


if __name__ == '__main__':
    if len(sys.argv) != 4:
        sys.exit('usage: check-translation.py LOCALEDIR PO_FILE SOURCE_DIR')
    sys.exit(main(*sys.argv[1:]))
