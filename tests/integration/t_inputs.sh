#!/usr/bin/env bash
#
# t_inputs — the predictions/ and metadata/ folders of issue 21 (i21a),
# through a local (embedded) mount and a remote mount of a real `sievefs
# serve`, one body (`flows`) run in each mode with the same expectations.
#
# Proves, in each mode:
# - a dataset shows predictions/ and metadata/; mkdir of either name: EEXIST;
# - cp of a predictions CSV (quoted names, CRLF) and of a metadata CSV (LF,
#   empty values, numeric and categorical columns) read back byte for byte
#   (cmp), and `ls` shows predictions/NAME.scores.csv beside NAME.csv;
# - NAME.scores.csv holds the hand-computed uncertainty scores and the
#   predicted class, and Python's csv module parses it;
# - logits (rows not summing to 1) are accepted, softmaxed, and log says so;
# - shell idioms: `>` redirect, `| tee`, Python open().write(), and rsync
#   (a scratch file renamed over the target) store the file; a refused
#   rsync leaves the old file as it was;
# - refusals, each with its message in log and nothing changed: a bad value
#   (row and column named; the previous CSV unchanged byte for byte), a row
#   with too few columns, a CSV naming no sample, a bad name, metadata/
#   builtin.csv and writing predictions/NAME.scores.csv (read-only), rm of
#   NAME.scores.csv (EPERM) while rm NAME.csv removes both;
# - the dataset's info and the other folders are untouched by all this;
# - built-in image metadata: metadata/builtin.csv answers at once (the
#   values are computed in the background, a later read has them; log is
#   left as it was); parsed with Python's csv it has width, height, brightness, contrast, sharpness, colourfulness and
#   file_size of two PPM images equal to values computed by hand, and
#   file_size only for a file that is not an image; the same values as
#   user.sievefs.<name> attributes (getfattr), none but file_size on the
#   non-image; builtin.csv is read-only (EACCES, also to cp) and cannot be removed
#   (EPERM).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl cmp rsync tee grep mountpoint fusermount3

sv_modes

for i in 1 2 3 4; do printf 'sample %s\n' "$i" >"$T/s$i.bin"; done
mkdir -p "$T/sub"
printf 'nested\n' >"$T/sub/a, b.bin"

# Probabilities (CRLF, a quoted name with a comma).
printf '%s\r\n' "filename,cat,dog,bird" \
	"s1.bin,0.7,0.2,0.1" \
	"s2.bin,0.1,0.1,0.8" \
	"\"sub/a, b.bin\",0.5,0.5,0" >"$T/pred.csv"
# Hand-computed (test_incsv.c): (0.7,0.2,0.1) -> 0.45, 0.5, 0.729847;
# (0.1,0.1,0.8) -> 0.3, 0.3, 0.581672; (0.5,0.5,0) -> 1, 1, 0.63093
# (ln 2 / ln 3), first class of highest probability: cat.
printf '%s\r\n' "filename,uncertainty_least_confidence,uncertainty_margin,uncertainty_entropy,class" \
	"s1.bin,0.45,0.5,0.729847,cat" \
	"s2.bin,0.3,0.3,0.581672,bird" \
	"\"sub/a, b.bin\",0.75,1,0.63093,cat" >"$T/pred.scores"
printf '%s\r\n' "filename,a,b" "s1.bin,2.0,-1.0" "s2.bin,0,0" >"$T/logits.csv"
printf '%s\n' "filename,weather,score,note" \
	"s1.bin,sunny,1.5," \
	"s2.bin,rain,2,x" \
	"s3.bin,,-3e2," >"$T/meta.csv"
printf '%s\r\n' "filename,cat,dog" "s1.bin,0.5,abc" >"$T/badval.csv"
printf '%s\r\n' "filename,cat,dog" "s1.bin,0.5,0.5" "s2.bin,0.5" >"$T/short.csv"
printf '%s\r\n' "filename,w" "nope.bin,1" >"$T/none.csv"
printf '%s\r\n' "filename,w" "nope.bin,1" "s1.bin,2" >"$T/part.csv"

