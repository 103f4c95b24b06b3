#!/usr/bin/env bash
#
# t_remote_reval — remote mounts revalidate expired folder listings
# (If-None-Match / 304, docs/api.md "Revalidating a listing").
#
# Proves, with two mounts of one user on a real `sievefs serve` (meta_ttl=1):
# after the TTL, re-reading an unchanged folder on mount B costs one
# conditional listing answered 304 and no lookup by name (the records primed
# from the listing were refreshed with it), and the bytes are right; a file
# created, overwritten (same size) or removed on mount A shows on B within
# the TTL (the folder's ETag moved: a 200 and a new listing); the mount's own
# changes are seen at once. The request lines come from B's own debug log
# (-d), the client's "remote: GET PATH: STATUS" lines: nothing is added for
# the test. No wall-clock time is asserted; the sleeps only wait out TTLs.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl cmp grep fusermount3

port=$(free_port) || die "no free port"
url=http://127.0.0.1:$port
mkdir -p "$T/store"
new_token alice "$T/alice.tok" >/dev/null || die "token create failed"
start_server "$port" || die "sievefs serve did not come up on $url"
note "server pid $SERVER_PID on $url"

A=$T/mntA B=$T/mntB
sv_mount "$url" "$A" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheA" \
	-o meta_ttl=1 || die "mount A failed"
ok "mkdir a dataset on A" mkdir "$A/ds" || die "no dataset"
src=$T/src
sv_gen_tree "$src" 30 4000 7 || die "could not generate files"
mkdir -p "$T/flat"
find "$src" -type f -exec cp {} "$T/flat/" \;
ok "cp 30 files into one folder on A" mkdir "$A/ds/initial-tag/d"
ok "cp the files" cp "$T/flat/." -r "$A/ds/initial-tag/d/"
nfiles=$(find "$T/flat" -type f | wc -l)

sv_mount "$url" "$B" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheB" \
	-o meta_ttl=1 -d || die "mount B failed"
LOG=${SV_MNT_LOG[$B]}
D=$B/ds/initial-tag/d

# read_all — cat every file of the folder on B (by name, no readdir).
read_all() {
	local f bad=0
	for f in "$T"/flat/*; do
		cmp -s "$f" "$D/${f##*/}" || bad=$((bad + 1))
	done
	return "$bad"
}
# since MARK — the log lines after byte offset MARK.
since() { tail -c "+$(($1 + 1))" "$LOG"; }
mark() { stat -c %s "$LOG"; }

# The folder's node number, from the server (curl with the same token).
H="Authorization: Bearer $(cat "$T/alice.tok")"
root=$(curl -sf -H "$H" "$url/v1/datasets?name=ds" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["live_root"])')
dino=$(curl -sf -H "$H" "$url/v1/nodes/$root/lookup?name=d" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["ino"])')
[[ -n $dino ]] || die "cannot find the folder's node number"

ok "first read of the folder on B ($nfiles files)" read_all
sleep 1.3          # past meta_ttl (and the kernel's half of it)
m=$(mark)
ok "the same files again, after the TTL" read_all
since "$m" >"$T/reval.log"
if grep -q "remote: GET /v1/nodes/$dino/children?limit=1000: 304\$" "$T/reval.log"; then
	pass "the expired listing was revalidated: 304 for folder $dino"
else
	fail "no 304 for the folder's listing after the TTL"
	grep 'remote: GET' "$T/reval.log" | head -n 20 | sed 's/^/    /' >&2
fi
n200=$(grep -c "remote: GET /v1/nodes/$dino/children?limit=1000: 200" "$T/reval.log")
expect_eq 0 "$n200" "the unchanged folder was not listed again"
nlook=$(grep -c "remote: GET /v1/nodes/$dino/lookup?name=" "$T/reval.log")
expect_eq 0 "$nlook" "no lookup by name: names answered from the refreshed records"

# --- changes on A show on B within the TTL: the folder's ETag moves
first=$(ls -S "$T/flat" | head -n1)      # the largest: not empty
ok "A creates new.bin" cp "$T/flat/$first" "$A/ds/initial-tag/d/new.bin"
sleep 1.3
m=$(mark)
ok "B reads new.bin" cmp "$T/flat/$first" "$D/new.bin"
ok "and the old files" read_all
since "$m" >"$T/changed.log"
expect_contains "$T/changed.log" "remote: GET /v1/nodes/$dino/children?limit=1000: 200" \
	"the changed folder was listed again (200)"

# Same size, new bytes: only the content hash differs, so only a moved
# ETag can tell B.
python3 -c 'import sys; d=bytearray(open(sys.argv[1],"rb").read()); d[0]^=0xff; open(sys.argv[2],"wb").write(d)' \
	"$T/flat/$first" "$T/changed.bin"
ok "A overwrites new.bin (same size, other bytes)" cp "$T/changed.bin" "$A/ds/initial-tag/d/new.bin"
sleep 1.8          # the metadata TTL, then the kernel's half of it
ok "B reads the new bytes of new.bin" cmp "$T/changed.bin" "$D/new.bin"

ok "A removes new.bin" rm "$A/ds/initial-tag/d/new.bin"
sleep 1.8
expect_fail "B sees new.bin gone" stat "$D/new.bin"
ok "the other files still read right on B" read_all

# --- B's own change is seen by B at once (no waiting for a 304/200)
ok "B writes mine.bin" cp "$T/flat/$first" "$D/mine.bin"
ok "B reads mine.bin at once" cmp "$T/flat/$first" "$D/mine.bin"
ok "B removes mine.bin" rm "$D/mine.bin"
expect_fail "B sees mine.bin gone at once" stat "$D/mine.bin"

# --- server down: the expired listing and its records are served stale
sleep 1.3          # B's own change dropped its records: let the kernel ask
ok "fill B's caches once more" read_all
kill_server
sleep 1.3
ok "B reads the folder with the server down" read_all
sv_umount "$B"
sv_umount "$A"
