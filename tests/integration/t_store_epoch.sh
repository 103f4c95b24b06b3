#!/usr/bin/env bash
#
# t_store_epoch — `sievefs store renew-epoch STORE` on an embedded store
# (SQLite catalog): what to run after restoring a backup of catalog.db,
# whose change counters then repeat with other contents. (The PostgreSQL
# case, refused while servers hold leases: t_serve_shared.)
#
# Proves:
# - while `sievefs serve STORE` runs, renew-epoch is refused (exit 1)
#   naming the PID that holds the store, and nothing changes: the
#   listing's ETag still revalidates (304);
# - a restored backup: catalog.db copied, a folder `d` made (ETag e2),
#   the server stopped, the copy put back, renew-epoch (exit 0, "is
#   now"), another folder `x` made: the counters are where they were
#   when e2 was given, with other contents. An If-None-Match of e2 gets
#   200 and the listing with `x` (without the renewal: 304, the client
#   keeps showing `d`);
# - usage errors (no STORE, an unknown option) exit 2 with the usage.
# Statuses and messages only; no time is asserted.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl

serve_alice
tok=$(cat "$T/alice.tok")
etag() { sed -n 's/^[Ee][Tt][Aa][Gg]: *\([^[:space:]]*\).*/\1/p' "$T/hdr"; }

api "$tok" POST /v1/datasets -d '{"name":"ep"}'
expect_code 201 "a dataset"
root=$(jget '["live_root"]')
api "$tok" GET "/v1/nodes/$root/children"
expect_code 200 "its root listed"
e1=$(etag)
[[ -n $e1 ]] || fail "the listing carries no ETag"

# ---- refused while the server owns the store ----
"$SIEVEFS" store renew-epoch "$T/store" 2>"$T/renew.err" &&
	fail "renew-epoch ran while the server had the store"
cat "$T/renew.err"
expect_contains "$T/renew.err" "in use by PID $SERVER_PID" \
	"renew-epoch names the server holding the store"
expect_contains "$T/renew.err" "nothing was changed" "and says nothing changed"
api "$tok" GET "/v1/nodes/$root/children" -H "If-None-Match: $e1"
expect_code 304 "the ETag still revalidates"

# ---- a backup, a change, the backup restored ----
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
cp -a "$T/store/catalog.db" "$T/backup.db"
start_server "$port" || die "sievefs serve did not come back"
api "$tok" POST "/v1/nodes/$root/children" \
	-d '{"name":"d","kind":1,"mode":493,"uid":0,"gid":0,"mtime_ns":"0"}'
expect_code 201 "a folder made after the backup"
api "$tok" GET "/v1/nodes/$root/children"
e2=$(etag)
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
rm -f "$T/store/catalog.db-wal" "$T/store/catalog.db-shm"
cp -a "$T/backup.db" "$T/store/catalog.db"

"$SIEVEFS" store renew-epoch "$T/store" 2>"$T/renew.err" ||
	{ sv_show "$T/renew.err"; fail "renew-epoch on the stopped store"; }
cat "$T/renew.err"
expect_contains "$T/renew.err" "is now" "renew-epoch says the new epoch"
start_server "$port" || die "sievefs serve did not start on the restored store"
# the restored catalog moves on differently: its counters reach the
# values e2 was given for, with another folder in it
api "$tok" POST "/v1/nodes/$root/children" \
	-d '{"name":"x","kind":1,"mode":493,"uid":0,"gid":0,"mtime_ns":"0"}'
expect_code 201 "another folder made on the restored catalog"
api "$tok" GET "/v1/nodes/$root/children" -H "If-None-Match: $e2"
expect_code 200 "the ETag of the lost state gets the listing, not 304"
expect_contains "$T/body" '"name":"x"' "the listing of the restored catalog's state"
[[ $(etag) != "$e2" ]] && pass "with another ETag" || fail "the ETag did not change"

# ---- usage ----
"$SIEVEFS" store renew-epoch 2>"$T/usage.err"
expect_eq 2 "$?" "renew-epoch without STORE: usage (exit 2)"
expect_contains "$T/usage.err" "usage: sievefs store renew-epoch" "with the usage"
"$SIEVEFS" store renew-epoch "$T/store" --blobs s3://b/p 2>"$T/usage.err"
expect_eq 2 "$?" "renew-epoch takes no --blobs (exit 2)"

kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
