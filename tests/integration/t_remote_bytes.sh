#!/usr/bin/env bash
#
# t_remote_bytes — a small file's bytes and commit in one request
# (PUT /v1/nodes/{id}/bytes?sha256=HEX, issue 20), which a remote mount
# uses for files up to 256 KiB.
#
# Proves, with curl against `sievefs serve` (on every catalog and blob
# engine the suite runs with): the PUT answers 200 with the committed node
# (sha, size, the mtime_ns asked), the blob is stored and reads back; the
# same PUT again changes nothing. Each refusal gives its message and
# changes nothing — the node keeps its committed bytes, no blob is kept:
# a body that does not hash to sha256 (400 hash_mismatch), no sha256 or a
# malformed one (400), a bad durable or mtime_ns (400), a folder (400
# not_a_file), a file of a frozen tag (403 read_only), a node that does
# not exist (404), bob's PUT to alice's node
# (404, as if absent; her node unchanged, and he gets no right to the
# bytes), a body over the server's --upload-cap (507 upload_quota).
# Through a remote mount: cp of a 3 KiB and a 300 KiB file (the one
# request and the three) read back identical, on a fresh mount too.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl python3 sha256sum cmp mountpoint fusermount3

mkdir -p "$T/store"
new_token alice "$T/alice.tok" >/dev/null || die "token create failed"
new_token bob "$T/bob.tok" >/dev/null || die "token create failed"
TA=$(cat "$T/alice.tok")
TB=$(cat "$T/bob.tok")
port=$(free_port) || die "no free port"
U=http://127.0.0.1:$port
# a small cap on uploads no node names, so one refusal is the quota's
start_server "$port" "$T/store" --upload-cap 400000 ||
	die "sievefs serve did not come up"
J=(-H 'Content-Type: application/json')
O=(-H 'Content-Type: application/octet-stream')

api "$TA" POST /v1/datasets "${J[@]}" -d '{"name":"b"}'
expect_code 201 "create a dataset"
ROOT=$(jget '["live_root"]')
DSID=$(jget '["id"]')
api "$TA" POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"f.bin","kind":2}'
expect_code 201 "create a file"
INO=$(jget '["ino"]')
api "$TA" POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"dir","kind":1}'
expect_code 201 "create a folder"
DIR=$(jget '["ino"]')

python3 -c 'import os,sys; open(sys.argv[1],"wb").write(os.urandom(3000))' "$T/a"
python3 -c 'import os,sys; open(sys.argv[1],"wb").write(os.urandom(2000))' "$T/other"
SA=$(sha256sum "$T/a" | cut -c1-64)
SO=$(sha256sum "$T/other" | cut -c1-64)

# ---- the one request
api "$TA" PUT "/v1/nodes/$INO/bytes?sha256=$SA&mtime_ns=1500000000000000000&durable=1" \
	"${O[@]}" --data-binary "@$T/a"
expect_code 200 "PUT bytes of a small file"
expect_eq "$(jget '["sha"]')" "$SA" "the answer is the committed node (sha256)"
expect_eq "$(jget '["size"]')" 3000 "the answer is the committed node (size)"
expect_eq "$(jget '["mtime_ns"]')" 1500000000000000000 "mtime_ns as asked"
sv_blob_stored "$T/store" "$SA" && pass "the blob is stored" || fail "blob $SA not stored"
api "$TA" GET "/v1/blobs/$SA"
expect_code 200 "the blob reads back"
cmp -s "$T/body" "$T/a" && pass "its bytes are the file's" || fail "the blob's bytes differ"
api "$TA" GET "/v1/nodes/$INO"
cp "$T/body" "$T/node.before"
api "$TA" PUT "/v1/nodes/$INO/bytes?sha256=$SA&mtime_ns=1500000000000000000" \
	"${O[@]}" --data-binary "@$T/a"
expect_code 200 "the same PUT again"
api "$TA" GET "/v1/nodes/$INO"
expect_eq "$(jget '["sha"]')/$(jget '["size"]')/$(jget '["mtime_ns"]')" \
	"$SA/3000/1500000000000000000" "the same PUT again: the same node"

# unchanged NAME: the node still holds a's bytes, the blob of `other` was
# never kept
unchanged() {
	api "$TA" GET "/v1/nodes/$INO"
	expect_eq "$(jget '["sha"]')/$(jget '["size"]')" "$SA/3000" "$1: the node keeps its bytes"
	if sv_blob_stored "$T/store" "$SO"; then
		fail "$1: a blob was kept"
	else
		pass "$1: no blob kept"
	fi
}
refused() { # CODE ERROR-CODE WHAT
	expect_code "$1" "$3"
	expect_contains "$T/body" "\"$2\"" "$3: says $2"
	unchanged "$3"
}

