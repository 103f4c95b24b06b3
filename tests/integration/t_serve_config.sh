#!/usr/bin/env bash
#
# t_serve_config — `sievefs serve --config FILE`, `sievefs token --config
# FILE` and `serve --blobs SPEC` (api/serve_config.h): the catalog and the
# blob store's credentials in a file only its owner may read, never on
# argv, never shown; the catalog in a real PostgreSQL 15 (SV_CATALOG=pg).
#
# Proves:
# - a config file at 0644 or 0640 is refused (exit 1) by serve and token
#   with the mode and "chmod 600" in the message and no secret; nothing is
#   started (the config's listen port never answers, STORE is not made);
# - bad lines are refused naming FILE:LINE — an unknown key, a key given
#   twice, a line without '=', a key without a value, one s3_ key without
#   the other — and no value of the file is echoed; a setting given both
#   on the command line and in the file is refused (exit 2);
# - a good file at 0600 (comments, blank lines, spaces around '=', a
#   password holding '#' and '=') serves: token create --config writes
#   the token in PostgreSQL with the password from the file, the server
#   started with --config (listen from the file) authenticates it; neither
#   its command line nor its log holds the password;
# - --blobs with a credential in the spec (user:pw@ in the endpoint, an
#   X-Amz-Credential or secret parameter) is refused on argv (exit 2)
#   without echoing it; an S3 spec without any credentials is refused
#   naming AWS_ACCESS_KEY_ID and the config keys; with AWS_ACCESS_KEY_ID
#   and AWS_SECRET_ACCESS_KEY in the environment, or the file's s3_ keys,
#   the credentials are taken (no credentials complaint), and no output
#   holds the secret.

SV_CATALOG=pg
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl psql

psql_su() { psql -qtAX -v ON_ERROR_STOP=1 -d "$SV_PGBASE/${1:-postgres}"; }

