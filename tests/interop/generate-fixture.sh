#!/usr/bin/env bash
# Regenerate tests/fixtures/drizzle-basic/ with the real drizzle-kit, replaying
# the schema history in steps/1.ts, steps/2.ts, steps/3.ts (one `drizzle-kit
# generate` per step):
#   0000_initial               categories + expenses (FK ON DELETE CASCADE)
#   0001_add_budget_and_index  ALTER TABLE ADD COLUMN x2 + CREATE INDEX
#   0002_rebuild_categories    column type change => rebuild of the parent table
#                              (PRAGMA foreign_keys=OFF ... __new_categories ...)
#
# Reproducible: drizzle-kit stamps each journal entry with `new Date()` and each
# snapshot with crypto.randomUUID(). A tiny --require preload (written to a temp
# dir below) pins the clock to a fixed instant per step and derives the UUIDs
# from sha256(step, counter), so rerunning this script on an unchanged schema
# reproduces the committed fixture byte for byte. Nothing else is altered: the
# SQL, journal and snapshots are drizzle-kit's own output.
#
# Usage: tests/interop/generate-fixture.sh   (needs setup.sh's prerequisites;
# it runs setup.sh itself to get node_modules)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fixture="$here/../fixtures/drizzle-basic"

# setup.sh prints the cached node_modules dir on its last line and links
# $here/node_modules to it.
bash "$here/setup.sh" >/dev/null


tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/fixed-clock.cjs" <<'JS'
// Preload for drizzle-kit: fixed clock and deterministic UUIDs.
'use strict';
const crypto = require('node:crypto');
const fixed = Number(process.env.FIXTURE_NOW_MS);
if (!Number.isFinite(fixed)) throw new Error('FIXTURE_NOW_MS not set');
const RealDate = Date;
class FixedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(fixed);
    else super(...args);
  }
  static now() {
    return fixed;
  }
}
globalThis.Date = FixedDate;
let counter = 0;
crypto.randomUUID = () => {
  const h = crypto
    .createHash('sha256')
    .update(`sqlkeeper-fixture:${process.env.FIXTURE_STEP}:${counter++}`)
    .digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
};
JS

mkdir "$tmp/out"
cd "$here"
# drizzle-kit prefixes `out` with "./", so it must be a relative path.
out_rel="$(realpath --relative-to="$here" "$tmp/out")"

# Fixed journal timestamps: 2025-01-01T00:00:00Z, then +1 day per step.
base_ms=1735689600000
names=(initial add_budget_and_index rebuild_categories)
for step in 1 2 3; do
  FIXTURE_STEP="$step" \
  FIXTURE_NOW_MS=$((base_ms + (step - 1) * 86400000)) \
  NODE_OPTIONS="--require $tmp/fixed-clock.cjs" \
  DRIZZLE_SCHEMA="./steps/$step.ts" \
  DRIZZLE_OUT="$out_rel" \
    ./node_modules/.bin/drizzle-kit generate --config drizzle.config.ts --name "${names[$((step - 1))]}"
done

count="$(find "$tmp/out" -maxdepth 1 -name "*.sql" | wc -l)"
if [ "$count" -ne 3 ]; then
  echo "generate-fixture: expected 3 migrations, got $count" >&2
  exit 1
fi
grep -q 'PRAGMA foreign_keys=OFF' "$tmp/out/0002_rebuild_categories.sql" || {
  echo "generate-fixture: 0002 is not a table rebuild" >&2
  exit 1
}

rm -rf "$fixture"
mkdir -p "$(dirname "$fixture")"
cp -R "$tmp/out" "$fixture"
echo "generate-fixture: wrote $(cd "$fixture" && pwd)"