# Two images (binary PPM, which the embedder's decoder reads): a 2x2 grey
# checker 0 255 / 0 255 (brightness 0.5, contrast 0.5, no interior:
# sharpness 0, grey: colourfulness 0) and a 2x1 red, blue pair
# (brightness 0.2065, contrast 0.0925, colourfulness 1.06909).
printf 'P6\n2 2\n255\n\x00\x00\x00\xff\xff\xff\x00\x00\x00\xff\xff\xff' >"$T/checker.ppm"
printf 'P6\n2 1\n255\n\xff\x00\x00\x00\x00\xff' >"$T/rb.ppm"

builtin_flows() {
	local ds=$1
	ok "cp images" cp "$T/checker.ppm" "$T/rb.ppm" "$ds/initial-tag/"
	ok "ls metadata" ls "$ds/metadata"
	expect_line "$T/last.out" "builtin.csv" "metadata/ lists builtin.csv"
	# the first read never waits for a decode: the values computed so far
	# (none yet: empty), and the rest in the background; a read changes
	# nothing else (log stays as it was)
	cat "$ds/log" >"$T/log0"
	cat "$ds/metadata/builtin.csv" >"$T/builtin0.csv"
	expect_contains "$T/builtin0.csv" "filename,width,height" "builtin.csv answers at once with its header"
	if grep -q '^checker.ppm,,' "$T/builtin0.csv"; then
		pass "the first read shows the checker's values empty (being computed)"
	else
		note "builtin.csv's values were already there at the first read"
	fi
	cat "$ds/log" | cmp -s "$T/log0" - && pass "reading builtin.csv leaves log as it was" ||
		fail "reading builtin.csv changed log"
	for _ in $(seq 300); do
		grep -q '^checker.ppm,2,' "$ds/metadata/builtin.csv" && break
		sleep 0.1
	done
	ok "builtin.csv parses with Python's csv, values as computed by hand" \
		python3 - "$ds/metadata/builtin.csv" "$(wc -c <"$T/checker.ppm")" "$(wc -c <"$T/rb.ppm")" <<'EOF'
import csv, sys
rows = {r["filename"]: r for r in csv.DictReader(open(sys.argv[1], newline=""))}
c, rb, s1 = rows["checker.ppm"], rows["rb.ppm"], rows["s1.bin"]
def near(a, b): assert abs(float(a) - b) < 1e-4, (a, b)
assert (c["width"], c["height"], c["file_size"]) == ("2", "2", sys.argv[2]), c
near(c["brightness"], 0.5); near(c["contrast"], 0.5)
near(c["sharpness"], 0); near(c["colourfulness"], 0)
assert (rb["width"], rb["height"], rb["file_size"]) == ("2", "1", sys.argv[3]), rb
near(rb["brightness"], 0.2065); near(rb["contrast"], 0.0925)
near(rb["colourfulness"], 1.069093)
assert s1["width"] == "" and s1["brightness"] == "" and s1["file_size"] == "9", s1
assert len(rows) == 7, sorted(rows)
EOF
	ok "getfattr width" getfattr --only-values -n user.sievefs.width "$ds/initial-tag/checker.ppm"
	expect_eq "2" "$(cat "$T/last.out")" "user.sievefs.width of the checker is 2"
	ok "getfattr colourfulness" getfattr --only-values -n user.sievefs.colourfulness "$ds/initial-tag/rb.ppm"
	expect_eq "1.06909" "$(cat "$T/last.out")" "user.sievefs.colourfulness of red+blue is 1.06909"
	ok "getfattr -d lists the metadata" getfattr -d -m user.sievefs "$ds/initial-tag/rb.ppm"
	expect_contains "$T/last.out" 'user.sievefs.brightness="0.2065"' "getfattr -d shows brightness"
	expect_contains "$T/last.out" 'user.sievefs.file_size="17"' "getfattr -d shows file_size"
	for a in width height contrast sharpness colourfulness; do
		expect_contains "$T/last.out" "user.sievefs.$a=" "getfattr -d lists $a of an image"
	done
	ok "getfattr -d on a non-image" getfattr -d -m user.sievefs "$ds/initial-tag/s1.bin"
	expect_contains "$T/last.out" 'user.sievefs.file_size="9"' "getfattr -d lists file_size of a non-image"
	cp "$T/last.out" "$T/nonimage.xattrs"
	for a in width height brightness contrast sharpness colourfulness; do
		expect_fail "getfattr -d lists no $a of a non-image" grep -qF "user.sievefs.$a=" "$T/nonimage.xattrs"
	done
	expect_errno "No such attribute" getfattr -n user.sievefs.width "$ds/initial-tag/s1.bin"
	ok "getfattr file_size of a non-image" getfattr --only-values -n user.sievefs.file_size "$ds/initial-tag/s1.bin"
	expect_eq "9" "$(cat "$T/last.out")" "a non-image has file_size"
	expect_errno "Permission denied" bash -c 'echo x > "$1"' _ "$ds/metadata/builtin.csv"
	expect_errno "Operation not permitted" rm "$ds/metadata/builtin.csv"
}

