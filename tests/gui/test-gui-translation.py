#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# test-gui-translation.py LOCALEDIR: the real `pinhole` under a German locale (LANG=de_DE.UTF-8,
# as a German desktop starts it) with a fresh profile, its catalog from the build
# (PINHOLE_LOCALEDIR=LOCALEDIR, the build's po/): the sign-in view, then the main window after
# creating an account, show German words through AT-SPI: from templates, from the app's C
# code and from a plural. Prints TAP.
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinhole_gui as G  # noqa: E402

BUTTON = ('push button', 'toggle button')
LOCALE = 'de_DE.UTF-8'


def german_env(localedir):
    """what a German session gives the app; LANGUAGE empty so that the locale alone decides"""
    return {'LC_ALL': LOCALE, 'LANG': LOCALE, 'LANGUAGE': '', 'PINHOLE_LOCALEDIR': localedir}


def check_prerequisites(localedir):
    names = subprocess.run(['locale', '-a'], capture_output=True, text=True).stdout.split()
    # glibc lists it as de_DE.utf8
    if not any(n.lower().replace('-', '') == 'de_de.utf8' for n in names):
        raise G.Missing(f'the {LOCALE} locale is not built (locale -a: {" ".join(names)}); '
                        'build-aux/install-deps.sh generates it (Debian\'s locales, locale-gen)')
    mo = os.path.join(localedir, 'de', 'LC_MESSAGES', 'pinhole.mo')
    if not os.path.exists(mo):
        raise G.Failure(f'{mo} is not built; run the test with meson test, which builds it')


def setup(rig, a11y):
    localedir = os.path.abspath(sys.argv[1])
    check_prerequisites(localedir)
    rig.start_server()
    rig.cli('bob', 'register', 'bob')
    proc = rig.app('alice', extra_env=german_env(localedir))
    win = a11y.window(a11y.app(proc.pid))
    return {'win': win}


def test_sign_in_view(rig, a11y, s):
    win = s['win']
    # templates (ui/pinhole-sign-in-view.ui): the two buttons, the heading, the fields
    a11y.wait(win, 'push button', name='Konto erstellen', timeout=20)
    a11y.wait(win, 'push button', name='Anmelden')
    a11y.wait(win, 'label', name='Willkommen bei Pinhole')
    a11y.wait(win, 'text', name='Benutzername')
    a11y.wait(win, 'password text', name='Passwort')
    for english in ('Create Account', 'Sign In'):
        if a11y.find(win, 'push button', name=english):
            raise G.Failure(f'the sign-in view still shows "{english}"')


def test_main_window(rig, a11y, s):
    win = s['win']
    a11y.set_text(a11y.wait(win, 'text', name='Server'), rig.server_url)
    a11y.set_text(a11y.wait(win, 'text', name='Benutzername'), 'alice')
    a11y.set_text(a11y.wait(win, 'password text', name='Passwort'), 'correct horse')
    a11y.click(a11y.wait(win, 'push button', name='Konto erstellen'))
    # the sidebar's controls and its menu (a GMenu in ui/pinhole-contact-list.ui), closed
    a11y.wait(win, BUTTON, name='Kontakt hinzufügen', timeout=20)
    a11y.wait(win, BUTTON, name='Hauptmenü')
    a11y.wait(win, 'push button', name='Info zu Pinhole', showing=False)
    a11y.wait_gone(win, 'push button', name='Konto erstellen')


def test_contact_row(rig, a11y, s):
    win = s['win']
    a11y.click(a11y.wait(win, BUTTON, name='Kontakt hinzufügen'))
    a11y.set_text(a11y.wait(win, 'text', name='Benutzername des Kontakts'), 'bob')
    a11y.click(a11y.wait(win, 'push button', name='Hinzufügen'))
    # a row's name and preview, built in src/app/pinhole-contact-row.c
    a11y.wait(win, 'list item', name='bob, Kontaktanfrage gesendet', timeout=15)
    a11y.wait(win, 'label', name='Wartet auf Annahme der Anfrage')
    # once bob accepts, a message from him: the unread count's plural
    rig.cli('bob', 'accept', 'alice')
    a11y.wait(win, 'list item', name='bob, offline', timeout=15)
    rig.cli('bob', 'send', 'alice', 'Hallo Alice')
    a11y.wait(win, 'label', name='1 ungelesene Nachricht', timeout=15)


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: test-gui-translation.py LOCALEDIR')
    return G.run('translation', setup, [
        ('the sign-in view is in German', test_sign_in_view),
        ('the main window is in German after creating an account', test_main_window),
        ('a contact row is in German: the request, the unread count', test_contact_row),
    ])


if __name__ == '__main__':
    sys.exit(main())
