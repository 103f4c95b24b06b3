#!/usr/bin/env bash
#
# t_create_content — a file created with its content in one request
# (POST /v1/nodes/{parent}/children with "sha256" and "size": the web app's
# upload), so a browser tab closed mid-upload never leaves a pending, empty
# file in the mounts.
#
# Proves: with the blob sent, one POST answers 201 with a committed node
# (has_sha, size, sha) and a remote mount reads the bytes; a blob never
# sent → 409 blob_missing, a wrong size → 400 "size does not match the
# blob", only one of sha256/size or a folder with them → 400 bad_json, a
# taken name → 409 exists — each leaving the folder's listing as it was
# (no pending node named); bob cannot create with alice's blob (409: a
# hash is not a right to the bytes); an upload whose create-with-content
# is never sent leaves nothing. A dataset may not be named `log` (the mount
# root's own file; mkdir gives EEXIST): POST and a rename by PATCH → 409
# with the reason, and nothing is made or renamed.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl python3

serve_alice
A=http://127.0.0.1:$port
HA="Authorization: Bearer $(cat "$T/alice.tok")"
new_token bob "$T/bob.tok" >/dev/null || die "token create failed"
HB="Authorization: Bearer $(cat "$T/bob.tok")"

curl -sf -H "$HA" -X POST -d '{"name":"d"}' "$A/v1/datasets" >"$T/ds.json" ||
	die "dataset create failed"
root=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["live_root"])' "$T/ds.json")
curl -sf -H "$HB" -X POST -d '{"name":"d"}' "$A/v1/datasets" >"$T/dsb.json" ||
	die "bob's dataset create failed"
broot=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["live_root"])' "$T/dsb.json")

printf 'hello, world\n' >"$T/f"
sha=$(sha256sum "$T/f" | cut -d' ' -f1)

# listing [AUTH-HEADER FOLDER] (default: alice's root) — the children's
# names; "(listing failed)" when the request or its JSON does, so an
# expected empty listing cannot pass on an error
listing() {
	curl -sf -H "${1:-$HA}" "$A/v1/nodes/${2:-$root}/children" |
		python3 -c 'import json,sys; print(" ".join(c["name"] for c in json.load(sys.stdin)["children"]))' 2>/dev/null ||
		echo "(listing failed)"
}

# post BODY → "CODE MESSAGE-OR-NAME"
post() {
	curl -s -o "$T/out.json" -w '%{http_code}' -H "${2:-$HA}" -X POST -d "$1" \
		"$A/v1/nodes/${3:-$root}/children" >"$T/code"
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))
print(open(sys.argv[2]).read(), j["error"]["message"] if "error" in j else j["name"])' \
		"$T/out.json" "$T/code"
}

body() { printf '{"name":"%s","kind":%s,"sha256":"%s","size":%s}' "$1" "${4:-2}" "$sha" "$2"; }

expect_eq "409 the server does not have this blob: PUT /v1/blobs/{sha} and retry" \
	"$(post "$(body a.txt 13)")" "a blob never sent: 409 blob_missing"
expect_eq "" "$(listing)" "... and nothing is created"

code=$(curl -s -o /dev/null -w '%{http_code}' -H "$HA" -T "$T/f" "$A/v1/blobs/$sha")
expect_eq 201 "$code" "PUT the blob"

expect_eq "400 size does not match the blob" "$(post "$(body a.txt 14)")" \
	"a wrong size: 400 with the reason"
expect_eq "" "$(listing)" "... and no pending node is left"

post "{\"name\":\"a.txt\",\"kind\":2,\"sha256\":\"$sha\"}" >"$T/r"
expect_contains "$T/r" "400 missing or mistyped field" "sha256 without size: 400"
post "$(body sub 13 x 1)" >"$T/r"
expect_contains "$T/r" "400 missing or mistyped field" "a folder with content: 400"
expect_eq "" "$(listing)" "... and nothing is created"

expect_eq "201 a.txt" "$(post "$(body a.txt 13)")" "create with content: 201"
curl -sf -H "$HA" "$A/v1/nodes/$root/lookup?name=a.txt" >"$T/n.json"
expect_eq "True 13 $sha" "$(python3 -c 'import json,sys; n=json.load(open(sys.argv[1]))
print(n["has_sha"], n["size"], n["sha"])' "$T/n.json")" "... the node is committed"

expect_eq "409 File exists" "$(post "$(body a.txt 13)")" "a taken name: 409"
expect_eq "a.txt" "$(listing)" "... and the listing is as it was"

expect_eq "409 the server does not have this blob: PUT /v1/blobs/{sha} and retry" \
	"$(post "$(body b.txt 13)" "$HB" "$broot")" \
	"bob cannot name alice's blob without sending it: 409"
expect_eq "" "$(listing "$HB" "$broot")" "... and nothing is created in his folder"

mkdir -p "$T/mnt"
sv_mount "$A" "$T/mnt" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cache" ||
	die "remote mount failed"
expect_eq "hello, world" "$(cat "$T/mnt/d/initial-tag/a.txt")" \
	"a remote mount reads the bytes"
expect_eq "a.txt" "$(ls "$T/mnt/d/initial-tag")" "... and shows no other file"
sv_umount "$T/mnt"

code=$(curl -s -o "$T/out.json" -w '%{http_code}' -H "$HA" -X POST -d '{"name":"log"}' "$A/v1/datasets")
expect_eq 409 "$code" "a dataset named log: 409"
expect_contains "$T/out.json" "own 'log' file" "... with the reason"
ds_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/ds.json")
code=$(curl -s -o "$T/out.json" -w '%{http_code}' -H "$HA" -X PATCH -d '{"name":"log"}' "$A/v1/datasets/$ds_id")
expect_eq 409 "$code" "renaming a dataset to log: 409"
expect_contains "$T/out.json" "own 'log' file" "... with the reason"
expect_eq "d" "$(curl -sf -H "$HA" "$A/v1/datasets" | python3 -c 'import json,sys; print(" ".join(d["name"] for d in json.load(sys.stdin)["datasets"]))')" \
	"... and alice's datasets are as they were"
