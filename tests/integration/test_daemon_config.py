"""Bad configurations: exit 78 (EX_CONFIG) with a one-line error naming the option, the bad
value and where it came from; and `check-config` printing effective values with sources."""
import grp
import os

import pytest

from conftest import run_cli, write_config

EX_CONFIG = 78


@pytest.fixture
def paths(tmp_path):
    """Harmless paths, so that a configuration wrongly accepted cannot touch /var or /run."""
    return ["--database", tmp_path / "data" / "app.db", "--backup-dir", tmp_path / "backups",
            "--socket", tmp_path / "run" / "sk.sock", "--migrations", tmp_path / "migrations"]


def run_bad(paths, *args, env=None):
    res = run_cli("run", *paths, *args, env=env, timeout=10)
    assert res.returncode == EX_CONFIG, (res.returncode, res.stderr)
    message = res.stderr.strip()
    assert "\n" not in message, f"not one line: {message!r}"
    assert res.stdout == ""
    return message


@pytest.mark.parametrize("flag,value,expected", [
    ("--retention-days", "abc", "a whole number from 1 to 36500"),
    ("--retention-days", "0", "a whole number from 1 to 36500"),
    ("--retention-days", "30d", "a whole number"),
    ("--checkpoint-interval", "5 parsecs", "a duration"),
    ("--checkpoint-interval", "-5min", "a duration"),
    ("--idle-timeout", "10ms", "a duration from 100ms"),
    ("--wal-max-bytes", "12XB", "a size"),
    ("--wal-max-bytes", "512KiB", "at least 1MiB"),
    ("--socket-mode", "0999", "an octal mode"),
    ("--file-mode", "0400", "lets the owner read and write"),
    ("--backup-at", "25:00", "HH:MM"),
    ("--log-level", "loud", "one of trace"),
])
def test_bad_flag_names_option_value_and_flag(paths, flag, value, expected):
    message = run_bad(paths, flag, value)
    name = flag[2:]
    assert f"option '{name}' from {flag}: invalid value '{value}'" in message
    assert expected in message


def test_bad_value_from_environment_names_the_variable(paths):
    message = run_bad(paths, env={"SQLKEEPER_WAL_MAX_BYTES": "lots"})
    assert "option 'wal-max-bytes' from env SQLKEEPER_WAL_MAX_BYTES: invalid value 'lots'" in message


def test_bad_value_from_config_file_names_file_and_line(paths, tmp_path):
    conf = write_config(tmp_path / "sk.conf", "# sqlkeeper\n\nretention-days = 30\nbusy-timeout = soon\n")
    message = run_bad(paths, "--config", conf)
    assert f"option 'busy-timeout' from {conf}:4: invalid value 'soon'" in message


def test_config_file_from_sqlkeeper_config_variable(paths, tmp_path):
    conf = write_config(tmp_path / "sk.conf", "max-connections = many\n")
    message = run_bad(paths, env={"SQLKEEPER_CONFIG": str(conf)})
    assert f"option 'max-connections' from {conf}:1" in message


def test_unknown_key_in_config_file(paths, tmp_path):
    conf = write_config(tmp_path / "sk.conf", "retention-days = 30\nretention_dayz = 31\n")
    message = run_bad(paths, "--config", conf)
    assert f"{conf}:2: unknown option 'retention_dayz'" in message


def test_key_under_a_section_is_unknown_and_located(paths, tmp_path):
    conf = write_config(tmp_path / "sk.conf", "[sqlkeeper]\nretention-days = 30\n")
    message = run_bad(paths, "--config", conf)
    assert f"{conf}:2: unknown option" in message


def test_unreadable_config_file(paths, tmp_path):
    message = run_bad(paths, "--config", tmp_path / "missing.conf")
    assert "missing.conf" in message and "cannot be read" in message


