#!/usr/bin/env bash
# clang-tidy (.clang-tidy: bug-finding checks) over the library sources. Slow on
# two cores (about three minutes), so it is a developer's tool, not part of CI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# GCC's precompiled header cannot be read by clang; use a configure without it.
cmake -S . -B build-tidy -G Ninja -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON >/dev/null
find src -name '*.cpp' -print0 | xargs -0 -P "$(nproc)" -n 3 clang-tidy -p build-tidy --quiet "$@"
