#!/bin/sh
# Writes the manual page sqlkeeper(1), gzipped to OUT or as roff to stdout, from what the built binary says
# about itself: the commands from `--help`, every option (help text, default,
# whether it needs a restart) from `check-config --sample`, which prints the option
# table. So the page cannot drift from the program.
#   make-man.sh BINARY VERSION [OUT]
set -eu
bin=$1
version=$2
out=${3:-}
# The pipelines below would hide a binary that cannot run.
"$bin" --version >/dev/null

page() {

# roff: a leading dot or quote would be a request, a backslash an escape.
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/" -e 's/-/\\-/g'; }

cat <<HEAD
.TH SQLKEEPER 1 "" "sqlkeeper $version" "User Commands"
.SH NAME
sqlkeeper \\- keeps an application's SQLite database migrated, checkpointed and backed up
.SH SYNOPSIS
.B sqlkeeper
.I COMMAND
.RI [ options ]
.SH DESCRIPTION
sqlkeeper caretakes one SQLite database beside the application that uses it: it
applies migrations before the application starts, checkpoints the WAL, takes
verified backups with retention, and reports health over a Unix socket.
.B sqlkeeper run
is the daemon (a systemd service, or a container's entrypoint); the other commands
work with or without it.
.SH COMMANDS
HEAD
"$bin" --help | awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on' | while IFS= read -r line; do
  usage=$(printf '%s\n' "$line" | sed -e 's/^  //' -e 's/  .*//')
  summary=${line#  "$usage"}
  summary=$(printf '%s\n' "$summary" | sed 's/^ *//')
  printf '.TP\n.B sqlkeeper %s\n%s\n' "$(printf '%s\n' "$usage" | esc)" "$(printf '%s\n' "$summary" | esc)"
done
cat <<'MID'
.PP
.B sqlkeeper
.I COMMAND
.B \-\-help
lists a command's options.
.SH OPTIONS
Every option can be given as
.BI \-\- name " value"
on the command line, as
.B SQLKEEPER_\c
.I NAME
in the environment (upper case, dashes as underscores), or as
.I name " = " value
in the INI file named by
.BR \-\-config .
A flag wins over the environment, which wins over the file. Options marked
"(restart to change)" are read at start only; the others are applied again on
SIGHUP.
MID
"$bin" check-config --sample | awk '
  /^# / && !seen_blank { next }
  /^$/ { seen_blank = 1; next }
  /^# / { help = substr($0, 3); next }
  /^#[a-z]/ {
    line = substr($0, 2); eq = index(line, " = ")
    name = substr(line, 1, eq - 1); value = substr(line, eq + 3)
    gsub(/-/, "\\-", name)
    printf ".TP\n.BI \\-\\-%s \" VALUE\"\n%s (default: %s)\n", name, help, value == "" ? "none" : value
  }' | sed -e 's/^\([^.]\)\(.*\)/\1\2/' -e '/^\./!s/-/\\-/g' -e '/^\./!s/^\([.'"'"']\)/\\\&\1/'
cat <<'TAIL'
.SH ENVIRONMENT
.TP
.B SQLKEEPER_\c
.I NAME
any option above, e.g.
.BR SQLKEEPER_BACKUP_DIR .
An unknown SQLKEEPER_ variable is an error.
.TP
.B DATABASE_PATH
the application's own setting; names the database when no
.B database
option is given, so one environment serves both.
.TP
.B JOURNAL_STREAM
set by systemd: when it names sqlkeeper's stderr, log lines carry journald's
priority prefixes.
.SH EXIT STATUS
0 on success; 65 when a migration failed or was refused; 78 for a bad
configuration; 1 otherwise.
.B sqlkeeper health
exits 0 ok, 1 degraded, 2 failing, 3 unreachable (the Nagios plugin convention).
.SH SIGNALS
SIGTERM and SIGINT stop the daemon cleanly: a running job stops at its next step
(a migration rolls back, a backup removes its temporary file) and the daemon exits
0. SIGHUP re-reads the configuration.
.SH FILES
.TP
.I /etc/sqlkeeper/sqlkeeper.conf
the configuration the systemd units read
.TP
.I /var/lib/sqlkeeper
the database and its backups under the packaged units
.TP
.I /usr/share/doc/sqlkeeper
README, operations and migrations guides, example drop-ins
.SH SEE ALSO
.BR systemctl (1),
.BR sqlite3 (1),
/usr/share/doc/sqlkeeper/operations.md
TAIL
}

if [ -z "$out" ]; then
  page
  exit 0
fi
page >"$out.roff"
# -n: no name or time stamp inside, so the package builds the same twice.
gzip -9nc "$out.roff" >"$out.tmp"
rm -f "$out.roff"
mv "$out.tmp" "$out"
