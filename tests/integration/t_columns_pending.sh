#!/usr/bin/env bash
#
# t_columns_pending — GET /v1/datasets/{id}/columns never decodes an image
# inside the request: builtin.* values not computed yet come back null with
# "pending": N, the server's background filler computes them, and a later
# ask has them all ("pending": 0, the widths of the images).
#
# Proves, against a real `sievefs serve` through a remote mount, and again
# against a local mount's web door (-o web=; its own backend and filler):
# - right after 40 PNGs are copied in, the first ask of builtin.width
#   answers at once with pending = the number of files not computed and
#   null for each of those (never a made-up value);
# - a column of an uploaded CSV has no pending;
# - within 60 s (polling) an ask has pending 0 and every PNG's width as made
#   (16 + i), and the non-image file's width stays null.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl mountpoint fusermount3
PY=/usr/bin/python3

"$PY" - "$T/src" <<'EOF' || die "cannot make the test files"
import os, struct, sys, zlib
d = sys.argv[1]
os.makedirs(d)
def png(w, h):
    raw = b"".join(b"\0" + bytes((x * 7 + y * 3) % 256 for x in range(w * 3)) for y in range(h))
    def chunk(t, b):
        return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for i in range(40):
    open("%s/p%02d.png" % (d, i), "wb").write(png(16 + i, 12))
open("%s/notes.txt" % d, "w").write("not an image\n")
EOF

# check DOOR MNT: the steps above through the mount MNT and the web door $U
check() {
	local door=$1 M=$2 ds=$2/ds id names
	ok "$door: mkdir ds" mkdir "$ds" || die "$door: cannot create a dataset"
	ok "$door: cp 40 PNGs and a text file" cp "$T/src"/* "$ds/initial-tag/"
	printf 'filename,q\np00.png,1\n' >"$T/m.csv"
	ok "$door: cp a metadata CSV" cp "$T/m.csv" "$ds/metadata/m.csv"
	id=$(curl -sf -H "Authorization: Bearer $TA" "$U/v1/datasets" |
		"$PY" -c 'import json,sys; j=json.load(sys.stdin); print([d["id"] for d in (j["datasets"] if isinstance(j, dict) else j) if d["name"] == "ds"][0])')
	[ -n "$id" ] || die "$door: no dataset id"

	ask() { # ask COLNAME OUT: the values of column COLNAME into OUT (JSON)
		local names idx
		names=$(curl -sf -H "Authorization: Bearer $TA" "$U/v1/datasets/$id/columns") || return 1
		idx=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["columns"].index(sys.argv[2]))' "$names" "$1") || return 1
		curl -sf -H "Authorization: Bearer $TA" "$U/v1/datasets/$id/columns?cols=$idx" >"$2"
	}

	ok "$door: the first ask of builtin.width answers" ask builtin.width "$T/first.json"
	ok "... with pending > 0 and null for each value not computed" "$PY" - "$T/first.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
vals = j["columns"][0]["values"]
nulls = sum(v is None for v in vals)
print("pending", j["pending"], "nulls", nulls, "of", len(vals))
assert j["pending"] > 0, j["pending"]
assert nulls >= j["pending"], (nulls, j["pending"])
EOF
	ok "$door: an uploaded column" ask m.q "$T/mq.json"
	ok "... has no pending" "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["pending"] == 0, j' "$T/mq.json"
	done_=0
	for _ in $(seq 120); do
		ask builtin.width "$T/later.json" &&
			"$PY" -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["pending"] != 0)' "$T/later.json" &&
			{ done_=1; break; }
		sleep 0.5
	done
	expect_eq 1 "$done_" "$door: a later ask has pending 0 (the filler computed every value)"
	ok "... and every PNG's width, the text file's null" "$PY" - "$T/later.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
vals = j["columns"][0]["values"]
ws = sorted(v for v in vals if v is not None)
assert ws == [16 + i for i in range(40)], ws
assert sum(v is None for v in vals) == 1, vals
EOF
}

serve_alice
TA=$(cat "$T/alice.tok")
sv_mount "$U" "$T/rmnt" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cache" \
	-o meta_ttl=0 || die "remote mount failed"
check "remote mount" "$T/rmnt"
sv_umount "$T/rmnt"

# a local mount of its own store, with its web door (any token of the store)
STORE=$T/lstore
mkdir -p "$STORE"
new_token carol "$T/carol.tok" >/dev/null || die "token create failed"
TA=$(cat "$T/carol.tok")
sv_mount "$STORE" "$T/lmnt" -o web=127.0.0.1:0 || die "local mount with -o web= failed"
port=$(sed -n 's|^sievefs: listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "${SV_MNT_LOG[$T/lmnt]}" | tail -1)
[ -n "$port" ] || die "no web address in the local mount's output"
U=http://127.0.0.1:$port
check "local mount's web door" "$T/lmnt"
sv_umount "$T/lmnt"
