"""What a backup file is, as `backups`, `verify`, `restore` and `prune` see it:
ok, unfinished (no sidecar), damaged (a sidecar that does not parse or names
another file, a size or checksum that no longer matches), or foreign (another
database's); the commands agree on every state. Retention counts only backups
whose file still matches its sidecar, and a backup stamped in the future is
neither counted nor chosen by `restore --latest` without a warning."""
import datetime as dt
import json
import os
import pathlib

import pytest

from conftest import migrate_cli, BUNDLED_MIGRATIONS, query, run_cli
from test_backup_cli import backup_json, cli, plant, setup_db

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def listing(tmp_path, *flags):
    r = cli(tmp_path, "backups", "--json", *flags)
    return r.returncode, {os.path.basename(b["file"]): b for b in json.loads(r.stdout)["backups"]}


def sidecar_of(path):
    return pathlib.Path(str(path) + ".sha256")


def damage_sidecar(template, how):
    sidecar = pathlib.Path(template["sidecar"])
    name = os.path.basename(template["file"])
    first, rest = sidecar.read_text().split("\n", 1)
    first = {"uppercase": f"{template['sha256'].upper()}  {name}",
             "another file": f"{template['sha256']}  app-20200101T000000Z.db",
             "garbage": "this is not a checksum line"}[how]
    sidecar.write_text(first + "\n" + rest)


@pytest.mark.parametrize("how", ["uppercase", "another file", "garbage"])
def test_a_sidecar_that_does_not_parse_is_damaged_in_backups_verify_and_restore(tmp_path, how):
    """Item 5: not "no sidecar": damaged, in all three commands."""
    db = setup_db(tmp_path, rows=200)
    template = backup_json(tmp_path)
    damage_sidecar(template, how)
    name = os.path.basename(template["file"])
    code, backups = listing(tmp_path)
    assert code == 1 and backups[name]["state"] == "damaged", backups
    assert "sidecar" in backups[name]["problem"], backups
    assert f"DAMAGED" in cli(tmp_path, "backups").stdout
    r = cli(tmp_path, "verify", template["file"])
    assert r.returncode == 1 and f"{template['file']}: BAD: damaged: " in r.stdout and "sidecar" in r.stdout, r.stdout
    assert cli(tmp_path, "verify", "--all").returncode == 1
    before = query(db, "SELECT count(*) FROM bulk")
    query(db, "DELETE FROM bulk")
    r = cli(tmp_path, "restore", template["file"], "--force")
    assert r.returncode == 1 and "refusing to restore" in r.stderr and "sidecar" in r.stderr, r.stderr
    assert query(db, "SELECT count(*) FROM bulk") == [(0,)] != before
    target = tmp_path / "copy.db"
    assert cli(tmp_path, "restore", template["file"], "--to", target).returncode == 1 and not target.exists()


def test_a_backup_without_a_sidecar_is_unfinished_in_backups_and_verify(tmp_path):
    setup_db(tmp_path)
    template = backup_json(tmp_path)
    os.remove(template["sidecar"])
    name = os.path.basename(template["file"])
    code, backups = listing(tmp_path)
    assert code == 1 and backups[name]["state"] == "unfinished" and backups[name]["problem"] == "no sidecar", backups
    r = cli(tmp_path, "verify", template["file"])
    assert r.returncode == 0 and "ok (unfinished: no sidecar, checksum not checked)" in r.stdout, r.stdout
    # The table's columns stay apart (it once printed "UNFINISHEDno sidecar").
    row = next(line for line in cli(tmp_path, "backups").stdout.splitlines() if line.endswith(f"{name}  (no sidecar)"))
    columns = row.split()
    assert columns[4:7] == ["unfinished", "no", "sidecar"], row


def page_size(path):
    return query(path, "PRAGMA page_size")[0][0]


