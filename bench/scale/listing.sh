#!/usr/bin/env bash
# bench/scale/listing.sh — folder listings per second against one and two
# `sievefs serve` on one PostgreSQL catalog, and the catalog queries one
# listing costs (issue 19, bench/scale; target: ≤ 3 queries per listing).
#
# Starts a deployment (tests/scale/deploy.sh: PostgreSQL 15, two servers,
# HAProxy), makes alice a dataset whose live root holds NDIRS folders (200),
# then, with wrk (-t2 -cCONNS, DUR seconds each; defaults 16 and 10) on
# GET /v1/nodes/ROOT/children (a page of 200 entries, JSON, no ETag
# revalidation: every request is answered in full):
#   1. server 1 directly (one server, no balancer)
#   2. HAProxy in front of both servers
#   3. HAProxy with server 2 killed (one server behind the balancer)
# and, with pg_stat_statements loaded (ALTER SYSTEM + a PostgreSQL restart
# the servers ride through), the statements PostgreSQL ran for N (200)
# listings made with curl, one connection each: calls per listing, and the
# statements by calls. Prints /proc/loadavg before each run: the machine is
# shared, so compare figures of one run, never across runs.
#
#   bench/scale/listing.sh            (SIEVEFS=build-dev/sievefs by default)
#   NDIRS=500 CONNS=32 DUR=20 bench/scale/listing.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
SIEVEFS=${SIEVEFS:-$repo/build-dev/sievefs}
NDIRS=${NDIRS:-200}
CONNS=${CONNS:-16}
DUR=${DUR:-10}
N=${N:-200}
DEPLOY=$repo/tests/scale/deploy.sh
command -v wrk >/dev/null || { echo "listing.sh: no wrk (.ci/deps)" >&2; exit 1; }

W=$(mktemp -d /tmp/sievefs-bench-listing.XXXXXX)
[[ $(id -u) != 0 ]] || chmod 0711 "$W"
mkdir "$W/d"
cleanup() { SIEVEFS=$SIEVEFS "$DEPLOY" stop "$W/d" >/dev/null 2>&1 || true; rm -rf -- "$W"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

URL=$(SIEVEFS=$SIEVEFS "$DEPLOY" start "$W/d")
# shellcheck disable=SC1091
. "$W/d/deploy.env"
TOK=$(umask 077; "$SIEVEFS" token create --store "$DEPLOY_STORE_1" \
	--catalog "$DEPLOY_CATALOG" alice 2>/dev/null)
H="Authorization: Bearer $TOK"
ROOT=$(curl -sf -H "$H" -H 'Content-Type: application/json' \
	-d '{"name":"bench"}' "$URL/v1/datasets" |
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["live_root"])')
for ((i = 0; i < NDIRS; i++)); do
	printf '{"name":"d%05d","kind":1}' "$i" |
		curl -sf -o /dev/null -H "$H" -H 'Content-Type: application/json' \
			--data-binary @- "$URL/v1/nodes/$ROOT/children"
done
PATHQ="/v1/nodes/$ROOT/children?limit=$NDIRS"
n=$(curl -sf -H "$H" "$URL$PATHQ" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["children"]))')
echo "# dataset bench: $n folders in its live root; GET $PATHQ"

bench() {   # NAME BASE-URL
	echo "## $1: wrk -t2 -c$CONNS -d${DUR}s $2$PATHQ"
	echo "# loadavg: $(cat /proc/loadavg)"
	wrk -t2 -c"$CONNS" -d"${DUR}s" -H "$H" "$2$PATHQ" | sed 's/^/   /'
}
bench "one server, direct" "http://127.0.0.1:$DEPLOY_PORT_1"
bench "two servers behind HAProxy" "$URL"
"$DEPLOY" kill-server "$W/d" 2 >/dev/null
sleep 1.5                                  # HAProxy's checks take it out
bench "one server behind HAProxy (server 2 killed)" "$URL"
SIEVEFS=$SIEVEFS "$DEPLOY" start-server "$W/d" 2 >/dev/null

# ---- catalog statements per listing (pg_stat_statements)
psql -qX -d "$DEPLOY_CATALOG" -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
# shellcheck disable=SC1091
. "$repo/tests/scale/pg.sh"
pg_halt "$DEPLOY_PGDIR" >/dev/null
pg_resume "$DEPLOY_PGDIR" >/dev/null
psql -qX -d "$DEPLOY_CATALOG" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
# the servers reconnect on their next statement: warm both up first
for ((i = 0; i < 20; i++)); do curl -s -o /dev/null -H "$H" "$URL$PATHQ"; done
psql -qX -d "$DEPLOY_CATALOG" -c "SELECT pg_stat_statements_reset()" >/dev/null
for ((i = 0; i < N; i++)); do
	curl -sf -o /dev/null -H "$H" "$URL$PATHQ"
done
echo "## catalog statements for $N listings through HAProxy (pg_stat_statements)"
psql -qX -d "$DEPLOY_CATALOG" -c "
  SELECT sum(calls) AS calls, round(sum(calls)::numeric / $N, 2) AS per_listing
  FROM pg_stat_statements
  WHERE query NOT ILIKE '%pg_stat_statements%'"
psql -qX -d "$DEPLOY_CATALOG" -c "
  SELECT calls, round(total_exec_time::numeric, 1) AS ms,
         left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query
  FROM pg_stat_statements
  WHERE query NOT ILIKE '%pg_stat_statements%'
  ORDER BY calls DESC LIMIT 12"
