#!/usr/bin/env bash
#
# t_remote_two — several remote mounts on one machine work with the default
# cache (no -o cache_dir): one cache per server and user.
#
# Proves: with HOME a fresh folder (so the default is $HOME/.cache/sievefs),
# two servers on loopback (two stores) and two users of one of them give
# three mounts at once that all mount, take files in and read them back
# (diff -r, also after a remount with a cold kernel cache); each has its own
# cache directory, which names its server and user in `source` and holds
# nothing of the token (in path or content); a second mount of the same
# server and user at once is refused with a message naming the PID that
# holds the cache and -o cache_dir; an upload=meta mount's pinned files stay
# readable by a later mount of the same server and user (same default
# cache); pinned files of the cache root's old layout (the
# default before, still given explicitly here) are taken in by the new
# per-server cache, so upgrading loses no upload=meta bytes.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl diff grep find mountpoint fusermount3

export HOME=$T/home
unset XDG_CACHE_HOME
mkdir -p "$HOME"
root=$HOME/.cache/sievefs

# Two stores, two servers. Tokens first (the stores' owners are then the
# servers).
mkdir -p "$T/s1" "$T/s2"
STORE=$T/s1 new_token alice "$T/a1.tok" >/dev/null || die "token create failed"
STORE=$T/s1 new_token bob "$T/b1.tok" >/dev/null || die "token create failed"
STORE=$T/s2 new_token alice "$T/a2.tok" >/dev/null || die "token create failed"
p1=$(free_port) || die "no free port"
start_server "$p1" "$T/s1" || die "server 1 did not come up"
pid1=$SERVER_PID
p2=$(free_port) || die "no free port"
start_server "$p2" "$T/s2" || die "server 2 did not come up"
u1=http://127.0.0.1:$p1
u2=http://127.0.0.1:$p2

sv_gen_tree "$T/src1" 60 20000 11 || die "could not generate files"
sv_gen_tree "$T/src2" 60 20000 22 || die "could not generate files"
sv_gen_tree "$T/src3" 60 20000 33 || die "could not generate files"

# --- three mounts at once, no cache_dir
sv_mount "$u1" "$T/a1" -o "token_file=$T/a1.tok" || die "alice@1 failed to mount"
sv_mount "$u1" "$T/b1" -o "token_file=$T/b1.tok" || die "bob@1 failed to mount (same server, other user)"
sv_mount "$u2" "$T/a2" -o "token_file=$T/a2.tok" -o upload=meta ||
	die "alice@2 failed to mount (other server, same user name)"
ok "alice@1: mkdir a dataset" mkdir "$T/a1/ds"
ok "bob@1: mkdir a dataset" mkdir "$T/b1/ds"
ok "alice@2: mkdir a dataset" mkdir "$T/a2/ds"
ok "alice@1: cp -r in" cp -r "$T/src1/." "$T/a1/ds/initial-tag/"
ok "bob@1: cp -r in" cp -r "$T/src2/." "$T/b1/ds/initial-tag/"
ok "alice@2 (upload=meta): cp -r in" cp -r "$T/src3/." "$T/a2/ds/initial-tag/"
expect_tree_eq "$T/src1" "$T/a1/ds/initial-tag" "alice@1 reads her files back"
expect_tree_eq "$T/src2" "$T/b1/ds/initial-tag" "bob@1 reads his files back"
expect_tree_eq "$T/src3" "$T/a2/ds/initial-tag" "alice@2 reads her (pinned) files back"

# --- the caches: one per server and user, nothing of the token
mapfile -t caches < <(find "$root" -mindepth 2 -maxdepth 2 -name source -printf '%h\n' | sort)
expect_eq 3 "${#caches[@]}" "three cache directories under \$HOME/.cache/sievefs"
for c in "${caches[@]}"; do paste -d' ' - - <"$c/source"; done >"$T/sources"
for want in "server: $u1 user: alice" "server: $u1 user: bob" "server: $u2 user: alice"; do
	expect_line "$T/sources" "$want" "a cache's source file says '$want'"
