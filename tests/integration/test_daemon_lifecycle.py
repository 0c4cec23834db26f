"""Signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads; and journald-style logging."""
import json
import os
import signal
import time

from conftest import connect, get_keep_alive, healthy_status, linked_sqlite, open_db, run_cli, wait_until, write_config


def test_sigterm_while_idle_stops_promptly_and_removes_the_socket(daemon_factory):
    d = daemon_factory().start().wait_ready()
    assert d.socket.is_socket()
    mark = len(d.notify.messages)
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    assert d.wait_exit(timeout=5) == 0
    assert time.monotonic() - t0 < 2.0
    assert not d.socket.exists()
    stopping = d.notify.wait_for("STOPPING", "1", timeout=2, after=mark)
    assert d.notify.messages[stopping][1].get("STATUS") == "stopping"
    out = d.output()
    assert "received SIGTERM, stopping" in out and "sqlkeeper stopped" in out


def test_sigint_stops_even_with_an_idle_client_connected(daemon_factory):
    d = daemon_factory().start().wait_ready()
    with connect(d.socket) as s:
        assert get_keep_alive(s, "/health/live")[0] == 200
        # The client stays connected (idle-timeout is 30 s); stopping must not wait for it.
        t0 = time.monotonic()
        d.signal(signal.SIGINT)
        assert d.wait_exit(timeout=5) == 0
        assert time.monotonic() - t0 < 2.0
        s.settimeout(2)
        assert s.recv(100) == b""  # the server closed our connection
    assert not d.socket.exists()
    assert "received SIGINT" in d.output()
    d.notify.wait_for("STOPPING", "1", timeout=2)


def test_sighup_applies_a_changed_config_file(daemon_factory, tmp_path):
    conf = write_config(tmp_path / "sqlkeeper.conf", "log-level = warning\nwal-max-bytes = 64MiB\n")
    d = daemon_factory(extra_args=["--config", conf]).start().wait_ready()
    assert "configuration reloaded" not in d.output()
    assert " info " not in d.output()  # log-level=warning from the file is in force
    assert d.get_json("/status")[1]["database"]["wal_max_bytes"] == 64 * 1024 * 1024
    mark = len(d.notify.messages)
    write_config(conf, "log-level = info\nwal-max-bytes = 2MiB\nsocket-mode = 0600\n")
    d.signal(signal.SIGHUP)
    reloading = d.notify.wait_for("RELOADING", "1", after=mark)
    assert int(d.notify.messages[reloading][1]["MONOTONIC_USEC"]) > 0
    ready = d.notify.wait_for("READY", "1", after=reloading + 1)
    assert d.notify.messages[ready][1]["STATUS"].startswith(f"{healthy_status()};")
    # Live options take effect...
    assert d.get_json("/status")[1]["database"]["wal_max_bytes"] == 2 * 1024 * 1024
    wait_until(lambda: "configuration reloaded" in d.output(), timeout=5, what="the reload log line")
    # ...options that need a restart are named and left as they are.
    out = d.output()
    assert "option 'socket-mode' changed but takes effect only after a restart" in out
    assert os.stat(d.socket).st_mode & 0o777 == 0o660
    # A second reload still names it: it has not taken effect.
    mark = len(d.notify.messages)
    d.signal(signal.SIGHUP)
    d.notify.wait_for("READY", "1", after=mark)
    wait_until(lambda: d.output().count("option 'socket-mode' changed") == 2, timeout=5,
               what="the restart warning again")
    assert d.proc.poll() is None


def test_sighup_with_an_invalid_config_keeps_the_old_one(daemon_factory, tmp_path):
    conf = write_config(tmp_path / "sqlkeeper.conf", "wal-max-bytes = 8MiB\n")
    d = daemon_factory(extra_args=["--config", conf]).start().wait_ready()
    mark = len(d.notify.messages)
    write_config(conf, "wal-max-bytes = 2MiB\nretention-days = forever\n")
    d.signal(signal.SIGHUP)
    reloading = d.notify.wait_for("RELOADING", "1", after=mark)
    d.notify.wait_for("READY", "1", after=reloading + 1)
    wait_until(lambda: "reload failed, keeping the running configuration" in d.output(), timeout=5,
               what="the reload failure log line")
    line = [l for l in d.output().splitlines() if "reload failed" in l][0]
    assert "retention-days" in line and f"{conf}:2" in line and "forever" in line
    # The daemon keeps answering with the old configuration, wal-max-bytes included.
    status, body = d.get_json("/status")
    assert status == 200 and body["database"]["wal_max_bytes"] == 8 * 1024 * 1024
    assert d.get("/health")[0] == 200
    # and a later, valid reload still works
    write_config(conf, "wal-max-bytes = 4MiB\n")
    mark = len(d.notify.messages)
    d.signal(signal.SIGHUP)
    d.notify.wait_for("READY", "1", after=mark)
    assert d.get_json("/status")[1]["database"]["wal_max_bytes"] == 4 * 1024 * 1024


