#!/usr/bin/env bash
#
# t_layout — the neighbour-preserving layout (issue 21 item 7) through a
# mount and through the server, on a local and a remote mount alike
# (both_modes: assertions are prefixed [local] / [remote]).
#
# Fixture: 300 files in 6 clusters of a 16-D embedding whose clusters
# differ only in 8 dimensions of small spread, the other 8 carrying large
# noise shared by all: PCA's two axes are noise, so a layout that keeps
# neighbours must beat it clearly.
#
# Proves, in each mode:
# - the dataset lists plot-umap.svg beside plot.svg;
# - plot.svg is the PCA picture (axis "principal component 1", title "PCA")
#   and plot-umap.svg the new one (axis "umap 1 …", title "umap layout");
#   both parse as XML and have one dot per sample with its path as title;
# - the first read of plot-umap.svg is a note that the layout is being
#   computed (it runs in the background: `ls -l` never waits seconds for
#   it); a later read is the picture;
# - plot-umap.svg read twice is the same bytes (seeded, cached);
# - the share of each sample's 10 nearest neighbours (in the CSV's vectors)
#   kept among its 10 nearest dots is above 0.45 for plot-umap.svg (0.505
#   when written; PCA 0.319: the noise dimensions set much of a sample's
#   neighbourhood inside its cluster, and PCA keeps those) and at
#   least 0.15 above plot.svg's (computed here from the SVG's cx, cy);
# - after `sample coreset n=30`, plot-umap.svg draws 30 rings;
# - refusals, each with nothing changed: writing plot-umap.svg ("Permission
#   denied", and
#   the file reads back the same), a tag named plot-umap.svg (mkdir: "File
#   exists", and it is still the file), and ?method=bogus / ?method=umap on another
#   user's dataset at the server (below);
# Through the server (remote mode, alice's token; bob has his own):
# - GET …/layout?method=umap: 200, X-Sievefs-Layout: umap, N×2 float32,
#   every sample with a row has finite coordinates in [-1, 1] with the
#   longer side spanning it, NaN,NaN for a sample without a row (one file
#   not in the CSV), the same bytes twice, and its 10-NN kept share above
#   the method=pca one's by 0.15; without method it is still pca;
# - GET …/plot.svg?method=umap is the umap picture, ?method=pca the PCA one;
# - ?method=bogus on both routes: 400 invalid "method must be pca or umap";
#   bob asking for alice's dataset's layout?method=umap: 404.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl grep cmp mountpoint fusermount3
sv_modes
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

src=$T/src
mkdir -p "$src"
"$PY" - "$src" "$T" <<'EOF' || die "cannot make the test files"
import csv, random, sys
d, t = sys.argv[1], sys.argv[2]
rng = random.Random(21)
C, D = 6, 16
mu = [[rng.gauss(0, 2.5) for _ in range(D)] for _ in range(C)]
with open("%s/emb.csv" % t, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["filenames"] + ["embedding_%d" % j for j in range(D)] + ["labels"])
    for i in range(300):
        k = i % C
        name = "c%d/s%03d.txt" % (k, i)
        row = [rng.gauss(0, 3.0) if j < D // 2 else mu[k][j] + rng.gauss(0, 0.3)
               for j in range(D)]
        w.writerow([name] + ["%.4f" % v for v in row] + [k])
for i in range(300):
    import os
    p = "%s/c%d/s%03d.txt" % (d, i % C, i)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "w").write("%d\n" % i)
os.makedirs("%s/extra" % d, exist_ok=True)
open("%s/extra/no-row.txt" % d, "w").write("no vector\n")
EOF

