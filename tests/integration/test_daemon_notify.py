"""The sd_notify protocol on a real NOTIFY_SOCKET: readiness, status, the watchdog and
what stops it, and a fatal start-up error."""
import json
import signal
import time

from conftest import NO_ARCHIVE, DatabaseLock, healthy_body, healthy_status, open_db, process_state, wait_for_time, wait_until

USEC = 400000
INTERVAL = USEC / 1e6


def pings_after(d, index):
    d.notify.drain()
    return [t for t, m in d.notify.messages[index:] if m.get("WATCHDOG") == "1"]


def test_ready_comes_with_status_after_migrating(daemon_factory):
    d = daemon_factory().start()
    ready = d.notify.wait_for("READY", "1")
    before = [m for _, m in d.notify.messages[:ready]]
    # While starting: a STATUS= line saying what is being done. (A start this quick
    # asks for no more time: EXTEND_TIMEOUT_USEC comes only while a long start-up
    # makes progress, test_daemon_stop.py.)
    statuses = [m["STATUS"] for m in before if "STATUS" in m]
    assert any(s.startswith("migrating: ") for s in statuses), statuses
    assert any("0001_users_and_sessions" in s for s in statuses), statuses
    # READY=1 carries the running status line; the database is migrated by then.
    ready_msg = d.notify.messages[ready][1]
    assert ready_msg["STATUS"].startswith(f"{healthy_status()}; db ") and "schema 2" in ready_msg["STATUS"]
    assert "no backup yet" in ready_msg["STATUS"]
    assert d.get("/health/ready")[0] == 200
    # No watchdog was asked for, so none is sent.
    assert d.notify.all("WATCHDOG") == []


def test_runs_without_notify_socket(daemon_factory):
    d = daemon_factory(notify=False).start().wait_ready()
    assert d.get_json("/health") == (200, healthy_body())
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    assert "sd_notify" not in d.output()


def test_watchdog_pings_at_half_the_interval(daemon_factory):
    d = daemon_factory(watchdog_usec=USEC).start().wait_ready()
    start = len(d.notify.messages)
    times = wait_until(lambda: (p := pings_after(d, start)) and len(p) >= 8 and p, timeout=10,
                       what="8 watchdog pings")
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(0.25 * INTERVAL <= g <= 0.9 * INTERVAL for g in gaps), gaps
    mean = sum(gaps) / len(gaps)
    assert 0.4 * INTERVAL <= mean <= 0.65 * INTERVAL, mean


def test_locked_database_stops_pings_and_fails_health_until_released(daemon_factory):
    d = daemon_factory(watchdog_usec=USEC, extra_args=NO_ARCHIVE).start().wait_ready()
    d.notify.wait_for("WATCHDOG", "1")
    lock = DatabaseLock(d.database)
    try:
        # The next probe fails; from then on /health says failing because of the database.
        def failing():
            d.notify.drain()  # an undrained NOTIFY_SOCKET blocks the daemon's sd_notify()
            status, _, body = d.get("/health")
            return status == 503 and json.loads(body)
        body = wait_until(failing, timeout=5, what="/health 503")
        assert body["status"] == "failing"
        assert body["checks"]["database"]["status"] == "failing"
        assert "locked" in body["checks"]["database"]["detail"]
        # Every datagram sent before the failed probe is in the socket now.
        d.notify.drain()
        mark = len(d.notify.messages)

        def no_ping():
            assert pings_after(d, mark) == [], "a watchdog ping while the database was locked"
        wait_for_time(2.5 * INTERVAL, no_ping, what="2.5 watchdog intervals")
        assert "withholding watchdog ping" in d.output() and "locked" in d.output()
        status, body = d.get_json("/status")
        assert body["database"]["answering"] is False
    finally:
        lock.release()
    d.notify.wait_for("WATCHDOG", "1", timeout=5, after=mark)
    wait_until(lambda: d.get("/health")[0] == 200, timeout=5, what="/health 200 again")
    # ...and the pings keep coming
    resumed = len(d.notify.messages)
    wait_until(lambda: len(pings_after(d, resumed)) >= 3, timeout=5, what="steady pings")


def test_stopped_loop_withholds_the_first_ping_after_resuming(daemon_factory):
    d = daemon_factory(watchdog_usec=USEC).start().wait_ready()
    d.notify.wait_for("WATCHDOG", "1")
    d.signal(signal.SIGSTOP)
    try:
        wait_until(lambda: process_state(d.proc.pid) == "T", timeout=5, what="the daemon to stop")
        d.notify.drain()
        mark = len(d.notify.messages)
        stopped_at = time.monotonic()

        def no_ping():
            assert pings_after(d, mark) == [], "a ping from a stopped process"
        wait_for_time(1.5 * INTERVAL, no_ping, what="1.5 watchdog intervals stopped")
    finally:
        d.signal(signal.SIGCONT)
    resumed_at = time.monotonic()
    assert resumed_at - stopped_at > INTERVAL
    first = wait_until(lambda: pings_after(d, mark), timeout=5, what="pings after SIGCONT")[0]
    # The tick that was due while stopped fires at once on resume; had it pinged, the ping
    # would arrive within milliseconds. The loop ran late, so it must wait a full period.
    assert first - resumed_at >= 0.4 * INTERVAL, first - resumed_at
    wait_until(lambda: "withholding watchdog ping: loop late" in d.output(), timeout=5,
               what="the withheld-ping log line")
    # and then steady pings again
    wait_until(lambda: len(pings_after(d, mark)) >= 3, timeout=5, what="pings resuming")


def test_bad_migration_sends_errno_and_never_ready(daemon_factory, tmp_path):
    migrations = tmp_path / "bad-migrations"
    migrations.mkdir()
    (migrations / "0001_good.sql").write_text("CREATE TABLE a (id INTEGER PRIMARY KEY);\n")
    (migrations / "0002_bad.sql").write_text("CREATE TABLE b (id INTEGER PRIMARY KEY);\nCREATE TABL oops (x);\n")
    d = daemon_factory(migrations=migrations).start()
    code = d.wait_exit(timeout=20)
    assert code != 0
    d.notify.drain()
    messages = [m for _, m in d.notify.messages]
    assert not any(m.get("READY") == "1" for m in messages)
    fatal = [m for m in messages if "ERRNO" in m]
    assert fatal, messages
    assert int(fatal[-1]["ERRNO"]) > 0
    assert fatal[-1]["STATUS"].startswith("failed: ") and "0002_bad" in fatal[-1]["STATUS"]
    assert "0002_bad" in d.output()
    assert not d.socket.exists()
    # The failed migration was rolled back: its first statement left nothing behind.
    tables = {r[0] for r in open_db(d.database).execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    assert "b" not in tables


def test_probe_keeps_answering_after_the_last_application_connection_closes(daemon_factory):
    d = daemon_factory(watchdog_usec=USEC, extra_args=NO_ARCHIVE).start().wait_ready()
    con = open_db(d.database)
    con.execute("CREATE TABLE app_data (x)")
    con.execute("INSERT INTO app_data VALUES (1)")
    con.close()
    # The daemon holds no connection between jobs, so that close was the last one:
    # SQLite checkpointed and removed the WAL. The probe must cope with that.
    assert not (d.database.parent / (d.database.name + "-wal")).exists()
    mark = len(d.notify.messages)
    wait_until(lambda: len(pings_after(d, mark)) >= 3, timeout=5, what="pings without a WAL file")
    assert d.get_json("/health") == (200, healthy_body())
