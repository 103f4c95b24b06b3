#!/usr/bin/env bash
#
# t_lightly — the lightly door (docs/api.md "The lightly door"): the lightly
# pip package 1.1.x's API at /lightly of a real `sievefs serve`, driven by
# tests/lightly/driver.py, which speaks the client's routes with its JSON
# shapes (standard library only: the lightly package is never needed).
#
# Proves: the whole 1.1.x workflow in each upload mode (full, thumbnails,
# meta) — version check without a token, create dataset, samples through
# signed write URLs, the initial tag as an all-ones bitmask, mappings in
# table order, embeddings through the CSV write URL (the v1 validation),
# RANDOM and CORESET sampling with job polling, each job's tag decoded from
# its bitmask — and that those tags are the folders a remote mount of the
# same server shows, file for file; with mode full the samples read back
# through the mount equal the sources, with thumbnails/meta the mount lists
# them and the bytes stay with the uploader. Signed-URL abuse (expired,
# altered signature/expiry/kind/user/sample, replayed write, a read URL
# used to write, another user's sample, path traversal) answers 403/404
# and stores nothing, as do another user's job, embedding and CSV write
# URL; ?token= is refused on /v1; a write URL made before
# a kill -9 of the server works after its restart (after a 507 of the
# upload cap too), once; the server's log never holds a token, a signature
# or any query string.
# The server is started and stopped by PID (also in the trap).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl grep mountpoint fusermount3 cmp
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
DRV=$SV_REPO/tests/lightly/driver.py
TTL=4

SIEVEFS_LIGHTLY_URL_TTL=$TTL serve_alice
base=$U
new_token bob "$T/bob.tok" >/dev/null || die "token create failed"
note "server pid $SERVER_PID on $base (signed URLs live $TTL s)"

# a small tree of PNGs in two folders (what LightlyDataset reads: its
# sub-folders), made by the driver
src=$T/src
"$PY" - "$src" "$DRV" <<'EOF' || die "could not make the source images"
import os, sys
sys.path.insert(0, os.path.dirname(sys.argv[2]))
import driver
for i in range(14):
    d = os.path.join(sys.argv[1], "ab"[i % 2] + "dir")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "s%02d.png" % i), "wb") as f:
        f.write(driver.png(8 + i, 6 + i % 3, i))
EOF

for mode in full thumbnails meta; do
	ok "the 1.1.x workflow, mode=$mode" "$PY" "$DRV" workflow "$base/lightly" \
		"$T/alice.tok" "$src" "$mode" "ds-$mode" "$T/out-$mode.json"
done

# the tags as the driver decoded them equal the tag folders of a remote mount
M=$T/mnt
sv_mount "$base" "$M" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cache" \
	-o meta_ttl=1 || die "remote mount failed"
for mode in full thumbnails meta; do
	for tag in rand5 core4; do
		want=$("$PY" -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["tags"][sys.argv[2]]))' \
			"$T/out-$mode.json" "$tag" 2>/dev/null)
		got=$(cd "$M/ds-$mode/$tag" 2>/dev/null && find . -type f | sed 's|^\./||' | sort)
		# (both empty when the workflow made no tag: count them too)
		expect_eq "${tag//[a-z]/}" "$(grep -c . <<<"$want")" \
			"mode=$mode: the driver decoded ${tag//[a-z]/} files from the bitmask of $tag"
		expect_eq "$want" "$got" "mode=$mode: the bitmask of $tag names the files of its folder"
	done
	got=$(cd "$M/ds-$mode/initial-tag" && find . -type f | sed 's|^\./||' | sort)
	want=$(cd "$src" && find . -type f | sed 's|^\./||' | sort)
	expect_eq "$want" "$got" "mode=$mode: initial-tag holds every source file"
done
same=1
for f in $(cd "$src" && find . -type f); do
	cmp -s "$src/$f" "$M/ds-full/initial-tag/$f" || same=0
done
expect_eq 1 "$same" "mode=full: the mount reads the sources' bytes"
size_ok=$(stat -c %s "$M/ds-meta/initial-tag/adir/s00.png" 2>/dev/null)
expect_eq "$(stat -c %s "$src/adir/s00.png")" "$size_ok" \
	"mode=meta: the sample's size is the client's sizeInBytes"
expect_fail "mode=meta: the bytes stay with the uploader (EIO)" \
	cat "$M/ds-meta/initial-tag/adir/s00.png"
expect_fail "mode=thumbnails: no original on the server" \
	cmp -s "$src/adir/s00.png" "$M/ds-thumbnails/initial-tag/adir/s00.png"
ok "the embedding is in embeddings/" test -s "$M/ds-full/embeddings/my-embeddings.csv"
# the web app's thumbnail of a sample whose thumbnail the client sent (not a
# JPEG: the client names it .webp) is a JPEG the server made of it
"$PY" - "$base" "$T/alice.tok" "$T/th.out" <<'PYEOF'
import json, sys, urllib.request, urllib.parse
base, tok = sys.argv[1], open(sys.argv[2]).read().strip()
def get(p):
    r = urllib.request.urlopen(urllib.request.Request(base + p, headers={"Authorization": "Bearer " + tok}))
    return r, r.read()
_, b = get("/v1/datasets?name=ds-thumbnails")
ino = json.loads(b)["live_root"]
for name in ("adir", "s00.png"):
    _, b = get("/v1/nodes/%d/lookup?name=%s" % (ino, urllib.parse.quote(name)))
    ino = json.loads(b)["ino"]
r, b = get("/v1/nodes/%d/thumbnail" % ino)
open(sys.argv[3], "w").write("%s %s" % (r.headers["Content-Type"], b[:3].hex()))
PYEOF
expect_eq "image/jpeg ffd8ff" "$(cat "$T/th.out" 2>/dev/null)" \
	"mode=thumbnails: the thumbnail route answers a JPEG made from the client's thumbnail"
sv_umount "$M"

ok "signed-URL abuse -> 403/404, nothing stored" "$PY" "$DRV" abuse \
	"$base/lightly" "$T/alice.tok" "$T/bob.tok" "$base" "$TTL"
ok "?token= is refused on /v1" "$PY" "$DRV" v1token "$base" "$T/alice.tok"

# kill -9 between a signed write URL and its use: the URL (signed with the
# store's key, claimed in the catalog) works after the restart, also after
# a 507 of --upload-cap, and still only once
kill_server
start_server "$port" || die "sievefs serve did not come up again"
ok "a write URL for a new sample" "$PY" "$DRV" geturl "$base/lightly" \
	"$T/alice.tok" "$T/restart.url"
kill_server
start_server "$port" "$T/store" --upload-cap 1K ||
	die "sievefs serve --upload-cap 1K did not come up"
ok "the write URL after kill -9 of the server" "$PY" "$DRV" useurl \
	"$base/lightly" "$T/alice.tok" "$T/restart.url"

# nothing secret in the log: no token, no signature, no query string
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
expect_contains "$SERVER_LOG" "listening on" "the server log is there to check"
tok=$(cat "$T/alice.tok")
expect_fail "the server log holds no token" grep -qF "$tok" "$SERVER_LOG"
expect_fail "the server log holds no token (bob's)" grep -qF "$(cat "$T/bob.tok")" "$SERVER_LOG"
expect_fail "the server log holds no query string" grep -qE 'token=|[?&]s=[0-9a-f]|[?&]e=[0-9]' "$SERVER_LOG"
ok "the signing secret is the catalog's (owner-only), not a file of its own" test ! -e "$T/store/lightly.key"
