#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# test-gui.py SCENARIO: the app driven through AT-SPI as a person (or a screen reader) would,
# against a real pinhole-server on loopback. Scenarios: sign-in, chat (request, both ways,
# the path going direct, removing a lost device, every control named), key-change, transfer
# (a file chosen in alice's window, or dragged onto her conversation or bob's row, arrives in
# bob's: accept, a folder, decline, Save As…, pause and cancel). Prints TAP.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinhole_gui as G  # noqa: E402

BUTTON = ('push button', 'toggle button')


# ---- sign-in ----

def sign_in_setup(rig, a11y):
    rig.start_server()
    return {}


def fill_sign_in(a11y, win, server, user, password):
    a11y.set_text(a11y.wait(win, 'text', name='Server'), server)
    a11y.set_text(a11y.wait(win, 'text', name='User name'), user)
    a11y.set_text(a11y.wait(win, 'password text', name='Password'), password)


def open_window(rig, a11y, profile, **kw):
    proc = rig.app(profile, **kw)
    app = a11y.app(proc.pid)
    return proc, app, a11y.window(app)


def test_create_account(rig, a11y, state):
    proc, app, win = open_window(rig, a11y, 'alice')
    fill_sign_in(a11y, win, rig.server_url, 'alice', 'correct horse')
    a11y.click(a11y.wait(win, 'push button', name='Create Account'))
    # the main view: the sidebar's controls are there and the sign-in form is not
    a11y.wait(win, BUTTON, name='Add contact', timeout=20)
    a11y.wait(win, BUTTON, name='Main menu')
    a11y.wait_gone(win, 'push button', name='Create Account')
    # the account exists on the server: the CLI can log a further device in with it
    rig.env['PINHOLE_PASSWORD'] = 'correct horse'
    rig.cli('alice-cli', 'login', 'alice')
    rig.env['PINHOLE_PASSWORD'] = 'gui-test-password'


def sign_in_error(rig, a11y, profile, user, password, words):
    proc, app, win = open_window(rig, a11y, profile)
    fill_sign_in(a11y, win, rig.server_url, user, password)
    a11y.click(a11y.wait(win, 'push button', name='Sign In'))
    label = a11y.wait(win, 'label', contains=words, timeout=20)
    # still on the sign-in view, ready for another try
    a11y.wait(win, 'push button', name='Sign In')
    if a11y.find(win, BUTTON, name='Add contact'):
        raise G.Failure(f'the main view is shown after "{label.name}"')
    proc.stop()


def test_wrong_password(rig, a11y, state):
    sign_in_error(rig, a11y, 'alice-2', 'alice', 'wrong horse', 'Wrong password')


def test_unknown_user(rig, a11y, state):
    sign_in_error(rig, a11y, 'nobody', 'nobody', 'any password', 'There is no user')


# ---- chat ----

def chat_setup(rig, a11y):
    rig.start_server()
    rig.cli('alice', 'register', 'alice')
    rig.cli('bob', 'register', 'bob')
    alice, _, alice_win = open_window(rig, a11y, 'alice')
    bob, _, bob_win = open_window(rig, a11y, 'bob')
    # no window manager: put bob beside alice, so that each gets its own clicks
    move_window(rig, bob.pid, 960, 0)
    a11y.wait(alice_win, BUTTON, name='Add contact', timeout=20)
    a11y.wait(bob_win, BUTTON, name='Add contact', timeout=20)
    return {'alice': alice_win, 'bob': bob_win, 'alice_proc': alice, 'bob_proc': bob}


def move_window(rig, pid, x, y):
    import subprocess

    def window_id():
        r = subprocess.run(['xdotool', 'search', '--onlyvisible', '--pid', str(pid)],
                           env=rig.env, capture_output=True, text=True)
        return r.stdout.split()[0] if r.stdout.split() else None
    wid = G.wait_until(window_id, 15, f'an X window of pid {pid}')
    subprocess.run(['xdotool', 'windowmove', wid, str(x), str(y)], env=rig.env, check=True)
    return wid


