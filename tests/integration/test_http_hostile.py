"""The health socket against hostile clients: floods of header lines, thousands of idle
or slow connections, requests that never complete, oversized and lying requests,
pipelined garbage, half-closed connections, connections opened and dropped by the
thousand. Other clients keep being answered within 1 s; memory and descriptors stay flat."""
import array
import fcntl
import json
import multiprocessing
import os
import resource
import select
import socket
import termios
import threading
import time
from pathlib import Path

import pytest

from conftest import NO_ARCHIVE, BIN, connect, healthy_body, get_keep_alive, http_request, parse_response, read_response, read_until_closed, wait_until

MiB = 1024 * 1024
# Seconds, for a fresh /health while the socket is under attack. An ASan+UBSan
# Debug build runs the loop 2-3x slower (it measured 0.8-1.2 s beside the unit
# tests): it is there to find memory errors, the plain build holds the target.
LATENCY_TARGET = 1.0
SANITIZED_LATENCY_TARGET = 2.5
REQUEST_TIMEOUT = 5.0  # the daemon's deadline for a request to arrive complete


def proc_status(pid, key):
    """A size from /proc/PID/status (VmRSS, VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


# An AddressSanitizer build of the binary under test.
SANITIZED = b"__asan_init" in Path(BIN).read_bytes()


def timed_health(sock_path):
    """GET /health on a fresh connection: (status, seconds taken)."""
    t0 = time.monotonic()
    status, _, _ = http_request(sock_path, "GET", "/health", timeout=5)
    return status, time.monotonic() - t0


def health_latencies(sock_path, count=20):
    """`count` fresh /health requests, each asserted 200; their latencies."""
    latencies = []
    for _ in range(count):
        status, took = timed_health(sock_path)
        assert status == 200, status
        latencies.append(took)
    return latencies


def send_in_background(sock, data):
    """Sends `data` from a thread: the daemon may refuse and stop reading long before the end."""
    def run():
        try:
            sock.sendall(data)
        except OSError:
            pass
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def server_closed(sock):
    """True once the daemon has closed its end (nothing left to read, or a reset). Does not wait."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    if not poller.poll(0):
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except ConnectionResetError:
        return True


def split_responses(data):
    """The responses (status, headers, body) in everything one connection received."""
    responses = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        status, headers, _ = parse_response(head + b"\r\n\r\n")
        length = int(headers["content-length"])
        responses.append((status, headers, rest[:length]))
        data = rest[length:]
    return responses


def unread_bytes(sock):
    buf = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.FIONREAD, buf)
    return buf[0]


