#!/usr/bin/env bash
#
# t_web_session — the web app's side of `sievefs serve` (issue 17): sign-in
# sessions, cookie auth with its CSRF rule, and static files.
#
# Proves: POST /app/session with a good token → 201 {"user"} and a cookie
# sievefs_session (64 hex digits; HttpOnly, SameSite=Strict, Path=/,
# Max-Age from --session-ttl; no Secure over http); a wrong token → 401
# and no cookie; a foreign Origin on sign-in → 403; the cookie
# authenticates GET /v1/datasets and GET /app/session; POST /v1/datasets
# by cookie without Origin or with a foreign one → 403 csrf and no dataset,
# with the server's own Origin → 201; by bearer token without Origin →
# 201; a forged cookie → 401; `sievefs token revoke` of the token that
# signed in ends its session (401); sign-out by cookie needs the Origin,
# then answers 204, clears the cookie and ends the session; the catalog's
# sessions rows hold no session id (a dump of the catalog), and neither
# the token nor a session id is in the server's log. Static files from
# --web-root: / is index.html (text/html, no-cache), an asset under
# /assets/ has its type and a long max-age, an app route without an
# extension is index.html, a missing file with one is 404; every answer to
# the app carries the CSP and the other headers, and /v1 answers do not;
# traversal (/../x, /%2e%2e/x, /assets/..%2fsecret, a symlink inside the
# root pointing out) → 404 and never the outside file; a FIFO in the root
# → 404 without hanging; POST / → 405. A
# root without index.html, and no --web-root (when the built-in default
# is absent), answer / with the plain-text "not installed" 404. Over TLS
# the cookie is Secure and the Origin must be https://; wrong sign-in
# tokens count toward the failed-token limit of bearer tokens (429).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl python3 sqlite3 openssl grep

STORE=$T/store
mkdir -p "$STORE"
TOKID=$(new_token alice "$T/alice.tok") || die "token create failed"
TA=$(cat "$T/alice.tok")
new_token bob "$T/bob.tok" >/dev/null || die "token create failed"
TB=$(cat "$T/bob.tok")

# the built app, and a secret outside it
W=$T/web
mkdir -p "$W/assets"
printf '<!doctype html><title>sievefs</title><p>app</p>\n' >"$W/index.html"
printf 'console.log("app")\n' >"$W/assets/index-4f2a9c.js"
printf 'body{}\n' >"$W/assets/index-77aa01.css"
printf 'OUTSIDE-SECRET\n' >"$T/secret"
ln -s "$T/secret" "$W/assets/leak.txt"
ln -s "$T" "$W/up"
mkfifo "$W/assets/pipe.js"

# serve_on LOG ARGS... — serve $STORE with ARGS; sets SPORT (and SCHEME)
serve_on() {
	local log=$1
	shift
	"$SIEVEFS" serve "$STORE" --listen 127.0.0.1:0 "$@" </dev/null >"$log" 2>&1 &
	SV_PIDS+=("$!")
	SPID=$!
	SPORT=
	for _ in $(seq 100); do
		SPORT=$(sed -n 's|.*listening on https*://127.0.0.1:\([0-9]*\)$|\1|p' "$log")
		[[ -n $SPORT ]] && return 0
		sv_alive "$SPID" || break
		sleep 0.1
	done
	sv_show "$log"
	return 1
}

# stop_server — SIGTERM the last server, reap it
stop_server() {
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
}

# req METHOD PATH [curl args...] — body in $T/body, headers in $T/hdr,
# status in $code (against $U, which may be https with $CURL_TLS)
req() {
	local method=$1 path=$2
	shift 2
	code=$(curl -s --path-as-is ${CURL_TLS:+--cacert "$CURL_TLS"} -D "$T/hdr" \
		-o "$T/body" -w '%{http_code}' -X "$method" "$@" "$U$path")
}

# cookie_of — the session id the last answer set ('' if none)
cookie_of() {
	sed -n 's/^Set-Cookie: sievefs_session=\([^;]*\);.*/\1/Ip' "$T/hdr" | tr -d '\r'
}

# has_header NAME VALUE — the last answer has that header with that value
has_header() {
	tr -d '\r' <"$T/hdr" | grep -qixF -- "$1: $2"
}

CSP="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

