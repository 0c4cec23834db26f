#!/usr/bin/env python3
"""Runs the reliability tests and writes docs/reliability.md from their results:
each fault or attack, how it is tested, how many runs or iterations, and the
outcome, so the page says only what the tests just showed.

    /usr/bin/python3 scripts/reliability_report.py [BUILD_DIR=build]

It needs a build (scripts/dev.sh build) and root for the tests that mount a
small tmpfs or switch to a second uid (they are reported as skipped otherwise).
"""
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build").resolve()

# (area, what is done, test id, unit of the count, result when it passes)
ROWS = [
    ("crash", "SIGKILL of the daemon at random moments (migration, checkpoint, backup, verification, pruning), "
              "and of `sqlkeeper backup` and `restore --to`, with a writer in another process",
     "integration/test_crash_loop.py::test_sigkill_at_random_moments_loses_nothing", "crash_loop",
     "every committed row there, integrity_check ok, each migration whole or absent, no temporary survives a "
     "restart, every listed backup verifies"),
    ("I/O faults", "EIO and ENOSPC at the Nth fsync, directory fsync, rename or atomic write of a backup, "
                   "for every N", "unit:FaultSweep.BackupKeepsTheOlderOneAndLeavesNothingAtEveryFault",
     "faulted_runs", "an error naming the operation; the older backup kept and verified; nothing half-made listed"),
    ("I/O faults", "EIO and ENOSPC when pruning makes its deletions durable",
     "unit:FaultSweep.PruneReportsAFaultAndKeepsWhatThePolicyKeeps", "faulted_runs",
     "an error; the backups the policy keeps are whole"),
    ("I/O faults", "a fault at every operation of saving the replaced content before an in-place restore",
     "unit:FaultSweep.InPlaceRestoreTouchesNothingWhenSavingTheReplacedContentFails", "faulted_runs",
     "an error; the live database untouched"),
    ("I/O faults", "inside SQLite's own I/O (a VFS shim): EIO, ENOSPC and short writes at the Nth read, write, "
                   "sync or truncate of the live database or the copy, for every N, both ways of copying",
     "unit:SqliteFaultSweep.BackupEndsInAnErrorAndKeepsTheOlderOneAtEveryFault", "faulted_runs",
     "an error, or (for a fault SQLite absorbed) a backup equal to its source; the older backup kept; the live "
     "database whole"),
    ("I/O faults", "EIO, ENOSPC and short writes at every write, sync or truncate of a page-by-page copy",
     "unit:SqliteFaultSweep.AFaultWritingThePageCopyIsAlwaysReported", "faulted_runs",
     "always an error; nothing listed"),
    ("I/O faults", "EIO at every read of a backup being verified",
     "unit:SqliteFaultSweep.VerifyNeverCallsABackupItCouldNotReadOk", "faulted_runs", "never called ok"),
    ("I/O faults", "EIO, ENOSPC and short writes at every I/O of an in-place restore (live database, journal, "
                   "WAL, the pre-restore copy)",
     "unit:SqliteFaultSweep.InPlaceRestoreLeavesTheOldOrTheRestoredContentAndLosesNeither", "faulted_runs",
     "the live database whole, old or restored; the old content live or kept as a verified pre-restore backup"),
    ("I/O faults", "the same at every I/O of `restore --to`",
     "unit:SqliteFaultSweep.RestoreToANewFileLeavesNothingThereAfterAFault", "faulted_runs",
     "an error and no file left at the target"),
    ("I/O faults", "EIO, ENOSPC and short writes at every I/O of three migrations",
     "unit:SqliteFaultSweep.AMigrationIsAppliedWholeOrNotAtAllAtEveryFault", "faulted_runs",
     "each migration whole and recorded, or absent"),
    ("power loss", "the power cut at every step of backup, backup, prune, backup; the folder rebuilt with only "
                   "synced bytes and names, and with names but unsynced bytes lost",
     "unit:PowerLoss.EveryBackupReportedDoneSurvivesACutAtEveryStep", "power_cuts",
     "every backup reported done listed and verified; no listed backup fails; the next backup succeeds"),
    ("full disk", "a backup volume too small for the copy (a real tmpfs), then read-only",
     "integration/test_backup_cli.py::test_a_full_backup_volume_refuses_the_backup_and_keeps_the_old_ones", None,
     "refused with the reason; old backups intact"),
    ("full disk", "the daemon's backup failing on a full volume",
     "integration/test_daemon_backup.py::test_a_failed_backup_is_reported_keeps_the_old_ones_and_the_daemon_serves_on",
     None, "reported in /health; old backups kept; the daemon serves on"),
    ("full disk", "the database's own volume filled up (a real tmpfs)",
     "integration/test_daemon_checks.py::test_a_full_database_volume_is_failing_and_named", None,
     "/health failing, naming the volume"),
    ("damaged input", "a backup with flipped bytes, and one with a wrong checksum",
     "integration/test_backup_cli.py::test_verify_names_a_damaged_backup_and_why", None,
     "verify names the file and why"),
    ("damaged input", "restore of a damaged backup",
     "integration/test_backup_cli.py::test_a_damaged_backup_is_refused_before_anything_is_touched", None,
     "refused before anything is touched"),
    ("damaged input", "20 pages overwritten in the middle of the live database",
     "integration/test_daemon_checks.py::test_quick_check_finds_damage_past_the_first_page", None,
     "/health failing with SQLite's first error"),
    ("damaged input", "the database deleted under the running daemon",
     "integration/test_daemon_damage.py::test_a_deleted_database_is_failing_within_the_probe_interval_and_not_made_again",
     None, "/health failing within the 5 s probe interval; a backup fails and makes no empty database"),
    ("damaged input", "the database missing at start with backups of it in the folder (deleted, or its volume "
                      "not mounted)",
     "integration/test_daemon_damage.py::test_a_missing_database_with_backups_beside_it_is_not_made_again_empty",
     None, "start-up refused, naming the restore that puts it back; no empty database made"),
    ("damaged input", "the database replaced (a copy renamed over it) under the running daemon",
     "integration/test_daemon_damage.py::test_a_database_replaced_under_the_daemon_is_failing_and_named", None,
     "/health failing within the probe interval, naming both inodes"),
    ("damaged input", "the database made unreadable (the daemon as a second uid)",
     "integration/test_daemon_damage.py::test_a_database_made_unreadable_is_failing_within_the_probe_interval_and_recovers",
     None, "/health failing within the probe interval; ok again when readable"),
    ("damaged input", "the WAL cut mid-frame after its writer crashed",
     "integration/test_daemon_damage.py::test_a_wal_cut_short_after_a_writer_crashed_keeps_a_whole_prefix_and_backs_up",
     None, "integrity_check ok, the commits before the cut all there; the next backup equals it"),
    ("damaged input", "the live database with flipped bytes, then a backup asked for",
     "integration/test_daemon_damage.py::test_a_database_with_flipped_bytes_never_gets_a_backup_in_place_of_a_good_one",
     None, "the backup fails its integrity check; only the good one listed"),
    ("clock", "the running daemon's wall clock moved a year forward, a year back, three days back (libfaketime)",
     "integration/test_schedule.py::test_the_wall_clock_moved_by_days_and_a_year_under_the_running_daemon", None,
     "backups go on within seconds of each jump; a year forward deletes one night; a clock behind deletes nothing"),
    ("clock", "the clock moved back behind the last backup, the daemon's loop simulated",
     "unit:NextBackup.AClockMovedBackBehindTheLastBackupNeverStallsIntervalsOrRetries", None,
     "intervals every interval; retries after their back-off"),
    ("clock", "wall clock a year back and a year forward: the schedule",
     "unit:Schedule/NextBackupTable.Case/clock_back_a_year__the_next_night__not_a_year_on", None,
     "the next night, not a year on; one catch-up forward"),
    ("clock", "wall clock a year forward, then back: retention",
     "unit:Retention.ClockJumpedForwardAYearDeletesNoMoreThanADay", None, "at most one day's backups deleted"),
    ("clock", "the clock behind the newest backup", "unit:Retention.ClockBehindTheNewestBackupHoldsEverything",
     None, "nothing deleted"),
    ("hostile client", "floods of short header lines (3 × 32 MB)",
     "integration/test_http_hostile.py::test_floods_of_short_header_lines_get_431_and_memory_stays_flat", None,
     "431, memory flat"),
    ("hostile client", "more than 100 header fields",
     "integration/test_http_hostile.py::test_more_than_100_header_fields_get_431", None, "431"),
    ("hostile client", "every other socket abuse in tests/integration/test_http_hostile.py (idle and slow "
                       "connections, lying Content-Length, pipelined garbage, half-closed, 10,000 connections)",
     "integration/test_http_hostile.py", None, "other clients answered; memory and descriptors bounded"),
    ("hostile files", "FIFOs, devices, symlink loops, oversize files and forged names in the migration folder",
     "integration/test_migrate_hostile.py", None, "refused naming the file; nothing applied"),
    ("hostile files", "links planted at the next backups' names, their sidecars and temporaries, and at "
                      "`restore --to`'s target",
     "integration/test_files_hostile.py::test_links_planted_at_backup_sidecar_and_temporary_paths_are_not_followed",
     None, "never followed; listed as foreign; what they point at untouched"),
    ("modes", "database, WAL, shm, socket, backup folder, backups and sidecars under umask 0",
     "integration/test_files_hostile.py::test_every_file_has_its_mode_under_umask_0", None,
     "file-mode, socket-mode, 0700 and 0600 as specified"),
    ("authorization", "POST /backup and /checkpoint from a second uid",
     "integration/test_daemon_backup.py::test_only_root_the_daemons_user_and_admin_group_may_post", None, "403"),
    ("stop", "SIGTERM during a long copy, a long migration statement and a lock wait",
     "integration/test_daemon_stop.py", None, "gone within the stop timeout; no temporary listed"),
]


