#!/usr/bin/env bash
# bench/thumbs.sh — GET /v1/nodes/{ino}/thumbnail (docs/api.md, "Thumbnails
# and images") against peers, in one run, on `sievefs serve` over loopback.
#
#   cold     every thumbnail made once (the cache emptied before each run):
#            curl --parallel (8 at once, one process, keep-alive) fetching
#            all of them, vs the peer PIL Image.thumbnail((128,128)) + a
#            q85 JPEG of the same files in 2 processes (no HTTP at all)
#              fm      Fashion-MNIST's 10,000 test images, 28x28 PNG
#                                                  target >= 1,000/s
#              photos  48 JPEGs of 4000x3000 (libjpeg decodes at 1/8 scale;
#                      PIL's thumbnail() uses the same draft() scaling)
#   cached   the same 10,000 thumbnails once cached, with wrk (2 threads,
#            16 connections, 5 s) cycling through them, vs the same wrk
#            against
#              blobs   GET /v1/blobs/{sha} of the original PNGs (the
#                      server's own static path, same auth, bytes ~ same)
#              http.server  python3 -m http.server over a folder of the
#                      same thumbnail files (a plain static file server)
#                                                  target >= 10,000/s
# Before each cold run the cache folder is moved aside, not deleted: ext4
# makes a file slowly while many inodes nearby were just deleted
# (recently_deleted() in the inode allocator took ~45% of the server's CPU
# after an `rm -rf` of 10,000 thumbnails), which is the benchmark's doing,
# not the server's.
# Each figure is the median of --runs runs (hyperfine for cold; wrk runs
# one by one for cached); ratios are speeds, sievefs / peer. The load
# average is printed before and after: the machine is shared.
#
# Usage: bench/thumbs.sh [--runs N] [--bin PATH] [--keep]
# Env: BENCH_DATA (generated images, kept), BENCH_DIR (work dir)
# Needs hyperfine, wrk, curl, python3-pil, dataset-fashion-mnist,
# gnome-backgrounds.
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
. "$HERE/lib.sh"
BENCH_NAME=bench/thumbs
BIN=${SIEVEFS:-$TOP/sievefs}
RUNS=5
KEEP=0
PY=/usr/bin/python3
TOOL=$HERE/thumbs_tool.py
DATA=${BENCH_DATA:-/var/tmp/sievefs-bench-data}

while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift 2 ;;
	--bin) BIN=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) bench_die "unknown argument $1 (see --help)" ;;
	esac
done
BIN=$(realpath "$BIN")
[ -x "$BIN" ] || bench_die "no sievefs binary at $BIN (make first)"
for t in hyperfine wrk curl; do
	command -v "$t" >/dev/null || bench_die "$t missing (apt-get install $t)"
done
"$PY" -c 'import PIL' 2>/dev/null || bench_die "$PY needs PIL (python3-pil)"
[ -d /usr/share/datasets/fashion-mnist ] ||
	bench_die "apt-get install dataset-fashion-mnist"

W=${BENCH_DIR:-$(mktemp -d /var/tmp/sievefs-thumbs.XXXXXX)}
mkdir -p "$W" "$DATA"
[ "$KEEP" = 1 ] || BENCH_RM=$W
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "bench/thumbs: sievefs $BIN (tree $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo ?)); work dir $W; runs $RUNS"
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

FM=$DATA/thumbs-fm PH=$DATA/thumbs-photos
if [ ! -f "$DATA/thumbs.done" ]; then
	echo "== writing Fashion-MNIST PNGs and 4000x3000 JPEGs (once)"
	rm -rf "$FM" "$PH"
	"$PY" "$TOOL" data --fm "$FM" --photos "$PH" --n-photos 48
	touch "$DATA/thumbs.done"
fi

# ---------------------------------------------------------------- server
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
STORE=$W/srv
"$BIN" serve "$STORE" --listen "127.0.0.1:$PORT" --user-rate 100000000/1 \
	>"$W/serve.log" 2>&1 &
