"""The image of packaging/container under a real engine (podman), as users deploy it:
the database on a shared volume, an application container beside it, health by
the image's HEALTHCHECK, stops and kills by the engine.

The base image is built locally (packaging/container/base-image.sh: debootstrap from
the machine's own mirror, cached outside the clone), so no registry is needed. The
engine runs with a containers.conf of the tests' own: the runc runtime (crun refuses
the hybrid cgroups of these machines), no default ulimits (podman's defaults are above
the hard limits here), cgroupfs and file events (no systemd). `podman healthcheck
run` stands in for podman's periodic checks, which need systemd timers. Without
root or podman the tests are skipped, and say why."""
import json
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ.get("SK_SOURCE_DIR", Path(__file__).resolve().parents[2]))
IMAGE = "localhost/sqlkeeper:e2e"
APP_IMAGE = "localhost/sqlkeeper-app:e2e"
EXAMPLE = SOURCE_DIR / "examples" / "compose"
GID = 10001  # the image's group: /data is setgid to it
APP_UID = 10002
# Not the image's own uid (10001): the uid is the user's to choose.
SQLKEEPER_UID = 10003
# How the cases run sqlkeeper: the hardening a careful user applies (podman's
# --read-only also mounts tmpfs on /tmp, /var/tmp and /run).
HARDENED = ["--read-only", "--cap-drop=ALL", "--network=none", "--security-opt=no-new-privileges",
            f"--user={SQLKEEPER_UID}:{GID}"]


