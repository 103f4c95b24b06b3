#!/usr/bin/env bash
#
# t_exports — a dataset's read-only exports/ folder (issue 21 item 5),
# through a local (embedded) mount and a remote mount of a real `sievefs
# serve`, one body (`flows`) run in each mode with the same expectations.
#
# Proves, in each mode:
# - exports/ lists TAG.txt, TAG.label-studio.json and TAG.csv for every
#   tag (initial-tag, a tag of a selection, a tag after a sampling run, a
#   tag whose name ends in .txt), and nothing else;
# - TAG.txt is the tag folder's files (find), one per line, in byte order,
#   with odd file names (spaces, a quote, a comma, UTF-8, a sub-folder);
# - TAG.label-studio.json parses with Python's json: ids 1..n, one task
#   per file in the same order; locally each image is the absolute path
#   of the file through the mount's tag folder (its bytes = the file's);
#   remotely a URL of the server that curl reads, with no token, to the
#   file's bytes;
# - TAG.csv parses with Python's csv: filename, score, every column of
#   predictions/ and metadata/ and builtin.*; metadata values as
#   uploaded; the uncertainty scores of predictions/; builtin.* as
#   metadata/builtin.csv has computed them; a tag frozen from a sampling
#   run has that run's score in every row;
# - stat sizes are exact (stat = bytes read), and `cp -a`, `tar c` and
#   `rsync -a` of exports/ give byte-identical files of the stated sizes
#   (a remote Label Studio file's URLs carry an expiry and signature made
#   at each read, so its copies are compared without their query strings);
# - a tag made shows its three files at once, a tag removed takes them
#   away (ls and stat), with no stale names;
# - refusals, each EACCES with its message in log and nothing changed:
#   writing (>, cp over, truncate), creating, rm, mkdir, ln -s, ln, mv
#   in, out and within exports/;
# - a file changed in initial-tag after the tag: its task shows the tag's
#   bytes (the path through the tag folder; the presigned URL where blobs
#   are in S3), or null remotely with local blobs;
# - remotely, GET /v1/tags/{id}/export is 404 for another user, as for a
#   tag that does not exist, 400 for an unknown format.
# Tag names are A-Z a-z 0-9 . _ - (core/names.h): a name with spaces,
# quotes or UTF-8 cannot be made, so odd names are tried on files, and on
# tags as far as the rules allow (dots, a name ending in .txt or .csv).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl cmp rsync tar grep find mountpoint fusermount3

sv_modes

mkdir -p "$T/src/sub"
printf 'alpha\n' >"$T/src/a.bin"
printf 'bee cee\n' >"$T/src/b c.bin"
printf 'quote\n' >"$T/src/q\"uote.bin"
printf 'unicode\n' >"$T/src/ünï.bin"
printf 'comma\n' >"$T/src/sub/x,y.bin"
printf 'P6\n2 1\n255\n\xff\x00\x00\x00\x00\xff' >"$T/src/rb.ppm"

python3 - "$T/emb.csv" <<'EOF'
import csv, random, sys
names = ["a.bin", "b c.bin", 'q"uote.bin', "ünï.bin", "sub/x,y.bin", "rb.ppm"]
rng = random.Random(5)
with open(sys.argv[1], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["filenames", "embedding_0", "embedding_1", "labels"])
    for n in names:
        w.writerow([n, rng.uniform(-1, 1), rng.uniform(-1, 1), 0])
EOF
printf '%s\n' "filename,weather,temp" "a.bin,sunny,21.5" "\"b c.bin\",\"rain, heavy\",-3" \
	"\"sub/x,y.bin\",snow,0" >"$T/meta.csv"
printf '%s\n' "filename,cat,dog" "a.bin,0.7,0.3" "rb.ppm,0.5,0.5" >"$T/pred.csv"

