# SPDX-License-Identifier: GPL-3.0-or-later
# pinhole_gui.py: the GUI tests' harness. Each test gets its own Xvfb (display :90-:99), a
# private session bus, the AT-SPI bus, a real pinhole-server on 127.0.0.1 with a new database,
# and `pinhole` windows on their own profiles; everything it starts it stops by PID, children
# included, whatever happens. Waits poll with a deadline. Run with /usr/bin/python3 (Debian's
# python3-dogtail and python3-gi live in its dist-packages).
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

DISPLAYS = range(90, 100)        # other test rigs on these machines use :77-:88


def displays():
    """PINHOLE_TEST_DISPLAYS=71-79 picks other numbers, for machines that share :90-:99"""
    spec = os.environ.get('PINHOLE_TEST_DISPLAYS', '')
    if '-' in spec:
        first, last = spec.split('-', 1)
        return range(int(first), int(last) + 1)
    return DISPLAYS
SCREEN = '1900x800x24'           # two 900 px windows side by side: no window manager to place them
POLL = 0.1


class Failure(Exception):
    pass


class Missing(Exception):
    """a prerequisite of the test is not on this machine"""


def program(env_name, fallback=None):
    path = os.environ.get(env_name, fallback)
    if not path or not os.access(path, os.X_OK):
        raise Missing(f'{env_name} names no program ({path!r}); run the tests with meson test')
    return path


def need(path):
    if shutil.which(path) is None:
        raise Missing(f'{path} is not installed (build-aux/install-deps.sh installs it)')
    return shutil.which(path)


def wait_until(fn, timeout, what):
    """polls fn until it returns something true; Returns: that value"""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = fn()
            if value:
                return value
        except Failure:
            raise
        except Exception as e:   # a widget that went away under us: look again
            last_error = e
        if time.monotonic() > deadline:
            extra = f' (last error: {last_error!r})' if last_error else ''
            raise Failure(f'{what}: not within {timeout} s{extra}')
        time.sleep(POLL)


