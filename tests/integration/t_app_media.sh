#!/usr/bin/env bash
#
# t_app_media — GET /v1/nodes/{ino}/thumbnail and /image (docs/api.md,
# "Thumbnails and images") against a real `sievefs serve` on loopback, with
# samples copied in through real remote mounts.
#
# Proves: the thumbnail of a JPEG (baseline and progressive), a PNG and a
# WebP sample is a JPEG (read
# back with PIL) whose longest side is 128 with the aspect kept, with
# ETag "t<sha of the bytes>" and Cache-Control private, no-cache; a
# request naming the ETag gets 304; the cached thumbnail is served from
# STORE/thumbs without decoding (the cache file is untouched by a second
# request, and a different JPEG put in its place is what the server then
# answers); 8 concurrent first requests for one thumbnail all get the same
# whole JPEG and leave one cache file and no temp file; a text file, a
# truncated JPEG and a 20000x20000 PNG header bomb get the "not-image" SVG
# placeholder (the server keeps serving, the outcome is cached too); a
# folder (not_a_file), an upload not committed yet (pending), another
# user's node and an absent ino are 404 (the last two alike, and nothing is
# made for another user's node), and another user
# who sends a kept commit naming alice's hash gets the "kept" placeholder,
# not her thumbnail; an upload=meta sample gets the "kept" placeholder and
# its /image is 404 bytes_kept_by_uploader; an upload=thumbnails sample gets
# the thumbnail its mount sent (ETag of that blob, 128 px); /image gives
# the right Content-Type for jpeg/png/webp/other, an RFC 6266 filename* for
# a non-ASCII name, a Range answer of the right bytes, 416 past the end;
# removing the last node naming a blob removes its cached thumbnail; a
# restart drops a stale cache file and a leftover temp file.
# The server is started and stopped by PID (also in the trap).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl sha256sum grep mountpoint fusermount3
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
"$PY" -c 'import PIL.Image, PIL.features; assert PIL.features.check("webp")' \
	2>/dev/null || die "$PY cannot import PIL with WebP (apt-get install python3-pil)"

STORE=$T/store
serve_alice
new_token bob "$T/bob.tok" >/dev/null || die "token create failed"
TA=$(cat "$T/alice.tok")
TB=$(cat "$T/bob.tok")
note "server pid $SERVER_PID on $U"

# get TOKEN PATH OUT [curl args] — status into $code, headers into OUT.h
get() {
	local tok=$1 path=$2 out=$3
	shift 3
	rm -f "$out"
	code=$(curl -s -o "$out" -D "$out.h" -w '%{http_code}' \
		-H "Authorization: Bearer $tok" "$@" "$U$path")
}
# hdr FILE NAME — the value of header NAME in a curl -D dump
hdr() { sed -n "s/^$2: *//Ip" "$1" | tr -d '\r' | tail -n1; }
expect_code() { expect_eq "$2" "$code" "$1"; }

