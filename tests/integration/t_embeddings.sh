#!/usr/bin/env bash
#
# t_embeddings — a dataset's embeddings/ folder: CSVs in lightly's
# save_embeddings format go in with cp and come back out with cat.
#
# Proves: a CSV written by Python's csv module (header filenames,
# embedding_0..embedding_{d-1},labels; "\r\n" line ends; quoted names with
# commas, quotes, spaces, sub-folders and UTF-8; floats as str() prints them,
# e.g. 1e-05, -0.0, 3.4028235e+38) uploads with cp, is listed by ls and reads
# back byte for byte; a CSV with "\n" line ends, rows in any order and
# non-canonical numbers (" 1.5 ", 1E3, +2, 0.10000000149011612) is accepted and
# exported in the canonical form (rows by path, "\r\n", shortest float32
# decimals, plain integer labels); every malformed file (empty, header only,
# d = 0, missing or wrong header, wrong column count, non-numeric, nan, inf,
# overflow, non-integer label, duplicate or empty or absolute or "../" name,
# an unterminated quote, an empty line between rows, a line over the cap, a
# header name with spaces around it, a file whose rows name no sample at
# all) makes the write() that completes the bad row, or close(), fail with
# EINVAL — through cp and Python (OSError errno 22) — stores nothing, keeps
# an existing NAME.csv unchanged, and leaves a log line with the row (and the
# column where there is one); a name that is not NAME.csv is refused; copying
# over NAME.csv replaces it; several embeddings coexist and info lists them;
# rm deletes one; embeddings survive a remount. What lightly accepts
# (issue 10 item 9): an export uploads again after one of its samples was
# removed, and a CSV made over a larger folder uploads as is — the rows
# naming no sample (a removed file, an unknown path, a folder) are skipped,
# counted and the first three named in log; 'masked'/'selected' columns and
# extra columns after 'labels' are ignored; 64-bit labels export exactly.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need python3 cmp diff grep mountpoint fusermount3

src=$T/src
sv_gen_tree "$src" 40 2048 601 || die "could not generate samples"
mkdir -p "$src/sub dir/deep"
printf 'comma\n' >"$src/odd,name.bin"
printf 'quote\n' >"$src/say \"hi\".bin"
printf 'utf8\n' >"$src/sub dir/ünïcødé.bin"
printf 'deep\n' >"$src/sub dir/deep/x y,z.bin"
sv_files "$src" >"$T/all.txt"
a_folder=$(cd "$src" && find . -mindepth 1 -type d -printf '%P\n' | sort | head -n 1)
[[ -n $a_folder ]] || die "test setup: the generated tree has no folder"

mnt=$T/mnt
sv_mount "$T/store" "$mnt" || die "mount failed"
ok "mkdir dataset ds" mkdir "$mnt/ds" || die "cannot create a dataset"
ds=$mnt/ds
emb=$ds/embeddings
ok "cp -r samples into initial-tag" cp -r "$src/." "$ds/initial-tag/"
expect_tree_eq "$src" "$ds/initial-tag" "initial-tag equals the source"

# --- the CSVs, written the way Python's csv module writes them
cat >"$T/gen.py" <<'EOF'
import csv, random, sys
out, listfile, FOLDER = sys.argv[1], sys.argv[2], sys.argv[3]
names = [l.rstrip("\n") for l in open(listfile, encoding="utf-8")]
names.sort()                      # code point order = UTF-8 byte order
rng = random.Random(602)
D = 6
special = ["-0.0", "1e-05", "3.4028235e+38", "1e-45", "123456.0", "0.1",
           "-2.5e-07", "1e+16", "0.0", "-7.25", "0.0002", "100.0"]

def value(i, j):
    if i < len(special) and j == 0:
        return special[i]
    # at most 6 significant digits: str() of the double is also the
    # shortest decimal of the float32. Not +-0.0001: its float32 is below
    # 1e-4, which numpy (hence the export) prints as 1e-04.
    while True:
        v = rng.randint(-99999, 99999) / 10 ** rng.randint(1, 4)
        if abs(v) != 0.0001:
            return str(v)

def write(path, rows, dims):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["filenames"] + ["embedding_%d" % j for j in range(dims)] + ["labels"])
        for r in rows:
            w.writerow(r)

rows = [[n] + [value(i, j) for j in range(D)] + [str(rng.randint(-3, 9))]
        for i, n in enumerate(names)]