BENCH_SERVERS+=("$!")
"$BIN" token create --store "$STORE" bench >"$W/token.out" 2>&1 ||
	{ cat "$W/token.out" >&2; bench_die "token create failed"; }
grep -o 'svf_[0-9a-f]*' "$W/token.out" | head -1 >"$W/token"
chmod 600 "$W/token"
[ -s "$W/token" ] || bench_die "no token"
U=http://127.0.0.1:$PORT
for _ in $(seq 50); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$U/v1/whoami")" = 401 ] && break
	sleep 0.1
done
echo "== uploading through the API"
"$PY" "$TOOL" upload --url "$U" --token-file "$W/token" --dataset fm \
	--dir "$FM" --out "$W/fm.inos"
"$PY" "$TOOL" upload --url "$U" --token-file "$W/token" --dataset photos \
	--dir "$PH" --out "$W/ph.inos"
echo "  $(wc -l <"$W/fm.inos") + $(wc -l <"$W/ph.inos") samples"

# curl config: the token as a header (never on argv), one URL per sample
curlcfg() {   # INOS OUT
	{
		printf 'header = "Authorization: Bearer %s"\n' "$(cat "$W/token")"
		printf 'fail\nsilent\n'
		awk -v u="$U" '{ printf "url = \"%s/v1/nodes/%s/thumbnail\"\noutput = \"/dev/null\"\n", u, $1 }' "$1"
	} >"$2"
	chmod 600 "$2"
}
curlcfg "$W/fm.inos" "$W/fm.curl"
curlcfg "$W/ph.inos" "$W/ph.curl"

# a check: one thumbnail decodes as a JPEG of the right size
curl -sf -K <(head -3 "$W/fm.curl") -o "$W/one.jpg" \
	"$U/v1/nodes/$(head -1 "$W/fm.inos" | cut -d' ' -f1)/thumbnail"
"$PY" -c 'import sys; from PIL import Image; im = Image.open(sys.argv[1]); assert im.format == "JPEG" and im.size == (28, 28), im.size' "$W/one.jpg" ||
	bench_die "the thumbnail is not a 28x28 JPEG"

# cold NAME CURLCFG DIR COUNT
cold() {
	local name=$1 cfg=$2 dir=$3 n=$4 json=$W/$1.json
	hyperfine --runs "$RUNS" --export-json "$json" --style basic \
		--prepare "mv '$STORE/thumbs' '$W/old-thumbs.'\$(date +%s%N) 2>/dev/null || :" \
		-n sievefs "curl -s --parallel --parallel-max 8 -K '$cfg'" \
		-n peer "$PY $TOOL peer --dir '$dir' --procs 2" >"$W/$name.hf" 2>&1 ||
		{ cat "$W/$name.hf" >&2; bench_die "hyperfine failed on $name"; }
	"$PY" - "$json" "$n" "$name" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
n, name = int(sys.argv[2]), sys.argv[3]
def line(k, label):
    t = r[k]["median"]
    print(f"  {label:<40} median {t:7.3f} s ({', '.join(f'{v:.3f}' for v in r[k]['times'])})"
          f"  {n / t:8.0f} thumbnails/s")
    return n / t
ours = line("sievefs", "sievefs cold (HTTP, decode, encode, cache)")
peer = line("peer", "PIL thumbnail + JPEG, 2 processes")
print(f"  ratio sievefs/peer: {ours / peer:.2f}x")
if name == "fm":
    print(f"  {'PASS' if ours >= 1000 else 'MISS'}: {ours:.0f}/s (target >= 1,000/s cold)")
EOF
}

