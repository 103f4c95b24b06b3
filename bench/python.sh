#!/usr/bin/env bash
# bench/python.sh — the Python client's upload against a remote mount of the
# same server, in one run: 2,000 files of 100 KiB (random bytes, 20 folders).
#
#   mount    `cp -r` of the tree into a new dataset's initial-tag/ through a
#            remote mount (sievefs URL MNT -o upload=full)
#   python   `python3 -m sievefs upload TREE DATASET` (Client.upload_dataset,
#            mode full, 8 workers, no progress bar) from /usr/bin/python3
#   lightly  the lightly 1.1.x client's upload_dataset(mode='full') against
#            the server's /lightly door — only when its source is in
#            $LIGHTLY_SRC (default /tmp/lightly) and the server answers
#            /lightly; skipped with a message otherwise
# Every run starts from an empty store and a fresh `sievefs serve` (and a
# fresh mount with an empty cache): bytes a server already has are not sent
# again, so reusing one would measure deduplication, not uploads. Each figure
# is the median of --runs runs (default 3), timed one by one, the sides
# interleaved. Ratio = speed of python / speed of mount (mount time /
# python time); target >= 0.8x.
#
# Usage: bench/python.sh [--runs N] [--bin PATH] [--keep]
# Env: BENCH_DATA (generated files, kept between runs), BENCH_DIR (work dir)
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
. "$HERE/lib.sh"
BENCH_NAME=bench/python
BIN=${SIEVEFS:-$TOP/sievefs}
RUNS=3
KEEP=0
PY=/usr/bin/python3
DATA=${BENCH_DATA:-/var/tmp/sievefs-bench-data}
LIGHTLY_SRC=${LIGHTLY_SRC:-/tmp/lightly}
N=2000 SIZE=102400 NDIRS=20

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
[ -x "$PY" ] || bench_die "$PY missing"

W=${BENCH_DIR:-$(mktemp -d /var/tmp/sievefs-python.XXXXXX)}
mkdir -p "$W" "$DATA"
[ "$KEEP" = 1 ] || BENCH_RM=$W
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
T_ALL=$(now)
echo "bench/python: sievefs $BIN (tree $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo ?)); work dir $W; runs $RUNS"
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

# PNGs of noise of about $SIZE bytes each, so that every side — the lightly
# client too, which reads only image files — uploads the same tree
SRC=$DATA/png100k-$N
if [ ! -f "$SRC.done" ]; then
	echo "== writing $N PNG files of about $SIZE bytes (once)"
	rm -rf "$SRC"
	"$PY" - "$SRC" "$NDIRS" "$N" "$SIZE" <<'PYEOF' || bench_die "could not write the PNGs (python3-pil)"
import os, sys
from PIL import Image
root, ndirs, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
side = int((size / 3) ** 0.5)       # random pixels do not compress: ~3 bytes each
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % ndirs))
    os.makedirs(d, exist_ok=True)
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(
        os.path.join(d, "f%05d.png" % i), compress_level=1)
PYEOF
	touch "$SRC.done"
fi


# serve_fresh NAME — a new store $W/NAME.store served on a free port: sets
# URL, SRV_PID and $W/NAME.token (mode 600)
serve_fresh() {
	local name=$1 port i
	port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$BIN" token create --store "$W/$name.store" bench >"$W/$name.tok.out" 2>&1 ||
		{ cat "$W/$name.tok.out" >&2; bench_die "token create failed"; }
	(umask 077 && grep -o 'svf_[0-9a-f]*' "$W/$name.tok.out" | head -1 >"$W/$name.token")
	"$BIN" serve "$W/$name.store" --listen "127.0.0.1:$port" >"$W/$name.serve.log" 2>&1 &
	SRV_PID=$!
	BENCH_SERVERS+=("$SRV_PID")
	URL=http://127.0.0.1:$port
	for i in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/whoami")" = 401 ] && return 0
		sleep 0.1
	done
	bench_die "sievefs serve did not come up (see $W/$name.serve.log)"
}

stop_server() {
	local keep=() p
	kill -TERM "$SRV_PID" 2>/dev/null || true
	wait "$SRV_PID" 2>/dev/null || true
	for p in "${BENCH_SERVERS[@]}"; do [ "$p" = "$SRV_PID" ] || keep+=("$p"); done
	BENCH_SERVERS=("${keep[@]}")
	rm -rf "$W/$1.store"
}

lightly_ok=0
lightly_why="no lightly source in $LIGHTLY_SRC (set LIGHTLY_SRC)"
[ -d "$LIGHTLY_SRC/lightly/api" ] && lightly_why=""

