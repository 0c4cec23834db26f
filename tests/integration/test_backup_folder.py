"""The backup folder when it is not what the daemon expects: a folder it cannot look
at, backups that fail on a fresh install, and what the error and the schedule say."""
import json
import os
from datetime import datetime, timezone

import pytest

from conftest import http_request, wait_until

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="a second uid needs root to switch to it")
NOBODY = 65534


def post(d, target, timeout=30.0):
    status, _, body = http_request(d.socket, "POST", target, timeout=timeout)
    return status, json.loads(body)


def status_json(d):
    return d.get_json("/status")[1]


def failed_backup(d):
    """POST /backup, and the error it ended with."""
    status, body = post(d, "/backup")
    assert status == 202, (status, body)
    return wait_until(lambda: status_json(d)["backups"]["activity"]["last_failure"], timeout=20,
                      what="the backup's failure")


def daemon_with_backups_in(daemon_factory, folder, **kw):
    d = daemon_factory(**kw)
    d.backups = d.workdir / folder
    d.args[d.args.index("--backup-dir") + 1] = d.backups
    return d


@needs_root
def test_a_backup_folder_that_exists_but_cannot_be_looked_at_is_named_as_such(daemon_factory):
    """The folder is there, but its parent lets the daemon's user not through (EACCES on
    stat): the error names that, not "create backup folder"."""
    d = daemon_with_backups_in(daemon_factory, "vault/backups", uid=NOBODY)
    d.backups.mkdir(parents=True)
    d.start().wait_ready()
    os.chmod(d.backups.parent, 0o600)
    error = failed_backup(d)
    assert "create backup folder" not in error, error
    assert f"cannot look at backup folder {d.backups}" in error and "Permission denied" in error, error


def test_a_failed_backup_on_a_fresh_install_is_retried_in_a_minute_not_at_the_night(daemon_factory):
    """Nightly only, no backup yet, and POST /backup fails (the folder is a file): the
    schedule's next attempt is the back-off's minute, not the next nightly slot."""
    d = daemon_with_backups_in(daemon_factory, "not-a-folder")
    d.backups.parent.mkdir(parents=True, exist_ok=True)
    d.start().wait_ready()
    d.backups.write_text("in the way\n")
    failed_backup(d)

    def schedule():
        s = status_json(d)["backups"]["schedule"]
        return s["failures_since_success"] == 1 and s
    s = wait_until(schedule, timeout=10, what="the failure in the schedule")
    assert s["next_why"] == "retry after 1 failure", s
    failed = datetime.fromisoformat(status_json(d)["backups"]["activity"]["last_failure_time"].replace("Z", "+00:00"))
    nxt = datetime.fromisoformat(s["next"].replace("Z", "+00:00"))
    assert 55 <= (nxt - failed).total_seconds() <= 62, (failed, nxt)
    assert nxt > datetime.now(timezone.utc)