# --- samples
S=$T/src
mkdir -p "$S/sub"
"$PY" - "$S" <<'EOF' || die "could not make the samples"
import struct, sys, zlib
from PIL import Image
d = sys.argv[1]
def grad(w, h, mode="RGB"):
    im = Image.new(mode, (w, h))
    im.putdata([((x * 255) // w, (y * 255) // h, 90, 200)[:len(mode)]
                for y in range(h) for x in range(w)])
    return im
grad(640, 480).save(d + "/photo.jpg", quality=90)
grad(480, 640).save(d + "/prog.jpg", quality=90, progressive=True)
grad(300, 200, "RGBA").save(d + "/pic.png")
grad(200, 300).save(d + "/pic.webp", quality=80)
grad(90, 60).save(d + "/gc.png")
grad(400, 100).save(d + "/race.jpg")
grad(50, 40).save(d + "/sub/na\u00efve \u00e9.jpg")
open(d + "/notes.txt", "w").write("just some text, not an image\n" * 20)
b = open(d + "/photo.jpg", "rb").read()
open(d + "/trunc.jpg", "wb").write(b[: len(b) // 2])
def chunk(t, data):
    return struct.pack(">I", len(data)) + t + data + \
        struct.pack(">I", zlib.crc32(t + data) & 0xffffffff)
ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
open(d + "/bomb.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
    chunk(b"IDAT", zlib.compress(b"\0" * 60001)) + chunk(b"IEND", b""))
EOF
sha() { sha256sum "$1" | cut -d' ' -f1; }

A=$T/mntA
sv_mount "$U" "$A" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheA" \
	-o meta_ttl=1 || die "remote mount failed"
ok "mkdir dataset d" mkdir "$A/d"
ok "cp -r the samples into the mount" cp -r "$S/." "$A/d/initial-tag/"

# ino NAME [PARENT-INO] TOKEN DATASET — a node's ino through the API
json() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))$1)" "$2"; }
get "$TA" "/v1/datasets?name=d" "$T/ds.json"
ROOT=$(json '["live_root"]' "$T/ds.json") || die "no dataset d"
ino() {   # ino NAME [PARENT]
	get "$TA" "/v1/nodes/${2:-$ROOT}/lookup?name=$("$PY" -c \
		'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1")" "$T/n.json"
	json '["ino"]' "$T/n.json"
}
I_JPG=$(ino photo.jpg); I_PNG=$(ino pic.png); I_WEBP=$(ino pic.webp)
I_TXT=$(ino notes.txt); I_TRUNC=$(ino trunc.jpg); I_BOMB=$(ino bomb.png)
I_PROG=$(ino prog.jpg); I_GC=$(ino gc.png); I_RACE=$(ino race.jpg); I_SUB=$(ino sub)
I_NAIVE=$(ino "naïve é.jpg" "$I_SUB")
[[ -n $I_JPG && -n $I_NAIVE ]] || die "could not look the samples up"

# thumb_ok DESC INO W H — 200 image/jpeg, PIL reads a JPEG of W x H
thumb_ok() {
	get "$TA" "/v1/nodes/$2/thumbnail" "$T/th"
	expect_code "$1: 200" 200
	expect_eq "image/jpeg" "$(hdr "$T/th.h" Content-Type)" "$1: image/jpeg"
	expect_eq "JPEG $3x$4" "$("$PY" -c 'import sys; from PIL import Image
im = Image.open(sys.argv[1]); print(im.format, "%dx%d" % im.size)' "$T/th")" \
		"$1: a $3x$4 JPEG (longest side 128, aspect kept)"
}

# --- thumbnails of each format
thumb_ok "jpeg 640x480" "$I_JPG" 128 96
expect_eq "\"t$(sha "$S/photo.jpg")\"" "$(hdr "$T/th.h" ETag)" \
	"the ETag is t + the sha of the bytes"
expect_eq "private, no-cache" "$(hdr "$T/th.h" Cache-Control)" \
	"Cache-Control private, no-cache"
ETAG=$(hdr "$T/th.h" ETag)
cp "$T/th" "$T/photo.thumb"
thumb_ok "png 300x200 RGBA" "$I_PNG" 128 85
thumb_ok "webp 200x300" "$I_WEBP" 85 128
thumb_ok "progressive jpeg 480x640" "$I_PROG" 96 128

# --- 304 and the cache
get "$TA" "/v1/nodes/$I_JPG/thumbnail" "$T/th" -H "If-None-Match: $ETAG"
expect_code "If-None-Match: the ETag -> 304" 304
expect_eq "$ETAG" "$(hdr "$T/th.h" ETag)" "the 304 carries the ETag"
expect_eq 0 "$(stat -c %s "$T/th" 2>/dev/null || echo 0)" "the 304 has no body"
H=$(sha "$S/photo.jpg")
CF=$STORE/thumbs/${H:0:2}/$H.128
ok "the thumbnail is cached in STORE/thumbs by the bytes' sha" test -f "$CF"
ok "the cache file is what was answered" cmp "$CF" "$T/photo.thumb"
before=$(stat -c '%i %Y.%y' "$CF")
get "$TA" "/v1/nodes/$I_JPG/thumbnail" "$T/th"
expect_code "a second request: 200" 200
ok "the second answer is the cached bytes" cmp "$CF" "$T/th"
expect_eq "$before" "$(stat -c '%i %Y.%y' "$CF")" \
	"the cache file was not written again"
