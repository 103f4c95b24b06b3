#!/usr/bin/env bash
# tests/scale/rgw.sh — a single-node Ceph RGW (Debian 12's radosgw, ceph-mon,
# ceph-osd; Pacific 16.2) for tests, every state file in one directory.
#
#   tests/scale/rgw.sh start DIR   DIR must not exist or be empty; prints the
#                                  endpoint (http://127.0.0.1:PORT) on stdout
#   tests/scale/rgw.sh stop DIR    kills exactly the processes `start` started
#                                  (DIR/pid/*.pid, checked against their
#                                  command line) and removes DIR (an empty
#                                  DIR: only removes it)
#   tests/scale/rgw.sh stop-rgw DIR   stops radosgw only (the object store
#                                  "goes away"; monitor, OSD and data stay)
#   tests/scale/rgw.sh start-rgw DIR  starts it again on the same port, waits
#                                  until it answers
#
# What `start` leaves in DIR:
#   ceph.conf   the cluster's configuration (loopback only, auth none)
#   s3.env      mode 0600, shell-sourceable: AWS_ACCESS_KEY_ID,
#               AWS_SECRET_ACCESS_KEY, S3_ENDPOINT, S3_REGION, S3_BUCKET,
#               S3_TARGET (s3://BUCKET/?endpoint=…&region=…)
#   pid/ log/ mon/ osd/ run/   daemons' PID files, logs, data
#
# Layout: one monitor, one OSD on memstore (bytes in RAM, 2 GiB cap, or
# RGW_MEMSTORE_BYTES; nothing survives a stop; a full OSD makes RGW's writes
# hang, not fail: the client's stall timeout then answers -ETIMEDOUT), pools of size 1, no manager (RGW does not need one), one
# radosgw with the beast frontend. Ceph's own authentication (cephx) is off:
# the cluster listens on 127.0.0.1 only. S3's authentication is not: RGW
# checks every request's SigV4 signature and a presigned URL's expiry.
#
# The S3 credentials: `radosgw-admin user create` without --access-key and
# --secret generates both (random, from the kernel's CSPRNG) and prints them
# in its JSON answer, which we read from a pipe and write to s3.env under
# umask 077. So the secret is never on any process's command line (ps shows
# argv to every user); radosgw-admin's --secret is not needed. The bucket is
# created with curl reading the key pair from a config on stdin (-K -), not
# from argv, for the same reason.
#
# Pitfalls (../../../shared/SCALE-OUT-NOTES.md; each cost hours once):
#   - Pacific clients with auth none hang 300 s in the monitor handshake unless
#     ms_mon_client_mode and ms_client_mode are crc;
#   - mon_max_pg_per_osd must be high: RGW creates ~8 pools on one OSD;
#   - beast needs tcp_nodelay=1, or a small GET on a kept-alive connection
#     waits 40 ms for a delayed ACK;
#   - memstore (like ext4) needs osd_max_object_name_len = 460.
#
# Ports: the monitor's and RGW's are free ports the kernel picked for a bound
# socket just before (a race with another process is possible, and reported
# as a start failure); the OSD binds its own free ports in 6800–7300.
set -euo pipefail

die() { echo "rgw.sh: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# spawn NAME CMD...: run CMD in the foreground mode of a Ceph daemon, in its
# own session (a test's Ctrl-C does not reach it; stop does), PID in pid/NAME.pid.
spawn() {
	local name=$1; shift
	setsid "$@" </dev/null >>"$D/log/$name.out" 2>&1 &
	echo $! >"$D/pid/$name.pid"
}

# alive NAME: the process of pid/NAME.pid runs, and is still the program we
# started (PIDs are reused).
alive() {
	local pid exe
	pid=$(cat "$D/pid/$1.pid" 2>/dev/null) || return 1
	exe=$( { tr "\0" " " <"/proc/$pid/cmdline"; } 2>/dev/null) || return 1
	case $exe in *"$D/ceph.conf"*) return 0 ;; esac
	return 1
}

# wait_for SECONDS WHAT CMD...: retry CMD every 0.2 s until it succeeds.
wait_for() {
	local limit=$1 what=$2 t0; shift 2
	t0=$(now)
	until "$@" >/dev/null 2>&1; do
		if awk -v a="$t0" -v b="$(now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then
			echo "rgw.sh: $what: not ready after ${limit} s; logs in $D/log" >&2
			return 1
		fi
		sleep 0.2
	done
}

ceph_() { timeout 20 ceph -c "$D/ceph.conf" "$@"; }
osd_up() { ceph_ osd stat | grep -q '1 up'; }
rgw_answers() {
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$ENDPOINT/") || return 1
	[ "$code" = 200 ] || [ "$code" = 403 ]
}

# s3_curl ARGS...: curl signing with SigV4 as the S3 user; the key pair comes
# from a config read on stdin, never from argv.
s3_curl() {
	printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" |
		curl -K - -s --aws-sigv4 "aws:amz:$S3_REGION:s3" \
		     -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}