def test_request_accept(rig, a11y, s):
    alice, bob = s['alice'], s['bob']
    a11y.click(a11y.wait(alice, BUTTON, name='Add contact'))
    entry = a11y.wait(alice, 'text', name='Contact’s user name')
    a11y.set_text(entry, 'bob')
    a11y.click(a11y.wait(alice, 'push button', name='Add'))
    a11y.wait(alice, 'list item', prefix='bob, contact request sent', timeout=15)
    a11y.click(a11y.wait(bob, 'push button', name='Accept alice', timeout=15))
    a11y.wait(bob, 'list item', prefix='alice, online', timeout=15)
    a11y.wait(alice, 'list item', prefix='bob, online', timeout=15)


def open_conversation(a11y, win, user):
    row = a11y.wait(win, 'list item', prefix=f'{user}, ')
    a11y.mouse_click(row)
    return a11y.wait(win, 'text', name='Message', timeout=10)


def send_with_enter(a11y, win, entry, text):
    a11y.focus(entry)
    G.wait_until(lambda: entry.getState().contains(a11y.pyatspi.STATE_FOCUSED), 5,
                 'the message entry takes the focus')
    entry.queryEditableText().insertText(0, text, len(text))
    a11y.press('Return')
    # Enter sends and empties the entry
    G.wait_until(lambda: a11y.text(entry) == '', 5, 'Enter sends and clears the entry')


def test_chat_both_ways(rig, a11y, s):
    alice, bob = s['alice'], s['bob']
    import subprocess
    # keyboard input goes to the window with the X focus
    a_wid = move_window(rig, s['alice_proc'].pid, 0, 0)
    b_wid = move_window(rig, s['bob_proc'].pid, 960, 0)
    entry = open_conversation(a11y, alice, 'bob')
    subprocess.run(['xdotool', 'windowfocus', '--sync', a_wid], env=rig.env, check=True)
    send_with_enter(a11y, alice, entry, 'Hello Bob, from the window')
    a11y.wait(alice, 'label', name='Hello Bob, from the window')
    bob_entry = open_conversation(a11y, bob, 'alice')
    a11y.wait(bob, 'label', name='Hello Bob, from the window', timeout=15)
    subprocess.run(['xdotool', 'windowfocus', '--sync', b_wid], env=rig.env, check=True)
    send_with_enter(a11y, bob, bob_entry, 'Hi Alice, got it')
    a11y.wait(alice, 'label', name='Hi Alice, got it', timeout=15)


def test_path_direct(rig, a11y, s):
    alice = s['alice']
    seen = []

    def direct():
        b = a11y.find(alice, BUTTON, prefix='Connection path:')
        if b is not None and (not seen or seen[-1] != b.name):
            seen.append(b.name)
        return b is not None and b.name.startswith('Connection path: Direct')
    try:
        G.wait_until(direct, 30, 'the path button says Direct')
    finally:
        print(f'# path button names seen: {seen}')
    if not seen[0].startswith('Connection path: Relayed') and len(seen) > 1:
        raise G.Failure(f'the path started as {seen[0]!r}, neither relayed nor direct')


def test_path_relay_toggle(rig, a11y, s):
    """the path label follows the path live: relay only on, Relayed; off again, Direct"""
    alice = s['alice']
    seen = []

    def path_is(word):
        def check():
            b = a11y.find(alice, BUTTON, prefix='Connection path:')
            if b is not None and (not seen or seen[-1] != b.name):
                seen.append(b.name)
            return b is not None and b.name.startswith(f'Connection path: {word}')
        return check
    a11y.click(a11y.wait(alice, BUTTON, prefix='Connection path: Direct'))
    switch = a11y.wait(alice, 'toggle button', name='Relay only for this contact')
    try:
        a11y.click(switch)
        G.wait_until(path_is('Relayed'), 15, 'the path button says Relayed with relay only on')
        a11y.click(switch)
        G.wait_until(path_is('Direct'), 30, 'the path button says Direct again')
    finally:
        print(f'# path button names seen: {seen}')
        a11y.press('Escape')


def test_block_request(rig, a11y, s):
    """a blocked request goes, and the same person asking again never shows up"""
    import time
    alice = s['alice']
    rig.cli('carol', 'register', 'carol')
    rig.cli('carol', 'add', 'alice')
    a11y.click(a11y.wait(alice, 'push button', name='Block carol', timeout=15))
    a11y.wait_gone(alice, 'push button', name='Accept carol', timeout=10)
    r = rig.cli('carol', 'add', 'alice')
    if '"requested"' not in r.stdout:
        raise G.Failure(f'asking again should look like asking anyone: {r.stdout!r}')
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if a11y.find(alice, 'push button', name='Accept carol'):
            raise G.Failure('a blocked user\'s request reached the window')
        time.sleep(0.2)


