# shellcheck shell=bash
# server_lib.sh — a real `sievefs serve` for the remote-mode tests; source it
# after lib.sh. The server runs in the background by PID (registered in
# SV_BG, so lib.sh's trap stops it on any exit).
#
#   free_port                  a free TCP port on 127.0.0.1
#   start_server PORT [STORE [ARGS...]]  serve STORE (default $T/store)
#                              on PORT with `sievefs serve` ARGS; wait
#                              ≤ 10 s until it answers; sets SERVER_PID
#   kill_server                SIGKILL the server, reap it
#   remote_mount STORE MNT [OPTS...]  serve STORE on a free port, give user
#                              alice a token ($T/alice.tok) and mount her
#                              datasets at MNT (cache MNT.cache); OPTS go to
#                              sv_mount; fails the test (returns 1) if any
#                              step fails
#   new_token USER FILE        a token for USER into FILE (mode 600); prints
#                              the token's id
#   serve_alice                serve $T/store on a free port ($port, its URL
#                              in $U) with a token for alice in $T/alice.tok;
#                              dies on failure
#   both_modes FN              FN MNT KIND REMOUNT-FN on a local mount, then
#                              on a remote one (-o meta_ttl=1), each unmounted
#                              after; REMOUNT-FN remounts MNT the same way
#   serve_port LOG STORE [ARGS...]  `sievefs serve STORE --listen
#                              127.0.0.1:0 ARGS` (the kernel picks the port),
#                              output in LOG; waits ≤ 10 s for its "listening
#                              on" line; sets SPID, PORT and
#                              U=http://127.0.0.1:PORT; dies if none comes
#   api TOKEN METHOD PATH [CURL-ARGS...]  one request to $U (TOKEN "" sends
#                              none; the path as is): status in $code, body
#                              in $T/body, headers in $T/hdr
#   expect_code CODE DESC      $code is CODE, else a failure showing the body
#   jget EXPR                  python's d+EXPR of the JSON in $T/body
#
# SV_CATALOG=pg runs the same tests with the catalog in PostgreSQL: at
# source time one throwaway PostgreSQL 15 starts (tests/scale/pg.sh, in its
# own /tmp dir that the server's user can reach; stopped and removed in the
# EXIT trap, before lib.sh's cleanup), and $SIEVEFS becomes a wrapper
# ($T/sievefs-pg) that adds `--catalog postgresql://…/DB` to every
# `sievefs serve STORE` and `sievefs token … --store STORE` not giving a
# catalog itself (--catalog, --catalog-file or --config): one SQL_ASCII
# database per STORE directory (sv_ + 16 hex of the md5 of its absolute
# path, made on first use), so a test's several stores stay apart and a
# restarted server finds its catalog again. Mounts and every other
# command go to the real binary unchanged (exec: the PID a test holds is
# the real process's). A STORE a test mounts locally
# (`sievefs STORE MNT`, whose catalog is STORE/catalog.db) before any serve
# or token command used it is remembered and keeps that catalog for the
# serve and token commands after the mount (a mount's web door: -o web=). Sets SV_PGDIR (pg.sh's DIR) and SV_PGBASE
# (the URI without a database: the superuser, trusted). A test under
# SV_CATALOG=pg in which no serve or token command reached PostgreSQL
# fails at exit (it would prove nothing about it). A test reads a
# catalog with these, on either engine:
#   sv_catalog_sql STORE SQL   the rows of SQL ("|" between columns) from
#                              STORE's catalog (portable SQL: store/sql.h)
#   sv_catalog_dump STORE FILE the catalog as SQL text (schema and rows;
#                              PostgreSQL's table names without "public.")
#   sv_catalog_pg STORE        0 (true) when STORE's catalog is in PostgreSQL
#
# SV_BLOBS=s3 runs them with `sievefs serve`'s blobs in S3 (a Ceph RGW:
# SV_RGW_DIR's, else one started for the script): the wrapper $T/sievefs-s3
# adds --blobs s3://BUCKET/sv-KEY/?… to every serve not giving --blobs
# (KEY: 16 hex of the md5 of STORE's absolute path); combines with
# SV_CATALOG=pg. A test reads where a blob is with:
#   sv_blob_stored STORE SHA   0 (true) when blob SHA is stored (STORE/blobs,
#                              or its object: a signed HEAD)
#   sv_blobs_prefix STORE      the S3 prefix of STORE's blobs ("" local)

