#!/usr/bin/env bash
#
# t_generated — the generated files of a dataset (info, log, selection,
# sample, scores.csv, plot.svg, plot-umap.svg, metadata/builtin.csv,
# embeddings/*.csv) copy whole with the tools
# that trust stat: their size is the size of their text.
#
# Proves, on a local mount and on a remote mount of a real `sievefs serve`,
# for a dataset with samples, an uploaded embeddings CSV and a finished
# sampling run, once the dataset is idle (plot-umap.svg's layout drawn):
#  - `stat -c %s` equals `wc -c` (and `ls -l`'s size), `test -s` holds, and two
#    stats in a row give the same size, mtime and ctime;
#  - `rsync -a DATASET/ copy/` copies every generated file byte for byte (equal
#    to `cat` of it); a second `rsync -a` transfers no file;
#  - `tar cf` of the dataset exits 0 without "file changed as we read it", and
#    the extracted files equal `cat`;
#  - `cp -a` and Python's shutil.copy give the same bytes as `cat`;
#  - an open with O_APPEND of `sample` still takes a request (the kernel
#    sends the true size as the offset), and `>>` to `selection` adds to it;
#  - plot.svg before any embedding says how to get one (the built-in
#    embedder: echo embed > sample).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 rsync tar cmp curl stat wc mountpoint fusermount3

GEN=(info log selection sample scores.csv plot.svg plot-umap.svg
	metadata/builtin.csv embeddings/emb.csv)

src=$T/src
sv_gen_tree "$src" 40 3000 711 || die "could not generate samples"
sv_files "$src" >"$T/all.txt"

python3 - "$T/all.txt" "$T/emb.csv" <<'EOF' || die "could not write the CSV"
import csv, random, sys
names = [l.rstrip("\n") for l in open(sys.argv[1], encoding="utf-8")]
rng = random.Random(712)
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["filenames"] + ["embedding_%d" % j for j in range(8)] + ["labels"])
    for n in names:
        w.writerow([n] + [str(rng.uniform(-1, 1)) for _ in range(8)] + [rng.randint(0, 3)])
EOF

# setup DS — a dataset with the samples, the CSV and a finished run.
setup() {
	local ds=$1 st
	ok "mkdir the dataset" mkdir "$ds" || return 1
	expect_contains "$ds/plot.svg" "echo embed &gt; ds/sample" \
		"plot.svg without an embedding names the built-in embedder"
	ok "cp -r the samples in" cp -r "$src/." "$ds/initial-tag/"
	ok "cp the embeddings CSV in" cp "$T/emb.csv" "$ds/embeddings/emb.csv"
	sample_req "$ds" "random n=10 seed=3"
	st=$(wait_run "$ds")
	expect_eq done "$st" "the sampling run finished"
	# idle also means the layout plot-umap.svg computes in the background
	# (its first read starts it) is drawn: until then the file is a note,
	# and a copy made before and one made after differ, as they should
	for _ in $(seq 300); do
		grep -q 'id="pending"' "$ds/plot-umap.svg" || break
		sleep 0.1
	done
	grep -q 'id="pending"' "$ds/plot-umap.svg" &&
		fail "plot-umap.svg still says its layout is being computed after 30 s"
	return 0
}