# proof that nothing was decoded: the answer is whatever the cache holds
"$PY" -c 'import sys; from PIL import Image
Image.new("RGB", (7, 5), (255, 0, 0)).save(sys.argv[1], "JPEG")' "$T/red.jpg"
cp "$T/red.jpg" "$CF"
get "$TA" "/v1/nodes/$I_JPG/thumbnail" "$T/th"
ok "a planted cache file is answered as is (served from the cache)" \
	cmp "$T/red.jpg" "$T/th"
cp "$T/photo.thumb" "$CF"
get "$TA" "/v1/nodes/$I_JPG/thumbnail?v=$H" "$T/th"
expect_code "an unknown query parameter (?v=SHA, cache busting) is ignored" 200
ok "... and the answer is the same thumbnail" cmp "$T/photo.thumb" "$T/th"

# --- concurrent first requests
HR=$(sha "$S/race.jpg")
pids=()
for i in 1 2 3 4 5 6 7 8; do
	curl -s -o "$T/race.$i" -w '%{http_code}\n' -H "Authorization: Bearer $TA" \
		"$U/v1/nodes/$I_RACE/thumbnail" >"$T/race.$i.code" &
	pids+=($!)
done
wait "${pids[@]}"
bad=0
for i in 1 2 3 4 5 6 7 8; do
	[[ $(cat "$T/race.$i.code") == 200 ]] && cmp -s "$T/race.1" "$T/race.$i" || bad=1
done
expect_eq 0 "$bad" "8 concurrent first requests: 200 and the same bytes each"
ok "and the cache file holds those bytes" cmp "$T/race.1" \
	"$STORE/thumbs/${HR:0:2}/$HR.128"
expect_eq "" "$(find "$STORE/thumbs" -name '.tmp-*')" "no temp file is left"
thumb_ok "the raced thumbnail" "$I_RACE" 128 32

# --- not images
# notimg DESC INO TEXT
notimg() {
	get "$TA" "/v1/nodes/$2/thumbnail" "$T/ph"
	expect_code "$1: 200" 200
	expect_eq "image/svg+xml" "$(hdr "$T/ph.h" Content-Type)" "$1: an SVG"
	expect_eq "not-image" "$(hdr "$T/ph.h" X-Sievefs-Placeholder)" \
		"$1: X-Sievefs-Placeholder: not-image"
	expect_contains "$T/ph" "$3" "$1: the SVG says why"
	ok "$1: the SVG is well-formed XML" "$PY" -c \
		'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$T/ph"
}
notimg "a text file" "$I_TXT" "not an image"
notimg "a truncated JPEG" "$I_TRUNC" "Premature end of JPEG file"
notimg "a 20000x20000 PNG header bomb" "$I_BOMB" "20000x20000 is too large"
get "$TA" "/v1/whoami" "$T/w"
expect_code "the server still answers after the bad images" 200
HT=$(sha "$S/notes.txt")
expect_eq "!" "$(head -c1 "$STORE/thumbs/${HT:0:2}/$HT.128")" \
	"the not-an-image outcome is cached too"

# --- 404s and other users
get "$TA" "/v1/nodes/$I_SUB/thumbnail" "$T/x"
expect_code "a folder's thumbnail: 404" 404
get "$TA" "/v1/nodes/$I_SUB/image" "$T/x"
expect_code "a folder's image: 404" 404
get "$TB" "/v1/nodes/$I_JPG/thumbnail" "$T/x"
expect_code "bob asks for alice's thumbnail: 404" 404
cp "$T/x" "$T/x.bob"
get "$TB" "/v1/nodes/99999999/thumbnail" "$T/x"
expect_code "an absent ino: 404" 404
ok "bob's 404 is the same as an absent ino's" cmp "$T/x.bob" "$T/x"
get "$TB" "/v1/nodes/$I_JPG/image" "$T/x"
expect_code "bob asks for alice's image: 404" 404
HG=$(sha "$S/gc.png")
get "$TB" "/v1/nodes/$I_GC/thumbnail" "$T/x"
expect_code "bob asks for a thumbnail of alice's never made: 404" 404
ok "... and nothing was made or cached" test ! -e "$STORE/thumbs/${HG:0:2}/$HG.128"
expect_contains "$T/x" '"not_found"' "... with the body of an absent node"
get "$TA" "/v1/nodes/$I_SUB/thumbnail" "$T/x"
expect_contains "$T/x" '"not_a_file"' "a folder's 404 says not_a_file"
curl -s -o "$T/pn.json" -H "Authorization: Bearer $TA" -X POST \
	-d '{"name":"pending.jpg","kind":2}' "$U/v1/nodes/$ROOT/children"
