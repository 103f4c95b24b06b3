#!/usr/bin/env bash
# tests/scale/deploy.sh — a team deployment on loopback, for tests and
# benchmarks (issue 19): PostgreSQL 15 (tests/scale/pg.sh), optionally a
# single-node Ceph RGW (tests/scale/rgw.sh), N `sievefs serve` processes
# (default 2) on the same catalog and the same blobs, and HAProxy in front
# of them (round robin, health checks), every piece on 127.0.0.1, every
# file in one directory.
#
#   deploy.sh start DIR    DIR must exist and be empty; starts everything,
#                          writes DIR/deploy.env (below) and prints the
#                          balancer's URL
#   deploy.sh stop DIR     stops exactly what start started (by the PIDs
#                          it wrote), then removes DIR's contents
#   deploy.sh run CMD...   start in a new temp dir, run CMD with
#                          deploy.env's variables exported, stop in a
#                          trap (also on a signal); CMD's status
#   deploy.sh kill-server DIR I     kill -9 of server I (1-based)
#   deploy.sh start-server DIR I    start server I again (same port, dir)
#   deploy.sh haproxy-cfg [--stats SPORT] FPORT PORT...   prints the
#                          HAProxy config of the settings below (FPORT in
#                          front of servers on PORT...): deploy_lib.sh and
#                          tests/web/harness.mjs write theirs with it
#
# deploy.env (shell-sourceable, mode 0600): DEPLOY_URL (HAProxy),
# DEPLOY_CATALOG (the libpq URI: trust auth on loopback, no password),
# DEPLOY_BLOBS (local or s3), DEPLOY_N, DEPLOY_PORT_i / DEPLOY_PID_i /
# DEPLOY_STORE_i / DEPLOY_LOG_i per server, DEPLOY_HAPROXY_PID,
# DEPLOY_PGDIR, DEPLOY_RGWDIR (s3 only); with DEPLOY_BLOBS=s3 the RGW's
# s3.env is sourced too (AWS_* in the environment: never on argv).
#
# Blobs. DEPLOY_BLOBS=s3 starts RGW and gives every server
# `--blobs $S3_TARGET` (the store's S3 engine: part "s3store" of issue 19;
# a build whose serve refuses it fails the start with serve's message).
# DEPLOY_BLOBS=local (the default) shares one blob directory between the
# servers instead, as a network filesystem would: server 1's STORE/blobs
# and STORE/thumbs, which server i>1's STORE links to (same filesystem,
# so a staged upload's rename into the blobs stays atomic). Each server
# has a STORE directory of its own (its owner lock, staging, reserve).
#
# HAProxy (Debian's haproxy 2.6): the config is written into DIR; round
# robin; a health check every 0.5 s (GET /v1/whoami answers 401 from a
# live server), a server is out after 2 failed checks and back after 1;
# `retries 2` + `option redispatch` move a request whose connection could
# not be made to the other server (nothing reached the dead one); a
# request a server died in the middle of is answered 502 by HAProxy, and
# the client's retry of it is safe because it carries an Idempotency-Key
# (api/server_idem.c). Timeouts: connect 2 s, client/server 300 s (long
# uploads and sampling waits), keep-alive 60 s.
#
# Environment: SIEVEFS (default ./build-dev/sievefs, else ./sievefs),
# DEPLOY_N (2), DEPLOY_BLOBS (local), DEPLOY_SERVE_ARGS (more serve
# arguments, split on spaces).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

die() { echo "deploy.sh: $*" >&2; exit 1; }

free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

sievefs_bin() {
	local b=${SIEVEFS:-}
	[[ -z $b && -x $repo/build-dev/sievefs ]] && b=$repo/build-dev/sievefs
	[[ -z $b && -x $repo/sievefs ]] && b=$repo/sievefs
	[[ -n $b && -x $b ]] || die "no sievefs binary (set SIEVEFS or make)"
	echo "$b"
}

# env_set FILE NAME VALUE: NAME=VALUE (quoted) in FILE, replacing it
env_set() {
	local f=$1 n=$2 v=$3
	(
		umask 077
		touch "$f"
		grep -v "^$n=" "$f" >"$f.new" || true
		printf '%s=%q\n' "$n" "$v" >>"$f.new"
		mv "$f.new" "$f"
	)
}