def devices_dialog(rig, a11y, proc, win):
    """the main menu's Your Devices: Returns its window"""
    a11y.click(a11y.wait(win, BUTTON, name='Main menu'))
    a11y.click(a11y.wait(win.parent, ('menu item', 'push button'), name='Your Devices',
                         timeout=10))
    app = a11y.app(proc.pid)

    def dialog():
        for i in range(app.childCount):
            w = app.getChildAtIndex(i)
            if w is not None and w.name == 'Your devices' and a11y.showing(w):
                return w
        return None
    return G.wait_until(dialog, 10, 'the Your Devices window')


def close_window(rig, title):
    """gives the window titled @title the keyboard and presses Escape"""
    import subprocess
    r = subprocess.run(['xdotool', 'search', '--onlyvisible', '--name', f'^{title}$'],
                       env=rig.env, capture_output=True, text=True)
    if not r.stdout.split():
        raise G.Failure(f'no X window titled {title}')
    wid = r.stdout.split()[0]
    subprocess.run(['xdotool', 'windowfocus', '--sync', wid], env=rig.env, check=True,
                   timeout=10)
    subprocess.run(['xdotool', 'key', '--window', wid, 'Escape'], env=rig.env, check=True,
                   timeout=10)


def json_events(r, event):
    import json
    return [o for o in (json.loads(line) for line in r.stdout.splitlines() if line.strip())
            if o.get('event') == event]


def test_devices_remove(rig, a11y, s):
    """alice signs in on a phone too; her window lists both and removes the phone, which is
    then signed out for good (its token no longer logs in)"""
    rig.cli('alice-phone', 'login', 'alice')
    listed = json_events(rig.cli('alice-phone', 'devices'), 'device')
    phone = [d['device'] for d in listed if d['this']]
    window = [d['device'] for d in listed if not d['this']]
    if len(phone) != 1 or len(window) != 1:
        raise G.Failure(f'expected the phone and the window\'s device: {listed}')
    phone, window = phone[0], window[0]
    dialog = devices_dialog(rig, a11y, s['alice_proc'], s['alice'])
    a11y.wait(dialog, 'list item', name=f'{phone}, Offline', timeout=15)
    a11y.wait(dialog, 'list item', name=f'{window}, This device')
    # this device has no Remove button: only the phone does
    removes = [n.name for n in a11y.walk(dialog)
               if n.getRoleName() == 'push button' and (n.name or '').startswith('Remove ')]
    if removes != [f'Remove {phone}']:
        raise G.Failure(f'expected one Remove button, for {phone}: {removes}')
    a11y.click(a11y.wait(dialog, 'push button', name=f'Remove {phone}'))
    app = a11y.app(s['alice_proc'].pid)
    confirm = G.wait_until(lambda: a11y.find(app, 'push button', name='Remove'), 10,
                           'the confirmation\'s Remove button')
    a11y.click(confirm)
    a11y.wait_gone(dialog, 'list item', prefix=f'{phone}, ', timeout=15)
    a11y.wait(dialog, 'list item', name=f'{window}, This device', timeout=15)
    # without the password the phone's token is all it has, and it no longer works
    password = rig.env.pop('PINHOLE_PASSWORD')
    try:
        r = rig.cli('alice-phone', 'devices', check=False)
    finally:
        rig.env['PINHOLE_PASSWORD'] = password
    if r.returncode == 0:
        raise G.Failure(f'the removed phone still logs in: {r.stdout!r}')
    # Escape closes it (its header bar's close button is not on the accessibility bus)
    close_window(rig, 'Your Devices')
    G.wait_until(lambda: not a11y.showing(dialog), 10, 'the Your Devices window to close')


ROLES_NEEDING_NAMES = ('push button', 'toggle button', 'text', 'entry', 'password text')


