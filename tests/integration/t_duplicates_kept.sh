#!/usr/bin/env bash
#
# t_duplicates_kept — the `duplicates` setting of a dataset is kept in the
# catalog (store/dups.c, table dups_settings; session 27), not in the
# memory of the process that took it.
#
# Proves:
#   - local mount: `max_distance=0.05 embedding=e` written, the file
#     unmounted and mounted again (a new process): the same near groups
#     (the two planted pairs), the setting line in the header unchanged;
#     then 'exact' survives a remount as well (no near groups);
#   - remote mount: the same write, then the server stopped and started
#     again on the same STORE and the mount remounted: the same groups;
#   - two servers on one catalog (each its own STORE, one PostgreSQL
#     catalog as t_serve_shared runs it), each with a remote mount: the
#     setting written through A's mount is what B's mount shows, 'exact'
#     through B is what A shows; a refusal through B (an unknown
#     embedding) fails with "Invalid argument", says why in B's `log`,
#     and leaves the setting A shows as it was.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl mountpoint fusermount3 psql

sv_modes

src=$T/src
mkdir -p "$src/a"
for i in $(seq 0 19); do printf 'file %s\n' "$i" >"$src/a/f$i.txt"; done
cp "$src/a/f3.txt" "$src/a/copy3.txt"
# f_i at (i, 0); f11 0.01 from f10, f16 0.02 from f15; the copy far off
emb() {
	printf 'filenames,embedding_0,embedding_1,labels\n'
	for i in $(seq 0 19); do
		case $i in
		11) printf 'a/f11.txt,10.01,0,0\n' ;;
		16) printf 'a/f16.txt,15,0.02,0\n' ;;
		*) printf 'a/f%s.txt,%s,0,0\n' "$i" "$i" ;;
		esac
	done
	printf 'a/copy3.txt,100,0,0\n'
}
put() { bash -c 'printf "%s\n" "$1" > "$2"' _ "$2" "$1/duplicates"; }
NEAR="# near duplicates (embedding 'e', distance <= 0.05): 2 groups, 4 files
a/f10.txt
a/f11.txt

a/f15.txt
a/f16.txt"
near() { sed -n '/^# near/,$p' "$1/duplicates"; }

setup_ds() {   # setup_ds DS: the files, the embedding, the setting
	ok "mkdir dataset" mkdir "$1" || return 1
	ok "cp -r the files in" cp -r "$src/." "$1/initial-tag/"
	emb >"$1/embeddings/e.csv" || fail "embedding upload"
	ok "max_distance=0.05 embedding=e" put "$1" "max_distance=0.05 embedding=e"
	expect_eq "$NEAR" "$(near "$1")" "the near groups are the planted pairs"
}

# ---- a local mount: unmount and mount again ----
MODE=local
L=$T/local
sv_mount "$T/lstore" "$L" || die "local mount failed"
setup_ds "$L/d"
cat "$L/d/duplicates" >"$T/before.txt"
sv_umount "$L"
sv_mount "$T/lstore" "$L" || die "local remount failed"
expect_list_eq "$T/before.txt" <(cat "$L/d/duplicates") "after a remount: the same text, near groups and all"
ok "exact" put "$L/d" "exact"
sv_umount "$L"
sv_mount "$T/lstore" "$L" || die "local remount failed"
expect_contains "$L/d/duplicates" "# near duplicates: not asked" "'exact' is kept across a remount too"
sv_umount "$L"

# ---- a remote mount: the server restarted ----
MODE=remote
R=$T/remote
remote_mount "$T/rstore" "$R" -o meta_ttl=1 || die "remote mount failed"
port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$SERVER_LOG" | tail -1)
setup_ds "$R/d"
cat "$R/d/duplicates" >"$T/before.txt"
sv_umount "$R"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
note "stopped the server (pid $SERVER_PID)"
start_server "$port" "$T/rstore" || die "the server did not come up again"
sv_mount "http://127.0.0.1:$port" "$R" -o "token_file=$T/alice.tok" \
	-o "cache_dir=$R.cache2" -o meta_ttl=1 || die "remote remount failed"
expect_list_eq "$T/before.txt" <(cat "$R/d/duplicates") "after a server restart: the same text, near groups and all"
sv_umount "$R"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null

# ---- two servers on one catalog ----
MODE=shared
shared_pg_catalog dupkept
mkdir -p "$T/a" "$T/b"
(umask 077 && "$SIEVEFS" token create --store "$T/a" --catalog "$CAT" \
	alice >"$T/shared.tok" 2>"$T/token.err") ||
	{ sv_show "$T/token.err"; stop_pg; die "token create failed"; }
serve_port "$T/a.log" "$T/a" --catalog "$CAT"
UA=$U PA=$SPID
serve_port "$T/b.log" "$T/b" --catalog "$CAT"
UB=$U PB=$SPID
MA=$T/ma MB=$T/mb
sv_mount "$UA" "$MA" -o "token_file=$T/shared.tok" -o "cache_dir=$MA.cache" \
	-o meta_ttl=1 || { stop_pg; die "mount of A failed"; }
sv_mount "$UB" "$MB" -o "token_file=$T/shared.tok" -o "cache_dir=$MB.cache" \
	-o meta_ttl=1 || { stop_pg; die "mount of B failed"; }
setup_ds "$MA/d"
for _ in $(seq 50); do [[ -e $MB/d/duplicates ]] && break; sleep 0.1; done
expect_eq "$NEAR" "$(near "$MB/d")" "B shows the setting written through A"
expect_list_eq <(cat "$MA/d/duplicates") <(cat "$MB/d/duplicates") "A and B show the same text"
before=$(cat "$MA/d/duplicates")
expect_errno "Invalid argument" put "$MB/d" "max_distance=0.5 embedding=nope"
expect_contains "$MB/d/log" "duplicates: no embedding named 'nope' (embeddings: e)" "a refusal through B: B's log says why"
expect_eq "$before" "$(cat "$MA/d/duplicates")" "a refusal through B: A's text did not change"
ok "exact through B" put "$MB/d" "exact"
expect_contains "$MA/d/duplicates" "# near duplicates: not asked" "A shows B's 'exact'"
sv_umount "$MA"
sv_umount "$MB"
kill "$PA" "$PB"
wait "$PA" "$PB" 2>/dev/null
stop_pg