create_bucket() {
	local code
	code=$(s3_curl -o "$D/log/bucket.out" -w '%{http_code}' --max-time 10 \
		-X PUT "$ENDPOINT/$S3_BUCKET") || return 1
	[ "$code" = 200 ]
}

# A failed start stops what it started and keeps DIR for its logs; their
# last lines go to stderr too, since a caller (make test-s3) may remove DIR.
start_failed() {
	local rc=$? f
	[ "$rc" -eq 0 ] && return 0
	for f in "$D"/log/*; do     # before the kill: then they say why
		[ -s "$f" ] || continue
		echo "rgw.sh: the end of $f:" >&2
		tail -n 3 "$f" | sed 's/^/    /' >&2
	done
	kill_all || true
	echo "rgw.sh: start failed; logs kept in $D/log (remove $D when done)" >&2
	return "$rc"
}

start() {
	local tool
	for tool in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph curl; do
		command -v "$tool" >/dev/null ||
			die "needs $tool (Debian: apt-get install radosgw ceph-mon ceph-osd curl; see .ci/deps)"
	done
	if [ -e "$D" ] && [ -n "$(ls -A "$D")" ]; then die "$D exists and is not empty"; fi
	mkdir -p "$D"
	D=$(cd "$D" && pwd)
	mkdir -p "$D"/{pid,log,run,mon/a,osd/0,crash}
	trap start_failed EXIT
	local t0 fsid mon_port rgw_port
	t0=$(now)
	fsid=$(cat /proc/sys/kernel/random/uuid)
	mon_port=$(free_port)
	rgw_port=$(free_port)
	ENDPOINT=http://127.0.0.1:$rgw_port
	cat >"$D/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
ms mon client mode = crc
ms client mode = crc
ms mon cluster mode = crc
ms cluster mode = crc
ms service mode = crc
ms mon service mode = crc
keyring = $D/keyring
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
crash dir = $D/crash
mon data = $D/mon/\$id
osd data = $D/osd/\$id
osd objectstore = memstore
memstore device bytes = ${RGW_MEMSTORE_BYTES:-2147483648}
osd max object name len = 460
osd max object namespace len = 64
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon max pg per osd = 1000
mon allow pool size one = true
mon warn on pool no redundancy = false
mon allow pool delete = true
# the monitor batches changes for paxos_propose_interval (1 s) before it
# commits them: radosgw's start-up makes about 12 (its pools, their flags,
# the first bucket's), one after another, so it waited ~12 s of a 15.5 s
# start for nothing on a one-monitor cluster; now the start takes ~3 s
paxos propose interval = 0.01

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw data = $D/rgw
rgw thread pool size = 64
# deleted objects' tails (past the 4 MiB head) go to RGW's garbage
# collector, which by default waits 2 h: in a test that deletes and
# writes again (benchmarks) memstore fills and every write then hangs
rgw gc obj min wait = 5
rgw gc processor period = 5
EOF
	: >"$D/keyring"

	monmaptool --create --clobber --fsid "$fsid" \
		--addv a "[v2:127.0.0.1:$mon_port]" "$D/monmap" >"$D/log/monmaptool.out" 2>&1 ||
		die "monmaptool failed: $(tail -3 "$D/log/monmaptool.out")"
	ceph-mon -c "$D/ceph.conf" --mkfs -i a --monmap "$D/monmap" \
		>"$D/log/mon-mkfs.out" 2>&1 ||
		die "ceph-mon --mkfs failed: $(tail -3 "$D/log/mon-mkfs.out")"
	spawn mon ceph-mon -c "$D/ceph.conf" -i a -f
	local id
	id=$(ceph_ osd create 2>"$D/log/osd-create.out") ||
		die "ceph osd create failed (monitor not up?): $(tail -3 "$D/log/osd-create.out"; tail -3 "$D/log/mon.a.log" 2>/dev/null)"
	[ "$id" = 0 ] || die "ceph osd create gave id '$id', expected 0"
	ceph-osd -c "$D/ceph.conf" -i 0 --mkfs >"$D/log/osd-mkfs.out" 2>&1 ||
		die "ceph-osd --mkfs failed: $(tail -3 "$D/log/osd-mkfs.out")"
	spawn osd ceph-osd -c "$D/ceph.conf" -i 0 -f
	wait_for 60 "the OSD" osd_up || exit 1
	local t_osd; t_osd=$(since "$t0")

	spawn rgw radosgw -c "$D/ceph.conf" -n client.rgw.a -f
	wait_for 120 "radosgw on $ENDPOINT" rgw_answers || exit 1
	local t_rgw; t_rgw=$(since "$t0")

	# The S3 user: keys generated by radosgw-admin, read from its answer.
	local uid json
	uid=t$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	json=$(timeout 60 radosgw-admin -c "$D/ceph.conf" user create --uid="$uid" \
		--display-name="sievefs test $uid" 2>"$D/log/user-create.out") ||
		die "radosgw-admin user create failed: $(tail -3 "$D/log/user-create.out")"
	AWS_ACCESS_KEY_ID=$(printf '%s' "$json" | /usr/bin/python3 -c \
		'import json,sys; print(json.load(sys.stdin)["keys"][0]["access_key"])')
	AWS_SECRET_ACCESS_KEY=$(printf '%s' "$json" | /usr/bin/python3 -c \
		'import json,sys; print(json.load(sys.stdin)["keys"][0]["secret_key"])')
	[ ${#AWS_SECRET_ACCESS_KEY} -ge 30 ] || die "radosgw-admin gave no usable secret"
	S3_REGION=default   # RGW's zonegroup; it accepts the scope's region as given
	S3_BUCKET=sv-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
	wait_for 60 "creating bucket $S3_BUCKET" create_bucket || {
		cat "$D/log/bucket.out" >&2 2>/dev/null; exit 1; }
	(
		umask 077
		cat >"$D/s3.env.tmp" <<EOF
AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
S3_ENDPOINT=$ENDPOINT
S3_REGION=$S3_REGION
S3_BUCKET=$S3_BUCKET
S3_TARGET='s3://$S3_BUCKET/?endpoint=$ENDPOINT&region=$S3_REGION'
EOF
		chmod 600 "$D/s3.env.tmp"
		mv -f "$D/s3.env.tmp" "$D/s3.env"
	)
	trap - EXIT
	echo "rgw.sh: started in $(since "$t0") s (OSD up at $t_osd s, RGW answering at $t_rgw s); bucket $S3_BUCKET; credentials in $D/s3.env" >&2
	echo "$ENDPOINT"
}

# kill_all: radosgw first, SIGTERM (it answers clients: let it close them;
# it exits in under a second — with the OSD gone it would hang until its
# SIGKILL), then SIGKILL to the OSD and the monitor: memstore keeps nothing
# and the monitor's store goes with DIR, while their clean shutdown took
# 2.6 s and 2.0 s. SIGKILL to any still alive after 10 s.
kill_all() {
	local name pid
	stop_one rgw || true
	for name in osd mon; do
		if alive "$name"; then kill -KILL "$(cat "$D/pid/$name.pid")" 2>/dev/null || true; fi
	done
	for _ in $(seq 1 50); do
		alive rgw || alive osd || alive mon || break
		sleep 0.2
	done
	for name in rgw osd mon; do
		if alive "$name"; then
			pid=$(cat "$D/pid/$name.pid")
			echo "rgw.sh: $name (pid $pid) still running after 10 s: SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	for _ in $(seq 1 25); do
		alive rgw || alive osd || alive mon || break
		sleep 0.2
	done
	if alive rgw || alive osd || alive mon; then
		echo "rgw.sh: daemons of $D did not exit" >&2
		return 1
	fi
}

# stop_one NAME: SIGTERM, SIGKILL after 10 s.
stop_one() {
	local pid
	alive "$1" || return 0
	pid=$(cat "$D/pid/$1.pid")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do alive "$1" || return 0; sleep 0.2; done
	kill -KILL "$pid" 2>/dev/null || true
	for _ in $(seq 1 25); do alive "$1" || return 0; sleep 0.2; done
	echo "rgw.sh: $1 (pid $pid) did not exit" >&2
	return 1
}

need_dir() {
	[ -d "$D" ] || die "$D: no such directory"
	D=$(cd "$D" && pwd)
	[ -f "$D/ceph.conf" ] || die "$D has no ceph.conf: not a directory rgw.sh started"
}

stop_rgw() {
	need_dir
	stop_one rgw || exit 1
}

start_rgw() {
	need_dir
	alive rgw && die "radosgw of $D already runs"
	ENDPOINT=$(sed -n 's/^S3_ENDPOINT=//p' "$D/s3.env")
	[ -n "$ENDPOINT" ] || die "$D/s3.env has no S3_ENDPOINT"
	local t0; t0=$(now)
	spawn rgw radosgw -c "$D/ceph.conf" -n client.rgw.a -f
	wait_for 120 "radosgw on $ENDPOINT" rgw_answers || exit 1
	echo "rgw.sh: radosgw answering again in $(since "$t0") s" >&2
}

stop() {
	[ -d "$D" ] || die "$D: no such directory"
	D=$(cd "$D" && pwd)
	# a start that failed before making anything (a tool missing): the
	# caller's empty directory goes, nothing was started
	if [ -z "$(ls -A "$D")" ]; then rmdir "$D"; exit 0; fi
	[ -f "$D/ceph.conf" ] || die "$D has no ceph.conf: not a directory rgw.sh started"
	local t0
	t0=$(now)
	kill_all || exit 1
	rm -rf "$D"
	echo "rgw.sh: stopped in $(since "$t0") s" >&2
}

usage="usage: rgw.sh start|stop|stop-rgw|start-rgw DIR"
[ $# -eq 2 ] || die "$usage"
D=$2
case $1 in
start) start ;;
stop) stop ;;
stop-rgw) stop_rgw ;;
start-rgw) start_rgw ;;
*) die "$usage" ;;
esac