I_PEND=$(json '["ino"]' "$T/pn.json")
get "$TA" "/v1/nodes/$I_PEND/thumbnail" "$T/x"
expect_code "an upload not committed yet: 404" 404
expect_contains "$T/x" '"pending"' "... pending"
get "$TA" "/v1/nodes/$I_PEND/image" "$T/x"
expect_code "its image: 404" 404
# bob names alice's hash in a kept commit of his own: no thumbnail of hers
curl -s -o "$T/bds.json" -H "Authorization: Bearer $TB" -X POST \
	-d '{"name":"b"}' "$U/v1/datasets"
BROOT=$(json '["live_root"]' "$T/bds.json")
curl -s -o "$T/bn.json" -H "Authorization: Bearer $TB" -X POST \
	-d '{"name":"x.jpg","kind":2}' "$U/v1/nodes/$BROOT/children"
BINO=$(json '["ino"]' "$T/bn.json")
code=$(curl -s -o "$T/bc" -w '%{http_code}' -H "Authorization: Bearer $TB" \
	-X PUT -d "{\"sha256\":\"$H\",\"size\":$(stat -c %s "$S/photo.jpg"),\"bytes\":\"kept\"}" \
	"$U/v1/nodes/$BINO/content")
expect_code "bob commits a kept node naming alice's hash" 200
get "$TB" "/v1/nodes/$BINO/thumbnail" "$T/x"
expect_eq "200 kept" "$code $(hdr "$T/x.h" X-Sievefs-Placeholder)" \
	"bob gets the kept placeholder, not alice's thumbnail"

# --- the image route
# img DESC INO TYPE
img() {
	get "$TA" "/v1/nodes/$2/image" "$T/im"
	expect_code "$1: 200" 200
	expect_eq "$3" "$(hdr "$T/im.h" Content-Type)" "$1: Content-Type $3"
}
img "jpeg" "$I_JPG" image/jpeg
ok "the image is the sample's bytes" cmp "$S/photo.jpg" "$T/im"
expect_eq "inline; filename=\"photo.jpg\"" \
	"$(hdr "$T/im.h" Content-Disposition)" "Content-Disposition inline"
img "png" "$I_PNG" image/png
img "webp" "$I_WEBP" image/webp
img "text" "$I_TXT" application/octet-stream
img "a non-ASCII name" "$I_NAIVE" image/jpeg
expect_contains "$T/im.h" "filename*=UTF-8''na%C3%AFve%20%C3%A9.jpg" \
	"a non-ASCII name gets an RFC 6266 filename*"
get "$TA" "/v1/nodes/$I_JPG/image" "$T/im" -H "Range: bytes=100-149"
expect_code "Range: bytes=100-149 -> 206" 206
ok "the range is those 50 bytes" cmp "$T/im" <(tail -c +101 "$S/photo.jpg" | head -c 50)
expect_eq "bytes 100-149/$(stat -c %s "$S/photo.jpg")" \
	"$(hdr "$T/im.h" Content-Range)" "Content-Range"
get "$TA" "/v1/nodes/$I_JPG/image" "$T/im" -H "Range: bytes=99999999-"
expect_code "a range past the end -> 416" 416
# HEAD is the router's GET without a body (no HEAD rows of their own)
get "$TA" "/v1/nodes/$I_JPG/image" "$T/im" -I
expect_code "HEAD of the image: 200" 200
expect_eq "$(stat -c %s "$S/photo.jpg")" "$(hdr "$T/im.h" Content-Length)" \
	"HEAD of the image: the GET's Content-Length"
get "$TA" "/v1/nodes/$I_JPG/thumbnail" "$T/im" -I
expect_code "HEAD of the thumbnail: 200" 200
expect_eq "$ETAG" "$(hdr "$T/im.h" ETag)" "HEAD of the thumbnail: the GET's ETag"

# --- upload=meta and upload=thumbnails mounts
M=$T/mntM
sv_mount "$U" "$M" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheM" \
	-o meta_ttl=1 -o upload=meta || die "upload=meta mount failed"
