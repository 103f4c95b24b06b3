#!/usr/bin/env bash
#
# tests/scale/test-migrate.sh — `sievefs store migrate` (store/migrate.h)
# from an embedded store made by a real mount into a real PostgreSQL 15
# (tests/scale/pg.sh) and a real Ceph RGW (tests/scale/rgw.sh), both
# started here and stopped in the EXIT trap. Run by `make test-migrate`.
#
# Proves:
# - the source: a server on SQLite (`sievefs serve SRC`) and alice's remote
#   mount of it: 1,500 files (and one folder with spaces), a tag, an
#   explicit selection, an embeddings CSV, a finished sampling run, a token;
# - refusals, nothing written: migrate while SRC's server runs (in use);
#   a target database that holds other data; a --blobs with a secret on
#   argv; a corrupt local blob (its bytes altered) is reported by name, the
#   catalog is not copied, and no object appears under its hash;
# - kill -9 of migrate in the middle of the blob copy, then a re-run:
#   it resumes (blobs already there counted, not sent again) and ends with
#   every table's row count equal to the source's, and a third run copies
#   nothing; the identity sequences are past the copied ids;
# - every blob is in the bucket under PREFIX/blobs/ab/<sha> with exactly
#   its bytes (fetched back with SigV4 curl, hashed);
# - `sievefs serve` on the migrated catalog answers alice's old token with
#   the same dataset listing and tags as before, a remote mount of it shows
#   the same tree and bytes (diff -r), and new rows get new ids (a new
#   dataset's id is above every migrated one).

. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/server_lib.sh"
sv_need_binary
sv_need curl psql sqlite3 sha256sum python3