# a password holding '#' and '=' (a config value is the rest of the line)
PW="pw#$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')=x"
SK=sk$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
HP=${SV_PGBASE#postgresql://postgres@}
HOST=${HP%:*}
psql_su <<<"CREATE ROLE cfguser LOGIN PASSWORD '$PW';
CREATE DATABASE cfgdb OWNER cfguser TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C';" ||
	die "cannot create the role and database"
hba=$SV_PGDIR/pg/data/pg_hba.conf
{ echo "host all cfguser $HOST/32 scram-sha-256"; cat "$hba"; } >"$T/hba" &&
	cat "$T/hba" >"$hba" || die "cannot edit $hba"
[[ $(psql_su <<<"SELECT pg_reload_conf()") == t ]] || die "pg_reload_conf failed"
ENC_PW=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$PW")
CAT="postgresql://cfguser:$ENC_PW@$HP/cfgdb"

no_secret() {
	if grep -qF -e "$PW" -e "$ENC_PW" -e "$SK" "$1"; then
		fail "$2: a secret is in $(basename "$1")"
	else
		pass "$2"
	fi
}

PORT=$(free_port) || die "no free port"
write_conf() {   # FILE MODE, the lines on stdin
	(umask 077 && cat >"$1") && chmod "$2" "$1"
}

# --- group or others may read it: refused, nothing started
write_conf "$T/open.conf" 644 <<EOC
catalog = $CAT
listen = 127.0.0.1:$PORT
EOC
for m in 644 640; do
	chmod "$m" "$T/open.conf"
	timeout 30 "$SIEVEFS" serve "$T/s1" --config "$T/open.conf" >"$T/mode.out" 2>&1
	expect_eq 1 "$?" "serve --config at 0$m is refused (exit 1)"
	expect_contains "$T/mode.out" "has mode 0$m: group or others may read it" "... the message gives the mode"
	expect_contains "$T/mode.out" "chmod 600" "... and the fix"
	no_secret "$T/mode.out" "... and no secret"
	timeout 30 "$SIEVEFS" token list --store "$T/s1" --config "$T/open.conf" >"$T/mode2.out" 2>&1
	expect_eq 1 "$?" "token --config at 0$m is refused (exit 1)"
	expect_contains "$T/mode2.out" "has mode 0$m" "... with the mode"
done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/whoami")
expect_eq 000 "$code" "nothing listens on the refused config's port"
[[ ! -e $T/s1 ]] && pass "the refused serve made no STORE" || fail "a refused serve made $T/s1"

# --- bad lines: FILE:LINE, never the value
bad_conf() {   # DESC WANT (the file's lines on stdin)
	write_conf "$T/bad.conf" 600
	timeout 30 "$SIEVEFS" serve "$T/s1" --config "$T/bad.conf" >"$T/bad.out" 2>&1
	expect_eq 1 "$?" "$1: refused (exit 1)"
	expect_contains "$T/bad.out" "$2" "... the message says: $2" || sv_show "$T/bad.out"
	no_secret "$T/bad.out" "... without echoing a value"
}
bad_conf "an unknown key" "bad.conf:3: unknown key 'passwd'" <<EOC
# a comment
listen = 127.0.0.1:$PORT
passwd = $PW
EOC
bad_conf "a key given twice" "bad.conf:4: catalog is given twice" <<EOC
catalog = $CAT

   # an indented comment
catalog = $CAT
EOC
bad_conf "a line without '='" "bad.conf:2: not a KEY = VALUE line" <<EOC
listen = 127.0.0.1:$PORT
$SK
EOC
bad_conf "a key without a value" "bad.conf:1: s3_secret_access_key has no value" <<EOC
s3_secret_access_key =
EOC
bad_conf "s3_access_key_id without s3_secret_access_key" \
	"give both s3_access_key_id and s3_secret_access_key, or neither" <<EOC
s3_access_key_id = AK$SK
EOC
bad_conf "a value as a key" "bad.conf:1: unknown key (known:" <<EOC
$SK = 1
EOC
[[ ! -e $T/s1 ]] && pass "no refused serve made STORE" || fail "a refused serve made $T/s1"

write_conf "$T/lst.conf" 600 <<<"listen = 127.0.0.1:$PORT"
timeout 30 "$SIEVEFS" serve "$T/s1" --config "$T/lst.conf" --listen "127.0.0.1:$PORT" >"$T/twice.out" 2>&1
expect_eq 2 "$?" "--listen and the file's listen: refused (exit 2)"
expect_contains "$T/twice.out" "say it once" "... saying to give it once"
write_conf "$T/cat.conf" 600 <<<"catalog = $CAT"
timeout 30 "$SIEVEFS" token list --store "$T/s1" --config "$T/cat.conf" --catalog "$SV_PGBASE/cfgdb" \
	>"$T/twice2.out" 2>&1
expect_eq 2 "$?" "--catalog and the file's catalog: refused (exit 2)"
expect_contains "$T/twice2.out" "give the catalog once" "... saying to give it once"
no_secret "$T/twice2.out" "... and no secret"

# --- a good file: token create and serve with it
write_conf "$T/good.conf" 600 <<EOC
# the team server
  catalog   =   $CAT

listen=127.0.0.1:$PORT
EOC
(umask 077 && timeout 30 "$SIEVEFS" token create --store "$T/s1" --config "$T/good.conf" alice \
	>"$T/alice.tok" 2>"$T/create.err")
expect_eq 0 "$?" "token create --config (the password from the file)" || sv_show "$T/create.err"
no_secret "$T/create.err" "... its message holds no secret"
expect_eq 1 "$(psql_su cfgdb <<<"SELECT count(*) FROM tokens WHERE \"user\" = 'alice'" 2>&1)" \
	"... the token's row is in the PostgreSQL catalog"
