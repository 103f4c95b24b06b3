#!/usr/bin/env bash
#
# t_remote_modes — the upload modes of a remote mount (README "Remote mode"):
# -o upload=meta and -o upload=thumbnails against a real `sievefs serve` on
# loopback.
#
# Proves: with upload=meta the uploading mount reads its files back identical
# (from its pinned cache) while a second mount of the same user (another
# cache_dir) lists them with their right sizes but gets EIO reading them, and
# its log says the bytes stay on the uploading machine; tags, selection and a
# sampling run with an uploaded CSV work on such samples. With
# upload=thumbnails the uploading mount reads the originals, the second mount
# reads a JPEG whose longest side is 128 px and whose size is what stat says,
# and a file that is not an image behaves as under upload=meta.
# The server is started and killed by PID (also in the trap).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl cmp grep mountpoint fusermount3
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
"$PY" -c 'import PIL' 2>/dev/null ||
	die "$PY cannot import PIL (apt-get install python3-pil)"

port=$(free_port) || die "no free port"
url=http://127.0.0.1:$port
mkdir -p "$T/store"
new_token alice "$T/alice.tok" >/dev/null || die "token create failed"
start_server "$port" || die "sievefs serve did not come up"
note "server pid $SERVER_PID on $url"

# --- upload=meta
A=$T/mntA
sv_mount "$url" "$A" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheA" \
	-o meta_ttl=1 -o upload=meta || die "upload=meta mount failed"
ok "mkdir a dataset" mkdir "$A/m" || die "cannot create a dataset"
src=$T/src
sv_gen_tree "$src" 12 30000 7 || die "could not generate files"
ok "cp -r into an upload=meta mount" cp -r "$src/." "$A/m/initial-tag/"
expect_tree_eq "$src" "$A/m/initial-tag" "the uploading mount reads them back identical"
ok "the blobs are not on the server" sh -c \
	"! find '$T/store/blobs' -type f | grep -q ."
sv_files "$src" >"$T/all.txt"
f1=$(head -n1 "$T/all.txt")

B=$T/mntB
sv_mount "$url" "$B" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheB" \
	-o meta_ttl=1 || die "second mount failed"
expect_eq "$(stat -c %s "$src/$f1")" "$(stat -c %s "$B/m/initial-tag/$f1")" \
	"the second mount's stat shows the right size"
sv_files "$B/m/initial-tag" >"$T/b.txt"
expect_list_eq "$T/all.txt" "$T/b.txt" "the second mount lists every file"
expect_errno "Input/output error" cat "$B/m/initial-tag/$f1"
ok "the second mount's log says why" grep -q \
	"stay on the machine that uploaded them (upload=meta)" "${SV_MNT_LOG[$B]}"

# tags, selection, sampling on metadata-only samples
head -n 4 "$T/all.txt" >"$T/sel.txt"
ok "write the selection" cp "$T/sel.txt" "$A/m/selection"
ok "mkdir tag first4" mkdir "$A/m/first4"
sv_files "$A/m/first4" >"$T/first4.txt"
expect_list_eq "$T/sel.txt" "$T/first4.txt" "the tag holds the selection"
ok "the tag reads on the uploading mount" cmp "$src/$f1" "$A/m/first4/$f1"
"$PY" - "$T/all.txt" "$T/emb.csv" <<'EOF'
import sys
paths = [l.rstrip("\n") for l in open(sys.argv[1])]
with open(sys.argv[2], "w") as f:
    f.write("filenames,embedding_0,embedding_1,labels\n")
    for i, p in enumerate(paths):
        f.write("%s,%f,%f,%d\n" % (p, i * 0.5, (i * 7 % 5) * 1.0, i % 2))
EOF
ok "cp an embeddings CSV" cp "$T/emb.csv" "$A/m/embeddings/e2.csv"
ok "echo 'random n=3' > sample" sh -c "echo 'random n=3 seed=1' > '$A/m/sample'"
deadline=$((SECONDS + 20))
while ((SECONDS < deadline)); do
	grep -q '^status: \(done\|failed\)' "$A/m/sample" && break
	sleep 0.2
done
cat "$A/m/sample" >"$T/sample.txt"
expect_line "$T/sample.txt" "status: done" "the sampling run finished"
ok "mkdir tag r3" mkdir "$A/m/r3"
expect_eq 3 "$(sv_files "$A/m/r3" | wc -l)" "r3 holds the 3 picked samples"

# --- upload=thumbnails
sv_umount "$A"
sv_mount "$url" "$A" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheA" \
	-o meta_ttl=1 -o upload=thumbnails || die "upload=thumbnails mount failed"
img=$T/img
mkdir -p "$img"
"$PY" - "$img" <<'EOF'
import sys
from PIL import Image, ImageDraw
d = sys.argv[1]
im = Image.new("RGB", (640, 480), (30, 90, 200))
ImageDraw.Draw(im).ellipse((100, 80, 500, 400), fill=(250, 200, 20))
im.save(d + "/wide.jpg", quality=92)
im = Image.new("L", (300, 900), 40)
ImageDraw.Draw(im).rectangle((50, 100, 250, 800), fill=220)
im.save(d + "/tall.png")
Image.new("RGB", (64, 40), (10, 200, 10)).save(d + "/small.png")
open(d + "/notes.txt", "w").write("not an image\n" * 500)
EOF
ok "mkdir a dataset" mkdir "$A/t"
ok "cp images into an upload=thumbnails mount" cp "$img"/* "$A/t/initial-tag/"
for f in wide.jpg tall.png small.png notes.txt; do
	ok "the uploading mount reads the original $f" cmp "$img/$f" "$A/t/initial-tag/$f"
done
ok "the uploading mount's log names the non-image" grep -q \
	"no thumbnail (not an image" "${SV_MNT_LOG[$A]}"
sleep 1.2   # past B's metadata TTL
for f in wide.jpg tall.png small.png; do
	ok "the second mount reads $f" cp "$B/t/initial-tag/$f" "$T/th-$f"
	expect_eq "$(stat -c %s "$T/th-$f")" "$(stat -c %s "$B/t/initial-tag/$f")" \
		"stat size of $f = the thumbnail's size"
done
ok "the thumbnails are JPEGs of the right size" "$PY" - "$T" <<'EOF'
import sys
from PIL import Image
t = sys.argv[1]
want = {"wide.jpg": ((128, 96), "RGB"), "tall.png": ((43, 128), "L"),
        "small.png": ((64, 40), "RGB")}
for f, (size, mode) in want.items():
    im = Image.open(t + "/th-" + f)
    im.load()
    assert im.format == "JPEG", (f, im.format)
    assert im.size == size, (f, im.size, size)
    assert im.mode == mode, (f, im.mode, mode)
EOF
expect_eq "$(stat -c %s "$img/notes.txt")" "$(stat -c %s "$B/t/initial-tag/notes.txt")" \
	"a non-image shows its real size on the second mount"
expect_errno "Input/output error" cat "$B/t/initial-tag/notes.txt"

sv_umount "$B"
sv_umount "$A"
