"""End-to-end tests under a real systemd: a minimal Debian 12 booted with
systemd-nspawn (systemd as PID 1), the built .deb installed with apt-get, driven
with nsenter. The root file system is built once with debootstrap and cached
outside the clone (SK_CACHE_DIR, default ~/.cache/sqlkeeper), keyed by its package
list; each test session boots an overlay of it (or a copy), so the cache stays clean.

ctest sets SK_DEB (the package cpack built) and SK_SOURCE_DIR. Without root or
systemd-nspawn the tests are skipped, and say why."""
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ.get("SK_SOURCE_DIR", Path(__file__).resolve().parents[2]))
HERE = Path(__file__).resolve().parent
CACHE_DIR = Path(os.environ.get("SK_CACHE_DIR", Path(os.environ.get("HOME", "/tmp")) / ".cache" / "sqlkeeper"))
# What the tests use inside the container besides systemd: python3 for the
# application, the sqlite3 CLI, curl for the health socket.
BASE_PACKAGES = ["systemd", "systemd-sysv", "dbus", "python3", "sqlite3", "curl"]
CONTAINER_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                 "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0", "TERM": "dumb"}
APP_USER = "myapp"


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Polls predicate() until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def why_no_container():
    """Why this machine cannot boot the test container, or None when it can."""
    if os.geteuid() != 0:
        return "booting a systemd container needs root"
    if not shutil.which("systemd-nspawn"):
        return "systemd-nspawn is not installed (Debian package systemd-container)"
    if not shutil.which("nsenter"):
        return "nsenter is not installed (Debian package util-linux)"
    return None


def deb_dependencies(deb):
    """The package names the .deb depends on (the first of each alternative)."""
    out = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], check=True, capture_output=True, text=True).stdout
    names = []
    for clause in out.split(","):
        name = clause.split("|")[0].split("(")[0].strip()
        if name:
            names.append(name)
    return names


def cached_root(packages, dependencies):
    """The cached root file system with `packages` and the .deb's `dependencies`
    installed, built on first use."""
    key = hashlib.sha256(",".join(sorted(set(packages + dependencies))).encode()).hexdigest()[:12]
    root = CACHE_DIR / f"debootstrap-bookworm-{key}"
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / f"debootstrap-bookworm-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; the others then find it
        if not (root / "usr" / "lib" / "systemd" / "systemd").exists():
            if not shutil.which("debootstrap"):
                pytest.skip(f"no cached root at {root} and debootstrap is not installed")
            subprocess.run([str(HERE / "build-root.sh"), str(root), ",".join(packages), *dependencies], check=True,
                           timeout=1800)
    return root


