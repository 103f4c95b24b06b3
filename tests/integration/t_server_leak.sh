#!/usr/bin/env bash
#
# t_server_leak — the built-in embedder reads only bytes the user has sent
# (issue 11 item 2; docs/api.md "Content"), driven with curl against a real
# `sievefs serve` on loopback.
#
# Proves: alice uploads an image whole (PUT + commit) and another as a
# metadata-only commit with a thumbnail she sent, and embeds (her features
# are now cached by hash). Bob commits metadata-only nodes naming alice's
# image, alice's kept original (which has her thumbnail) and a random hash,
# plus one image of his own, and embeds: his CSV has a row for his own image
# only, his log gives the three others the very same line (no way to tell
# "alice has it" from "nobody has it"), his listing shows no thumbnail of
# alice's, and alice's export still holds both her rows. Once bob has PUT
# alice's image bytes himself (a grant), his next embed has a vector for it;
# once he has PUT the thumbnail bytes, for the sample named by its original.
# Carol commits alice's kept original with a thumbnail of her own: she sees
# and embeds hers, alice's listing (and its ETag) and vectors stay exactly
# as they were.
# The server is started and stopped by PID (also in the trap).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl sha256sum grep sed
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
"$PY" -c 'import PIL' 2>/dev/null ||
	die "$PY cannot import PIL (apt-get install python3-pil)"

serve_alice
new_token bob "$T/bob.tok" >/dev/null || die "token create failed"
new_token carol "$T/carol.tok" >/dev/null || die "token create failed"
TA=$(cat "$T/alice.tok")
TB=$(cat "$T/bob.tok")
TC=$(cat "$T/carol.tok")

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# upload TOKEN ROOT NAME FILE — PUT the blob, create the node, commit it.
upload() {
	local s ino
	s=$(sha_of "$4")
	api "$1" PUT "/v1/blobs/$s" -T "$4"
	[[ $code == 201 ]] || { fail "PUT blob of $3: $code"; return 1; }
	api "$1" POST "/v1/nodes/$2/children" -d "{\"name\":\"$3\",\"kind\":2}"
	ino=$(jget '["ino"]')
	api "$1" PUT "/v1/nodes/$ino/content" \
		-d "{\"sha256\":\"$s\",\"size\":$(stat -c%s "$4")}"
	[[ $code == 200 ]] || { fail "commit $3: $code"; sv_show "$T/body"; return 1; }
}
# kept TOKEN ROOT NAME SHA SIZE [THUMBFILE] — a metadata-only commit; the
# thumbnail (if any) must already be PUT by this user.
kept() {
	local ino th=""
	api "$1" POST "/v1/nodes/$2/children" -d "{\"name\":\"$3\",\"kind\":2}"
	ino=$(jget '["ino"]')
	[[ -n ${6:-} ]] &&
		th=",\"thumbnail\":{\"sha256\":\"$(sha_of "$6")\",\"size\":$(stat -c%s "$6")}"
	api "$1" PUT "/v1/nodes/$ino/content" \
		-d "{\"sha256\":\"$4\",\"size\":$5,\"bytes\":\"kept\"$th}"
	[[ $code == 200 ]] || { fail "kept commit $3: $code"; sv_show "$T/body"; return 1; }
}
# embed TOKEN DS DESC — an embed run that ends done.
embed() {
	api "$1" POST "/v1/datasets/$2/sample" --data-binary 'embed'
	[[ $code == 202 ]] || { fail "$3: embed request $code"; sv_show "$T/body"; return 1; }
	for _ in $(seq 300); do
		api "$1" GET "/v1/datasets/$2/sample"
		grep -q '^status: \(done\|failed\|cancelled\)' "$T/body" && break
		sleep 0.1
	done
	if grep -q '^status: done' "$T/body"; then
		pass "$3"
	else
		fail "$3: $(grep '^status' "$T/body")"
		sv_show "$T/body"
	fi
}
# export TOKEN DS FILE — the builtin embedding's CSV into FILE.
export_csv() {
	api "$1" GET "/v1/datasets/$2/embeddings?name=builtin"
	[[ $code == 200 ]] || { fail "builtin embedding of $2: $code"; return 1; }
	api "$1" GET "/v1/embeddings/$(jget '["id"]')/csv"
	[[ $code == 200 ]] || { fail "export of $2: $code"; return 1; }
	cp "$T/body" "$3"
}
names() { tail -n +2 "$1" | cut -d, -f1 | sort | tr '\n' ' '; }

