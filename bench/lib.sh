# shellcheck shell=bash
# bench/lib.sh — what a bench script needs to run sievefs safely: a daemon it
# starts in the foreground (-f) and always unmounts and reaps, even on ^C.
#
#   . "$(dirname "$0")/lib.sh"        then set BENCH_NAME, BIN
#   bench_mount SRC MNT LOG [ARGS...]  start "$BIN SRC MNT -f ARGS", wait ≤ 10 s
#                                      (SRC: a store dir or a server URL)
#   bench_umount MNT                   unmount one now
#   bench_cleanup                      (trapped on EXIT) unmount every mount
#                                      made, reap the daemons, TERM the PIDs in
#                                      BENCH_SERVERS, remove $BENCH_RM
#   now / since T0                     wall clock, "12.3 s" since T0
#   secs T0                            seconds since T0, "12.345" (a line)
#   median <FILE                       the median of one number a line (the
#                                      lower one of an even count)
#   bench_die MSG                      message and exit 1 (cleanup runs)
# Only daemons this script started are signalled, by PID.

BENCH_MNTS=()
BENCH_PIDS=()
BENCH_SERVERS=()     # PIDs of servers to stop with TERM at the end
BENCH_RM=''        # a work dir to remove at the end ('' = keep)

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f\n", b - a }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
bench_die() { echo "$BENCH_NAME: $*" >&2; exit 1; }
bench_mounted() { findmnt -rn -M "$1" >/dev/null 2>&1; }

bench_mount() {
	local src=$1 mnt=$2 log=$3 i pid
	shift 3
	case $src in http://* | https://*) ;; *) mkdir -p "$src" ;; esac
	mkdir -p "$mnt"
	"$BIN" "$src" "$mnt" -f "$@" >"$log" 2>&1 &
	pid=$!
	BENCH_PIDS+=("$pid")
	BENCH_MNTS+=("$mnt")
	for i in $(seq 100); do
		mountpoint -q "$mnt" && return 0
		kill -0 "$pid" 2>/dev/null ||
			{ tail -n 20 "$log" >&2; bench_die "sievefs exited before mounting"; }
		sleep 0.1
	done
	bench_die "no mount at $mnt after 10 s"
}

# bench_umount MNT — unmount one mount now (its daemon exits: -f mode).
bench_umount() {
	local i
	for i in 1 2 3 4 5; do
		bench_mounted "$1" || return 0
		fusermount3 -u "$1" 2>/dev/null || sleep 1
	done
	bench_mounted "$1" && bench_die "cannot unmount $1"
	return 0
}

bench_cleanup() {
	local rc=$? m p i
	trap - EXIT INT TERM
	for m in "${BENCH_MNTS[@]}"; do
		for i in 1 2 3 4 5; do
			bench_mounted "$m" || break
			fusermount3 -u "$m" 2>/dev/null || sleep 1
		done
		if bench_mounted "$m"; then
			echo "$BENCH_NAME: $m busy, lazy unmount" >&2
			fusermount3 -u -z "$m" 2>/dev/null || true
		fi
	done
	# every step here may fail (a daemon already gone) without ending the
	# trap under the caller's set -e, which would leave the rest behind
	for p in "${BENCH_SERVERS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	for p in "${BENCH_PIDS[@]}"; do   # in -f mode a daemon exits once unmounted
		for i in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
		kill -0 "$p" 2>/dev/null && { kill -TERM "$p" 2>/dev/null || true; }
		wait "$p" 2>/dev/null || true
	done
	[ -n "$BENCH_RM" ] && rm -rf --one-file-system "$BENCH_RM"
	exit "$rc"
}