flows() {
	local M=$1 kind=$2
	MODE=$kind
	local ds=$M/d
	ok "mkdir dataset" mkdir "$ds" || return
	ok "cp samples" cp "$T/s1.bin" "$T/s2.bin" "$T/s3.bin" "$T/s4.bin" "$ds/initial-tag/"
	ok "cp a sub-folder" cp -r "$T/sub" "$ds/initial-tag/"
	ok "ls dataset" ls "$ds"
	expect_line "$T/last.out" "predictions" "ls shows predictions/"
	expect_line "$T/last.out" "metadata" "ls shows metadata/"
	expect_errno "File exists" mkdir "$ds/predictions"
	expect_errno "File exists" mkdir "$ds/metadata"

	# --- predictions: upload, read back, scores
	ok "cp predictions CSV" cp "$T/pred.csv" "$ds/predictions/m.csv"
	ok "read back byte for byte" cmp "$T/pred.csv" "$ds/predictions/m.csv"
	ok "ls predictions" ls "$ds/predictions"
	printf '%s\n' m.csv m.scores.csv >"$T/ls.expected"
	expect_list_eq "$T/ls.expected" "$T/last.out" "predictions/ lists m.csv and m.scores.csv"
	ok "cat m.scores.csv" cat "$ds/predictions/m.scores.csv"
	expect_list_eq "$T/pred.scores" "$T/last.out" "m.scores.csv: hand-computed scores and class"
	ok "Python csv parses the scores" python3 - "$ds/predictions/m.scores.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert [r["filename"] for r in rows] == ["s1.bin", "s2.bin", "sub/a, b.bin"], rows
for r in rows:
    for k in ("uncertainty_least_confidence", "uncertainty_margin", "uncertainty_entropy"):
        assert 0 <= float(r[k]) <= 1, r
assert rows[1]["class"] == "bird"
EOF
	ok "stat size = bytes read" test "$(stat -c %s "$ds/predictions/m.csv")" = "$(wc -c <"$T/pred.csv")"
	ok "cp logits" cp "$T/logits.csv" "$ds/predictions/lg.csv"
	ok "cat log" cat "$ds/log"
	expect_contains "$T/last.out" "predictions 'lg' stored: 2 samples, 2 classes (logits: softmaxed)" \
		"log: logits are softmaxed, and said so"

	# --- metadata
	ok "cp metadata CSV" cp "$T/meta.csv" "$ds/metadata/info.csv"
	ok "metadata reads back byte for byte" cmp "$T/meta.csv" "$ds/metadata/info.csv"
	ok "cat log" cat "$ds/log"
	expect_contains "$T/last.out" "metadata 'info' stored: 3 samples, 3 columns" "log: metadata stored"

	# --- shell idioms
	ok "> redirect" bash -c 'cat "$1" > "$2"' _ "$T/meta.csv" "$ds/metadata/redir.csv"
	ok "redirect reads back" cmp "$T/meta.csv" "$ds/metadata/redir.csv"
	ok "| tee" bash -c 'cat "$1" | tee "$2" >/dev/null' _ "$T/pred.csv" "$ds/predictions/tee.csv"
	ok "tee reads back" cmp "$T/pred.csv" "$ds/predictions/tee.csv"
	ok "Python open().write()" python3 -c 'import sys; open(sys.argv[2], "w", newline="").write(open(sys.argv[1], newline="").read())' \
		"$T/meta.csv" "$ds/metadata/py.csv"
	ok "Python write reads back" cmp "$T/meta.csv" "$ds/metadata/py.csv"
	ok "rsync a CSV in" rsync "$T/pred.csv" "$ds/predictions/rs.csv"
	ok "rsync'd reads back" cmp "$T/pred.csv" "$ds/predictions/rs.csv"
	cp "$T/badval.csv" "$T/rs-bad/rs.csv" 2>/dev/null || { mkdir -p "$T/rs-bad" && cp "$T/badval.csv" "$T/rs-bad/rs.csv"; }
	expect_fail "rsync of a bad CSV over rs.csv fails" rsync "$T/rs-bad/rs.csv" "$ds/predictions/rs.csv"
	ok "rs.csv unchanged after the refused rsync" cmp "$T/pred.csv" "$ds/predictions/rs.csv"

	# --- refusals: message in log, nothing changed
	ok "info before" cat "$ds/info"
	grep -v '^\(latest\|created\)' "$T/last.out" >"$T/info.before"
	expect_errno "Invalid argument" cp "$T/badval.csv" "$ds/predictions/m.csv"
	ok "cat log" cat "$ds/log"
	expect_contains "$T/last.out" "predictions/m.csv not stored: row 2, column 3 (dog): 'abc' is not a number" \
		"log names row and column of a bad value"
	ok "m.csv unchanged by the refused copy" cmp "$T/pred.csv" "$ds/predictions/m.csv"
	expect_errno "Invalid argument" cp "$T/short.csv" "$ds/predictions/short.csv"
	ok "cat log" cat "$ds/log"
	expect_contains "$T/last.out" "predictions/short.csv not stored: row 3: 2 columns, the header has 3" \
		"log: a short row is named"
	expect_errno "No such file or directory" cat "$ds/predictions/short.csv"
	expect_errno "Invalid argument" cp "$T/none.csv" "$ds/metadata/none.csv"
	ok "cat log" cat "$ds/log"
	expect_contains "$T/last.out" "metadata/none.csv not stored: no row names a sample of initial-tag" \
		"log: a CSV naming no sample is refused"
	expect_errno "No such file or directory" cat "$ds/metadata/none.csv"
	expect_errno "Permission denied" cp "$T/meta.csv" "$ds/metadata/builtin.csv"
	expect_errno "Invalid argument" cp "$T/meta.csv" "$ds/metadata/bad name.csv"
	expect_errno "Permission denied" bash -c 'cat "$1" > "$2"' _ "$T/pred.csv" "$ds/predictions/m.scores.csv"
	expect_errno "Operation not permitted" rm "$ds/predictions/m.scores.csv"
	ok "m.csv unchanged" cmp "$T/pred.csv" "$ds/predictions/m.csv"
	ok "info after" cat "$ds/info"
	grep -v '^\(latest\|created\)' "$T/last.out" >"$T/info.after"
	expect_list_eq "$T/info.before" "$T/info.after" "info unchanged by the refusals"
	ok "ls embeddings" ls "$ds/embeddings"
	expect_eq "" "$(cat "$T/last.out")" "embeddings/ untouched"

	ok "cp a CSV with a row naming no sample" cp "$T/part.csv" "$ds/metadata/part.csv"
	ok "cat log" cat "$ds/log"
	expect_contains "$T/last.out" "metadata 'part' stored: 1 sample, 1 column (skipped 1 row naming no sample: 'nope.bin')" \
		"log: the rows naming no sample are counted and named"
	ok "rm part.csv" rm "$ds/metadata/part.csv"

	# --- rm
	ok "rm m.csv" rm "$ds/predictions/m.csv"
	ok "ls predictions after rm" ls "$ds/predictions"
	printf '%s\n' lg.csv lg.scores.csv rs.csv rs.scores.csv tee.csv tee.scores.csv >"$T/ls2.expected"
	expect_list_eq "$T/ls2.expected" "$T/last.out" "rm NAME.csv removes NAME.scores.csv too"
	ok "cat log" cat "$ds/log"
	expect_contains "$T/last.out" "predictions 'm' deleted" "log: deletion"
	builtin_flows "$ds"
}

both_modes flows
