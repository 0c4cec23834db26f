#!/usr/bin/env bash
# The quick start and CI entry point.
#   scripts/dev.sh run    install what is missing, build, run the daemon on ./local
#   scripts/dev.sh test   install what is missing, build (warnings as errors), run the
#                         unit and integration tests
#   scripts/dev.sh test --full   the same, then lintian on the .deb, the end-to-end
#                         tests under systemd and under podman, the benchmark guard, the suite again under ASan+UBSan and
#                         linked with the system SQLite, and the fuzz targets (CI)
#   scripts/dev.sh build  install what is missing and build only
#   scripts/dev.sh fuzz [TARGET...]  build the libFuzzer targets with clang and run
#                         each for SK_FUZZ_SECONDS (20); part of `test`
#   scripts/dev.sh bench  install what is missing, build, and run bench/bench.py
#                         (its options follow, e.g. --size-mib 64)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=$(nproc)

# libsqlite3-dev: only for the SQLKEEPER_SYSTEM_SQLITE build; the default links third_party/sqlite.
build_packages=(cmake ninja-build g++ pkg-config libboost1.81-dev libboost-program-options1.81-dev
  libsqlite3-dev libspdlog-dev libsystemd-dev nlohmann-json3-dev libssl-dev libzstd-dev libgtest-dev ccache)
# curl: the README's next step after `run` is `curl --unix-socket ...`.
run_packages=(curl)
# systemd: systemd-socket-activate for the socket activation test (not installed on
# minimal systems and containers, where that test would otherwise be skipped).
# debootstrap, systemd-container: the end-to-end tests boot a Debian 12 container
# with systemd-nspawn (tests/systemd). tzdata: the schedule's tests use real zones
# (Europe/Berlin, America/New_York) for daylight-saving changes. libfaketime: the
# clock-jump test moves the running daemon's wall clock by days and a year.
test_packages=(python3 python3-pytest python3-pytest-xdist sqlite3 curl make systemd tzdata libfaketime)
# podman, runc: the container tests build and run the image under a real engine
# (tests/container; runc because crun refuses these machines' hybrid cgroups).
# lintian: the .deb must pass Debian's own checks.
e2e_packages=(debootstrap systemd-container podman runc lintian)
# clang, libclang-rt-14-dev: the libFuzzer targets (tests/fuzz).
fuzz_packages=(clang libclang-rt-14-dev)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs the Debian packages that are not installed yet, from the machine's own apt sources.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

ensure_node() {
  command -v node >/dev/null && command -v npm >/dev/null && return 0
  ensure_packages nodejs npm libnode-dev
}

cache_dir="${SK_CACHE_DIR:-${HOME:-/tmp}/.cache/sqlkeeper}"

# Prints the path of a promtool. Installing Debian's prometheus package would also
# enable and start a Prometheus server, so only its promtool is unpacked, into the
# cache, keyed by the package version.
ensure_promtool() {
  if command -v promtool >/dev/null; then command -v promtool; return; fi
  local version dir tmp
  version=$(apt-cache policy prometheus | awk '/Candidate:/ {print $2}')
  if [ -z "$version" ] || [ "$version" = "(none)" ]; then
    as_root apt-get update -qq
    version=$(apt-cache policy prometheus | awk '/Candidate:/ {print $2}')
  fi
  dir="$cache_dir/prometheus-$version"
  if [ ! -x "$dir/usr/bin/promtool" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -qq "prometheus=$version" >&2)
    dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root"
    mkdir -p "$cache_dir" && rm -rf "$dir" && mv "$tmp/root" "$dir"
    rm -rf "$tmp"
  fi
  echo "$dir/usr/bin/promtool"
}

# build DIR [cmake args...] [--target TARGET]
# ccache keeps compiled objects outside the clone, so a rebuild in a fresh clone
# (CI, a second checkout) costs little; paths are made relative to the clone.
build() {
  local dir=$1; shift
  export CCACHE_BASEDIR="$root" CCACHE_DIR="$cache_dir/ccache"
  export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
  local target=()
  if [ "${*: -2:1}" = "--target" ]; then target=(--target "${*: -1}"); set -- "${@:1:$#-2}"; fi
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" "${target[@]}"
}