# svg_check SVG EMB_CSV KIND DESC — prints "ok - …"/"not ok - …" lines, and
# "kept X" (the 10-NN share kept by the dots) as the last line.
svg_check() {
	"$PY" - "$@" <<'EOF'
import csv, math, sys
import xml.etree.ElementTree as ET
svg, embf, kind, desc = sys.argv[1:5]
S = "{http://www.w3.org/2000/svg}"
try:
    root = ET.parse(svg).getroot()
except ET.ParseError as e:
    print("not ok - %s: does not parse: %s" % (desc, e)); print("kept 0"); sys.exit(0)
print("ok - %s: parses as XML" % desc)
rows = list(csv.reader(open(embf, newline="")))[1:]
vec = {r[0]: [float(v) for v in r[1:-1]] for r in rows}
g = [x for x in root.iter(S + "g") if x.get("id") == "points"][0]
pos = {}
for c in g.iter(S + "circle"):
    pos[c.find(S + "title").text] = (float(c.get("cx")), float(c.get("cy")))
ok = set(pos) == set(vec)
print("%s - %s: %d dots, titled with the %d paths of the CSV" % (
    "ok" if ok else "not ok", desc, len(pos), len(vec)))
text = " ".join("".join(t.itertext()) for t in root.iter(S + "text"))
want = ("umap 1 (", "umap layout") if kind == "umap" else ("principal component 1", "PCA")
ok = all(w in text for w in want) and (kind == "umap") == ("principal component" not in text)
print("%s - %s: names its method (%s)" % ("ok" if ok else "not ok", desc, ", ".join(want)))
names = sorted(set(pos) & set(vec))
def knn(pts, i, k):
    d = sorted((sum((a - b) ** 2 for a, b in zip(pts[i], pts[j])), j)
               for j in range(len(pts)) if j != i)
    return set(j for _, j in d[:k])
H = [vec[n] for n in names]
L = [pos[n] for n in names]
kept = sum(len(knn(H, i, 10) & knn(L, i, 10)) for i in range(len(names))) / (10.0 * len(names))
print("kept %.4f" % kept)
EOF
}

# report OUTPUT — pass/fail each line of svg_check; sets KEPT.
report() {
	local line
	KEPT=0
	while IFS= read -r line; do
		case $line in
		"ok - "*) pass "${line#ok - }" ;;
		"not ok - "*) fail "${line#not ok - }" ;;
		"kept "*) KEPT=${line#kept } ;;
		*) fail "checker: $line" ;;
		esac
	done <<<"$1"
}

# gt A B DESC — A > B (floats)
gt() {
	if "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' "$1" "$2"; then
		pass "$3 ($1 > $2)"
	else
		fail "$3: $1 is not > $2"
	fi
}

