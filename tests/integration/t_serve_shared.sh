#!/usr/bin/env bash
#
# t_serve_shared — two `sievefs serve` on one PostgreSQL catalog hold
# nothing in memory the other needs (issue 19, item 3: ETags, tokens, the
# upload cap, request budgets).
#
# Proves, with servers A and B (each its own STORE directory, one
# catalog in a PostgreSQL 15 this test starts with tests/scale/pg.sh):
#   - a listing's ETag and the sample table's gen are the same from both;
#     an If-None-Match of A's ETag gets 304 at B; a change made through B
#     gives A's old ETag a 200 with B's new ETag;
#   - a token revoked through A is refused (401) by B on the next request;
#   - --upload-cap is one cap: bytes kept pending through A count at B
#     (507 at B over it, 201 under it);
#   - --user-rate is one budget: a user alternating between A and B is let
#     through at most the burst (60) plus the refill during the test plus
#     what the two servers held leased (docs/design.md §2.5: 2 × 7), not
#     a burst per server, and both answer 429 with Retry-After after;
#   - `sievefs store renew-epoch` (after restoring a catalog) is refused
#     while the servers hold leases and changes nothing; with them stopped
#     it renews the epoch: an ETag given before gets 200, not 304.
# Counts and statuses only; no time is asserted.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl psql sha256sum

# ---- the catalog: a PostgreSQL of this test's own ----
shared_pg_catalog shared

mkdir -p "$T/a" "$T/b"
tok() {   # tok USER FILE: a token made in the shared catalog
	(umask 077 && "$SIEVEFS" token create --store "$T/a" --catalog "$CAT" \
		"$1" >"$2" 2>"$T/token.err") || { sv_show "$T/token.err"; stop_pg
		die "token create failed"; }
	sed -n 's/.*token \([0-9][0-9]*\) for user.*/\1/p' "$T/token.err"
}
tok alice "$T/alice.tok" >/dev/null
tok bob "$T/bob.tok" >/dev/null
id2=$(tok alice "$T/alice2.tok")
ta=$(cat "$T/alice.tok") tb=$(cat "$T/bob.tok") t2=$(cat "$T/alice2.tok")

opts=(--catalog "$CAT" --upload-cap 3K --user-rate 60/3600)
serve_port "$T/a.log" "$T/a" "${opts[@]}"
UA=$U PA=$SPID
serve_port "$T/b.log" "$T/b" "${opts[@]}"
UB=$U PB=$SPID
at() { U=$1; shift; api "$@"; }   # at URL TOKEN METHOD PATH [CURL-ARGS]
etag() { sed -n 's/^[Ee][Tt][Aa][Gg]: *\([^[:space:]]*\).*/\1/p' "$T/hdr"; }
header() { sed -n "s/^$1: *\\([^[:space:]]*\\).*/\\1/Ip" "$T/hdr"; }

# ---- ETags ----
at "$UA" "$ta" POST /v1/datasets -d '{"name":"shared"}'
expect_code 201 "a dataset made through A"
ds=$(jget '["id"]') root=$(jget '["live_root"]')
at "$UA" "$ta" GET "/v1/nodes/$root/children"
expect_code 200 "A lists the dataset's root"
ea=$(etag)
at "$UB" "$ta" GET "/v1/nodes/$root/children"
expect_code 200 "B lists the same folder"
eb=$(etag)
[[ -n $ea ]] || fail "A's listing carries no ETag"
expect_eq "$ea" "$eb" "the same folder, the same ETag from both servers"
at "$UB" "$ta" GET "/v1/nodes/$root/children" -H "If-None-Match: $ea"
expect_code 304 "A's ETag revalidates at B"
at "$UB" "$ta" POST "/v1/nodes/$root/children" \
	-d '{"name":"d","kind":1,"mode":493,"uid":0,"gid":0,"mtime_ns":"0"}'
expect_code 201 "a folder made through B"
at "$UA" "$ta" GET "/v1/nodes/$root/children" -H "If-None-Match: $ea"
expect_code 200 "A's old ETag after B's change: the new listing, not 304"
ea2=$(etag)
expect_contains "$T/body" '"name":"d"' "A lists what B made"
at "$UB" "$ta" GET "/v1/nodes/$root/children"
expect_eq "$ea2" "$(etag)" "and both answer the new ETag"
at "$UA" "$ta" GET "/v1/datasets/$ds/table"
expect_code 200 "A's sample table"
ga=$(header X-Sievefs-Gen)
at "$UB" "$ta" GET "/v1/datasets/$ds/table"
expect_eq "$ga" "$(header X-Sievefs-Gen)" "the sample table's gen is the same from both"
[[ -n $ga ]] || fail "no X-Sievefs-Gen"