@pytest.fixture
def many_descriptors():
    """Raises this process's descriptor limit so that it can hold thousands of connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 12000 if hard == resource.RLIM_INFINITY else min(hard, 12000)
    if want < 5000:
        pytest.fail(f"RLIMIT_NOFILE hard limit {hard} is too low to hold thousands of connections", pytrace=False)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def with_usual_descriptor_limit(d):
    """Gives the running daemon the soft descriptor limit services usually get."""
    _, hard = resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE)
    resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, (1024, hard))


def flood_request(lines, line=b"X-A: b\r\n"):
    """The outside tester's request: Beast 1.81 let it through whole when the lines fall on its reads' edges."""
    return b"GET /health HTTP/1.1\r\nHost: x\r\n" + line * lines + b"\r\n"


def test_floods_of_short_header_lines_get_431_and_memory_stays_flat(daemon_factory):
    d = daemon_factory(extra_args=NO_ARCHIVE).start().wait_ready()
    pid = d.proc.pid
    assert d.get("/health")[0] == 200
    rss0, hwm0 = proc_status(pid, "VmRSS"), proc_status(pid, "VmHWM")
    floods = [flood_request(4_000_000), flood_request(4_000_000),  # 32 MB of 8-byte header lines
              flood_request(2_000_000, b"X-AAAAAAAAA: b\r\n")]  # and of 16-byte ones
    answers = [None] * len(floods)

    def attack(i):
        with connect(d.socket, timeout=30) as s:
            sender = send_in_background(s, floods[i])
            answers[i] = read_response(s, timeout=30)
            sender.join(30)

    attackers = [threading.Thread(target=attack, args=(i,)) for i in range(len(floods))]
    for t in attackers:
        t.start()
    latencies = []
    while any(t.is_alive() for t in attackers):
        latencies.append(timed_health(d.socket))
    for t in attackers:
        t.join()
    rss1, hwm1 = proc_status(pid, "VmRSS"), proc_status(pid, "VmHWM")
    print(f"header floods: VmRSS {rss0 / MiB:.1f} -> {rss1 / MiB:.1f} MiB, VmHWM {hwm0 / MiB:.1f} -> "
          f"{hwm1 / MiB:.1f} MiB, /health during: {[f'{s} {t:.3f}s' for s, t in latencies]}")
    assert rss1 - rss0 < 4 * MiB and hwm1 - hwm0 < 4 * MiB, (rss0, rss1, hwm0, hwm1)
    for status, _, body in answers:
        assert status == 431
        assert json.loads(body)["error"] == "request header over 8192 bytes"
    assert all(status == 200 and took < LATENCY_TARGET for status, took in latencies), latencies
    assert d.get("/health")[0] == 200


def test_more_than_100_header_fields_get_431(daemon_factory):
    d = daemon_factory().start().wait_ready()
    # 200 fields in 1.7 KB: well under the byte limit, over the field limit.
    with connect(d.socket) as s:
        s.sendall(flood_request(200))
        status, _, body = read_response(s)
    assert status == 431
    assert json.loads(body)["error"] == "request header with more than 100 fields"
    # 100 fields is still a request.
    with connect(d.socket) as s:
        s.sendall(flood_request(99))  # and Host
        assert read_response(s)[0] == 200


def test_health_answers_within_1s_while_thousands_of_idle_connections_are_held(daemon_factory, many_descriptors):
    d = daemon_factory(extra_args=NO_ARCHIVE).start().wait_ready()
    with_usual_descriptor_limit(d)
    pid = d.proc.pid
    fds0 = open_fds(pid)
    idle = []
    try:
        for _ in range(3000):
            idle.append(connect(d.socket))
        latencies = health_latencies(d.socket)
        fds1 = open_fds(pid)
        # The oldest idle connections were the ones dropped; the newest are still held.
        assert server_closed(idle[0]) and not server_closed(idle[-1])
    finally:
        for s in idle:
            s.close()
    print(f"3000 idle connections: /health max {max(latencies):.3f}s, daemon descriptors {fds0} -> {fds1}")
    assert max(latencies) < LATENCY_TARGET, latencies
    assert fds1 <= fds0 + 64 + 2, (fds0, fds1)  # the cap, and a connection or two being closed


def hold_and_reconnect(sock_path, count, stop, made):
    """An attacker: holds `count` silent connections and reopens each one the daemon closes."""
    poller = select.poll()
    held = {}

    def open_one():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(sock_path))
        held[s.fileno()] = s
        poller.register(s, select.POLLIN)
        with made.get_lock():
            made.value += 1
    for _ in range(count):
        open_one()
    while not stop.is_set():
        for fd, _ in poller.poll(100):
            poller.unregister(fd)
            held.pop(fd).close()
            open_one()


def test_health_answers_within_1s_while_an_attacker_keeps_reconnecting(daemon_factory, many_descriptors):
    d = daemon_factory().start().wait_ready()
    with_usual_descriptor_limit(d)
    ctx = multiprocessing.get_context("fork")
    stop, made = ctx.Event(), ctx.Value("l", 0)
    attacker = ctx.Process(target=hold_and_reconnect, args=(d.socket, 2000, stop, made))
    attacker.start()
    try:
        # Well past its first 2000: it is reconnecting.
        wait_until(lambda: made.value >= 10000, timeout=20, what="the attacker to reconnect")
        latencies = health_latencies(d.socket)
        during = made.value
    finally:
        stop.set()
        attacker.join(10)
        if attacker.is_alive():
            attacker.kill()
    print(f"an attacker holding 2000 connections, {during} opened: /health max {max(latencies):.3f}s")
    assert max(latencies) < (SANITIZED_LATENCY_TARGET if SANITIZED else LATENCY_TARGET), latencies
    assert made.value > during, "the attacker stopped reconnecting while /health was measured"


class Trickle:
    """Sends one byte a second to each socket, as a slow client does."""

    def __init__(self, socks, interval=1.0):
        self.socks = socks
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, args=(interval,), daemon=True)
        self.thread.start()

    def run(self, interval):
        while not self.stop.wait(interval):  # the pace of the slow client, not a wait for a condition
            for s in self.socks:
                try:
                    s.send(b"a")
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.thread.join()
        for s in self.socks:
            s.close()


def test_slow_clients_over_the_cap_do_not_delay_health(daemon_factory, many_descriptors):
    d = daemon_factory().start().wait_ready()
    slow = []
    for _ in range(1000):
        s = connect(d.socket)
        s.sendall(b"GET /health HTTP/1.1\r\nX-Slow: ")
        slow.append(s)
    trickle = Trickle(slow)
    try:
        latencies = health_latencies(d.socket)
    finally:
        trickle.close()
    print(f"1000 slow clients: /health max {max(latencies):.3f}s")
    assert max(latencies) < LATENCY_TARGET, latencies


def test_requests_that_never_complete_are_cut_off_at_the_request_deadline(daemon_factory):
    d = daemon_factory().start().wait_ready()
    kept_alive = connect(d.socket)
    assert get_keep_alive(kept_alive, "/health")[0] == 200
    t0 = time.monotonic()
    silent = connect(d.socket)
    slow = [connect(d.socket) for _ in range(10)]
    for s in slow:
        s.sendall(b"GET /health HTTP/1.1\r\nX-Slow: ")
    lying = connect(d.socket)
    lying.sendall(b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly this")
    trickle = Trickle(slow, interval=0.5)
    try:
        stuck = [silent, lying, *slow]
        wait_until(lambda: all(server_closed(s) for s in stuck), timeout=REQUEST_TIMEOUT + 5,
                   what="the incomplete requests to be cut off")
        waited = time.monotonic() - t0
        # Between requests the idle timeout (30 s) applies, not the request deadline.
        assert not server_closed(kept_alive)
        assert get_keep_alive(kept_alive, "/health")[0] == 200
    finally:
        trickle.close()
        for s in (kept_alive, silent, lying):
            s.close()
    print(f"incomplete requests cut off after {waited:.2f}s")
    assert REQUEST_TIMEOUT - 0.5 <= waited, waited


def test_a_newcomer_gets_a_clean_503_while_every_connection_is_being_answered(daemon_factory):
    d = daemon_factory(extra_args=["--max-connections", "1"]).start().wait_ready()
    busy = connect(d.socket)
    # Pipelined requests whose answers it never reads: the daemon's write to it blocks,
    # with a complete request in hand. That connection is never the one dropped.
    send_in_background(busy, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 20000)
    seen = []

    def stalled():
        seen.append(unread_bytes(busy))
        return len(seen) >= 3 and seen[-1] > 0 and seen[-1] == seen[-2] == seen[-3]
    wait_until(stalled, timeout=5, interval=0.1, what="the daemon's answers to fill the busy connection")
    with connect(d.socket) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # no broken pipe
        status, _, body = parse_response(read_until_closed(s))
    assert status == 503 and json.loads(body)["error"] == "too many connections"
    assert not server_closed(busy)
    busy.shutdown(socket.SHUT_RDWR)  # also wakes the sender thread blocked on it
    busy.close()
    wait_until(lambda: http_request(d.socket)[0] == 200, timeout=5, what="a free connection slot")


def test_oversized_bodies_get_413_and_the_client_reads_it(daemon_factory):
    d = daemon_factory().start().wait_ready()
    body = b"x" * (2 * MiB)
    requests = [
        b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
        b"POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"".join(b"1000\r\n" + b"x" * 0x1000 + b"\r\n" for _ in range(512)) + b"0\r\n\r\n",
    ]
    for raw in requests:
        with connect(d.socket) as s:
            sender = send_in_background(s, raw)
            status, _, answer = parse_response(read_until_closed(s))
            sender.join(10)
        assert status == 413 and json.loads(answer)["error"] == "request body over 4096 bytes"
    assert d.get("/health")[0] == 200


def test_pipelined_requests_are_answered_and_garbage_after_them_gets_400(daemon_factory):
    d = daemon_factory().start().wait_ready()
    with connect(d.socket) as s:
        # A Content-Length shorter than the body: the rest is read as the next request.
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" * 5
                  + b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab\x00\xffGARBAGE\r\n\r\n")
        answers = split_responses(read_until_closed(s))
    assert [status for status, _, _ in answers] == [200] * 6 + [400]
    assert json.loads(answers[-1][2])["error"].startswith("bad request")


def test_half_closed_connections(daemon_factory):
    d = daemon_factory().start().wait_ready()
    # A complete request, then the client stops sending: it is answered, then closed.
    with connect(d.socket) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        status, _, body = parse_response(read_until_closed(s))
    assert status == 200 and json.loads(body) == healthy_body()
    # Half a request, then the client stops sending: 400 at once, not at a deadline.
    with connect(d.socket) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        s.shutdown(socket.SHUT_WR)
        t0 = time.monotonic()
        status, _, _ = parse_response(read_until_closed(s))
    assert status == 400 and time.monotonic() - t0 < LATENCY_TARGET


def connect_when_accepted(path, timeout=10.0):
    """connect(), waiting while the listen queue is full: with a timeout set, a Unix
    socket's connect fails at once with EAGAIN then instead of blocking."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return connect(path)
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.001)