# --- images: two of alice's, one of bob's, alice's thumbnail of the second
"$PY" - "$T" <<'EOF' || die "cannot make the images"
import sys
from PIL import Image
t = sys.argv[1]
for name, seed in (("a1.png", 1), ("a2.png", 2), ("b1.png", 3)):
    im = Image.new("RGB", (96, 80))
    im.putdata([((x * seed * 7) % 256, (y * 13 + seed * 40) % 256,
                 ((x ^ y) * seed) % 256) for y in range(80) for x in range(96)])
    im.save(f"{t}/{name}")
    if name == "a2.png":
        im.resize((64, 53)).save(f"{t}/a2.thumb.jpg", quality=90)
        im.resize((48, 40)).save(f"{t}/c.thumb.jpg", quality=70)
EOF
A1=$(sha_of "$T/a1.png")
A2=$(sha_of "$T/a2.png")
RND=$(head -c 64 /dev/urandom | sha256sum | cut -d' ' -f1)

# --- alice: one image whole, one kept with her thumbnail; she embeds
api "$TA" POST /v1/datasets -d '{"name":"alice"}'
DA=$(jget '["id"]')
RA=$(jget '["live_root"]')
upload "$TA" "$RA" a1.png "$T/a1.png"
api "$TA" PUT "/v1/blobs/$(sha_of "$T/a2.thumb.jpg")" -T "$T/a2.thumb.jpg"
expect_eq 201 "$code" "alice PUTs her thumbnail"
kept "$TA" "$RA" a2.png "$A2" "$(stat -c%s "$T/a2.png")" "$T/a2.thumb.jpg"
embed "$TA" "$DA" "alice embeds"
export_csv "$TA" "$DA" "$T/alice1.csv"
expect_eq "a1.png a2.png " "$(names "$T/alice1.csv")" \
	"alice's export has her image and her thumbnailed one"

# --- bob: kept nodes naming alice's hashes and a random one, one own image
api "$TB" POST /v1/datasets -d '{"name":"bob"}'
DB=$(jget '["id"]')
RB=$(jget '["live_root"]')
upload "$TB" "$RB" own.png "$T/b1.png"
kept "$TB" "$RB" x-alice.png "$A1" "$(stat -c%s "$T/a1.png")"
kept "$TB" "$RB" y-thumbed.png "$A2" "$(stat -c%s "$T/a2.png")"
kept "$TB" "$RB" z-random.png "$RND" 1234
api "$TB" GET "/v1/nodes/$RB/children"
if grep -q thumb_sha "$T/body"; then
	fail "bob's listing shows alice's thumbnail"
	sv_show "$T/body"
else
	pass "bob's listing shows no thumbnail he did not send"
fi
api "$TB" GET "/v1/blobs/$A1"
expect_eq 404 "$code" "bob cannot GET alice's blob"
embed "$TB" "$DB" "bob embeds"
export_csv "$TB" "$DB" "$T/bob1.csv"
expect_eq "own.png " "$(names "$T/bob1.csv")" \
	"bob's export has a vector for his own image only"
api "$TB" GET "/v1/datasets/$DB/log"
cp "$T/body" "$T/bob1.log"
for n in x-alice y-thumbed z-random; do
	grep -F "$n.png" "$T/bob1.log" | grep -F "no vector" |
		sed "s|^.*embed: /*$n\.png: ||" >"$T/$n.msg"
	expect_eq 1 "$(grep -c . "$T/$n.msg")" "bob's log has one line for $n.png"
done
expect_contains "$T/z-random.msg" "no vector: bytes not on the server (upload=meta) (it stays a sample)" \
	"a random hash: bytes not on the server"
if cmp -s "$T/x-alice.msg" "$T/z-random.msg" &&
	cmp -s "$T/y-thumbed.msg" "$T/z-random.msg"; then
	pass "alice's hashes get the same line as a random one"
else
	fail "the lines differ: [$(cat "$T/x-alice.msg")] [$(cat "$T/y-thumbed.msg")] [$(cat "$T/z-random.msg")]"
