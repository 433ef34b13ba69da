#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# fake_desktop.py LOG: stands in for the desktop's file manager and notification server on
# the rig's session bus (org.freedesktop.FileManager1, org.freedesktop.Notifications) and
# writes each call as a JSON line to LOG, so that gui-transfer can check what Show in Folder
# asked for and which notifications the app sent. Prints "ready" once both names are owned;
# exits on SIGTERM.
import json
import signal
import sys

import gi
gi.require_version('Gio', '2.0')
from gi.repository import Gio, GLib  # noqa: E402

SERVICES = {
    'org.freedesktop.FileManager1': ('/org/freedesktop/FileManager1', '''<node>
<interface name="org.freedesktop.FileManager1">
  <method name="ShowItems"><arg type="as" direction="in"/><arg type="s" direction="in"/></method>
  <method name="ShowFolders"><arg type="as" direction="in"/><arg type="s" direction="in"/></method>
</interface></node>'''),
    'org.freedesktop.Notifications': ('/org/freedesktop/Notifications', '''<node>
<interface name="org.freedesktop.Notifications">
  <method name="Notify">
    <arg type="s" direction="in"/><arg type="u" direction="in"/><arg type="s" direction="in"/>
    <arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="as" direction="in"/>
    <arg type="a{sv}" direction="in"/><arg type="i" direction="in"/>
    <arg type="u" direction="out"/>
  </method>
  <method name="CloseNotification"><arg type="u" direction="in"/></method>
  <method name="GetCapabilities"><arg type="as" direction="out"/></method>
  <method name="GetServerInformation">
    <arg type="s" direction="out"/><arg type="s" direction="out"/>
    <arg type="s" direction="out"/><arg type="s" direction="out"/>
  </method>
  <signal name="ActionInvoked"><arg type="u"/><arg type="s"/></signal>
  <signal name="NotificationClosed"><arg type="u"/><arg type="u"/></signal>
</interface></node>'''),
}


def main():
    log = sys.argv[1]
    loop = GLib.MainLoop()
    owned = set()
    ids = [0]

    def record(entry):
        with open(log, 'a') as f:
            f.write(json.dumps(entry) + '\n')

    def call(conn, sender, path, iface, method, params, invocation):
        args = params.unpack()
        if method in ('ShowItems', 'ShowFolders'):
            record({'method': method, 'uris': args[0]})
            invocation.return_value(None)
        elif method == 'Notify':
            ids[0] += 1
            record({'method': method, 'summary': args[3], 'body': args[4]})
            invocation.return_value(GLib.Variant('(u)', (ids[0],)))
        elif method == 'GetCapabilities':
            invocation.return_value(GLib.Variant('(as)', (['body', 'actions'],)))
        elif method == 'GetServerInformation':
            invocation.return_value(GLib.Variant('(ssss)', ('fake', 'pinhole', '1', '1.2')))
        else:
            invocation.return_value(None)

    def acquired(conn, name):
        path, xml = SERVICES[name]
        conn.register_object(path, Gio.DBusNodeInfo.new_for_xml(xml).interfaces[0], call,
                             None, None)
        owned.add(name)
        if owned == set(SERVICES):
            print('ready', flush=True)
    for name in SERVICES:
        Gio.bus_own_name(Gio.BusType.SESSION, name, Gio.BusNameOwnerFlags.NONE, None,
                         acquired, None)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    loop.run()


if __name__ == '__main__':
    main()
