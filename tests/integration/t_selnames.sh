#!/usr/bin/env bash
#
# t_selnames — the `selection` file round-trips every legal file name, and
# scores.csv and the embedding export are CSV a csv reader reads back.
#
# Proves, with samples named with a newline, CR, tab, other control bytes, a
# backslash, a leading '#' (one is "# from: initial-tag"), leading and
# trailing spaces, double quotes, commas and UTF-8: `wc -l selection` counts
# them; plain names are listed as they are; `cp selection /tmp/s; cp /tmp/s
# selection` succeeds and changes nothing; a list read from selection, cut
# and reordered, written back, is the selection (the quoted "# from: …" name
# first is a path, not the header), and `mkdir TAG` of it holds exactly those
# files; a CSV naming them uploads, exports and reads back with Python's csv
# module; after a sampling run, scores.csv names the same files as the
# selection. The selection round trip also on a remote mount.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 cmp curl grep mountpoint fusermount3

src=$T/src
python3 - "$src" "$T/emb.csv" <<'EOF' || die "could not make the odd names"
import csv, os, random, sys
root = sys.argv[1]
names = ["plain.bin", "new\nline.bin", "cr\r", "tab\there.bin", "ctl\x01\x1f\x7f.bin",
         "back\\slash.bin", "# from: initial-tag", "#hash.bin", " lead.bin",
         "trail.bin ", 'say "hi".bin', '"quoted".bin', "a,b.bin",
         "ünïcødé.bin", "sub/new\nline in dir.bin", "sub/ plain.bin",
         "sp ace/x.bin"]
for n in names:
    p = os.path.join(root, n)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(n.encode() + b"\n")
