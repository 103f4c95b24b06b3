#!/bin/bash
# tests/scale/pg.sh — a throwaway PostgreSQL 15 for tests, all of its state
# in one directory the caller made (and removes).
#
#   pg.sh start DIR   initdb DIR/pg/data, start it listening on 127.0.0.1
#                     (a free port) and a Unix socket in DIR/pg; prints the
#                     connection URI on stdout and writes it to DIR/pg/uri;
#                     with PG_OWNER_PID set, the server is also stopped
#                     (and DIR removed when empty) once that process ends
#   pg.sh stop DIR    stops it by its PID file (fast shutdown) and removes
#                     DIR/pg
#   pg.sh halt DIR    stops it, keeping its data (a fault test: the
#                     server goes away under its clients)
#   pg.sh resume DIR  starts a halted one again on the same port
# Sourced, it defines pg_start and pg_stop with the same arguments.
#
# Binaries: Debian's postgresql-15 (/usr/lib/postgresql/15/bin, override
# with PG_BIN). PostgreSQL refuses to run as root, so under root the
# server runs as the `postgres` user the package creates (runuser); then
# DIR gets mode 0711 so that user may reach DIR/pg, which it owns. Auth is
# `trust` for the superuser `postgres` on loopback and the socket only:
# tests, never a deployment. fsync=off and --no-sync make it fast and
# unsafe on power loss (SCALE-OUT-NOTES.md: initdb 0.4 s, start 0.1 s).
# Logs go to DIR/pg/log.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

_pg_as() {   # runs "$@" as the server's user
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

_pg_free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

pg_start() {
	local dir=$1 pg port try
	if [ -z "$dir" ] || [ ! -d "$dir" ]; then
		echo "pg.sh: start needs an existing directory" >&2
		return 2
	fi
	if [ ! -x "$PG_BIN/initdb" ]; then
		echo "pg.sh: no $PG_BIN/initdb: apt-get install postgresql-15" >&2
		return 2
	fi
	dir=$(cd "$dir" && pwd)
	pg=$dir/pg
	mkdir -p "$pg" || return 1
	if [ "$(id -u)" = 0 ]; then
		chmod 0711 "$dir" && chown postgres: "$pg" || return 1
	fi
	if ! _pg_as "$PG_BIN/initdb" -D "$pg/data" -A trust -U postgres \
		--no-sync -E SQL_ASCII --locale=C >"$pg/initdb.log" 2>&1; then
		echo "pg.sh: initdb failed, see $pg/initdb.log:" >&2
		tail -5 "$pg/initdb.log" >&2
		return 1
	fi
	for try in 1 2 3; do
		port=$(_pg_free_port) || return 1
		if _pg_ctl_start "$pg" "$port"; then
			echo "$port" >"$pg/port"
			echo "postgresql://postgres@127.0.0.1:$port/postgres" >"$pg/uri"
			[ -n "${PG_OWNER_PID:-}" ] && _pg_watch "$dir" "$PG_OWNER_PID"
			cat "$pg/uri"
			return 0
		fi
	done
	echo "pg.sh: PostgreSQL did not start, see $pg/log:" >&2
	tail -5 "$pg/log" >&2
	return 1
}

_pg_ctl_start() {   # PGDIR PORT
	_pg_as "$PG_BIN/pg_ctl" -w -t 30 -D "$1/data" -l "$1/log" \
		-o "-k $1 -p $2 -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >/dev/null
}

# Stops the server of PGDIR by its PID file (fast shutdown) and waits.
_pg_kill() {
	local pid n pg
	[ -f "$1/data/postmaster.pid" ] || return 0
	pg=$(cd "$1" && pwd) || return 0
	pid=$(head -1 "$1/data/postmaster.pid")
	# a PID file left by a server that died may name another process now
	case "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" in
	*postgres*" -D $pg/data "*) ;;
	*) return 0 ;;
	esac
	if [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null; then
		for n in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || return 0
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	fi
	return 0
}

# Stops the server of DIR (and removes DIR if empty) once process OWNER
# is gone, however it ended: a test binary that crashes before its
# teardown leaves no server behind. Detached, its output nowhere, so the
# caller's pipe closes.
_pg_watch() {   # DIR OWNER
	(
		trap '' HUP INT
		while kill -0 "$2" 2>/dev/null; do sleep 1; done
		pg_stop "$1"
		rmdir "$1" 2>/dev/null
	) </dev/null >/dev/null 2>&1 &
}

pg_halt() {
	[ -n "$1" ] && [ -d "$1/pg" ] || return 2
	_pg_kill "$1/pg"
}

pg_resume() {
	[ -n "$1" ] && [ -f "$1/pg/port" ] || return 2
	_pg_ctl_start "$1/pg" "$(cat "$1/pg/port")"
}

pg_stop() {
	[ -n "$1" ] && [ -d "$1/pg" ] || return 0
	_pg_kill "$1/pg"
	rm -rf "$1/pg"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case "$1" in
	start) pg_start "$2" ;;
	stop) pg_stop "$2" ;;
	halt) pg_halt "$2" ;;
	resume) pg_resume "$2" ;;
	*) echo "usage: $0 start|stop|halt|resume DIR" >&2; exit 2 ;;
	esac
fi
