#!/usr/bin/env bash
# bench/web_data.sh — the web app's bulk routes (api/routes_samples.c) on a
# dataset of N samples with a DIM-dimensional embedding and a finished
# sampling run, beside peers that read the same data, in one run.
#
#   bench/web_data.sh [N...]        default: 100000 1000000
#   BIN=./sievefs REPS=5 DIM=32 bench/web_data.sh 100000
#
# The dataset is written straight into a fresh store's catalog with
# python3's sqlite3 while no server runs (1,000 folders of N/1000 files,
# hashes only: the bytes are not needed to list, rank or lay out samples;
# vectors from 4,096 Gaussian draws reused; a run whose ranking covers
# every sample): building 1,000,000 samples through the API would take
# the bench an hour and measure the upload path, not these routes. Then a
# real `sievefs serve` is started on loopback and timed with curl
# (%{time_total}: request sent to last byte read), medians of REPS:
#
#   table cold      GET …/table right after a change of the live tree (a
#                   rename through the API): the query, the JSON, the send
#   table warm      the same again: served from the cache
#   table 304       If-None-Match with its ETag
#   members         GET …/members (the selection: all N)
#   members tag     GET …/members?tag=initial-tag
#   scores          GET …/scores
#   layout cold     GET …/layout?embedding= after a change (read of the
#                   vectors, PCA, scaling; the table is warm)
#   layout warm     the same again
# Peers, same run: the table's rows read by the sqlite3 shell (the floor
# of any server answer), scores.csv (the same ranking as text) and, up to
# 200,000 samples, plot.svg (the same PCA drawn as SVG).
# Prints the load average before and after. Only the server it started is
# stopped (by PID); the work dir is removed at the end.
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
BENCH_NAME=web_data
BIN=${BIN:-./sievefs}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
REPS=${REPS:-5}
DIM=${DIM:-32}
SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(100000 1000000)
[[ -x $BIN ]] || bench_die "no binary at $BIN (make first)"
command -v sqlite3 >/dev/null || bench_die "needs the sqlite3 shell"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