done
leak=0
for tok in "$T/a1.tok" "$T/b1.tok" "$T/a2.tok"; do
	t=$(cat "$tok")
	find "$root" | grep -qF -- "${t#svf_}" && leak=1
	grep -rqF -- "${t#svf_}" "$root" && leak=1
	h=$(printf '%s' "$t" | sha256sum | cut -c1-16)
	find "$root" | grep -qF -- "$h" && leak=1
done
expect_eq 0 "$leak" "no cache path or file holds a token or the start of its hash"
npinned=$(find "$root" -path '*/pinned/*' -type f | wc -l)
nmeta=$(cd "$T/src3" && find . -type f -exec sha256sum {} + | cut -d' ' -f1 | sort -u | wc -l)
expect_eq "$nmeta" "$npinned" "the upload=meta mount pinned each distinct content once"

# --- a second mount of the same server and user at once: told why
mkdir -p "$T/a1bis"
timeout 20 "$SIEVEFS" "$u1" "$T/a1bis" -f -o "token_file=$T/a1.tok" \
	</dev/null >"$T/a1bis.out" 2>&1
rc=$?
if ((rc == 0 || rc == 124)); then
	fail "a second mount of alice@1 with the default cache: exit $rc"
	sv_is_mounted "$T/a1bis" && fusermount3 -u "$T/a1bis"
elif grep -qF "PID $(sv_daemon_pid "$T/a1")" "$T/a1bis.out" &&
	grep -qF -- "-o cache_dir=" "$T/a1bis.out"; then
	pass "a second mount of alice@1 is refused, naming the PID and -o cache_dir ($(head -c 200 "$T/a1bis.out"))"
else
	fail "a second mount of alice@1: the message does not name PID $(sv_daemon_pid "$T/a1") and -o cache_dir"
	sv_show "$T/a1bis.out"
fi
sv_mount "$u1" "$T/a1bis" -o "token_file=$T/a1.tok" -o "cache_dir=$T/own" &&
	expect_tree_eq "$T/src1" "$T/a1bis/ds/initial-tag" "the extra mount with its own cache reads alice's files"
sv_umount "$T/a1bis"

# --- remount: the same default cache again (pinned bytes included)
sv_umount "$T/a2"
sv_umount "$T/a1"
sv_mount "$u2" "$T/a2" -o "token_file=$T/a2.tok" || die "alice@2 failed to mount again"
expect_tree_eq "$T/src3" "$T/a2/ds/initial-tag" \
	"alice@2's upload=meta files stay readable by her next mount (default cache)"
sv_mount "$u1" "$T/a1" -o "token_file=$T/a1.tok" || die "alice@1 failed to mount again"
expect_tree_eq "$T/src1" "$T/a1/ds/initial-tag" "alice@1 reads her files after a remount"
expect_eq 3 "$(find "$root" -mindepth 2 -maxdepth 2 -name source | wc -l)" \
	"the remounts reused their caches (still three)"
sv_umount "$T/a2"

# --- the old layout: pinned bytes in the root itself are taken in
sv_mount "$u2" "$T/old" -o "token_file=$T/a2.tok" -o "cache_dir=$root" \
	-o upload=meta || die "a mount on the old default layout failed"
ok "mkdir a dataset through the old layout" mkdir "$T/old/legacy"
printf 'only on this machine\n' >"$T/legacy.txt"
ok "cp an upload=meta file in (pinned in the root's own pinned/)" \
	cp "$T/legacy.txt" "$T/old/legacy/initial-tag/legacy.txt"
sv_umount "$T/old"
ok "the root holds it in pinned/ (the old layout)" \
	test -n "$(find "$root/pinned" -type f)"
sv_mount "$u2" "$T/a2" -o "token_file=$T/a2.tok" || die "alice@2 failed to mount (after the old layout)"
ok "the default cache reads the old layout's pinned file" \
	cmp "$T/legacy.txt" "$T/a2/legacy/initial-tag/legacy.txt"
expect_tree_eq "$T/src3" "$T/a2/ds/initial-tag" "and still every file of its own"
sv_umount "$T/a2"

ok "bob@1 still reads his own files" diff -r "$T/src2" "$T/b1/ds/initial-tag"
sv_umount "$T/b1"
sv_umount "$T/a1"
note "server 1 pid $pid1, server 2 pid $SERVER_PID"
