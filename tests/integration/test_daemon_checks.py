"""Health sees what the liveness probe cannot: damage deep in the file (found by
the periodic PRAGMA quick_check) and a full database volume (failing, naming it)."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import healthy_body, open_db, wait_until


def health(d):
    status, _, body = d.get("/health")
    return status, json.loads(body)


def test_quick_check_finds_damage_past_the_first_page(daemon_factory):
    d = daemon_factory(extra_args=["--quick-check-interval", "1s"]).start().wait_ready()
    con = open_db(d.database)
    con.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, pad BLOB)")
    con.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 4000) "
                "INSERT INTO t SELECT i, randomblob(500) FROM c")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    wait_until(lambda: (d.get_json("/status")[1]["database"]["quick_check"] or {}).get("ok"), 15,
               what="a first quick_check")
    assert health(d) == (200, healthy_body())
    page = 4096
    pages = d.database.stat().st_size // page
    assert pages > 100
    with open(d.database, "r+b") as f:
        for n in range(pages // 2, pages // 2 + 20):
            f.seek(n * page)
            f.write(os.urandom(page))
    wait_until(lambda: health(d)[0] == 503, 15, what="health to fail")
    status, body = health(d)
    check = body["checks"]["integrity"]
    assert check["status"] == "failing" and check["detail"].startswith("quick_check found damage: "), body
    # the cheap probe alone still answers: only the quick_check saw it
    assert "database" not in body["checks"]
    assert "quick_check of" in d.output() and "found damage" in d.output()
    _, status_body = d.get_json("/status")
    assert status_body["database"]["quick_check"]["ok"] is False


def test_quick_check_interval_zero_turns_it_off(daemon_factory):
    d = daemon_factory(extra_args=["--quick-check-interval", "0"]).start().wait_ready()
    assert d.get_json("/status")[1]["database"]["quick_check"] is None


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None, reason="mounting a small tmpfs needs root")
def test_a_full_database_volume_is_failing_and_named(daemon_factory, tmp_path):
    volume = tmp_path / "vol"
    volume.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(volume)], check=True)
    try:
        d = daemon_factory(extra_args=["--wal-max-bytes", "4MiB"])
        d.database = volume / "app.db"
        d.args[d.args.index("--database") + 1] = d.database
        d.start().wait_ready()
        assert health(d) == (200, healthy_body())
        filler = volume / "filler"
        free = os.statvfs(volume).f_bavail * os.statvfs(volume).f_frsize
        with open(filler, "wb") as f:
            f.write(b"\0" * (free - (2 << 20)))  # leave 2 MiB
        wait_until(lambda: health(d)[0] == 503, 15, what="health to fail on a full volume")
        check = health(d)[1]["checks"]["database_disk"]
        assert check["status"] == "failing" and f"free on the database volume ({volume})" in check["detail"]
        filler.unlink()
        wait_until(lambda: health(d) == (200, healthy_body()), 15, what="health to recover")
        d.stop()
    finally:
        subprocess.run(["umount", "-l", str(volume)], check=False)