flow() {
	local mnt=$1 kind=$2 ds=$1/lay kpca kumap
	MODE=$kind
	ok "mkdir lay" mkdir "$ds"
	ok "cp the 301 samples in" cp -r "$src/." "$ds/initial-tag/"
	ok "cp emb.csv (16-D, 6 clusters)" cp "$T/emb.csv" "$ds/embeddings/emb.csv"
	ls "$ds" >"$T/ls.$kind"
	grep -qx "plot-umap.svg" "$T/ls.$kind" && grep -qx "plot.svg" "$T/ls.$kind" &&
		pass "ls lists plot-umap.svg beside plot.svg" ||
		fail "ls does not list both plots: $(tr '\n' ' ' <"$T/ls.$kind")"

	cat "$ds/plot.svg" >"$T/pca.$kind.svg"
	report "$(svg_check "$T/pca.$kind.svg" "$T/emb.csv" pca "plot.svg")"
	kpca=$KEPT
	# the first read starts the layout in the background (no stat waits
	# seconds for it) and says so, unless it ended in the meantime (301
	# rows take well under a second; test_runs checks the note itself)
	cat "$ds/plot-umap.svg" >"$T/umap0.$kind.svg"
	if grep -q 'id="pending"' "$T/umap0.$kind.svg"; then
		expect_contains "$T/umap0.$kind.svg" "layout of 300 samples (embedding emb) is being computed" \
			"the first read of plot-umap.svg says the layout of the 300 samples with a row is being computed"
		expect_contains "$T/umap0.$kind.svg" "read this file again in a few seconds" \
			"... and what to do"
	else
		note "the first read of plot-umap.svg was already the picture"
	fi
	for _ in $(seq 600); do
		grep -q 'id="pending"' "$ds/plot-umap.svg" || break
		sleep 0.1
	done
	cat "$ds/plot-umap.svg" >"$T/umap.$kind.svg"
	report "$(svg_check "$T/umap.$kind.svg" "$T/emb.csv" umap "plot-umap.svg")"
	kumap=$KEPT
	gt "$kumap" 0.45 "plot-umap.svg keeps over 0.45 of each sample's 10 nearest neighbours"
	gt "$kumap" "$("$PY" -c "print($kpca + 0.15)")" \
		"plot-umap.svg keeps at least 0.15 more of them than plot.svg (PCA $kpca)"
	cat "$ds/plot-umap.svg" >"$T/umap2.$kind.svg"
	cmp -s "$T/umap.$kind.svg" "$T/umap2.$kind.svg" &&
		pass "plot-umap.svg read twice: the same bytes" ||
		fail "plot-umap.svg read twice differs"

	"$SIEVEFS" sample "$ds" coreset n=30 >/dev/null 2>&1
	expect_eq 0 $? "sievefs sample lay coreset n=30 exits 0"
	cat "$ds/plot-umap.svg" >"$T/umap3.$kind.svg"
	rings=$("$PY" - "$T/umap3.$kind.svg" <<'EOF'
import sys, xml.etree.ElementTree as ET
S = "{http://www.w3.org/2000/svg}"
g = [x for x in ET.parse(sys.argv[1]).getroot().iter(S + "g") if x.get("id") == "selected"][0]
print(len(list(g.iter(S + "circle"))))
EOF
)
	expect_eq 30 "$rings" "plot-umap.svg draws the 30 picks as rings"

	# refusals: nothing changes
	expect_errno "Permission denied" bash -c 'echo x > "$1"' _ "$ds/plot-umap.svg"
	cat "$ds/plot-umap.svg" >"$T/umap4.$kind.svg"
	cmp -s "$T/umap3.$kind.svg" "$T/umap4.$kind.svg" &&
		pass "plot-umap.svg unchanged after the refused write" ||
		fail "plot-umap.svg changed after a refused write"
	expect_errno "File exists" mkdir "$ds/plot-umap.svg"
	[[ -f $ds/plot-umap.svg && ! -d $ds/plot-umap.svg ]] &&
		pass "plot-umap.svg is still the file, no tag of that name" ||
		fail "plot-umap.svg became something else after the refused mkdir"
}

local_flow() { flow "$1" "$2"; }