work=$(mktemp -d "${TMPDIR:-/tmp}/sievefs-bench-web.XXXXXX")
BENCH_RM=$work

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
serve() {   # STORE: starts the server, sets U and SPID
	local p
	p=$(port)
	"$BIN" serve "$1" --listen "127.0.0.1:$p" >>"$work/serve.log" 2>&1 &
	SPID=$!
	BENCH_SERVERS+=("$SPID")
	U=http://127.0.0.1:$p
	for _ in $(seq 300); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' "$U/v1/whoami") == 401 ]] && return 0
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$work/serve.log" >&2
	bench_die "the server did not start"
}
unserve() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }
# t KEY PATH [curl args]: one GET's seconds appended to R[KEY], body to
# $work/body; an answer other than 200 or 304 stops the bench (a timed
# error is no figure)
t() {
	local key=$1 path=$2 out
	shift 2
	out=$(curl -s -o "$work/body" -w '%{http_code} %{time_total}' \
		-H "Authorization: Bearer $TOK" "$@" "$U$path")
	case ${out%% *} in
	200 | 304) R[$key]+="${out#* } " ;;
	*) bench_die "GET $path: HTTP ${out%% *} $(head -c 300 "$work/body")" ;;
	esac
}
flip=0
change() {   # renames a file back and forth through the API: a new gen
	local from=f0000000.jpg to=g0000000.jpg
	((flip)) && { from=g0000000.jpg; to=f0000000.jpg; }
	flip=$((1 - flip))
	local code
	code=$(curl -s -o "$work/rename.out" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $TOK" \
		-d '{"name":"'$from'","newparent":'"$DIR0"',"newname":"'$to'"}' \
		"$U/v1/nodes/$DIR0/rename")
	[[ $code == 204 ]] || bench_die "rename failed: $code $(head -c 300 "$work/rename.out")"
}

echo "web_data: $BIN, reps $REPS, dim $DIM, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-12s %-14s %10s %12s   %s\n' samples route median_s bytes "peer (median_s, ratio)"
for N in "${SIZES[@]}"; do
	store=$work/store$N
	mkdir -p "$store"
	TOK=$("$BIN" token create --store "$store" alice 2>/dev/null) || bench_die "token create"
	serve "$store"
	DS=$(curl -sf -X POST -H "Authorization: Bearer $TOK" -d '{"name":"big"}' "$U/v1/datasets" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || bench_die "dataset"
	unserve
	T0=$(now)
	python3 - "$store/catalog.db" "$DS" "$N" "$DIM" <<'EOF' || bench_die "filling the catalog failed"
import os, random, sqlite3, struct, sys
db, ds, n, dim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
c = sqlite3.connect(db)
tree, root = c.execute("SELECT id, root FROM tags WHERE dataset=? AND live=1", (ds,)).fetchone()
now = 1733500000000000000
c.execute("BEGIN")
per = max(1, n // 1000)
rnd = random.Random(1)
vecs = [struct.pack("<%df" % dim, *[rnd.gauss(0, 1 + (j % 5)) for j in range(dim)]) for _ in range(4096)]
i = 0
d = 0
while i < n:
    name = "d%04d" % d
    cur = c.execute("INSERT INTO nodes(tree,parent,name,path,kind,mode,uid,gid,size,mtime,ctime,sha,atime)"
                    " VALUES(?,?,?,?,1,493,0,0,0,?,?,NULL,?)", (tree, root, name, name, now, now, now))
    dino = cur.lastrowid
    rows = []
    for k in range(min(per, n - i)):
        f = "f%07d.jpg" % i
        rows.append((tree, dino, f, name + "/" + f, 420, 1000 + (i * 7919) % 90000, now, now,
                     os.urandom(32), now))
        i += 1
    c.executemany("INSERT INTO nodes(tree,parent,name,path,kind,mode,uid,gid,size,mtime,ctime,sha,atime)"
                  " VALUES(?,?,?,?,2,?,0,0,?,?,?,?,?)", rows)
    d += 1
emb = c.execute("INSERT INTO embeddings(dataset,name,dim,rows,created) VALUES(?,?,?,?,?)",
                (ds, "e32", dim, n, now)).lastrowid
paths = [p for (p,) in c.execute("SELECT path FROM nodes WHERE tree=? AND kind=2 ORDER BY path", (tree,))]
c.executemany("INSERT INTO vectors(emb,path,label,vec) VALUES(?,?,?,?)",
              ((emb, p, k % 10, vecs[k % 4096]) for k, p in enumerate(paths)))
run = c.execute("INSERT INTO runs(dataset,request,strategy,n,from_tag,emb,seed,status,done,total,"
                "created,started,finished,seq,candidates) VALUES(?,?,?,?,?,?,0,2,?,?,?,?,?,1,?)",
                (ds, "coreset n=%d" % (n // 10), "coreset", n // 10, tree, emb, n, n, now, now, now, n)).lastrowid
order = list(range(n))
rnd.shuffle(order)
c.executemany("INSERT INTO scores(run,rank,path,score) VALUES(?,?,?,?)",
              ((run, r, paths[k], 1.0 - r / n) for r, k in enumerate(order)))
c.execute("COMMIT")
EOF
	EMB=$(sqlite3 "$store/catalog.db" "SELECT max(id) FROM embeddings")
	TREE=$(sqlite3 "$store/catalog.db" "SELECT id FROM tags WHERE dataset=$DS AND live=1")
	DIR0=$(sqlite3 "$store/catalog.db" "SELECT ino FROM nodes WHERE tree=$TREE AND path='d0000'")
	echo "# $N samples written into the catalog in $(since "$T0") ($(du -sh "$store" | cut -f1))"
	serve "$store"
	flip=0
	declare -A R=()
	for ((r = 0; r < REPS; r++)); do
		change
		t tc "/v1/datasets/$DS/table"
		t tw "/v1/datasets/$DS/table"
		B_table=$(stat -c %s "$work/body")
		E=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gen"])' "$work/body")
		t t304 "/v1/datasets/$DS/table" -H "If-None-Match: \"$E\""
		t mem "/v1/datasets/$DS/members"
		B_mem=$(stat -c %s "$work/body")
		t memt "/v1/datasets/$DS/members?tag=$TREE"
		t sc "/v1/datasets/$DS/scores"
		B_sc=$(stat -c %s "$work/body")
		t lc "/v1/datasets/$DS/layout?embedding=$EMB"
		B_lay=$(stat -c %s "$work/body")
		t lw "/v1/datasets/$DS/layout?embedding=$EMB"
		# peers
		T1=$(now)
		sqlite3 "$store/catalog.db" "SELECT path, size, ino FROM nodes WHERE tree=$TREE AND kind=2 AND sha IS NOT NULL ORDER BY path" >/dev/null
		R[psql]+="$(awk -v a="$T1" -v b="$(now)" 'BEGIN { printf "%.6f", b - a }') "
		t pcsv "/v1/datasets/$DS/scores.csv"
		if ((N <= 200000)); then
			t psvg "/v1/datasets/$DS/plot.svg"
		fi
	done
	m() { tr ' ' '\n' <<<"${R[$1]}" | grep . | median; }
	ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
	row() { printf '%-12s %-14s %10s %12s   %s\n' "$N" "$1" "$2" "$3" "$4"; }
	psql=$(m psql) pcsv=$(m pcsv)
	row "table cold" "$(m tc)" "$B_table" "sqlite3 shell, same rows: $psql s, ratio $(ratio "$(m tc)" "$psql")"
	row "table warm" "$(m tw)" "$B_table" ""
	row "table 304" "$(m t304)" 0 ""
	row "members" "$(m mem)" "$B_mem" ""
	row "members tag" "$(m memt)" "$B_mem" ""
	row "scores" "$(m sc)" "$B_sc" "scores.csv: $pcsv s, ratio $(ratio "$(m sc)" "$pcsv")"
	if ((N <= 200000)); then
		psvg=$(m psvg)
		row "layout cold" "$(m lc)" "$B_lay" "plot.svg: $psvg s, ratio $(ratio "$(m lc)" "$psvg")"
	else
		row "layout cold" "$(m lc)" "$B_lay" ""
	fi
	row "layout warm" "$(m lw)" "$B_lay" ""
	echo "# server RSS after: $(ps -o rss= -p "$SPID" | awk '{ printf "%.0f MiB", $1 / 1024 }')"
	unserve
	unset R
	rm -rf "$store"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
