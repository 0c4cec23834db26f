"""The schedule, retention and post-backup-command in the running daemon, end to
end: backups every `backup-interval` under a writer, pruned to exactly what the
policy keeps (computed here independently, from the documented rules); a nightly
backup missed while the daemon was down is caught up once after READY and not
again after a restart; `prune --dry-run` and `prune`; post-backup-command gets the
new file as one argument, and its failure or timeout makes /health degraded with
the reason; DATABASE_PATH names the database."""
import datetime as dt
import json
import os
import shutil
import time

import pytest

from conftest import NO_ARCHIVE, Daemon, http_request, run_cli, start_writer, stop_writer, wait_until, wait_for_time

UTC = dt.timezone.utc
NAME_TIME = "%Y%m%dT%H%M%SZ"


def cli(d, *args, env=None):
    return run_cli(*args, "--database", d.database, "--backup-dir", d.backups, "--migrations", d.migrations,
                   env=env)


def real_backup(d):
    """A verified backup taken by the CLI (before the daemon runs), as a template."""
    r = cli(d, "migrate", "up")
    assert r.returncode == 0, r.stderr
    r = cli(d, "backup", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def seed(d, template, at, label=""):
    """A copy of a real verified backup, named and described as taken at `at`."""
    name = f"app-{at.strftime(NAME_TIME)}{'-' + label if label else ''}.db"
    shutil.copyfile(template["file"], d.backups / name)
    os.chmod(d.backups / name, 0o600)
    lines = open(template["sidecar"]).read().splitlines()
    lines[0] = f"{template['sha256']}  {name}"
    lines = [f"# label: {label}" if l.startswith("# label:") else
             f"# time: {int(at.timestamp())}" if l.startswith("# time:") else l for l in lines]
    (d.backups / (name + ".sha256")).write_text("\n".join(lines) + "\n")
    return name


def listing(d):
    r = cli(d, "backups", "--json", "--no-checksum")
    return json.loads(r.stdout)


def backup_time(name):
    return dt.datetime.strptime(name.split("-")[1][:16], NAME_TIME).replace(tzinfo=UTC)


def expected_kept(names, days, min_count, weekly, monthly, keep_pre):
    """The documented policy, written again from docs/operations.md, in UTC (the
    tests run the daemon with TZ=UTC). All backups here are verified."""
    regular = sorted((n for n in names if n.count("-") == 1), key=backup_time, reverse=True)
    labelled = sorted((n for n in names if n.count("-") > 1), key=backup_time, reverse=True)
    keep = set(regular[:min_count]) | set(labelled[:keep_pre])
    newest = backup_time(regular[0])
    recent_days = []
    for n in regular:
        day = backup_time(n).date()
        if day not in recent_days:
            if len(recent_days) >= days:
                break
            recent_days.append(day)
    for n in regular:
        t = backup_time(n)
        if t > newest - dt.timedelta(days=days) or t.date() in recent_days:
            keep.add(n)
    for count, bucket in ((weekly, lambda t: t.isocalendar()[:2]), (monthly, lambda t: (t.year, t.month))):
        seen = []
        for n in regular:
            b = bucket(backup_time(n))
            if b not in seen and len(seen) < count:
                seen.append(b)
                keep.add(n)
    return keep


def test_interval_backups_under_a_writer_are_pruned_to_exactly_the_policy(daemon_factory):
    settings = {"retention-days": 3, "retention-min-count": 2, "keep-weekly": 3, "keep-monthly": 2,
                "keep-pre-migration": 2}
    args = ["--backup-interval", "2s"] + [a for k, v in settings.items() for a in (f"--{k}", str(v))]
    d = daemon_factory(extra_args=args, env={"TZ": "UTC"})
    template = real_backup(d)
    (d.backups / "notes.txt").write_text("someone else's file")
    now = dt.datetime.now(UTC).replace(microsecond=0)
    # Forty nightly backups before today, and four pre-migration copies.
    seeded = [seed(d, template, now.replace(hour=3, minute=0, second=0) - dt.timedelta(days=i))
              for i in range(1, 41)]
    seeded += [seed(d, template, now - dt.timedelta(hours=i), "pre-migration") for i in range(1, 5)]
    os.remove(template["file"])
    os.remove(template["sidecar"])

    d.start().wait_ready()
    writer = start_writer(d.database)
    try:
        # Backups every 2 s, each pruning the folder: run for five of them.
        wait_until(lambda: d.get_json("/status")[1]["backups"]["activity"]["failures_total"] == 0 and
                   len([b for b in listing(d)["backups"] if b["time"] >= now.strftime("%Y-%m-%dT%H:%M:%SZ")]) >= 5,
                   60, what="five interval backups")
    finally:
        summary = stop_writer(writer)
    assert summary["failures"] == []
    d.stop()

    result = listing(d)
    names = [os.path.basename(b["file"]) for b in result["backups"]]
    assert all(b["verified"] and b["finished"] for b in result["backups"]), result
    assert [os.path.basename(f) for f in result["foreign"]] == ["notes.txt"]
    assert result["temporaries"] == []
    # What the daemon left is what the policy keeps of itself: pruning again deletes nothing...
    r = cli(d, "prune", "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    assert [b["file"] for b in json.loads(r.stdout)["backups"] if not b["keep"]] == []
    # ...and equals the policy computed here from all the backups that ever existed.
    new = [n for n in names if n not in seeded]
    assert len(new) >= 5
    assert set(names) == expected_kept(seeded + new, 3, 2, 3, 2, 2), "\n".join(sorted(names))
    # Every one of them verifies.
    r = cli(d, "verify", "--all")
    assert r.returncode == 0, r.stdout + r.stderr
    print(cli(d, "backups").stdout)


def test_a_missed_night_is_caught_up_once_after_ready_and_not_after_a_restart(daemon_factory):
    d = daemon_factory(env={"TZ": "UTC"}, extra_args=["--backup-at", "00:00", *NO_ARCHIVE])
    template = real_backup(d)
    seed(d, template, dt.datetime.now(UTC) - dt.timedelta(days=3))
    os.remove(template["file"])
    os.remove(template["sidecar"])
    d.start().wait_ready()
    wait_until(lambda: len(listing(d)["backups"]) == 2, 30, what="the catch-up backup")
    assert "catch-up" in d.output()
    status = d.get_json("/status")[1]["backups"]["schedule"]
    tomorrow = (dt.datetime.now(UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
    wait_until(lambda: d.get_json("/status")[1]["backups"]["schedule"]["next"] == tomorrow, 10,
               what=f"the next backup at {tomorrow}: {status}")
    assert "; next " + tomorrow[:10] in d.notify.all("STATUS")[-1][1]
    d.stop()

    # The same daemon again: the backup it just took is last night's.
    os.unlink(d.workdir / "notify.sock")
    again = Daemon(d.workdir, env={"TZ": "UTC"}, extra_args=["--backup-at", "00:00", *NO_ARCHIVE])
    try:
        again.start().wait_ready()
        assert again.get_json("/status")[1]["backups"]["schedule"]["next"] == tomorrow

        def still_two():
            assert len(listing(d)["backups"]) == 2, "a second backup after the restart"
        wait_for_time(3, still_two, what="no second backup")
    finally:
        again.stop()


def test_prune_dry_run_lists_each_rule_and_prune_deletes_only_those(daemon_factory, tmp_path):
    d = daemon_factory()
    template = real_backup(d)
    now = dt.datetime.now(UTC)
    old = [seed(d, template, now - dt.timedelta(days=40 + i)) for i in range(3)]
    (d.backups / "app-20200101T000000Z.db.partial").write_text("not ours")
    flags = ["--retention-min-count", "1", "--retention-days", "2"]
    r = cli(d, "prune", "--dry-run", *flags)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    rule = {l.split()[1 if l.startswith("keep") else 2]: l for l in lines if l.startswith(("keep ", "would delete "))}
    assert "retention-min-count: verified backup 1 of the newest 1" in rule[os.path.basename(template["file"])]
    # Forty days old, but on one of the newest two days that have a backup: kept.
    assert "retention-days: on one of the newest 2 days with a verified backup" in rule[old[0]]
    for name in old[1:]:
        assert " ".join(rule[name].split()).startswith(f"would delete {name} older than retention-days"), rule[name]
    assert "not a backup (left alone): app-20200101T000000Z.db.partial" in lines
    assert lines[-1] == "would delete 2 backups, keeping 2"
    assert all((d.backups / n).exists() for n in old)
    r = cli(d, "prune", *flags)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "deleted 2 backups, keeping 2"
    assert not any((d.backups / n).exists() or (d.backups / (n + ".sha256")).exists() for n in old[1:])
    assert (d.backups / old[0]).exists() and os.path.exists(template["file"])
    assert (d.backups / "app-20200101T000000Z.db.partial").exists()


def write_script(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_post_backup_command_gets_the_new_file_as_one_argument(daemon_factory, tmp_path):
    offsite = tmp_path / "offsite"
    offsite.mkdir()
    script = write_script(tmp_path / "copy offsite.sh",
                          'printf "%s\\n" "$#" "$1" "$2" "$SQLKEEPER_BACKUP_FILE" > "$OFFSITE/args"\n'
                          'cp "$1" "$OFFSITE/"\necho "copied $1"\n')
    d = daemon_factory(extra_args=["--post-backup-command", f"'{script}' %f --flag"],
                       env={"OFFSITE": str(offsite)})
    d.start().wait_ready()
    from test_daemon_backup import post
    status, body = post(d, "/backup")
    assert status == 202
    wait_until(lambda: (d.get_json("/status")[1]["backups"]["schedule"]["post_backup_command"] or {})
               .get("runs_total") == 1, 30, what="post-backup-command to run")
    pb = d.get_json("/status")[1]["backups"]["schedule"]["post_backup_command"]
    backup = d.get_json("/status")[1]["backups"]["last"]["file"]
    assert pb["last_ok"] and pb["last_outcome"] == "exit status 0" and pb["file"] == backup, pb
    assert pb["last_output"] == [f"copied {backup}"]
    assert (offsite / "args").read_text().splitlines() == ["2", backup, "--flag", backup]
    assert (offsite / os.path.basename(backup)).read_bytes() == open(backup, "rb").read()
    assert "post_backup" not in d.get_json("/health")[1].get("checks", {})


def test_a_failing_or_hanging_post_backup_command_is_degraded_with_the_reason(daemon_factory, tmp_path):
    from test_daemon_backup import post
    script = write_script(tmp_path / "fail.sh", 'echo "uploading $1"\necho "remote: no such bucket" >&2\nexit 3\n')
    d = daemon_factory(extra_args=["--post-backup-command", str(script)])
    d.start().wait_ready()
    post(d, "/backup")
    wait_until(lambda: "post_backup" in d.get_json("/health")[1].get("checks", {}), 30,
               what="health to report the failure")
    check = d.get_json("/health")[1]["checks"]["post_backup"]
    assert check["status"] == "degraded"
    assert "exit status 3" in check["detail"] and "remote: no such bucket" in check["detail"], check
    assert "post-backup-command FAILED" in d.notify.all("STATUS")[-1][1]
    d.stop()

    hang = write_script(tmp_path / "hang.sh", "echo started\nexec tail -f /dev/null\n")  # blocks until killed
    d2 = daemon_factory(extra_args=["--post-backup-command", str(hang), "--post-backup-timeout", "1s"])
    d2.start().wait_ready()
    started = time.monotonic()
    post(d2, "/backup")
    wait_until(lambda: "post_backup" in d2.get_json("/health")[1].get("checks", {}), 30,
               what="the timeout to be reported")
    assert time.monotonic() - started < 15
    detail = d2.get_json("/health")[1]["checks"]["post_backup"]["detail"]
    assert "timed out after 1s" in detail and "signal 15" in detail, detail
    # The daemon serves on, and stops promptly.
    assert d2.get("/health/live")[0] == 200


def test_database_path_from_the_applications_environment(tmp_path):
    db = tmp_path / "app" / "data.db"
    r = run_cli("check-config", env={"DATABASE_PATH": str(db)})
    assert r.returncode == 0, r.stderr
    line = next(l for l in r.stdout.splitlines() if l.startswith("database "))
    assert str(db) in line and "# env DATABASE_PATH" in line
    r = run_cli("check-config", env={"DATABASE_PATH": str(db), "SQLKEEPER_DATABASE": "/x.db"})
    line = next(l for l in r.stdout.splitlines() if l.startswith("database "))
    assert "/x.db" in line and "SQLKEEPER_DATABASE" in line


LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


@pytest.mark.skipif(not os.path.exists(LIBFAKETIME), reason="libfaketime is not installed (scripts/dev.sh installs it)")
def test_the_wall_clock_moved_by_days_and_a_year_under_the_running_daemon(daemon_factory, tmp_path):
    """The daemon's wall clock (libfaketime, re-read on every call; its steady clock
    stays real) jumps a year forward, a year back, then three days back while it
    takes interval backups: backups go on within seconds of each jump, a year
    forward deletes at most one day of backups, and a clock behind the newest
    backup deletes nothing."""
    clock = tmp_path / "clock"
    clock.write_text("+0d\n")
    env = {"TZ": "UTC", "LD_PRELOAD": LIBFAKETIME, "FAKETIME_TIMESTAMP_FILE": str(clock), "FAKETIME_NO_CACHE": "1",
           "DONT_FAKE_MONOTONIC": "1",
           # An ASan build wants its runtime first; libfaketime only wraps the clock calls.
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    d = daemon_factory(extra_args=["--backup-interval", "2s", "--retention-days", "30", "--retention-min-count", "7"],
                       env=env)
    template = real_backup(d)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    # A backup on each of the last 29 nights: all within 30 days, nothing to prune yet.
    seeded = [seed(d, template, now.replace(hour=3, minute=0, second=0) - dt.timedelta(days=i)) for i in range(1, 30)]
    os.remove(template["file"])
    os.remove(template["sidecar"])
    d.start().wait_ready()

    def names():
        return {os.path.basename(b["file"]) for b in listing(d)["backups"]}

    def backups_dated(day):
        return {n for n in names() if backup_time(n).date() == day}

    def jump(offset, expect_day):
        clock.write_text(offset + "\n")
        wait_until(lambda: len(backups_dated(expect_day)) >= 2, 20, interval=0.2,
                   what=f"two backups dated {expect_day} after moving the clock {offset}")

    wait_until(lambda: len(backups_dated(now.date())) >= 2, 20, interval=0.2, what="two backups today")
    assert set(seeded) <= names(), "pruned with the clock right and every backup within 30 days"

    # A year forward: the newest 30 days that have backups are now next year's
    # day, today and the 28 nights before it; only the oldest night goes.
    jump("+365d", (now + dt.timedelta(days=365)).date())
    wait_until(lambda: seeded[-1] not in names(), 20, interval=0.2, what="the oldest night to be pruned")
    gone = set(seeded) - names()
    assert gone == {seeded[-1]}, sorted(gone)
    assert backups_dated(now.date()), "today's backups went with the clock a year ahead"

    # A year back: the clock is behind the newest backup; backups go on, nothing is deleted.
    before = names()
    jump("+0d", now.date())
    taken_back = len(backups_dated(now.date()))
    wait_until(lambda: len(backups_dated(now.date())) >= taken_back + 3, 20, interval=0.2,
               what="interval backups to go on with the clock back")
    assert before <= names(), sorted(before - names())

    # Three days back: the same.
    three_back = (now - dt.timedelta(days=3)).date()
    jump("-3d", three_back)
    assert before <= names(), sorted(before - names())
    schedule = d.get_json("/status")[1]["backups"]["schedule"]
    assert schedule["failures_since_success"] == 0, schedule
    # The prune after the year forward deleted the oldest night; with the clock back,
    # next year's backups are set aside as stamped in the future (named in /health)
    # and hold nothing, and nothing else is old enough to go.
    assert schedule["prune"]["deleted_total"] == 1 and not schedule["prune"]["held"], schedule
    assert "stamped in the future" in d.get_json("/health")[1]["checks"]["backup_files"]["detail"]
    assert d.get_json("/status")[1]["backups"]["activity"]["failures_total"] == 0
    r = cli(d, "verify", "--all")
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_daemons_prune_names_damaged_backups_in_health_and_keeps_the_good_ones(daemon_factory):
    """Items 3 and 5 in the daemon: after its backup, prune re-hashes what it counts;
    a newer backup that no longer matches its sidecar is named in /health, kept,
    and the last backup in /status is the newest good one."""
    d = daemon_factory(extra_args=["--retention-days", "1", "--retention-min-count", "3"])
    template = real_backup(d)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    good = [seed(d, template, now - dt.timedelta(days=10 + i)) for i in range(3)]
    bad = seed(d, template, now - dt.timedelta(hours=1))
    with open(d.backups / bad, "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.remove(template["file"])
    os.remove(template["sidecar"])
    d.start().wait_ready()
    status, _, _ = http_request(d.socket, "POST", "/backup", timeout=30)
    assert status == 202
    wait_until(lambda: "backup_files" in d.get_json("/health")[1].get("checks", {}), 30, interval=0.1,
               what="prune to find the damaged backup")
    check = d.get_json("/health")[1]["checks"]["backup_files"]
    assert check["status"] == "degraded" and f"{bad} is damaged: checksum mismatch" in check["detail"], check
    # min-count 3: the daemon's new backup and the two newest good ones; the damaged one is not counted, and stays
    assert all((d.backups / n).exists() for n in good[:2] + [bad]) and not (d.backups / good[2]).exists()
    last = d.get_json("/status")[1]["backups"]["last"]
    assert last["verified"] is True and os.path.basename(last["file"]) not in good + [bad], last


def test_a_backup_stamped_in_the_future_is_named_in_health_and_nightly_only_takes_one_at_once(daemon_factory):
    """Item 8: the clock ran five years ahead for a backup. Nightly only, the daemon
    takes a backup at once (as the docs say), and /health names the future one."""
    d = daemon_factory()
    template = real_backup(d)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    future = seed(d, template, now + dt.timedelta(days=5 * 365))
    os.remove(template["file"])
    os.remove(template["sidecar"])
    d.start().wait_ready()
    wait_until(lambda: any(backup_time(os.path.basename(b["file"])).date() == now.date()
                           for b in listing(d)["backups"]), 30, interval=0.2, what="a backup at once")
    check = d.get_json("/health")[1]["checks"]["backup_files"]
    assert check["status"] == "degraded" and f"{future} is stamped in the future" in check["detail"], check
    assert (d.backups / future).exists()
