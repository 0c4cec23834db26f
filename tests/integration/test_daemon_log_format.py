"""`log-format`: readable lines by default, JSON lines for log collectors (one object
per event; the unit test json_string covers a multi-line message), and the journald "<N>" prefixes only when
systemd's JOURNAL_STREAM names the daemon's stderr."""
import json
import re

from conftest import run_cli


def test_json_format_writes_one_json_object_per_line(daemon_factory):
    d = daemon_factory(env={"SQLKEEPER_LOG_FORMAT": "json"}).start().wait_ready()
    d.stop()
    lines = d.output().splitlines()
    assert lines, "the daemon logged nothing"
    events = [json.loads(line) for line in lines]
    for e in events:
        assert set(e) == {"time", "level", "message"}, e
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", e["time"]), e
    assert any(e["level"] == "info" and "SIGTERM" in e["message"] for e in events), events


def test_json_format_carries_a_failed_start_as_a_critical_event(daemon_factory, tmp_path):
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_bad.sql").write_text("CREATE TABLE t (\n  id INTEGER\n);\nINSERT INTO missing VALUES (1);\n")
    d = daemon_factory(migrations=migrations, env={"SQLKEEPER_LOG_FORMAT": "json"}).start()
    d.wait_exit()
    events = [json.loads(line) for line in d.output().splitlines()]
    errors = [e for e in events if e["level"] == "critical"]
    assert errors and any("missing" in e["message"] for e in errors), events


def test_text_format_outside_journald_has_no_priority_prefix(daemon_factory):
    d = daemon_factory(env={"JOURNAL_STREAM": "1:1"}).start().wait_ready()
    d.stop()
    lines = d.output().splitlines()
    assert lines and not [line for line in lines if line.startswith("<")], lines
    assert all(re.match(r"\d{4}-\d\d-\d\dT\S+ (info|warning|error|debug|critical) ", line) for line in lines), lines


def test_bad_log_format_is_a_configuration_error(tmp_path):
    res = run_cli("check-config", "--log-format", "xml", "--database", tmp_path / "app.db")
    assert res.returncode == 78, res.stdout + res.stderr
    assert "option 'log-format' from --log-format: invalid value 'xml', expected text or json" in res.stderr
