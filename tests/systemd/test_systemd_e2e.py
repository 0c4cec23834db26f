"""sqlkeeper under a real systemd (see conftest.py): the packaged units, the two
ways to share the database with an application running as a second uid, failure
modes without restart loops, reload, stop, the watchdog, socket activation, the
template, the journal's priorities, and the package's install and removal."""
import json
import time

from conftest import APP_USER, SOURCE_DIR, wait_until

SOCKET = "/run/sqlkeeper/sqlkeeper.sock"
DATABASE = "/var/lib/sqlkeeper/app.db"
EXAMPLES = SOURCE_DIR / "systemd" / "examples"


def drop_in(c, unit, name, text):
    c.write(f"/etc/systemd/system/{unit}.d/{name}.conf", text)
    c.sh("systemctl daemon-reload", check=True)


def configure(c, text):
    """Appends settings to the packaged configuration (a later key wins)."""
    c.write("/etc/sqlkeeper/sqlkeeper.conf", c.packaged_conf + "\n" + text)


def migrations(c, files):
    """A migrations folder in the container with {name: sql}; sqlkeeper reads it."""
    for name, sql in files.items():
        c.write(f"/srv/sk/migrations/{name}", sql)
    return "/srv/sk/migrations"


def timed(c, *args, timeout=120):
    t0 = time.monotonic()
    r = c.run(*args, timeout=timeout)
    return r, time.monotonic() - t0


def app_unit(c, name, command, extra="", user=APP_USER, ordered=True):
    """An application unit running as the second uid, ordered after sqlkeeper."""
    order = "Requires=sqlkeeper.service\nAfter=sqlkeeper.service" if ordered else ""
    c.write(f"/etc/systemd/system/{name}", f"""[Unit]
{order}
[Service]
User={user}
Group={user}
StateDirectory=sk-app
{extra}
ExecStart=/usr/local/bin/sk-app {command}
""")
    c.sh("systemctl daemon-reload", check=True)


def no_restarts(c, unit="sqlkeeper.service"):
    """The unit stays failed: no restart was scheduled after the failure."""
    # Restart=on-failure would act after RestartSec (100ms); give it ten times that.
    time.sleep(1.0)
    assert c.show(unit, "NRestarts") == "0"
    assert c.show(unit, "ActiveState") == "failed"


# --- the package ---------------------------------------------------------------

def test_package_installs_enabled_and_started_on_its_default_configuration(container):
    c = container
    assert "Setting up sqlkeeper" in c.install_output
    assert c.run("systemctl", "is-enabled", "sqlkeeper.service").stdout.strip() == "enabled"
    assert c.run("id", "-u", "sqlkeeper").returncode == 0
    # The conffile and the bundled migrations where Debian expects them.
    assert "/etc/sqlkeeper/sqlkeeper.conf" in c.sh("dpkg-query --showformat='${Conffiles}' -W sqlkeeper")
    assert c.sh("ls /usr/share/sqlkeeper/migrations").split() == sorted(
        p.name for p in (SOURCE_DIR / "migrations").iterdir())
    # The manual page where man(1) looks, naming every option of the installed program.
    page = c.sh("zcat /usr/share/man/man1/sqlkeeper.1.gz")
    assert page.startswith(".TH SQLKEEPER 1 ") and ".SH OPTIONS" in page, page[:200]
    for line in c.sh("sqlkeeper check-config --sample").splitlines():
        if line.startswith("#") and " = " in line and not line.startswith("# "):
            name = line[1:].split(" = ")[0]
            assert f".BI \\-\\-{name.replace('-', chr(92) + '-')} " in page, name
    assert {"changelog.gz", "copyright"} <= set(c.sh("ls /usr/share/doc/sqlkeeper").split())


