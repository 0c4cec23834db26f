"""The crash loop: the daemon, kept busy (a backup every second, checkpoints every
second, pruning after each backup, a new migration now and then), is SIGKILLed at
a random moment, again and again, while another process writes every ~1 ms; so
are `sqlkeeper backup` and `sqlkeeper restore --to` now and then. After every
restart and at the end: the database passes integrity_check and holds every row
the writer saw committed, no temporary file survives a restart, every listed
backup verifies, and each migration is applied fully or not at all.

SK_CRASH_ITERATIONS sets the number of kills (default 200); SK_RELIABILITY_LOG,
when set, gets one JSON line of figures (docs/reliability.md is made from it)."""
import json
import os
import random
import signal
import subprocess
import time

from conftest import (BIN, BUNDLED_MIGRATIONS, Daemon, clean_env, plain_bookkeeping, query, run_cli, start_writer,
                      stop_writer, wait_until)

ITERATIONS = int(os.environ.get("SK_CRASH_ITERATIONS", "200"))


def migration_sql(n):
    # Two statements and two rows: a half-applied one would show.
    return (f"CREATE TABLE crash_{n} (id INTEGER PRIMARY KEY, v TEXT NOT NULL);\n"
            f"INSERT INTO crash_{n} (v) VALUES ('a'), ('b');\n")


def check_migrations(db, folder):
    applied = {name for _, name, _ in plain_bookkeeping(db)}
    for f in sorted(os.listdir(folder)):
        if not f.split("_", 1)[1].startswith("crash"):
            continue
        n = int(f.split("_")[0])
        table = query(db, "SELECT count(*) FROM sqlite_schema WHERE name = ?", f"crash_{n}")[0][0]
        if f in applied:
            assert table == 1 and query(db, f"SELECT count(*) FROM crash_{n}") == [(2,)], f
        else:
            assert table == 0, f"{f} is not recorded as applied, but its table exists"


def is_ready(d):
    # A killed daemon leaves its socket file behind: refused until the next one binds.
    try:
        return d.get("/health/ready")[0] == 200
    except OSError:
        return False


def test_sigkill_at_random_moments_loses_nothing(tmp_path):
    rng = random.Random(int(os.environ.get("SK_CRASH_SEED", "20261127")))
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    for f in sorted(os.listdir(BUNDLED_MIGRATIONS)):
        (migrations / f).write_text((BUNDLED_MIGRATIONS / f).read_text())
    next_migration = 100
    args = ["--backup-interval", "1s", "--checkpoint-interval", "1s", "--wal-max-bytes", "1MiB",
            "--retention-days", "1", "--retention-min-count", "2", "--keep-pre-migration", "2",
            "--quick-check-interval", "2s"]
    d = Daemon(tmp_path / "d", migrations=migrations, extra_args=args, notify=False)
    d.start()
    wait_until(lambda: is_ready(d), 30, what="first start")
    writer = start_writer(d.database, busy_ms=10000)
    kills = {"daemon": 0, "backup": 0, "restore": 0}
    seen_temporaries = 0
    started = time.monotonic()
    try:
        for i in range(ITERATIONS):
            if i % 10 == 5:
                (migrations / f"{next_migration:04d}_crash_{next_migration}.sql").write_text(
                    migration_sql(next_migration))
                next_migration += 1
            if i > 0:
                d.start()
            delay = rng.uniform(0.0, 1.2)
            time.sleep(delay)
            side = None
            if i % 7 == 3:
                side = subprocess.Popen([BIN, "backup", "--database", d.database, "--backup-dir", d.backups],
                                        env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                kills["backup"] += 1
            elif i % 7 == 6:
                target = tmp_path / f"restored-{i}.db"
                side = subprocess.Popen([BIN, "restore", "--latest", "--to", target, "--database", d.database,
                                         "--backup-dir", d.backups], env=clean_env(),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                kills["restore"] += 1
            if side:
                time.sleep(rng.uniform(0.0, 0.3))
                side.send_signal(signal.SIGKILL)
                side.wait()
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait()
            d.log.close()
            kills["daemon"] += 1
            listing = json.loads(run_cli("backups", "--json", "--no-checksum", "--database", d.database,
                                         "--backup-dir", d.backups).stdout)
            seen_temporaries += len(listing["temporaries"])
            # A killed run's temporaries are never listed as backups; unfinished ones say so.
            for b in listing["backups"]:
                assert not b["file"].endswith(".tmp"), b
            if i % 25 == 24:
                assert query(d.database, "PRAGMA integrity_check") == [("ok",)], f"iteration {i}"
                check_migrations(d.database, migrations)
    finally:
        summary = stop_writer(writer)
        if d.proc.poll() is None:  # a failed iteration must not leave a daemon behind
            d.proc.kill()
            d.proc.wait()
    elapsed = time.monotonic() - started

    # A last, clean run: it removes what killed runs left, and stops cleanly.
    d.start()
    try:
        wait_until(lambda: is_ready(d), 60, what="the last start")
        wait_until(lambda: not json.loads(run_cli("backups", "--json", "--no-checksum", "--database", d.database,
                                                  "--backup-dir", d.backups).stdout)["temporaries"], 30,
                   what="the temporaries of killed runs to be removed")
    finally:
        d.stop()

    assert summary["failures"] == [], summary["failures"][:5]
    assert query(d.database, "PRAGMA integrity_check") == [("ok",)]
    ids = [r[0] for r in query(d.database, "SELECT id FROM ticks ORDER BY id")]
    assert ids == list(range(1, summary["committed"] + 1)), "a committed row is missing"
    check_migrations(d.database, migrations)
    listing = json.loads(run_cli("backups", "--json", "--database", d.database, "--backup-dir", d.backups).stdout)
    assert listing["temporaries"] == []
    verify = run_cli("verify", "--all", "--database", d.database, "--backup-dir", d.backups, timeout=600)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    for f in tmp_path.glob("restored-*.db"):
        # A restore killed part-way leaves a database SQLite's journal makes whole (empty, or all of it).
        if f.stat().st_size:
            assert query(f, "PRAGMA integrity_check") == [("ok",)], f
    figures = {"test": "crash_loop", "iterations": ITERATIONS, "kills": kills, "seconds": round(elapsed),
               "rows_committed": summary["committed"], "backups_listed": len(listing["backups"]),
               "temporaries_seen_after_kills": seen_temporaries,
               "migrations_added": next_migration - 100, "result": "nothing lost"}
    print(json.dumps(figures))
    if os.environ.get("SK_RELIABILITY_LOG"):
        with open(os.environ["SK_RELIABILITY_LOG"], "a") as f:
            f.write(json.dumps(figures) + "\n")
