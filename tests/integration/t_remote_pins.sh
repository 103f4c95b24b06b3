#!/usr/bin/env bash
#
# t_remote_pins — bytes pinned by `-o upload=meta` follow the samples that
# need them (issue 16, item 8: deleted samples left 21.5 MB pinned for
# ever, and a full cache disk failed every later upload).
#
# Proves, against a real `sievefs serve`, with an upload=meta mount A:
# - 20 × 1 MiB copied in are pinned; removing them releases their pins at
#   once (the cache's pinned/ shrinks to what is still needed);
# - a file still in a frozen tag keeps its pin through its removal from
#   initial-tag and a remount, and reads back identical from the tag;
# - a file removed by another mount of the same user (B, its own cache)
#   while A was unmounted has its pin released when A mounts again;
# - deleting the tag releases the last pin: pinned/ holds 0 bytes.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl cmp find awk head mountpoint fusermount3

mkdir -p "$T/store" "$T/src"
new_token alice "$T/alice.tok" >/dev/null || die "token create failed"
port=$(free_port) || die "no free port"
start_server "$port" || die "sievefs serve did not come up"
url=http://127.0.0.1:$port
A=$T/a
B=$T/b

mount_a() {
	sv_mount "$url" "$A" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheA" \
		-o meta_ttl=1 -o upload=meta || die "upload=meta mount failed"
}
# pinned_bytes: the bytes of the files under A's cache's pinned/ folder
pinned_bytes() {
	find "$T/cacheA" -path '*/pinned/*' -type f -printf '%s\n' 2>/dev/null |
		awk '{ s += $1 } END { print s + 0 }'
}

for i in $(seq 20); do
	head -c 1048576 /dev/urandom >"$T/src/f$i.bin"
done
head -c 1048576 /dev/urandom >"$T/src/keep.bin"
head -c 1048576 /dev/urandom >"$T/src/other.bin"

mount_a
ok "mkdir a dataset" mkdir "$A/p"
ok "cp keep.bin in" cp "$T/src/keep.bin" "$A/p/initial-tag/"
ok "freeze it as tag v1" mkdir "$A/p/v1"
ok "cp 20 x 1 MiB in (upload=meta)" cp "$T/src/"f*.bin "$A/p/initial-tag/"
got=$(pinned_bytes)
if ((got >= 21 * 1048576)); then
	pass "21 MiB pinned after the copies ($got bytes)"
else
	fail "expected at least 21 MiB pinned, got $got bytes"
fi
ok "rm the 20 files and keep.bin from initial-tag" \
	rm "$A/p/initial-tag/"f*.bin "$A/p/initial-tag/keep.bin"
got=$(pinned_bytes)
expect_eq 1048576 "$got" "right after rm only keep.bin (in tag v1) stays pinned"
sv_umount "$A"

mount_a
expect_eq 1048576 "$(pinned_bytes)" "after a remount keep.bin is still pinned"
ok "keep.bin reads back identical from frozen tag v1" \
	cmp "$T/src/keep.bin" "$A/p/v1/keep.bin"
ok "cp other.bin in" cp "$T/src/other.bin" "$A/p/initial-tag/"
expect_eq 2097152 "$(pinned_bytes)" "other.bin is pinned too"
sv_umount "$A"

# another mount of the same user, with its own cache, removes other.bin
sv_mount "$url" "$B" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheB" \
	-o meta_ttl=1 || die "second mount failed"
ok "rm other.bin through the other mount" rm "$B/p/initial-tag/other.bin"
sv_umount "$B"

mount_a
expect_eq 1048576 "$(pinned_bytes)" \
	"mounting A again released other.bin's pin, kept keep.bin's"
expect_contains "${SV_MNT_LOG[$A]}" "released 1 of 2 pinned" \
	"the mount's log says what it released"
ok "keep.bin still reads back identical" cmp "$T/src/keep.bin" "$A/p/v1/keep.bin"
ok "rmdir tag v1" rmdir "$A/p/v1"
expect_eq 0 "$(pinned_bytes)" "with the tag gone nothing stays pinned"
sv_umount "$A"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