def descendants(pid):
    """the PIDs of @pid's children, grandchildren..., read from /proc"""
    parents = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(')') + 2:].split()[1])
        except (OSError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().split(') ')[1][0] != 'Z'
    except OSError:
        return False


class Proc:
    def __init__(self, name, popen, log):
        self.name, self.popen, self.log = name, popen, log

    @property
    def pid(self):
        return self.popen.pid

    def running(self):
        return self.popen.poll() is None

    def stop(self, grace=5.0):
        """SIGTERM to it and what it started, a bounded wait, then SIGKILL; by PID only"""
        pids = descendants(self.pid) + [self.pid] if self.running() else descendants(self.pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and (self.running() or any(alive(p) for p in pids)):
            time.sleep(0.05)
        for pid in pids:
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass

    def log_tail(self, n=30):
        try:
            with open(self.log, errors='replace') as f:
                return ''.join(f.readlines()[-n:])
        except OSError:
            return ''


# ---- the app's GSettings schema ----

def schema_dir(tmp):
    """THE ONE SWITCH for the app's schema: once data/org.pinhole.Pinhole.gschema.xml is in the
    tree, the build compiles it into _build/data/, and this returns that folder
    (PINHOLE_GSCHEMA_DIR, set by tests/gui/meson.build) instead of compiling a copy."""
    built = os.environ.get('PINHOLE_GSCHEMA_DIR')
    if built and os.path.exists(os.path.join(built, 'gschemas.compiled')):
        return built
    source = os.environ.get('PINHOLE_GSCHEMA_SOURCE', '/tmp/app-schemas/org.pinhole.Pinhole.gschema.xml')
    if not os.path.exists(source):
        raise Missing(f'no GSettings schema for the app: neither PINHOLE_GSCHEMA_DIR nor {source}')
    out = os.path.join(tmp, 'schemas')
    os.makedirs(out, exist_ok=True)
    shutil.copy(source, out)
    subprocess.run([need('glib-compile-schemas'), out], check=True)
    return out


class Rig:
    """one test's display, buses, server and apps"""

    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix=f'pinhole-gui-{name}-')
        self.procs = []
        self.display = None
        self.server_url = None
        self.env = dict(os.environ)
        for var in ('XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_CACHE_HOME', 'XDG_RUNTIME_DIR'):
            path = os.path.join(self.tmp, var.lower())
            os.makedirs(path, mode=0o700, exist_ok=True)
            self.env[var] = path
        # the window buttons GNOME shows (GTK's own default has three, which no GNOME user sees)
        os.makedirs(os.path.join(self.env['XDG_CONFIG_HOME'], 'gtk-3.0'))
        with open(os.path.join(self.env['XDG_CONFIG_HOME'], 'gtk-3.0', 'settings.ini'), 'w') as f:
            f.write('[Settings]\ngtk-decoration-layout=appmenu:close\n')
        self.env.update({
            'LC_ALL': 'C.UTF-8', 'LANGUAGE': 'C',   # the tests read English labels
            'GDK_BACKEND': 'x11',
            'PINHOLE_NO_PORT_MAPPING': '1',         # no UPnP/NAT-PMP on the real network
            'PINHOLE_PASSWORD': 'gui-test-password',
        })
        for var in ('NO_AT_BRIDGE', 'DBUS_SESSION_BUS_ADDRESS', 'AT_SPI_BUS_ADDRESS', 'WAYLAND_DISPLAY',
                    'GTK_THEME'):
            self.env.pop(var, None)
        self.app_env = dict(self.env)
        self.app_env['GSETTINGS_BACKEND'] = 'memory'
        self.app_env['GSETTINGS_SCHEMA_DIR'] = schema_dir(self.tmp)

    def spawn(self, name, argv, env=None, stdout=None):
        log = os.path.join(self.tmp, f'{name}.log')
        out = open(log, 'ab')
        p = subprocess.Popen(argv, env=env or self.env, stdin=subprocess.DEVNULL,
                             stdout=stdout or out, stderr=out)
        out.close()
        proc = Proc(name, p, log)
        self.procs.append(proc)
        return proc

    # ---- display and buses ----

    def start_display(self):
        xvfb = need('Xvfb')
        for n in displays():
            if os.path.exists(f'/tmp/.X{n}-lock'):
                continue
            proc = self.spawn(f'xvfb-{n}', [xvfb, f':{n}', '-screen', '0', SCREEN, '-nolisten',
                                            'tcp', '-noreset'])
            try:
                wait_until(lambda: not proc.running() or os.path.exists(f'/tmp/.X11-unix/X{n}'),
                           10, f'Xvfb :{n} starts')
            except Failure:
                proc.stop()
                continue
            if proc.running():
                self.display = f':{n}'
                self.env['DISPLAY'] = self.app_env['DISPLAY'] = self.display
                return
            self.procs.remove(proc)
        raise Failure(f'no free X display among {list(displays())}')

    def start_buses(self):
        daemon = need('dbus-daemon')
        launcher = '/usr/libexec/at-spi-bus-launcher'
        if not os.access(launcher, os.X_OK):
            raise Missing(f'{launcher} is missing (package at-spi2-core)')
        addr_file = os.path.join(self.tmp, 'session-bus')
        with open(addr_file, 'wb') as out:
            bus = self.spawn('session-bus', [daemon, '--session', '--nofork', '--nopidfile',
                                             '--print-address=1'], stdout=out)
        address = wait_until(lambda: open(addr_file).readline().strip(), 10,
                             'the session bus prints its address')
        if not bus.running():
            raise Failure('dbus-daemon exited: ' + bus.log_tail())
        self.env['DBUS_SESSION_BUS_ADDRESS'] = self.app_env['DBUS_SESSION_BUS_ADDRESS'] = address
        self.spawn('at-spi-bus', [launcher, '--launch-immediately'])
        # GTK 3 loads the bridge when the a11y bus is there; the key is for toolkits (and
        # dogtail) that ask; the private XDG_CONFIG_HOME keeps it away from the user's settings
        subprocess.run(['gsettings', 'set', 'org.gnome.desktop.interface',
                        'toolkit-accessibility', 'true'], env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # from here on this process is an AT-SPI client of this display's buses
        for var in ('DISPLAY', 'DBUS_SESSION_BUS_ADDRESS', 'XDG_RUNTIME_DIR', 'XDG_CONFIG_HOME'):
            os.environ[var] = self.env[var]
        os.environ['GTK_MODULES'] = 'gail:atk-bridge'   # what dogtail's check looks for

    # ---- server and clients ----

    def start_server(self):
        server = program('PINHOLE_SERVER_PROGRAM')
        db = os.path.join(self.tmp, 'server.db')
        proc = self.spawn('server', [server, '--listen', '127.0.0.1:0', '--stun-port', '0',
                                     '--db', db])

        def url():
            if not proc.running():
                raise Failure('pinhole-server exited: ' + proc.log_tail())
            for line in open(proc.log, errors='replace'):
                if ' listening on ' in line:
                    return line.split(' listening on ')[1].strip()
            return None
        self.server_url = wait_until(url, 15, 'pinhole-server announces its URL')
        return self.server_url

    def profile(self, name):
        return os.path.join(self.tmp, 'profiles', name)

    def cli(self, profile, *args, check=True, timeout=30):
        cli = program('PINHOLE_CLI_PROGRAM')
        argv = [cli, '--json', '--profile', self.profile(profile)]
        if args[0] in ('register', 'login'):
            argv += ['--server', self.server_url]
        r = subprocess.run(argv + list(args), env=self.env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise Failure(f'pinhole-cli {" ".join(args)} exited {r.returncode}: {r.stderr.strip()}')
        return r

    def cli_listen(self, profile):
        cli = program('PINHOLE_CLI_PROGRAM')
        return self.spawn(f'listen-{profile}', [cli, '--json', '--profile', self.profile(profile),
                                                'listen'])

    def wait_event(self, proc, event, timeout=15, **fields):
        """waits until a `listen --json` process has printed @event with @fields"""
        def seen():
            for line in open(proc.log, errors='replace'):
                try:
                    o = json.loads(line)
                except ValueError:
                    continue
                if o.get('event') == event and all(o.get(k) == v for k, v in fields.items()):
                    return o
            return None
        return wait_until(seen, timeout, f'{proc.name} prints {event} {fields}')

    def downloads_env(self, name, downloads):
        """the environment for an app whose XDG Downloads folder is @downloads: an
        XDG_CONFIG_HOME of its own, with GTK's settings and a user-dirs.dirs"""
        conf = os.path.join(self.tmp, f'config-{name}')
        shutil.copytree(os.path.join(self.env['XDG_CONFIG_HOME'], 'gtk-3.0'),
                        os.path.join(conf, 'gtk-3.0'))
        with open(os.path.join(conf, 'user-dirs.dirs'), 'w') as f:
            f.write(f'XDG_DOWNLOAD_DIR="{downloads}"\n')
        return {'XDG_CONFIG_HOME': conf}

    def mutual_contacts(self, a, b):
        """accounts @a and @b, each the other's contact"""
        self.cli(a, 'register', a)
        self.cli(b, 'register', b)
        self.cli(a, 'add', b)
        self.cli(b, 'accept', a)

    def app(self, profile, extra_env=None, args=()):
        exe = program('PINHOLE_APP_PROGRAM')
        env = dict(self.app_env)
        env.update(extra_env or {})
        return self.spawn(f'app-{profile}', [exe, '--profile', self.profile(profile)] + list(args),
                          env=env)

    # ---- the end ----

    def close(self):
        for proc in reversed(self.procs):
            proc.stop()
        self.procs = []
        shutil.rmtree(self.tmp, ignore_errors=True)

    def logs(self):
        return '\n'.join(f'--- {p.name} (pid {p.pid}) ---\n{p.log_tail()}' for p in self.procs)


# ---- AT-SPI ----

class A11y:
    """lookups by role and name over pyatspi; imported once the rig's buses are up"""

    def __init__(self):
        from dogtail.config import config
        config.checkForA11y = False
        config.logDebugToFile = False
        config.logDebugToStdOut = False
        config.actionDelay = 0.1
        config.defaultDelay = 0.1
        config.typingDelay = 0.02
        import pyatspi
        import dogtail.rawinput
        self.pyatspi = pyatspi
        self.rawinput = dogtail.rawinput

    def app(self, pid, timeout=30):
        def find():
            desktop = self.pyatspi.Registry.getDesktop(0)
            for i in range(desktop.childCount):
                a = desktop.getChildAtIndex(i)
                if a is not None and a.get_process_id() == pid:
                    return a
            return None
        return wait_until(find, timeout, f'the app (pid {pid}) on the accessibility bus')

    def window(self, app, timeout=30):
        def find():
            for i in range(app.childCount):
                w = app.getChildAtIndex(i)
                if w is not None and w.getRoleName() == 'frame':
                    return w
            return None
        return wait_until(find, timeout, 'the app\'s window')

    def walk(self, node, depth=0, limit=40):
        if node is None or depth > limit:
            return
        yield node
        try:
            n = node.childCount
        except Exception:
            return
        for i in range(n):
            try:
                child = node.getChildAtIndex(i)
            except Exception:
                continue
            yield from self.walk(child, depth + 1, limit)

    def showing(self, node):
        return node.getState().contains(self.pyatspi.STATE_SHOWING)

    def find(self, root, roles, name=None, prefix=None, contains=None, showing=True):
        if isinstance(roles, str):
            roles = (roles,)
        for node in self.walk(root):
            try:
                if node.getRoleName() not in roles:
                    continue
                n = node.name or ''
                if name is not None and n != name:
                    continue
                if prefix is not None and not n.startswith(prefix):
                    continue
                if contains is not None and contains.lower() not in n.lower():
                    continue
                if showing and not self.showing(node):
                    continue
                return node
            except Exception:
                continue
        return None

    def wait(self, root, roles, timeout=15, **kw):
        what = f'{roles} {kw}'
        return wait_until(lambda: self.find(root, roles, **kw), timeout, f'a showing {what}')

    def wait_gone(self, root, roles, timeout=15, **kw):
        wait_until(lambda: self.find(root, roles, **kw) is None, timeout,
                   f'{roles} {kw} to go away')

    def click(self, node):
        """the widget's own click action, so a covered window makes no difference"""
        action = node.queryAction()
        for i in range(action.nActions):
            if action.getName(i) in ('click', 'press', 'activate', 'toggle'):
                action.doAction(i)
                return
        raise Failure(f'{node.getRoleName()} "{node.name}" has no click action')

    def mouse_click(self, node):
        """a real pointer click in the middle of @node (for list rows, which have no action)"""
        ext = node.queryComponent().getExtents(self.pyatspi.DESKTOP_COORDS)
        self.rawinput.click(ext.x + ext.width // 2, ext.y + ext.height // 2)

    def set_text(self, node, text):
        node.queryEditableText().setTextContents(text)

    def text(self, node):
        t = node.queryText()
        return t.getText(0, t.characterCount)

    def focus(self, node):
        node.queryComponent().grabFocus()

    def press(self, key):
        self.rawinput.pressKey(key)


# ---- a tiny TAP runner: each subtest can fail on its own ----

def run(name, setup, subtests, chain=True):
    """setup(rig, a11y) -> state; subtests: [(name, fn(rig, a11y, state))]. Prints TAP. With
    @chain each subtest builds on the state the one before left, so after a failure the rest
    are reported as not run (and failed)."""
    print(f'1..{len(subtests)}', flush=True)
    failed = 0
    rig = None

    def terminated(signum, frame):
        raise KeyboardInterrupt(f'signal {signum}')
    signal.signal(signal.SIGTERM, terminated)
    try:
        try:
            rig = Rig(name)
            rig.start_display()
            rig.start_buses()
            a11y = A11y()
            state = setup(rig, a11y)
        except Missing as e:
            allow = os.environ.get('PINHOLE_TEST_ALLOW_SKIP') == '1' and not os.environ.get('CI')
            for i, (sub, _) in enumerate(subtests, 1):
                if allow:
                    print(f'ok {i} {sub} # SKIP {e}')
                else:
                    print(f'not ok {i} {sub} # {e} (PINHOLE_TEST_ALLOW_SKIP=1 skips instead)')
            return 0 if allow else 1
        except BaseException as e:
            print(f'# setup failed: {e}')
            traceback.print_exc(file=sys.stdout)
            if rig:
                print('# ' + rig.logs().replace('\n', '\n# '))
            for i, (sub, _) in enumerate(subtests, 1):
                print(f'not ok {i} {sub} # setup failed')
            return 1
        broken = None
        for i, (sub, fn) in enumerate(subtests, 1):
            if broken:
                print(f'not ok {i} {sub} # not run: {broken} failed before it', flush=True)
                failed += 1
                continue
            start = time.monotonic()
            try:
                fn(rig, a11y, state)
                print(f'ok {i} {sub} # {time.monotonic() - start:.1f} s', flush=True)
            except BaseException as e:
                failed += 1
                print(f'not ok {i} {sub}', flush=True)
                print('# ' + ''.join(traceback.format_exception(e)).replace('\n', '\n# '))
                print('# ' + rig.logs().replace('\n', '\n# '), flush=True)
                if chain:
                    broken = sub
                if isinstance(e, KeyboardInterrupt):
                    raise
        return 1 if failed else 0
    finally:
        if rig:
            rig.close()