"$SIEVEFS" serve "$T/s1" --config "$T/good.conf" >"$T/serve.log" 2>&1 &
SPID=$!
SV_BG+=("$SPID")
code=
for _ in $(seq 100); do
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/whoami")
	[[ $code == 401 ]] && break
	sv_alive "$SPID" || break
	sleep 0.1
done
expect_eq 401 "$code" "serve --config listens where the file says" || sv_show "$T/serve.log"
U=http://127.0.0.1:$PORT
api "$(cat "$T/alice.tok")" GET /v1/whoami
expect_code 200 "alice's token authenticates on the catalog the file names"
tr '\0' '\n' <"/proc/$SPID/cmdline" >"$T/cmdline"
no_secret "$T/cmdline" "the server's command line holds no secret"
kill -TERM "$SPID"
sv_wait_gone "$SPID" 10 && wait "$SPID"
expect_eq 0 "$?" "the server exits 0 on SIGTERM"
no_secret "$T/serve.log" "the server's log holds no secret"

# --- --blobs: no credential on argv; credentials from the environment
S3="s3://sv-bucket/p?endpoint=http://127.0.0.1:9&region=us-east-1"
for spec in "s3://sv-bucket/p?endpoint=http://AK:$SK@127.0.0.1:9&region=us-east-1" \
	"$S3&X-Amz-Credential=$SK" "$S3&aws_secret=$SK"; do
	timeout 30 "$SIEVEFS" serve "$T/s2" --listen 127.0.0.1:0 --blobs "$spec" >"$T/argv.out" 2>&1
	expect_eq 2 "$?" "--blobs with a credential in the spec: refused (exit 2)"
	expect_contains "$T/argv.out" "AWS_ACCESS_KEY_ID" "... saying where credentials go"
	no_secret "$T/argv.out" "... without echoing it"
done
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY timeout 30 "$SIEVEFS" serve "$T/s2" \
	--listen 127.0.0.1:0 --blobs "$S3" >"$T/nocred.out" 2>&1
rc=$?
((rc == 1)) && pass "an S3 spec without credentials: refused (exit 1)" ||
	fail "an S3 spec without credentials: exit $rc"
expect_contains "$T/nocred.out" "AWS_ACCESS_KEY_ID" "... naming the environment's variables"
expect_contains "$T/nocred.out" "s3_access_key_id" "... and the config file's keys"
[[ ! -e $T/s2/catalog.db ]] && pass "... nothing was opened" || fail "a refused serve opened $T/s2"

# credentials taken from the environment, or the file: no complaint about
# them (the endpoint answers nothing, and the engine sends nothing at
# start); any server that starts is stopped
cred_taken() {   # DESC OUT PID-OR-EMPTY
	if grep -qiE "credential|AWS_ACCESS_KEY_ID|s3_access_key_id" "$2"; then
		fail "$1: a complaint about credentials"
		sv_show "$2"
	else
		pass "$1: taken"
	fi
	no_secret "$2" "... no output holds the secret"
}
AWS_ACCESS_KEY_ID=AKTEST AWS_SECRET_ACCESS_KEY=$SK timeout 5 "$SIEVEFS" serve "$T/s3" \
	--listen 127.0.0.1:0 --blobs "$S3" >"$T/envcred.out" 2>&1
cred_taken "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the environment" "$T/envcred.out"
write_conf "$T/s3.conf" 600 <<EOC
blobs = $S3
s3_access_key_id = AKTEST
s3_secret_access_key = $SK
EOC
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY timeout 5 "$SIEVEFS" serve "$T/s3" \
	--listen 127.0.0.1:0 --config "$T/s3.conf" >"$T/filecred.out" 2>&1
cred_taken "s3_access_key_id and s3_secret_access_key from the file" "$T/filecred.out"
timeout 30 "$SIEVEFS" serve "$T/s3" --listen 127.0.0.1:0 --config "$T/s3.conf" --blobs "$S3" >"$T/b2.out" 2>&1
expect_eq 2 "$?" "--blobs and the file's blobs: refused (exit 2)"
