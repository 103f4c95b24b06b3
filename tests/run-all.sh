#!/usr/bin/env bash
# run-all.sh — every test: the CMocka unit binaries ($UNIT_BINS), then the
# integration suite (tests/integration/run.sh, real mounts). Results stream
# as they come: one line per unit binary as it ends (its full output only
# when it failed), and the integration runner's own PASS/FAIL line per test
# as each ends (copied to a temp file, from which its summary is read). Ends
# with one line "N passed, N failed" counting unit cases and integration
# scripts, and exits non-zero if anything failed or nothing ran.
set -u
cd "$(dirname "$0")/.."
passed=0 failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sievefs-all.XXXXXX") || exit 2
trap 'rm -rf -- "$tmp"' EXIT

for bin in ${UNIT_BINS:-}; do
	start=$SECONDS
	"$bin" >"$tmp/unit.out" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$tmp/unit.out" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$tmp/unit.out" | tail -1)
	p=${p:-0} f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $(basename "$bin") exited $rc"; f=1
	fi
	if [ "$f" -eq 0 ]; then
		echo "PASS $(basename "$bin"): $p cases ($((SECONDS - start)) s)"
	else
		echo "FAIL $(basename "$bin"): $f of $((p + f)) cases failed"
		sed 's/^/    /' "$tmp/unit.out"
	fi
	passed=$((passed + p)) failed=$((failed + f))
done

# SV_TESTS="t_copy t_cli" limits the integration part to those tests.
# shellcheck disable=SC2086
bash tests/integration/run.sh ${SV_TESTS:-} 2>&1 | tee "$tmp/integration.out"
rc=${PIPESTATUS[0]}
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$tmp/integration.out" | tail -1)
if [ -z "$line" ]; then
	echo "FAIL integration suite printed no summary (exit $rc)"; failed=$((failed + 1))
else
	p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
	passed=$((passed + p)) failed=$((failed + f))
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
