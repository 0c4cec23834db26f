#!/usr/bin/env node
// Reference run of drizzle-orm's own SQLite migrator, for sqlkeeper's interop tests.
//
//   node drizzle-migrate.mjs DB_PATH MIGRATIONS_FOLDER
//
// Opens DB_PATH with better-sqlite3 (created if missing), runs
// migrate(db, { migrationsFolder }) from drizzle-orm/better-sqlite3/migrator,
// then prints one line of JSON to stdout:
//   {"applied_before": N, "applied_after": M,
//    "rows": [{"hash": "...", "created_at": 1735689600000}, ...]}
// N/M = row counts of __drizzle_migrations before/after (0 if it did not
// exist); rows = that table ordered by created_at (then rowid), values exactly
// as stored: TEXT -> JSON string, INTEGER -> JSON integer (full 64-bit
// precision), REAL -> JSON number, NULL -> null.
// If migrate() throws, its message (plus the SQLite error in e.cause) goes to stderr and the exit status is 1
// (2 for bad usage). Optional: DRIZZLE_MIGRATIONS_TABLE overrides the table name.
//
// Module resolution: ESM `import` ignores NODE_PATH, so the dependencies are
// loaded with a CommonJS require() made by createRequire(). That finds them
// through tests/interop/node_modules (setup.sh symlinks it to the cache) and,
// failing that, through NODE_PATH (the cached node_modules dir that setup.sh
// prints). Either one is enough.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function usage() {
  process.stderr.write('usage: node drizzle-migrate.mjs DB_PATH MIGRATIONS_FOLDER\n');
  process.exit(2);
}

const [dbPath, migrationsFolder] = process.argv.slice(2);
if (!dbPath || !migrationsFolder || process.argv.length !== 4) usage();
const migrationsTable = process.env.DRIZZLE_MIGRATIONS_TABLE || '__drizzle_migrations';

let Database, drizzle, migrate;
try {
  Database = require('better-sqlite3');
  ({ drizzle } = require('drizzle-orm/better-sqlite3'));
  ({ migrate } = require('drizzle-orm/better-sqlite3/migrator'));
} catch (e) {
  process.stderr.write(
    `drizzle-migrate: cannot load drizzle-orm/better-sqlite3 (run tests/interop/setup.sh and ` +
      `set NODE_PATH to the directory it prints): ${e.message}\n`,
  );
  process.exit(3);
}

const quoted = '"' + migrationsTable.replaceAll('"', '""') + '"';

function tableExists(sqlite) {
  return !!sqlite
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
    .get(migrationsTable);
}

function countRows(sqlite) {
  if (!tableExists(sqlite)) return 0;
  return Number(sqlite.prepare(`SELECT count(*) AS n FROM ${quoted}`).get().n);
}

function readRows(sqlite) {
  if (!tableExists(sqlite)) return [];
  return sqlite
    .prepare(`SELECT hash, created_at FROM ${quoted} ORDER BY created_at, rowid`)
    .safeIntegers(true) // INTEGER -> BigInt, so nothing is rounded
    .all();
}

// JSON.stringify with BigInt written as a bare integer literal.
function toJson(value) {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `\u0000big:${v}` : v)).replace(
    /"\\u0000big:(-?\d+)"/g,
    '$1',
  );
}

let sqlite;
let status = 0;
try {
  sqlite = new Database(dbPath);
  const appliedBefore = countRows(sqlite);
  try {
    migrate(drizzle({ client: sqlite }), { migrationsFolder, migrationsTable });
  } catch (e) {
    // drizzle wraps SQLite errors: message "Failed to run the query '<sql>'",
    // the SQLite error itself in e.cause.
    let msg = e && e.message ? e.message : String(e);
    if (e && e.cause && e.cause.message) msg += `: ${e.cause.message}`;
    process.stderr.write(`${msg}\n`);
    if (process.env.DRIZZLE_MIGRATE_DEBUG && e && e.stack) process.stderr.write(`${e.stack}\n`);
    status = 1;
  }
  if (status === 0) {
    const out = {
      applied_before: appliedBefore,
      applied_after: countRows(sqlite),
      rows: readRows(sqlite),
    };
    process.stdout.write(toJson(out) + '\n');
  }
} catch (e) {
  process.stderr.write(`drizzle-migrate: ${e && e.message ? e.message : String(e)}\n`);
  status = 1;
} finally {
  if (sqlite) sqlite.close();
}
process.exit(status);
