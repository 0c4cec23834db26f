#!/usr/bin/python3
"""A stand-in for the application: it opens DATABASE_PATH with Python's own SQLite
driver, as a real app opens it with better-sqlite3, and commits a note every
APP_INTERVAL seconds (default 1) until SIGTERM. It refuses to start on a schema that
is not migrated: with `depends_on: condition: service_healthy` it never has to.
Each commit prints "committed N" (N: the note's id) after COMMIT returned."""
import os
import signal
import sqlite3
import sys
import time

stopping = False


def stop(*_):
    global stopping
    stopping = True


def main():
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    path = os.environ.get("DATABASE_PATH", "/data/app.db")
    interval = float(os.environ.get("APP_INTERVAL", "1"))
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA busy_timeout=30000")
    if not db.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'notes'").fetchone():
        print(f"app: {path} has no table notes: the schema is not migrated", file=sys.stderr, flush=True)
        return 3
    print(f"app: started on {path}", flush=True)
    while not stopping:
        cur = db.execute("INSERT INTO notes (body, created_at) VALUES (?, ?)", ("hello", int(time.time() * 1000)))
        print(f"committed {cur.lastrowid}", flush=True)
        time.sleep(interval)
    print("app: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