# check_tag DS TAG URLBASE — the three exports of TAG against its folder.
check_tag() {
	local ds=$1 tag=$2 kind=$3
	(cd "$ds/$tag" && find . -type f | sed 's|^\./||' | sort) >"$T/files.$tag"
	ok "cat exports/$tag.txt" cat "$ds/exports/$tag.txt"
	expect_list_eq "$T/files.$tag" "$T/last.out" "exports/$tag.txt lists the tag folder's files"
	ok "exports/$tag.label-studio.json: Label Studio tasks ($kind)" \
		python3 - "$ds/exports/$tag.label-studio.json" "$T/files.$tag" "$ds/$tag" "$kind" <<'EOF'
import json, os, sys, urllib.request
tasks = json.load(open(sys.argv[1], encoding="utf-8"))
files = open(sys.argv[2], encoding="utf-8").read().splitlines()
assert [t["id"] for t in tasks] == list(range(1, len(files) + 1)), tasks
assert all(set(t) == {"id", "data"} and set(t["data"]) == {"image"} for t in tasks), tasks
for t, f in zip(tasks, files):
    want = open(os.path.join(sys.argv[3], f), "rb").read()
    img = t["data"]["image"]
    if sys.argv[4] == "local":
        assert img == os.path.realpath(sys.argv[3]) + "/" + f, (img, f)
        got = open(img, "rb").read()
    else:
        assert img.startswith("http://127.0.0.1:"), img
        got = urllib.request.urlopen(img).read()
    assert got == want, (f, img)
EOF
	ok "exports/$tag.csv parses with Python's csv" python3 - "$ds/exports/$tag.csv" "$T/files.$tag" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
files = open(sys.argv[2], encoding="utf-8").read().splitlines()
head = rows[0]
assert head[:2] == ["filename", "score"], head
for c in ("info.weather", "info.temp", "p.uncertainty_least_confidence",
          "p.uncertainty_margin", "p.uncertainty_entropy", "p.class",
          "builtin.width", "builtin.file_size"):
    assert c in head, (c, head)
assert all(len(r) == len(head) for r in rows), rows
body = {r[0]: dict(zip(head, r)) for r in rows[1:]}
assert [r[0] for r in rows[1:]] == files, rows
if "a.bin" in body:
    a = body["a.bin"]
    assert (a["info.weather"], a["info.temp"]) == ("sunny", "21.5"), a
    # (0.7, 0.3): least confidence (1 - 0.7) * 2 / 1 = 0.6, margin 1 - 0.4
    assert abs(float(a["p.uncertainty_least_confidence"]) - 0.6) < 1e-9, a
    assert abs(float(a["p.uncertainty_margin"]) - 0.6) < 1e-9, a
    assert (a["p.cat"], a["p.dog"]) == ("0.7", "0.3"), a
    assert a["p.class"] == "cat", a
    assert a["builtin.file_size"] == "6", a
if "b c.bin" in body:
    assert body["b c.bin"]["info.weather"] == "rain, heavy", body
    assert body["b c.bin"]["p.class"] == "", body
EOF
}

