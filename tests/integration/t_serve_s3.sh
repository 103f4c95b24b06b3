#!/usr/bin/env bash
#
# t_serve_s3 — `sievefs serve --blobs s3://…` against a real Ceph RGW
# (SV_BLOBS=s3, forced here: the RGW of SV_RGW_DIR, or one started for this
# script by server_lib.sh and stopped at exit).
#
# Proves: a PUT of 40 MB is streamed to S3 (multipart) and reads back whole
# through the server's byte route, with ranges, after the read cache was
# emptied; a lying PUT (the body hashes otherwise) is refused and leaves no
# object under the hash it claimed; the bucket is private (an unsigned GET
# of a blob's key answers 403); kill -9 of the server in the middle of a
# large PUT leaves no blob, only an open multipart upload under
# PREFIX/staging/, which the next server's periodic sweep removes (its log
# says so); the same bytes sent again then store and read back. A
# server-made thumbnail is kept in the bucket too (thumbs/ab/<sha>.128):
# a server without it in STORE/thumbs (another server's view) answers the
# same bytes from the bucket's copy, and the sample's removal (its blob
# collected) removes that copy.

SV_BLOBS=s3
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl cmp head sha256sum

# s3_signed ARGS...: curl signed with the RGW's keys (on stdin, not argv);
# BODY (a file, default none) is the request's body.
s3_signed() {
	local body=${BODY:-/dev/null}
	printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" |
		curl -s -K - --aws-sigv4 "aws:amz:$S3_REGION:s3" \
			-H "x-amz-content-sha256: $(sha256sum <"$body" | cut -c1-64)" "$@"
}
# open multipart uploads under STORE's staging prefix (the query sorted
# and encoded as SigV4 signs it: curl 7.88 signs it as written)
open_uploads() {
	local p
	p=$(sv_blobs_prefix "$S")staging/
	s3_signed "$S3_ENDPOINT/$S3_BUCKET?prefix=${p//\//%2F}&uploads=" |
		grep -o '<Upload>' | wc -l
}

S=$T/store
STORE=$S new_token dave "$T/d.tok" >/dev/null || die "token create failed"
TOK=$(cat "$T/d.tok")
serve_port "$T/serve1.log" "$S" --orphan-grace 2

python3 -c 'import os,sys; sys.stdout.buffer.write(os.urandom(40 << 20))' >"$T/big.bin"
BIG=$(sha256sum "$T/big.bin" | cut -c1-64)
api "$TOK" PUT "/v1/blobs/$BIG" -T "$T/big.bin"
expect_code 201 "PUT of 40 MB to a server with S3 blobs"
sv_blob_stored "$S" "$BIG" && pass "its object is in the bucket" ||
	fail "no object under the blob's key"
[[ -z $(find "$S/blobs" -type f 2>/dev/null) ]] && pass "STORE/blobs holds no file" ||
	fail "a blob file in STORE/blobs"
rm -f "$S"/cache/blobs/*/*
api "$TOK" GET "/v1/blobs/$BIG"
expect_code 200 "it reads back through the server, its read cache empty"
cmp -s "$T/body" "$T/big.bin" && pass "the bytes are the same" || fail "the bytes differ"
api "$TOK" GET "/v1/blobs/$BIG" -r 20000000-20000999
expect_code 206 "a range of it"
cmp -s "$T/body" <(tail -c +20000001 "$T/big.bin" | head -c 1000) &&
	pass "the range's bytes are right" || fail "the range's bytes differ"

LIE=$(echo "not these bytes" | sha256sum | cut -c1-64)
api "$TOK" PUT "/v1/blobs/$LIE" -T "$T/big.bin"
expect_code 400 "a lying PUT (the body hashes otherwise)"
sv_blob_stored "$S" "$LIE" && fail "an object under the claimed hash" ||
	pass "no object under the claimed hash"

code=$(curl -s -o /dev/null -w '%{http_code}' \
	"$S3_ENDPOINT/$S3_BUCKET/$(sv_blobs_prefix "$S")blobs/${BIG:0:2}/$BIG")
[[ $code == 403 ]] && pass "an unsigned GET of the blob's key: 403 (the bucket is private)" ||
	fail "an unsigned GET of the blob's key answered $code"

# kill -9 in the middle of a large PUT: only staging is left
python3 -c 'import os,sys; sys.stdout.buffer.write(os.urandom(48 << 20))' >"$T/cut.bin"
CUT=$(sha256sum "$T/cut.bin" | cut -c1-64)
curl -s -o /dev/null --limit-rate 8M -H "Authorization: Bearer $TOK" \
	-T "$T/cut.bin" "$U/v1/blobs/$CUT" &
CURL=$!
n=0
for _ in $(seq 150); do   # a part (16 MiB) is sent after ~2 s
	n=$(open_uploads)
	((n > 0)) && break
	sleep 0.2
done
((n > 0)) && pass "a multipart upload is open while the body streams in" ||
	fail "no multipart upload opened during a 48 MB PUT"
kill -9 "$SPID"
wait "$SPID" 2>/dev/null
wait "$CURL" 2>/dev/null
sv_blob_stored "$S" "$CUT" && fail "a blob of the cut upload" ||
	pass "the cut upload left no blob"
((n > 0)) && (($(open_uploads) > 0)) && pass "its multipart upload is left open in staging" ||
	fail "no staging left to sweep"

sleep 3      # older than the grace
serve_port "$T/serve2.log" "$S" --orphan-grace 2
for _ in $(seq 100); do
	(($(open_uploads) == 0)) && break
	sleep 0.2
done
(($(open_uploads) == 0)) && pass "the next server's sweep removed the staging" ||
	fail "staging left 20 s after a 2 s grace"
grep -q "upload(s) left unfinished" "$T/serve2.log" &&
	pass "its log says what the sweep removed" ||
	{ fail "no sweep line in the log"; sv_show "$T/serve2.log"; }
api "$TOK" PUT "/v1/blobs/$CUT" -T "$T/cut.bin"
expect_code 201 "the same bytes sent again"
rm -f "$S"/cache/blobs/*/*
api "$TOK" GET "/v1/blobs/$CUT"
cmp -s "$T/body" "$T/cut.bin" && pass "and read back whole" || fail "they read back otherwise"

