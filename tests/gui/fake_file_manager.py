#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# fake_file_manager.py LOG: owns org.freedesktop.FileManager1 on the session bus and writes
# each ShowItems/ShowFolders call as a JSON line to LOG, so that gui-transfer can check what
# "Show in Folder" asked a file manager to show. Exits on SIGTERM.
import json
import signal
import sys

import gi
gi.require_version('Gio', '2.0')
from gi.repository import Gio, GLib  # noqa: E402

XML = '''<node><interface name="org.freedesktop.FileManager1">
  <method name="ShowItems"><arg type="as" direction="in"/><arg type="s" direction="in"/></method>
  <method name="ShowFolders"><arg type="as" direction="in"/><arg type="s" direction="in"/></method>
</interface></node>'''


def main():
    log = sys.argv[1]
    loop = GLib.MainLoop()
    info = Gio.DBusNodeInfo.new_for_xml(XML).interfaces[0]

    def call(conn, sender, path, iface, method, params, invocation):
        with open(log, 'a') as f:
            f.write(json.dumps({'method': method, 'uris': params.unpack()[0]}) + '\n')
        invocation.return_value(None)

    def acquired(conn, name):
        conn.register_object('/org/freedesktop/FileManager1', info, call, None, None)
        print('ready', flush=True)
    Gio.bus_own_name(Gio.BusType.SESSION, 'org.freedesktop.FileManager1',
                     Gio.BusNameOwnerFlags.NONE, None, acquired, None)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    loop.run()


if __name__ == '__main__':
    main()
