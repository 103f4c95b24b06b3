#!/bin/bash
# tests/scale/test-pg.sh BIN... — runs unit test binaries with the store's
# catalog on a throwaway PostgreSQL 15 (pg.sh, stopped in a trap): each
# binary gets SIEVEFS_TEST_CATALOG, so tstore_open puts every store on a
# fresh database of that server (tests/unit/tstore.c). Prints one line
# per binary (its cases passed/failed, and the names of the failed ones)
# and exits non-zero when any failed. `make test-pg` runs it on every
# unit binary.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/pg.sh"
dir=$(mktemp -d /tmp/sievefs-test-pg-XXXXXX) || exit 1
trap 'pg_stop "$dir"; rm -rf "$dir"' EXIT
uri=$(pg_start "$dir") || exit 1
fails=0
for bin in "$@"; do
	log=$dir/$(basename "$bin").log
	if SIEVEFS_TEST_CATALOG=$uri "$bin" >"$log" 2>&1; then
		echo "ok    $(basename "$bin"): $(grep -c '^\[       OK \]' "$log") cases"
		# cases about the SQLite file, which the binary names (tstore.h)
		grep -a 'SQLite-file cases, not run on' "$log" | sed 's/^/      /'
		# and the cases that skipped themselves (each says why in the log)
		skipped=$(grep -a '^\[  SKIPPED \] [a-z_]' "$log" | sed 's/.*\] //' |
			  sort -u | tr '\n' ' ')
		[ -z "$skipped" ] || echo "      skipped: $skipped"
	else
		fails=$((fails + 1))
		echo "FAIL  $(basename "$bin"): $(grep -c '^\[       OK \]' "$log") ok," \
		     "failed: $(grep '^\[  FAILED  \] [a-z_]' "$log" | sed 's/.*\] //' | sort -u | tr '\n' ' ')"
		if [ -n "$TEST_PG_VERBOSE" ]; then
			grep -E '^(ERROR|\[  ERROR|\[   LINE|setup:)' "$log" | head -20
		fi
	fi
done
if [ "$fails" != 0 ]; then
	# what the server refused, for whoever ports the failing SQL
	echo "test-pg: the server's distinct errors (count, error, statement):"
	awk '/ERROR:/ { sub(/.*ERROR: +/, ""); e = $0; next }
	     /STATEMENT:/ && e != "" { sub(/.*STATEMENT: +/, "");
		print e " | " substr($0, 1, 160); e = "" }' "$dir/pg/log" |
		grep -a -v ' | .*\btt\b' | sort | uniq -c | sort -rn | head -40
fi
echo "test-pg: $(( $# - fails )) of $# unit binaries pass with the catalog on PostgreSQL 15"
[ "$fails" = 0 ]
