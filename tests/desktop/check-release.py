#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# check-release.py METAINFO VERSION: the metainfo's newest release is the version the build
# says it is (`pinhole --version`, the server's hello), so software centres show the truth.
import sys
import xml.etree.ElementTree as ET

metainfo, version = sys.argv[1], sys.argv[2]
print('1..1')
releases = ET.parse(metainfo).getroot().findall('./releases/release')
newest = releases[0].get('version') if releases else None
if newest == version:
    print(f'ok 1 the newest release in the metainfo is {version}')
    sys.exit(0)
print(f'not ok 1 the newest release in the metainfo is {newest!r}, the build is {version!r}')
sys.exit(1)
