#!/usr/bin/env bash
#
# t_chown — what README's POSIX section says of chown (issue 16, item 8),
# on a local and a remote mount (the suite runs as root, without
# allow_other): chown of a file and a folder in initial-tag sets their
# numeric owner and group, kept after a remount and copied into a tag made
# afterwards; chown in a frozen tag is EROFS, of a dataset or a control
# file EPERM.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl stat chown mountpoint fusermount3

check() {   # check MNT KIND REMOUNT-FUNCTION
	local M=$1 kind=$2
	ok "mkdir a dataset ($kind)" mkdir "$M/c"
	echo x >"$M/c/initial-tag/a.txt" || fail "write a.txt ($kind)"
	ok "mkdir a folder ($kind)" mkdir "$M/c/initial-tag/sub"
	ok "chown a file and a folder to 1234:5678 ($kind)" \
		chown 1234:5678 "$M/c/initial-tag/a.txt" "$M/c/initial-tag/sub"
	expect_eq "1234:5678 1234:5678" \
		"$(stat -c %u:%g "$M/c/initial-tag/a.txt" "$M/c/initial-tag/sub" | tr '\n' ' ' | sed 's/ $//')" \
		"stat shows the new owner and group ($kind)"
	"$3"
	expect_eq 1234:5678 "$(stat -c %u:%g "$M/c/initial-tag/a.txt")" \
		"kept after a remount ($kind)"
	ok "mkdir a tag ($kind)" mkdir "$M/c/v1"
	expect_eq 1234:5678 "$(stat -c %u:%g "$M/c/v1/a.txt")" "copied into the tag ($kind)"
	expect_errno "Read-only file system" chown 1:1 "$M/c/v1/a.txt"
	expect_errno "Operation not permitted" chown 1:1 "$M/c"
	expect_errno "Operation not permitted" chown 1:1 "$M/c/selection"
}

both_modes check
