#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Renders the app's main states into docs/screenshots/ (sign-in, main, path-popover, narrow,
# dark, transfer-offered, transfer-running, transfer-dark, transfer-narrow, devices,
# key-changed) under a private Xvfb, with a local server and demo accounts on loopback,
# through the GUI tests' harness (tests/gui/pinhole_gui.py). Needs a build in _build/ (or
# BUILD_DIR). Run with /usr/bin/python3: Debian's dogtail and PyGObject live there.
import os
import subprocess
import sys

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(top, 'tests', 'gui'))
import pinhole_gui as G  # noqa: E402

build = os.environ.get('BUILD_DIR', os.path.join(top, '_build'))
out = os.environ.get('SCREENSHOT_DIR', os.path.join(top, 'docs', 'screenshots'))
os.environ.setdefault('PINHOLE_SERVER_PROGRAM', os.path.join(build, 'src/server/pinhole-server'))
os.environ.setdefault('PINHOLE_CLI_PROGRAM', os.path.join(build, 'src/cli/pinhole-cli'))
os.environ.setdefault('PINHOLE_APP_PROGRAM', os.path.join(build, 'src/app/pinhole'))
os.environ.setdefault('PINHOLE_GSCHEMA_DIR', os.path.join(build, 'data'))

WIDE = (1100, 700)      # the sidebar and the conversation side by side


def window_id(rig, pid):
    def find():
        r = subprocess.run(['xdotool', 'search', '--onlyvisible', '--pid', str(pid)],
                           env=rig.env, capture_output=True, text=True)
        ids = r.stdout.split()
        return ids[0] if ids else None
    return G.wait_until(find, 15, f'an X window of pid {pid}')


def resize(rig, wid, w, h):
    subprocess.run(['xdotool', 'windowsize', '--sync', wid, str(w), str(h)], env=rig.env,
                   check=False, timeout=10)


def settle(a11y, win):
    """lets GTK finish a transition and draw: a bounded few round trips"""
    import time
    time.sleep(0.6)


def shot(rig, wid, name):
    path = os.path.join(out, name)
    subprocess.run(['import', '-window', wid, path], env=rig.env, check=True, timeout=30)
    print(f'screenshots: {path}')


def open_app(rig, a11y, profile, extra_env=None):
    proc = rig.app(profile, extra_env=extra_env)
    win = a11y.window(a11y.app(proc.pid))
    return proc, win, window_id(rig, proc.pid)


def open_conversation(rig, a11y, win, user):
    row = a11y.wait(win, 'list item', prefix=f'{user}, ', timeout=15)
    a11y.mouse_click(row)
    return a11y.wait(win, 'text', name='Message', timeout=10)


def direct(a11y, win):
    """a reopened conversation has no session until something is sent: wait a little"""
    try:
        a11y.wait(win, G_BUTTONS, prefix='Connection path: Direct', timeout=10)
    except G.Failure as e:
        print(f'screenshots: {e}', file=sys.stderr)


def main():
    os.makedirs(out, exist_ok=True)
    rig = G.Rig('screenshots')
    try:
        rig.start_display()
        rig.start_buses()
        a11y = G.A11y()
        rig.start_server()
        for user in ('alice', 'bob'):
            rig.cli(user, 'register', user)
        rig.cli('alice', 'add', 'bob')
        rig.cli('bob', 'accept', 'alice')
        bob = rig.cli_listen('bob')
        rig.wait_event(bob, 'online')

        # a first start: the sign-in view
        proc, win, wid = open_app(rig, a11y, 'newcomer')
        a11y.set_text(a11y.wait(win, 'text', name='Server'), rig.server_url)
        a11y.set_text(a11y.wait(win, 'text', name='User name'), 'carol')
        settle(a11y, win)
        shot(rig, wid, 'sign-in.png')
        proc.stop()

        # contacts and a conversation on a direct path
        proc, win, wid = open_app(rig, a11y, 'alice')
        resize(rig, wid, *WIDE)
        entry = open_conversation(rig, a11y, win, 'bob')
        text = 'Hi Bob! Are we direct yet?'
        entry.queryEditableText().insertText(0, text, len(text))
        a11y.click(a11y.wait(win, 'push button', name='Send'))
        rig.wait_event(bob, 'message', text=text)
        rig.cli('bob', 'send', 'alice', 'Yes: same network, well under a millisecond.')
        a11y.wait(win, 'label', name='Yes: same network, well under a millisecond.')
        a11y.wait(win, G_BUTTONS, prefix='Connection path: Direct', timeout=30)
        settle(a11y, win)
        shot(rig, wid, 'main.png')

        path_button = a11y.wait(win, G_BUTTONS, prefix='Connection path:')
        a11y.click(path_button)
        settle(a11y, win)
        if not path_button.getState().contains(a11y.pyatspi.STATE_CHECKED):
            print('screenshots: the path button opened no popover', file=sys.stderr)
        shot(rig, wid, 'path-popover.png')
        a11y.click(a11y.wait(win, G_BUTTONS, prefix='Connection path:'))

        resize(rig, wid, 360, 720)
        settle(a11y, win)
        shot(rig, wid, 'narrow.png')
        proc.stop()

        proc, win, wid = open_app(rig, a11y, 'alice', extra_env={'GTK_THEME': 'Adwaita:dark'})
        resize(rig, wid, *WIDE)
        open_conversation(rig, a11y, win, 'bob')
        a11y.wait(win, 'label', name=text)
        direct(a11y, win)
        settle(a11y, win)
        shot(rig, wid, 'dark.png')
        proc.stop()

        # bob offers alice a file: her card with Accept, then the transfer running
        transfer_shots(rig, a11y, bob)

        # alice's own devices: this one and a phone
        devices_shots(rig, a11y)

        # bob re-installs: a new device key for the same account
        proc, win, wid = open_app(rig, a11y, 'alice')
        resize(rig, wid, *WIDE)
        open_conversation(rig, a11y, win, 'bob')
        rig.cli('bob-new', 'login', 'bob')
        bob_new = rig.cli_listen('bob-new')
        rig.wait_event(bob_new, 'online')
        rig.cli('bob-new', 'send', 'alice', 'hello from my new phone')
        a11y.wait(win, 'label', contains='safety number changed', timeout=20)
        settle(a11y, win)
        shot(rig, wid, 'key-changed.png')
        return 0
    except (G.Failure, G.Missing) as e:
        print(f'screenshots: {e}', file=sys.stderr)
        print(rig.logs(), file=sys.stderr)
        return 1
    finally:
        rig.close()


