#!/usr/bin/env bash
#
# t_tls — `sievefs serve --tls-cert F --tls-key F` speaks HTTPS.
#
# Proves: with a self-signed certificate made here (openssl), the server
# answers https:// requests that verify against that certificate (whoami
# names the token's user; no token gets 401), plain http to the same port
# fails, and a missing key file makes `serve` exit non-zero with a message
# naming it.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl openssl grep

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$T/key.pem" \
	-out "$T/cert.pem" >"$T/openssl.log" 2>&1 || { sv_show "$T/openssl.log"; die "openssl failed"; }
mkdir -p "$T/store"
new_token alice "$T/alice.tok" >/dev/null || die "token create failed"
port=$(free_port) || die "no free port"
"$SIEVEFS" serve "$T/store" --listen "127.0.0.1:$port" --tls-cert "$T/cert.pem" \
	--tls-key "$T/key.pem" >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
SV_BG+=("$SERVER_PID")
for ((i = 0; i < 100; i++)); do
	code=$(curl -s --cacert "$T/cert.pem" -o /dev/null -w '%{http_code}' \
		"https://127.0.0.1:$port/v1/whoami")
	[[ $code == 401 ]] && break
	sleep 0.1
done
expect_eq 401 "$code" "https without a token: 401"
code=$(curl -s --cacert "$T/cert.pem" -o "$T/body" -w '%{http_code}' \
	-H "Authorization: Bearer $(cat "$T/alice.tok")" "https://127.0.0.1:$port/v1/whoami")
expect_eq 200 "$code" "https with the token: 200"
expect_contains "$T/body" '"alice"' "whoami names alice over TLS"
expect_fail "plain http to the TLS port fails" \
	curl -sf --max-time 5 "http://127.0.0.1:$port/v1/whoami"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null

port2=$(free_port)
expect_fail "serve with a missing key file fails" timeout 10 "$SIEVEFS" serve \
	"$T/store" --listen "127.0.0.1:$port2" --tls-cert "$T/cert.pem" --tls-key "$T/nokey.pem"
expect_contains "$T/last.err" "nokey.pem" "the message names the missing file"