def unnamed_controls(a11y, win):
    bad = []

    def walk(node, path):
        try:
            role = node.getRoleName()
            name = node.name or ''
        except Exception:
            return
        here = path + [f'{role}:{name}' if name else role]
        # every control the app shows or can show (another stack page, a closed revealer or
        # popover): GTK's own never-shown parts (an info bar's or search bar's hidden close
        # button) are not VISIBLE and no one meets them
        if (role in ROLES_NEEDING_NAMES and name.strip() == '' and
                node.getState().contains(a11y.pyatspi.STATE_VISIBLE)):
            shown = 'showing' if a11y.showing(node) else 'not showing now'
            bad.append(' > '.join(here) + f' ({shown})')
        for i in range(node.childCount):
            try:
                walk(node.getChildAtIndex(i), here)
            except Exception:
                continue
    walk(win, [])
    return bad


def test_a11y_names(rig, a11y, s):
    # signed in, a conversation open (the chat subtest left it so)
    a11y.wait(s['alice'], 'text', name='Message')
    bad = unnamed_controls(a11y, s['alice'])
    if bad:
        raise G.Failure('controls without an accessible name:\n' + '\n'.join(bad))


# ---- key change ----

def key_setup(rig, a11y):
    rig.start_server()
    rig.mutual_contacts('alice', 'bob')
    bob = rig.cli_listen('bob')
    rig.wait_event(bob, 'online')
    alice, _, win = open_window(rig, a11y, 'alice')
    entry = open_conversation(a11y, win, 'bob')
    # alice's device records bob's first key as it encrypts to it
    entry.queryEditableText().insertText(0, 'before the re-install', 21)
    a11y.click(a11y.wait(win, 'push button', name='Send'))
    rig.wait_event(bob, 'message', text='before the re-install')
    return {'alice': win, 'bob': bob}


def test_key_changed_banner(rig, a11y, s):
    win = s['alice']
    if a11y.find(win, 'label', contains='safety number changed'):
        raise G.Failure('the key-changed banner shows before any key changed')
    # bob re-installs: a new profile, a new device key, the same account
    rig.cli('bob-new', 'login', 'bob')
    bob_new = rig.cli_listen('bob-new')
    rig.wait_event(bob_new, 'online')
    rig.cli('bob-new', 'send', 'alice', 'hello from my new phone')
    a11y.wait(win, 'label', contains='safety number changed', timeout=20)
    a11y.wait(win, 'push button', name='Accept new key')
    a11y.wait(win, 'push button', name='Compare keys')
    s['bob_new'] = bob_new


def test_message_held(rig, a11y, s):
    """what alice writes now is held, and says so, until she accepts the new key"""
    win = s['alice']
    entry = a11y.wait(win, 'text', name='Message')
    text = 'written while the key is new'
    entry.queryEditableText().insertText(0, text, len(text))
    a11y.click(a11y.wait(win, 'push button', name='Send'))
    a11y.wait(win, 'list item', contains=f'{text}, held until you accept the new key',
              timeout=10)
    if a11y.find(win, 'label', contains='could not be sent'):
        raise G.Failure('a held message is reported as not sent')


def test_accept_new_key(rig, a11y, s):
    win = s['alice']
    a11y.click(a11y.wait(win, 'push button', name='Accept new key'))
    a11y.wait_gone(win, 'label', contains='safety number changed', timeout=10)
    # the held message goes out: delivered on alice's side, and bob's new device has it
    text = 'written while the key is new'
    a11y.wait(win, 'list item', contains=f'{text}, delivered', timeout=20)
    rig.wait_event(s['bob_new'], 'message', text=text)

# ---- file transfer ----

def transfer_setup(rig, a11y):
    rig.start_server()
    rig.mutual_contacts('alice', 'bob')
    # the desktop's file manager and notification server, as stand-ins that log each call
    here = os.path.dirname(os.path.abspath(__file__))
    calls = os.path.join(rig.tmp, 'desktop-calls.jsonl')
    desktop = rig.spawn('desktop', ['/usr/bin/python3', os.path.join(here, 'fake_desktop.py'),
                                    calls])
    G.wait_until(lambda: 'ready' in open(desktop.log).read(), 15,
                 'the stand-in file manager and notification server are on the bus')
    src = os.path.join(rig.tmp, 'alice-files')
    downloads = os.path.join(rig.tmp, 'bob-downloads')   # made by the app when it accepts
    os.makedirs(src)
    alice, _, alice_win = open_window(rig, a11y, 'alice',
                                      extra_env=rig.downloads_env('alice', os.path.join(
                                          rig.tmp, 'alice-downloads')))
    bob, _, bob_win = open_window(rig, a11y, 'bob', extra_env=rig.downloads_env('bob', downloads))
    a_wid = move_window(rig, alice.pid, 0, 0)
    move_window(rig, bob.pid, 960, 0)
    a11y.wait(alice_win, 'list item', prefix='bob, online', timeout=20)
    a11y.wait(bob_win, 'list item', prefix='alice, online', timeout=20)
    open_conversation(a11y, alice_win, 'bob')
    open_conversation(a11y, bob_win, 'alice')
    return {'alice': alice_win, 'bob': bob_win, 'alice_proc': alice, 'bob_proc': bob,
            'a_wid': a_wid, 'src': src, 'downloads': downloads, 'calls': calls}