def test_10000_connections_opened_and_dropped_leave_descriptors_and_memory_flat(daemon_factory, many_descriptors):
    # Without the archive, whose descriptors come a moment after READY.
    d = daemon_factory(extra_args=NO_ARCHIVE).start().wait_ready()
    pid = d.proc.pid
    assert d.get("/health")[0] == 200
    fds0, rss0 = open_fds(pid), proc_status(pid, "VmRSS")
    for i in range(10000):
        s = connect_when_accepted(d.socket)
        if i % 3 == 1:
            s.sendall(b"GET /health HTTP/1.1\r\nHo")  # dropped mid-request
        elif i % 3 == 2:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")  # dropped before reading the answer
        s.close()
    # The daemon works through the connections still queued (a first /health waits behind
    # them, a slow sanitizer build drains them slowly: its connect may first find the
    # listen queue full, as the flood's own did), then answers as fast as before.
    first = connect_when_accepted(d.socket, timeout=30)
    first.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert read_until_closed(first, timeout=30).startswith(b"HTTP/1.1 200"), "no answer after the flood"
    first.close()
    wait_until(lambda: open_fds(pid) <= fds0, timeout=30, what=f"the daemon's descriptors back to {fds0}")
    status, took = timed_health(d.socket)
    assert status == 200 and took < LATENCY_TARGET
    rss1 = proc_status(pid, "VmRSS")
    print(f"10000 connections dropped: VmRSS {rss0 / MiB:.1f} -> {rss1 / MiB:.1f} MiB")
    # AddressSanitizer keeps freed memory in quarantine: resident size says nothing there.
    if not SANITIZED:
        assert rss1 - rss0 < 4 * MiB, (rss0, rss1)
