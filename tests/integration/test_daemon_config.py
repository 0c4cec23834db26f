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


@pytest.mark.parametrize("flag,value", [
    ("--file-mode", "7777"),  # once made the database rwsrwsrwt and -wal/-shm 0777
    ("--file-mode", "0777"),
    ("--file-mode", "2660"),
    ("--socket-mode", "0777"),
    ("--socket-mode", "4660"),
])
def test_modes_are_permission_bits_within_0666(paths, tmp_path, flag, value):
    message = run_bad(paths, flag, value)
    assert f"option '{flag[2:]}' from {flag}: invalid value '{value}', expected an octal mode within 0666" in message
    assert not (tmp_path / "data").exists()


def test_abbreviated_option_is_unknown_not_guessed(tmp_path):
    # `--data` was taken for `--database`.
    res = run_cli("check-config", "--data", tmp_path / "app.db")
    assert res.returncode == EX_CONFIG, (res.returncode, res.stdout, res.stderr)
    assert "'--data'" in res.stderr
    assert res.stdout == ""


@pytest.mark.parametrize("command,usage", [
    ("run", "run"), ("health", "health"), ("status", "status [--json]"), ("check-config", "check-config [--sample]"),
])
def test_stray_argument_is_refused_naming_it(paths, tmp_path, command, usage):
    # `run` used to ignore the word and start the daemon.
    res = run_cli(command, *paths, "stray-word", timeout=10)
    assert res.returncode == EX_CONFIG, (res.returncode, res.stdout, res.stderr)
    assert res.stderr.strip() == f"sqlkeeper {command}: unexpected argument 'stray-word' (usage: sqlkeeper {usage})"
    assert res.stdout == ""
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("action", ["status", "up"])
def test_stray_argument_after_migrate_action_is_refused(paths, tmp_path, action):
    (tmp_path / "migrations").mkdir()
    res = run_cli("migrate", action, "extra", *paths)
    assert res.returncode == EX_CONFIG, (res.returncode, res.stdout, res.stderr)
    assert f"unexpected argument 'extra' after '{action}'" in res.stderr
    assert not (tmp_path / "data").exists()


def with_option(paths, flag, value):
    args = list(paths)
    args[args.index(flag) + 1] = value
    return args


@pytest.mark.parametrize("kind", ["directory", "device", "under a file"])
def test_database_of_the_wrong_kind_is_a_config_error_naming_the_option(paths, tmp_path, kind):
    if kind == "directory":
        value, why = tmp_path / "dir.db", "is a directory, expected a database file"
        value.mkdir()
    elif kind == "device":
        value, why = "/dev/null", "is a character device, expected a database file"
    else:
        (tmp_path / "plain").write_text("x")
        value, why = tmp_path / "plain" / "app.db", "has a parent that is not a directory"
    for command in (["run"], ["migrate", "up"], ["check-config"]):
        res = run_cli(*command, *with_option(paths, "--database", value), timeout=10)
        assert res.returncode == EX_CONFIG, (command, res.returncode, res.stderr)
        assert f"option 'database' from --database: '{value}' {why}" in res.stderr, res.stderr
        assert not (tmp_path / "run").exists()


def test_database_of_the_wrong_kind_from_the_config_file_names_file_and_line(paths, tmp_path):
    conf = write_config(tmp_path / "sk.conf", f"# sqlkeeper\ndatabase = {tmp_path}\n")
    args = list(paths)
    del args[args.index("--database"):args.index("--database") + 2]
    res = run_cli("run", *args, "--config", conf, timeout=10)
    assert res.returncode == EX_CONFIG, (res.returncode, res.stderr)
    assert f"option 'database' from {conf}:2: '{tmp_path}' is a directory" in res.stderr


@pytest.mark.parametrize("flag", ["--migrations", "--backup-dir"])
def test_folder_option_that_is_a_file_is_a_config_error_naming_it(paths, tmp_path, flag):
    plain = tmp_path / "plain"
    plain.write_text("x")
    res = run_cli("run", *with_option(paths, flag, plain), timeout=10)
    assert res.returncode == EX_CONFIG, (res.returncode, res.stderr)
    assert f"option '{flag[2:]}' from {flag}: '{plain}' is a regular file, expected a directory" in res.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("kind", ["directory", "device"])
def test_check_config_refuses_a_config_file_that_is_not_a_file(tmp_path, kind):
    conf = tmp_path if kind == "directory" else "/dev/null"
    res = run_cli("check-config", "--config", conf)
    assert res.returncode == EX_CONFIG, (res.returncode, res.stdout, res.stderr)
    assert res.stderr.strip().startswith(f"sqlkeeper check-config: config file {conf}: is ")
    assert res.stdout == ""


def test_quoted_config_values_lose_their_quotes(tmp_path):
    database = tmp_path / "with space" / "app.db"
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_init.sql").write_text("CREATE TABLE t (id INTEGER PRIMARY KEY);\n")
    conf = write_config(tmp_path / "sk.conf", f"database = \"{database}\"\nmigrations = '{migrations}'\n"
                                              f"backup-dir = \"{tmp_path / 'backups'}\"\nlog-level = \"warning\"\n")
    res = run_cli("check-config", "--config", conf)
    assert res.returncode == 0, res.stderr
    assert f"database = {database} " in res.stdout
    assert "log-level = warning " in res.stdout
    res = run_cli("migrate", "up", "--config", conf)
    assert res.returncode == 0, res.stderr
    assert database.is_file()
    assert not list(tmp_path.glob('"*'))  # nothing created under a quoted name


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


def test_help_keeps_every_command_apart_from_its_description():
    """`restore`'s usage is longer than the others: it must not run into its summary."""
    res = run_cli("--help")
    assert res.returncode == 0, res.stderr
    lines = [l for l in res.stdout.splitlines() if l.startswith("  ")]
    assert len(lines) >= 10, res.stdout
    restore = next(l for l in lines if l.startswith("  restore "))
    assert "[--force-schema]  verified restore" in restore, restore
    # the summaries start in one column, at least two spaces after the longest usage
    columns = {len(l) - len(l[2:].split("  ", 1)[1].lstrip()) for l in lines}
    assert len(columns) == 1, res.stdout