PYCMD="$PY -m sievefs upload $SRC DATASET --mode full --workers 8 --quiet"
echo "== upload of $N x $SIZE bytes, $RUNS runs each, a fresh server per run"
echo "   mount:  mkdir MNT/upR && cp -r $SRC/. MNT/upR/initial-tag/"
echo "   python: $PYCMD"
: >"$W/t.mount"; : >"$W/t.python"; : >"$W/t.lightly"
for r in $(seq "$RUNS"); do
	# --- the remote mount
	serve_fresh "m$r"
	M=$W/mnt$r
	bench_mount "$URL" "$M" "$W/mount$r.log" -o "token_file=$W/m$r.token,cache_dir=$W/cache$r,cache_size=4G"
	mkdir "$M/up$r"
	t0=$(now)
	cp -r "$SRC/." "$M/up$r/initial-tag/"
	secs "$t0" >>"$W/t.mount"
	bench_umount "$M"
	stop_server "m$r"
	rm -rf "$W/cache$r"

	# --- our client
	serve_fresh "p$r"
	t0=$(now)
	SIEVEFS_SERVER=$URL PYTHONPATH=$TOP/python \
		$PY -m sievefs --token-file "$W/p$r.token" upload "$SRC" "up$r" \
		--mode full --workers 8 --quiet >"$W/python$r.out"
	secs "$t0" >>"$W/t.python"
	grep -q "$N uploaded" "$W/python$r.out" ||
		{ cat "$W/python$r.out" >&2; bench_die "the client did not upload $N files"; }

	# --- the lightly client, through /lightly (when there is one)
	if [ -z "$lightly_why" ] && [ "$r" = 1 ]; then
		code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/lightly/v1/versions/pip/minimum?token=$(cat "$W/p$r.token")")
		[ "$code" = 200 ] || lightly_why="the server does not answer /lightly (HTTP $code): issue 18 part 1 not in this build"
	fi
	if [ -z "$lightly_why" ]; then
		t0=$(now)
		if LIGHTLY_SERVER_LOCATION=$URL/lightly LIGHTLY_SRC=$LIGHTLY_SRC \
			TOKEN_FILE=$W/p$r.token DSNAME=lightly$r SRC=$SRC \
			"$PY" - >"$W/lightly$r.out" 2>&1 <<'PYEOF'
import os, sys, types
src = os.environ["LIGHTLY_SRC"]
sys.path.insert(0, src)
for name in ("lightly", "lightly.utils", "lightly.data"):
    m = types.ModuleType(name)
    m.__path__ = [os.path.join(src, *name.split("."))]
    if name == "lightly":
        m.__version__ = "1.1.7"
    sys.modules[name] = m
# the client reads `from lightly.__init__ import __version__`: that module is
# the package itself, not its __init__.py (which imports hydra, not in Debian)
sys.modules["lightly.__init__"] = sys.modules["lightly"]
from lightly.api.api_workflow_client import ApiWorkflowClient
tok = open(os.environ["TOKEN_FILE"]).read().strip()
c = ApiWorkflowClient(token=tok)
c.create_dataset(os.environ["DSNAME"])
c.upload_dataset(os.environ["SRC"], max_workers=8, mode="full")
PYEOF
		then
			secs "$t0" >>"$W/t.lightly"
		else
			lightly_why="the lightly client failed: $(tail -n 1 "$W/lightly$r.out")"
		fi
	fi
	stop_server "p$r"
	echo "   run $r: mount $(tail -n1 "$W/t.mount") s, python $(tail -n1 "$W/t.python") s$( [ -s "$W/t.lightly" ] && [ -z "$lightly_why" ] && echo ", lightly $(tail -n1 "$W/t.lightly") s"); load $(cut -d' ' -f1-3 /proc/loadavg)"
done

tm=$(median <"$W/t.mount"); tp=$(median <"$W/t.python")
tl=""; [ -z "$lightly_why" ] && [ -s "$W/t.lightly" ] && tl=$(median <"$W/t.lightly")
"$PY" - "$tm" "$tp" "$tl" "$RUNS" "$N" "$(du -sb --apparent-size "$SRC" | cut -f1)" "$lightly_why" <<'PYEOF'
import sys
tm, tp = float(sys.argv[1]), float(sys.argv[2])
tl = float(sys.argv[3]) if sys.argv[3] else None
runs, n, total, why = sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
mb = total / 1e6
print("medians of %s runs (seconds; MB/s = %.0f MB / time)" % (runs, mb))
print("  %-34s %8.2f s %7.1f MB/s" % ("mount   cp -r (upload=full)", tm, mb / tm))
print("  %-34s %8.2f s %7.1f MB/s" % ("python  upload_dataset (full, 8)", tp, mb / tp))
ratio = tm / tp
print("  python / mount speed: %.2fx  target >= 0.8x: %s"
      % (ratio, "PASS" if ratio >= 0.8 else "MISS"))
if tl is not None:
    print("  %-34s %8.2f s %7.1f MB/s  (python / lightly: %.2fx)"
          % ("lightly upload_dataset (full)", tl, mb / tl, tl / tp))
else:
    print("  lightly: skipped: %s" % why)
PYEOF
echo "load average at the end: $(cat /proc/loadavg)"
echo "total time: $(since "$T_ALL")"