# waits ≤ 20 s until http://127.0.0.1:PORT/v1/whoami answers 401
wait_http() {
	local port=$1 pid=${2:-} deadline=$((SECONDS + 20)) code
	while ((SECONDS < deadline)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' \
			"http://127.0.0.1:$port/v1/whoami" || true)
		[[ $code == 401 ]] && return 0
		[[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null && return 1
		sleep 0.1
	done
	return 1
}

# start_server DIR I: server I (its port chosen at start, kept after)
start_server() {
	local d=$1 i=$2 port store log pid bin extra=()
	# shellcheck disable=SC1091
	. "$d/deploy.env"
	bin=$(sievefs_bin)
	port=$(eval echo "\${DEPLOY_PORT_$i:-}")
	[[ -n $port ]] || port=$(free_port)
	store=$d/srv$i
	log=$d/serve$i.log
	mkdir -p -m 0700 "$store"
	if [[ $DEPLOY_BLOBS == local && $i != 1 ]]; then
		for sub in blobs thumbs; do
			mkdir -p "$d/srv1/$sub"
			[[ -e $store/$sub ]] || ln -s "$d/srv1/$sub" "$store/$sub"
		done
	fi
	if [[ $DEPLOY_BLOBS == s3 ]]; then
		# shellcheck disable=SC1091
		. "$DEPLOY_RGWDIR/s3.env"
		export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
		extra=(--blobs "$S3_TARGET")
	fi
	# shellcheck disable=SC2206
	[[ -n ${DEPLOY_SERVE_ARGS:-} ]] && extra+=($DEPLOY_SERVE_ARGS)
	"$bin" serve "$store" --catalog "$DEPLOY_CATALOG" \
		--listen "127.0.0.1:$port" "${extra[@]}" </dev/null >>"$log" 2>&1 &
	pid=$!
	env_set "$d/deploy.env" "DEPLOY_PORT_$i" "$port"
	env_set "$d/deploy.env" "DEPLOY_PID_$i" "$pid"
	env_set "$d/deploy.env" "DEPLOY_STORE_$i" "$store"
	env_set "$d/deploy.env" "DEPLOY_LOG_$i" "$log"
	wait_http "$port" "$pid" || { tail -20 "$log" >&2; die "server $i did not come up (log $log)"; }
}

kill_server() {
	local d=$1 i=$2 pid
	# shellcheck disable=SC1091
	. "$d/deploy.env"
	pid=$(eval echo "\${DEPLOY_PID_$i:-}")
	[[ -n $pid ]] || return 0
	kill -9 "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	env_set "$d/deploy.env" "DEPLOY_PID_$i" ""
}

# haproxy_cfg [--stats SPORT] FPORT PORT...: the HAProxy config (the
# settings above) of a frontend on 127.0.0.1:FPORT in front of servers on
# 127.0.0.1:PORT..., with --stats a stats page on SPORT (/stats). The one
# place it is written: deploy_lib.sh (make test-deploy) and
# tests/web/harness.mjs (make test-deploy-web) print it with
# `deploy.sh haproxy-cfg`.
haproxy_cfg() {
	local sport= fport i=0 p
	if [[ ${1:-} == --stats ]]; then
		sport=$2
		shift 2
	fi
	fport=$1
	shift
	cat <<EOF
# written by tests/scale/deploy.sh: HAProxy in front of $# sievefs servers
global
	maxconn 4000
defaults
	mode http
	timeout connect 2s
	timeout client 300s
	timeout server 300s
	timeout http-keep-alive 60s
	timeout check 2s
	retries 2
	option redispatch
	log stdout format raw local0 err
frontend sievefs
	bind 127.0.0.1:$fport
	default_backend servers
backend servers
	balance roundrobin
	option httpchk GET /v1/whoami
	http-check expect status 401
	default-server inter 500ms fall 2 rise 1
EOF
	for p in "$@"; do
		i=$((i + 1))
		printf '\tserver s%d 127.0.0.1:%s check\n' "$i" "$p"
	done
	[[ -z $sport ]] ||
		printf 'frontend stats\n\tbind 127.0.0.1:%s\n\tstats enable\n\tstats uri /stats\n' "$sport"
}

start() {
	local d=$1 n=${DEPLOY_N:-2} blobs=${DEPLOY_BLOBS:-local} uri fport ports
	[[ -d $d ]] || die "start: no directory $d"
	[[ -z $(ls -A "$d") ]] || die "start: $d is not empty"
	d=$(cd "$d" && pwd)
	command -v haproxy >/dev/null || die "no haproxy (apt-get install haproxy; .ci/deps)"
	[[ $blobs == local || $blobs == s3 ]] || die "DEPLOY_BLOBS=$blobs: local or s3"
	(umask 077 && : >"$d/deploy.env")
	env_set "$d/deploy.env" DEPLOY_N "$n"
	env_set "$d/deploy.env" DEPLOY_BLOBS "$blobs"
	# PostgreSQL: its own subdir; pg.sh stops it by its PID file. Under
	# root the server runs as postgres, which must reach DIR/pgd.
	[[ $(id -u) != 0 ]] || chmod 0711 "$d"
	mkdir -p "$d/pgd"
	# shellcheck disable=SC1091
	. "$here/pg.sh"
	uri=$(pg_start "$d/pgd") || die "PostgreSQL did not start"
	env_set "$d/deploy.env" DEPLOY_PGDIR "$d/pgd"
	env_set "$d/deploy.env" DEPLOY_CATALOG "$uri"
	if [[ $blobs == s3 ]]; then
		"$here/rgw.sh" start "$d/rgw" >/dev/null || die "Ceph RGW did not start"
		env_set "$d/deploy.env" DEPLOY_RGWDIR "$d/rgw"
	fi
	for ((i = 1; i <= n; i++)); do
		start_server "$d" "$i"
	done
	fport=$(free_port)
	ports=()
	for ((i = 1; i <= n; i++)); do
		ports+=("$(sed -n "s/^DEPLOY_PORT_$i=//p" "$d/deploy.env")")
	done
	haproxy_cfg "$fport" "${ports[@]}" >"$d/haproxy.cfg"
	haproxy -c -q -f "$d/haproxy.cfg" || die "haproxy refused $d/haproxy.cfg"
	haproxy -db -f "$d/haproxy.cfg" </dev/null >>"$d/haproxy.log" 2>&1 &
	env_set "$d/deploy.env" DEPLOY_HAPROXY_PID "$!"
	env_set "$d/deploy.env" DEPLOY_URL "http://127.0.0.1:$fport"
	wait_http "$fport" "$!" || { tail "$d/haproxy.log" >&2; die "HAProxy did not come up"; }
	# both servers in (the health checks passed at least once)
	sleep 0.6
	echo "http://127.0.0.1:$fport"
}

stop() {
	local d=$1 pid
	[[ -f $d/deploy.env ]] || return 0
	# shellcheck disable=SC1091
	. "$d/deploy.env"
	if [[ -n ${DEPLOY_HAPROXY_PID:-} ]]; then
		kill "$DEPLOY_HAPROXY_PID" 2>/dev/null || true
		wait "$DEPLOY_HAPROXY_PID" 2>/dev/null || true
	fi
	for ((i = 1; i <= ${DEPLOY_N:-0}; i++)); do
		pid=$(eval echo "\${DEPLOY_PID_$i:-}")
		[[ -n $pid ]] || continue
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	done
	if [[ -n ${DEPLOY_RGWDIR:-} && -d $DEPLOY_RGWDIR ]]; then
		"$here/rgw.sh" stop "$DEPLOY_RGWDIR" || true
	fi
	if [[ -n ${DEPLOY_PGDIR:-} ]]; then
		# shellcheck disable=SC1091
		. "$here/pg.sh"
		pg_stop "$DEPLOY_PGDIR" || true
	fi
	rm -rf -- "${d:?}"/srv* "$d"/pgd "$d"/*.log "$d"/haproxy.* "$d"/deploy.env
}

run() {
	local d rc
	d=$(mktemp -d /tmp/sievefs-deploy.XXXXXX)
	# shellcheck disable=SC2064
	trap "stop '$d'; rmdir '$d' 2>/dev/null || true" EXIT
	trap 'exit 130' INT TERM
	start "$d" >/dev/null
	set -a
	# shellcheck disable=SC1091
	. "$d/deploy.env"
	set +a
	export DEPLOY_DIR=$d
	echo "deploy.sh: $DEPLOY_N servers behind $DEPLOY_URL (blobs: $DEPLOY_BLOBS, catalog: PostgreSQL in $DEPLOY_PGDIR)" >&2
	set +e
	"$@"
	rc=$?
	set -e
	return $rc
}

case ${1:-} in
start) start "${2:?start DIR}" ;;
stop) stop "${2:?stop DIR}" ;;
run) shift; run "$@" ;;
kill-server) kill_server "${2:?DIR}" "${3:?I}" ;;
start-server) start_server "${2:?DIR}" "${3:?I}" ;;
haproxy-cfg) shift; haproxy_cfg "$@" ;;
*) sed -n '2,34p' "$0" >&2; exit 2 ;;
esac
