#!/usr/bin/env bash
# Builds a minimal Debian 12 root file system with systemd for the end-to-end tests.
#   tests/systemd/build-root.sh DEST PACKAGE[,PACKAGE...] [PACKAGE...]
# The first list goes to debootstrap; the rest (the .deb's dependencies, which may
# be virtual packages that debootstrap cannot resolve) apt-get installs after it,
# so that the tests' `apt-get install ./x.deb` needs no network. The mirror is the machine's own (its apt sources), or SK_DEBIAN_MIRROR. The root is
# built beside DEST and renamed into place, so a half-built root is never used.
set -euo pipefail

dest=$1
packages=$2
shift 2

# Prints the first Debian mirror in the machine's apt sources that serves bookworm.
own_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    awk '$1 == "deb" && $3 ~ /^bookworm$/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    # deb822 stanzas: a URIs line and a Suites line that lists bookworm itself.
    awk 'BEGIN { RS = ""; FS = "\n" }
      { uri = ""; suite = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { split($i, a, " "); uri = a[2] }
          if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) suite = 1
        }
        if (uri != "" && suite) { print uri; exit } }' "$f"
  done
}

mirror=${SK_DEBIAN_MIRROR:-$(own_mirror | head -n 1)}
if [ -z "$mirror" ]; then
  echo "build-root.sh: no bookworm mirror in the apt sources; set SK_DEBIAN_MIRROR" >&2
  exit 1
fi

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