remote_flow() {
	local tok id bobtok
	flow "$1" "$2"
	U=http://127.0.0.1:$port
	tok=$(cat "$T/alice.tok")
	api "$tok" GET "/v1/datasets?name=lay"
	id=$(jget '["id"]')
	[[ $id =~ ^[0-9]+$ ]] || { fail "no dataset id from GET /v1/datasets?name=lay: $id"; return; }
	api "$tok" GET "/v1/datasets/$id/table"
	cp "$T/body" "$T/table.json"
	for m in umap pca; do
		api "$tok" GET "/v1/datasets/$id/layout?method=$m"
		expect_code 200 "GET layout?method=$m"
		cp "$T/body" "$T/layout.$m"
		grep -qi "^x-sievefs-layout: $m" "$T/hdr" && pass "X-Sievefs-Layout: $m" ||
			fail "X-Sievefs-Layout is not $m: $(grep -i x-sievefs-layout "$T/hdr")"
	done
	api "$tok" GET "/v1/datasets/$id/layout?method=umap"
	cmp -s "$T/body" "$T/layout.umap" && pass "layout?method=umap twice: the same bytes" ||
		fail "layout?method=umap differs between two requests"
	api "$tok" GET "/v1/datasets/$id/layout"
	grep -qi "^x-sievefs-layout: pca" "$T/hdr" && cmp -s "$T/body" "$T/layout.pca" &&
		pass "layout without method is still the PCA one" ||
		fail "layout without method is not the PCA one"
	out=$("$PY" - "$T/table.json" "$T/layout.umap" "$T/layout.pca" "$T/emb.csv" <<'EOF'
import csv, json, math, struct, sys
t = json.load(open(sys.argv[1]))
paths = t["path"]; n = len(paths)
vec = {r[0]: [float(v) for v in r[1:-1]] for r in list(csv.reader(open(sys.argv[4], newline="")))[1:]}
def load(f):
    b = open(f, "rb").read()
    if len(b) != 8 * n:
        print("not ok - %s: %d bytes for %d samples" % (f, len(b), n)); sys.exit(0)
    return struct.unpack("<%df" % (2 * n), b)
res = {}
for name, f in (("umap", sys.argv[2]), ("pca", sys.argv[3])):
    xy = load(f)
    idx = [i for i, p in enumerate(paths) if p in vec]
    nan = [i for i, p in enumerate(paths) if p not in vec]
    ok = len(nan) == 1 and all(math.isnan(xy[2 * i]) and math.isnan(xy[2 * i + 1]) for i in nan)
    print("%s - layout %s: NaN,NaN for the sample without a row (%s)" % (
        "ok" if ok else "not ok", name, [paths[i] for i in nan]))
    fin = all(math.isfinite(xy[2 * i + k]) and -1 <= xy[2 * i + k] <= 1 for i in idx for k in (0, 1))
    edge = max(abs(xy[2 * i + k]) for i in idx for k in (0, 1))
    print("%s - layout %s: finite, in [-1, 1], the longer side spans it (max |v| %g)" % (
        "ok" if fin and edge == 1.0 else "not ok", name, edge))
    H = [vec[paths[i]] for i in idx]; L = [(xy[2 * i], xy[2 * i + 1]) for i in idx]
    def knn(P, i):
        return set(j for _, j in sorted((sum((a - b) ** 2 for a, b in zip(P[i], P[j])), j)
                                         for j in range(len(P)) if j != i)[:10])
    res[name] = sum(len(knn(H, i) & knn(L, i)) for i in range(len(H))) / (10.0 * len(H))
ok = res["umap"] > res["pca"] + 0.15
print("%s - layout umap keeps %.3f of the 10-NN, pca %.3f" % ("ok" if ok else "not ok", res["umap"], res["pca"]))
EOF
)
	report "$out"
	api "$tok" GET "/v1/datasets/$id/plot.svg?method=umap"
	expect_code 200 "GET plot.svg?method=umap"
	grep -q "umap layout" "$T/body" && ! grep -q "principal component" "$T/body" &&
		pass "plot.svg?method=umap is the umap picture" || fail "plot.svg?method=umap is not the umap picture"
	api "$tok" GET "/v1/datasets/$id/plot.svg?method=pca"
	grep -q "principal component 1" "$T/body" && pass "plot.svg?method=pca is the PCA picture" ||
		fail "plot.svg?method=pca is not the PCA picture"
	for r in layout plot.svg; do
		api "$tok" GET "/v1/datasets/$id/$r?method=bogus"
		expect_code 400 "$r?method=bogus"
		grep -q '"invalid"' "$T/body" && grep -q "method must be pca or umap" "$T/body" &&
			pass "$r?method=bogus says: method must be pca or umap" ||
			fail "$r?method=bogus: $(cat "$T/body")"
	done
	STORE=$T/rstore new_token bob "$T/bob.tok" >/dev/null || { fail "no token for bob"; return; }
	bobtok=$(cat "$T/bob.tok")
	api "$bobtok" GET "/v1/datasets/$id/layout?method=umap"
	expect_code 404 "bob's layout?method=umap of alice's dataset"
	api "$bobtok" GET "/v1/datasets/$id/plot.svg?method=umap"
	expect_code 404 "bob's plot.svg?method=umap of alice's dataset"
}

both_flow() {
	if [[ $2 == local ]]; then local_flow "$1" "$2"; else remote_flow "$1" "$2"; fi
}
both_modes both_flow
