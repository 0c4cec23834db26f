"""The database the daemon creates, and every endpoint of the health socket, over the real socket."""
import json
import os
import re
import shutil
import stat
import subprocess

from conftest import (NO_ARCHIVE, baseline_failing_checks, connect, get_keep_alive, healthy_body, healthy_status, http_request,
                      linked_sqlite, open_db, parse_response, read_until_closed, run_cli)

# scripts/dev.sh unpacks promtool into its cache and names it here.
PROMTOOL = os.environ.get("SK_PROMTOOL") or shutil.which("promtool") or "promtool"


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_creates_directory_and_database_0600_in_wal_mode(daemon_factory):
    d = daemon_factory()
    assert not d.database.parent.exists()
    d.start().wait_ready()
    assert d.database.parent.is_dir()
    assert mode_of(d.database) == 0o600
    con = open_db(d.database)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # WAL mode is a property of the file: the header's read/write versions are 2.
    with open(d.database, "rb") as f:
        header = f.read(20)
    assert header[:16] == b"SQLite format 3\0" and header[18:20] == b"\x02\x02"
    assert mode_of(d.socket) == 0o660  # socket-mode default


def test_file_mode_0660_is_honoured_under_umask_077(daemon_factory):
    d = daemon_factory(extra_args=["--file-mode", "0660", "--socket-mode", "0600"], umask=0o077)
    d.start().wait_ready()
    assert mode_of(d.database) == 0o660
    # SQLite gives -wal and -shm the database's mode; the group must be able to create them.
    for suffix in ("-wal", "-shm"):
        assert mode_of(str(d.database) + suffix) == 0o660, suffix
    assert mode_of(d.database.parent) & 0o070 == 0o070
    assert mode_of(d.socket) == 0o600
    # The daemon's own umask was really 077: a file it creates through anything but the
    # configured mode would be owner-only. (Check via /proc so the test cannot pass vacuously.)
    umask_line = [l for l in open(f"/proc/{d.proc.pid}/status") if l.startswith("Umask:")][0]
    assert umask_line.split()[1] == "0077"


def test_health_endpoints(daemon_factory):
    d = daemon_factory().start().wait_ready()
    status, headers, body = d.get("/health")
    assert status == 200 and json.loads(body) == healthy_body()
    assert headers["content-type"] == "application/json"
    status, _, body = d.get("/health/live")
    assert status == 200 and json.loads(body)["status"] == "alive"
    status, _, body = d.get("/health/ready")
    assert status == 200 and json.loads(body) == {"status": "ready", "phase": "ready"}
    # A query string does not change the route.
    assert d.get("/health?verbose=1")[0] == 200


def test_status_json(daemon_factory):
    # A fresh install without the archive, whose first backup would come at once.
    d = daemon_factory(extra_args=NO_ARCHIVE).start().wait_ready()
    status, body = d.get_json("/status")
    assert status == 200
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", body["version"])
    assert re.fullmatch(r"3\.\d+\.\d+", body["sqlite_version"])
    assert body["sqlite"] == linked_sqlite() and body["sqlite"]["version"] == body["sqlite_version"]
    assert body["phase"] == "ready" and body["status"] == healthy_status()
    db = body["database"]
    assert db["path"] == str(d.database)
    assert db["size_bytes"] == os.path.getsize(d.database) > 0
    assert isinstance(db["wal_bytes"], int) and db["wal_max_bytes"] == 64 * 1024 * 1024
    assert db["answering"] is True
    schema = body["schema"]
    assert schema["format"] == "plain"
    assert schema["version"] == 2
    assert schema["applied"] == ["0001_users_and_sessions.sql", "0002_categories_and_expenses.sql"]
    assert schema["applied_this_start"] == 2
    backups = body["backups"]
    assert backups["dir"] == str(d.backups) and backups["count"] == 0 and backups["last"] is None
    assert set(body["checks"]) == {"schema", "database", "integrity", "database_disk", "wal", "backup",
                                   "backup_files", "post_backup", "disk", "backup_dir", "sqlite", "archive"}
    assert body["archive"] == {"on": False, "off_reason": "archive is false in the configuration"}
    # A fresh install: the first backup is the next nightly one.
    assert backups["schedule"]["next"] is not None and backups["schedule"]["next_why"] == "nightly"
    assert backups["schedule"]["post_backup_command"] is None
    assert {name for name, c in body["checks"].items() if c["status"] != "ok"} == baseline_failing_checks()
    assert body["uptime_seconds"] >= 0