# ---- tokens ----
at "$UB" "$t2" GET /v1/whoami
expect_code 200 "alice's second token works at B"
at "$UA" "$ta" DELETE "/v1/tokens/$id2"
expect_code 204 "revoked through A"
at "$UB" "$t2" GET /v1/whoami
expect_code 401 "B refuses the revoked token at once"

# ---- the upload cap (3 KiB pending per user) ----
put_blob() {   # put_blob URL SIZE SEED: PUT SIZE bytes, status in $code
	head -c "$2" /dev/zero | tr '\0' "$3" >"$T/blob"
	local sha
	sha=$(sha256sum "$T/blob" | cut -d' ' -f1)
	at "$1" "$ta" PUT "/v1/blobs/$sha" --data-binary "@$T/blob" \
		-H 'Content-Type: application/octet-stream'
}
put_blob "$UA" 2000 x
expect_code 201 "2000 bytes kept pending through A"
put_blob "$UB" 2000 y
expect_code 507 "2000 more through B: over the one cap"
expect_contains "$T/body" "upload_quota" "B says why"
put_blob "$UB" 1000 z
expect_code 201 "1000 more through B: within it"
put_blob "$UA" 100 w
expect_code 507 "and A sees B's bytes too"

# ---- the request budget (60 per hour; bob) ----
n=0 c429a=0 c429b=0 other=0
for ((i = 0; i < 200; i++)); do
	if ((i % 2)); then at "$UB" "$tb" GET /v1/whoami; else at "$UA" "$tb" GET /v1/whoami; fi
	case $code in
	200) n=$((n + 1)) ;;
	429) if ((i % 2)); then c429b=$((c429b + 1)); else c429a=$((c429a + 1)); fi
	     [[ -n $(header Retry-After) ]] || fail "a 429 without Retry-After" ;;
	*) other=$((other + 1)) ;;
	esac
	((c429a > 2 && c429b > 2)) && break
done
note "bob: $n requests let through by A and B together, then 429 ($c429a from A, $c429b from B)"
expect_eq 0 "$other" "every answer was 200 or 429"
((n >= 57 && n <= 60 + 1 + 14)) && pass "one budget of 60 for both servers ($n let through)" ||
	fail "bob got $n requests through two servers with a budget of 60 (per server would be ~120)"
((c429a > 0 && c429b > 0)) && pass "both servers answer 429 once it is spent" ||
	fail "429s: A $c429a, B $c429b"
at "$UA" "$ta" GET /v1/whoami
expect_code 200 "alice's budget is her own"

# ---- renew-epoch (a restored catalog): refused while servers run ----
at "$UA" "$ta" GET "/v1/nodes/$root/children"
e_before=$(etag)
"$SIEVEFS" store renew-epoch "$T/a" --catalog "$CAT" 2>"$T/renew.err" &&
	fail "renew-epoch ran while two servers held the catalog"
cat "$T/renew.err"
expect_contains "$T/renew.err" "2 servers on this catalog hold a live lease" \
	"renew-epoch names the live servers"
at "$UB" "$ta" GET "/v1/nodes/$root/children" -H "If-None-Match: $e_before"
expect_code 304 "and changed nothing: the ETag still revalidates"

kill "$PA" "$PB"
wait "$PA" "$PB" 2>/dev/null
"$SIEVEFS" store renew-epoch "$T/a" --catalog "$CAT" 2>"$T/renew.err" ||
	{ sv_show "$T/renew.err"; fail "renew-epoch with the servers stopped"; }
cat "$T/renew.err"
expect_contains "$T/renew.err" "is now" "renew-epoch says the new epoch"
serve_port "$T/a2.log" "$T/a" "${opts[@]}"
UA=$U PA=$SPID
at "$UA" "$ta" GET "/v1/nodes/$root/children" -H "If-None-Match: $e_before"
expect_code 200 "after renew-epoch an ETag given before gets the listing, not 304"
[[ $(etag) != "$e_before" ]] && pass "with a new ETag" || fail "the ETag did not change"
kill "$PA"
wait "$PA" 2>/dev/null
stop_pg