fi
if grep -F -e "$A1" -e "$A2" "$T/bob1.log" >/dev/null; then
	fail "bob's log names alice's hashes"
else
	pass "bob's log names no hash"
fi

# --- alice is unaffected
embed "$TA" "$DA" "alice embeds again"
export_csv "$TA" "$DA" "$T/alice2.csv"
expect_eq "a1.png a2.png " "$(names "$T/alice2.csv")" \
	"alice's export still has both her rows"

# --- bob sends the bytes himself: then they are his to embed
api "$TB" PUT "/v1/blobs/$A1" -T "$T/a1.png"
expect_eq 201 "$code" "bob PUTs the same bytes as alice's image"
embed "$TB" "$DB" "bob embeds after his PUT"
export_csv "$TB" "$DB" "$T/bob2.csv"
expect_eq "own.png x-alice.png " "$(names "$T/bob2.csv")" \
	"bob's sample of those bytes now has a vector"
api "$TB" PUT "/v1/blobs/$(sha_of "$T/a2.thumb.jpg")" -T "$T/a2.thumb.jpg"
expect_eq 201 "$code" "bob PUTs the thumbnail's bytes"
embed "$TB" "$DB" "bob embeds after the thumbnail PUT"
export_csv "$TB" "$DB" "$T/bob3.csv"
expect_eq "own.png x-alice.png y-thumbed.png " "$(names "$T/bob3.csv")" \
	"the sample named by its original embeds from the thumbnail he sent"

# --- carol sends her own thumbnail of alice's kept original: it is hers;
# alice's stays alice's (her listing, her embedding), nothing changes for her
api "$TA" GET "/v1/nodes/$RA/children"
cp "$T/body" "$T/alice-ls1.json"
ETAG=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $TA" \
	"$U/v1/nodes/$RA/children" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
[[ -n $ETAG ]] || fail "alice's listing has no ETag"
api "$TC" POST /v1/datasets -d '{"name":"carol"}'
DC=$(jget '["id"]')
RC=$(jget '["live_root"]')
api "$TC" PUT "/v1/blobs/$(sha_of "$T/c.thumb.jpg")" -T "$T/c.thumb.jpg"
expect_eq 201 "$code" "carol PUTs her thumbnail"
kept "$TC" "$RC" c.png "$A2" "$(stat -c%s "$T/a2.png")" "$T/c.thumb.jpg"
api "$TC" GET "/v1/nodes/$RC/children"
expect_eq "$(sha_of "$T/c.thumb.jpg")" "$(jget '["children"][0]["thumb_sha"]')" \
	"carol's listing shows her own thumbnail"
api "$TA" GET "/v1/nodes/$RA/children" -H "If-None-Match: $ETAG"
expect_eq 304 "$code" "alice's listing is still not modified (its ETag tells nothing)"
api "$TA" GET "/v1/nodes/$RA/children"
if cmp -s "$T/body" "$T/alice-ls1.json"; then
	pass "alice's listing is unchanged by carol's thumbnail"
else
	fail "alice's listing changed: $(cat "$T/body")"
fi
expect_contains "$T/body" "\"thumb_sha\":\"$(sha_of "$T/a2.thumb.jpg")\"" \
	"alice's listing still names her thumbnail"
embed "$TC" "$DC" "carol embeds from her thumbnail"
export_csv "$TC" "$DC" "$T/carol.csv"
expect_eq "c.png " "$(names "$T/carol.csv")" "carol's export has her sample"
embed "$TA" "$DA" "alice embeds after carol"
export_csv "$TA" "$DA" "$T/alice3.csv"
expect_eq "a1.png a2.png " "$(names "$T/alice3.csv")" \
	"alice's export still has both her rows after carol's thumbnail"
if cmp -s "$T/alice2.csv" "$T/alice3.csv"; then
	pass "alice's vectors are the same as before carol came"
else
	fail "alice's vectors changed"
	diff "$T/alice2.csv" "$T/alice3.csv" | head -5
fi

sv_alive "$SERVER_PID" && pass "the server is still running" || fail "the server died"
kill -TERM "$SERVER_PID"
sv_wait_gone "$SERVER_PID" 10 && wait "$SERVER_PID"