echo "== cold: Fashion-MNIST, 10,000 PNGs of 28x28"
cold fm "$W/fm.curl" "$FM" "$(wc -l <"$W/fm.inos")"
echo "== cold: 48 JPEGs of 4000x3000"
cold photos "$W/ph.curl" "$PH" "$(wc -l <"$W/ph.inos")"
echo "  load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- cached
curl -s --parallel --parallel-max 8 -K "$W/fm.curl" 2>/dev/null   # all cached now
awk '{ print "/v1/nodes/" $1 "/thumbnail" }' "$W/fm.inos" >"$W/thumb.paths"
awk '{ print "/v1/blobs/" $2 }' "$W/fm.inos" >"$W/blob.paths"
mkdir -p "$W/static"
awk '{ print $2 }' "$W/fm.inos" | while read -r h; do
	cp "$STORE/thumbs/${h:0:2}/$h.128" "$W/static/$h.jpg"
done
awk '{ print "/" $2 ".jpg" }' "$W/fm.inos" >"$W/static.paths"
"$PY" "$TOOL" wrk --paths "$W/thumb.paths" --out "$W/thumb.lua"
"$PY" "$TOOL" wrk --paths "$W/blob.paths" --out "$W/blob.lua"
"$PY" "$TOOL" wrk --paths "$W/static.paths" --out "$W/static.lua"
SPORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$W/static" && exec "$PY" -m http.server "$SPORT" --bind 127.0.0.1) \
	>"$W/http.server.log" 2>&1 &
BENCH_SERVERS+=("$!")
for _ in $(seq 50); do
	curl -s -o /dev/null "http://127.0.0.1:$SPORT/" && break
	sleep 0.1
done

# wrk_runs NAME URL LUA [TOKEN] — RUNS runs of 5 s; "req/s" per run
wrk_runs() {
	local name=$1 url=$2 lua=$3 tok=${4:-} i
	: >"$W/$name.rates"
	for i in $(seq "$RUNS"); do
		SIEVEFS_TOKEN=$tok wrk -t2 -c16 -d5s -s "$lua" "$url" >"$W/$name.$i.wrk" 2>&1 ||
			{ cat "$W/$name.$i.wrk" >&2; bench_die "wrk failed ($name)"; }
		# sievefs must answer every request; the peer (python3 -m
		# http.server, one thread) may drop one under load: said, not fatal
		awk -v peer="$([ "$name" = static ] && echo 1 || echo 0)" \
			'/^RESULT/ { if ($3 > 0) { print "'"$name"' run '"$i"': " $3 " non-2xx answers or errors" > "/dev/stderr"; if (!peer) exit 1 }
			printf "%.0f\n", $2 / $4 }' "$W/$name.$i.wrk" >>"$W/$name.rates" ||
			bench_die "$name: non-2xx answers (see $W/$name.$i.wrk)"
	done
}
echo "== cached: 10,000 thumbnails, wrk -t2 -c16 -d5s x $RUNS"
TOK=$(cat "$W/token")
wrk_runs thumb "$U" "$W/thumb.lua" "$TOK"
wrk_runs blob "$U" "$W/blob.lua" "$TOK"
wrk_runs static "http://127.0.0.1:$SPORT" "$W/static.lua"
unset TOK
"$PY" - "$W/thumb.rates" "$W/blob.rates" "$W/static.rates" <<'EOF'
import statistics, sys
def med(p):
    v = [float(l) for l in open(p) if l.strip()]
    return statistics.median(v), v
t, tv = med(sys.argv[1]); b, bv = med(sys.argv[2]); s, sv = med(sys.argv[3])
fmt = lambda v: ", ".join(f"{x:.0f}" for x in v)
print(f"  {'sievefs GET .../thumbnail (cached)':<40} median {t:8.0f} req/s ({fmt(tv)})")
print(f"  {'sievefs GET /v1/blobs/{sha} (peer)':<40} median {b:8.0f} req/s ({fmt(bv)})")
print(f"  {'python3 -m http.server (peer)':<40} median {s:8.0f} req/s ({fmt(sv)})")
print(f"  ratio thumbnail/blobs: {t / b:.2f}x   thumbnail/http.server: {t / s:.2f}x")
print(f"  {'PASS' if t >= 10000 else 'MISS'}: {t:.0f}/s (target >= 10,000/s cached)")
EOF
echo "machine: load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
