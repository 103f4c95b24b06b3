#!/usr/bin/env bash
# run-all.sh — every test: the CMocka unit binaries ($UNIT_BINS), then the
# integration suite (tests/integration/run.sh, real mounts). Ends with one
# line "N passed, N failed" counting unit cases and integration scripts, and
# exits non-zero if anything failed or nothing ran.
set -u
cd "$(dirname "$0")/.."
passed=0 failed=0

for bin in ${UNIT_BINS:-}; do
	out=$("$bin" 2>&1); rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	p=${p:-0} f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $bin exited $rc"; f=1
	fi
	passed=$((passed + p)) failed=$((failed + f))
done

out=$(bash tests/integration/run.sh 2>&1); rc=$?
printf '%s\n' "$out"
line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
if [ -z "$line" ]; then
	echo "FAIL integration suite printed no summary (exit $rc)"; failed=$((failed + 1))
else
	p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
	passed=$((passed + p)) failed=$((failed + f))
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
