#!/usr/bin/env bash
#
# t_lightly_scores — the lightly door's active-learning scores (issue 21,
# i21a): POST /lightly/v1/datasets/{id}/tags/{tagId}/scores, the body the
# lightly client's upload_scores sends ({"scoreType", "scores"}, the scores
# in the order of the tag's filenames), lands in metadata/lightly.csv of a
# remote mount of the same server, one column per score type.
#
# Proves: two score types make two columns with the values posted, in the
# tag's filename order; posting a type again replaces its column and keeps
# the other; a frozen tag's scores fill its samples only (the others stay
# empty); a count that does not match the tag, a value that is not a
# number and a bad scoreType answer 400 with the reason and change nothing
# (the CSV reads back the same bytes); another user's dataset is 404.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl cmp grep mountpoint fusermount3

mnt=$T/mnt
remote_mount "$T/store" "$mnt" -o meta_ttl=0 || die "no remote mount"
port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$SERVER_LOG" | tail -1)
L=http://127.0.0.1:$port/lightly
tok=$(cat "$T/alice.tok")
STORE=$T/store new_token bob "$T/bob.tok" >/dev/null || die "token create failed"
ok "mkdir dataset" mkdir "$mnt/al" || die "no dataset"
for i in 1 2 3; do printf 'sample %s\n' "$i" >"$T/s$i.bin"; done
ok "cp samples" cp "$T/s1.bin" "$T/s2.bin" "$T/s3.bin" "$mnt/al/initial-tag/"
ok "select two, mkdir a tag" bash -c 'printf "s3.bin\ns1.bin\n" > "$1/selection" && mkdir "$1/two"' _ "$mnt/al"

# lcall METHOD PATH [BODY] — the door's answer in $T/body, status printed
lcall() {
	local tk=${TOKEN:-$tok}
	curl -s -o "$T/body" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' \
		${3:+--data-binary "$3"} "$L$2?token=$tk"
}
st=$(lcall GET /v1/datasets)
expect_eq 200 "$st" "list datasets"
ds=$(python3 -c 'import json,sys; print([d["id"] for d in json.load(open(sys.argv[1])) if d["name"]=="al"][0])' "$T/body")
lcall GET "/v1/datasets/$ds/tags" >/dev/null
tid=$(python3 -c 'import json,sys; print([t["id"] for t in json.load(open(sys.argv[1])) if t["name"]=="initial-tag"][0])' "$T/body")
two=$(python3 -c 'import json,sys; print([t["id"] for t in json.load(open(sys.argv[1])) if t["name"]=="two"][0])' "$T/body")
lcall GET "/v1/datasets/$ds/tags/$tid/filenames" >/dev/null
mapfile -t names < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))))' "$T/body")
expect_eq "3" "${#names[@]}" "the tag lists 3 filenames"

st=$(lcall POST "/v1/datasets/$ds/tags/$tid/scores" '{"scoreType":"uncertainty_margin","scores":[0.25,0.5,0.75]}')
expect_eq 201 "$st" "POST scores: 201"
expect_contains "$T/body" '"id"' "the answer is a CreateEntityResponse"
st=$(lcall POST "/v1/datasets/$ds/tags/$tid/scores" '{"scoreType":"uncertainty_entropy","scores":[1,0,0.125]}')
expect_eq 201 "$st" "POST a second score type: 201"
printf '%s\r\n' "filename,uncertainty_margin,uncertainty_entropy" \
	"${names[0]},0.25,1" "${names[1]},0.5,0" "${names[2]},0.75,0.125" >"$T/want.csv"
ok "cat metadata/lightly.csv" cat "$mnt/al/metadata/lightly.csv"
expect_list_eq "$T/want.csv" "$T/last.out" "two columns, values in the tag's filename order"
st=$(lcall POST "/v1/datasets/$ds/tags/$tid/scores" '{"scoreType":"uncertainty_margin","scores":[0,0,1]}')
expect_eq 201 "$st" "POST a type again: 201"
printf '%s\r\n' "filename,uncertainty_entropy,uncertainty_margin" \
	"${names[0]},1,0" "${names[1]},0,0" "${names[2]},0.125,1" >"$T/want2.csv"
ok "cat metadata/lightly.csv" cat "$mnt/al/metadata/lightly.csv"
expect_list_eq "$T/want2.csv" "$T/last.out" "the type's column replaced, the other kept"
st=$(lcall POST "/v1/datasets/$ds/tags/$two/scores" '{"scoreType":"typicality","scores":[0.5,0.25]}')
expect_eq 201 "$st" "POST scores of a frozen tag of 2: 201"
ok "Python csv reads the frozen tag's column" python3 - "$mnt/al/metadata/lightly.csv" <<'PY'
import csv, sys
rows = {r["filename"]: r for r in csv.DictReader(open(sys.argv[1], newline=""))}
got = sorted(rows[n]["typicality"] for n in rows)
assert got == ["", "0.25", "0.5"], got
assert rows["s2.bin"]["typicality"] == "", rows
PY
cp "$mnt/al/metadata/lightly.csv" "$T/before.csv"

st=$(lcall POST "/v1/datasets/$ds/tags/$tid/scores" '{"scoreType":"x","scores":[1,2]}')
expect_eq 400 "$st" "a count that does not match: 400"
expect_contains "$T/body" "scores: 2 values, the tag has 3 samples" "and says why"
st=$(lcall POST "/v1/datasets/$ds/tags/$tid/scores" '{"scoreType":"x","scores":[1,"a",2]}')
expect_eq 400 "$st" "a value that is not a number: 400"
expect_contains "$T/body" "scores[1]: not a finite number" "and says which"
st=$(lcall POST "/v1/datasets/$ds/tags/$tid/scores" '{"scoreType":"a,b","scores":[1,2,3]}')
expect_eq 400 "$st" "a scoreType with a comma: 400"
st=$(lcall POST "/v1/datasets/$ds/tags/$tid/scores" '{"scores":[1,2,3]}')
expect_eq 400 "$st" "no scoreType: 400"
ok "lightly.csv unchanged by the refusals" cmp "$T/before.csv" "$mnt/al/metadata/lightly.csv"
st=$(TOKEN=$(cat "$T/bob.tok") lcall POST "/v1/datasets/$ds/tags/$tid/scores" '{"scoreType":"z","scores":[1,2,3]}')
expect_eq 404 "$st" "another user's dataset: 404"
ok "lightly.csv unchanged by bob" cmp "$T/before.csv" "$mnt/al/metadata/lightly.csv"
sv_umount "$mnt"
