#!/usr/bin/env bash
# Install the Node side of sqlkeeper's drizzle interop tests (drizzle-orm,
# drizzle-kit, better-sqlite3 built from source) into a cache directory OUTSIDE
# the repository, and print that node_modules directory on the last stdout line.
#
#   dir=$(bash tests/interop/setup.sh | tail -n1)
#   NODE_PATH="$dir" node tests/interop/drizzle-migrate.mjs DB MIGRATIONS_DIR
#
# Cache layout (SK_CACHE_DIR defaults to $HOME/.cache/sqlkeeper):
#   $SK_CACHE_DIR/npm-<sha256 of package-lock.json>-abi<node ABI>/
#       package.json  package-lock.json  node_modules/  .complete
# The node ABI (process.versions.modules) is part of the key because
# better-sqlite3 is a native addon compiled against the running node.
#
# Idempotent: if the keyed directory is complete (stamp file present and
# better-sqlite3 loads), nothing is installed. Otherwise it runs `npm ci` into
# a fresh temp dir and renames it into place (atomic; serialized with flock).
#
# Module resolution: ESM `import` ignores NODE_PATH, so this script also makes
# tests/interop/node_modules a symlink to the cached node_modules (it is in
# tests/interop/.gitignore). drizzle-migrate.mjs in addition loads its
# dependencies through createRequire(), i.e. CommonJS resolution, which looks in
# tests/interop/node_modules first and then honours NODE_PATH, so it works with
# either the symlink or NODE_PATH alone. drizzle-kit (generate-fixture.sh) needs
# the symlink, since it resolves drizzle.config.ts's and the schema's imports
# relative to those files.
#
# Prerequisites: node, npm, python3, make, g++. Any that are missing are
# installed with apt-get (apt-get update runs only in that case). Native builds
# never download anything but npm packages: node-gyp uses the local headers
# (npm_config_nodedir=/usr -> /usr/include/node) and better-sqlite3's
# prebuild-install step is skipped (npm_config_build_from_source=true).
set -euo pipefail

log() { printf 'setup.sh: %s\n' "$*" >&2; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ---- prerequisites --------------------------------------------------------
missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs libnode-dev)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v flock >/dev/null 2>&1 || missing+=(util-linux)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing missing prerequisites: ${missing[*]}"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update >&2
  "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
if [ ! -f /usr/include/node/node_version.h ] && [ -z "${npm_config_nodedir:-}" ]; then
  log "warning: no node headers in /usr/include/node; node-gyp may try to download them"
fi

# ---- cache key --------------------------------------------------------------
lock_sha="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
abi="$(node -p 'process.versions.modules + "-" + process.platform + "-" + process.arch')"
cache_root="${SK_CACHE_DIR:-${HOME:-/tmp}/.cache/sqlkeeper}"
dest="$cache_root/npm-$lock_sha-abi$abi"
nm="$dest/node_modules"

check() {
  [ -f "$dest/.complete" ] && [ -d "$nm" ] &&
    (cd "$dest" && node -e '
      const Database = require("better-sqlite3");
      const db = new Database(":memory:");
      db.prepare("select 1").get();
      db.close();
      require.resolve("drizzle-orm/better-sqlite3/migrator");
      require.resolve("drizzle-kit");
    ') >/dev/null 2>&1
}

mkdir -p "$cache_root"
if ! check; then
  exec 9>"$cache_root/.npm-install.lock"
  flock 9
  if ! check; then # another process may have finished it while we waited
    log "installing node_modules into $dest (npm ci, builds better-sqlite3 from source)"
    tmp="$(mktemp -d "$cache_root/.npm-tmp.XXXXXX")"
    cp "$here/package.json" "$here/package-lock.json" "$tmp/"
    start=$(date +%s)
    (
      cd "$tmp"
      export npm_config_nodedir="${npm_config_nodedir:-/usr}"
      export npm_config_build_from_source=true
      export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
      npm ci --no-audit --no-fund --loglevel=warn
    ) >&2 || { rm -rf "$tmp"; log "npm ci failed"; exit 1; }
    log "npm ci took $(( $(date +%s) - start ))s"
    touch "$tmp/.complete"
    rm -rf "$dest"
    mv "$tmp" "$dest"
    check || { log "installed modules fail the smoke test (better-sqlite3 not loadable?)"; exit 1; }
  fi
  flock -u 9
fi

# ---- tests/interop/node_modules -> cache --------------------------------------
link="$here/node_modules"
if [ -L "$link" ]; then
  [ "$(readlink "$link")" = "$nm" ] || ln -sfn "$nm" "$link"
else
  if [ -e "$link" ]; then
    log "replacing local $link with a symlink to the cache"
    rm -rf "$link"
  fi
  ln -s "$nm" "$link"
fi

echo "$nm"
