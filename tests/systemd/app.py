#!/usr/bin/python3
"""The application in the end-to-end tests: a second uid that opens the database
sqlkeeper keeps with its own SQLite driver, as a real application would.

  app.py first-query DB         one query on the migrated schema; exit 0 if it answered
  app.py write DB RESULT        insert rows until SIGTERM; then write the counts to RESULT
  app.py hold-lock DB READY     BEGIN EXCLUSIVE and hold it until SIGTERM; touch READY once held
"""
import json
import signal
import sqlite3
import sys
import time

stopping = False


def stop(*_):
    global stopping
    stopping = True


def connect(path):
    db = sqlite3.connect(path, timeout=10, isolation_level=None)
    db.execute("PRAGMA busy_timeout=10000")
    return db


def first_query(path):
    db = connect(path)
    # The bundled schema's tables: present on the first query only if the unit
    # started after sqlkeeper finished migrating.
    rows = db.execute("SELECT count(*) FROM users JOIN expenses ON expenses.user_id = users.id").fetchone()
    print(f"first query answered: {rows[0]} rows", flush=True)


def write(path, result):
    signal.signal(signal.SIGTERM, stop)
    db = connect(path)
    db.execute("CREATE TABLE IF NOT EXISTS app_writes (id INTEGER PRIMARY KEY, at REAL NOT NULL, pad BLOB)")
    ok = failed = 0
    errors = []
    while not stopping:
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO app_writes (at, pad) VALUES (?, randomblob(512))", (time.time(),))
            db.execute("COMMIT")
            ok += 1
        except sqlite3.Error as e:
            failed += 1
            errors.append(str(e))
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        time.sleep(0.002)
    with open(result, "w") as f:
        json.dump({"ok": ok, "failed": failed, "errors": errors[:10]}, f)


def hold_lock(path, ready):
    signal.signal(signal.SIGTERM, stop)
    db = connect(path)
    db.execute("BEGIN EXCLUSIVE")
    open(ready, "w").close()
    while not stopping:
        signal.pause()
    db.execute("ROLLBACK")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"first-query": first_query, "write": write, "hold-lock": hold_lock}[command](*args)
