"""Socket activation: systemd's own systemd-socket-activate holds the listening
socket and starts sqlkeeper on the first connection, passing it as fd 3."""
import os
import shutil
import signal
import socket
import subprocess

from conftest import BIN, BUNDLED_MIGRATIONS, NotifyListener, clean_env, http_request, parse_response, wait_until

ACTIVATE = shutil.which("systemd-socket-activate")


def test_daemon_serves_on_the_socket_systemd_passes(tmp_path):
    assert ACTIVATE, "systemd-socket-activate is missing: install Debian's systemd package (scripts/dev.sh test does)"
    sock = tmp_path / "activated.sock"
    notify = NotifyListener(tmp_path / "notify.sock")
    env = clean_env()
    log_path = tmp_path / "activate.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [ACTIVATE, "-l", str(sock), f"--setenv=NOTIFY_SOCKET={notify.path}", "--setenv=PATH",
         BIN, "run", "--database", str(tmp_path / "app.db"), "--backup-dir", str(tmp_path / "backups"),
         "--migrations", str(BUNDLED_MIGRATIONS),
         # The configured path must not be created when systemd passes a socket.
         "--socket", str(tmp_path / "unused.sock")],
        env=env, stderr=log, text=True)
    try:
        # The socket's file exists from bind(), before listen(): a connect in between is
        # refused. systemd-socket-activate says "Listening on" only after listen().
        wait_until(lambda: "Listening on" in log_path.read_text(), what="systemd-socket-activate to listen")
        # The first connection starts the daemon; it is answered once the daemon runs.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(20)
            s.connect(str(sock))
            s.sendall(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        assert parse_response(data)[0] == 200
        notify.wait_for("READY", "1", timeout=20)
        status, _, body = http_request(sock, "GET", "/health")
        assert status == 200, body
        assert not (tmp_path / "unused.sock").exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        # The socket belongs to systemd: sqlkeeper must not remove it.
        assert sock.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()
        log.close()