# a thumbnail, kept in the bucket too
/usr/bin/python3 -c '
import sys
from PIL import Image
im = Image.new("RGB", (640, 480))
im.putdata([(x % 256, y % 256, (x * y) % 256) for y in range(480) for x in range(640)])
im.save(sys.argv[1], quality=90)' "$T/photo.jpg" || die "python3 with PIL needed (python3-pil)"
PH=$(sha256sum "$T/photo.jpg" | cut -c1-64)
api "$TOK" POST /v1/datasets -d '{"name":"pics"}'
expect_code 201 "a dataset"
ROOT=$(jget '["live_root"]')
api "$TOK" PUT "/v1/blobs/$PH" -T "$T/photo.jpg"
api "$TOK" POST "/v1/nodes/$ROOT/children" -d '{"name":"p.jpg","kind":2,"mode":420}'
INO=$(jget '["ino"]')
api "$TOK" PUT "/v1/nodes/$INO/content" -d "{\"sha256\":\"$PH\",\"size\":$(stat -c %s "$T/photo.jpg")}"
expect_code 200 "an image committed"
api "$TOK" GET "/v1/nodes/$INO/thumbnail"
expect_code 200 "its thumbnail"
cp "$T/body" "$T/thumb1"
thumb_key="$(sv_blobs_prefix "$S")thumbs/${PH:0:2}/$PH.128"
code=$(s3_signed -I -o /dev/null -w '%{http_code}' "$S3_ENDPOINT/$S3_BUCKET/$thumb_key")
[[ $code == 200 ]] && pass "the thumbnail is kept in the bucket too" ||
	fail "no thumbnail object in the bucket ($code)"
rm -rf "$S/thumbs"
api "$TOK" GET "/v1/nodes/$INO/thumbnail"
expect_code 200 "the thumbnail again, STORE/thumbs emptied (another server's view)"
cmp -s "$T/body" "$T/thumb1" && pass "the same bytes" || fail "the thumbnail differs"
# it comes from the bucket: another JPEG planted there is what is served
/usr/bin/python3 -c '
import sys
from PIL import Image
Image.new("RGB", (96, 72), (200, 30, 30)).save(sys.argv[1], quality=80)' "$T/planted.jpg"
code=$(BODY=$T/planted.jpg s3_signed -X PUT -o /dev/null -w '%{http_code}' \
	--data-binary @"$T/planted.jpg" "$S3_ENDPOINT/$S3_BUCKET/$thumb_key")
[[ $code == 200 ]] || fail "planting a thumbnail in the bucket answered $code"
rm -rf "$S/thumbs"
api "$TOK" GET "/v1/nodes/$INO/thumbnail"
expect_code 200 "the thumbnail with STORE/thumbs emptied again"
cmp -s "$T/body" "$T/planted.jpg" && pass "it is the bucket's copy (the one planted there)" ||
	fail "not the bucket's copy: made again from the image"
api "$TOK" DELETE "/v1/nodes/$ROOT/children?name=p.jpg&is_dir=0"
code=$(s3_signed -I -o /dev/null -w '%{http_code}' "$S3_ENDPOINT/$S3_BUCKET/$thumb_key")
[[ $code == 404 ]] && pass "the sample's removal removed the thumbnail's object" ||
	fail "the thumbnail's object is still there ($code)"

kill "$SPID"
wait "$SPID" 2>/dev/null
rm -f "$T/big.bin" "$T/cut.bin"
