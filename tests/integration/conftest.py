"""Shared fixtures for the integration tests: they run the real sqlkeeper binary
against a real SQLite file, a real Unix socket and a real NOTIFY_SOCKET listener.
Nothing here sleeps a fixed time: every wait polls for its condition with a deadline."""
import functools
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ.get("SK_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BIN = os.environ.get("SK_BIN", str(SOURCE_DIR / "build" / "sqlkeeper"))
BUNDLED_MIGRATIONS = SOURCE_DIR / "migrations"
# For tests of other parts whose premise the WAL archive (on by default) changes:
# it takes a backup at start (a chain begins with one) and holds a read
# transaction on the database while it runs, so no one else gets an exclusive lock.
NO_ARCHIVE = ["--archive", "false"]
FIXTURES = SOURCE_DIR / "tests" / "fixtures"


def wait_until(predicate, timeout=10.0, interval=0.01, what="condition"):
    """Polls predicate() until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def clean_env(extra=None):
    """The test's environment without any SQLKEEPER_* or systemd variables of the caller."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SQLKEEPER_") and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                                                            "LISTEN_FDS", "LISTEN_PID", "JOURNAL_STREAM")}
    env.update(extra or {})
    return env


def run_cli(*args, env=None, timeout=60, cwd=None):
    return subprocess.run([BIN, *map(str, args)], env=clean_env(env), capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


@functools.cache
def linked_sqlite():
    """The SQLite the binary under test links, from the second line of `sqlkeeper --version`
    ("SQLite 3.53.2 (bundled, has the WAL-reset fix)"): the bundled build and the
    SQLKEEPER_SYSTEM_SQLITE build run the same tests and expect what their library implies."""
    out = run_cli("--version").stdout
    m = re.search(r"^SQLite (\S+) \((bundled|system), has the WAL-reset (fix|bug)\)$", out, re.M)
    assert m, f"no SQLite line in `sqlkeeper --version`: {out!r}"
    return {"version": m[1], "source": m[2], "wal_reset_fix": m[3] == "fix"}


def baseline_failing_checks():
    """The health checks that are not ok on a daemon with nothing else wrong: on an SQLite
    with the WAL-reset bug (the system library of Debian 12), `sqlite` is degraded."""
    return set() if linked_sqlite()["wal_reset_fix"] else {"sqlite"}


def healthy_status():
    """The health verdict of a daemon with nothing else wrong."""
    return "ok" if linked_sqlite()["wal_reset_fix"] else "degraded"


def healthy_exit():
    """`sqlkeeper health`'s exit status for a daemon with nothing else wrong (Nagios: 0 ok, 1 degraded)."""
    return 0 if linked_sqlite()["wal_reset_fix"] else 1


def healthy_body():
    """/health's answer for a daemon with nothing else wrong."""
    lib = linked_sqlite()
    if lib["wal_reset_fix"]:
        return {"status": "ok"}
    detail = (f"SQLite {lib['version']} ({lib['source']}) has the WAL-reset bug; sqlkeeper takes no checkpoints; "
              "see docs/operations.md")
    return {"status": "degraded", "checks": {"sqlite": {"status": "degraded", "detail": detail}}}


def http_request(sock_path, method="GET", target="/health", headers=None, body=b"", timeout=5.0, raw=None):
    """One HTTP/1.1 request on a fresh connection; returns (status, headers dict, body bytes)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        if raw is None:
            lines = [f"{method} {target} HTTP/1.1", "Host: localhost", "Connection: close"]
            for k, v in (headers or {}).items():
                lines.append(f"{k}: {v}")
            if body:
                lines.append(f"Content-Length: {len(body)}")
            raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        s.sendall(raw)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return parse_response(data)


def parse_response(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


class NotifyListener:
    """A NOTIFY_SOCKET datagram socket, as systemd provides, recording every message."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.messages = []  # (monotonic time, {key: value})

    def drain(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            fields = {}
            for line in data.decode().split("\n"):
                if "=" in line:
                    k, _, v = line.partition("=")
                    fields[k] = v
            self.messages.append((time.monotonic(), fields))

    def all(self, key):
        self.drain()
        return [(t, m[key]) for t, m in self.messages if key in m]

    def wait_for(self, key, value=None, timeout=10.0, after=0):
        """Waits for a message carrying key (=value); returns its index in messages."""
        def found():
            self.drain()
            for i, (_, m) in enumerate(self.messages[after:], start=after):
                if key in m and (value is None or m[key] == value):
                    return i + 1
            return 0
        return wait_until(found, timeout, what=f"{key}={value} on NOTIFY_SOCKET") - 1

    def close(self):
        self.sock.close()


class Daemon:
    """A running `sqlkeeper run` in a temporary directory."""

    def __init__(self, workdir, migrations=BUNDLED_MIGRATIONS, extra_args=(), env=None, notify=True,
                 watchdog_usec=None, umask=None, uid=None, cwd=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database = self.workdir / "data" / "app.db"
        self.backups = self.workdir / "backups"
        self.socket = self.workdir / "run" / "sqlkeeper.sock"
        self.migrations = migrations
        self.notify = NotifyListener(self.workdir / "notify.sock") if notify else None
        self.log_path = self.workdir / "daemon.log"
        self.args = ["run", "--database", self.database, "--backup-dir", self.backups, "--socket", self.socket,
                     "--migrations", migrations, *extra_args]
        full_env = dict(env or {})
        if self.notify:
            full_env["NOTIFY_SOCKET"] = self.notify.path
        self.proc = None
        self.full_env = full_env
        self.watchdog_usec = watchdog_usec
        self.umask = umask  # when set, the daemon starts under this umask
        self.uid = uid  # when set (as root), the daemon runs as this uid and gid, owning its folder
        self.cwd = cwd  # when set, the daemon starts there (for relative paths in extra_args)

    def start(self):
        env = clean_env(self.full_env)
        if self.watchdog_usec:
            env["WATCHDOG_USEC"] = str(self.watchdog_usec)
        self.log = open(self.log_path, "wb")
        if self.uid is not None:
            self._hand_folder_to(self.uid)

        def preexec():
            if self.umask is not None:
                os.umask(self.umask)
            if self.uid is not None:
                os.setgroups([])
                os.setgid(self.uid)
                os.setuid(self.uid)
        self.proc = subprocess.Popen([BIN, *map(str, self.args)], env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=preexec, cwd=self.cwd)
        return self

    def _hand_folder_to(self, uid):
        open_the_way_to(self.workdir)
        for folder, dirs, files in os.walk(self.workdir):
            for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                os.chown(name, uid, uid)
        if self.notify:
            os.chmod(self.notify.path, 0o777)

    def wait_ready(self, timeout=20.0):
        if self.notify:
            self.notify.wait_for("READY", "1", timeout)
        else:
            wait_until(lambda: self.socket.exists() and self.get("/health/ready")[0] == 200, timeout, what="ready")
        return self

    def get(self, target, **kw):
        return http_request(self.socket, "GET", target, **kw)

    def get_json(self, target):
        status, _, body = self.get(target)
        return status, json.loads(body)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=15.0):
        return self.proc.wait(timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.notify:
            self.notify.close()
        if getattr(self, "log", None):
            self.log.close()

    def output(self):
        return self.log_path.read_text(errors="replace")


def open_the_way_to(path):
    """Lets a second uid through the test's private folders above `path`."""
    for folder in Path(path).parents:
        if str(folder) in ("/", "/tmp"):
            break
        os.chmod(folder, os.stat(folder).st_mode | 0o711)


@pytest.fixture
def daemon_factory(tmp_path):
    started = []

    def make(**kw):
        d = Daemon(tmp_path / f"d{len(started)}", **kw)
        started.append(d)
        return d

    yield make
    for d in started:
        d.stop()


def open_db(path):
    con = sqlite3.connect(str(path), timeout=10, isolation_level=None)
    return con


# ---------------------------------------------------------------------------
# Migration helpers (used by test_migrate_*.py and test_drizzle_*.py)
# ---------------------------------------------------------------------------
import hashlib
import shutil

DRIZZLE_FIXTURE = FIXTURES / "drizzle-basic"
DRIZZLE_MIGRATE_JS = SOURCE_DIR / "tests" / "interop" / "drizzle-migrate.mjs"
EX_DATAERR = 65


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def migrate_cli(action, database, migrations, *extra, backup_dir=None, env=None, timeout=60):
    """`sqlkeeper migrate ACTION --database D --migrations M [--backup-dir B] EXTRA...`."""
    args = ["migrate", *([action] if isinstance(action, str) else action), "--database", database,
            "--migrations", migrations]
    if backup_dir is not None:
        args += ["--backup-dir", backup_dir]
    return run_cli(*args, *extra, env=env, timeout=timeout)


def migrate_popen(action, database, migrations, *extra, backup_dir, stdout=None, stderr=None):
    args = [BIN, "migrate", action, "--database", str(database), "--migrations", str(migrations),
            "--backup-dir", str(backup_dir), *map(str, extra)]
    return subprocess.Popen(args, env=clean_env(), stdout=stdout or subprocess.PIPE,
                            stderr=stderr or subprocess.PIPE, text=True)


def user_tables(path):
    """Names of the database's tables, sqlite internals excluded."""
    con = open_db(path)
    try:
        return {r[0] for r in con.execute(
            "SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")}
    finally:
        con.close()


def schema_sql(path):
    """The full schema as a sorted list of (type, name, sql), bookkeeping included."""
    con = open_db(path)
    try:
        return sorted(con.execute(
            "SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").fetchall())
    finally:
        con.close()


def query(path, sql, *params):
    con = open_db(path)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def plain_bookkeeping(path):
    """[(version, name, sha256)] from sqlkeeper_migrations, [] when the table is absent."""
    if "sqlkeeper_migrations" not in user_tables(path):
        return []
    return query(path, "SELECT version, name, sha256 FROM sqlkeeper_migrations ORDER BY version")


def drizzle_bookkeeping(path):
    """[(hash, created_at, typeof(created_at))] from __drizzle_migrations, [] when absent."""
    if "__drizzle_migrations" not in user_tables(path):
        return []
    return query(path, "SELECT hash, created_at, typeof(created_at) FROM __drizzle_migrations "
                       "ORDER BY created_at, rowid")


class MigrationFolder:
    """A migrations folder built by a test: plain `NNNN_name.sql` files, or a
    drizzle-kit layout (meta/_journal.json + <tag>.sql). `add` appends a migration
    and returns its file name; keys are the plain number or the drizzle `when`."""

    DRIZZLE_BASE_WHEN = 1735689600000

    def __init__(self, path, fmt):
        assert fmt in ("plain", "drizzle")
        self.path = Path(path)
        self.fmt = fmt
        self.path.mkdir(parents=True, exist_ok=True)
        self.entries = []  # (key, file name)
        if fmt == "drizzle":
            (self.path / "meta").mkdir(exist_ok=True)
            self._write_journal()

    @classmethod
    def drizzle_fixture(cls, path, keep=None):
        """A copy of tests/fixtures/drizzle-basic; `keep` = number of journal entries to keep."""
        shutil.copytree(DRIZZLE_FIXTURE, path)
        folder = cls.__new__(cls)
        folder.path = Path(path)
        folder.fmt = "drizzle"
        journal = json.loads((folder.path / "meta" / "_journal.json").read_text())
        folder.entries = [(e["when"], e["tag"] + ".sql") for e in journal["entries"]]
        folder._all_fixture_entries = list(folder.entries)
        if keep is not None:
            folder.entries = folder.entries[:keep]
            folder._write_journal()
        return folder

    def restore_fixture_entries(self):
        self.entries = list(self._all_fixture_entries)
        self._write_journal()

    def _write_journal(self):
        if self.fmt != "drizzle":
            return
        journal = {"version": "7", "dialect": "sqlite", "entries": [
            {"idx": i, "version": "6", "when": key, "tag": name[:-len(".sql")], "breakpoints": True}
            for i, (key, name) in enumerate(self.entries)]}
        (self.path / "meta" / "_journal.json").write_text(json.dumps(journal, indent=2))

    def next_key(self):
        if self.fmt == "plain":
            return max([k for k, _ in self.entries], default=0) + 1
        return max([k for k, _ in self.entries], default=self.DRIZZLE_BASE_WHEN - 86400000) + 86400000

    def add(self, sql, name="m", key=None, raw=None):
        """Adds a migration. `sql` is a list of statements (joined with drizzle's
        breakpoint or newlines) or a str taken verbatim; `raw` bytes override both."""
        key = self.next_key() if key is None else key
        if self.fmt == "plain":
            file_name = f"{key:04d}_{name}.sql"
            joiner, tail = "\n", "\n"
        else:
            file_name = f"{len(self.entries):04d}_{name}.sql"
            joiner, tail = "--> statement-breakpoint\n", ""
        if raw is not None:
            data = raw
        elif isinstance(sql, str):
            data = sql.encode()
        else:
            data = (joiner.join(s.rstrip(";") + ";" for s in sql) + tail).encode()
        (self.path / file_name).write_bytes(data)
        self.entries.append((key, file_name))
        self._write_journal()
        return file_name

    def key_of(self, file_name):
        return next(k for k, n in self.entries if n == file_name)

    def remove(self, file_name, keep_journal_entry=False):
        (self.path / file_name).unlink()
        if not keep_journal_entry:
            self.entries = [(k, n) for k, n in self.entries if n != file_name]
            self._write_journal()

    def bookkeeping_keys(self, database):
        if self.fmt == "plain":
            return [r[0] for r in plain_bookkeeping(database)]
        return [r[1] for r in drizzle_bookkeeping(database)]


def node_modules_dir():
    """SK_TEST_NODE_MODULES (printed by tests/interop/setup.sh). Interop tests FAIL,
    never skip, without it: CI always sets it, so a missing value is a broken setup."""
    nm = os.environ.get("SK_TEST_NODE_MODULES")
    if not nm:
        pytest.fail("SK_TEST_NODE_MODULES is not set: run `bash tests/interop/setup.sh` and export "
                    "SK_TEST_NODE_MODULES=<the directory it prints on its last line>", pytrace=False)
    if not Path(nm, "drizzle-orm").is_dir() or not Path(nm, "better-sqlite3").is_dir():
        pytest.fail(f"SK_TEST_NODE_MODULES={nm} holds no drizzle-orm/better-sqlite3; rerun tests/interop/setup.sh",
                    pytrace=False)
    if shutil.which("node") is None:
        pytest.fail("node is not on PATH (needed for the drizzle interop tests)", pytrace=False)
    return nm


def drizzle_migrate(database, folder, check=True):
    """Runs drizzle-orm's own migrator (tests/interop/drizzle-migrate.mjs); returns
    its JSON report (check=True) or the CompletedProcess."""
    env = dict(os.environ, NODE_PATH=node_modules_dir())
    proc = subprocess.run(["node", str(DRIZZLE_MIGRATE_JS), str(database), str(folder)], env=env,
                          capture_output=True, text=True, timeout=60)
    if not check:
        return proc
    assert proc.returncode == 0, f"drizzle-migrate failed ({proc.returncode}): {proc.stderr}"
    return json.loads(proc.stdout)


# ---- helpers for the daemon foundation tests (test_daemon_*.py) ----

def wait_for_time(seconds, invariant=None, what="time to pass"):
    """Polls until `seconds` have passed, asserting invariant() (when given) on every poll:
    for the few checks that are about time itself ("no ping for two intervals")."""
    end = time.monotonic() + seconds

    def passed():
        if invariant is not None:
            invariant()
        return time.monotonic() >= end
    wait_until(passed, seconds + 5, what=what)


def read_until_closed(sock, timeout=5.0):
    """Reads from a connected socket until the peer closes it; a reset after the data counts as closed."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def connect(sock_path, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(sock_path))
    return s


def read_response(sock, timeout=5.0):
    """Reads one HTTP response with a Content-Length from a keep-alive connection."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a full response header: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, headers, _ = parse_response(head + b"\r\n\r\n")
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed in the middle of a response body")
        body += chunk
    return status, headers, body


def get_keep_alive(sock, target):
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    return read_response(sock)


def make_stale_socket(path):
    """Leaves what a crashed daemon leaves: a socket file that nobody listens on."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.listen(1)
    s.close()
    assert path.is_socket()
    return path


def fresh_read_error(db_path, timeout=0.2):
    """None when a new connection can read the database now, else SQLite's error text."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=timeout)
    try:
        con.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        return None
    except sqlite3.OperationalError as e:
        return str(e)
    finally:
        con.close()


class DatabaseLock:
    """Holds an EXCLUSIVE lock on the database, as an application might: with
    `PRAGMA locking_mode=EXCLUSIVE`, a write transaction in WAL mode takes the database
    file's EXCLUSIVE lock and keeps it, which shuts out every reader. The constructor
    checks with a fresh connection that reads really are refused."""

    def __init__(self, db_path):
        self.db_path = db_path
        self.con = sqlite3.connect(str(db_path), timeout=10, isolation_level=None)
        self.con.execute("PRAGMA locking_mode=EXCLUSIVE")
        self.con.execute("BEGIN EXCLUSIVE")
        self.con.execute("CREATE TABLE IF NOT EXISTS test_lock_holder(x)")
        self.con.execute("INSERT INTO test_lock_holder VALUES (1)")
        self.con.execute("COMMIT")  # the lock stays: locking_mode=EXCLUSIVE
        error = fresh_read_error(db_path)
        assert error is not None and "locked" in error, f"the lock does not shut out readers: {error}"

    def release(self):
        if self.con is not None:
            self.con.close()
            self.con = None
        assert fresh_read_error(self.db_path) is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.con is not None:
            self.con.close()
            self.con = None


def process_state(pid):
    """The one-letter state in /proc/PID/stat: R, S, T (stopped), Z..."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2]


def write_config(path, text):
    path = Path(path)
    path.write_text(text)
    return path


# ---- the application's stand-in: tests/integration/writer.py in its own process ----

WRITER = str(SOURCE_DIR / "tests" / "integration" / "writer.py")


def start_writer(db, interval=0.001, table="ticks", busy_ms=5000):
    """Starts writer.py committing one row every `interval` seconds into `table`."""
    import sys
    p = subprocess.Popen([sys.executable, WRITER, str(db), str(interval), str(busy_ms), table],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "started"
    return p


def stop_writer(p):
    """Stops a writer; returns its summary (committed, failures, p50/p99/max ms)."""
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=60)
    return json.loads(out.strip().splitlines()[-1])