def test_metrics_pass_promtool(daemon_factory, tmp_path):
    d = daemon_factory(watchdog_usec=400000).start().wait_ready()
    d.notify.wait_for("WATCHDOG", "1")
    status, headers, body = d.get("/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                           timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    assert values["sqlkeeper_ready"] == 1
    assert values["sqlkeeper_database_up"] == 1
    assert values[f'sqlkeeper_health_status{{status="{healthy_status()}"}}'] == 1
    lib = linked_sqlite()
    labels = f'version="{lib["version"]}",source="{lib["source"]}",wal_reset_fix="{str(lib["wal_reset_fix"]).lower()}"'
    assert values[f"sqlkeeper_sqlite_info{{{labels}}}"] == 1
    assert values['sqlkeeper_health_status{status="failing"}'] == 0
    assert values["sqlkeeper_schema_version"] == 2
    assert values["sqlkeeper_migrations_applied"] == 2
    assert values["sqlkeeper_watchdog_pings_total"] >= 1
    assert values["sqlkeeper_http_requests_total"] >= 1
    # promtool itself must be able to fail, or the check above proves nothing.
    bad = subprocess.run([PROMTOOL, "check", "metrics"], input="# TYPE x gauge\nx{ 1\n",
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0


def test_unknown_path_404_and_wrong_method_405(daemon_factory):
    d = daemon_factory().start().wait_ready()
    status, _, body = d.get("/nope")
    assert status == 404 and "error" in json.loads(body)
    status, _, body = http_request(d.socket, "POST", "/health", body=b"{}")
    assert status == 405 and "error" in json.loads(body)
    status, _, body = http_request(d.socket, "DELETE", "/status")
    assert status == 405
    status, headers, body = http_request(d.socket, "HEAD", "/health")
    assert status == 200 and body == b""


def test_keep_alive_serves_several_requests_on_one_connection(daemon_factory):
    d = daemon_factory().start().wait_ready()
    with connect(d.socket) as s:
        status, headers, body = get_keep_alive(s, "/health")
        assert status == 200 and json.loads(body)["status"] == healthy_status()
        assert headers.get("connection", "keep-alive").lower() != "close"
        status, _, body = get_keep_alive(s, "/status")
        assert status == 200 and json.loads(body)["schema"]["version"] == 2
        status, _, _ = get_keep_alive(s, "/health/live")
        assert status == 200
        # Connection: close is honoured: the server answers, then closes.
        s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = read_until_closed(s)
        assert data.startswith(b"HTTP/1.1 200")


def test_pipelined_requests_on_one_connection_are_all_answered_in_order(daemon_factory):
    """Three requests in one write, before any answer: each gets its answer, in order.
    An empty line before a request (a client that ends a request with an extra CRLF)
    is skipped, as RFC 9112 section 2.2 asks, not answered with 400 and a closed connection."""
    d = daemon_factory().start().wait_ready()
    with connect(d.socket) as s:
        s.sendall(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n\r\n"
                  b"GET /health/ready HTTP/1.1\r\nHost: localhost\r\n\r\n"
                  b"GET /nope HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = read_until_closed(s)
    answers = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        status, headers, _ = parse_response(head + b"\r\n\r\n")
        length = int(headers["content-length"])
        answers.append((status, json.loads(rest[:length])))
        data = rest[length:]
    assert answers == [(200, {"status": "alive"}), (200, {"status": "ready", "phase": "ready"}),
                       (404, {"error": "no such endpoint"})], answers


def test_bad_request_is_400(daemon_factory):
    d = daemon_factory().start().wait_ready()
    status, _, _ = http_request(d.socket, raw=b"THIS IS NOT HTTP\r\n\r\n")
    assert status == 400
    # and the daemon goes on answering
    assert d.get("/health")[0] == 200


def test_version_flag():
    res = run_cli("--version")
    assert res.returncode == 0 and res.stdout.startswith("sqlkeeper ")
    assert re.search(r"^SQLite 3\.\d+\.\d+ \((bundled|system), has the WAL-reset (fix|bug)\)$", res.stdout, re.M)
