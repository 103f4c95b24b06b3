#!/usr/bin/env bash
#
# t_lightly_tags — the lightly door's tag arithmetic (issue 21; api/
# lightly_tags.c): POST /lightly/v1/datasets/{id}/tags/arithmetics with the
# client's TagArithmeticsRequest, driven with curl against a real `sievefs
# serve` whose tags are made through a remote mount of it.
#
# Proves: with tags A = {a0..a3} and B = {a2..a5} of six files, UNION,
# INTERSECTION and DIFFERENCE (both ways) answer bitMaskData that, decoded
# over the mappings order (Python's int(hex)), names exactly the set
# computed here, and change no tag and not the selection; with newTagName
# the answer carries the new tag's id, the mount shows the tag holding the
# result with A as user.sievefs.parent, and GET .../tags lists it with
# prevTagId = tagId1; every refusal changes nothing (the tags listed and
# the selection as before) and answers its status: an unknown operation,
# a missing tagId2, a bad newTagName (400), an unknown tag id and another
# user's dataset (404), a newTagName taken (409).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl getfattr mountpoint fusermount3
PY=/usr/bin/python3

remote_mount "$T/store" "$T/mnt" -o meta_ttl=0 || die "no remote mount"
port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$SERVER_LOG" | tail -1)
U=http://127.0.0.1:$port
TOK=$(cat "$T/alice.tok")
STORE=$T/store new_token bob "$T/bob.tok" >/dev/null || die "token create failed"
BOB=$(cat "$T/bob.tok")

ds=$T/mnt/d
mkdir "$ds" || die "mkdir dataset"
mkdir "$ds/initial-tag/x"
for i in 0 1 2 3 4 5; do printf 'a%s\n' "$i" >"$ds/initial-tag/x/a$i.txt"; done
printf 'x/a%s.txt\n' 0 1 2 3 >"$ds/selection" && mkdir "$ds/A" || die "tag A"
printf 'x/a%s.txt\n' 2 3 4 5 >"$ds/selection" && mkdir "$ds/B" || die "tag B"
printf 'x/a1.txt\n' >"$ds/selection"

# lget PATH: GET /lightly/PATH as alice into $T/body
lget() { api "" GET "/lightly/v1/$1?token=$TOK"; }
# arith TOKEN JSON: the POST, body in $T/body, status in $code
arith() {
	api "" POST "/lightly/v1/datasets/$DSID/tags/arithmetics?token=$1" \
		-H 'Content-Type: application/json' --data-binary "$2"
}

lget datasets
DSID=$("$PY" -c 'import json,sys; print([d["id"] for d in json.load(open(sys.argv[1])) if d["name"]=="d"][0])' "$T/body")
lget "datasets/$DSID/tags"
tagid() { "$PY" -c 'import json,sys; print([t["id"] for t in json.load(open(sys.argv[1])) if t["name"]==sys.argv[2]][0])' "$T/tags.json" "$1"; }
cp "$T/body" "$T/tags.json"
A=$(tagid A)
B=$(tagid B)
api "" GET "/lightly/v1/datasets/$DSID/mappings?field=fileName&token=$TOK" && cp "$T/body" "$T/map.json"
[[ -n $A && -n $B ]] || die "no tag ids"

# files: the files bitMaskData of $T/body names, one per line
files() {
	"$PY" - "$T/body" "$T/map.json" <<'PYEOF'
import json, sys
m = int(json.load(open(sys.argv[1]))["bitMaskData"], 16)
names = json.load(open(sys.argv[2]))
print("\n".join(n for k, n in enumerate(names) if m >> k & 1))
PYEOF
}
# state: what a refusal must not change
state() { lget "datasets/$DSID/tags"; "$PY" -c 'import json,sys; print(sorted((t["name"], t["bitMaskData"]) for t in json.load(open(sys.argv[1]))))' "$T/body"; cat "$ds/selection"; }