flows() {
	local M=$1 kind=$2
	MODE=$kind
	local ds=$M/d f
	ok "mkdir dataset" mkdir "$ds" || return
	ok "cp -r samples" cp -r "$T/src/." "$ds/initial-tag/"
	ok "cp embeddings" cp "$T/emb.csv" "$ds/embeddings/e.csv"
	ok "cp metadata" cp "$T/meta.csv" "$ds/metadata/info.csv"
	ok "cp predictions" cp "$T/pred.csv" "$ds/predictions/p.csv"
	expect_errno "File exists" mkdir "$ds/exports"
	ok "ls dataset" ls "$ds"
	expect_line "$T/last.out" "exports" "ls shows exports/"

	ok "select three files" bash -c 'printf "%s\n" "a.bin" "b c.bin" "sub/x,y.bin" >"$1/selection"' _ "$ds"
	ok "mkdir tag sel" mkdir "$ds/sel"
	ok "select two" bash -c 'printf "%s\n" "q\"uote.bin" "ünï.bin" >"$1/selection"' _ "$ds"
	ok "mkdir tag v1.0_x.txt" mkdir "$ds/v1.0_x.txt"
	sample_req "$ds" "random n=3 seed=4 embedding=e"
	expect_eq done "$(wait_run "$ds")" "a random run finished"
	ok "mkdir tag picked (the run's top 3)" mkdir "$ds/picked"

	ok "ls exports" ls "$ds/exports"
	for f in initial-tag picked sel v1.0_x.txt; do
		printf '%s\n' "$f.csv" "$f.label-studio.json" "$f.txt"
	done | sort >"$T/ls.want"
	expect_list_eq "$T/ls.want" "$T/last.out" "exports/ has three files per tag"

	for f in initial-tag sel v1.0_x.txt picked; do
		check_tag "$ds" "$f" "$kind"
	done
	ok "picked.csv has the run's score in every row" python3 - "$ds/exports/picked.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
assert len(rows) == 3, rows
for r in rows:
    float(r["score"])
EOF
	ok "picked.csv's scores are scores.csv's text for the same files" python3 - "$ds/exports/picked.csv" "$ds/scores.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
want = {r["filename"]: r["score"]
        for r in csv.DictReader(open(sys.argv[2], newline="", encoding="utf-8"))}
got = {r["filename"]: r["score"] for r in rows}
assert got and all(want.get(k) == v for k, v in got.items()), (got, want)
EOF

	# builtin.*: what metadata/builtin.csv has computed (a read of an
	# export never decodes: the values come once computed)
	for _ in $(seq 300); do
		grep -q '^rb.ppm,2,' "$ds/metadata/builtin.csv" && break
		sleep 0.1
	done
	ok "initial-tag.csv has rb.ppm's computed builtin values" python3 - "$ds/exports/initial-tag.csv" <<'EOF'
import csv, sys
rows = {r["filename"]: r for r in csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8"))}
rb = rows["rb.ppm"]
assert (rb["builtin.width"], rb["builtin.height"], rb["builtin.file_size"]) == ("2", "1", "17"), rb
assert abs(float(rb["builtin.colourfulness"]) - 1.069093) < 1e-4, rb
assert rows["a.bin"]["builtin.width"] == "" and rows["a.bin"]["builtin.file_size"] == "6", rows["a.bin"]
EOF
	ok "initial-tag.csv's builtin.* values are metadata/builtin.csv's text" python3 - "$ds/exports/initial-tag.csv" "$ds/metadata/builtin.csv" <<'EOF'
import csv, sys
got = {r["filename"]: r for r in csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8"))}
want = {r["filename"]: r for r in csv.DictReader(open(sys.argv[2], newline="", encoding="utf-8"))}
for k in ("width", "height", "brightness", "contrast", "sharpness", "colourfulness", "file_size"):
    assert got["rb.ppm"]["builtin." + k] == want["rb.ppm"][k], (k, got["rb.ppm"], want["rb.ppm"])
EOF

	# --- exact sizes; cp -a, tar, rsync give the same bytes
	for f in "$ds"/exports/*; do
		expect_eq "$(wc -c <"$f")" "$(stat -c %s "$f")" "stat size of exports/${f##*/} = bytes read"
	done
	mkdir -p "$T/$kind.tar" "$T/$kind.rs"
	ok "cp -a exports" cp -a "$ds/exports" "$T/$kind.cpa"
	ok "tar c exports | tar x" bash -c 'set -o pipefail; tar -C "$1" -cf - exports | tar -C "$2" -xf -' _ "$ds" "$T/$kind.tar"
	ok "rsync -a exports" rsync -a "$ds/exports/" "$T/$kind.rs/"
	for f in "$ds"/exports/*; do
		local b=${f##*/} size
		size=$(stat -c %s "$f")
		cat "$f" >"$T/want"
		for c in "$T/$kind.cpa/$b" "$T/$kind.tar/exports/$b" "$T/$kind.rs/$b"; do
			expect_eq "$size" "$(stat -c %s "$c")" "copy ${c#"$T"/} has the stated size"
			if [[ $kind == remote && $b == *.label-studio.json ]]; then
				sed 's/?[^"]*"/"/g' "$T/want" >"$T/want.q"
				sed 's/?[^"]*"/"/g' "$c" >"$T/got.q"
				ok "copy ${c#"$T"/} = the file (URL queries aside)" cmp "$T/want.q" "$T/got.q"
			else
				ok "copy ${c#"$T"/} = the file" cmp "$T/want" "$c"
			fi
		done
	done

	# --- tags made and removed show at once
	ok "select one" bash -c 'printf "%s\n" "a.bin" >"$1/selection"' _ "$ds"
	ok "stat exports/late.txt before: absent" bash -c '! stat "$1" 2>/dev/null' _ "$ds/exports/late.txt"
	ok "mkdir tag late" mkdir "$ds/late"
	ok "cat exports/late.txt" cat "$ds/exports/late.txt"
	expect_eq "a.bin" "$(cat "$T/last.out")" "a new tag's export shows at once"
	ok "ls exports after mkdir" ls "$ds/exports"
	expect_line "$T/last.out" "late.label-studio.json" "ls shows the new tag's files"
	ok "rmdir tag late" rmdir "$ds/late"
	expect_errno "No such file or directory" stat "$ds/exports/late.csv"
	ok "ls exports after rmdir" ls "$ds/exports"
	expect_list_eq "$T/ls.want" "$T/last.out" "a removed tag's files are gone"
	# a tag made again under the name (the catalog may give it the
	# removed one's id): its files, and the size of what it holds now
	ok "select two for a new late" bash -c 'printf "%s\n" "a.bin" "rb.ppm" >"$1/selection"' _ "$ds"
	ok "mkdir tag late again" mkdir "$ds/late"
	expect_eq "13" "$(stat -c %s "$ds/exports/late.txt")" "stat size of the new late.txt is of its two files"
	expect_eq "$(printf 'a.bin\nrb.ppm')" "$(cat "$ds/exports/late.txt")" "the new late's export shows its two files"
	ok "rmdir tag late again" rmdir "$ds/late"
	# a tag renamed: its exports under the new name, each stat's size
	# that of what a read gives now (locally its Label Studio images are
	# paths through the new folder: the text is longer)
	ok "stat exports/picked.label-studio.json" stat "$ds/exports/picked.label-studio.json"
	ok "mv tag picked picked-renamed" mv "$ds/picked" "$ds/picked-renamed"
	f=$ds/exports/picked-renamed.label-studio.json
	expect_eq "$(stat -c %s "$f")" "$(wc -c <"$f")" "stat size of a renamed tag's Label Studio text = bytes read"
	if [[ $kind == local ]]; then
		expect_contains "$f" "/picked-renamed/" "its images are paths through the new folder"
	fi
	ok "mv tag picked-renamed picked" mv "$ds/picked-renamed" "$ds/picked"
	f=$ds/exports/picked.label-studio.json
	expect_eq "$(stat -c %s "$f")" "$(wc -c <"$f")" "stat size after the rename back = bytes read"
	# initial-tag's texts follow its files at once: a file added, renamed
	# and removed, each stat's size that of what a read gives then
	# (locally kept while the live tree's change counter stands, made
	# again when it moves)
	local it=$ds/exports/initial-tag x
	ok "stat initial-tag's exports" stat "$it.txt" "$it.label-studio.json"
	ok "add a file to initial-tag" cp "$T/src/a.bin" "$ds/initial-tag/late-add.bin"
	for x in txt label-studio.json; do
		expect_eq "$(stat -c %s "$it.$x")" "$(wc -c <"$it.$x")" "initial-tag.$x's size after a file added = bytes read"
	done
	expect_contains "$it.txt" "late-add.bin" "initial-tag.txt lists the added file"
	ok "mv a file within initial-tag" mv "$ds/initial-tag/late-add.bin" "$ds/initial-tag/late-add-renamed.bin"
	for x in txt label-studio.json; do
		expect_eq "$(stat -c %s "$it.$x")" "$(wc -c <"$it.$x")" "initial-tag.$x's size after a file renamed = bytes read"
	done
	expect_contains "$it.txt" "late-add-renamed.bin" "initial-tag.txt lists the renamed file"
	ok "rm the file from initial-tag" rm "$ds/initial-tag/late-add-renamed.bin"
	for x in txt label-studio.json; do
		expect_eq "$(stat -c %s "$it.$x")" "$(wc -c <"$it.$x")" "initial-tag.$x's size after a file removed = bytes read"
	done

	# --- refusals: EACCES, message in log, nothing changed
	cat "$ds/exports/sel.txt" >"$T/sel.before"
	(cd "$ds/exports" && ls) >"$T/ls.before"
	expect_errno "Permission denied" bash -c 'echo x > "$1"' _ "$ds/exports/sel.txt"
	ok "cat log" cat "$ds/log"
	expect_contains "$T/last.out" "exports/sel.txt: writing refused: exports/ is read-only" \
		"log says why a write to an export was refused"
	expect_errno "Permission denied" cp "$T/meta.csv" "$ds/exports/sel.csv"
	expect_errno "Permission denied" truncate -s 0 "$ds/exports/sel.txt"
	expect_errno "Permission denied" touch "$ds/exports/new.txt"
	ok "cat log" cat "$ds/log"
	expect_contains "$T/last.out" "exports/new.txt: create refused: exports/ is read-only" \
		"log says why a create was refused"
	expect_errno "Permission denied" rm "$ds/exports/sel.txt"
	ok "cat log" cat "$ds/log"
	expect_contains "$T/last.out" "exports/sel.txt: unlink refused" "log says why rm was refused"
	expect_errno "Permission denied" mkdir "$ds/exports/sub"
	expect_errno "Permission denied" ln -s /etc/hostname "$ds/exports/l.txt"
	ok "cat log" cat "$ds/log"
	expect_contains "$T/last.out" "exports/l.txt: symlink refused" "log says why ln -s was refused"
	expect_errno "Permission denied" ln "$ds/initial-tag/a.bin" "$ds/exports/h.txt"
	expect_errno "Permission denied" mv "$ds/exports/sel.txt" "$ds/exports/other.txt"
	ok "cat log" cat "$ds/log"
	expect_contains "$T/last.out" "exports/sel.txt: rename refused" "log says why mv was refused"
	expect_fail "mv an export out of exports/" mv "$ds/exports/sel.csv" "$ds/sel.csv"
	ok "cp a file for mv" cp "$T/meta.csv" "$T/in.csv"
	expect_fail "mv a file into exports/" mv "$T/in.csv" "$ds/exports/in.csv"
	ok "sel.txt unchanged" cmp "$T/sel.before" "$ds/exports/sel.txt"
	(cd "$ds/exports" && ls) >"$T/ls.after"
	expect_list_eq "$T/ls.before" "$T/ls.after" "exports/ lists the same files after the refusals"
	ok "the tag folder unchanged" bash -c '(cd "$1/sel" && find . -type f | sed "s|^\./||" | sort) | cmp - "$2"' _ "$ds" "$T/files.sel"

	# --- a sample changed in initial-tag after the tag was made: the tag's
	# task still shows the tag's bytes (locally, its path through the tag
	# folder; remotely the object store's URL of them), or null where the
	# server has no URL of those bytes (local blobs: the signed URL serves
	# initial-tag's sample)
	ok "change a.bin in initial-tag" bash -c 'printf "changed\n" >"$1"' _ "$ds/initial-tag/a.bin"
	local s3=0
	[[ $kind == remote && -n $(sv_blobs_prefix "$T/rstore") ]] && s3=1
	ok "sel's task for a.bin after the change" python3 - "$ds/exports/sel.label-studio.json" "$kind" "$s3" "$T/src/a.bin" <<'EOF'
import json, sys, urllib.request
tasks = json.load(open(sys.argv[1], encoding="utf-8"))
img = tasks[0]["data"]["image"]
old = open(sys.argv[4], "rb").read()
if sys.argv[2] == "local":
    assert open(img, "rb").read() == old, img
elif sys.argv[3] == "1":
    assert urllib.request.urlopen(img).read() == old, img
else:
    assert img is None, img
assert all(t["data"]["image"] for t in tasks[1:]), tasks
EOF

	# --- a '?' in a file name is content, not a URL's query: a rename of
	# the same length after it gives the Label Studio text a new mtime, so
	# rsync's quick check (size, mtime) copies it again. Local only: a
	# server's tasks name files by URL, not by name.
	if [[ $kind == local ]]; then
		local lsf=$ds/exports/initial-tag.label-studio.json m1 m2
		ok "a file named w?1.bin" bash -c 'printf "w\n" >"$1"' _ "$ds/initial-tag/w?1.bin"
		sleep 1   # past the window in which a stat reuses a making's length
		ok "rsync the Label Studio text" rsync -a "$lsf" "$T/q.json"
		m1=$(stat -c '%s %y' "$lsf")
		ok "mv w?1.bin w?2.bin" mv "$ds/initial-tag/w?1.bin" "$ds/initial-tag/w?2.bin"
		sleep 1
		m2=$(stat -c '%s %y' "$lsf")
		expect_eq "${m1%% *}" "${m2%% *}" "the text's size is the same after the rename"
		[[ $m1 != "$m2" ]] && pass "the text's mtime moved with the rename" ||
			fail "the text's mtime did not move with the rename ($m1)"
		ok "rsync the Label Studio text again" rsync -a "$lsf" "$T/q.json"
		ok "rsync's copy is the renamed text" cmp "$lsf" "$T/q.json"
		expect_contains "$T/q.json" 'w?2.bin' "the copy names w?2.bin"
		ok "rm w?2.bin" rm "$ds/initial-tag/w?2.bin"
	fi

	if [[ $kind == remote ]]; then
		U=http://127.0.0.1:$port
		local tok dsid tagid
		tok=$(cat "$T/alice.tok")
		api "$tok" GET /v1/datasets
		dsid=$(jget '["datasets"][0]["id"]' 2>/dev/null || jget '[0]["id"]')
		api "$tok" GET "/v1/datasets/$dsid/tags"
		tagid=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d=d.get("tags", d) if isinstance(d, dict) else d; print([t["id"] for t in d if t["name"] == "sel"][0])' "$T/body")
		api "$tok" GET "/v1/tags/$tagid/export?format=txt"
		expect_code 200 "alice reads her tag's export"
		cmp -s "$T/body" "$T/sel.before" && pass "the route's txt = exports/sel.txt" ||
			fail "the route's txt differs from exports/sel.txt"
		api "$tok" GET "/v1/tags/$tagid/export?format=yaml"
		expect_code 400 "an unknown format"
		api "$tok" POST "/v1/datasets/$dsid/tags" -d '{"name":"exports"}'
		expect_code 409 "a tag may not be named exports (reserved)"
		STORE=$T/rstore new_token bob "$T/bob.tok" >/dev/null || fail "token for bob"
		api "$(cat "$T/bob.tok")" GET "/v1/tags/$tagid/export?format=csv"
		expect_code 404 "bob cannot read alice's export"
		api "$(cat "$T/bob.tok")" GET "/v1/tags/999999/export?format=csv"
		expect_code 404 "a tag that does not exist"
	fi
}

both_modes flows