write(out + "/good.csv", rows, D)
# the same samples, other numbers and d = 3: a replacement for good.csv
rows2 = [[n] + [str(rng.randint(-999, 999) / 100) for j in range(3)] + [str(i % 4)]
         for i, n in enumerate(names)]
write(out + "/good2.csv", rows2, 3)
# a subset only (samples without a vector are allowed), d = 2
rows3 = [[n, str(i / 8), str(-i / 4), "0"] for i, n in enumerate(names[::3])]
write(out + "/part.csv", rows3, 2)

# --- malformed files: name, bytes, text the log line must contain
H = "filenames," + ",".join("embedding_%d" % j for j in range(4)) + ",labels"
def q(name):
    return '"' + name.replace('"', '""') + '"' if any(c in name for c in ',"\r\n') else name
S = [q(n) for n in names[:6]]
def row(name, vals=("0.5", "1.0", "-2.0", "3.25"), label="1"):
    return name + "," + ",".join(vals) + "," + label
good_rows = [row(s) for s in S[:5]]
def body(rows, header=H):
    return ("\r\n".join([header] + rows) + "\r\n").encode("utf-8")
def with_row(k, r):               # data row k (0-based) replaced by r
    rs = list(good_rows)
    rs[k] = r
    return body(rs)
bad = [
    ("empty", b"", "not stored"),
    ("header-only", (H + "\r\n").encode(), "not stored"),
    ("d0", ("filenames,labels\r\n" + S[0] + ",1\r\n").encode("utf-8"), "row 1"),
    ("no-header", "\r\n".join(good_rows).encode("utf-8") + b"\r\n", "row 1, column 1"),
    ("bad-header-column", body(good_rows, H.replace("embedding_1", "embed_1")), "row 1, column 3"),
    ("bad-header-last", body(good_rows, H.replace("labels", "label")), "row 1: the header has no 'labels'"),
    ("header-space", body(good_rows, H.replace(",labels", ", labels")), "row 1, column 6"),
    ("few-columns", with_row(1, S[1] + ",0.5,1.0,-2.0,1"), "row 3"),
    ("many-columns", with_row(3, row(S[3]) + ",7"), "row 5"),
    ("non-numeric", with_row(2, row(S[2], ("0.5", "abc", "-2.0", "3.25"))), "row 4, column 3"),
    ("nan", with_row(0, row(S[0], ("nan", "1.0", "-2.0", "3.25"))), "row 2, column 2"),
    ("inf", with_row(3, row(S[3], ("0.5", "1.0", "-2.0", "-inf"))), "row 5, column 5"),
    ("overflow", with_row(1, row(S[1], ("0.5", "1.0", "1e39", "3.25"))), "row 3, column 4"),
    ("hex", with_row(1, row(S[1], ("0x10", "1.0", "-2.0", "3.25"))), "row 3, column 2"),
    ("float-label", with_row(2, row(S[2], label="1.5")), "row 4, column 6"),
    ("text-label", with_row(4, row(S[4], label="cat")), "row 6, column 6"),
    ("duplicate", with_row(3, row(S[0])), "row 5"),
    ("absolute", with_row(0, row(q("/" + names[0]))), "row 2, column 1"),
    ("dotdot", with_row(1, row(q("../" + names[1]))), "row 3, column 1"),
    ("empty-name", with_row(0, row("")), "row 2, column 1"),
    ("unterminated-quote", with_row(2, row('"abc')), "row 4"),
    ("empty-line", body(good_rows[:2] + [""] + good_rows[2:]), "row 4"),
    ("long-line", with_row(1, row(S[1], ("0." + "1" * (1100 * 1024), "1.0", "-2.0", "3.25"))), "row 3"),
]
with open(out + "/bad.list", "w", encoding="utf-8") as m:
    for name, data, text in bad:
        with open(out + "/bad-" + name + ".csv", "wb") as f:
            f.write(data)
        m.write(name + "\t" + text + "\n")
EOF
ok "generate CSVs" python3 "$T/gen.py" "$T" "$T/all.txt" "$a_folder" || die "CSV generation failed"

# --- empty folder, then a good upload that reads back byte for byte
ok "ls embeddings/ (empty)" ls "$emb"
expect_eq "" "$(cat "$T/last.out")" "embeddings/ starts empty"
ok "cp good.csv embeddings/e1.csv" cp "$T/good.csv" "$emb/e1.csv" || die "cannot upload an embedding"
ok "ls embeddings/" ls "$emb"
expect_eq "e1.csv" "$(cat "$T/last.out")" "ls embeddings/ lists e1.csv"
ok "cat embeddings/e1.csv" cat "$emb/e1.csv"
cp "$T/last.out" "$T/e1.export"
if cmp -s "$T/good.csv" "$T/e1.export"; then
	pass "e1.csv exports byte-identical to the uploaded CSV"
