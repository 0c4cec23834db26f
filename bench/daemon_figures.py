#!/usr/bin/env python3
"""Prints the daemon's basic figures: time from exec to READY=1 (fresh database with
the bundled migrations, and an already-migrated one), RSS at idle, and /health
latency over one keep-alive connection and over fresh connections.

    python3 bench/daemon_figures.py [build/sqlkeeper] [requests]
"""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "build" / "sqlkeeper")
REQUESTS = int(sys.argv[2]) if len(sys.argv) > 2 else 2000


def start(workdir):
    notify_path = os.path.join(workdir, "notify.sock")
    if os.path.exists(notify_path):
        os.unlink(notify_path)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(30)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLKEEPER_")}
    env["NOTIFY_SOCKET"] = notify_path
    t0 = time.monotonic()
    proc = subprocess.Popen([BIN, "run", "--database", f"{workdir}/app.db", "--backup-dir", f"{workdir}/backups",
                             "--socket", f"{workdir}/sk.sock", "--migrations", str(ROOT / "migrations")],
                            env=env, stderr=subprocess.DEVNULL)
    while b"READY=1" not in notify.recv(4096):
        pass
    ready = time.monotonic() - t0
    notify.close()
    return proc, ready


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def keepalive_latencies(sock_path, n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    request = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"}\n"):
            data += s.recv(4096)
        out.append(time.perf_counter() - t0)
    s.close()
    return out


def fresh_connection_latencies(sock_path, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock_path)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        while s.recv(4096):
            pass
        s.close()
        out.append(time.perf_counter() - t0)
    return out


def main():
    with tempfile.TemporaryDirectory() as workdir:
        proc, fresh = start(workdir)
        proc.terminate()
        proc.wait()
        proc, again = start(workdir)
        sock_path = f"{workdir}/sk.sock"
        keepalive_latencies(sock_path, 100)  # warm up
        ka = keepalive_latencies(sock_path, REQUESTS)
        fc = fresh_connection_latencies(sock_path, REQUESTS // 4)
        rss = rss_kib(proc.pid)
        proc.terminate()
        proc.wait()
    print(f"binary: {BIN}")
    print(f"start to READY=1, fresh database + bundled migrations: {fresh * 1000:.1f} ms")
    print(f"start to READY=1, already migrated:                   {again * 1000:.1f} ms")
    print(f"RSS after {REQUESTS} requests, idle:                       {rss} KiB")
    for name, values in (("keep-alive", ka), ("new connection", fc)):
        us = [v * 1e6 for v in values]
        print(f"/health {name:15s} n={len(us):5d}  p50 {percentile(us, 0.5):7.1f} us  "
              f"p99 {percentile(us, 0.99):7.1f} us  mean {statistics.mean(us):7.1f} us")


if __name__ == "__main__":
    main()
