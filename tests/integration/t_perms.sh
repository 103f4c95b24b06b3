#!/usr/bin/env bash
#
# t_perms — a store, and a remote mount's cache, are owner-only: a second
# Unix user can read nothing in them.
#
# Proves: with umask 022 and with umask 000, a local mount creates STORE,
# blobs/, blobs/xx/, staging/ 0700 and every file in it (blobs, catalog.db,
# -wal, -shm, lock, reserve) 0600, and a second user (a temporary account
# made with useradd, removed with userdel in the trap) gets "Permission
# denied" for `cat` of a blob, `ls` of blobs/ and cannot open catalog.db with
# `sqlite3 -readonly`; `sievefs token create` and `sievefs serve` create a
# new store the same way; a store made by hand the old way (0755 folders,
# 0644 files) is narrowed when its owner opens it, and the daemon log says
# how many were repaired; a remote mount's cache (-o cache_dir) is
# owner-only under umask 000 too, and an old cache with wide modes is
# narrowed at the next mount. A control file 0644 beside the store shows the
# second user can read what is meant to be readable.
#
# $T is mktemp -d (0700), which would hide everything from the second user
# for the wrong reason: the stores live in a traversable folder of their own
# (removed in the trap).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need useradd userdel runuser sqlite3 stat find curl python3 mountpoint fusermount3

((EUID == 0)) || die "t_perms needs root (useradd, runuser)"

OTHER=svperm$$r$RANDOM
PUB=
perms_cleanup() {
	if id "$OTHER" >/dev/null 2>&1; then
		userdel -f "$OTHER" >/dev/null 2>&1 || echo "# userdel $OTHER failed"
	fi
	[[ -n $PUB && -d $PUB ]] && rm -rf --one-file-system -- "$PUB"
}
# lib.sh's trap takes the exit status with $? first: keep it for it.
trap 'sv_rc=$?; perms_cleanup; (exit $sv_rc); sv_cleanup' EXIT

umask 022
PUB=$(mktemp -d /tmp/sievefs-perms.XXXXXX) || die "mktemp failed"
chmod 755 "$PUB"
useradd -M -N -s /bin/sh -d /nonexistent "$OTHER" ||
	die "useradd $OTHER failed"
note "second user $OTHER, stores in $PUB"

echo "readable by all" >"$PUB/probe"
chmod 644 "$PUB/probe"
ok "control: $OTHER reads a 0644 file beside the stores" \
	runuser -u "$OTHER" -- cat "$PUB/probe"

# wide STORE — every folder and file in STORE that has any group/other bit
# (symlinks aside: a store has none).
wide() { find "$1" \( -type d -o -type f \) -perm /077 -printf '%m %p\n'; }

# expect_owner_only STORE DESC
expect_owner_only() {
	local w
	w=$(wide "$1")
	if [[ -z $w ]]; then
		pass "$2: every folder and file is owner-only"
	else
		fail "$2: wider than owner-only: $(head -n 5 <<<"$w" | tr '\n' ' ')"
	fi
}

# other_denied STORE DESC — the second user can read nothing in STORE.
other_denied() {
	local store=$1 desc=$2 blob
	blob=$(find "$store/blobs" -type f | head -n 1)
	[[ -n $blob ]] || { fail "$desc: no blob in $store"; return; }
	expect_errno "Permission denied" runuser -u "$OTHER" -- cat "$blob"
	expect_errno "Permission denied" runuser -u "$OTHER" -- cat "$store/catalog.db"
	expect_errno "Permission denied" runuser -u "$OTHER" -- ls "$store/blobs"
	expect_errno "Permission denied" runuser -u "$OTHER" -- ls "$store"
	expect_fail "$desc: $OTHER cannot open catalog.db with sqlite3 -readonly" \
		runuser -u "$OTHER" -- sqlite3 -readonly "$store/catalog.db" \
		"SELECT name FROM nodes"
	if grep -q secret "$T/last.out"; then
		fail "$desc: $OTHER listed names from the catalog"
	fi
}

printf 'secret sample bytes\n' >"$T/secret.txt"
head -c 300000 /dev/urandom >"$T/big.bin"

# --- a new store under each umask, checked while mounted (-wal, -shm exist)
for um in 022 000; do
	store=$PUB/store.$um
	mnt=$T/mnt.$um
	umask "$um"
	sv_mount "$store" "$mnt" || die "mount under umask $um failed"
	ok "umask $um: mkdir a dataset" mkdir "$mnt/ds"
	ok "umask $um: cp samples in" cp "$T/secret.txt" "$T/big.bin" "$mnt/ds/initial-tag/"
	umask 022
	[[ -e $store/catalog.db-wal && -e $store/catalog.db-shm ]] &&
		pass "umask $um: the catalog has its -wal and -shm while mounted" ||
		fail "umask $um: no catalog.db-wal / -shm while mounted"
	expect_eq "700 700 700 700" \
		"$(stat -c %a "$store" "$store/blobs" "$store/blobs/00" "$store/staging" | tr '\n' ' ' | sed 's/ $//')" \
		"umask $um: STORE, blobs/, blobs/00/, staging/ are 0700"
	expect_eq "600 600 600 600 600" \
		"$(stat -c %a "$store/catalog.db" "$store/catalog.db-wal" "$store/catalog.db-shm" "$store/lock" "$store/reserve" | tr '\n' ' ' | sed 's/ $//')" \
		"umask $um: catalog.db, -wal, -shm, lock, reserve are 0600"
	expect_owner_only "$store" "umask $um, mounted"
	other_denied "$store" "umask $um"
	sv_umount "$mnt" || fail "umask $um: unmount failed"
	expect_owner_only "$store" "umask $um, after unmount"