@pytest.mark.parametrize("damage", ["truncated by a page", "a byte changed"])
def test_prune_keeps_the_older_good_backups_when_newer_ones_no_longer_match_their_sidecars(tmp_path, damage):
    """Item 3, the reproduction: three good backups 10-12 days old, three newer
    ones damaged under their original sidecars. The damaged are never counted
    nor deleted, and named; the good ones stay; `restore --latest` picks one."""
    setup_db(tmp_path, rows=200)
    template = backup_json(tmp_path)
    good = [plant(tmp_path, template, NOW - dt.timedelta(days=10 + i)) for i in range(3)]
    bad = [plant(tmp_path, template, NOW - dt.timedelta(days=1 + i)) for i in range(3)]
    for f in bad:
        if damage == "truncated by a page":
            os.truncate(f, os.path.getsize(f) - page_size(template["file"]))
        else:
            with open(f, "r+b") as out:
                out.seek(os.path.getsize(f) - 10)
                byte = out.read(1)
                out.seek(-1, 1)
                out.write(bytes([byte[0] ^ 0xFF]))
    os.remove(template["file"])
    os.remove(template["sidecar"])
    r = cli(tmp_path, "prune", "--retention-days", "1", "--retention-min-count", "3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert all(f.exists() and sidecar_of(f).exists() for f in good + bad), r.stdout
    lines = {l.split()[1]: l for l in r.stdout.splitlines() if l.startswith("keep ")}
    for f in bad:
        assert "damaged" in lines[f.name], r.stdout
    assert "retention-min-count: verified backup 1 of the newest 3" in lines[good[0].name], r.stdout
    target = tmp_path / "restored.db"
    r = cli(tmp_path, "restore", "--latest", "--to", target)
    assert r.returncode == 0 and f"restored {good[0]} into" in r.stdout, r.stdout + r.stderr
    code, backups = listing(tmp_path)
    assert code == 1 and {backups[f.name]["state"] for f in bad} == {"damaged"}
    assert {backups[f.name]["state"] for f in good} == {"ok"}


def test_two_databases_with_one_file_name_in_one_backup_folder_keep_to_their_own(tmp_path):
    """Item 7: the sidecar names its database; `backups`, `restore --latest` and
    prune consider only this database's backups and list the other's as foreign."""
    setup_db(tmp_path, rows=10)
    other = tmp_path / "other" / "app.db"
    assert migrate_cli("up", other, BUNDLED_MIGRATIONS, backup_dir=tmp_path / "backups").returncode == 0

    def other_cli(*args):
        return run_cli(*args, "--database", other, "--backup-dir", tmp_path / "backups")

    own = backup_json(tmp_path)
    r = other_cli("backup", "--json")
    assert r.returncode == 0, r.stderr
    theirs = json.loads(r.stdout)
    old_theirs = plant(tmp_path, theirs, NOW - dt.timedelta(days=40))
    code, backups = listing(tmp_path)
    assert code == 0, backups
    assert backups[os.path.basename(own["file"])]["state"] == "ok"
    for name in (os.path.basename(theirs["file"]), old_theirs.name):
        assert backups[name]["state"] == "foreign" and str(other) in backups[name]["problem"], backups
    r = cli(tmp_path, "restore", "--latest", "--to", tmp_path / "restored.db")
    assert r.returncode == 0 and f"restored {own['file']} into" in r.stdout, r.stdout + r.stderr
    assert query(tmp_path / "restored.db", "SELECT count(*) FROM bulk") == [(10,)]
    r = cli(tmp_path, "prune", "--retention-days", "1", "--retention-min-count", "1")
    assert r.returncode == 0 and old_theirs.exists(), r.stdout
    assert f"another database's backup (left alone): {old_theirs.name} (of {other})" in r.stdout, r.stdout
    # its own restore refuses ours
    r = other_cli("restore", own["file"], "--to", tmp_path / "mixed.db")
    assert r.returncode == 1 and "a backup of " + str(tmp_path / "data" / "app.db") in r.stderr, r.stderr
    # A sidecar written before the database was recorded stays this database's.
    sidecar = pathlib.Path(own["sidecar"])
    sidecar.write_text("".join(l for l in sidecar.open() if not l.startswith("# database:")))
    assert listing(tmp_path)[1][os.path.basename(own["file"])]["state"] == "ok"


def test_a_backup_stamped_in_the_future_is_named_and_never_chosen_silently(tmp_path):
    """Item 8: `restore --latest` takes the newest backup stamped before now and
    warns about the future one; prune is not held by it."""
    setup_db(tmp_path)
    template = backup_json(tmp_path)
    future = plant(tmp_path, template, NOW + dt.timedelta(days=5 * 365))
    old = [plant(tmp_path, template, NOW - dt.timedelta(days=40 + i)) for i in range(2)]
    r = cli(tmp_path, "restore", "--latest", "--to", tmp_path / "restored.db")
    assert r.returncode == 0 and f"restored {template['file']} into" in r.stdout, r.stdout + r.stderr
    assert future.name in r.stderr and "in the future" in r.stderr, r.stderr
    r = cli(tmp_path, "prune", "--retention-days", "1", "--retention-min-count", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not any(f.exists() for f in old) and future.exists(), r.stdout
    lines = {l.split()[1]: l for l in r.stdout.splitlines() if l.startswith("keep ")}
    assert "in the future" in lines[future.name], r.stdout
    code, backups = listing(tmp_path)
    assert backups[future.name]["state"] == "ok" and "in the future" in backups[future.name]["problem"], backups
