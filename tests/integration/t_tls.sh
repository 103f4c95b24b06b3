#!/usr/bin/env bash
#
# t_tls — `sievefs serve --tls-cert F --tls-key F` speaks HTTPS.
#
# Proves: with a self-signed certificate made here (openssl), the server
# answers https:// requests that verify against that certificate (whoami
# names the token's user; no token gets 401), plain http to the same port
# fails; a remote mount over https is refused without -o cafile= (the
# certificate is not in the system's store), with a message suggesting
# `-o cafile=`, a mount of http:// to that port is refused with a message
# saying the port may speak https, and it works with it (mkdir, cp,
# cmp); TLS 1.0 and 1.1 handshakes are refused (openssl s_client at
# SECLEVEL=0, so the refusal is the server's), and so are TLS 1.2 ciphers
# without forward secrecy or with CBC, while TLS 1.2 (ECDHE + GCM) and 1.3
# work; a missing key file makes `serve` exit non-zero with a message naming
# it.

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

# --- TLS >= 1.2 with forward-secret AEAD ciphers only (issue 11, item 4).
# handshake DESC WANT(ok|refused) S_CLIENT-ARGS... — one handshake with
# openssl s_client. SECLEVEL=0 lets this client offer TLS 1.0/1.1 and old
# ciphers, so a refusal is the server's.
handshake() {
	local desc=$1 want=$2 got=refused
	shift 2
	echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" \
		-CAfile "$T/cert.pem" "$@" >"$T/s_client.out" 2>&1 &&
		grep -q 'Cipher is [A-Z]' "$T/s_client.out" && got=ok
	if [[ $got == "$want" ]]; then
		pass "$desc: $want ($(grep -m1 'Cipher is' "$T/s_client.out"))"
	else
		fail "$desc: expected $want, got $got"
		sv_show "$T/s_client.out"
	fi
}
handshake "TLS 1.0" refused -tls1 -cipher 'DEFAULT@SECLEVEL=0'
handshake "TLS 1.1" refused -tls1_1 -cipher 'DEFAULT@SECLEVEL=0'
handshake "TLS 1.2" ok -tls1_2 -cipher 'DEFAULT@SECLEVEL=0'
handshake "TLS 1.3" ok -tls1_3
handshake "TLS 1.2 with AES256-SHA (RSA key transport, CBC)" refused -tls1_2 \
	-cipher 'AES256-SHA:@SECLEVEL=0'
handshake "TLS 1.2 with ECDHE-RSA-AES256-SHA (CBC, SHA-1 MAC)" refused -tls1_2 \
	-cipher 'ECDHE-RSA-AES256-SHA:@SECLEVEL=0'
handshake "TLS 1.2 with ECDHE-RSA-AES128-GCM-SHA256" ok -tls1_2 \
	-cipher 'ECDHE-RSA-AES128-GCM-SHA256'

# refused_mount URL NAME DESC — a foreground mount of URL on $T/NAME fails
# at start (not a timeout) and leaves nothing mounted; its output in
# $T/NAME.out
refused_mount() {
	local rc
	mkdir -p "$T/$2"
	timeout 30 "$SIEVEFS" "$1" "$T/$2" -f -o "token_file=$T/alice.tok" \
		-o "cache_dir=$T/$2.cache" </dev/null >"$T/$2.out" 2>&1
	rc=$?
	((rc != 0 && rc != 124)) && ! sv_is_mounted "$T/$2" &&
		pass "$3 ($(head -c 160 "$T/$2.out"))" ||
		{ fail "$3: the mount exited $rc"; fusermount3 -u "$T/$2" 2>/dev/null; }
}

# a remote mount over https, trusting the test CA with -o cafile=
refused_mount "https://127.0.0.1:$port" nocafile "without cafile the self-signed server is refused"
expect_contains "$T/nocafile.out" "self-signed or from your own CA, mount with -o cafile=CA.pem" \
	"the refusal suggests -o cafile="
refused_mount "http://127.0.0.1:$port" plain "http:// to the https port is refused"
expect_contains "$T/plain.out" "the URL says http://, but this port may speak https: try https://" \
	"the refusal says the port may speak https"
M=$T/mnt
sv_mount "https://127.0.0.1:$port" "$M" -o "token_file=$T/alice.tok" \
	-o "cafile=$T/cert.pem" -o "cache_dir=$T/cache" || die "https mount failed"
ok "mkdir a dataset over https" mkdir "$M/tls"
head -c 300000 /dev/urandom >"$T/blob.bin"
ok "cp a file in over https" cp "$T/blob.bin" "$M/tls/initial-tag/"
ok "it reads back" cmp "$T/blob.bin" "$M/tls/initial-tag/blob.bin"
sv_umount "$M"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null

port2=$(free_port)
expect_fail "serve with a missing key file fails" timeout 10 "$SIEVEFS" serve \
	"$T/store" --listen "127.0.0.1:$port2" --tls-cert "$T/cert.pem" --tls-key "$T/nokey.pem"
expect_contains "$T/last.err" "nokey.pem" "the message names the missing file"
