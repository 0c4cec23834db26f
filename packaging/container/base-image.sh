#!/usr/bin/env bash
# Makes a local Debian 12 base image for packaging/container/Containerfile where
# no registry can be reached (CI), and prints its name for `--build-arg BASE=...`:
#   packaging/container/base-image.sh        (needs root, debootstrap and podman)
# A minbase debootstrap from the machine's own mirror, trimmed like Debian's
# "slim" images (no manuals, documentation or locales, no apt lists). The root is
# built once and kept as a tarball outside the clone (SK_CACHE_DIR, default
# ~/.cache/sqlkeeper), keyed by this script's text; `podman import` turns it into
# localhost/sqlkeeper-base:bookworm-KEY.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_dir="${SK_CACHE_DIR:-${HOME:-/tmp}/.cache/sqlkeeper}"
key=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
image="localhost/sqlkeeper-base:bookworm-$key"
tarball="$cache_dir/container-base-bookworm-$key.tar"

if podman image exists "$image"; then
  echo "$image"
  exit 0
fi

mkdir -p "$cache_dir"
exec 9>"$tarball.lock"
flock 9  # one build at a time; the others then find the tarball
if [ ! -f "$tarball" ]; then
  mirror=$("$here/../../scripts/debian-mirror.sh")
  root=$(mktemp -d "$cache_dir/container-base.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  # What Debian's slim images leave out, kept out of every later install too.
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
  cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
  debootstrap --variant=minbase bookworm "$root" "$mirror" >&2
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$root"/usr/share/{man,info,locale}/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/log/* "$root/etc/hostname"
  # Like the registry's images: apt keeps no downloaded packages in image layers.
  echo 'APT::Keep-Downloaded-Packages "false";' >"$root/etc/apt/apt.conf.d/docker-clean"
  tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi
podman import --quiet "$tarball" "$image" >/dev/null
echo "$image"
