#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs every Debian 12 package Pinhole needs to build, run and test.
# Run as root. Safe to run again: apt-get skips what is already installed.
set -eu

PACKAGES="
  build-essential pkg-config meson ninja-build
  libglib2.0-dev libglib2.0-bin libsoup-3.0-dev libjson-glib-dev libsodium-dev libsqlite3-dev
  libgnutls28-dev libngtcp2-dev libngtcp2-crypto-gnutls-dev
  glib-networking sqlite3 openssl
  clang libclang-rt-14-dev
  coturn
  valgrind
  dbus-daemon
  libminiupnpc-dev libnatpmp-dev
  iproute2 procps
  nftables iptables miniupnpd-nftables miniupnpc natpmpc libnetfilter-queue-dev libmnl-dev
  iputils-ping
  iperf3 openssh-server openssh-client
  nebula
  libgtk-3-dev libhandy-1-dev gettext appstream desktop-file-utils
  xvfb xauth at-spi2-core python3-dogtail python3-gi gir1.2-gtk-3.0 gir1.2-atspi-2.0
  xdotool imagemagick adwaita-icon-theme librsvg2-common fonts-cantarell
  locales
"

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (apt-get needs it)" >&2
  exit 1
fi

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing
fi

# The German locale, for the test that runs the app as a German user would (LANG=de_DE.UTF-8,
# which also gives German dates and a decimal comma). Debian builds no locale but C.UTF-8 by
# itself; without this one setlocale() falls back to C, and glibc ignores LANGUAGE under C.
if ! locale -a 2>/dev/null | grep -qix 'de_DE.utf-\{0,1\}8'; then
  if grep -q '^# *de_DE.UTF-8 UTF-8' /etc/locale.gen; then
    sed -i 's/^# *\(de_DE.UTF-8 UTF-8\)/\1/' /etc/locale.gen
  elif ! grep -q '^de_DE.UTF-8 UTF-8' /etc/locale.gen; then
    echo 'de_DE.UTF-8 UTF-8' >> /etc/locale.gen
  fi
  locale-gen
fi