done

# --- the admin command and the server create owner-only stores too
umask 000
ok "umask 000: token create makes a new store" \
	"$SIEVEFS" token create --store "$PUB/store.tok" alice
expect_owner_only "$PUB/store.tok" "umask 000, store made by token create"
port=$(free_port) || die "no free port"
start_server "$port" "$PUB/store.srv" || die "sievefs serve did not start"
umask 022
expect_owner_only "$PUB/store.srv" "umask 000, store made by sievefs serve"
kill -TERM "$SERVER_PID"
sv_wait_gone "$SERVER_PID" 10 && wait "$SERVER_PID"

# --- an old-style store: 0755 folders, 0644 files; its owner repairs it
store=$PUB/store.022
find "$store" -type d -exec chmod 755 {} +
find "$store" -type f -exec chmod 644 {} +
nwide=$(wide "$store" | wc -l)
((nwide > 256)) && pass "old-style store has $nwide wide entries" ||
	fail "old-style store: only $nwide wide entries"
blob=$(find "$store/blobs" -type f | head -n 1)
ok "old-style store: $OTHER can read a blob (the hole)" runuser -u "$OTHER" -- cat "$blob"
sv_mount "$store" "$T/mnt.old" || die "mount of the old-style store failed"
expect_owner_only "$store" "old-style store after its owner opened it"
log=${SV_MNT_LOG[$T/mnt.old]}
if grep -q "repaired" "$log"; then
	pass "the daemon log says the modes were repaired: $(grep repaired "$log" | head -n 1 | cut -c1-160)"
	grep -q "$nwide file(s)" "$log" && pass "the log counts the $nwide repaired entries" ||
		fail "the log does not count $nwide entries"
else
	fail "the daemon log does not mention the repair"
	sv_show "$log"
fi
expect_eq "$(cat "$T/secret.txt")" "$(cat "$T/mnt.old/ds/initial-tag/secret.txt")" \
	"the repaired store still reads back"
other_denied "$store" "repaired store"
sv_umount "$T/mnt.old"
sv_mount "$store" "$T/mnt.old" || die "second mount failed"
grep -q "repaired" "${SV_MNT_LOG[$T/mnt.old]}" &&
	fail "a second open repairs again (nothing was wide)" ||
	pass "an owner-only store opens without a repair line"
sv_umount "$T/mnt.old"

# --- a remote mount's cache, under umask 000
store=$PUB/store.srv
STORE=$store new_token alice "$T/alice.tok" >/dev/null || die "token create failed"
port=$(free_port) || die "no free port"
start_server "$port" "$store" || die "sievefs serve did not start"
url=http://127.0.0.1:$port
cache=$PUB/cache
umask 000
sv_mount "$url" "$T/rmnt" -o "token_file=$T/alice.tok" -o "cache_dir=$cache" ||
	die "remote mount failed"
umask 022
ok "remote: mkdir a dataset" mkdir "$T/rmnt/ds"
ok "remote: cp samples in" cp "$T/secret.txt" "$T/big.bin" "$T/rmnt/ds/initial-tag/"
sv_umount "$T/rmnt"
umask 000
sv_mount "$url" "$T/rmnt" -o "token_file=$T/alice.tok" -o "cache_dir=$cache" ||
	die "remote remount failed"
umask 022
ok "remote: read the samples back (fills the cache)" cat "$T/rmnt/ds/initial-tag/secret.txt" "$T/rmnt/ds/initial-tag/big.bin"
sv_umount "$T/rmnt"
cblob=$(find "$cache" -type f -size +1k -path '*/[0-9a-f][0-9a-f]/*' | head -n 1)
[[ -n $cblob ]] && pass "the cache holds sample bytes" || fail "no bytes in the cache"
sub=$cache     # with -o cache_dir, the cache itself (no per-user folder)
cwide=$(find "$sub" \( -type d -o -type f \) -perm /077 -printf '%m %p\n')
expect_eq "" "$cwide" "umask 000: the cache's folders and files are owner-only"
# only the files' own modes protect them now
find "$sub" -type d -exec chmod 755 {} +
expect_errno "Permission denied" runuser -u "$OTHER" -- cat "$cblob"
# an old cache: everything wide; the next mount narrows it
find "$sub" -type d -exec chmod 755 {} +
find "$sub" -type f -exec chmod 644 {} +
ok "old-style cache: $OTHER can read cached bytes (the hole)" runuser -u "$OTHER" -- cat "$cblob"
sv_mount "$url" "$T/rmnt" -o "token_file=$T/alice.tok" -o "cache_dir=$cache" ||
	die "remote mount over an old cache failed"
cwide=$(find "$sub" \( -type d -o -type f \) -perm /077 -printf '%m %p\n')
expect_eq "" "$cwide" "an old cache is narrowed to owner-only at mount"
expect_errno "Permission denied" runuser -u "$OTHER" -- cat "$cblob"
sv_umount "$T/rmnt"
kill -TERM "$SERVER_PID"
sv_wait_gone "$SERVER_PID" 10 && wait "$SERVER_PID"