# ---- refusals: each says why and changes nothing
api "$TA" PUT "/v1/nodes/$INO/bytes?sha256=$SA" "${O[@]}" --data-binary "@$T/other"
refused 400 hash_mismatch "a body that does not hash to sha256"
api "$TA" PUT "/v1/nodes/$INO/bytes" "${O[@]}" --data-binary "@$T/other"
refused 400 bad_json "no sha256"
api "$TA" PUT "/v1/nodes/$INO/bytes?sha256=xyz" "${O[@]}" --data-binary "@$T/other"
refused 400 bad_json "a malformed sha256"
api "$TA" PUT "/v1/nodes/$INO/bytes?sha256=$SO&durable=yes" "${O[@]}" --data-binary "@$T/other"
refused 400 bad_json "durable=yes"
api "$TA" PUT "/v1/nodes/$INO/bytes?sha256=$SO&mtime_ns=soon" "${O[@]}" --data-binary "@$T/other"
refused 400 bad_json "mtime_ns=soon"
api "$TA" PUT "/v1/nodes/$DIR/bytes?sha256=$SO" "${O[@]}" --data-binary "@$T/other"
refused 400 not_a_file "a folder"
api "$TA" PUT "/v1/nodes/999999/bytes?sha256=$SO" "${O[@]}" --data-binary "@$T/other"
refused 404 not_found "a node that does not exist"
api "$TB" PUT "/v1/nodes/$INO/bytes?sha256=$SO" "${O[@]}" --data-binary "@$T/other"
refused 404 not_found "bob's PUT to alice's node"
api "$TB" GET "/v1/blobs/$SA"
expect_code 404 "bob still cannot read alice's blob"
api "$TA" POST "/v1/datasets/$DSID/tags" "${J[@]}" -d '{"name":"t1"}'
expect_code 201 "freeze a tag"
TROOT=$(jget '["root"]')
api "$TA" GET "/v1/nodes/$TROOT/lookup?name=f.bin"
expect_code 200 "the file in the frozen tag"
FROZEN=$(jget '["ino"]')
api "$TA" PUT "/v1/nodes/$FROZEN/bytes?sha256=$SO" "${O[@]}" --data-binary "@$T/other"
refused 403 read_only "a file of a frozen tag"
api "$TA" GET "/v1/nodes/$FROZEN"
expect_eq "$(jget '["sha"]')" "$SA" "the frozen file keeps its bytes"
python3 -c 'import os,sys; open(sys.argv[1],"wb").write(os.urandom(500000))' "$T/big"
SB=$(sha256sum "$T/big" | cut -c1-64)
api "$TA" PUT "/v1/nodes/$INO/bytes?sha256=$SB" "${O[@]}" --data-binary "@$T/big"
refused 507 upload_quota "a body over --upload-cap"
sv_blob_stored "$T/store" "$SB" && fail "the body over the cap was kept" ||
	pass "the body over the cap was not kept"

# ---- through a remote mount: one request up to 256 KiB, three above
M=$T/mnt
sv_mount "$U" "$M" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cache" -o meta_ttl=1 ||
	die "remote mount failed"
python3 -c 'import os,sys; open(sys.argv[1],"wb").write(os.urandom(300 << 10))' "$T/photo"
ok "cp of a 3 KiB file" cp "$T/a" "$M/b/initial-tag/small.bin"
ok "cp of a 300 KiB file" cp "$T/photo" "$M/b/initial-tag/photo.bin"
cmp -s "$T/a" "$M/b/initial-tag/small.bin" && pass "the small file reads back" ||
	fail "small.bin differs"
cmp -s "$T/photo" "$M/b/initial-tag/photo.bin" && pass "the 300 KiB file reads back" ||
	fail "photo.bin differs"
sv_umount "$M"
sv_mount "$U" "$M" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cache2" -o meta_ttl=1 ||
	die "remote remount failed"
cmp -s "$T/a" "$M/b/initial-tag/small.bin" && pass "a fresh mount reads the small file" ||
	fail "small.bin differs on a fresh mount"
cmp -s "$T/photo" "$M/b/initial-tag/photo.bin" && pass "a fresh mount reads the 300 KiB file" ||
	fail "photo.bin differs on a fresh mount"
sv_umount "$M"