# --- the engines
PGD=$(mktemp -d /tmp/sievefs-migpg.XXXXXX) || die "mktemp"
RGWD=$(mktemp -d /tmp/sievefs-migrgw.XXXXXX) || die "mktemp"
eval "mig_cleanup_inner() $(declare -f sv_cleanup | tail -n +2)"
sv_cleanup() {
	local mig_rc=$?
	. "$SV_REPO/tests/scale/pg.sh"
	pg_stop "$PGD"
	rm -rf -- "$PGD"
	bash "$SV_REPO/tests/scale/rgw.sh" stop "$RGWD" >/dev/null 2>&1
	(exit "$mig_rc")
	mig_cleanup_inner
}
. "$SV_REPO/tests/scale/pg.sh"
PGURI=$(pg_start "$PGD" 2>"$T/pg.err") || { sv_show "$T/pg.err"; die "PostgreSQL did not start"; }
PGBASE=${PGURI%/*}
note "PostgreSQL at $PGBASE"
bash "$SV_REPO/tests/scale/rgw.sh" start "$RGWD" >"$T/rgw.out" 2>"$T/rgw.err" ||
	{ sv_show "$T/rgw.err"; die "Ceph RGW did not start"; }
set -a && . "$RGWD/s3.env" && set +a
note "RGW at $S3_ENDPOINT, bucket $S3_BUCKET"
BLOBS="s3://$S3_BUCKET/mig?endpoint=$S3_ENDPOINT&region=$S3_REGION"
mkdb() {
	psql -qX -d "$PGBASE/postgres" -c "CREATE DATABASE $1 TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null ||
		die "cannot create database $1"
}
mkdb migdb
CAT=$PGBASE/migdb
pgq() { psql -qtAX -v ON_ERROR_STOP=1 -d "$PGBASE/${2:-migdb}" -c "$1"; }

# --- the source: a server on SQLite and alice's mount of it
SRC=$T/src
remote_mount "$SRC" "$T/m" || die "the source's mount failed"
SRC_PID=$SERVER_PID
SRC_PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$SERVER_LOG" | tail -1)
mkdir "$T/m/pets" || die "mkdir dataset"
sv_gen_tree "$T/orig" 1500 3000 1907
cp -r "$T/orig/." "$T/m/pets/initial-tag/" || die "cp into the mount failed"
ok "every file is in the mount" diff -r "$T/orig" "$T/m/pets/initial-tag"
sv_files "$T/orig" | head -40 >"$T/sel"
cp "$T/sel" "$T/m/pets/selection" || fail "writing the selection failed"
mkdir "$T/m/pets/first40" || fail "mkdir tag first40 failed"
sv_files "$T/orig" | python3 -c '
import sys, random
rng = random.Random(7)
print("filenames,embedding_0,embedding_1,labels")
for p in sys.stdin.read().splitlines():
    q = "\"" + p.replace("\"", "\"\"") + "\"" if ("," in p or "\"" in p) else p
    print("%s,%r,%r,%d" % (q, rng.random(), rng.random(), rng.randint(0, 3)))
' >"$T/emb.csv"
cp "$T/emb.csv" "$T/m/pets/embeddings/mine.csv" || fail "embeddings CSV refused"
sample_req "$T/m/pets" "random n=25 embedding=mine seed=3"
expect_eq done "$(wait_run "$T/m/pets")" "a sampling run finished on the source"
TOK=$(cat "$T/alice.tok")
U=http://127.0.0.1:$SRC_PORT
api "$TOK" GET /v1/datasets
expect_code 200 "the source lists alice's datasets"
cp "$T/body" "$T/datasets.before"
DSID=$(jget "['datasets'][0]['id']")
api "$TOK" GET "/v1/datasets/$DSID/tags"
cp "$T/body" "$T/tags.before"
cat "$T/m/pets/selection" >"$T/sel.before"
sv_umount "$T/m"

# --- refused while the source is in use, nothing written
timeout 60 "$SIEVEFS" store migrate "$SRC" --catalog "$CAT" --blobs "$BLOBS" >"$T/busy.out" 2>&1
expect_eq 1 "$?" "migrate of a store in use is refused (exit 1)"
expect_contains "$T/busy.out" "store in use" "... saying the store is in use"
kill -TERM "$SRC_PID"; wait "$SRC_PID" 2>/dev/null

# --- refusals: argv secret; a target with other data
timeout 60 "$SIEVEFS" store migrate "$SRC" --catalog "$CAT" \
	--blobs "$BLOBS&secret=$AWS_SECRET_ACCESS_KEY" >"$T/argv.out" 2>&1
expect_eq 2 "$?" "a --blobs spec with a secret is refused (exit 2)"
grep -qF "$AWS_SECRET_ACCESS_KEY" "$T/argv.out" && fail "... the refusal echoes it" || pass "... not echoed"
mkdb otherdb
timeout 60 "$SIEVEFS" token create --store "$T/other" --catalog "$PGBASE/otherdb" bob >/dev/null 2>&1 ||
	fail "token create on otherdb failed"
timeout 60 "$SIEVEFS" store migrate "$SRC" --catalog "$PGBASE/otherdb" --blobs "$BLOBS" >"$T/other.out" 2>&1
expect_eq 1 "$?" "a target catalog holding other data is refused (exit 1)"
expect_contains "$T/other.out" "already holds data" "... saying why"
expect_eq 0 "$(pgq 'SELECT count(*) FROM datasets' otherdb)" "... and nothing was copied into it"

# --- a corrupt local blob: named, never stored
victim=$(find "$SRC/blobs" -type f -name '[0-9a-f]*' -size +100c | head -1)
vsha=$(basename "$victim")
cp "$victim" "$T/victim.bak"
chmod u+w "$victim"; printf 'X' | dd of="$victim" bs=1 seek=10 conv=notrunc 2>/dev/null
mkdb corruptdb
timeout 300 "$SIEVEFS" store migrate "$SRC" --catalog "$PGBASE/corruptdb" \
	--blobs "s3://$S3_BUCKET/corrupt?endpoint=$S3_ENDPOINT&region=$S3_REGION" >"$T/corrupt.out" 2>&1
expect_eq 1 "$?" "a corrupt local blob fails the migration (exit 1)"
expect_contains "$T/corrupt.out" "corrupt: blob $vsha" "... naming the blob"
expect_eq 0 "$(pgq 'SELECT count(*) FROM datasets' corruptdb)" "... the catalog was not copied"
s3get() {   # KEY OUT — GET one object with SigV4; prints the HTTP status
	printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" |
		curl -s -K - --aws-sigv4 "aws:amz:$S3_REGION:s3" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
			-o "$2" -w '%{http_code}' "$S3_ENDPOINT/$S3_BUCKET/$1"
}
expect_eq 404 "$(s3get "corrupt/blobs/${vsha:0:2}/$vsha" "$T/obj")" "... and no object is under its hash"
cp "$T/victim.bak" "$victim"

# --- kill -9 in the middle of the blob copy, then resume
"$SIEVEFS" store migrate "$SRC" --catalog "$CAT" --blobs "$BLOBS" >"$T/m1.out" 2>&1 &
MPID=$!
SV_BG+=("$MPID")
for _ in $(seq 600); do
	grep -q "migrate: blobs: [1-9][0-9]* copied" "$T/m1.out" && break
	sv_alive "$MPID" || break
	sleep 0.05
done
if sv_alive "$MPID"; then
	kill -9 "$MPID"; wait "$MPID" 2>/dev/null
	pass "migrate killed with SIGKILL during the blob copy"
else
	fail "migrate ended before it could be killed in the middle"; sv_show "$T/m1.out"
fi
timeout 600 "$SIEVEFS" store migrate "$SRC" --catalog "$CAT" --blobs "$BLOBS" >"$T/m2.out" 2>&1
expect_eq 0 "$?" "the re-run completes" || sv_show "$T/m2.out"
grep -E "^sievefs: migrate: blobs: .* [1-9][0-9]* already there, 0 corrupt" "$T/m2.out" >/dev/null &&
	pass "... resuming: blobs the killed run stored are not sent again" ||
	{ fail "the re-run found no blob already there"; sv_show "$T/m2.out"; }
expect_contains "$T/m2.out" "the source holds 1 datasets" "... the summary counts the datasets"
timeout 600 "$SIEVEFS" store migrate "$SRC" --catalog "$CAT" --blobs "$BLOBS" >"$T/m3.out" 2>&1
expect_eq 0 "$?" "a third run completes"
expect_contains "$T/m3.out" "copied 0 tables (0 rows), 0 blobs (0 bytes)" "... and copies nothing"

# --- every table as in the source
for t in $(sqlite3 "$SRC/catalog.db" "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite%' AND name NOT IN ('meta','schema_version')"); do
	expect_eq "$(sqlite3 "$SRC/catalog.db" "SELECT count(*) FROM $t")" \
		"$(pgq "SELECT count(*) FROM $t")" "table $t: as many rows as the source"
done
expect_eq "$(sqlite3 "$SRC/catalog.db" "SELECT group_concat(ino || ':' || path || ':' || hex(coalesce(sha,'')), ',') FROM (SELECT * FROM nodes ORDER BY ino)")" \
	"$(pgq "SELECT string_agg(ino || ':' || path || ':' || upper(encode(coalesce(sha,''::bytea),'hex')), ',' ORDER BY ino) FROM nodes")" \
	"nodes: the same inos, paths and hashes"

# --- every blob in the bucket, its bytes whole
bad=0 n=0
for f in $(find "$SRC/blobs" -type f -name '[0-9a-f]*' | head -200); do
	s=$(basename "$f")
	n=$((n + 1))
	[[ $(s3get "mig/blobs/${s:0:2}/$s" "$T/obj") == 200 ]] &&
		[[ $(sha256sum <"$T/obj" | cut -d' ' -f1) == "$s" ]] || bad=$((bad + 1))
done
expect_eq "0 of $n" "$bad of $n" "each blob (200 checked) is in S3 with its bytes"
seen=$(sed -n 's/^sievefs: migrate: blobs: \([0-9]*\) copied ([0-9]* bytes), \([0-9]*\) already there, 0 corrupt$/\1+\2/p' "$T/m2.out" | tail -1)
expect_eq "$(find "$SRC/blobs" -type f -name '[0-9a-f]*' | wc -l)" "$((seen))" \
	"the re-run saw every local blob: copied or already there"

# --- sievefs serve on the migrated catalog: same listing, bytes, token
mkdir -p "$T/new"
serve_port "$T/serve.log" "$SRC" --catalog "$CAT"
api "$TOK" GET /v1/datasets
expect_code 200 "alice's old token works on the migrated catalog"
python3 - "$T/datasets.before" "$T/body" <<'PY' && pass "... the same dataset listing" || fail "the dataset listing differs"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
PY
api "$TOK" GET "/v1/datasets/$DSID/tags"
python3 - "$T/tags.before" "$T/body" <<'PY' && pass "... the same tags" || fail "the tags differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
PY
sv_mount "$U" "$T/m2" -o "token_file=$T/alice.tok" -o "cache_dir=$T/m2.cache" ||
	die "mount of the migrated server failed"
ok "the migrated tree has every file with its bytes" diff -r "$T/orig" "$T/m2/pets/initial-tag"
ok "the frozen tag is there" test -d "$T/m2/pets/first40"
expect_eq "$(cat "$T/sel.before")" "$(cat "$T/m2/pets/selection")" "the selection came along"
ok "the embedding is listed" test -e "$T/m2/pets/embeddings/mine.csv"
grep -q "^status: done" "$T/m2/pets/sample" && pass "the sampling run's state came along" ||
	fail "the run's state is not done"
mkdir "$T/m2/birds" || fail "a new dataset on the migrated catalog"
api "$TOK" GET "/v1/datasets?name=birds"
newid=$(jget "['id']")
((newid > DSID)) && pass "a new dataset gets a new id ($newid > $DSID)" ||
	fail "a new dataset's id $newid is not above the migrated $DSID"
sv_umount "$T/m2"
kill -TERM "$SPID"; wait "$SPID" 2>/dev/null