before=$(state)
arith "$TOK" "{\"tagId1\":\"$A\",\"tagId2\":\"$B\",\"operation\":\"UNION\"}"
expect_code 200 "UNION"
expect_eq "$(printf 'x/a%s.txt\n' 0 1 2 3 4 5)" "$(files)" "UNION names A's and B's files"
arith "$TOK" "{\"tagId1\":\"$A\",\"tagId2\":\"$B\",\"operation\":\"INTERSECTION\"}"
expect_code 200 "INTERSECTION"
expect_eq "$(printf 'x/a%s.txt\n' 2 3)" "$(files)" "INTERSECTION names the common files"
arith "$TOK" "{\"tagId1\":\"$A\",\"tagId2\":\"$B\",\"operation\":\"DIFFERENCE\",\"creator\":\"USER_PIP\"}"
expect_code 200 "DIFFERENCE (creator accepted)"
expect_eq "$(printf 'x/a%s.txt\n' 0 1)" "$(files)" "DIFFERENCE A B"
arith "$TOK" "{\"tagId1\":\"$B\",\"tagId2\":\"$A\",\"operation\":\"DIFFERENCE\",\"newTagName\":null}"
expect_code 200 "DIFFERENCE B A"
expect_eq "$(printf 'x/a%s.txt\n' 4 5)" "$(files)" "DIFFERENCE B A"
expect_eq "$before" "$(state)" "without newTagName no tag and not the selection changed"

# refusals: nothing changes
arith "$TOK" "{\"tagId1\":\"$A\",\"tagId2\":\"$B\",\"operation\":\"XOR\"}"
expect_code 400 "an unknown operation"
arith "$TOK" "{\"tagId1\":\"$A\",\"tagId2\":\"$B\",\"operation\":\"union\"}"
expect_code 400 "a lower-case operation (the client sends upper case)"
arith "$TOK" "{\"tagId1\":\"$A\",\"operation\":\"UNION\"}"
expect_code 400 "a missing tagId2"
arith "$TOK" "{\"tagId1\":\"$A\",\"tagId2\":\"$B\",\"operation\":\"UNION\",\"newTagName\":\"b@d\"}"
expect_code 400 "a bad newTagName"
arith "$TOK" "{\"tagId1\":\"$A\",\"tagId2\":\"$B\",\"operation\":\"UNION\",\"newTagName\":\"selection\"}"
expect_code 400 "a reserved newTagName"
arith "$TOK" "{\"tagId1\":\"$A\",\"tagId2\":\"0123456789abcdef01234567\",\"operation\":\"UNION\"}"
expect_code 404 "an unknown tag id"
arith "$TOK" "{\"tagId1\":\"$A\",\"tagId2\":\"$B\",\"operation\":\"UNION\",\"newTagName\":\"B\"}"
expect_code 409 "a newTagName taken"
arith "$BOB" "{\"tagId1\":\"$A\",\"tagId2\":\"$B\",\"operation\":\"UNION\",\"newTagName\":\"stolen\"}"
expect_code 404 "another user's dataset"
expect_eq "$before" "$(state)" "after the refusals: the tags and the selection as before"

# newTagName: a tag, parent tagId1
arith "$TOK" "{\"tagId1\":\"$B\",\"tagId2\":\"$A\",\"operation\":\"UNION\",\"newTagName\":\"BA\"}"
expect_code 200 "UNION with newTagName"
newid=$(jget '["id"]')
expect_eq "$(printf 'x/a%s.txt\n' 0 1 2 3 4 5)" "$(files)" "its bitmask names the union"
ok "the mount shows tag BA" test -d "$ds/BA"
expect_eq B "$(sv_xattr "$ds/BA" user.sievefs.parent)" "BA's parent is tagId1's tag"
expect_eq "$(printf 'x/a%s.txt\n' 0 1 2 3 4 5)" "$(sv_files "$ds/BA")" "BA holds the union"
lget "datasets/$DSID/tags"
expect_eq "$newid $B" "$("$PY" -c 'import json,sys; t=[t for t in json.load(open(sys.argv[1])) if t["name"]=="BA"][0]; print(t["id"], t["prevTagId"])' "$T/body")" \
	"GET tags lists BA with its id and prevTagId = tagId1"
grep -F "selection set: 6 samples by union of 2 operands, from 'B'" "$ds/log" >/dev/null &&
	pass "the dataset's log records the selection the route made" ||
	fail "no log line for the route's selection"
expect_eq "" "$(grep -c "token=" "$SERVER_LOG" | grep -v '^0$')" "the server's log holds no token"

sv_umount "$T/mnt"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
