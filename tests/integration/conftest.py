"""Shared fixtures for the integration tests: they run the real sqlkeeper binary
against a real SQLite file, a real Unix socket and a real NOTIFY_SOCKET listener.
Nothing here sleeps a fixed time: every wait polls for its condition with a deadline."""
import json
import os
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
                 watchdog_usec=None):
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

    def start(self):
        env = clean_env(self.full_env)
        if self.watchdog_usec:
            env["WATCHDOG_USEC"] = str(self.watchdog_usec)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([BIN, *map(str, self.args)], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        return self

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