rng = random.Random(5)
with open(sys.argv[2], "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["filenames"] + ["embedding_%d" % j for j in range(4)] + ["labels"])
    for n in sorted(names):
        w.writerow([n] + [str(rng.uniform(-1, 1)) for _ in range(4)] + [0])
with open(os.path.join(os.path.dirname(root), "names.txt"), "wb") as f:
    f.write(b"\0".join(n.encode() for n in sorted(names)))
EOF
nnames=17

# The selection's paths, decoded: quoted lines (starting with '"') are
# C-style strings, other lines are the path itself.
cat >"$T/sel.py" <<'EOF'
import sys
def paths(text):
    out = []
    for line in text.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            continue
        if line.startswith(b'"'):
            body, o, i = line[1:-1], bytearray(), 0
            named = {ord("a"): 7, ord("b"): 8, ord("t"): 9, ord("n"): 10,
                     ord("v"): 11, ord("f"): 12, ord("r"): 13,
                     ord('"'): 34, ord("\\"): 92}
            while i < len(body):
                c = body[i]
                if c == 92:
                    d = body[i + 1]
                    if d in named:
                        o.append(named[d]); i += 2
                    else:
                        o.append(int(body[i + 1:i + 4], 8)); i += 4
                else:
                    o.append(c); i += 1
            line = bytes(o)
        out.append(line)
    return out
EOF

roundtrip() {
	local label=$1 ds=$2 n
	n=$(wc -l <"$ds/selection")
	expect_eq "$nnames" "$n" "$label: wc -l selection counts every sample"
	ok "$label: cp selection /tmp/s" cp "$ds/selection" "$T/$label.s"
	ok "$label: cp /tmp/s selection (written back)" cp "$T/$label.s" "$ds/selection"
	if cmp -s "$ds/selection" "$T/$label.s"; then
		pass "$label: the selection is unchanged by the round trip"
	else
		fail "$label: the selection changed in the round trip"
	fi
	# plain names stay plain
	for n in plain.bin back\\slash.bin ünïcødé.bin "sub/ plain.bin" a,b.bin; do
		if grep -qxF -- "$n" "$ds/selection"; then
			pass "$label: '$n' is listed as it is"
		else
			fail "$label: '$n' is not listed as it is"
		fi
	done
}

# --- local
L=$T/mnt
sv_mount "$T/lstore" "$L" || die "mount failed"
ok "mkdir the dataset" mkdir "$L/ds" || die "no dataset"
ds=$L/ds
ok "cp -r the odd names in" cp -r "$src/." "$ds/initial-tag/"
roundtrip local "$ds"

# Reordered subset with the "# from: initial-tag" file first, written back.
python3 - "$ds/selection" "$T/sub.txt" "$T/want.bin" "$T/sel.py" <<'EOF'
import sys
exec(open(sys.argv[4]).read())
raw = open(sys.argv[1], "rb").read()
lines = [l for l in raw.split(b"\n") if l]
ps = paths(raw)
pick = [i for i, p in enumerate(ps) if p == b"# from: initial-tag"]
pick += [i for i, p in enumerate(ps) if p != b"# from: initial-tag"][::2]
open(sys.argv[2], "wb").write(b"".join(lines[i] + b"\n" for i in pick))
open(sys.argv[3], "wb").write(b"\0".join(sorted(ps[i] for i in pick)))
EOF
ok "write a reordered subset back" cp "$T/sub.txt" "$ds/selection"
if cmp -s "$ds/selection" "$T/sub.txt"; then
	pass "the selection is the subset, '# from: initial-tag' first as a path"
else
	fail "the selection is not the subset written"
	sv_show "$ds/selection"
fi
ok "mkdir a tag of it" mkdir "$ds/odd"
python3 -c '
import os, sys
root = sys.argv[1]
got = []
for d, _, fs in os.walk(root):
    for f in fs:
        got.append(os.path.relpath(os.path.join(d, f), root).encode())
open(sys.argv[2], "wb").write(b"\0".join(sorted(got)))' "$ds/odd" "$T/got.bin"
if cmp -s "$T/got.bin" "$T/want.bin"; then
	pass "the tag holds exactly the selected odd names"
else
	fail "the tag's files differ from the selection"
fi

# Embeddings and scores: CSV that Python's csv module reads back.
ok "cp the CSV naming the odd files in" cp "$T/emb.csv" "$ds/embeddings/e.csv"
python3 - "$ds/embeddings/e.csv" "$T/names.txt" <<'EOF' && pass "the export names every odd file (csv module)" || fail "the export does not read back"
import csv, sys
want = sorted(open(sys.argv[2], "rb").read().split(b"\0"))
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
got = sorted(r[0].encode() for r in rows[1:])
assert got == want, (got, want)
EOF
sample_req "$ds" "random n=5 seed=1"
expect_eq done "$(wait_run "$ds")" "a sampling run over the odd names finishes"
python3 - "$ds/scores.csv" "$ds/selection" "$T/sel.py" <<'EOF' && pass "scores.csv (csv module) names the selection's files" || fail "scores.csv does not match the selection"
import csv, sys
exec(open(sys.argv[3]).read())
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
assert rows[0] == ["filename", "score"], rows[0]
names = [r[0].encode() for r in rows[1:]]
sel = paths(open(sys.argv[2], "rb").read())
assert len(names) == 17, len(names)
assert names[:5] == sel, (names[:5], sel)
EOF
roundtrip_sel=$(wc -l <"$ds/selection")
expect_eq 5 "$roundtrip_sel" "the run's selection has 5 lines"
ok "the run's selection writes back" cp "$ds/selection" "$T/run.s"
ok "... and back in" cp "$T/run.s" "$ds/selection"

# --- remote: the server passes the text through
R=$T/rmnt
remote_mount "$T/store" "$R" -o meta_ttl=1 || die "no remote mount"
ok "remote: mkdir the dataset" mkdir "$R/ds" || die "no remote dataset"
ok "remote: cp -r the odd names in" cp -r "$src/." "$R/ds/initial-tag/"
roundtrip remote "$R/ds"

sv_umount "$R"
sv_umount "$L"
