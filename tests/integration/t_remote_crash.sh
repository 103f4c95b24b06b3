#!/usr/bin/env bash
#
# t_remote_crash — the server dies in the middle of a remote `cp -r`.
#
# Proves: with a remote mount copying 1,500 files in, a SIGKILL of the
# server makes cp report errors (it does not hang and does not claim
# success); the server restarted on the same store has no partial sample:
# every file the dataset lists has exactly the bytes of its source (files
# whose upload never completed are absent, as after a local crash); the same
# mount carries on once the server is back, and a re-run of the copy
# completes, after which diff -r finds the whole tree.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl diff cmp grep mountpoint fusermount3 timeout

port=$(free_port) || die "no free port"
url=http://127.0.0.1:$port
mkdir -p "$T/store"
new_token alice "$T/alice.tok" >/dev/null || die "token create failed"
start_server "$port" || die "sievefs serve did not come up on $url"

M=$T/mnt
sv_mount "$url" "$M" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cache" \
	-o meta_ttl=1 || die "remote mount failed"
ok "mkdir a dataset" mkdir "$M/crash" || die "cannot create a dataset"
src=$T/src
sv_gen_tree "$src" 1500 60000 77 || die "could not generate files"

# cp in the background; kill the server once some files have landed
cp -r "$src/." "$M/crash/initial-tag/" 2>"$T/cp.err" &
cp_pid=$!
SV_BG+=("$cp_pid")
for ((i = 0; i < 300; i++)); do
	landed=$(find "$M/crash/initial-tag" -type f 2>/dev/null | wc -l)
	((landed >= 150)) && break
	sleep 0.1
done
note "$landed files listed when the server is killed"
kill_server
if timeout 120 tail --pid="$cp_pid" -f /dev/null; then
	wait "$cp_pid"
	rc=$?
	if ((rc != 0)); then
		pass "cp -r exits $rc once the server is gone"
	else
		fail "cp -r claimed success with the server killed"
	fi
	grep -q . "$T/cp.err" && pass "cp reported errors ($(head -c 120 "$T/cp.err"))" ||
		fail "cp printed no error"
else
	fail "cp -r still running 120 s after the server was killed"
	kill "$cp_pid" 2>/dev/null
fi

start_server "$port" || die "the server did not come back on the same store"
sleep 1.5                                      # past meta_ttl
sv_files "$M/crash/initial-tag" >"$T/after.txt"
nafter=$(wc -l <"$T/after.txt")
note "$nafter files listed after the restart"
bad=0
while IFS= read -r f; do
	cmp -s -- "$src/$f" "$M/crash/initial-tag/$f" || {
		bad=$((bad + 1))
		((bad <= 3)) && note "differs or unreadable: $f"
	}
done <"$T/after.txt"
((bad == 0)) && pass "after the restart every listed file is whole ($nafter files)" ||
	fail "$bad of $nafter listed files are partial or unreadable"
((nafter < $(sv_files "$src" | wc -l))) && pass "files not yet committed are absent" ||
	note "every file made it before the kill (nothing to check for absence)"

ok "a re-run of cp -r completes" cp -r "$src/." "$M/crash/initial-tag/"
expect_tree_eq "$src" "$M/crash/initial-tag" "diff -r: the whole tree is there"
sv_umount "$M"