# check LABEL DS — the copy checks on an idle dataset.
check() {
	local label=$1 ds=$2 f s w a b out=$T/$1
	mkdir -p "$out"
	for f in "${GEN[@]}"; do
		s=$(stat -c %s "$ds/$f")
		w=$(wc -c <"$ds/$f")
		expect_eq "$w" "$s" "$label: stat size of $f is its length ($w)"
		if test -s "$ds/$f"; then
			pass "$label: test -s $f"
		else
			fail "$label: test -s $f is false"
		fi
		a=$(stat -c '%s %Y.%y %Z.%z' "$ds/$f")
		b=$(stat -c '%s %Y.%y %Z.%z' "$ds/$f")
		expect_eq "$a" "$b" "$label: two stats of $f agree (size, mtime, ctime)"
		cat "$ds/$f" >"$out/$(basename "$f").cat"
	done
	# ls -l shows the sizes too
	s=$(ls -l "$ds/info" | awk '{print $5}')
	expect_eq "$(wc -c <"$ds/info")" "$s" "$label: ls -l shows info's size"

	ok "$label: rsync -a DATASET/ copy/" rsync -a "$ds/" "$out/rs/"
	for f in "${GEN[@]}"; do
		if cmp -s "$out/rs/$f" "$out/$(basename "$f").cat"; then
			pass "$label: rsync copied $f whole"
		else
			fail "$label: rsync's copy of $f differs from cat ($(wc -c <"$out/rs/$f") bytes)"
		fi
	done
	rsync -a -i "$ds/" "$out/rs/" >"$out/rs2.txt" 2>&1
	expect_eq 0 "$(grep -c '^[<>]f' "$out/rs2.txt")" \
		"$label: a second rsync -a transfers no file"
	sv_show "$out/rs2.txt"

	mkdir -p "$out/x"
	if tar cf "$out/ds.tar" -C "$ds" . 2>"$out/tar.err"; then
		pass "$label: tar cf exits 0"
	else
		fail "$label: tar cf failed"
		sv_show "$out/tar.err"
	fi
	if grep -q "changed as we read" "$out/tar.err"; then
		fail "$label: tar says a file changed as it read it"
		sv_show "$out/tar.err"
	else
		pass "$label: tar reads every file unchanged"
	fi
	ok "$label: tar xf" tar xf "$out/ds.tar" -C "$out/x"
	for f in "${GEN[@]}"; do
		if cmp -s "$out/x/$f" "$out/$(basename "$f").cat"; then
			pass "$label: tar archived $f whole"
		else
			fail "$label: tar's copy of $f differs from cat"
		fi
	done

	mkdir -p "$out/cp" "$out/py"
	for f in "${GEN[@]}"; do
		cp -a "$ds/$f" "$out/cp/$(basename "$f")"
		python3 -c 'import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])' \
			"$ds/$f" "$out/py/$(basename "$f")"
		if cmp -s "$out/cp/$(basename "$f")" "$out/$(basename "$f").cat"; then
			pass "$label: cp -a copied $f whole"
		else
			fail "$label: cp -a's copy of $f differs from cat"
		fi
		if cmp -s "$out/py/$(basename "$f")" "$out/$(basename "$f").cat"; then
			pass "$label: shutil.copy copied $f whole"
		else
			fail "$label: shutil.copy's copy of $f differs from cat"
		fi
	done
}

# appends LABEL DS — O_APPEND opens of the writable control files.
appends() {
	local label=$1 ds=$2 st n
	if bash -c 'echo "random n=4 seed=5" >> "$1"' _ "$ds/sample"; then
		pass "$label: echo REQUEST >> sample is accepted"
	else
		fail "$label: echo REQUEST >> sample failed"
	fi
	st=$(wait_run "$ds")
	expect_eq done "$st" "$label: the appended request ran"
	expect_eq 4 "$(wc -l <"$ds/selection")" "$label: its selection has 4 samples"
	n=$(grep -vxF -f "$ds/selection" "$T/all.txt" | head -n 1)
	if bash -c 'printf "%s\n" "$1" >> "$2"' _ "$n" "$ds/selection"; then
		pass "$label: >> selection is accepted"
	else
		fail "$label: >> selection failed"
	fi
	expect_eq 5 "$(wc -l <"$ds/selection")" "$label: >> selection added a path"
	expect_eq "$n" "$(tail -n 1 "$ds/selection")" "$label: the added path is last"
	expect_eq "$(wc -c <"$ds/selection")" "$(stat -c %s "$ds/selection")" \
		"$label: the new selection's size shows at once"
}

# --- local mode
L=$T/mnt
sv_mount "$T/lstore" "$L" || die "mount failed"
setup "$L/ds" || die "setup failed"
check local "$L/ds"
appends local "$L/ds"

# --- remote mode
R=$T/rmnt
remote_mount "$T/store" "$R" -o meta_ttl=1 || die "no remote mount"
setup "$R/ds" || die "remote setup failed"
check remote "$R/ds"
appends remote "$R/ds"

sv_umount "$R"
sv_umount "$L"
