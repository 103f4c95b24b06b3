#!/usr/bin/env bash
#
# run.sh — run the sievefs integration tests.
#
#   bash tests/integration/run.sh            # every tests/integration/t_*.sh
#   bash tests/integration/run.sh t_copy     # only the named tests
#
# Each test runs in its own bash process under a time limit (SV_TEST_TIMEOUT
# seconds, default 240). Prints "PASS name (N s)" or "FAIL name (N s)" as each
# test ends (with the failing test's output indented below it) and ends with
# exactly one line "N passed, N failed". Exit status is non-zero if any test
# failed. A test that cannot run (missing tool, missing binary) fails; nothing
# is skipped.
# SIEVEFS=/path/to/binary overrides the binary under test.

set -u

here=$(cd "$(dirname "$0")" && pwd)
timeout_s=${SV_TEST_TIMEOUT:-240}

base=$(mktemp -d "${TMPDIR:-/tmp}/sievefs-run.XXXXXX") || exit 2
export SV_TMPBASE=$base
trap 'rm -rf --one-file-system -- "$base"' EXIT

tests=()
if (($# > 0)); then
	for name in "$@"; do
		name=$(basename "$name" .sh)
		tests+=("$here/$name.sh")
	done
else
	for t in "$here"/t_*.sh; do
		[[ -e $t ]] && tests+=("$t")
	done
fi

# Detach any mount a test left behind under our temp base (its daemon then
# exits on its own); report it so the leak is seen.
detach_leftovers() {
	local m leaked=0
	while read -r m; do
		leaked=1
		echo "    leaked mount: $m"
		fusermount3 -uz -- "$m" 2>/dev/null || umount -l -- "$m" 2>/dev/null
	done < <(awk -v b="$base/" 'index($5, b) == 1 { print $5 }' /proc/self/mountinfo)
	return $leaked
}

passed=0
failed=0
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	out="$base/$name.out"
	start=$SECONDS
	if [[ ! -f $t ]]; then
		echo "no such test: $t" >"$out"
		rc=127
	else
		timeout -k 20 "$timeout_s" bash "$t" >"$out" 2>&1
		rc=$?
		((rc == 124)) && echo "# timed out after ${timeout_s} s" >>"$out"
	fi
	if ! detach_leftovers >>"$out" && ((rc == 0)); then
		rc=1
	fi
	echo "# $name took $((SECONDS - start)) s, exit $rc" >>"$out"
	if ((rc == 0)); then
		passed=$((passed + 1))
		echo "PASS $name ($((SECONDS - start)) s)"
	else
		failed=$((failed + 1))
		echo "FAIL $name ($((SECONDS - start)) s)"
		sed 's/^/    /' "$out"
	fi
done

echo "$passed passed, $failed failed"
((failed == 0))
