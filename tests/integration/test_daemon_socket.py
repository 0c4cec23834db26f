"""The health socket: a second instance, a stale socket file, and the limits
(header size, idle timeout, connection cap)."""
import json
import socket
import time

from conftest import (Daemon, NotifyListener, connect, get_keep_alive, healthy_body, make_stale_socket, parse_response,
                      read_until_closed, run_cli, wait_until)


def test_second_instance_on_the_same_socket_refuses_to_start(daemon_factory, tmp_path):
    first = daemon_factory().start().wait_ready()
    notify = NotifyListener(tmp_path / "second-notify.sock")
    try:
        # Another database (one database, one daemon is test_daemon_stop.py's), the same socket.
        res = run_cli("run", "--database", tmp_path / "other" / "app.db", "--backup-dir", first.backups,
                      "--socket", first.socket, "--migrations", first.migrations, timeout=20,
                      env={"NOTIFY_SOCKET": notify.path})
        assert res.returncode != 0
        assert str(first.socket) in res.stderr
        assert "already" in res.stderr and "refusing" in res.stderr
        # systemd hears why: ERRNO= and a STATUS= naming the socket, and never READY=1.
        notify.drain()
        fields = [m for _, m in notify.messages]
        assert any(int(m.get("ERRNO", "0")) > 0 and str(first.socket) in m.get("STATUS", "") for m in fields), fields
        assert not any("READY" in m for m in fields)
    finally:
        notify.close()
    # The first one is unharmed: its socket file is still there and answering.
    assert first.socket.is_socket()
    assert first.get("/health")[0] == 200


def test_a_stale_socket_file_is_replaced(daemon_factory):
    d = daemon_factory()
    make_stale_socket(d.socket)
    # Nobody answers on it: connecting fails the way it does after a crash.
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(d.socket))
        raise AssertionError("the stale socket accepted a connection")
    except ConnectionRefusedError:
        pass
    finally:
        probe.close()
    d.start().wait_ready()
    assert d.get_json("/health") == (200, healthy_body())


def test_a_regular_file_at_the_socket_path_is_not_replaced(daemon_factory, tmp_path):
    target = tmp_path / "run" / "sqlkeeper.sock"
    target.parent.mkdir()
    target.write_text("precious")
    res = run_cli("run", "--database", tmp_path / "data" / "app.db", "--backup-dir", tmp_path / "b",
                  "--socket", target, "--migrations", Daemon(tmp_path / "x", notify=False).migrations, timeout=20)
    assert res.returncode != 0
    assert str(target) in res.stderr and "not a socket" in res.stderr
    assert target.read_text() == "precious"


def test_header_over_8_kib_gets_431(daemon_factory):
    d = daemon_factory().start().wait_ready()
    # Just under the limit is fine...
    with connect(d.socket) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"a" * 6000 + b"\r\nConnection: close\r\n\r\n")
        assert parse_response(read_until_closed(s))[0] == 200
    # ...over it is refused with 431 and the connection closed.
    with connect(d.socket) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n")
        status, _, body = parse_response(read_until_closed(s))
    assert status == 431
    assert "error" in json.loads(body)
    assert d.get("/health")[0] == 200


def test_idle_client_is_disconnected_after_idle_timeout(daemon_factory):
    d = daemon_factory(extra_args=["--idle-timeout", "300ms"]).start().wait_ready()
    with connect(d.socket) as s:
        t0 = time.monotonic()
        s.settimeout(5)
        assert s.recv(100) == b""  # blocks until the server closes the connection
        waited = time.monotonic() - t0
    assert 0.25 <= waited < 3.0, waited
    # A client that keeps talking is not cut off by the same timeout.
    with connect(d.socket) as s:
        t0 = time.monotonic()
        for _ in range(5):
            assert get_keep_alive(s, "/health/live")[0] == 200
            wait_until(lambda: time.monotonic() - t0 > 0.1, what="a pause shorter than the idle timeout")
            t0 = time.monotonic()


def test_over_the_cap_the_longest_idle_connection_makes_room(daemon_factory):
    d = daemon_factory(extra_args=["--max-connections", "2"]).start().wait_ready()
    a = connect(d.socket)
    b = connect(d.socket)
    c = None
    try:
        # Both are served (so the daemon has accepted them and counts them), a first.
        assert get_keep_alive(a, "/health/live")[0] == 200
        assert get_keep_alive(b, "/health/live")[0] == 200
        # A third client is answered; a, idle the longest, is the one closed.
        c = connect(d.socket)
        assert get_keep_alive(c, "/health")[0] == 200
        assert read_until_closed(a) == b""
        # b and c are within the cap and keep working.
        assert get_keep_alive(b, "/status")[0] == 200
        assert get_keep_alive(c, "/health/live")[0] == 200
    finally:
        for s in (a, b, c):
            if s is not None:
                s.close()
