#!/usr/bin/env bash
#
# t_embed — the built-in embedder: a dataset with images and no CSV gets
# useful vectors from sievefs itself.
#
# Proves: on a dataset with no uploaded embedding, `echo "n=5" > sample`
# first computes embeddings/builtin.csv (lightly format, dim 48, one row per
# image, in JPEG, PNG grey/RGB/palette, WebP, BMP, PGM and PPM, in
# sub-folders too) and then samples it: 5 selected, `mkdir` freezes them;
# files that are not images (text, a truncated JPEG, an empty file) stay
# samples, are counted as skipped, and `log` names each with the decoder's
# reason; a request that needs nothing new changes nothing; deleting
# builtin.csv, and even the cached features, and recomputing gives the same
# bytes (deterministic); adding 10 images computes exactly 10 new feature
# rows (incremental, cached by content hash); `embed dim=16` changes the
# dimension and becomes the dataset's option for later requests;
# `embed color=off` makes a green and a brown picture of the same texture at
# equal luminance (nearly) the same vector, `color=on` puts them far apart;
# an uploaded CSV takes precedence and `embedding=builtin` still picks the
# built-in one; bad options fail the write with EINVAL and a reason, an
# upload to builtin.csv fails with EPERM, and neither changes anything; a
# dataset with no image fails its run with a reason; `sievefs sample DS
# embed` reports the images embedded.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need python3 sqlite3 cmp grep mountpoint fusermount3
# Debian's python3 (python3-pil), even when another python3 is first in PATH
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
"$PY" -c 'import PIL' 2>/dev/null ||
	die "$PY cannot import PIL (apt-get install python3-pil)"

# run_ok DS REQUEST DESC — the request is accepted and ends done.
run_ok() {
	if ! sample_req "$1" "$2" 2>"$T/req.err"; then
		fail "$3: write refused: $(cat "$T/req.err")"
		sv_show "$1/sample" 20
		return 1
	fi
	local st
	st=$(wait_run "$1")
	if [ "$st" = done ]; then
		pass "$3"
	else
		fail "$3: status '$st'"
		sv_show "$T/sample.txt" 20
		return 1
	fi
}

csv_rows() { tail -n +2 "$1" | grep -c .; }
csv_dim() { head -1 "$1" | tr ',' '\n' | grep -c '^embedding_'; }
features() {
	sqlite3 "file:$T/store/catalog.db?mode=ro" \
		"SELECT count(*) FROM features" 2>/dev/null
}

# ---------------------------------------------------------------- images
# make_images DIR FIRST COUNT — COUNT distinct pictures, formats in turn.
make_images() {
	"$PY" - "$@" <<'EOF'
import os, random, sys
from PIL import Image, ImageDraw
d, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fmts = [("jpg", "RGB"), ("png", "RGB"), ("png", "L"), ("png", "P"),
        ("webp", "RGB"), ("bmp", "RGB"), ("pgm", "L"), ("ppm", "RGB")]
for i in range(first, first + count):
    r = random.Random(i)
    w, h = r.randrange(40, 200), r.randrange(40, 200)
    im = Image.new("RGB", (w, h), tuple(r.randrange(256) for _ in range(3)))
    dr = ImageDraw.Draw(im)
    for _ in range(6):
        x, y = r.randrange(w), r.randrange(h)
        dr.rectangle([x, y, x + r.randrange(5, 40), y + r.randrange(5, 40)],
                     fill=tuple(r.randrange(256) for _ in range(3)))
    ext, mode = fmts[i % len(fmts)]
    sub = os.path.join(d, f"part{i % 3}")
    os.makedirs(sub, exist_ok=True)
    out = im.convert(mode) if mode != "P" else im.quantize(16)
    out.save(os.path.join(sub, f"img{i:03d}.{ext}"))
EOF
}

