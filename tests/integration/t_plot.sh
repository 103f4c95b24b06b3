#!/usr/bin/env bash
#
# t_plot — plot.svg says what it shows (issue 16, item 7), on a local mount.
#
# Proves, over 400 samples (names with <, >, &, " and ' among them) and a
# 3-D CSV with 4 labels: plot.svg parses as XML (python3's xml.etree) after
# every step; it has one dot per candidate in <g id="points">, each with a
# <title> equal to its path (the set of titles is the set of paths), and
# the selected ones as rings (no fill) in <g id="selected">, as many as the
# selection has (none while the selection is the default, all of the tag); the dots take one colour per label (4) with a legend
# naming the labels, and a single colour with no label legend when the CSV's
# labels are all equal; the second title line names the selection as it is:
# `all of initial-tag` before anything, `(run 1, coreset)` after a run,
# `(top 40 of run 1, coreset)` after `keep 40`, `(written by hand, from
# best)` after a list with `# from: best` is written, with its size `N of
# M`; every tick label is a round number (the ticks of an axis are
# consecutive multiples of one step of 1, 2 or 5 × 10^k) and the tick labels
# stay clear of the axis titles; the file stays under 300 bytes a point.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need grep mountpoint fusermount3
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

src=$T/src
mkdir -p "$src"
"$PY" - "$src" "$T" <<'EOF' || die "cannot make the test files"
import csv, random, sys
d, t = sys.argv[1], sys.argv[2]
random.seed(7)
names = []
for i in range(400):
    lab = i % 4
    name = "f%03d.txt" % i
    if i % 50 == 0:
        name = "odd <%d> & \"q\" 'a'.txt" % i
    names.append((name, lab))
    open("%s/%s" % (d, name), "w").write("%d\n" % i)
centres = [(0, 0), (60, 10), (20, 70), (90, 80)]
def write(path, labels):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filenames", "embedding_0", "embedding_1", "embedding_2", "labels"])
        for name, lab in names:
            cx, cy = centres[lab]
            w.writerow([name, "%.3f" % random.gauss(cx, 12), "%.3f" % random.gauss(cy, 9),
                        "%.3f" % random.gauss(0, 2), labels(lab)])
write("%s/emb.csv" % t, lambda lab: lab * 10 + 3)
write("%s/flat.csv" % t, lambda lab: 0)
open("%s/paths" % t, "w").write("".join(n + "\n" for n, _ in names))
EOF

# check_svg SVG DESC WANT_SELECTED WANT_TITLE_RE NLABELS — the checks above
check_svg() {
	local out
	out=$("$PY" - "$@" "$T/paths" <<'EOF' 2>&1
import math, re, sys
import xml.etree.ElementTree as ET
svg, desc, want_sel, title_re, nlab, paths = sys.argv[1:7]
want_sel, nlab = int(want_sel), int(nlab)
S = "{http://www.w3.org/2000/svg}"
bad = []
try:
    root = ET.parse(svg).getroot()
except ET.ParseError as e:
    print("not ok - %s: plot.svg does not parse: %s" % (desc, e)); sys.exit(0)
print("ok - %s: plot.svg parses as XML" % desc)
def group(gid):
    for g in root.iter(S + "g"):
        if g.get("id") == gid:
            return g
    return None
want = set(l.rstrip("\n") for l in open(paths))
pts = group("points")
dots = list(pts.iter(S + "circle")) if pts is not None else []
titles = [c.find(S + "title").text if c.find(S + "title") is not None else None for c in dots]
if len(dots) == len(want) and set(titles) == want:
    print("ok - %s: %d dots, each with a <title> equal to its path" % (desc, len(dots)))
else:
    print("not ok - %s: %d dots, titles match paths: %s (missing %s)" % (
        desc, len(dots), set(titles) == want, sorted(want - set(titles))[:3]))
sel = group("selected")
rings = list(sel.iter(S + "circle")) if sel is not None else []
rt = set(c.find(S + "title").text for c in rings if c.find(S + "title") is not None)
if len(rings) == want_sel and rt <= want and sel.get("fill") == "none":
    print("ok - %s: %d selected points drawn as rings (no fill) with their paths" % (desc, want_sel))
else:
    print("not ok - %s: %d rings (want %d), fill=%s, titles are paths: %s" % (
        desc, len(rings), want_sel, sel.get("fill") if sel is not None else None, rt <= want))
fills = set(c.get("fill") for c in dots)
if len(fills) == nlab:
    print("ok - %s: dots in %d colour%s" % (desc, nlab, "" if nlab == 1 else "s"))
else:
    print("not ok - %s: dots in %d colours, want %d" % (desc, len(fills), nlab))
legend = "".join(group("legend").itertext()) if group("legend") is not None else ""
if nlab > 1:
    ok = all(("label %d (" % (k * 10 + 3)) in legend for k in range(nlab))
else:
    ok = "label" not in legend
print("%s - %s: legend %s" % ("ok" if ok else "not ok", desc,
      "names the labels" if nlab > 1 else "has no labels"))
title = None
for t in root.iter(S + "text"):
    if t.get("id") == "selection":
        title = "".join(t.itertext())
if title and re.fullmatch(title_re, title):
    print("ok - %s: the title says '%s'" % (desc, title))
else:
    print("not ok - %s: the title says %r, want /%s/" % (desc, title, title_re))
# ticks: round values, consecutive multiples of one 1/2/5 x 10^k step
frame = [r for r in root.iter(S + "rect") if r.get("fill") == "none"][0]
L, T = float(frame.get("x")), float(frame.get("y"))
H = float(frame.get("height"))
for axis in ("xticks", "yticks"):
    g = group(axis)
    labels = [t.text for t in g.iter(S + "text")] if g is not None else []
    vals = [float(v) for v in labels]
    steps = set(round(b - a, 9) for a, b in zip(vals, vals[1:]))
    okr = len(vals) >= 3 and len(steps) == 1
    if okr:
        st = steps.pop()
        k = math.floor(math.log10(st) + 1e-9)
        m = st / 10 ** k
        okr = any(abs(m - c) < 1e-6 for c in (1, 2, 5)) and all(
            abs(v / st - round(v / st)) < 1e-6 for v in vals)
    print("%s - %s: %s labels %s are round" % ("ok" if okr else "not ok", desc, axis, labels))
    if axis == "yticks":
        # right-aligned at L-8: at ~7 px a character they must end right of
        # the rotated y title (x = 16, font 12: to x = 22)
        widest = max(len(l) for l in labels) * 7
        okc = L - 8 - widest > 24
        print("%s - %s: y tick labels (%d chars) clear of the y title" % (
            "ok" if okc else "not ok", desc, max(len(l) for l in labels)))
    else:
        ys = [float(t.get("y")) for t in g.iter(S + "text")]
        xt = [t for t in root.iter(S + "text") if (t.text or "").startswith("principal component 1")]
        okc = xt and float(xt[0].get("y")) - 12 > max(ys) + 4
        print("%s - %s: x tick labels clear of the x title" % ("ok" if okc else "not ok", desc))
EOF
)
	while IFS= read -r line; do
		case $line in
		"ok - "*) pass "${line#ok - }" ;;
		"not ok - "*) fail "${line#not ok - }" ;;
		*) fail "$2: checker: $line" ;;
		esac
	done <<<"$out"
}