def wait_until(predicate, timeout=10.0, interval=0.1, what="condition"):
    """Polls predicate() until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def why_no_engine():
    if os.geteuid() != 0:
        return "the container tests run podman as root"
    for tool in ("podman", "runc", "debootstrap"):
        if not shutil.which(tool):
            return f"{tool} is not installed (scripts/dev.sh test --full installs it)"
    return None


class Engine:
    """podman with the tests' own configuration."""

    def __init__(self, conf):
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}

    def __call__(self, *args, check=True, timeout=120, input=None):
        r = subprocess.run(["podman", *map(str, args)], env=self.env, capture_output=True, text=True,
                           timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise AssertionError(f"podman {' '.join(map(str, args))} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    reason = why_no_engine()
    if reason:
        pytest.skip(reason)
    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = []\n\n'
                    '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
    return Engine(conf)


# On what the tests build, so that their superseded images can be pruned.
LABEL = "org.sqlkeeper.test=container-e2e"


def build(engine, containerfile, tag, base, mirror, *extra):
    started = time.monotonic()
    engine("build", "--format", "docker", "--layers", "--label", LABEL, "--build-arg", f"BASE={base}",
           "--build-arg", f"DEBIAN_MIRROR={mirror}", "-f", containerfile, "-t", tag, *extra, SOURCE_DIR, timeout=3600)
    return time.monotonic() - started


@pytest.fixture(scope="session")
def images(engine):
    """Builds the sqlkeeper image and the example's application image; prints the figures."""
    base = subprocess.run([str(SOURCE_DIR / "packaging" / "container" / "base-image.sh")], env=engine.env,
                          check=True, capture_output=True, text=True, timeout=1800).stdout.strip().splitlines()[-1]
    mirror = subprocess.run([str(SOURCE_DIR / "scripts" / "debian-mirror.sh")], check=True, capture_output=True,
                            text=True).stdout.strip()
    containerfile = SOURCE_DIR / "packaging" / "container" / "Containerfile"
    # The build stage gets a name too: its layer of compilers is then kept for the
    # next run while the images of earlier sources (1.5 GB each) are pruned.
    took = build(engine, containerfile, f"{IMAGE}-build", base, mirror, "--target", "build")
    took += build(engine, containerfile, IMAGE, base, mirror)
    app_took = build(engine, EXAMPLE / "app" / "Containerfile", APP_IMAGE, base, mirror)
    engine("image", "prune", "--force", "--filter", f"label={LABEL}")
    size = int(engine("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout.strip())
    print(f"\ncontainer: image {IMAGE} is {size / 1e6:.1f} MB; built in {took:.0f} s "
          f"(the app's in {app_took:.0f} s) on {base}")
    return {"size": size}


def image_healthcheck_with_start_period(engine, seconds):
    """podman run options that repeat the image's own HEALTHCHECK with another start
    period: podman 4.3 applies --health-start-period only beside --health-cmd."""
    hc = json.loads(engine("image", "inspect", "--format", "{{json .Config.Healthcheck}}", IMAGE).stdout)
    assert hc["Test"][0] == "CMD", hc
    return ["--health-cmd", json.dumps(hc["Test"][1:]), f"--health-start-period={seconds}s",
            f"--health-interval={hc['Interval'] // 10**9}s", f"--health-timeout={hc['Timeout'] // 10**9}s",
            f"--health-retries={hc['Retries']}"]


class Sqlkeeper:
    """One sqlkeeper container on a host folder mounted as /data."""

    def __init__(self, engine, name, data, migrations, env=None, args=(), options=HARDENED):
        self.engine, self.name, self.data = engine, name, Path(data)
        self.database = self.data / "app.db"
        self.backups = self.data / "backups"
        self.run_args = ["run", "-d", "--name", name, "--stop-timeout", "10", *options,
                         "-v", f"{data}:/data", "-v", f"{migrations}:/migrations:ro",
                         *[f"--env={k}={v}" for k, v in {"SQLKEEPER_LOG_FORMAT": "json", **(env or {})}.items()],
                         IMAGE, *args]
        self.started_at = None

    def start(self):
        self.started_at = time.monotonic()
        self.engine(*self.run_args)
        return self

    def healthcheck(self):
        """Runs the image's HEALTHCHECK once, as the engine would; True when it passed."""
        return self.engine("healthcheck", "run", self.name, check=False, timeout=30).returncode == 0

    def wait_healthy(self, timeout=10.0):
        wait_until(self.healthcheck, timeout, interval=0.2, what=f"{self.name} healthy:\n{self.logs_text()}")
        return time.monotonic() - self.started_at

    def inspect(self, template):
        return self.engine("inspect", "--format", template, self.name).stdout.strip()

    def exec(self, *args, check=True, timeout=120):
        return self.engine("exec", self.name, *args, check=check, timeout=timeout)

    def logs_text(self):
        r = self.engine("logs", self.name, check=False)
        return r.stdout + r.stderr

    def events(self):
        """The daemon's log, one JSON object a line (log-format json)."""
        out = []
        for line in self.logs_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"a log line that is not JSON: {line!r}") from None
        return out

    def messages(self):
        return [e["message"] for e in self.events()]

    def wait_for_message(self, text, timeout=30.0):
        return wait_until(lambda: [m for m in self.messages() if text in m], timeout, interval=0.2,
                          what=f"{text!r} in the log of {self.name}")


class App:
    """The example's application container, committing notes through the shared volume."""

    def __init__(self, engine, name, data, interval="0.01"):
        self.engine, self.name = engine, name
        self.run_args = ["run", "-d", "--name", name, "--read-only", "--cap-drop=ALL", "--network=none",
                         f"--user={APP_UID}:{GID}", "-v", f"{data}:/data", f"--env=APP_INTERVAL={interval}", APP_IMAGE]

    def start(self):
        self.engine(*self.run_args)
        return self

    def output(self):
        r = self.engine("logs", self.name, check=False)
        return r.stdout + r.stderr

    def committed(self):
        """The ids of the notes whose COMMIT returned."""
        return [int(line.split()[1]) for line in self.output().splitlines() if line.startswith("committed ")]

    def stop(self):
        self.engine("stop", "-t", "10", self.name)
        return self.committed()


@pytest.fixture
def pod(engine, images, tmp_path):
    """Makes containers on one shared /data folder; removes them afterwards."""
    data = tmp_path / "data"
    data.mkdir()
    # What the image's own /data is: setgid, the group's to write.
    os.chown(data, SQLKEEPER_UID, GID)
    os.chmod(data, 0o2770)
    migrations = tmp_path / "migrations"
    shutil.copytree(EXAMPLE / "drizzle", migrations)
    names = []

    class Pod:
        def __init__(self):
            self.data, self.migrations, self.engine = data, migrations, engine

        def _name(self, what):
            names.append(f"sk-test-{os.getpid()}-{len(names)}-{what}")
            return names[-1]

        def sqlkeeper(self, **kw):
            return Sqlkeeper(engine, self._name("sqlkeeper"), data, migrations, **kw)

        def app(self, **kw):
            return App(engine, self._name("app"), data, **kw)

    yield Pod()
    for name in reversed(names):
        engine("rm", "-f", "-t", "0", name, check=False, timeout=60)


def query(database, sql):
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def fill_database(path, mib):
    """Adds about `mib` MiB to a database sqlkeeper made (while no container runs),
    then hands its files back to sqlkeeper's uid, as the app's writes would leave them."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("CREATE TABLE filler (x BLOB)")
    con.execute("BEGIN")
    for _ in range(mib * 16):
        con.execute("INSERT INTO filler VALUES (randomblob(65536))")
    con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{path}{suffix}"):
            os.chown(f"{path}{suffix}", SQLKEEPER_UID, GID)