def test_units_verify_clean_and_the_service_is_exposed_at_most_1_0(container):
    c = container
    r = c.run("systemd-analyze", "verify", "sqlkeeper.service", "sqlkeeper.socket", "sqlkeeper@x.service",
              "sqlkeeper@x.socket", "sqlkeeper-offsite@var-lib-sqlkeeper-backups.path")
    # The offsite unit names rclone, which is not installed (nor a dependency).
    problems = [l for l in (r.stdout + r.stderr).splitlines() if l.strip() and "rclone" not in l]
    assert problems == [], problems
    for unit in ("sqlkeeper.service", "sqlkeeper@x.service"):
        out = c.run("systemd-analyze", "security", unit).stdout
        score = float(out.rsplit("Overall exposure level for", 1)[1].split(":")[1].split()[0])
        print(f"exposure of {unit}: {score}")
        assert score <= 1.0, out


def test_package_removes_and_purges_cleanly_and_installs_again(sk):
    c = sk
    assert c.run("systemctl", "start", "sqlkeeper").returncode == 0
    assert c.path(DATABASE).exists()
    r = c.run("apt-get", "remove", "-y", "-q", "sqlkeeper", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.show("sqlkeeper.service", "ActiveState") == "inactive"
    assert not c.path("/usr/bin/sqlkeeper").exists()
    assert not c.exists(SOCKET)
    # Removal keeps the configuration and the data; purge takes both.
    assert c.path("/etc/sqlkeeper/sqlkeeper.conf").exists() and c.path(DATABASE).exists()
    r = c.run("apt-get", "purge", "-y", "-q", "sqlkeeper", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not c.path("/etc/sqlkeeper").exists()
    assert not c.path("/var/lib/sqlkeeper").exists()
    assert "sqlkeeper" not in c.sh("ls /etc/systemd/system/multi-user.target.wants")
    assert c.run("dpkg-query", "-W", "sqlkeeper").returncode != 0 or "un" in c.sh(
        "dpkg-query -W -f='${db:Status-Abbrev}' sqlkeeper")
    # Installing again starts it again, on a fresh database.
    r = c.run("apt-get", "install", "-y", "-q", "--no-install-recommends", "/root/sqlkeeper.deb", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.show("sqlkeeper.service", "ActiveState") == "active"
    assert c.curl(SOCKET, "/health/ready")[0] == 200
    c.packaged_conf = c.path("/etc/sqlkeeper/sqlkeeper.conf").read_text()


# --- start, status, the application unit ------------------------------------------

def test_start_returns_only_after_ready(sk):
    c = sk
    # A migration that takes a while: `systemctl start` must wait for it.
    folder = migrations(c, {
        "0001_slow.sql": "CREATE TABLE slow AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
                         "LIMIT 2000000) SELECT sum(x) AS total FROM n;\n"})
    configure(c, f"migrations = {folder}\n")
    r, elapsed = timed(c, "systemctl", "start", "sqlkeeper")
    assert r.returncode == 0, r.stderr
    # One request each, no polling: everything is already there when start returns.
    assert c.curl(SOCKET, "/health/ready")[0] == 200
    assert c.sh(f"sqlite3 {DATABASE} 'SELECT total FROM slow'").strip() == str(2000000 * 2000001 // 2)
    assert c.show("sqlkeeper.service", "SubState") == "running"
    journal = c.journal(c.start_cursor, "-u", "sqlkeeper")
    assert "0001_slow.sql" in journal
    print(f"systemctl start (a 2M-row migration) took {elapsed:.2f}s")


def test_time_from_start_to_active_on_a_fresh_database(sk):
    c = sk
    r, elapsed = timed(c, "systemctl", "start", "sqlkeeper")
    assert r.returncode == 0, r.stderr
    started = int(c.show("sqlkeeper.service", "ExecMainStartTimestampMonotonic"))
    active = int(c.show("sqlkeeper.service", "ActiveEnterTimestampMonotonic"))
    assert active >= started > 0
    print(f"systemctl start -> active: {elapsed * 1000:.0f} ms (exec -> READY {(active - started) / 1000:.0f} ms)")
    assert c.curl(SOCKET, "/health")[0] == 200


def test_status_shows_the_status_line(sk):
    c = sk
    assert c.run("systemctl", "start", "sqlkeeper").returncode == 0
    status = c.run("systemctl", "status", "--no-pager", "sqlkeeper").stdout
    line = [l for l in status.splitlines() if l.strip().startswith("Status:")]
    assert line, status
    assert '"ok; db ' in line[0] and "schema 2" in line[0], line[0]


def test_app_unit_ordered_after_it_sees_the_migrated_schema_on_its_first_query(sk):
    c = sk
    # sqlkeeper is stopped and the database does not exist: starting the app pulls
    # sqlkeeper in (Requires=) and waits for its READY (After=).
    assert not c.path(DATABASE).exists()
    app_unit(c, "sk-app-first.service", f"first-query {DATABASE}",
             "Type=oneshot\nRemainAfterExit=yes\nSupplementaryGroups=sqlkeeper")
    drop_in(c, "sqlkeeper.service", "shared", (EXAMPLES / "sqlkeeper-shared-group.conf").read_text())
    configure(c, "file-mode = 0660\napp-group = sqlkeeper\n")
    r = c.run("systemctl", "start", "sk-app-first.service")
    assert r.returncode == 0, c.journal(c.start_cursor, "-u", "sk-app-first", "-u", "sqlkeeper")
    assert "first query answered: 0 rows" in c.journal(c.start_cursor, "-u", "sk-app-first")
    assert c.show("sqlkeeper.service", "ActiveState") == "active"


# --- shared access with the application -------------------------------------------

def write_continuously(c, extra, while_writing, seconds_of_writes=3.0):
    """Runs the writer (second uid) alongside sqlkeeper; calls while_writing() while
    it writes; returns its counts."""
    app_unit(c, "sk-writer.service", f"write {DATABASE} /var/lib/sk-app/result.json", extra)
    assert c.run("systemctl", "start", "sk-writer.service").returncode == 0
    count = f"sqlite3 {DATABASE} 'SELECT count(*) FROM app_writes' 2>/dev/null"
    wait_until(lambda: int(c.sh(count).strip() or 0) > 50, timeout=30, what="the application's first writes")
    # sqlkeeper works beside the writer meanwhile: its liveness probe, its
    # checkpoints (checkpoint-interval = 1s) and a reload.
    assert c.run("systemctl", "reload", "sqlkeeper").returncode == 0
    deadline = time.monotonic() + seconds_of_writes
    while time.monotonic() < deadline:
        assert c.curl(SOCKET, "/health/live")[0] == 200
        time.sleep(0.2)
    while_writing()
    # Backups while the application writes: each verifies, and stays owner-only,
    # owned by the service's user whatever file-mode says.
    for _ in range(2):
        r = c.run("curl", "-s", "-X", "POST", "--unix-socket", SOCKET, "http://localhost/backup")
        assert '"job":"backup"' in r.stdout, (r.stdout, r.stderr)
        wait_until(lambda: json.loads(c.curl(SOCKET, "/status")[1])["backups"]["activity"]["running"] is None,
                   timeout=60, what="the backup to finish")
    status = json.loads(c.curl(SOCKET, "/status")[1])
    assert status["backups"]["activity"]["last_failure"] is None, status["backups"]
    assert status["backups"]["last"]["verified"] is True
    r = c.run("sqlkeeper", "verify", "--all", "--config", "/etc/sqlkeeper/sqlkeeper.conf")
    assert r.returncode == 0 and r.stdout.count(": ok") >= 2, (r.stdout, r.stderr)
    user = c.show("sqlkeeper.service", "User") or "root"
    listing = c.sh("stat -c '%a %U %n' /var/lib/sqlkeeper/backups/app-*.db")
    for line in listing.splitlines():
        assert line.startswith(f"600 {user} "), listing
    assert c.run("systemctl", "stop", "sk-writer.service").returncode == 0
    result = json.loads(c.path("/var/lib/sk-app/result.json").read_text())
    rows = int(c.sh(count).strip())
    assert result["ok"] == rows
    return result


def test_shared_access_sqlkeeper_runs_as_the_app_user(sk):
    c = sk
    # Set-up (a): the example drop-in, with the default file-mode 0600.
    drop_in(c, "sqlkeeper.service", "as-app-user",
            (EXAMPLES / "sqlkeeper-as-app-user.conf").read_text().replace("myapp", APP_USER))
    configure(c, "checkpoint-interval = 1s\n")
    assert c.run("systemctl", "start", "sqlkeeper").returncode == 0
    assert c.sh(f"stat -c '%U %a' {DATABASE}").strip() == f"{APP_USER} 600"
    def wal_and_shm_are_the_apps():
        assert c.sh(f"stat -c '%U %a' {DATABASE}-wal {DATABASE}-shm").split() == [APP_USER, "600"] * 2

    result = write_continuously(c, "", wal_and_shm_are_the_apps)
    assert result["failed"] == 0, result
    assert result["ok"] > 100, result


def test_shared_access_through_a_shared_group(sk):
    c = sk
    # Set-up (b): the example drop-in and configuration, the app's user in the group.
    drop_in(c, "sqlkeeper.service", "shared", (EXAMPLES / "sqlkeeper-shared-group.conf").read_text())
    configure(c, "file-mode = 0660\napp-group = sqlkeeper\ncheckpoint-interval = 1s\n")
    assert c.run("systemctl", "start", "sqlkeeper").returncode == 0
    check = c.run("sqlkeeper", "check-config", "--config", "/etc/sqlkeeper/sqlkeeper.conf")
    assert check.returncode == 0 and "warning" not in check.stderr, check.stderr
    assert c.sh("stat -c '%U %G %a' /var/lib/sqlkeeper").strip() == "sqlkeeper sqlkeeper 2770"
    assert c.sh(f"stat -c '%U %G %a' {DATABASE}").strip() == "sqlkeeper sqlkeeper 660"
    def wal_and_shm_are_the_groups():
        # Whoever created them, the -wal and -shm files are the group's.
        assert c.sh(f"stat -c '%G %a' {DATABASE}-wal {DATABASE}-shm").split() == ["sqlkeeper", "660"] * 2

    result = write_continuously(c, "SupplementaryGroups=sqlkeeper\nUMask=0007", wal_and_shm_are_the_groups)
    assert result["failed"] == 0, result
    assert result["ok"] > 100, result
    # sqlkeeper's own files stay sqlkeeper's: its backup folder is owner-only.
    folder = c.sh("stat -c '%U %a' /var/lib/sqlkeeper/backups 2>/dev/null").strip()
    assert folder in ("", "sqlkeeper 700"), folder


def test_shared_group_set_up_works_as_written_on_the_database_the_first_start_made(sk):
    """A new user's path: the package's first start makes the database 0600; then the
    documented set-up (b) and a restart, with no chmod by hand: the app's user writes
    before and after a further restart, and every row is in the next backup."""
    c = sk
    assert c.run("systemctl", "start", "sqlkeeper").returncode == 0
    assert c.sh(f"stat -c '%a' {DATABASE}").strip() == "600"
    drop_in(c, "sqlkeeper.service", "shared", (EXAMPLES / "sqlkeeper-shared-group.conf").read_text())
    configure(c, "file-mode = 0660\napp-group = sqlkeeper\n")
    c.sh(f"usermod -a -G sqlkeeper {APP_USER}", check=True)
    try:
        assert c.run("systemctl", "restart", "sqlkeeper").returncode == 0
        assert c.sh(f"stat -c '%G %a' {DATABASE}").strip() == "sqlkeeper 660"
        assert f"database {DATABASE}: mode 0600 -> 0660" in c.journal(c.start_cursor, "-u", "sqlkeeper")

        def app_writes(n):
            # As the app's user, in its groups, with the umask its unit sets.
            r = c.run("setpriv", f"--reuid={APP_USER}", f"--regid={APP_USER}", "--init-groups", "/bin/sh", "-c",
                      f"umask 0007 && sqlite3 -cmd '.timeout 10000' {DATABASE} "
                      f"'CREATE TABLE IF NOT EXISTS app_rows (n INTEGER); INSERT INTO app_rows VALUES ({n})'")
            assert r.returncode == 0, r.stderr

        app_writes(1)
        assert c.run("systemctl", "restart", "sqlkeeper").returncode == 0
        app_writes(2)
        r = c.run("curl", "-s", "-X", "POST", "--unix-socket", SOCKET, "http://localhost/backup")
        assert '"job":"backup"' in r.stdout, (r.stdout, r.stderr)
        wait_until(lambda: json.loads(c.curl(SOCKET, "/status")[1])["backups"]["activity"]["running"] is None,
                   timeout=60, what="the backup to finish")
        last = json.loads(c.curl(SOCKET, "/status")[1])["backups"]["last"]
        assert last["verified"] is True, last
        assert c.sh(f"sqlite3 {last['file']} 'SELECT n FROM app_rows ORDER BY n'").split() == ["1", "2"]
    finally:
        c.sh(f"gpasswd -d {APP_USER} sqlkeeper")


def test_check_config_warns_when_the_group_cannot_share(sk):
    c = sk
    configure(c, "app-group = sqlkeeper\n")  # but the packaged file-mode 0600
    r = c.run("sqlkeeper", "check-config", "--config", "/etc/sqlkeeper/sqlkeeper.conf")
    assert r.returncode == 0
    assert "warning: file-mode 0600 gives app-group 'sqlkeeper' no read and write access" in r.stderr


# --- failures: no restart loops -------------------------------------------------------

def test_failing_migration_fails_the_unit_names_file_and_statement_and_changes_nothing(sk):
    c = sk
    folder = migrations(c, {"0001_accounts.sql": "CREATE TABLE accounts (id INTEGER PRIMARY KEY);\n"})
    configure(c, f"migrations = {folder}\n")
    assert c.run("systemctl", "start", "sqlkeeper").returncode == 0
    assert c.run("systemctl", "stop", "sqlkeeper").returncode == 0
    before = c.sh(f"sqlite3 {DATABASE} .dump")
    migrations(c, {"0002_broken.sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY);\n"
                                      "INSERT INTO accounts (id, missing_column) VALUES (1, 2);\n"})
    cursor = c.cursor()
    r = c.run("systemctl", "start", "sqlkeeper")
    assert r.returncode != 0
    assert c.show("sqlkeeper.service", "ExecMainStatus") == "65"
    journal = c.journal(cursor, "-u", "sqlkeeper", until="0002_broken.sql")
    assert "0002_broken.sql" in journal and "statement 2" in journal, journal
    assert "missing_column" in journal, journal
    assert c.sh(f"sqlite3 {DATABASE} .dump") == before
    no_restarts(c)


def test_bad_configuration_exits_78_names_the_option_and_is_not_restarted(sk):
    c = sk
    configure(c, "retention-days = -1\n")
    cursor = c.cursor()
    assert c.run("systemctl", "start", "sqlkeeper").returncode != 0
    assert c.show("sqlkeeper.service", "ExecMainStatus") == "78"
    journal = c.journal(cursor, "-u", "sqlkeeper", until="retention-days")
    assert "option 'retention-days'" in journal and "/etc/sqlkeeper/sqlkeeper.conf" in journal, journal
    no_restarts(c)


def test_journal_priority_err_shows_every_line_of_a_multi_line_error(sk):
    c = sk
    folder = migrations(c, {"0001_a.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);\n",
                            "0002_b.sql": "CREATE TABLE b (id INTEGER PRIMARY KEY);\n"})
    configure(c, f"migrations = {folder}\n")
    assert c.run("systemctl", "start", "sqlkeeper").returncode == 0
    assert c.run("systemctl", "stop", "sqlkeeper").returncode == 0
    # Both applied files edited: the refusal names one file per line.
    migrations(c, {"0001_a.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY, x);\n",
                   "0002_b.sql": "CREATE TABLE b (id INTEGER PRIMARY KEY, y);\n"})
    cursor = c.cursor()
    assert c.run("systemctl", "start", "sqlkeeper").returncode != 0
    errors = c.journal(cursor, "-u", "sqlkeeper", "-p", "err", until="0002_b.sql").splitlines()
    failed = [i for i, l in enumerate(errors) if "start-up failed" in l]
    assert failed, errors
    following = errors[failed[0] + 1:failed[0] + 3]
    assert "0001_a.sql" in following[0] and "0002_b.sql" in following[1], errors


# --- reload, stop ----------------------------------------------------------------------

def test_reload_applies_a_new_log_level(sk):
    c = sk
    configure(c, "log-level = warning\n")
    assert c.run("systemctl", "start", "sqlkeeper").returncode == 0
    assert "sqlkeeper starting" not in c.journal(c.start_cursor, "-u", "sqlkeeper")  # info is off
    configure(c, "log-level = info\n")
    assert c.run("systemctl", "reload", "sqlkeeper").returncode == 0
    c.journal(c.start_cursor, "-u", "sqlkeeper", until="configuration reloaded")
    wait_until(lambda: c.show("sqlkeeper.service", "SubState") == "running", timeout=10, what="running again")


def test_stop_is_clean_and_removes_the_socket(sk):
    c = sk
    assert c.run("systemctl", "start", "sqlkeeper").returncode == 0
    assert c.is_socket(SOCKET)
    assert c.run("systemctl", "stop", "sqlkeeper").returncode == 0
    assert c.show("sqlkeeper.service", "ExecMainStatus") == "0"
    assert c.show("sqlkeeper.service", "Result") == "success"
    assert not c.exists(SOCKET)


# --- the watchdog and a start that hangs ---------------------------------------------

def test_watchdog_kills_and_restarts_a_stopped_daemon(sk):
    c = sk
    drop_in(c, "sqlkeeper.service", "fast", "[Service]\nWatchdogSec=2s\nTimeoutStopSec=3s\nRestartSec=100ms\n")
    assert c.run("systemctl", "start", "sqlkeeper").returncode == 0
    first = c.show("sqlkeeper.service", "MainPID")
    t0 = time.monotonic()
    c.sh(f"kill -STOP {first}", check=True)
    wait_until(lambda: c.show("sqlkeeper.service", "NRestarts") == "1"
               and c.show("sqlkeeper.service", "ActiveState") == "active", timeout=20, what="the restart")
    elapsed = time.monotonic() - t0
    assert c.show("sqlkeeper.service", "MainPID") != first
    # WatchdogSec plus a margin for the restart and its start-up.
    assert elapsed < 2 + 4, elapsed
    c.journal(c.start_cursor, "-u", "sqlkeeper", until="Watchdog timeout")
    assert c.curl(SOCKET, "/health")[0] == 200
    print(f"SIGSTOP -> restarted and active: {elapsed:.2f}s (WatchdogSec=2s)")


def test_start_that_waits_on_the_apps_lock_ends_within_timeout_start_sec(sk):
    c = sk
    assert c.run("systemctl", "start", "sqlkeeper").returncode == 0
    assert c.run("systemctl", "stop", "sqlkeeper").returncode == 0
    # A pending migration now needs the write lock the application holds. sqlkeeper
    # would wait a minute for it; systemd must end the start after TimeoutStartSec.
    folder = migrations(c, {name: (SOURCE_DIR / "migrations" / name).read_text()
                            for name in ("0001_users_and_sessions.sql", "0002_categories_and_expenses.sql")})
    migrations(c, {"0003_tags.sql": "CREATE TABLE tags (id INTEGER PRIMARY KEY);\n"})
    configure(c, f"migrations = {folder}\nbusy-timeout = 60s\n")
    drop_in(c, "sqlkeeper.service", "fast", "[Service]\nTimeoutStartSec=4s\nTimeoutStopSec=3s\nRestart=no\n")
    app_unit(c, "sk-lock.service", f"hold-lock {DATABASE} /var/lib/sk-app/held", user="root", ordered=False)
    c.sh("systemctl start sk-lock.service", check=True)
    wait_until(lambda: c.path("/var/lib/sk-app/held").exists(), timeout=10, what="the app's lock")
    r, elapsed = timed(c, "systemctl", "start", "sqlkeeper")
    assert r.returncode != 0
    assert elapsed < 4 + 4, elapsed  # TimeoutStartSec plus the stop's margin
    assert c.show("sqlkeeper.service", "ActiveState") == "failed"
    assert c.show("sqlkeeper.service", "Result") in ("timeout", "exit-code"), c.show("sqlkeeper.service", "Result")
    c.sh("systemctl stop sk-lock.service")
    print(f"start waiting on the app's lock ended after {elapsed:.2f}s (TimeoutStartSec=4s)")


# --- socket activation, the template ------------------------------------------------------

def test_socket_activation_reaches_the_service_and_the_socket_survives_its_stop(sk):
    c = sk
    assert c.run("systemctl", "start", "sqlkeeper.socket").returncode == 0
    assert c.show("sqlkeeper.service", "ActiveState") == "inactive"
    assert c.is_socket(SOCKET)
    # The connection starts the service, which answers it (503 while it migrates).
    status, body = c.curl(SOCKET, "/health/ready")
    assert status in (200, 503), body
    wait_until(lambda: c.curl(SOCKET, "/health/ready")[0] == 200, timeout=20, what="ready")
    assert c.show("sqlkeeper.service", "ActiveState") == "active"
    assert "TriggeredBy" in c.sh("systemctl status --no-pager sqlkeeper.service")
    # Stopping the service must not take the socket unit's socket with it.
    assert c.run("systemctl", "stop", "sqlkeeper.service").returncode == 0
    assert c.is_socket(SOCKET)
    assert c.curl(SOCKET, "/health/live")[0] == 200
    assert c.show("sqlkeeper.service", "ActiveState") == "active"


def test_template_runs_two_instances_side_by_side(sk):
    c = sk
    for name in ("alpha", "beta"):
        c.write(f"/etc/sqlkeeper/{name}.conf", f"database = /var/lib/sqlkeeper/{name}/app.db\n"
                                               f"backup-dir = /var/lib/sqlkeeper/{name}/backups\n"
                                               f"socket = /run/sqlkeeper/{name}/sqlkeeper.sock\n")
    try:
        r = c.run("systemctl", "start", "sqlkeeper@alpha", "sqlkeeper@beta")
        assert r.returncode == 0, c.journal(c.start_cursor, "-u", "sqlkeeper@alpha", "-u", "sqlkeeper@beta")
        for name in ("alpha", "beta"):
            status, body = c.curl(f"/run/sqlkeeper/{name}/sqlkeeper.sock", "/status")
            assert status == 200, body
            assert json.loads(body)["database"]["path"] == f"/var/lib/sqlkeeper/{name}/app.db"
        assert c.run("systemctl", "stop", "sqlkeeper@alpha").returncode == 0
        assert c.curl("/run/sqlkeeper/beta/sqlkeeper.sock", "/health")[0] == 200
        # Socket activation of an instance through sqlkeeper@.socket.
        assert c.run("systemctl", "start", "sqlkeeper@alpha.socket").returncode == 0
        assert c.curl("/run/sqlkeeper/alpha/sqlkeeper.sock", "/health/live")[0] == 200
        assert c.show("sqlkeeper@alpha.service", "ActiveState") == "active"
    finally:
        c.sh("rm -f /etc/sqlkeeper/alpha.conf /etc/sqlkeeper/beta.conf")
