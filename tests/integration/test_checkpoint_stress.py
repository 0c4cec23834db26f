"""Several writer processes and sqlkeeper's checkpoints (every second, and at every
WAL past 256 KiB) for a bounded time: afterwards the database passes
integrity_check and holds every row each writer saw committed, in order. This is
the workload of SQLite's WAL-reset race (a checkpoint on one connection while
another commits the write that resets the WAL); with the fixed SQLite that
sqlkeeper links, and its writer-lock-holding checkpoints, nothing is lost.
SK_STRESS_SECONDS sets the duration (default 45)."""
import os
import time

import pytest

from conftest import http_request, linked_sqlite, query, start_writer, stop_writer

SECONDS = float(os.environ.get("SK_STRESS_SECONDS", "45"))


@pytest.mark.skipif(not linked_sqlite()["wal_reset_fix"],
                    reason="this build links a SQLite with the WAL-reset bug: sqlkeeper takes no checkpoints")
def test_writers_and_checkpoints_lose_nothing(daemon_factory):
    d = daemon_factory(extra_args=["--checkpoint-interval", "1s", "--wal-max-bytes", "1MiB"]).start().wait_ready()
    writers = {}
    for n in range(3):
        table = f"w{n}"
        writers[table] = start_writer(d.database, 0, table, busy_ms=10000)
    end = time.monotonic() + SECONDS
    try:
        while time.monotonic() < end:
            # Besides the timer's checkpoints, ask for more: as many overlaps with commits as possible.
            status, _, body = http_request(d.socket, "POST", "/checkpoint", timeout=30)
            assert status == 200, body
    finally:
        summaries = {table: stop_writer(p) for table, p in writers.items()}
    status = d.get_json("/status")[1]["checkpoint"]
    checkpoints = status["total"]
    assert checkpoints >= SECONDS / 2, status
    d.stop()
    assert query(d.database, "PRAGMA integrity_check") == [("ok",)]
    for table, s in summaries.items():
        assert s["failures"] == [], (table, s["failures"][:3])
        ids = [r[0] for r in query(d.database, f"SELECT id FROM {table} ORDER BY id")]
        assert ids == list(range(1, s["committed"] + 1)), (table, len(ids), s["committed"])
        assert s["committed"] > 100
    print(f"stress: {SECONDS:.0f}s, {checkpoints} checkpoints, "
          + ", ".join(f"{t}: {s['committed']} commits p99 {s['p99_ms']:.2f} ms" for t, s in summaries.items()))