def test_journal_stream_lines_carry_priority_and_no_timestamp(daemon_factory):
    d = daemon_factory()
    d.log_path.write_bytes(b"")
    st = os.stat(d.log_path)
    d.full_env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
    d.start().wait_ready()
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    lines = d.output().splitlines()
    assert lines, "no log output"
    assert all(l[:3] in ("<6>", "<4>", "<3>", "<2>", "<7>") for l in lines), lines
    starting = [l for l in lines if "starting" in l][0]
    # info, and no timestamp of its own; a warning on an SQLite with the WAL-reset bug
    assert starting.startswith("<6>sqlkeeper " if linked_sqlite()["wal_reset_fix"] else "<4>sqlkeeper "), starting


def test_journal_stream_multi_line_error_keeps_its_priority_on_every_line(daemon_factory, tmp_path):
    migrations = tmp_path / "edited"
    migrations.mkdir()
    (migrations / "0001_a.sql").write_text("CREATE TABLE a (id INTEGER PRIMARY KEY);\n")
    (migrations / "0002_b.sql").write_text("CREATE TABLE b (id INTEGER PRIMARY KEY);\n")
    d = daemon_factory(migrations=migrations)
    assert run_cli("migrate", "up", "--database", d.database, "--migrations", migrations).returncode == 0
    # Both applied files edited afterwards: the refusal lists one problem per line,
    # and journald files each line without its own prefix at info, hidden from `-p err`.
    (migrations / "0001_a.sql").write_text("CREATE TABLE a (id INTEGER PRIMARY KEY, x);\n")
    (migrations / "0002_b.sql").write_text("CREATE TABLE b (id INTEGER PRIMARY KEY, y);\n")
    d.log_path.write_bytes(b"")
    st = os.stat(d.log_path)
    d.full_env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
    d.start()
    assert d.wait_exit() == 65
    lines = d.output().splitlines()
    failed = [i for i, l in enumerate(lines) if "start-up failed" in l]
    assert failed, lines
    failure = lines[failed[0]:failed[0] + 3]
    assert "0001_a.sql" in failure[1] and "0002_b.sql" in failure[2], failure
    assert all(l.startswith("<2>") for l in failure), failure


def test_plain_stderr_lines_carry_a_timestamp_and_level(daemon_factory):
    d = daemon_factory().start().wait_ready()
    first = d.output().splitlines()[0]  # the start-up line: a warning on an SQLite with the WAL-reset bug
    level = " info " if linked_sqlite()["wal_reset_fix"] else " warning "
    assert first[:4].isdigit() and first[4] == "-" and level in first, first
    assert not first.startswith("<")


def test_not_ready_while_migrating_and_sigterm_aborts_the_migration(daemon_factory, tmp_path):
    migrations = tmp_path / "slow-migrations"
    migrations.mkdir()
    # CPU-bound for far longer than the test waits (tens of seconds), interruptible at any step.
    (migrations / "0001_slow.sql").write_text(
        "CREATE TABLE slow AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000000000)\n"
        "SELECT sum(x) AS total FROM c;\n")
    d = daemon_factory(migrations=migrations).start()
    d.notify.wait_for("STATUS", "migrating: 0001_slow.sql")

    def answered(target):
        status, _, body = d.get(target)
        return status, json.loads(body)
    # The loop answers while the worker migrates: live, but not ready, and failing.
    assert answered("/health/live") == (200, {"status": "alive"})
    status, body = answered("/health/ready")
    assert status == 503 and body["status"] == "not ready" and body["phase"] == "migrating"
    assert body["detail"] == "0001_slow.sql"
    status, body = answered("/health")
    assert status == 503 and body["checks"]["schema"]["status"] == "failing"
    # SIGTERM aborts the migration at its next step, rolls it back and exits 0 promptly.
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    assert d.wait_exit(timeout=10) == 0
    assert time.monotonic() - t0 < 3.0
    d.notify.drain()
    assert not any(m.get("READY") == "1" for _, m in d.notify.messages)
    assert any(m.get("STOPPING") == "1" for _, m in d.notify.messages)
    assert not d.socket.exists()
    con = open_db(d.database)
    assert con.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'slow'").fetchone()[0] == 0