else
	fail "e1.csv export differs from the uploaded CSV"
	diff <(tr -d '\r' <"$T/good.csv") <(tr -d '\r' <"$T/e1.export") >"$T/diff.out" 2>&1
	sv_show "$T/diff.out" 20
fi
ok "cp e1.csv back out" cp "$emb/e1.csv" "$T/e1.cp"
expect_list_eq "$T/good.csv" "$T/e1.cp" "cp of the exported file gives the same bytes"
ok "cat log" cat "$ds/log"
expect_contains "$T/last.out" "e1" "log records the upload of e1"

# --- lenient input, canonical export
n0=$(sed -n 1p "$T/all.txt")   # names without quotes, commas or UTF-8:
n1=$(sed -n 2p "$T/all.txt")   # the first lines of the sorted tree are
n2=$(sed -n 3p "$T/all.txt")   # generated names (d001/..., "empty file.bin")
for n in "$n0" "$n1" "$n2"; do
	[[ $n == *[,\"]* ]] && die "test setup: unexpected special name $n"
done
printf '%s\n' \
	"filenames,embedding_0,embedding_1,embedding_2,labels" \
	"$n2, 1.5 ,1E3,+2, 7" \
	"$n0,0.10000000149011612,0.00001,-0,+3" \
	"$n1,123456789,0.3333333333,-1e-5,-2" >"$T/lenient.csv"
printf '%s\r\n' \
	"filenames,embedding_0,embedding_1,embedding_2,labels" \
	"$n0,0.1,1e-05,-0.0,3" \
	"$n1,123456790.0,0.33333334,-1e-05,-2" \
	"$n2,1.5,1000.0,2.0,7" >"$T/lenient.expected"
truncate -s -1 "$T/lenient.csv"   # no line end after the last row
ok "cp a CSV with \\n line ends and loose numbers" cp "$T/lenient.csv" "$emb/loose.csv"
ok "cat embeddings/loose.csv" cat "$emb/loose.csv"
cp "$T/last.out" "$T/loose.export"
if cmp -s "$T/lenient.expected" "$T/loose.export"; then
	pass "loose.csv exports in canonical form (sorted rows, \\r\\n, shortest floats)"
else
	fail "loose.csv export is not the canonical form"
	diff <(cat -A "$T/lenient.expected") <(cat -A "$T/loose.export") >"$T/diff.out" 2>&1
	sv_show "$T/diff.out" 20
fi

# --- several embeddings, info
ok "cp part.csv (a subset of the samples)" cp "$T/part.csv" "$emb/part.csv"
ok "ls embeddings/" ls "$emb"
expect_list_eq <(printf '%s\n' e1.csv loose.csv part.csv) "$T/last.out" \
	"ls embeddings/ lists e1, loose and part"
ok "cat embeddings/part.csv" cat "$emb/part.csv"
expect_list_eq "$T/part.csv" "$T/last.out" "part.csv reads back byte for byte"
ok "cat info" cat "$ds/info"
cp "$T/last.out" "$T/info"
if grep -E '^embeddings:' "$T/info" | grep -q e1 &&
	grep -E '^embeddings:' "$T/info" | grep -q part; then
	pass "info has an embeddings: line naming e1 and part"
else
	fail "info has no embeddings: line naming e1 and part"
	sv_show "$T/info" 30
fi

# --- malformed files: EINVAL at close, nothing stored, reason in log
ls "$emb" >"$T/ls.before"
# last_log TEXT — waits (<= 5 s) until log's last line holds TEXT; prints it.
last_log() {
	local i last
	for ((i = 0; i < 50; i++)); do
		last=$(tail -n 1 "$ds/log")
		[[ $last == *"$1"* ]] && break
		sleep 0.1
	done
	printf '%s\n' "$last"
}
while IFS=$'\t' read -r name text; do
	f=$T/bad-$name.csv
	if [[ $name == empty ]]; then
		# Nothing written: no close() can tell it from bash's close after
		# dup2 (fs/README.md), so the refusal comes at the last close,
		# after cp returned, and reaches only the log.
		ok "cp of an empty file over e1.csv returns" cp "$f" "$emb/e1.csv"
	else
		expect_errno "Invalid argument" cp "$f" "$emb/e1.csv"
	fi
	last=$(last_log "$text")
	if [[ $last == *"e1.csv"* && $last == *"$text"* ]]; then
		pass "$name: log names e1.csv and \"$text\""
	else
		fail "$name: the last log line lacks e1.csv or \"$text\": $last"
	fi
	if [[ $name == empty ]]; then
		ok "cp of an empty file to fresh.csv returns" cp "$f" "$emb/fresh.csv"
		last_log "fresh.csv not stored" >/dev/null
	else
		expect_errno "Invalid argument" cp "$f" "$emb/fresh.csv"
	fi
	# (through a copy: exports show size 0, which `cmp -s` takes as a difference)
	cat "$emb/e1.csv" >"$T/e1.now" 2>&1
	if ! cmp -s "$T/good.csv" "$T/e1.now"; then
		fail "$name: e1.csv changed after a refused upload"
	fi
	ls "$emb" >"$T/ls.after" 2>&1
	if ! diff -q "$T/ls.before" "$T/ls.after" >/dev/null; then
		fail "$name: embeddings/ listing changed after a refused upload"
		sv_show "$T/ls.after"
	fi
done <"$T/bad.list"
expect_list_eq "$T/ls.before" "$T/ls.after" "no refused upload left anything in embeddings/"
ok "cat e1.csv after the refused uploads" cat "$emb/e1.csv"
expect_list_eq "$T/good.csv" "$T/last.out" "e1.csv is unchanged by the refused uploads over it"
expect_errno "No such file or directory" cat "$emb/fresh.csv"

cat >"$T/pywrite.py" <<'EOF'
import errno, sys
path, data = sys.argv[1], open(sys.argv[2], "rb").read()
try:
    with open(path, "wb") as f:
        f.write(data)
except OSError as e:
    print("errno", e.errno, errno.errorcode.get(e.errno, "?"))
    sys.exit(0)
print("no error")
EOF
ok "python open/write/close of a bad CSV" python3 "$T/pywrite.py" "$emb/py.csv" "$T/bad-nan.csv"
expect_eq "errno 22 EINVAL" "$(cat "$T/last.out")" "python gets OSError errno 22 at close"
ok "ls embeddings/" ls "$emb"
expect_list_eq "$T/ls.before" "$T/last.out" "python's refused upload stored nothing"
ok "python open/write/close of a good CSV" python3 "$T/pywrite.py" "$emb/py.csv" "$T/part.csv"
expect_eq "no error" "$(cat "$T/last.out")" "python uploads a good CSV without error"
ok "rm py.csv" rm "$emb/py.csv"

# --- names that are not NAME.csv
expect_errno "Invalid argument" cp "$T/good.csv" "$emb/e1.txt"
expect_errno "Invalid argument" cp "$T/good.csv" "$emb/bad name.csv"
expect_errno "Invalid argument" cp "$T/good.csv" "$emb/.csv"
ok "ls embeddings/" ls "$emb"
expect_list_eq "$T/ls.before" "$T/last.out" "badly named uploads stored nothing"

# --- replace, delete
ok "cp good2.csv over e1.csv" cp "$T/good2.csv" "$emb/e1.csv"
ok "cat embeddings/e1.csv" cat "$emb/e1.csv"
expect_list_eq "$T/good2.csv" "$T/last.out" "e1.csv now reads back as good2.csv (d = 3)"
ok "ls embeddings/" ls "$emb"
expect_list_eq "$T/ls.before" "$T/last.out" "replacing e1.csv added no entry"
ok "rm embeddings/loose.csv" rm "$emb/loose.csv"
ok "ls embeddings/" ls "$emb"
expect_list_eq <(printf '%s\n' e1.csv part.csv) "$T/last.out" "loose.csv is gone after rm"
expect_errno "No such file or directory" cat "$emb/loose.csv"
expect_errno "No such file or directory" rm "$emb/loose.csv"
expect_tree_eq "$src" "$ds/initial-tag" "no embedding operation touched a sample"

# --- embeddings survive a remount
sv_umount "$mnt" || die "unmount failed"
sv_mount "$T/store" "$mnt" || die "remount failed"
ok "ls embeddings/ after remount" ls "$emb"
expect_list_eq <(printf '%s\n' e1.csv part.csv) "$T/last.out" "the same embeddings after a remount"
ok "cat e1.csv after remount" cat "$emb/e1.csv"
expect_list_eq "$T/good2.csv" "$T/last.out" "e1.csv reads back the same after a remount"
ok "cat part.csv after remount" cat "$emb/part.csv"
expect_list_eq "$T/part.csv" "$T/last.out" "part.csv reads back the same after a remount"

# --- rows naming no sample are skipped and named; lightly's extra columns
lastlog() { tail -n 1 "$ds/log"; }
gone=$(python3 -c 'import csv,sys; r=csv.reader(open(sys.argv[1],newline="")); next(r); print(next(r)[0])' "$T/part.csv")
[[ -n $gone && $gone != *[,\"]* ]] || die "test setup: unexpected first name of part.csv: '$gone'"
ok "export part.csv" cp "$emb/part.csv" "$T/part.export"
ok "rm one of its samples" rm -- "$ds/initial-tag/$gone"
ok "the export uploads again after the rm" cp "$T/part.export" "$emb/again.csv"
expect_contains <(lastlog) "skipped 1 row naming no sample: '$gone'" \
	"log: skipped 1 row naming no sample: '$gone'"
grep -v -F -- "$gone," "$T/part.export" >"$T/again.expected"
ok "cat again.csv" cat "$emb/again.csv"
expect_list_eq "$T/again.expected" "$T/last.out" "again.csv holds the export less the removed row"

cat >"$T/gen2.py" <<'EOF'
import csv, sys
out, listfile, folder, gone = sys.argv[1:5]
names = sorted(l.rstrip("\n") for l in open(listfile, encoding="utf-8"))
def write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
H = ["filenames", "embedding_0", "embedding_1", "labels"]
# a superset: every name of the source (gone among them), unknown ones, a folder
extra = ["not/here-1.jpg", "zz-nope.png", folder]
allrows = [[n, str(i / 4), "0.5", str(i % 3)] for i, n in enumerate(sorted(names + extra))]
write(out + "/super.csv", H, allrows)
write(out + "/super.expected", H, [r for r in allrows if r[0] in names and r[0] != gone])
# lightly's flag columns and extra columns, labels over 2^53 and at the ends
keep = [n for n in names if n != gone][:4]
labels = ["9007199254740993", "-9223372036854775808", "9223372036854775807", "-1"]
write(out + "/flags.csv",
      ["filenames", "selected", "embedding_0", "masked", "embedding_1", "labels", "note", "labels"],
      [[n, "1", "1.5", "0", str(-j), labels[j], "free, text", "x"] for j, n in enumerate(keep)])
write(out + "/flags.expected", H, [[n, "1.5", str(float(-j)), labels[j]] for j, n in enumerate(keep)])
# nothing matches
write(out + "/none.csv", H, [["no/such-1.bin", "1", "2", "0"], ["no/such-2.bin", "1", "2", "0"]])
EOF
ok "generate the lenient CSVs" python3 "$T/gen2.py" "$T" "$T/all.txt" "$a_folder" "$gone" ||
	die "CSV generation failed"
ok "cp a CSV over a larger folder (unknown paths, a folder, the removed file)" \
	cp "$T/super.csv" "$emb/super.csv"
expect_contains <(lastlog) "skipped 4 rows naming no sample: '" "log: skipped 4 rows naming no sample"
expect_contains <(lastlog) ", ..." "log: names the first three, then '...'"
ok "cat super.csv" cat "$emb/super.csv"
expect_list_eq "$T/super.expected" "$T/last.out" "super.csv holds exactly the rows of samples"
ok "cp a CSV with selected/masked and extra columns after labels" cp "$T/flags.csv" "$emb/flags.csv"
ok "cat flags.csv" cat "$emb/flags.csv"
expect_list_eq "$T/flags.expected" "$T/last.out" \
	"flags.csv: flag and extra columns ignored, 64-bit labels exported exactly"
expect_contains <(lastlog) "embedding 'flags' stored: 4 samples, 2 dimensions" "log: flags stored, 4 samples"
ok "cp flags.csv's export back in" cp "$emb/flags.csv" "$emb/flags2.csv"
ok "cat flags2.csv" cat "$emb/flags2.csv"
expect_list_eq "$T/flags.expected" "$T/last.out" "the export of 64-bit labels re-uploads identical"
ls "$emb" >"$T/ls.before"
expect_errno "Invalid argument" cp "$T/none.csv" "$emb/none.csv"
expect_contains <(lastlog) "embeddings/none.csv not stored: no row names a sample of initial-tag (skipped 2 rows naming no sample: 'no/such-1.bin', 'no/such-2.bin')" \
	"log: a CSV naming no sample at all is refused, and says why"
ok "ls embeddings/" ls "$emb"
expect_list_eq "$T/ls.before" "$T/last.out" "the refused CSV stored nothing"

sv_umount "$mnt"
