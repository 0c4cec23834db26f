#!/bin/sh
# Points apt at MIRROR (bookworm and bookworm-updates) instead of the image's own
# sources; with no MIRROR it changes nothing. The image build cannot read the
# host's apt sources, so a build without a registry's usual mirrors passes one in.
#   apt-sources.sh [MIRROR]
set -eu
[ -n "${1:-}" ] || exit 0
rm -f /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list
printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$1" "$1" >/etc/apt/sources.list