def desktop_calls(s, method):
    """what the app asked of the stand-in desktop so far, of one @method"""
    import json
    if not os.path.exists(s['calls']):
        return []
    return [c for c in map(json.loads, open(s['calls'])) if c['method'] == method]


def make_file(path, size, sparse=False):
    with open(path, 'wb') as f:
        if sparse:
            f.truncate(size)
            f.seek(size // 2)
            f.write(b'the middle of a sparse file')
        else:
            f.write(os.urandom(size))


def pick_in_dialog(rig, a11y, pid, title, path, button):
    """in the real GtkFileChooserDialog @title of the app @pid, picks @path, typing it as a
    person would (GTK's location entry opens on the first character), and clicks @button"""
    import subprocess

    def dialog():
        r = subprocess.run(['xdotool', 'search', '--onlyvisible', '--name', title],
                           env=rig.env, capture_output=True, text=True)
        return r.stdout.split()[0] if r.stdout.split() else None
    wid = G.wait_until(dialog, 15, f'the file chooser "{title}" opens')
    subprocess.run(['xdotool', 'windowfocus', '--sync', wid], env=rig.env, check=True)
    app = a11y.app(pid)
    chooser = G.wait_until(lambda: a11y.find(app, 'file chooser'), 15,
                           'the file chooser on the accessibility bus')
    # a "/" typed in the dialog opens its location entry; the rest is pasted there at once
    # (typed key by key, GTK's completion races its own folder loading)
    subprocess.run(['xdotool', 'type', '/'], env=rig.env, check=True)
    location = a11y.wait(chooser, 'text', timeout=10)
    G.wait_until(lambda: a11y.text(location) == '/', 10, 'the location entry opens with "/"')
    a11y.set_text(location, path)
    G.wait_until(lambda: a11y.text(location) == path, 10, f'the location entry holds {path}')
    a11y.click(a11y.wait(chooser, 'push button', name=button))
    G.wait_until(lambda: dialog() is None, 10, 'the file chooser closes')


def choose_file(rig, a11y, s, path, folder=False):
    """alice clicks Send files (or a folder) and picks @path"""
    a11y.click(a11y.wait(s['alice'], 'toggle button', name='Send files or a folder'))
    item = 'Send a Folder…' if folder else 'Send Files…'
    a11y.click(a11y.wait(a11y.app(s['alice_proc'].pid), BUTTON + ('menu item', 'check box'),
                         name=item))
    pick_in_dialog(rig, a11y, s['alice_proc'].pid,
                   'Send a Folder to bob' if folder else 'Send Files to bob', path, 'Send')


def test_save_as(rig, a11y, s):
    """Save As… on bob's card: the file goes to the folder he picks, not to Downloads"""
    path = os.path.join(s['src'], 'elsewhere.bin')
    make_file(path, 200000)
    choose_file(rig, a11y, s, path)
    there = os.path.join(rig.tmp, 'bob-chosen')
    os.makedirs(there)
    a11y.click(a11y.wait(s['bob'], 'push button', name='Save elsewhere.bin in another folder',
                         timeout=20))
    pick_in_dialog(rig, a11y, s['bob_proc'].pid, 'Save In', there, 'Save Here')
    a11y.wait(s['bob'], 'list item', prefix='elsewhere.bin, from alice: Received and verified',
              timeout=30)
    with open(path, 'rb') as a, open(os.path.join(there, 'elsewhere.bin'), 'rb') as b:
        if a.read() != b.read():
            raise G.Failure('the file saved with Save As… differs from the one alice sent')
    if os.path.exists(os.path.join(s['downloads'], 'elsewhere.bin')):
        raise G.Failure('Save As… saved into Downloads too')


def test_offer_arrives(rig, a11y, s):
    path = os.path.join(s['src'], 'report.bin')
    make_file(path, 3 * 1024 * 1024 + 123)     # four blocks, the last one short
    choose_file(rig, a11y, s, path)
    a11y.wait(s['alice'], 'list item', prefix='report.bin, to bob: Waiting for bob to accept',
              timeout=20)
    a11y.wait(s['bob'], 'list item', prefix='report.bin, from alice: alice wants to send you',
              timeout=20)
    a11y.wait(s['bob'], 'push button', name='Accept report.bin')
    a11y.wait(s['bob'], 'push button', name='Decline report.bin')
    a11y.wait(s['bob'], 'push button', name='Save report.bin in another folder')
    a11y.wait(s['alice'], 'push button', name='Cancel report.bin')
    # bob's sidebar says it too, in alice's row, in place of her last message
    a11y.wait(s['bob'], 'label', name='Offers you report.bin', timeout=10)
    if os.path.exists(s['downloads']) and os.listdir(s['downloads']):
        raise G.Failure(f'bob\'s Downloads has {os.listdir(s["downloads"])} before he accepts')


def test_accept_arrives_intact(rig, a11y, s):
    a11y.click(a11y.wait(s['bob'], 'push button', name='Accept report.bin'))
    a11y.wait(s['bob'], 'list item', prefix='report.bin, from alice: Received and verified',
              timeout=30)
    a11y.wait(s['alice'], 'list item', prefix='report.bin, to bob: Delivered to bob and verified',
              timeout=30)
    a11y.wait(s['bob'], 'push button', name='Open report.bin')
    a11y.wait(s['bob'], 'push button', name='Show report.bin in its folder')
    got = os.path.join(s['downloads'], 'report.bin')
    with open(os.path.join(s['src'], 'report.bin'), 'rb') as a, open(got, 'rb') as b:
        if a.read() != b.read():
            raise G.Failure('the file in bob\'s Downloads differs from the one alice sent')
    if a11y.find(s['bob'], 'push button', name='Accept report.bin'):
        raise G.Failure('the Accept button is still there after the file arrived')
    a11y.wait_gone(s['bob'], 'label', name='Offers you report.bin', timeout=10)


def test_show_in_folder(rig, a11y, s):
    """Show in Folder asks the file manager (org.freedesktop.FileManager1) for the file
    received, by the name it took in Downloads"""
    a11y.click(a11y.wait(s['bob'], 'push button', name='Show report.bin in its folder'))
    calls = G.wait_until(lambda: desktop_calls(s, 'ShowItems'), 10,
                         'Show in Folder calls the file manager')
    want = 'file://' + os.path.join(s['downloads'], 'report.bin')
    if calls != [{'method': 'ShowItems', 'uris': [want]}]:
        raise G.Failure(f'the file manager was asked {calls}, not to show {want}')


def test_notified(rig, a11y, s):
    """bob's window was not focused: the offer and the finished file each made a notification"""
    def seen():
        n = [(c['summary'], c['body']) for c in desktop_calls(s, 'Notify')]
        return n if ('alice wants to send you files', 'report.bin, 3.1\xa0MB') in n and \
            ('Files from alice arrived', 'report.bin') in n else None
    try:
        G.wait_until(seen, 10, 'notifications of the offer and of the file arrived')
    finally:
        print(f'# notifications: {desktop_calls(s, "Notify")}')


def tree_of(top):
    """relative path -> bytes (None for a folder) of everything below @top"""
    found = {}
    for root, dirs, files in os.walk(top):
        for d in dirs:
            found[os.path.relpath(os.path.join(root, d), top)] = None
        for f in files:
            with open(os.path.join(root, f), 'rb') as fh:
                found[os.path.relpath(os.path.join(root, f), top)] = fh.read()
    return found


def test_folder_arrives(rig, a11y, s):
    """a folder with a nested one and an empty one, chosen with Send a Folder…"""
    top = os.path.join(s['src'], 'holiday')
    os.makedirs(os.path.join(top, 'day 1', 'raw'))
    os.makedirs(os.path.join(top, 'empty'))
    make_file(os.path.join(top, 'day 1', 'beach.jpg'), 1500000)
    make_file(os.path.join(top, 'day 1', 'raw', 'beach.dng'), 2 * 1024 * 1024)
    make_file(os.path.join(top, 'notes.txt'), 0)
    choose_file(rig, a11y, s, top, folder=True)
    a11y.click(a11y.wait(s['bob'], 'push button', name='Accept holiday', timeout=30))
    a11y.wait(s['bob'], 'list item', prefix='holiday, from alice: Received and verified',
              timeout=30)
    a11y.wait(s['alice'], 'list item', prefix='holiday, to bob: Delivered to bob and verified',
              timeout=30)
    sent, got = tree_of(top), tree_of(os.path.join(s['downloads'], 'holiday'))
    if sent != got:
        raise G.Failure(f'the folder differs: sent {sorted(sent)}, got {sorted(got)}')


def drag(rig, src, dst, steps=20):
    """a real drag with the pointer, from (x, y) @src to @dst, in small moves"""
    import subprocess
    xdo = ['xdotool']
    subprocess.run(xdo + ['mousemove', '--sync', str(src[0]), str(src[1])], env=rig.env,
                   check=True)
    subprocess.run(xdo + ['mousedown', '1'], env=rig.env, check=True)
    for i in range(1, steps + 1):
        x = src[0] + (dst[0] - src[0]) * i // steps
        y = src[1] + (dst[1] - src[1]) * i // steps
        subprocess.run(xdo + ['mousemove', str(x), str(y)], env=rig.env, check=True)
        time.sleep(0.05)
    time.sleep(0.3)   # the target answers the last XdndPosition
    subprocess.run(xdo + ['mouseup', '1'], env=rig.env, check=True)


def drop_file(rig, a11y, s, name, onto):
    """drags @name (a new file of alice's) from another program onto the widget @onto"""
    import subprocess
    path = os.path.join(s['src'], name)
    make_file(path, 1234567)
    here = os.path.dirname(os.path.abspath(__file__))
    source = rig.spawn('drag-source', ['/usr/bin/python3', os.path.join(here, 'drag_source.py'),
                                       '700', '600', path])
    try:
        def geometry():
            r = subprocess.run(['xdotool', 'search', '--onlyvisible', '--name',
                                'pinhole drag source', 'getwindowgeometry', '--shell'],
                               env=rig.env, capture_output=True, text=True)
            g = dict(line.split('=', 1) for line in r.stdout.split() if '=' in line)
            return g if 'X' in g else None
        g = G.wait_until(geometry, 15, 'the drag source\'s window')
        t = onto.queryComponent().getExtents(a11y.pyatspi.DESKTOP_COORDS)
        drag(rig, (int(g['X']) + int(g['WIDTH']) // 2, int(g['Y']) + int(g['HEIGHT']) // 2),
             (t.x + t.width // 3, t.y + t.height // 2))
        a11y.click(a11y.wait(s['bob'], 'push button', name=f'Accept {name}', timeout=30))
        a11y.wait(s['bob'], 'list item', prefix=f'{name}, from alice: Received and verified',
                  timeout=30)
    finally:
        source.stop()
    with open(path, 'rb') as a, open(os.path.join(s['downloads'], name), 'rb') as b:
        if a.read() != b.read():
            raise G.Failure(f'the dropped {name} in bob\'s Downloads differs from alice\'s')


def test_drop_arrives(rig, a11y, s):
    """a file dragged from another program onto alice's conversation arrives in bob's"""
    drop_file(rig, a11y, s, 'dropped.bin',
              a11y.wait(s['alice'], ('list', 'list box'), name='Messages'))


def test_drop_on_contact(rig, a11y, s):
    """the same, dropped on bob's row in alice's sidebar"""
    drop_file(rig, a11y, s, 'dropped-on-bob.bin',
              a11y.wait(s['alice'], 'list item', prefix='bob, '))


def test_decline(rig, a11y, s):
    path = os.path.join(s['src'], 'unwanted.txt')
    make_file(path, 5000)
    choose_file(rig, a11y, s, path)
    a11y.click(a11y.wait(s['bob'], 'push button', name='Decline unwanted.txt', timeout=20))
    a11y.wait(s['alice'], 'list item', prefix='unwanted.txt, to bob: bob declined it', timeout=20)
    a11y.wait(s['bob'], 'list item', prefix='unwanted.txt, from alice: You declined it',
              timeout=10)
    a11y.wait_gone(s['bob'], 'push button', name='Accept unwanted.txt')
    if any('unwanted' in n for n in os.listdir(s['downloads'])):
        raise G.Failure(f'a declined file reached bob\'s Downloads: {os.listdir(s["downloads"])}')


def test_cancel_running(rig, a11y, s):
    """bob pauses and resumes, then cancels mid-transfer: both cards say so and no partial
    file stays behind"""
    path = os.path.join(s['src'], 'big.img')
    make_file(path, 1024 * 1024 * 1024, sparse=True)
    choose_file(rig, a11y, s, path)
    # hashing 1 GiB first: slow on a loaded machine
    a11y.click(a11y.wait(s['bob'], 'push button', name='Accept big.img', timeout=150))
    a11y.wait(s['bob'], 'list item', prefix='big.img, from alice: Receiving from alice',
              timeout=20)
    seen = []

    def described():
        bar = a11y.find(s['bob'], 'progress bar', name='Transfer progress')
        d = bar.description if bar is not None else None
        if not seen or seen[-1] != d:
            seen.append(d)
        return d is not None and ' of 1.1 GB' in d.replace('\xa0', ' ')
    try:
        G.wait_until(described, 20, 'the progress bar describes the bytes done')
    finally:
        print(f'# progress descriptions seen: {seen[:5]}')
    # paused on bob's side: both cards say so; resumed, it moves again
    a11y.click(a11y.wait(s['bob'], 'push button', name='Pause big.img'))
    a11y.wait(s['bob'], 'list item', prefix='big.img, from alice: Paused', timeout=10)
    a11y.wait(s['alice'], 'list item', prefix='big.img, to bob: Paused', timeout=10)
    a11y.click(a11y.wait(s['bob'], 'push button', name='Resume big.img'))
    a11y.wait(s['bob'], 'list item', prefix='big.img, from alice: Receiving from alice',
              timeout=10)
    a11y.click(a11y.wait(s['bob'], 'push button', name='Cancel big.img'))
    a11y.wait(s['bob'], 'list item', prefix='big.img, from alice: The transfer was cancelled',
              timeout=10)
    a11y.wait(s['alice'], 'list item', prefix='big.img, to bob: The transfer was cancelled',
              timeout=20)
    G.wait_until(lambda: not [n for n in os.listdir(s['downloads']) if 'big.img' in n], 10,
                 'the partial file of a cancelled transfer is removed')


def test_transfer_controls_named(rig, a11y, s):
    for win in (s['alice'], s['bob']):
        bad = unnamed_controls(a11y, win)
        if bad:
            raise G.Failure('controls without an accessible name:\n' + '\n'.join(bad))



SCENARIOS = {
    # each sign-in subtest opens its own window (wrong-password needs alice's account)
    'sign-in': (sign_in_setup, [('create-account', test_create_account),
                                ('wrong-password', test_wrong_password),
                                ('unknown-user', test_unknown_user)], False),
    'chat': (chat_setup, [('request-accept', test_request_accept),
                          ('chat-both-ways', test_chat_both_ways),
                          ('path-goes-direct', test_path_direct),
                          ('path-relayed-then-direct', test_path_relay_toggle),
                          ('block-request', test_block_request),
                          ('devices-remove', test_devices_remove),
                          ('every-control-named', test_a11y_names)], True),
    'key-change': (key_setup, [('key-changed-banner', test_key_changed_banner),
                               ('message-held', test_message_held),
                               ('accept-new-key', test_accept_new_key)], True),
    'transfer': (transfer_setup, [('offer-arrives', test_offer_arrives),
                                  ('accept-arrives-intact', test_accept_arrives_intact),
                                  ('show-in-folder', test_show_in_folder),
                                  ('notified', test_notified),
                                  ('folder-arrives', test_folder_arrives),
                                  ('drop-arrives', test_drop_arrives),
                                  ('drop-on-contact', test_drop_on_contact),
                                  ('decline', test_decline),
                                  ('save-as', test_save_as),
                                  ('cancel-running', test_cancel_running),
                                  ('every-control-named', test_transfer_controls_named)], True),
}

if __name__ == '__main__':
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print(f'usage: {sys.argv[0]} {"|".join(SCENARIOS)}', file=sys.stderr)
        sys.exit(2)
    setup, subtests, chain = SCENARIOS[sys.argv[1]]
    sys.exit(G.run(sys.argv[1], setup, subtests, chain))