class Container:
    """A booted container: run commands in it, read and write its files."""

    def __init__(self, root, workdir):
        self.root = Path(root)
        self.workdir = Path(workdir)
        self.nspawn = None
        self.pid = None
        self.log = None

    def boot(self):
        self.log = open(self.workdir / "nspawn.log", "wb")
        self.nspawn = subprocess.Popen(
            ["systemd-nspawn", "-D", str(self.root), "-b", "--register=no", "--keep-unit", "--console=pipe",
             f"--machine=sk-e2e-{os.getpid()}"], stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

        def init_pid():
            if self.nspawn.poll() is not None:
                raise AssertionError(f"systemd-nspawn exited {self.nspawn.returncode}: "
                                     f"{(self.workdir / 'nspawn.log').read_text(errors='replace')[-2000:]}")
            children = Path(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children")
            pids = children.read_text().split() if children.exists() else []
            for pid in pids:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                    return int(pid)
            return None

        self.pid = wait_until(init_pid, timeout=30, what="the container's init")

        def booted():
            # Until init listens on its private socket systemctl answers nothing.
            state = self.run("systemctl", "is-system-running", "--wait", timeout=120).stdout.strip()
            # "offline" is also what it says while the new init is not yet answering
            # (seen once in CI, 1.5 s into a boot): wait on, like for no answer.
            if state in ("running", "degraded", "maintenance", "stopping"):
                return state
            return None

        state = wait_until(booted, timeout=120, interval=0.2, what="the container's boot")
        assert state in ("running", "degraded"), f"container boot ended {state}: {self.sh('systemctl --failed')}"
        return self

    def run(self, *args, check=False, timeout=60, input=None):
        return subprocess.run(["nsenter", "-t", str(self.pid), "-a", "--", "/usr/bin/env", "-i",
                               *[f"{k}={v}" for k, v in CONTAINER_ENV.items()], *map(str, args)],
                              capture_output=True, text=True, timeout=timeout, check=check, input=input)

    def sh(self, script, check=False, timeout=60):
        """Runs a shell script in the container; returns its stdout (check: raise on failure)."""
        r = self.run("/bin/sh", "-c", script, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"`{script}` exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def is_socket(self, path):
        """Whether `path` is a socket inside the container (its /run is not on the host)."""
        return self.run("test", "-S", path).returncode == 0

    def exists(self, path):
        return self.run("test", "-e", path).returncode == 0

    def path(self, path):
        """The host path of a path inside the container (not under /run, /tmp, /proc)."""
        return self.root / str(path).lstrip("/")

    def write(self, path, text, mode=0o644):
        p = self.path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        p.chmod(mode)

    def show(self, unit, prop):
        return self.run("systemctl", "show", "-P", prop, unit).stdout.strip()

    def cursor(self):
        """The journal's current position, to read only what comes after it."""
        out = self.run("journalctl", "--show-cursor", "-n", "0", "-q").stdout
        return out.strip().split("cursor: ", 1)[1] if "cursor: " in out else ""

    def journal(self, cursor, *args, until=None, timeout=10):
        """Journal messages after `cursor` (journalctl options in args), one per line.
        With `until`, waits for a text containing it: journald reads a service's
        stream asynchronously, so its last lines may come after systemctl returned."""
        # Not --after-cursor: with a match (-u, -p) journalctl 252 also skips the
        # first matching entry after the cursor. --cursor includes the cursor's own
        # entry, which is dropped here.
        start = [f"--cursor={cursor}"] if cursor else []

        def read():
            out = self.run("journalctl", "--no-pager", "-q", "-o", "json", *start, *args).stdout
            messages = []
            for line in out.splitlines():
                entry = json.loads(line)
                if entry.get("__CURSOR") == cursor:
                    continue
                message = entry.get("MESSAGE", "")
                messages.append(bytes(message).decode(errors="replace") if isinstance(message, list) else message)
            return "".join(m + "\n" for m in messages)
        if until is None:
            return read()
        try:
            return wait_until(lambda: (lambda text: text if until in text else None)(read()), timeout=timeout,
                              what=f"{until!r} in the journal")
        except AssertionError:
            raise AssertionError(f"no {until!r} in the journal:\n{read()}") from None

    def curl(self, socket, target):
        """(HTTP status, body) of a GET on the health socket."""
        r = self.run("curl", "-s", "-m", "5", "-w", "\n%{http_code}", "--unix-socket", socket, f"http://localhost{target}")
        body, _, status = r.stdout.rpartition("\n")
        return int(status or 0), body

    def shutdown(self):
        if self.nspawn and self.nspawn.poll() is None:
            self.nspawn.send_signal(signal.SIGTERM)  # nspawn asks the container's init to power off
            try:
                self.nspawn.wait(30)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait()
        if self.log:
            self.log.close()


def mount_overlay(lower, workdir):
    """An overlay of the cached root; a copy where overlayfs is unavailable."""
    merged = workdir / "root"
    for d in ("upper", "work", "root"):
        (workdir / d).mkdir()
    r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={lower},upperdir={workdir / 'upper'},workdir={workdir / 'work'}", str(merged)],
                       capture_output=True, text=True)
    if r.returncode == 0:
        return merged, True
    merged.rmdir()
    subprocess.run(["cp", "-a", str(lower), str(merged)], check=True)
    return merged, False


@pytest.fixture(scope="session")
def deb():
    reason = why_no_container()
    if reason:
        pytest.skip(reason)
    path = os.environ.get("SK_DEB")
    if not path or not Path(path).is_file():
        pytest.fail(f"SK_DEB must name the built .deb (ctest sets it after `cpack -G DEB`), got {path!r}")
    return Path(path)


@pytest.fixture(scope="session")
def container(deb, tmp_path_factory):
    lower = cached_root(BASE_PACKAGES, deb_dependencies(deb))
    workdir = tmp_path_factory.mktemp("container")
    root, overlaid = mount_overlay(lower, workdir)
    c = Container(root, workdir)
    try:
        c.boot()
        shutil.copy(deb, c.path("/root/sqlkeeper.deb"))
        c.write("/usr/local/bin/sk-app", (HERE / "app.py").read_text(), 0o755)
        install = c.run("apt-get", "install", "-y", "-q", "--no-install-recommends", "/root/sqlkeeper.deb",
                        timeout=300)
        assert install.returncode == 0, install.stdout + install.stderr
        c.install_output = install.stdout
        c.sh(f"useradd --system --no-create-home --shell /usr/sbin/nologin {APP_USER}", check=True)
        # The packaged configuration, to put back before each test.
        shutil.copy(c.path("/etc/sqlkeeper/sqlkeeper.conf"), workdir / "sqlkeeper.conf.packaged")
        c.packaged_conf = (workdir / "sqlkeeper.conf.packaged").read_text()
        yield c
    finally:
        c.shutdown()
        if overlaid:
            subprocess.run(["umount", str(root)], check=False)
        subprocess.run(["rm", "-rf", "--one-file-system", str(workdir)], check=False)


# Units the tests add; each test starts from none of them.
TEST_UNITS = ["sk-app-first.service", "sk-writer.service", "sk-lock.service"]


@pytest.fixture
def sk(container):
    """The container with sqlkeeper.service stopped and reset to the packaged state:
    no drop-ins, the packaged configuration, an empty state directory."""
    c = container
    c.sh("systemctl stop " + " ".join(TEST_UNITS) + " sqlkeeper.socket sqlkeeper.service 'sqlkeeper@*.service' "
         "'sqlkeeper@*.socket' 2>/dev/null; systemctl reset-failed")
    c.sh("rm -rf /etc/systemd/system/sqlkeeper.service.d /etc/systemd/system/sqlkeeper@.service.d "
         + " ".join(f"/etc/systemd/system/{u}" for u in TEST_UNITS)
         + " /var/lib/sqlkeeper /var/lib/sk-app /srv/sk && systemctl daemon-reload", check=True)
    c.write("/etc/sqlkeeper/sqlkeeper.conf", c.packaged_conf)
    c.start_cursor = c.cursor()
    return c
