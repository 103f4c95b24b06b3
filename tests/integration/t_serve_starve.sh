#!/usr/bin/env bash
#
# t_serve_starve — silent connections do not starve `sievefs serve`
# (issue 16, item 8: 1,100 connections with no request from 11 loopback
# addresses, each under --conns-per-addr, shut every client out).
#
# Proves, with the server's defaults: while 1,100 connections from
# 127.0.0.2 … 127.0.0.12 (100 each) send nothing — then 2,400 from
# 127.0.0.2 … 127.0.0.25 —, a client with a valid token
# still gets its answer (curl, generous --max-time: a timeout fails the
# test), and again right after the attacker closes them all; and the server
# itself closed silent connections (the request-head deadline), which is
# what made the room.
# Bounded: at most 2,400 connections, loopback only; the attacker holds them
# at most 90 s, and every wait here is capped. No time is asserted.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl grep

serve_alice
tok=$(cat "$T/alice.tok")

whoami() {   # whoami MAXTIME: prints the HTTP status (000 on a timeout)
	curl -s -o /dev/null -w '%{http_code}' --max-time "$1" \
		-H "Authorization: Bearer $tok" "http://127.0.0.1:$port/v1/whoami"
}
expect_eq 200 "$(whoami 10)" "a valid client is answered before the attack"

# attack NADDR: NADDR×100 silent connections, from 127.0.0.2 on (100 each).
# The attacker writes "ready" once all are made, holds them until $T/stop
# exists (≤ 90 s), counts those the server closed, closes the rest, and
# writes "closed N". A valid client must be answered during the attack and
# right after it.
attack() {
	local naddr=$1 total=$(($1 * 100)) apid t0 code n
	rm -f "$T/ready" "$T/stop" "$T/closed"
	/usr/bin/python3 - "$port" "$T" "$naddr" <<'PY' >"$T/attack.log" 2>&1 &
import os, select, socket, sys, time
port, tdir, naddr = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
socks = []
for a in range(2, 2 + naddr):
    for _ in range(100):
        s = socket.socket()
        s.bind(("127.0.0.%d" % a, 0))
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
open(tdir + "/ready", "w").write("%d\n" % len(socks))
end = time.monotonic() + 90
while time.monotonic() < end and not os.path.exists(tdir + "/stop"):
    time.sleep(0.2)
closed = 0
for s in socks:
    try:
        p = select.poll()
        p.register(s, select.POLLIN)
        if p.poll(0) and s.recv(1) == b"":
            closed += 1
    except OSError:
        closed += 1
    s.close()
open(tdir + "/closed", "w").write("closed %d\n" % closed)
PY
	apid=$!
	SV_BG+=("$apid")
	for _ in $(seq 300); do [[ -e $T/ready ]] && break; sleep 0.1; done
	expect_eq "$total" "$(cat "$T/ready" 2>/dev/null)" \
		"the attacker holds $total silent connections"
	sleep 1
	t0=$SECONDS
	code=$(whoami 60)
	note "answered in about $((SECONDS - t0)) s"
	expect_eq 200 "$code" "during the attack ($total) a valid client is answered"
	touch "$T/stop"
	for _ in $(seq 300); do [[ -e $T/closed ]] && break; sleep 0.1; done
	wait "$apid" 2>/dev/null
	n=$(sed -n 's/^closed //p' "$T/closed" 2>/dev/null)
	if [[ -n $n ]] && ((n > 0)); then
		pass "the server closed silent connections itself ($n of $total)"
	else
		fail "the server closed none of the $total silent connections (${n:-no count})"
		sv_show "$T/attack.log"
	fi
	expect_eq 200 "$(whoami 20)" \
		"right after the attack ($total) a valid client is answered"
}

attack 11     # 1,100: over the default global cap of 1,000
attack 24     # 2,400
sv_alive "$SERVER_PID" || fail "the server died"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
