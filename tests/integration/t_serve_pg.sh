#!/usr/bin/env bash
#
# t_serve_pg — `sievefs serve` and `sievefs token` with the catalog in a
# real PostgreSQL 15 (tests/scale/pg.sh, started here through server_lib.sh's
# SV_CATALOG=pg), the blobs in STORE; how its secrets are given and never
# shown.
#
# Proves: a role with a password (scram-sha-256 on 127.0.0.1) and a wrong
# PGPASSWORD: serve and token exit non-zero with a message naming host,
# port, database and user and saying the password was refused, never
# showing a password; a URI holding a password (user:pw@, password=,
# sslpassword=) on the command line is refused (exit 2) without echoing it; --catalog-file at 0644 (and 0640)
# is refused with the mode in the message, at 0600 and 0400 taken; with the
# right password from PGPASSWORD, ~/.pgpass or a --catalog-file, token
# create / list / revoke work on the PostgreSQL catalog (the rows are in
# PostgreSQL, STORE has no catalog.db), the schema is made at the first
# start, a server started with --catalog-file authenticates the token and
# stops honouring it once revoked, and while PostgreSQL is down answers 503
# saying the catalog did not answer, then 200 once it is back; neither that server's command line
# (/proc/PID/cmdline) nor its log holds the password; a database with
# ENCODING UTF8 is refused with the CREATE DATABASE command that makes a
# right one. Every password here goes to psql on stdin, never on argv.

SV_CATALOG=pg
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl psql

psql_su() { psql -qtAX -v ON_ERROR_STOP=1 -d "$SV_PGBASE/${1:-postgres}"; }   # SQL on stdin

