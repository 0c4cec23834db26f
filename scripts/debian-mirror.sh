#!/usr/bin/env bash
# Prints the first Debian mirror in this machine's apt sources that serves
# bookworm (or SK_DEBIAN_MIRROR when set): the e2e roots and the container base
# image are built from the machine's own mirror, never from a host written here.
set -euo pipefail

if [ -n "${SK_DEBIAN_MIRROR:-}" ]; then
  echo "$SK_DEBIAN_MIRROR"
  exit 0
fi
{
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
} | head -n 1 | grep . || { echo "debian-mirror.sh: no bookworm mirror in the apt sources; set SK_DEBIAN_MIRROR" >&2; exit 1; }
