#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# drag_source.py X Y PATH...: a small GTK 3 window at (X, Y) whose label can be dragged,
# carrying PATH... as text/uri-list, like a file manager's icons; gui-transfer drags it onto a
# conversation with real pointer events (xdotool). Exits when its window closes or on SIGTERM.
import signal
import sys

import gi
gi.require_version('Gtk', '3.0')
gi.require_version('Gdk', '3.0')
from gi.repository import Gdk, Gio, GLib, Gtk  # noqa: E402


def main():
    x, y = int(sys.argv[1]), int(sys.argv[2])
    uris = [Gio.File.new_for_path(p).get_uri() for p in sys.argv[3:]]
    win = Gtk.Window(title='pinhole drag source')
    win.set_default_size(160, 80)
    box = Gtk.EventBox()
    box.add(Gtk.Label(label='drag me'))
    box.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
    box.drag_source_add_uri_targets()
    box.connect('drag-data-get', lambda w, ctx, sel, info, t: sel.set_uris(uris))
    win.add(box)
    win.connect('destroy', Gtk.main_quit)
    win.move(x, y)
    win.show_all()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, Gtk.main_quit)
    Gtk.main()


if __name__ == '__main__':
    main()