# Builds the libFuzzer targets with clang (under ASan and UBSan) and runs each
# for SK_FUZZ_SECONDS (default 20) from the seeds in tests/fuzz/corpus; new inputs
# go to a scratch folder, so the repository's corpus changes only by hand. A
# crash, a sanitizer report or a timeout fails the run and leaves its input in
# build-fuzz/artifacts.
fuzz() {
  ensure_packages "${build_packages[@]}" "${fuzz_packages[@]}"
  # Release: clang 14 cannot emit debug info for coroutines under the fuzzer's coverage.
  build build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DSQLKEEPER_FUZZ=ON \
    -DSQLKEEPER_TESTS=OFF -DSQLKEEPER_WERROR=ON -DCMAKE_BUILD_TYPE=Release --target fuzz_targets
  mkdir -p build-fuzz/artifacts
  local target scratch
  for target in "${@:-units config migrations catalog http archive}"; do
    for target in $target; do
      scratch=$(mktemp -d)
      echo "fuzzing $target for ${SK_FUZZ_SECONDS:-20} s" >&2
      "build-fuzz/tests/fuzz/fuzz_$target" -max_total_time="${SK_FUZZ_SECONDS:-20}" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$target-" \
        "$scratch" "tests/fuzz/corpus/$target" 2>&1 | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==|SUMMARY)' >&2 \
        || true
      test -z "$(ls "build-fuzz/artifacts/$target-"* 2>/dev/null)" || { echo "fuzz_$target found a failure" >&2; exit 1; }
      rm -rf "$scratch"
    done
  done
}

case "${1:-}" in
  build)
    ensure_packages "${build_packages[@]}"
    build build
    ;;
  run)
    ensure_packages "${build_packages[@]}" "${run_packages[@]}"
    build build
    mkdir -p local
    echo "sqlkeeper: database local/app.db, backups local/backups, socket local/sqlkeeper.sock" >&2
    echo "try: curl --unix-socket local/sqlkeeper.sock http://localhost/health" >&2
    exec build/sqlkeeper run --database local/app.db --backup-dir local/backups \
      --socket local/sqlkeeper.sock --migrations migrations "${@:2}"
    ;;
  test)
    full=false
    [ "${2:-}" = "--full" ] && full=true
    if $full; then
      ensure_packages "${build_packages[@]}" "${test_packages[@]}" "${e2e_packages[@]}" "${fuzz_packages[@]}"
    else
      ensure_packages "${build_packages[@]}" "${test_packages[@]}"
    fi
    ensure_node
    # The drizzle interop tests find drizzle-orm and better-sqlite3 through this.
    SK_TEST_NODE_MODULES=$(bash tests/interop/setup.sh | tail -n 1)
    export SK_TEST_NODE_MODULES
    SK_PROMTOOL=$(ensure_promtool)
    export SK_PROMTOOL
    build build -DSQLKEEPER_WERROR=ON
    if ! $full; then
      (cd build && ctest --output-on-failure -j "$jobs" -E '^(systemd-e2e|container-e2e|bench-guard|bench-archive-guard)$')
      cat >&2 <<'TXT'
sqlkeeper: the unit and integration tests passed. Not run here, and run by
`scripts/dev.sh test --full` (what CI runs): lintian on the .deb, the end-to-end
tests under a booted systemd and under podman, the benchmark guard, the suite again under ASan+UBSan and against the
system SQLite, and the fuzz targets.
TXT
      exit 0
    fi
    # The .deb the systemd-e2e test installs into its container.
    (cd build && cpack -G DEB >/dev/null)
    # Debian's own checks: no error and no warning (an override the package ships,
    # packaging/debian/lintian-overrides, says why beside each one).
    lintian --fail-on error,warning build/sqlkeeper_*.deb
    (cd build && ctest --output-on-failure -j "$jobs")
    build build-sanitize -DSQLKEEPER_WERROR=ON -DSQLKEEPER_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
    # systemd-e2e and container-e2e ran above: they test the package and the image,
    # not the sanitizer build.
    (cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      ctest --output-on-failure -j "$jobs" -E '^(systemd-e2e|container-e2e|bench-guard|bench-archive-guard)$')
    # Against Debian's own SQLite (3.40.1, with the WAL-reset bug), so that path keeps working.
    build build-system-sqlite -DSQLKEEPER_WERROR=ON -DSQLKEEPER_SYSTEM_SQLITE=ON
    (cd build-system-sqlite && ctest --output-on-failure -j "$jobs" -E '^(systemd-e2e|container-e2e|bench-guard|bench-archive-guard)$')
    fuzz
    ;;
  fuzz)
    shift
    fuzz "$@"
    ;;
  bench)
    # python3-matplotlib: the PNG plots beside the results.
    ensure_packages "${build_packages[@]}" python3 sqlite3 python3-matplotlib
    build build
    shift
    /usr/bin/python3 bench/bench.py --binary build/sqlkeeper "$@"
    ;;
  *)
    echo "usage: scripts/dev.sh run|test [--full]|build|fuzz|bench [bench.py options]" >&2
    exit 64
    ;;
esac