# leaves DIR — the same texture in green and in brown, equal luminance
# (299r + 587g + 114b equal for each pair of colours), lossless PNG.
leaves() {
	"$PY" - "$1" <<'EOF'
import random, sys
from PIL import Image
r = random.Random(5)
g = Image.new("RGB", (64, 64)); b = Image.new("RGB", (64, 64))
for y in range(64):
    for x in range(64):
        dark = (x // 6 + y // 4) % 3 == 0 or r.random() < 0.12
        g.putpixel((x, y), (0, 100, 1) if dark else (0, 100, 8))
        b.putpixel((x, y), (187, 3, 10) if dark else (172, 12, 10))
g.save(sys.argv[1] + "/leaf-green.png"); b.save(sys.argv[1] + "/leaf-brown.png")
EOF
}

src=$T/src
mkdir -p "$src"
make_images "$src" 0 60 || die "cannot make test images"
leaves "$src" || die "cannot make the leaves"
printf 'not a picture\n' >"$src/notes.txt"
head -c 700 "$src/part0/img000.jpg" >"$src/broken.jpg"
: >"$src/empty.png"
nimg=62 nbad=3

sv_mount "$T/store" "$T/mnt"
ds=$T/mnt/pics
ok "mkdir dataset" mkdir "$ds"
ok "cp -r images in" cp -r "$src/." "$ds/initial-tag/"

# ---------------------------------------------------------------- on demand
run_ok "$ds" "n=5" "n=5 with no CSV: embeds, then samples"
cp "$T/sample.txt" "$T/sample.first"
expect_line "$T/sample.first" "embedding: builtin" "sample: embedding builtin"
expect_line "$T/sample.first" "skipped: $nbad (no vector: not images)" \
	"sample: the $nbad non-images are skipped"
[ "$(grep -c . "$ds/selection")" = 5 ] && pass "selection has 5 entries" ||
	fail "selection has $(grep -c . "$ds/selection") entries, wanted 5"
ok "builtin.csv is listed" test -f "$ds/embeddings/builtin.csv"
cat "$ds/embeddings/builtin.csv" >"$T/b1.csv"
expect_eq "$(csv_dim "$T/b1.csv")" 48 "builtin.csv: 48 dimensions by default"
expect_eq "$(csv_rows "$T/b1.csv")" "$nimg" "builtin.csv: one row per image"
expect_eq "$(head -1 "$T/b1.csv" | tr -d "\r" | tr "," "\n" | sed -n "1p;\$p" | tr "\n" " ")" \
	"filenames labels " "builtin.csv: lightly header"
ok "builtin.csv names images in sub-folders" grep -q '^part2/img002.png,' "$T/b1.csv"
for f in notes.txt broken.jpg empty.png; do
	if grep -q "^$f," "$T/b1.csv"; then fail "$f has a vector"; else pass "$f has no vector"; fi
done
cat "$ds/log" >"$T/log1"
expect_contains "$T/log1" "embed: notes.txt: no vector: not an image" "log names notes.txt"
expect_contains "$T/log1" "embed: broken.jpg: no vector: jpeg:" "log names broken.jpg with the JPEG reason"
expect_contains "$T/log1" "embed: empty.png: no vector:" "log names empty.png"
ok "mkdir best-5" mkdir "$ds/best-5"
expect_eq "$(find "$ds/best-5" -type f | wc -l)" 5 "best-5 has 5 files"
expect_eq "$(sv_xattr "$ds/best-5" user.sievefs.parent)" initial-tag "best-5's parent"
ok "the frozen files read back whole" cmp "$src/$(head -1 "$ds/selection")" \
	"$ds/best-5/$(head -1 "$ds/selection")"

# ---------------------------------------------------------------- determinism
nfeat=$(features)
expect_eq "$nfeat" $((nimg + nbad)) "one cached feature row per distinct file"
run_ok "$ds" "embed" "embed with nothing new"
cat "$ds/embeddings/builtin.csv" | cmp -s "$T/b1.csv" - &&
	pass "nothing new: builtin.csv unchanged" || fail "nothing new changed builtin.csv"
ok "rm builtin.csv" rm "$ds/embeddings/builtin.csv"
run_ok "$ds" "embed" "embed after rm (from cached features)"
cat "$ds/embeddings/builtin.csv" | cmp -s "$T/b1.csv" - &&
	pass "recomputed from the cache: same bytes" || fail "recomputed builtin.csv differs"
sqlite3 "$T/store/catalog.db" "DELETE FROM features" || fail "cannot clear the feature cache"
ok "rm builtin.csv again" rm "$ds/embeddings/builtin.csv"
run_ok "$ds" "embed" "embed with an empty cache (decodes everything again)"
cat "$ds/embeddings/builtin.csv" | cmp -s "$T/b1.csv" - &&
	pass "decoded again: same bytes (deterministic)" || fail "re-decoded builtin.csv differs"

# ---------------------------------------------------------------- incremental
make_images "$T/more" 100 10 || die "cannot make more images"
ok "cp 10 more images" cp -r "$T/more/." "$ds/initial-tag/"
ok "sievefs sample DS embed" "$SIEVEFS" sample "$ds" embed
expect_contains "$T/last.out" "embedded" "the CLI reports images embedded"
expect_eq "$(features)" $((nimg + nbad + 10)) "exactly 10 new feature rows"
expect_eq "$(csv_rows "$ds/embeddings/builtin.csv")" $((nimg + 10)) "builtin.csv grew by 10 rows"

# ---------------------------------------------------------------- options
run_ok "$ds" "embed dim=16" "embed dim=16"
expect_eq "$(csv_dim "$ds/embeddings/builtin.csv")" 16 "builtin.csv has 16 dimensions"
expect_contains "$T/sample.txt" "dim=16" "sample shows dim=16"
run_ok "$ds" "kmeans n=4" "a later sample request"
expect_eq "$(csv_dim "$ds/embeddings/builtin.csv")" 16 "dim=16 stays the dataset's option"

# distance between the leaves relative to the median pairwise distance
leaf_ratio() {
	"$PY" - "$1" <<'EOF'
import csv, math, sys
rows = {}
with open(sys.argv[1]) as f:
    rd = csv.reader(f); next(rd)
    for r in rd:
        rows[r[0]] = [float(v) for v in r[1:-1]]
def d(a, b): return math.dist(rows[a], rows[b])
names = sorted(rows)
pairs = sorted(d(a, b) for i, a in enumerate(names) for b in names[i + 1:])
print(d("leaf-green.png", "leaf-brown.png") / pairs[len(pairs) // 2])
EOF
}
run_ok "$ds" "embed color=off dim=48" "embed color=off"
off=$(leaf_ratio "$ds/embeddings/builtin.csv")
run_ok "$ds" "embed color=on" "embed color=on"
on=$(leaf_ratio "$ds/embeddings/builtin.csv")
note "green vs brown leaves / median distance: color=off $off, color=on $on"
"$PY" -c "import sys; sys.exit(0 if float('$off') < 0.01 else 1)" &&
	pass "color=off: the leaves are the same point" ||
	fail "color=off: leaves at $off of the median distance"
"$PY" -c "import sys; sys.exit(0 if float('$on') > 0.2 else 1)" &&
	pass "color=on: the leaves are far apart" ||
	fail "color=on: leaves at only $on of the median distance"

# ---------------------------------------------------------------- errors
cat "$ds/embeddings/builtin.csv" >"$T/before.csv"
for bad in "embed dim=1" "embed dim=999" "embed color=maybe" "embed size=3" "embed 7"; do
	expect_errno "Invalid argument" sample_req "$ds" "$bad"
done
cat "$ds/log" >"$T/log2"
expect_contains "$T/log2" "dim=1: expected 2..256" "log: the dim range"
expect_contains "$T/log2" "color=maybe: expected on or off" "log: the colour values"
expect_contains "$T/log2" "unknown key 'size' for embed" "log: the unknown key"
printf 'filenames,embedding_0,labels\n' >"$T/x.csv"
expect_errno "Operation not permitted" cp "$T/x.csv" "$ds/embeddings/builtin.csv"
expect_contains "$ds/log" "builtin.csv is computed by sievefs" "log: why builtin.csv is refused"
cat "$ds/embeddings/builtin.csv" | cmp -s "$T/before.csv" - &&
	pass "bad requests changed nothing" || fail "builtin.csv changed after bad requests"

# ---------------------------------------------------------------- precedence
"$PY" - "$T/before.csv" "$T/mine.csv" <<'EOF'
import sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as g:
    g.write("filenames,embedding_0,embedding_1,labels\n")
    next(f)
    for i, line in enumerate(f):
        g.write(f"{line.split(',')[0]},{i % 7}.5,{i % 3},0\n")
EOF
ok "upload mine.csv" cp "$T/mine.csv" "$ds/embeddings/mine.csv"
run_ok "$ds" "random n=3" "with a CSV uploaded"
expect_line "$T/sample.txt" "embedding: mine" "an uploaded CSV takes precedence"
run_ok "$ds" "random n=3 embedding=builtin" "embedding=builtin"
expect_line "$T/sample.txt" "embedding: builtin" "embedding=builtin picks the built-in one"

# ---------------------------------------------------------------- no images
ok "mkdir a dataset of text" mkdir "$T/mnt/texts"
for i in 1 2 3; do echo "text $i" >"$T/mnt/texts/initial-tag/t$i.txt"; done
sample_req "$T/mnt/texts" "n=2" || fail "n=2 on texts refused at write"
expect_eq "$(wait_run "$T/mnt/texts")" failed "no image: the run fails"
expect_contains "$T/sample.txt" "none of the 3 samples of initial-tag is an image" \
	"no image: the reason says so"

sv_umount "$T/mnt"
