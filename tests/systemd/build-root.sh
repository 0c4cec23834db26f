#!/usr/bin/env bash
# Builds a minimal Debian 12 root file system with systemd for the end-to-end tests.
#   tests/systemd/build-root.sh DEST PACKAGE[,PACKAGE...] [PACKAGE...]
# The first list goes to debootstrap; the rest (the .deb's dependencies, which may
# be virtual packages that debootstrap cannot resolve) apt-get installs after it,
# so that the tests' `apt-get install ./x.deb` needs no network. The mirror is the
# machine's own (scripts/debian-mirror.sh). The root is built beside DEST and
# renamed into place, so a half-built root is never used.
set -euo pipefail

dest=$1
packages=$2
shift 2

mirror=$("$(dirname "${BASH_SOURCE[0]}")/../../scripts/debian-mirror.sh")

tmp="$dest.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$(dirname "$dest")"
debootstrap --variant=minbase --include="$packages" bookworm "$tmp" "$mirror" >&2
if [ $# -gt 0 ]; then
  chroot "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
fi
# The container gets its host name from the directory, and no getty is needed on a pipe console.
rm -f "$tmp/etc/hostname"
rm -rf "$tmp/var/cache/apt/archives/"*.deb
mv "$tmp" "$dest"
trap - EXIT
