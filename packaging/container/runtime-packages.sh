#!/bin/sh
# Prints the Debian packages that hold the shared libraries BINARY loads, one a
# line, so the runtime stage installs exactly those and the list never drifts from
# what the build linked (libc6 and libgcc-s1 are in every base and listed anyway).
#   runtime-packages.sh BINARY
set -eu

[ -f "$1" ] || { echo "runtime-packages.sh: no binary $1" >&2; exit 1; }
libs=$(ldd "$1" | awk '/=> \// { print $3 } /=> not found/ { print "missing:" $1 }')
packages=$(for lib in $libs; do
  case $lib in missing:*) echo "runtime-packages.sh: $1 needs ${lib#missing:}, which is not installed" >&2; exit 1 ;; esac
  real=$(readlink -f "$lib")
  found=
  # Bookworm registers libraries under /lib or /usr/lib, and ldd may name either.
  for p in "$lib" "$real" "/usr$real" "${real#/usr}"; do
    if owner=$(dpkg-query -S "$p" 2>/dev/null); then
      found=${owner%%:*}
      break
    fi
  done
  [ -n "$found" ] || { echo "runtime-packages.sh: no package holds $lib" >&2; exit 1; }
  echo "$found"
done)
printf '%s\n' "$packages" | sort -u