G_BUTTONS = ('push button', 'toggle button')


def dark_style(a11y, win):
    """the main menu's Dark Style check, on or off again"""
    a11y.click(a11y.wait(win, G_BUTTONS, name='Main menu'))
    item = a11y.wait(win.parent, ('check menu item', 'menu item', 'check box', 'toggle button'),
                     name='Dark Style', timeout=10)
    a11y.click(item)
    settle(a11y, win)
    # no window manager gives the keyboard to the menu: close it with its button if open
    button = a11y.wait(win, G_BUTTONS, name='Main menu')
    if button.getState().contains(a11y.pyatspi.STATE_CHECKED):
        a11y.click(button)


def devices_shots(rig, a11y):
    """the main menu's Your Devices, with alice signed in on a phone too"""
    rig.cli('alice-phone', 'login', 'alice')
    proc, win, wid = open_app(rig, a11y, 'alice')
    resize(rig, wid, *WIDE)
    a11y.click(a11y.wait(win, G_BUTTONS, name='Main menu'))
    a11y.click(a11y.wait(win.parent, ('menu item', 'push button'), name='Your Devices',
                         timeout=10))
    a11y.wait(win.parent, 'push button', prefix='Remove ', timeout=15)
    settle(a11y, win)

    def dialog_id():
        r = subprocess.run(['xdotool', 'search', '--onlyvisible', '--name', '^Your Devices$'],
                           env=rig.env, capture_output=True, text=True)
        ids = r.stdout.split()
        return ids[0] if ids else None
    shot(rig, G.wait_until(dialog_id, 10, 'the Your Devices window'), 'devices.png')
    proc.stop()


def transfer_shots(rig, a11y, bob_listen):
    """bob's CLI offers a 2 GiB sparse file: alice's offered card, then it running (and
    narrow); cancelled at the end so that nothing big stays on disk"""
    env = rig.downloads_env('alice', os.path.join(rig.tmp, 'downloads-alice'))
    proc, win, wid = open_app(rig, a11y, 'alice', extra_env=env)
    resize(rig, wid, *WIDE)
    open_conversation(rig, a11y, win, 'bob')
    bob_listen.stop()
    path = os.path.join(rig.tmp, 'holiday-video.mkv')
    with open(path, 'wb') as f:
        f.truncate(2 * 1024 * 1024 * 1024)
    cli = G.program('PINHOLE_CLI_PROGRAM')
    sender = rig.spawn('send-file', [cli, '--json', '--profile', rig.profile('bob'), 'send-file',
                                     'alice', path])
    accept = a11y.wait(win, 'push button', name='Accept holiday-video.mkv', timeout=90)
    a11y.wait(win, G_BUTTONS, prefix='Connection path: Direct', timeout=30)
    settle(a11y, win)
    shot(rig, wid, 'transfer-offered.png')
    a11y.click(accept)
    a11y.wait(win, 'label', contains='left', timeout=30)
    settle(a11y, win)
    shot(rig, wid, 'transfer-running.png')
    dark_style(a11y, win)
    settle(a11y, win)
    shot(rig, wid, 'transfer-dark.png')
    dark_style(a11y, win)
    resize(rig, wid, 360, 720)
    settle(a11y, win)
    shot(rig, wid, 'transfer-narrow.png')
    a11y.click(a11y.wait(win, 'push button', name='Cancel holiday-video.mkv'))
    a11y.wait(win, 'list item', contains='cancelled', timeout=10)
    sender.stop()
    proc.stop()

if __name__ == '__main__':
    sys.exit(main())