ok "mkdir dataset m" mkdir "$M/m"
# bytes the server has never had (the same bytes uploaded whole before
# would be readable: the user sent them)
"$PY" -c 'import sys; from PIL import Image
Image.new("RGB", (64, 48), (1, 2, 3)).save(sys.argv[1], "WEBP")' "$T/meta.webp"
ok "cp into an upload=meta mount" cp "$T/meta.webp" "$M/m/initial-tag/meta.webp"
get "$TA" "/v1/datasets?name=m" "$T/ds.json"
MROOT=$(json '["live_root"]' "$T/ds.json")
I_META=$(ino meta.webp "$MROOT")
get "$TA" "/v1/nodes/$I_META/thumbnail" "$T/ph"
expect_code "upload=meta thumbnail: 200" 200
expect_eq "image/svg+xml kept" "$(hdr "$T/ph.h" Content-Type) $(hdr "$T/ph.h" X-Sievefs-Placeholder)" \
	"upload=meta: the kept placeholder"
expect_contains "$T/ph" "metadata only — bytes stay with the uploader" \
	"the placeholder says the bytes stay with the uploader"
get "$TA" "/v1/nodes/$I_META/image" "$T/x"
expect_code "upload=meta image: 404" 404
expect_contains "$T/x" "bytes_kept_by_uploader" "... bytes_kept_by_uploader"
sv_umount "$M"

N=$T/mntN
sv_mount "$U" "$N" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheN" \
	-o meta_ttl=1 -o upload=thumbnails || die "upload=thumbnails mount failed"
ok "mkdir dataset t" mkdir "$N/t"
"$PY" -c 'import sys; from PIL import Image
Image.new("RGB", (512, 256), (10, 200, 30)).save(sys.argv[1], "PNG")' "$T/wide.png"
ok "cp into an upload=thumbnails mount" cp "$T/wide.png" "$N/t/initial-tag/wide.png"
echo "other text, never uploaded whole" >"$T/n.txt"
ok "cp a text file into it" cp "$T/n.txt" "$N/t/initial-tag/n.txt"
get "$TA" "/v1/datasets?name=t" "$T/ds.json"
TROOT=$(json '["live_root"]' "$T/ds.json")
I_TH=$(ino wide.png "$TROOT")
thumb_ok "upload=thumbnails: the sent thumbnail" "$I_TH" 128 64
get "$TA" "/v1/nodes/$I_TH" "$T/node.json"
expect_eq "\"t$(json '["thumb_sha"]' "$T/node.json")\"" "$(hdr "$T/th.h" ETag)" \
	"its ETag names the thumbnail blob the mount sent"
get "$TA" "/v1/nodes/$(ino n.txt "$TROOT")/thumbnail" "$T/ph"
expect_eq "kept" "$(hdr "$T/ph.h" X-Sievefs-Placeholder)" \
	"upload=thumbnails, not an image: the kept placeholder"
sv_umount "$N"

# --- collection with the blob
get "$TA" "/v1/nodes/$I_GC/thumbnail" "$T/th"
ok "gc.png's thumbnail is cached" test -f "$STORE/thumbs/${HG:0:2}/$HG.128"
ok "rm the only node naming it" rm "$A/d/initial-tag/gc.png"
ok "its blob is collected" test ! -e "$STORE/blobs/${HG:0:2}/$HG"
ok "and its cached thumbnail with it" test ! -e "$STORE/thumbs/${HG:0:2}/$HG.128"
sv_umount "$A"

# --- recovery at the next start
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
Z=0000000000000000000000000000000000000000000000000000000000000000
mkdir -p "$STORE/thumbs/00"
echo stale >"$STORE/thumbs/00/$Z.128"
echo partial >"$STORE/thumbs/00/.tmp-0123456789abcdef"
start_server "$port" || die "sievefs serve did not come up again"
ok "a restart drops a thumbnail whose blob is gone" test ! -e "$STORE/thumbs/00/$Z.128"
ok "and a leftover temp file" test ! -e "$STORE/thumbs/00/.tmp-0123456789abcdef"
ok "and keeps the live ones" cmp "$CF" "$T/photo.thumb"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null

