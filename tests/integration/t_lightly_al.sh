#!/usr/bin/env bash
#
# t_lightly_al — the lightly door driven as the lightly 1.1.7 client's
# ActiveLearningAgent drives it (issue 21; the route sequence recorded from
# a run of the real package against `sievefs serve`, replayed by
# tests/lightly/driver.py's `activelearning`, standard library only).
#
# Proves: RANDOM makes a first labelled tag; the scores of a
# ScorerClassification (three types, one POST each, for the query tag)
# land; ACTIVE_LEARNING with preselectedTagId and queryTagId and no
# scoreType (the client sends none) weighs by uncertainty_margin: with
# nSamples 10 and 5 preselected the new tag holds the 5 and the 5
# unlabelled samples of highest margin, child of the preselected tag;
# CORAL (new scores) and CORESET with a preselected tag keep it and add the
# rest; an explicit scoreType picks by that column; nSamples not above the
# preselected count, a malformed scoreType and one without scores are
# refused (400, the reason) and make no tag; tag arithmetics UNION,
# INTERSECTION and DIFFERENCE answer the bitmasks of the algebra, and with
# newTagName make a tag whose parent is tagId1. Then a remote mount of the
# same server shows each tag as a folder holding exactly the files its
# bitmask names (the door and the mount agree).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl mountpoint fusermount3
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
DRV=$SV_REPO/tests/lightly/driver.py

serve_alice
base=$U
note "server pid $SERVER_PID on $base"
src=$T/src
"$PY" - "$src" "$DRV" <<'EOF2' || die "could not make the source images"
import os, sys
sys.path.insert(0, os.path.dirname(sys.argv[2]))
import driver
os.makedirs(sys.argv[1])
for i in range(20):
    with open(os.path.join(sys.argv[1], "img%02d.png" % i), "wb") as f:
        f.write(driver.png(6 + i % 4, 5 + i % 3, i))
EOF2
ok "the ActiveLearningAgent's sequence" "$PY" "$DRV" activelearning \
	"$base/lightly" "$T/alice.tok" "$src" al "$T/out.json"
grep -v "sample id\|PUT \|write URL" "$T/last.out" | sed "s/^/#   /"

M=$T/mnt
sv_mount "$base" "$M" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cache" \
	-o meta_ttl=1 || die "remote mount failed"
for tag in labeled-5:5 al-10:10 coral-15:15 core-12:12 union-tag:; do
	name=${tag%%:*} count=${tag#*:}
	want=$("$PY" -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["tags"][sys.argv[2]]))' \
		"$T/out.json" "$name" 2>/dev/null)
	got=$(cd "$M/al/$name" 2>/dev/null && find . -type f | sed 's|^\./||' | sort)
	[[ -n $count ]] && expect_eq "$count" "$(grep -c . <<<"$want")" "$name: $count files in its bitmask"
	expect_eq "$want" "$got" "$name: the folder holds the files its bitmask names"
done
expect_contains "$M/al/metadata/lightly.csv" "uncertainty_margin" "the scores are metadata/lightly.csv"
sv_umount "$M"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
