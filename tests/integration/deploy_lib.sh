# shellcheck shell=bash
# deploy_lib.sh — SV_DEPLOY=1 (with SV_CATALOG=pg): the remote integration
# tests, unchanged, against a deployment instead of one server (issue 19,
# part "deploy"; make test-deploy). Sourced by server_lib.sh after its
# SV_CATALOG=pg setup; replaces start_server and kill_server:
#
#   start_server PORT [STORE [ARGS...]]  two `sievefs serve` processes on
#       STORE's catalog (the SV_CATALOG=pg wrapper's PostgreSQL database of
#       STORE): server 1 on STORE itself, server 2 on STORE.s2 (its own
#       owner lock, staging and caches). Their bytes: with SV_BLOBS=s3 (make
#       test-deploy) one bucket prefix for both, server 2 given server 1's
#       --blobs; else STORE's blobs, linked, as a shared filesystem would
#       hold them; STORE/thumbs, the server-made thumbnails' cache, linked
#       either way (the tests look there). Each on a free port, and
#       HAProxy (the config of tests/scale/deploy.sh haproxy-cfg: round
#       robin, health checks every 0.5 s) listening on PORT in front of
#       them. Both log
#       to $SERVER_LOG, which then gets a last line "listening on
#       http://127.0.0.1:PORT" for the tests that read the port there.
#       SERVER_PID is server 1's. HAProxy stays for the test's life (one
#       per PORT); a later start_server on the same PORT first stops what is
#       left of the earlier pair (a test that killed SERVER_PID left server
#       2), then starts both again on their same ports.
#   kill_server   kill -9 of both servers of the last start_server (the
#       service is gone, as the tests mean: HAProxy then answers 503).
#
# What stays direct: serve_port (the kernel picks the port; its tests
# check one process), a STORE whose catalog stays SQLite under the wrapper
# (a mount used it first: one server behind HAProxy, said in a note), a
# test that passes its own --catalog/--config (one server behind HAProxy).

sv_need haproxy

# PORT → state in $T/deploy.PORT/: p1 p2 (ports), pid1 pid2, ha.pid, ha.cfg
sv_deploy_dir() { echo "$T/deploy.$1"; }

sv_deploy_wait() {   # PORT PID: ≤ 10 s until /v1/whoami answers 401
	local deadline=$((SECONDS + 10)) code
	while ((SECONDS < deadline)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/v1/whoami")
		[[ $code == 401 ]] && return 0
		[[ -n ${2:-} ]] && ! sv_alive "$2" && return 1
		sleep 0.1
	done
	return 1
}

sv_deploy_stop_pair() {   # PORT: stops what is left of its servers
	local st pid
	st=$(sv_deploy_dir "$1")
	for pid in $(cat "$st/pid1" "$st/pid2" 2>/dev/null); do
		sv_alive "$pid" || continue
		kill "$pid" 2>/dev/null
		sv_wait_gone "$pid" 5 || kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -f "$st/pid1" "$st/pid2"
}

start_server() {
	local port=$1 store=${2:-$T/store} st p1 p2 pid1 pid2 db own=0 a
	local args=("${@:3}")
	st=$(sv_deploy_dir "$port")
	mkdir -p "$st"
	sv_deploy_stop_pair "$port"
	p1=$(cat "$st/p1" 2>/dev/null) || p1=$(free_port)
	p2=$(cat "$st/p2" 2>/dev/null) || p2=$(free_port)
	echo "$p1" >"$st/p1"
	echo "$p2" >"$st/p2"
	for a in "${args[@]}"; do
		[[ $a == --catalog || $a == --catalog-file || $a == --config ]] && own=1
	done
	"$SIEVEFS" serve "$store" --listen "127.0.0.1:$p1" "${args[@]}" >>"$SERVER_LOG" 2>&1 &
	pid1=$!
	SV_BG+=("$pid1")
	echo "$pid1" >"$st/pid1"
	SERVER_PID=$pid1
	sv_deploy_wait "$p1" "$pid1" || { sv_show "$SERVER_LOG"; return 1; }
	db=$(sv_catalog_db "$store")
	if [[ -n $db && $own == 0 ]]; then
		# server 2: same catalog, same blobs, its own STORE (the
		# lightly door's signing secret is the catalog's)
		mkdir -p -m 0700 "$store.s2"
		# (STORE/thumbs, the server-made thumbnails' cache, linked in
		# both cases: the tests look there for what the server made)
		local blobs=() shared=(blobs thumbs)
		if [[ ${SV_BLOBS:-} == s3 ]]; then
			blobs=(--blobs "s3://$S3_BUCKET/$(sv_blobs_prefix "$store")?endpoint=$S3_ENDPOINT&region=$S3_REGION")
			shared=(thumbs)
		fi
		for a in "${shared[@]}"; do
			mkdir -p -m 0700 "$store/$a"
			[[ -e $store.s2/$a ]] || ln -s "$(realpath "$store")/$a" "$store.s2/$a"
		done
		"$SIEVEFS" serve "$store.s2" --catalog "$SV_PGBASE/$db" "${blobs[@]}" \
			--listen "127.0.0.1:$p2" "${args[@]}" >>"$SERVER_LOG" 2>&1 &
		pid2=$!
		SV_BG+=("$pid2")
		echo "$pid2" >"$st/pid2"
		sv_deploy_wait "$p2" "$pid2" || { sv_show "$SERVER_LOG"; return 1; }
	else
		note "SV_DEPLOY: $store keeps one server behind HAProxy (its catalog is not the wrapper's PostgreSQL database)"
	fi
	if ! { [[ -s $st/ha.pid ]] && sv_alive "$(cat "$st/ha.pid")"; }; then
		# the config tests/scale/deploy.sh writes (one place for it)
		local ports=("$p1")
		[[ -s $st/pid2 ]] && ports+=("$p2")
		bash "$SV_REPO/tests/scale/deploy.sh" haproxy-cfg "$port" "${ports[@]}" \
			>"$st/ha.cfg" || die "deploy.sh haproxy-cfg failed"
		haproxy -db -f "$st/ha.cfg" </dev/null >>"$st/ha.log" 2>&1 &
		echo $! >"$st/ha.pid"
		SV_BG+=("$!")
	fi
	sv_deploy_wait "$port" "$(cat "$st/ha.pid")" ||
		{ sv_show "$st/ha.log"; return 1; }
	sleep 0.6         # a health check of each server has passed
	echo "sievefs: listening on http://127.0.0.1:$port (SV_DEPLOY: HAProxy in front of 127.0.0.1:$p1 and 127.0.0.1:$p2)" >>"$SERVER_LOG"
	return 0
}

kill_server() {
	local st pid
	for st in "$T"/deploy.*; do
		for pid in $(cat "$st/pid1" "$st/pid2" 2>/dev/null); do
			sv_alive "$pid" || continue
			kill -9 "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		done
	done
	note "killed the servers (SV_DEPLOY: both, pids $(cat "$T"/deploy.*/pid[12] 2>/dev/null | tr '\n' ' ')) with SIGKILL"
}
