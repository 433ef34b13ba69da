#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Checks flatpak/org.pinhole.Pinhole.json against the app and against meson.build: the app id,
# the command, the sandbox holes the app needs, and a module for every library meson.build
# asks for that the GNOME runtime does not ship. Prints TAP.
#
#   check-flatpak-manifest.py MANIFEST MESON_BUILD
import json
import re
import sys

APP_ID = 'org.pinhole.Pinhole'
COMMAND = 'pinhole'

# what the app does and therefore needs from outside the sandbox
FINISH_ARGS = [
    '--share=network',                            # the server and direct paths
    '--share=ipc',                                # X11 shared memory
    '--socket=wayland',
    '--socket=fallback-x11',
    '--device=dri',                               # GL rendering
    '--talk-name=org.freedesktop.Notifications',  # a message while the window is unfocused
    '--filesystem=xdg-download',                  # received files
    # one well-known name per profile: org.pinhole.Pinhole.Profile_<hash>
    # (src/core/pinhole-instance-bus.c); xdg-dbus-proxy takes only a trailing .* wildcard
    '--own-name=org.pinhole.Pinhole.*',
]

# pkg-config names (and find_library names) that org.gnome.Platform provides. libhandy-1 is
# not among them: the GNOME 51 runtime drops it, so the manifest builds it itself.
RUNTIME = {
    'glib-2.0', 'gobject-2.0', 'gio-2.0', 'gio-unix-2.0', 'gmodule-2.0',
    'libsoup-3.0', 'json-glib-1.0', 'sqlite3', 'gnutls',
    'gtk+-3.0', 'gdk-3.0', 'cairo', 'pango', 'gdk-pixbuf-2.0', 'libxml-2.0',
    'm', 'dl', 'pthread',
}

# the manifest module that provides each library the runtime lacks
MODULE_FOR = {
    'libsodium': 'libsodium',
    'miniupnpc': 'miniupnpc',
    'natpmp': 'libnatpmp',
    'libhandy-1': 'libhandy',
    'libngtcp2': 'ngtcp2',
    'libngtcp2_crypto_gnutls': 'ngtcp2',
}


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, ok, what, why=''):
        self.n += 1
        if ok:
            print(f'ok {self.n} {what}')
        else:
            self.failed += 1
            print(f'not ok {self.n} {what}')
            if why:
                print(f'# {why}')


def meson_libraries(text):
    """The names meson.build passes to dependency() and find_library(), in order."""
    text = re.sub(r'#[^\n]*', '', text)
    return re.findall(r"\b(?:dependency|find_library)\s*\(\s*'([^']+)'", text)


def module_names(modules):
    """Every module's name, nested modules included (a module may be a file name)."""
    for m in modules:
        if isinstance(m, dict):
            yield m.get('name', '')
            yield from module_names(m.get('modules', []))


def main(manifest_path, meson_path):
    tap = Tap()
    with open(manifest_path, encoding='utf-8') as f:
        manifest = json.load(f)
    with open(meson_path, encoding='utf-8') as f:
        libraries = meson_libraries(f.read())

    app_id = manifest.get('app-id', manifest.get('id'))
    tap.check(app_id == APP_ID, f'app-id is {APP_ID}', f'it is {app_id!r}')
    tap.check(manifest.get('command') == COMMAND, f'command is {COMMAND}',
              f'it is {manifest.get("command")!r}')
    tap.check(manifest.get('runtime') == 'org.gnome.Platform'
              and manifest.get('sdk') == 'org.gnome.Sdk',
              'runtime and sdk are GNOME\'s',
              f'{manifest.get("runtime")!r} and {manifest.get("sdk")!r}')

    args = manifest.get('finish-args', [])
    for arg in FINISH_ARGS:
        tap.check(arg in args, f'finish-args has {arg}')
    extra = [a for a in args if a not in FINISH_ARGS]
    tap.check(not extra, 'finish-args has nothing the app does not need',
              'unexplained: ' + ' '.join(extra))

    names = list(module_names(manifest.get('modules', [])))
    tap.check(bool(names) and names[-1] == 'pinhole', 'the last module is pinhole itself',
              f'modules: {names}')
    app = next((m for m in manifest.get('modules', [])
                if isinstance(m, dict) and m.get('name') == 'pinhole'), {})
    tap.check(app.get('buildsystem') == 'meson'
              and {'type': 'dir', 'path': '..'} in app.get('sources', []),
              'pinhole builds with meson from this tree',
              f'buildsystem {app.get("buildsystem")!r}, sources {app.get("sources")!r}')

    tap.check(bool(libraries), 'meson.build names its libraries', f'read {meson_path}')
    for lib in libraries:
        if lib in RUNTIME:
            continue
        module = MODULE_FOR.get(lib)
        if module is None:
            tap.check(False, f'{lib} from meson.build is in the runtime or a module',
                      f'add {lib} to RUNTIME or MODULE_FOR in {sys.argv[0]}')
        else:
            tap.check(module in names, f'{lib} from meson.build is built by module {module}',
                      f'modules: {names}')

    print(f'1..{tap.n}')
    return 1 if tap.failed else 0


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit('usage: check-flatpak-manifest.py MANIFEST MESON_BUILD')
    sys.exit(main(sys.argv[1], sys.argv[2]))
