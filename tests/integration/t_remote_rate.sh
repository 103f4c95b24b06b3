#!/usr/bin/env bash
#
# t_remote_rate — a remote mount against a server whose per-user request
# budget it exceeds (issue 11, item 6: `sievefs serve --user-rate`).
#
# Proves: with --user-rate 5/1 (bursts of 5, 5 requests per second) a mount
# still takes 12 files in and gives them back intact (cp, cmp): the server
# answered 429 with Retry-After (its log says the user went over) and the
# client waited and retried instead of failing the operations with EAGAIN.
# The server is started and stopped by PID.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl cmp grep mountpoint fusermount3

mkdir -p "$T/store"
new_token alice "$T/alice.tok" >/dev/null || die "token create failed"
port=$(free_port) || die "no free port"
"$SIEVEFS" serve "$T/store" --listen "127.0.0.1:$port" --user-rate 5/1 \
	>"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
SV_BG+=("$SERVER_PID")
for _ in $(seq 100); do
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/whoami")
	[[ $code == 401 ]] && break
	sleep 0.1
done
expect_eq 401 "$code" "the server is up"

M=$T/mnt
sv_mount "http://127.0.0.1:$port" "$M" -o "token_file=$T/alice.tok" \
	-o "cache_dir=$T/cache" || die "remote mount failed"
ok "mkdir a dataset" mkdir "$M/rate"
mkdir -p "$T/src"
for i in $(seq 12); do
	head -c $((1000 + i)) /dev/urandom >"$T/src/f$i.bin"
done
ok "cp 12 files in (about 4 requests each)" cp "$T/src/"*.bin "$M/rate/initial-tag/"
n=0
for i in $(seq 12); do
	cmp -s "$T/src/f$i.bin" "$M/rate/initial-tag/f$i.bin" && n=$((n + 1))
done
expect_eq 12 "$n" "all 12 read back intact"
expect_contains "$SERVER_LOG" "over --user-rate" "the server did answer 429 on the way"
sv_umount "$M"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