PW=pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
BAD=bad-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
HP=${SV_PGBASE#postgresql://postgres@}          # 127.0.0.1:PORT
HOST=${HP%:*} PGPORT_=${HP#*:}
CAT=postgresql://svuser@$HP/svdb

psql_su <<<"CREATE ROLE svuser LOGIN PASSWORD '$PW';
CREATE DATABASE svdb OWNER svuser TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C';
CREATE DATABASE u8db TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C';" ||
	die "cannot create the role and databases"
# svuser must give its password over TCP; the first matching line wins
hba=$SV_PGDIR/pg/data/pg_hba.conf
{ echo "host all svuser $HOST/32 scram-sha-256"; cat "$hba"; } >"$T/hba" &&
	cat "$T/hba" >"$hba" || die "cannot edit $hba"
[[ $(psql_su <<<"SELECT pg_reload_conf()") == t ]] || die "pg_reload_conf failed"

# no_secret FILE DESC — FILE holds neither password
no_secret() {
	if grep -qF -e "$PW" -e "$BAD" "$1"; then
		fail "$2: a password is in $(basename "$1")"
	else
		pass "$2"
	fi
}

# --- a wrong password: a message naming where, never a password
PGPASSWORD=$BAD timeout 30 "$SIEVEFS" serve "$T/s1" --listen 127.0.0.1:0 \
	--catalog "$CAT" >"$T/wrong.out" 2>&1
rc=$?
((rc != 0 && rc != 124)) && pass "serve with a wrong PGPASSWORD exits non-zero ($rc)" ||
	{ fail "serve with a wrong PGPASSWORD: exit $rc"; sv_show "$T/wrong.out"; }
for w in "host=$HOST" "port=$PGPORT_" "dbname=svdb" "user=svuser" \
	'password authentication failed for user "svuser"' "PGPASSWORD or ~/.pgpass"; do
	expect_contains "$T/wrong.out" "$w" "the message says: $w"
done
no_secret "$T/wrong.out" "the message holds no password"
expect_eq 1 "$(grep -c '^sievefs: cannot connect.*PGPASSWORD or ~/.pgpass$' "$T/wrong.out")" \
	"... in one line" || sv_show "$T/wrong.out"

PGPASSWORD=$BAD timeout 30 "$SIEVEFS" token list --store "$T/s1" --catalog "$CAT" \
	>"$T/wrong2.out" 2>&1
rc=$?
((rc != 0 && rc != 124)) && pass "token list with a wrong PGPASSWORD exits non-zero ($rc)" ||
	fail "token list with a wrong PGPASSWORD: exit $rc"
expect_contains "$T/wrong2.out" "dbname=svdb" "... naming the database"
no_secret "$T/wrong2.out" "... and no password"

(umask 077 && echo "postgresql://svuser:$BAD@$HP/svdb" >"$T/bad.cat")
timeout 30 "$SIEVEFS" token list --store "$T/s1" --catalog-file "$T/bad.cat" >"$T/wrong3.out" 2>&1
rc=$?
((rc != 0 && rc != 124)) && pass "a --catalog-file with a wrong password: exit non-zero ($rc)" ||
	fail "a --catalog-file with a wrong password: exit $rc"
expect_contains "$T/wrong3.out" "password authentication failed" "... the password was refused"
expect_contains "$T/wrong3.out" "user=svuser" "... the message names the user"
no_secret "$T/wrong3.out" "... and holds no password"

# --- a password on the command line is refused, not used
timeout 30 "$SIEVEFS" token list --store "$T/s1" \
	--catalog "postgresql://svuser:not-the-password@$HP/svdb" >"$T/argv.out" 2>&1
expect_eq 2 "$?" "a URI with a password on argv is refused (exit 2)"
expect_contains "$T/argv.out" "PGPASSWORD, ~/.pgpass" "... saying where a password goes"
grep -qF "not-the-password" "$T/argv.out" && fail "... the refusal echoes the password" ||
	pass "... without echoing it"
timeout 30 "$SIEVEFS" serve "$T/s1" --listen 127.0.0.1:0 \
	--catalog "postgresql://$HP/svdb?user=svuser&password=not-the-password" >"$T/argv2.out" 2>&1
expect_eq 2 "$?" "serve: a password= parameter on argv is refused (exit 2)"
timeout 30 "$SIEVEFS" token list --store "$T/s1" \
	--catalog "postgresql://svuser@$HP/svdb?sslmode=disable&sslpassword=not-the-password" >"$T/argv3.out" 2>&1
expect_eq 2 "$?" "an sslpassword= parameter on argv is refused (exit 2)"

# --- --catalog-file: only its owner may read it
(umask 077 && echo "postgresql://svuser:$PW@$HP/svdb" >"$T/cat")
for m in 644 640; do
	chmod "$m" "$T/cat"
	timeout 30 "$SIEVEFS" token list --store "$T/s1" --catalog-file "$T/cat" >"$T/mode.out" 2>&1
	rc=$?
	((rc == 1)) && pass "--catalog-file at 0$m is refused (exit 1)" ||
		fail "--catalog-file at 0$m: exit $rc"
	expect_contains "$T/mode.out" "has mode 0$m: group or others may read it" "... the message gives the mode"
	expect_contains "$T/mode.out" "chmod 600" "... and the fix"
	no_secret "$T/mode.out" "... and no password"
done
[[ ! -e $T/s1/catalog.db ]] && pass "no catalog.db was made in STORE" ||
	fail "a refused or failed open made STORE/catalog.db"

# --- the right password: tokens on the PostgreSQL catalog
chmod 600 "$T/cat"
(umask 077 && timeout 30 "$SIEVEFS" token create --store "$T/s1" --catalog-file "$T/cat" alice \
	>"$T/alice.tok" 2>"$T/create.err")
expect_eq 0 "$?" "token create alice with --catalog-file at 0600" || sv_show "$T/create.err"
TA=$(cat "$T/alice.tok")
[[ $TA == svf_* ]] && pass "the token has the svf_ format" || fail "no token printed: $TA"
AID=$(sed -n "s/.*token \([0-9][0-9]*\) for user 'alice'.*/\1/p" "$T/create.err")
[[ -n $AID ]] && pass "its id is $AID" || fail "no token id in the message"
no_secret "$T/create.err" "token create's message holds no password"
q='SELECT count(*) FROM tokens WHERE "user" = '"'alice'"
expect_eq 1 "$(psql_su svdb <<<"$q" 2>&1)" \
	"the token's row is in the PostgreSQL catalog"
[[ $(psql_su svdb <<<"SELECT count(*) > 0 FROM schema_version") == t ]] &&
	pass "the schema was created at the first open (schema_version)" ||
	fail "no schema_version in svdb"
[[ ! -e $T/s1/catalog.db ]] && pass "STORE has no catalog.db" || fail "STORE/catalog.db exists"

chmod 400 "$T/cat"
ok "token list with --catalog-file at 0400" timeout 30 "$SIEVEFS" token list \
	--store "$T/s1" --catalog-file "$T/cat"
expect_contains "$T/last.out" "alice" "... lists alice"
grep -E "^$AID +alice .* active " "$T/last.out" >/dev/null &&
	pass "... her token active" || { fail "alice's token is not listed active"; sv_show "$T/last.out"; }

PGPASSWORD=$PW ok "token create bob with PGPASSWORD" timeout 30 "$SIEVEFS" token create \
	--store "$T/s1" --catalog "$CAT" bob
mkdir -p "$T/home" && (umask 077 && echo "$HP:svdb:svuser:$PW" >"$T/home/.pgpass")
HOME=$T/home ok "token list with ~/.pgpass" timeout 30 "$SIEVEFS" token list \
	--store "$T/s1" --catalog "$CAT"
expect_contains "$T/last.out" "bob" "... lists bob"

# --- serve from the file: the token authenticates; revoked, it does not
serve_port "$T/serve.log" "$T/s1" --catalog-file "$T/cat"
api "$TA" GET /v1/whoami
expect_code 200 "alice's token authenticates against the PostgreSQL catalog"
expect_eq alice "$(jget "['user']" 2>/dev/null)" "... as alice"
api "$TA" POST /v1/datasets -H 'Content-Type: application/json' -d '{"name":"pets"}'
expect_code 201 "alice creates a dataset"
[[ $(psql_su svdb <<<"SELECT name FROM datasets") == pets ]] &&
	pass "... a row of the PostgreSQL catalog" || fail "no dataset row in svdb"
tr '\0' '\n' <"/proc/$SPID/cmdline" >"$T/cmdline"
no_secret "$T/cmdline" "the server's command line holds no password"
expect_contains "$T/serve.log" "the catalog is in PostgreSQL" "the log says where the catalog is"

# --- the catalog down: 503 saying so (a retry may pass), and back after
pg_halt "$SV_PGDIR" >/dev/null 2>&1 || fail "pg.sh halt failed"
api "$TA" GET /v1/whoami
expect_code 503 "PostgreSQL down: the token cannot be checked"
expect_contains "$T/body" "the catalog did not answer" "... the answer says the catalog did not answer"
expect_contains "$T/body" "retry shortly" "... and that a retry may pass"
no_secret "$T/body" "... and holds no password"
pg_resume "$SV_PGDIR" >/dev/null 2>&1 || fail "pg.sh resume failed"
for _ in $(seq 100); do
	api "$TA" GET /v1/whoami
	[[ $code == 200 ]] && break
	sleep 0.1
done
expect_code 200 "PostgreSQL back: the token authenticates again"
# every worker thread's session died with the restart: none may answer
# 503 for it (each reconnects before its first statement)
n503=0
for _ in $(seq 40); do
	api "$TA" GET /v1/whoami
	[[ $code == 200 ]] || n503=$((n503 + 1))
done
expect_eq 0 "$n503" "40 requests after the restart: no answer but 200"

PGPASSWORD=$PW ok "token revoke alice's token" timeout 30 "$SIEVEFS" token revoke \
	--store "$T/s1" --catalog "$CAT" "$AID"
api "$TA" GET /v1/whoami
expect_code 401 "the revoked token is refused at once"
PGPASSWORD=$PW ok "token list" timeout 30 "$SIEVEFS" token list --store "$T/s1" --catalog "$CAT"
grep -E "^$AID +alice .* revoked " "$T/last.out" >/dev/null &&
	pass "... shows it revoked" || { fail "the token is not listed revoked"; sv_show "$T/last.out"; }
kill -TERM "$SPID"
sv_wait_gone "$SPID" 10 && wait "$SPID"
expect_eq 0 "$?" "the server exits 0 on SIGTERM"
no_secret "$T/serve.log" "the server's log holds no password"

# --- a database that is not SQL_ASCII
timeout 30 "$SIEVEFS" token list --store "$T/s2" --catalog "$SV_PGBASE/u8db" >"$T/u8.out" 2>&1
rc=$?
((rc != 0 && rc != 124)) && pass "a UTF8 database is refused (exit $rc)" ||
	fail "a UTF8 database: exit $rc"
expect_contains "$T/u8.out" "has ENCODING 'UTF8'" "... the message names its encoding"
expect_contains "$T/u8.out" "CREATE DATABASE u8db TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'" \
	"... and gives the CREATE DATABASE command"
timeout 30 "$SIEVEFS" serve "$T/s2" --listen 127.0.0.1:0 --catalog "$SV_PGBASE/u8db" >"$T/u8s.out" 2>&1
rc=$?
((rc != 0 && rc != 124)) && pass "serve refuses it too (exit $rc)" || fail "serve on a UTF8 database: exit $rc"
expect_contains "$T/u8s.out" "CREATE DATABASE u8db" "... with the command"