def run_unit(out_json):
    subprocess.run([str(BUILD / "tests" / "sqlkeeper_unit_tests"),
                    "--gtest_filter=FaultSweep.*:SqliteFaultSweep.*:PowerLoss.*:NextBackup.*:Retention.*:Schedule/*", f"--gtest_output=json:{out_json}"],
                   check=False, stdout=subprocess.DEVNULL)
    results = {}
    for suite in json.loads(Path(out_json).read_text())["testsuites"]:
        for t in suite["testsuite"]:
            results[f"unit:{suite['name']}.{t['name']}"] = {
                "status": "failed" if t.get("failures") else "passed", "props": t}
    return results


def run_integration(junit, log):
    files = sorted({r[2].split("::")[0] for r in ROWS if r[2].startswith("integration/")})
    env = dict(os.environ, SK_BIN=str(BUILD / "sqlkeeper"), SK_SOURCE_DIR=str(ROOT), SK_RELIABILITY_LOG=str(log))
    subprocess.run(["/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
                    *[str(ROOT / "tests" / f) for f in files]], env=env, check=False)
    results = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        file = case.get("classname").replace(".", "/").split("integration/", 1)[-1]
        key = f"integration/{file.split('/')[-1]}.py::{case.get('name')}"
        status = "failed" if case.find("failure") is not None or case.find("error") is not None else \
            "skipped" if case.find("skipped") is not None else "passed"
        results[key] = {"status": status}
    return results


