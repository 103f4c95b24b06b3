#!/usr/bin/env bash
#
# t_mount_log — a mount's own errors are where a user finds them: the
# read-only `log` at the mount's root and, in the foreground (-f), stderr
# (issue 16, item 5).
#
# Proves: a mount's root lists `log` beside the datasets; before anything
# went wrong it says so; it cannot be written (EACCES) nor made a dataset
# (`mkdir log`: EEXIST); on a remote mount whose server was killed, a
# `mkdir` fails (EIO) and both the root's `log` and the mount's stderr hold
# the error with its hint (`is \`sievefs serve\` running at this address and
# port?`), and the root's `log` reads although the server is gone.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl grep mountpoint fusermount3

# ---------------------------------------------------------------- local
sv_mount "$T/lstore" "$T/mnt" || die "mount failed"
ok "mkdir a dataset" mkdir "$T/mnt/ds"
ls "$T/mnt" >"$T/root.ls"
expect_line "$T/root.ls" "log" "the root lists log"
expect_line "$T/root.ls" "ds" "the root lists the dataset"
ok "the root's log is a regular file" test -f "$T/mnt/log"
cat "$T/mnt/log" >"$T/log0"
expect_line "$T/log0" "no warning or error since this mount started" "a fresh mount's log says nothing went wrong"
expect_errno "Permission denied" bash -c 'echo x > "$1"' _ "$T/mnt/log"
expect_errno "File exists" mkdir "$T/mnt/log"
sv_umount "$T/mnt"

# ---------------------------------------------------------------- remote
remote_mount "$T/store" "$T/rmnt" || die "no remote mount"
ok "remote: mkdir a dataset" mkdir "$T/rmnt/ds"
ok "remote: cp a file in" cp "$T/root.ls" "$T/rmnt/ds/initial-tag/a.txt"
expect_line "$T/rmnt/log" "no warning or error since this mount started" "remote: the log starts empty"
kill_server
expect_errno "Input/output error" mkdir "$T/rmnt/ds2"
cat "$T/rmnt/log" >"$T/rlog"
if grep -q 'ERROR remote: [A-Z]* http://127\.0\.0\.1:[0-9]*/v1/datasets.*: .*(is `sievefs serve` running at this address and port?)' "$T/rlog"; then
	pass "remote: the root's log holds the failed request with the hint"
else
	fail "remote: the root's log lacks the failed request"; sv_show "$T/rlog"
fi
daemon_log=${SV_MNT_LOG[$T/rmnt]}
if grep -q 'error: remote: [A-Z]* http://127\.0\.0\.1:[0-9]*/v1/datasets.*: .*(is `sievefs serve` running' "$daemon_log"; then
	pass "remote: the same error on the foreground mount's stderr"
else
	fail "remote: stderr of the mount lacks the error"; sv_show "$daemon_log"
fi
sv_umount "$T/rmnt"