# app_headers DESC — the last answer carries every header of the app
app_headers() {
	if has_header Content-Security-Policy "$CSP" &&
		has_header X-Content-Type-Options nosniff &&
		has_header Referrer-Policy no-referrer &&
		has_header X-Frame-Options DENY; then
		pass "$1: the app's headers (CSP, nosniff, no-referrer, DENY)"
	else
		fail "$1: the app's headers are missing"
		sv_show "$T/hdr"
	fi
}

# cookie_has ATTR — the last answer's Set-Cookie has attribute ATTR
cookie_has() {
	local setc attrs
	setc=$(tr -d '\r' <"$T/hdr" | grep -i '^Set-Cookie:')
	attrs=${setc#*;}
	[[ ";${attrs// /};" == *";$1;"* ]]
}

# mkds COOKIE NAME [ORIGIN] — POST /v1/datasets NAME by session cookie
mkds() {
	local origin=()
	[[ -n ${3:-} ]] && origin=(-H "Origin: $3")
	req POST /v1/datasets -b "sievefs_session=$1" "${origin[@]}" \
		--data-binary "{\"name\":\"$2\"}"
}

signin() {  # signin TOKEN [curl args...]
	local tok=$1
	shift
	req POST /app/session -H 'Content-Type: application/json' \
		--data-binary "{\"token\":\"$tok\"}" "$@"
}

serve_on "$T/serve.log" --web-root "$W" --session-ttl 3600 ||
	die "server did not start"
U=http://127.0.0.1:$SPORT
ORIGIN=$U

# ---- sign-in
signin "svf_$(printf '0%.0s' $(seq 64))"
expect_eq 401 "$code" "sign-in with a wrong token: 401"
expect_eq "" "$(cookie_of)" "a wrong token sets no cookie"
signin "$TA" -H "Origin: http://evil.example"
expect_eq 403 "$code" "sign-in from a foreign Origin: 403"
expect_eq "" "$(cookie_of)" "a foreign sign-in sets no cookie"
req POST /app/session --data-binary '{"tok":1}'
expect_eq 400 "$code" "sign-in without a token field: 400"

signin "$TA"
expect_eq 201 "$code" "sign-in with alice's token (no Origin, as curl): 201"
expect_contains "$T/body" '{"user":"alice"}' "sign-in answers the user"
app_headers "sign-in"
C=$(cookie_of)
[[ $C =~ ^[0-9a-f]{64}$ ]] && pass "the session id is 64 hex digits" ||
	fail "session id: [$C]"
setc=$(tr -d '\r' <"$T/hdr" | grep -i '^Set-Cookie:')
for attr in HttpOnly SameSite=Strict Path=/ Max-Age=3600; do
	cookie_has "$attr" && pass "cookie has $attr" || fail "cookie lacks $attr: $setc"
done
if cookie_has Secure; then fail "Secure over http: $setc"; else pass "no Secure over plain http"; fi
[[ $(cat "$T/body") != *"$TA"* && $(cat "$T/hdr") != *"${TA#svf_}"* ]] &&
	pass "the answer holds no token" || fail "the token is in the answer"
signin "$TA" -H "Origin: $ORIGIN"
expect_eq 201 "$code" "sign-in with the server's own Origin: 201"
C2=$(cookie_of)
[[ -n $C2 && $C2 != "$C" ]] && pass "each sign-in is a new session" ||
	fail "second session: [$C2]"

# ---- the cookie on /v1 and /app
req GET /v1/datasets -b "sievefs_session=$C"
expect_eq 200 "$code" "GET /v1/datasets by cookie: 200"
if has_header Content-Security-Policy "$CSP"; then
	fail "a /v1 answer carries the app's CSP (v1 must not change)"
else
	pass "/v1 answers carry none of the app's headers"
fi
req GET /app/session -b "sievefs_session=$C"
expect_eq 200 "$code" "GET /app/session by cookie: 200"
expect_contains "$T/body" '"alice"' "GET /app/session names alice"
req GET /app/session
expect_eq 401 "$code" "GET /app/session signed out: 401"
app_headers "a 401 of /app"

# ---- CSRF: changes by cookie need the server's Origin
mkds "$C" nocsrf
expect_eq 403 "$code" "POST /v1/datasets by cookie without Origin: 403"
expect_contains "$T/body" '"csrf"' "the 403 says csrf"
mkds "$C" evil http://evil.example
expect_eq 403 "$code" "POST /v1/datasets by cookie from a foreign Origin: 403"
mkds "$C" evil "http://127.0.0.1:$((SPORT + 1))"
expect_eq 403 "$code" "... from another port of the same host: 403"
mkds "$C" evil "https://127.0.0.1:$SPORT"
expect_eq 403 "$code" "... with https:// on an http server: 403"
req GET /v1/datasets -H "Authorization: Bearer $TA"
for n in nocsrf evil; do
	if grep -qF "\"name\":\"$n\"" "$T/body"; then
		fail "a refused request made dataset $n"
	else
		pass "no dataset $n was made"
	fi
done
mkds "$C" bycookie "$ORIGIN"
expect_eq 201 "$code" "POST /v1/datasets by cookie with the server's Origin: 201"
expect_contains "$T/body" '"owner":"alice"' "the cookie's dataset is alice's"
req POST /v1/datasets -H "Authorization: Bearer $TB" --data-binary '{"name":"bybearer"}'
expect_eq 201 "$code" "POST /v1/datasets by bearer token without Origin: 201"
req DELETE /app/session -b "sievefs_session=$C2"
expect_eq 403 "$code" "sign-out by cookie without Origin: 403"

# ---- forged cookies
req GET /v1/datasets -b "sievefs_session=$(printf 'ab%.0s' $(seq 32))"
expect_eq 401 "$code" "a forged session id: 401"
req GET /v1/datasets -b "sievefs_session=$TA"
expect_eq 401 "$code" "a token as the cookie: 401"
req GET /v1/datasets -b "sievefs_session=${C:0:63}"
expect_eq 401 "$code" "a truncated session id: 401"

# ---- what the catalog and the log hold
sv_catalog_dump "$STORE" "$T/dump.sql" 2>"$T/sqlite.err" ||
	{ sv_show "$T/sqlite.err"; fail "a dump of the catalog failed"; }
expect_contains "$T/dump.sql" "CREATE TABLE sessions" "the catalog has a sessions table"
rows=$(sv_catalog_sql "$STORE" "SELECT count(*) FROM sessions")
expect_eq 2 "$rows" "two sessions in the catalog"
C_UP=$(tr a-f A-F <<<"$C")
if grep -qiF -e "$C" -e "$C_UP" -e "$C2" "$T/dump.sql"; then
	fail "the catalog holds a session id in plain"
else
	pass "the catalog holds no session id (hashes only)"
fi
if grep -qF -e "${TA#svf_}" -e "$C" -e "$C2" "$T/serve.log"; then
	fail "the server's log holds a token or a session id"
else
	pass "neither token nor session id in the server's log"
fi

# ---- sign-out, then revocation
req DELETE /app/session -b "sievefs_session=$C2" -H "Origin: $ORIGIN"
expect_eq 204 "$code" "sign-out with the Origin: 204"
setc=$(tr -d '\r' <"$T/hdr" | grep -i '^Set-Cookie:')
[[ $setc == *"sievefs_session=;"* && $setc == *"Max-Age=0"* ]] &&
	pass "sign-out clears the cookie" || fail "sign-out cookie: $setc"
req GET /v1/datasets -b "sievefs_session=$C2"
expect_eq 401 "$code" "a signed-out session: 401"
rows=$(sv_catalog_sql "$STORE" "SELECT count(*) FROM sessions")
expect_eq 1 "$rows" "sign-out deleted its row"

req GET /v1/datasets -b "sievefs_session=$C"
expect_eq 200 "$code" "the other session still works"
ok "sievefs token revoke alice's token" "$SIEVEFS" token revoke --store "$STORE" "$TOKID"
req GET /v1/datasets -b "sievefs_session=$C"
expect_eq 401 "$code" "revoking the token ends its session: 401"
req GET /app/session -b "sievefs_session=$C"
expect_eq 401 "$code" "... and GET /app/session: 401"

# ---- static files
req GET /
expect_eq 200 "$code" "GET /: 200"
expect_contains "$T/body" "<p>app</p>" "GET / is index.html"
has_header Content-Type "text/html; charset=utf-8" && pass "index.html is text/html" ||
	{ fail "index.html type"; sv_show "$T/hdr"; }
has_header Cache-Control no-cache && pass "index.html is no-cache" || fail "index.html caching"
app_headers "GET /"
req HEAD /
expect_eq 200 "$code" "HEAD /: 200"
req GET /assets/index-4f2a9c.js
expect_eq 200 "$code" "GET an asset: 200"
expect_contains "$T/body" 'console.log("app")' "the asset's content"
has_header Content-Type "text/javascript; charset=utf-8" && pass "a .js is text/javascript" ||
	{ fail ".js type"; sv_show "$T/hdr"; }
has_header Cache-Control "public, max-age=31536000, immutable" &&
	pass "a hashed asset is cached long" || { fail "asset caching"; sv_show "$T/hdr"; }
app_headers "an asset"
req GET /assets/index-77aa01.css
has_header Content-Type "text/css; charset=utf-8" && pass "a .css is text/css" || fail ".css type"
req GET /datasets/12?x=1
expect_eq 200 "$code" "an app route without an extension: 200"
expect_contains "$T/body" "<p>app</p>" "... is index.html"
req GET /assets/missing.js
expect_eq 404 "$code" "a missing file with an extension: 404"
app_headers "a static 404"
req POST /
expect_eq 405 "$code" "POST /: 405"
req GET /app/other
expect_eq 404 "$code" "an unknown /app route: 404"

for path in /../secret /..%2fsecret /%2e%2e/secret /assets/..%2f..%2fsecret \
	/assets/..%2fsecret /assets/%2e%2e/%2e%2e/secret /assets/leak.txt /up/secret \
	/up /assets/.%2e/.%2e/secret /%00/secret /.%2e/secret "/assets/leak.txt%00.js"; do
	req GET "$path"
	if [[ $code == 404 ]] && ! grep -qF OUTSIDE-SECRET "$T/body"; then
		pass "GET $path: 404, nothing outside the root"
	else
		fail "GET $path: $code"
		sv_show "$T/body"
	fi
done
code=$(curl -s --max-time 5 -o "$T/body" -w '%{http_code}' "$U/assets/pipe.js")
expect_eq 404 "$code" "a FIFO in the root: 404 at once, never opened"
stop_server

# ---- no app to serve
mkdir -p "$T/empty"
serve_on "$T/serve2.log" --web-root "$T/empty" || die "server 2 did not start"
U=http://127.0.0.1:$SPORT
req GET /
expect_eq 404 "$code" "a web root without index.html: 404"
expect_contains "$T/body" "the web app is not installed" "... says the app is not installed"
expect_contains "$T/body" "Node.js" "... and how to build it"
has_header Content-Type "text/plain; charset=utf-8" && pass "... as plain text" ||
	fail "not-installed type"
app_headers "the not-installed page"
stop_server
def=$("$SIEVEFS" serve --help | sed -n '/^  --web-root DIR/{n;n;s/^ *//p}')
serve_on "$T/serve3.log" || die "server 3 did not start"
U=http://127.0.0.1:$SPORT
req GET /
if [[ -z $def ]]; then
	fail "serve --help names no default web root"
elif [[ -f $def/index.html ]]; then
	expect_eq 200 "$code" "no --web-root: the installed app in $def"
else
	expect_eq 404 "$code" "no --web-root and nothing in $def: 404"
	expect_contains "$T/body" "the web app is not installed" "... says the app is not installed"
fi
expect_fail "serve with a --web-root that does not exist" \
	"$SIEVEFS" serve "$STORE" --listen 127.0.0.1:0 --web-root "$T/nothere"
stop_server

# ---- TLS: Secure cookies, https origins; failed sign-ins count
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$T/key.pem" \
	-out "$T/cert.pem" >"$T/openssl.log" 2>&1 || { sv_show "$T/openssl.log"; die "openssl failed"; }
serve_on "$T/serve4.log" --web-root "$W" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" ||
	die "TLS server did not start"
U=https://127.0.0.1:$SPORT
CURL_TLS=$T/cert.pem
signin "$TB"
expect_eq 201 "$code" "sign-in over https: 201"
cookie_has Secure && pass "the cookie is Secure over https" ||
	fail "no Secure over https: $(grep -i '^Set-Cookie:' "$T/hdr")"
C=$(cookie_of)
mkds "$C" tlsplain "http://127.0.0.1:$SPORT"
expect_eq 403 "$code" "https server, http:// Origin: 403"
mkds "$C" tls "$U"
expect_eq 201 "$code" "https server, its own https:// Origin: 201"
for i in $(seq 10); do
	req GET /v1/whoami -H "Authorization: Bearer svf_$(printf '1%.0s' $(seq 64))"
done
expect_eq 401 "$code" "ten wrong bearer tokens: 401"
signin "svf_$(printf '2%.0s' $(seq 64))"
expect_eq 429 "$code" "then a wrong sign-in token from the same address: 429"
signin "$TB"
expect_eq 201 "$code" "a valid sign-in still passes"
stop_server