def outcome(test, results):
    if test in results:
        return [results[test]["status"]]
    # A whole file: every test in it.
    return [r["status"] for k, r in results.items() if k.startswith(test + "::")]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "figures.jsonl"
        log.touch()
        results = run_unit(Path(tmp) / "unit.json")
        results.update(run_integration(Path(tmp) / "junit.xml", log))
        figures = {}
        for line in log.read_text().splitlines():
            f = json.loads(line)
            figures[f["test"]] = f
    lines = ["# Reliability and security: what is tested, and what it showed", "",
             f"Generated by `scripts/reliability_report.py` on {datetime.date.today()} ({platform.node()}, "
             f"{'root' if os.geteuid() == 0 else 'not root: tests needing root were skipped'}) from the test "
             "results of that run; do not edit by hand. Run it again after a change to any of these tests.", "",
             "| area | what is done | test | runs | result |", "| --- | --- | --- | --- | --- |"]
    all_passed = True
    for area, what, test, unit, expected in ROWS:
        statuses = outcome(test, results)
        passed = bool(statuses) and all(s == "passed" for s in statuses)
        all_passed &= passed or all(s == "skipped" for s in statuses)
        runs = f"{len(statuses)} tests" if len(statuses) > 1 else "1 test"
        if unit == "crash_loop" and "crash_loop" in figures:
            f = figures["crash_loop"]
            runs = (f"{f['kills']['daemon']} daemon kills, {f['kills']['backup']} backup and "
                    f"{f['kills']['restore']} restore kills, {f['rows_committed']} rows written, "
                    f"{f['migrations_added']} migrations, {f['seconds']} s")
        elif unit in ("faulted_runs", "power_cuts"):
            props = results.get(test, {}).get("props", {})
            if unit in props:
                runs = f"{props[unit]} {unit.replace('_', ' ')}"
        status = ", ".join(sorted(set(statuses))) or "not run"
        result = expected if passed else f"**{status}**"
        lines.append(f"| {area} | {what} | `{test.replace('unit:', 'tests/unit: ')}` | {runs} | {result} |")
    lines += ["", "Longer runs: `SK_CRASH_ITERATIONS=2000 SK_CRASH_SEED=$RANDOM` on the crash loop; the fault "
              "sweeps cover every operation already.", "",
              "Fuzzing (libFuzzer, `tests/fuzz`) runs in `scripts/dev.sh test`, 20 s a target; "
              "`SK_FUZZ_SECONDS=3600 scripts/dev.sh fuzz http` for a long run. What it found is in "
              "tests/fuzz/corpus/*/regression-* and in the unit tests that name it.", ""]
    out = ROOT / "docs" / "reliability.md"
    out.write_text("\n".join(lines))
    print(f"wrote {out}{'' if all_passed else ' (with failures)'}")
    return 0 if all_passed else 1


if __name__ == "__main__":
    sys.exit(main())