def test_unknown_sqlkeeper_environment_variable(paths):
    message = run_bad(paths, env={"SQLKEEPER_FOO": "1"})
    assert "SQLKEEPER_FOO" in message and "unknown option 'foo'" in message


def test_unknown_flag(paths):
    message = run_bad(paths, "--retention-dayz", "3")
    assert "--retention-dayz" in message


def test_precedence_flag_over_env_over_file(paths, tmp_path):
    # A bad file value is overridden by a good env value, which a bad flag overrides again.
    conf = write_config(tmp_path / "sk.conf", "retention-days = never\n")
    res = run_cli("check-config", "--config", conf, env={"SQLKEEPER_RETENTION_DAYS": "12"})
    assert res.returncode == 0, res.stderr
    message = run_bad(paths, "--config", conf, "--retention-days", "x", env={"SQLKEEPER_RETENTION_DAYS": "12"})
    assert "from --retention-days" in message


def test_check_config_prints_effective_values_and_sources(tmp_path):
    conf = write_config(tmp_path / "sk.conf", "# comment\nretention-days = 10\nlog-level = debug\n")
    res = run_cli("check-config", "--config", conf, "--log-level", "warning", "--idle-timeout", "2s",
                  env={"SQLKEEPER_WAL_MAX_BYTES": "2MiB"})
    assert res.returncode == 0, res.stderr
    lines = {}
    for line in res.stdout.splitlines()[1:]:
        setting, _, source = line.partition(" # ")
        name, _, value = setting.partition(" = ")
        lines[name.strip()] = (value.strip(), source.strip())
    assert res.stdout.splitlines()[0] == f"# configuration is valid (file {conf})"
    assert lines["retention-days"] == ("10", f"{conf}:2")
    assert lines["log-level"] == ("warning", "--log-level")
    assert lines["idle-timeout"] == ("2s", "--idle-timeout")
    assert lines["wal-max-bytes"] == ("2MiB", "env SQLKEEPER_WAL_MAX_BYTES")
    assert lines["database"] == ("/var/lib/sqlkeeper/app.db", "default")
    assert lines["socket-mode"] == ("0660", "default")
    sample = run_cli("check-config", "--sample").stdout
    every_option = {l[1:].partition(" = ")[0] for l in sample.splitlines() if l.startswith("#") and " = " in l}
    assert set(lines) == every_option and len(res.stdout.splitlines()) == len(every_option) + 1  # each once


def test_check_config_rejects_what_run_rejects(tmp_path):
    res = run_cli("check-config", "--retention-days", "-1")
    assert res.returncode == EX_CONFIG
    assert "option 'retention-days' from --retention-days: invalid value '-1'" in res.stderr


def test_check_config_warns_when_the_app_group_cannot_share_the_database(tmp_path):
    group = grp.getgrgid(os.getgid()).gr_name
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o750)
    r = run_cli("check-config", "--database", data / "app.db", "--app-group", group)
    assert r.returncode == 0, r.stderr
    assert f"warning: file-mode 0600 gives app-group '{group}' no read and write access" in r.stderr
    assert f"directory {data} is mode 0750" in r.stderr
    assert f"directory {data} is not setgid" in r.stderr
    # The shared-group set-up: 0660 in a setgid 2770 directory of the group.
    data.chmod(0o2770)
    r = run_cli("check-config", "--database", data / "app.db", "--app-group", group, "--file-mode", "0660")
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    # A database that exists keeps its mode: file-mode does not change it.
    (data / "app.db").touch(mode=0o600)
    (data / "app.db").chmod(0o600)
    r = run_cli("check-config", "--database", data / "app.db", "--app-group", group, "--file-mode", "0660")
    assert f"database {data / 'app.db'} is mode 0600" in r.stderr


def test_check_config_is_quiet_without_an_app_group(tmp_path):
    r = run_cli("check-config", "--database", tmp_path / "app.db")
    assert r.returncode == 0 and r.stderr == "", r.stderr