SERVER_PID=
SERVER_LOG=$T/server.log

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_server() {
	"$SIEVEFS" serve "${2:-$T/store}" --listen "127.0.0.1:$1" "${@:3}" >>"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	SV_BG+=("$SERVER_PID")
	local deadline=$((SECONDS + 10)) code
	while ((SECONDS < deadline)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/v1/whoami")
		[[ $code == 401 ]] && return 0
		sv_alive "$SERVER_PID" || break
		sleep 0.1
	done
	sv_show "$SERVER_LOG"
	return 1
}

kill_server() {
	kill -9 "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	note "killed the server (pid $SERVER_PID) with SIGKILL"
}

new_token() {
	local err=$T/token.err
	(umask 077 && "$SIEVEFS" token create --store "${STORE:-$T/store}" "$1" >"$2" 2>"$err") ||
		{ sv_show "$err"; return 1; }
	sed -n 's/.*token \([0-9][0-9]*\) for user.*/\1/p' "$err"
}

remote_mount() {
	local store=$1 mnt=$2 port
	shift 2
	port=$(free_port) || { fail "no free port"; return 1; }
	mkdir -p "$store"
	STORE=$store new_token alice "$T/alice.tok" >/dev/null ||
		{ fail "token create failed"; return 1; }
	start_server "$port" "$store" ||
		{ fail "sievefs serve did not come up"; return 1; }
	sv_mount "http://127.0.0.1:$port" "$mnt" -o "token_file=$T/alice.tok" \
		-o "cache_dir=$mnt.cache" "$@" || { fail "remote mount failed"; return 1; }
}

serve_alice() {
	mkdir -p "$T/store"
	new_token alice "$T/alice.tok" >/dev/null || die "token create failed"
	port=$(free_port) || die "no free port"
	start_server "$port" || die "sievefs serve did not come up"
	U=http://127.0.0.1:$port
}

both_modes() {
	local fn=$1
	L=$T/local
	sv_mount "$T/lstore" "$L" || die "local mount failed"
	remount_local() { sv_umount "$L"; sv_mount "$T/lstore" "$L" || die "local remount failed"; }
	"$fn" "$L" local remount_local
	sv_umount "$L"

	R=$T/remote
	remote_mount "$T/rstore" "$R" -o meta_ttl=1 || die "remote mount failed"
	port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$SERVER_LOG" | tail -1)
	remount_remote() {
		sv_umount "$R"
		sv_mount "http://127.0.0.1:$port" "$R" -o "token_file=$T/alice.tok" \
			-o "cache_dir=$R.cache" -o meta_ttl=1 || die "remote remount failed"
	}
	"$fn" "$R" remote remount_remote
	sv_umount "$R"
	kill "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null
}

serve_port() {
	local log=$1 store=$2
	shift 2
	"$SIEVEFS" serve "$store" --listen 127.0.0.1:0 "$@" </dev/null >"$log" 2>&1 &
	SPID=$!
	SV_BG+=("$SPID")
	PORT=
	local deadline=$((SECONDS + 10))
	while ((SECONDS < deadline)); do
		PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$log")
		[[ -n $PORT ]] && break
		sv_alive "$SPID" || break
		sleep 0.1
	done
	[[ -n $PORT ]] || { sv_show "$log"; die "sievefs serve did not start: $*"; }
	U=http://127.0.0.1:$PORT
}

api() {
	local tok=$1 method=$2 path=$3
	shift 3
	local auth=()
	[[ -n $tok ]] && auth=(-H "Authorization: Bearer $tok")
	code=$(curl -s --path-as-is -o "$T/body" -D "$T/hdr" -w '%{http_code}' \
		-X "$method" "${auth[@]}" "$@" "$U$path")
}

expect_code() {
	if [[ $code == "$1" ]]; then
		pass "$2 ($1)"
	else
		fail "$2: expected HTTP $1, got $code"
		sv_show "$T/body"
	fi
}

jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d"+sys.argv[2]))' "$T/body" "$1"; }

# ---- SV_CATALOG=pg (header) ----

# At exit: how many catalogs the test used in PostgreSQL. None is a
# failure: the test ran, but proved nothing about PostgreSQL.
sv_pg_used() {
	local n
	n=$(sort -u "$T/sievefs-pg.used" 2>/dev/null | grep -c .)
	if ((n > 0)); then
		note "SV_CATALOG=pg: $n store(s) had their catalog in PostgreSQL"
	else
		fail "SV_CATALOG=pg: no sievefs serve or token command ran on a PostgreSQL catalog"
	fi
}

sv_pg_setup() {
	sv_need psql md5sum realpath
	SV_PGDIR=$(mktemp -d /tmp/sievefs-pgcat.XXXXXX) || die "mktemp for PostgreSQL failed"
	# shellcheck source=../scale/pg.sh
	. "$SV_REPO/tests/scale/pg.sh"
	local uri
	if ! uri=$(pg_start "$SV_PGDIR" 2>"$T/pg.err"); then
		sv_show "$T/pg.err"
		pg_stop "$SV_PGDIR"
		rm -rf -- "$SV_PGDIR"
		die "PostgreSQL 15 did not start (tests/scale/pg.sh)"
	fi
	# lib.sh's cleanup reads $? first and exits: PostgreSQL stops before
	# it, keeping the status it reports. sv_cleanup itself is wrapped, not
	# the trap: a test that sets its own EXIT trap ends it with sv_cleanup
	# (t_perms, t_fulldisk), and would otherwise leave the server running.
	eval "sv_cleanup_sqlite() $(declare -f sv_cleanup | tail -n +2)"
	sv_cleanup() {
		local sv_pg_rc=$?
		sv_pg_used
		pg_stop "$SV_PGDIR"
		rm -rf -- "$SV_PGDIR"
		(exit "$sv_pg_rc")
		sv_cleanup_sqlite
	}
	SV_PGBASE=${uri%/*}     # postgresql://postgres@127.0.0.1:PORT (trust)
	note "catalogs in PostgreSQL $SV_PGBASE (SV_CATALOG=pg)"
	cat >"$T/sievefs-pg" <<EOF
#!/bin/bash
# \$SIEVEFS with SV_CATALOG=pg (tests/integration/server_lib.sh)
real='$SIEVEFS' base='${uri%/*}'
EOF
	cat >>"$T/sievefs-pg" <<'EOF'
store= has=0 skip=0 prev=
local_list=${0%/*}/sievefs-pg.local used=${0%/*}/sievefs-pg.used
key() { realpath -m -- "$1"; }
case ${1:-} in
help | sample | -*) ;;
serve)
	for a in "${@:2}"; do
		if ((skip)); then skip=0; continue; fi
		case $a in
		--catalog | --catalog-file | --config) has=1 skip=1 ;;
		--listen | --tls-cert | --tls-key | --orphan-grace | --upload-cap | \
		--user-rate | --conns-per-addr | --max-conns | --web-root | \
		--session-ttl | --blobs) skip=1 ;;
		-*) ;;
		*) [[ -z $store ]] && store=$a ;;
		esac
	done ;;
token)
	for a in "${@:2}"; do
		[[ $prev == --store ]] && store=$a
		[[ $a == --catalog || $a == --catalog-file || $a == --config ]] && has=1
		prev=$a
	done ;;
*)	# a mount: a STORE a mount used first keeps its SQLite catalog, also
	# for later serve and token commands on it (one serve or token used
	# first stays in PostgreSQL: a refused mount beside a server)
	if [[ $# -ge 2 && ${1:-} != *://* ]] &&
		! grep -qxF "sv_$(key "$1" | md5sum | cut -c1-16)" "$used" 2>/dev/null; then
		key "$1" >>"$local_list"
	fi ;;
esac
[[ $has == 1 ]] && echo "given" >>"$used"   # the test chose the catalog
if [[ -z $store || $has == 1 || $store == *://* ]] ||
	grep -qxF -- "$(key "$store")" "$local_list" 2>/dev/null; then
	exec "$real" "$@"
fi
db=sv_$(key "$store" | md5sum | cut -c1-16)
echo "$db" >>"$used"
have() { [[ $(psql -qtAX -d "$base/postgres" -c "SELECT 1 FROM pg_database WHERE datname='$db'") == 1 ]]; }
if ! have; then
	psql -qX -d "$base/postgres" -c "CREATE DATABASE $db TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null 2>&1 ||
		have || { echo "sievefs-pg: cannot create database $db" >&2; exit 1; }
fi
exec "$real" "$@" --catalog "$base/$db"
EOF
	chmod 755 "$T/sievefs-pg"
	SIEVEFS=$T/sievefs-pg
}

if [[ ${SV_CATALOG:-} == pg ]]; then
	sv_pg_setup
elif [[ -n ${SV_CATALOG:-} ]]; then
	die "SV_CATALOG=${SV_CATALOG}: want pg (or unset: SQLite)"
fi

# ---- SV_BLOBS=s3 ----
# The server tests again with `sievefs serve`'s blobs in S3 (a Ceph RGW):
# every serve gets --blobs s3://BUCKET/sv-<store's key>/?endpoint=…&region=…
# unless the test gave --blobs itself; mounts and token commands are left
# as they are. The RGW: the one whose s3.env SV_RGW_DIR names (`make
# test-serve-s3` starts one for all scripts), else one started here for
# this script (~16 s) and stopped at exit. The keys reach the server in
# its environment (AWS_*), never on argv. Combines with SV_CATALOG=pg.
sv_s3_used() {
	local n
	n=$(sort -u "$T/sievefs-s3.used" 2>/dev/null | grep -c .)
	if ((n > 0)); then
		note "SV_BLOBS=s3: $n store(s) had their blobs in S3"
	else
		fail "SV_BLOBS=s3: no sievefs serve ran with its blobs in S3"
	fi
}

sv_s3_setup() {
	sv_need curl md5sum realpath
	if [[ -z ${SV_RGW_DIR:-} ]]; then
		SV_RGW_OWN=$(mktemp -d /tmp/sievefs-rgw.XXXXXX) || die "mktemp for RGW failed"
		if ! bash "$SV_REPO/tests/scale/rgw.sh" start "$SV_RGW_OWN" >/dev/null 2>"$T/rgw.err"; then
			sv_show "$T/rgw.err"
			bash "$SV_REPO/tests/scale/rgw.sh" stop "$SV_RGW_OWN" >/dev/null 2>&1
			die "Ceph RGW did not start (tests/scale/rgw.sh)"
		fi
		SV_RGW_DIR=$SV_RGW_OWN
	fi
	[[ -r $SV_RGW_DIR/s3.env ]] || die "SV_RGW_DIR=$SV_RGW_DIR has no s3.env"
	set -a
	# shellcheck disable=SC1091
	. "$SV_RGW_DIR/s3.env"
	set +a
	eval "sv_cleanup_s3_next() $(declare -f sv_cleanup | tail -n +2)"
	sv_cleanup() {
		local sv_s3_rc=$?
		sv_s3_used
		if [[ -n ${SV_RGW_OWN:-} ]]; then
			bash "$SV_REPO/tests/scale/rgw.sh" stop "$SV_RGW_OWN" >/dev/null 2>&1
		fi
		(exit "$sv_s3_rc")
		sv_cleanup_s3_next
	}
	note "blobs in S3 $S3_ENDPOINT bucket $S3_BUCKET (SV_BLOBS=s3)"
	cat >"$T/sievefs-s3" <<EOF
#!/bin/bash
# \$SIEVEFS with SV_BLOBS=s3 (tests/integration/server_lib.sh)
real='$SIEVEFS' bucket='$S3_BUCKET' q='?endpoint=$S3_ENDPOINT&region=$S3_REGION'
EOF
	cat >>"$T/sievefs-s3" <<'EOF'
store= has=0 skip=0
used=${0%/*}/sievefs-s3.used
if [[ ${1:-} == serve ]]; then
	for a in "${@:2}"; do
		if ((skip)); then skip=0; continue; fi
		case $a in
		--blobs) has=1 skip=1 ;;
		--listen | --tls-cert | --tls-key | --orphan-grace | --upload-cap | \
		--user-rate | --conns-per-addr | --max-conns | --web-root | \
		--session-ttl | --catalog | --catalog-file | --config) skip=1 ;;
		-*) ;;
		*) [[ -z $store ]] && store=$a ;;
		esac
	done
fi
if [[ ${1:-} != serve || -z $store || $has == 1 || $store == *://* ]]; then
	exec "$real" "$@"
fi
key=$(realpath -m -- "$store" | md5sum | cut -c1-16)
echo "$key" >>"$used"
exec "$real" "$@" --blobs "s3://$bucket/sv-$key/$q"
EOF
	chmod 755 "$T/sievefs-s3"
	SIEVEFS=$T/sievefs-s3
}

if [[ ${SV_BLOBS:-} == s3 ]]; then
	sv_s3_setup
elif [[ -n ${SV_BLOBS:-} ]]; then
	die "SV_BLOBS=${SV_BLOBS}: want s3 (or unset: STORE/blobs)"
fi

# STORE's blob prefix under SV_BLOBS=s3 (the wrapper's: sv-KEY/), or ""
# when its blobs are in STORE/blobs.
sv_blobs_prefix() {
	[[ ${SV_BLOBS:-} == s3 ]] || return 0
	echo "sv-$(realpath -m -- "$1" | md5sum | cut -c1-16)/"
}

# sv_blob_stored STORE SHA: true when the blob SHA of STORE's server is
# stored: STORE/blobs/ab/SHA, or under SV_BLOBS=s3 its object (a signed
# HEAD; the key pair goes to curl on stdin, never on argv).
sv_blob_stored() {
	if [[ ${SV_BLOBS:-} != s3 ]]; then
		[[ -f $1/blobs/${2:0:2}/$2 ]]
		return
	fi
	local code
	code=$(printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" |
		curl -s -K - -I -o /dev/null -w '%{http_code}' \
			--aws-sigv4 "aws:amz:$S3_REGION:s3" \
			-H "x-amz-content-sha256: $(sha256sum </dev/null | cut -c1-64)" \
			"$S3_ENDPOINT/$S3_BUCKET/$(sv_blobs_prefix "$1")blobs/${2:0:2}/$2")
	[[ $code == 200 ]]
}

# STORE's database name under SV_CATALOG=pg (the wrapper's), or "" when its
# catalog is STORE/catalog.db.
sv_catalog_db() {
	[[ ${SV_CATALOG:-} == pg ]] || return 0
	grep -qxF -- "$(realpath -m -- "$1")" "$T/sievefs-pg.local" 2>/dev/null && return 0
	echo "sv_$(realpath -m -- "$1" | md5sum | cut -c1-16)"
}

sv_catalog_pg() { [[ -n $(sv_catalog_db "$1") ]]; }

sv_catalog_sql() {
	local db
	db=$(sv_catalog_db "$1")
	if [[ -n $db ]]; then
		psql -qtAX -F '|' -v ON_ERROR_STOP=1 -d "$SV_PGBASE/$db" <<<"$2"
	else
		sqlite3 "$1/catalog.db" "$2"
	fi
}

sv_catalog_dump() {
	local db
	db=$(sv_catalog_db "$1")
	if [[ -n $db ]]; then
		pg_dump --no-owner -d "$SV_PGBASE/$db" | sed 's/^CREATE TABLE public\./CREATE TABLE /' >"$2"
		return "${PIPESTATUS[0]}"
	fi
	sqlite3 "$1/catalog.db" .dump >"$2"
}

# SV_DEPLOY=1 (with SV_CATALOG=pg; part "deploy" of issue 19): every
# start_server is two servers on one catalog behind HAProxy
# (tests/integration/deploy_lib.sh; make test-deploy).
if [[ ${SV_DEPLOY:-} == 1 ]]; then
	[[ ${SV_CATALOG:-} == pg ]] || die "SV_DEPLOY=1 needs SV_CATALOG=pg"
	# shellcheck source=deploy_lib.sh
	. "$(dirname "${BASH_SOURCE[0]}")/deploy_lib.sh"
fi

# shared_pg_catalog NAME — a PostgreSQL 15 of the test's own (tests/scale/
# pg.sh, in a temp dir /tmp/sievefs-NAME.XXXXXX) with a database "shared"
# for servers that share one catalog: its URI in CAT; stop_pg stops the
# server and removes the dir (call it before die once this returned).
shared_pg_catalog() {
	local base
	PGD=$(mktemp -d "/tmp/sievefs-$1.XXXXXX") || die "mktemp failed"
	# shellcheck source=../scale/pg.sh
	. "$SV_REPO/tests/scale/pg.sh"
	base=$(PG_OWNER_PID=$$ pg_start "$PGD" 2>"$T/pg.err") || {
		sv_show "$T/pg.err"; pg_stop "$PGD"; rm -rf -- "$PGD"
		die "PostgreSQL 15 did not start (tests/scale/pg.sh)"
	}
	stop_pg() { pg_stop "$PGD" 2>/dev/null; rm -rf -- "$PGD"; }
	psql -qX -d "$base" -c "CREATE DATABASE shared TEMPLATE template0
		ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null 2>"$T/pg.err" ||
		{ sv_show "$T/pg.err"; stop_pg; die "CREATE DATABASE failed"; }
	CAT=${base%/*}/shared
}