sv_mount "$T/store" "$T/mnt" || die "mount failed"
ds=$T/mnt/p
ok "mkdir p" mkdir "$ds"
ok "cp 400 samples in" cp "$src/." -r "$ds/initial-tag/"
ok "cp emb.csv (4 labels)" cp "$T/emb.csv" "$ds/embeddings/emb.csv"

cat "$ds/plot.svg" >"$T/p0.svg"
check_svg "$T/p0.svg" "before sampling" 0 'selection: 400 of 400 \(all of initial-tag: nothing sampled or written\)' 4

"$SIEVEFS" sample "$ds" coreset n=120 >/dev/null 2>&1
expect_eq 0 $? "sievefs sample p coreset n=120 exits 0"
cat "$ds/plot.svg" >"$T/p1.svg"
check_svg "$T/p1.svg" "after run 1" 120 'selection: 120 of 400 \(run 1, coreset\)' 4

ok "keep 40" sample_req "$ds" "keep 40"
cat "$ds/plot.svg" >"$T/p2.svg"
check_svg "$T/p2.svg" "after keep 40" 40 'selection: 40 of 400 \(top 40 of run 1, coreset\)' 4

ok "mkdir best (the 40)" mkdir "$ds/best"
{ echo "# from: best"; head -n 7 "$ds/selection"; } >"$T/hand.txt"
ok "write 7 paths of best to selection" cp "$T/hand.txt" "$ds/selection"
cat "$ds/plot.svg" >"$T/p3.svg"
# the plot now shows best's 40 files, of which 7 are selected
(cd "$ds/best" && find . -type f | sed 's|^\./||') >"$T/best.paths"
cp "$T/paths" "$T/all.paths"
cp "$T/best.paths" "$T/paths"
check_svg "$T/p3.svg" "after a hand-written selection" 7 'selection: 7 of 40 \(written by hand, from best\)' 4
cp "$T/all.paths" "$T/paths"

size=$(stat -c %s "$T/p1.svg")
if ((size < 400 * 300)); then pass "plot.svg is $size bytes for 400 points (< 300 a point)"; else
	fail "plot.svg is $size bytes for 400 points"; fi

# labels all equal: one colour, no label legend
f=$T/mnt/f
ok "mkdir f" mkdir "$f"
ok "cp 400 samples into f" cp "$src/." -r "$f/initial-tag/"
ok "cp flat.csv (labels all 0)" cp "$T/flat.csv" "$f/embeddings/flat.csv"
cat "$f/plot.svg" >"$T/f0.svg"
check_svg "$T/f0.svg" "labels all equal" 0 'selection: 400 of 400 \(all of initial-tag: nothing sampled or written\)' 1

sv_umount "$T/mnt"
