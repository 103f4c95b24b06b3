#!/usr/bin/env bash
# run-all.sh — every test: the CMocka unit binaries ($UNIT_BINS), then the
# integration suite (tests/integration/run.sh, real mounts), then the web
# app's Vitest unit tests (web/src/**/*.test.ts) and its browser tests
# (tests/web/*.test.mjs: node --test, playwright-core, Chromium). Results stream
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

# UNIT_NOCAT_BINS: those of them that must open no catalog (make test-pg
# leaves them out); SIEVEFS_TEST_NO_CATALOG=1 makes tstore.c fail one that does
for bin in ${UNIT_BINS:-}; do
	start=$SECONDS
	nocat=
	case " ${UNIT_NOCAT_BINS:-} " in *" $bin "*) nocat=1 ;; esac
	SIEVEFS_TEST_NO_CATALOG=$nocat "$bin" >"$tmp/unit.out" 2>&1
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

# SV_TESTS="t_copy t_cli" limits the integration part to those tests; the
# words `vitest` and `web` in it name the web app's unit and browser tests
# (SV_TESTS="web" runs only the browser tests; without SV_TESTS all run);
# `pg`, `s3`, `migrate` and `deploy` name the Makefile's engine runs
# (test-pg, test-s3, test-migrate; test-deploy, test-deploy-faults and
# test-deploy-web), which `make test` starts after this script.
# SV_WEB_TESTS names the browser test files (default tests/web/*.test.mjs;
# make test-deploy-web: app.test.mjs only).
itests='' run_vitest=${SV_TESTS:+no} run_web=${SV_TESTS:+no}
for t in ${SV_TESTS:-}; do
	case $t in
	vitest) run_vitest=yes ;;
	web) run_web=yes ;;
	pg | s3 | migrate | deploy) ;;
	*) itests+=" $t" ;;
	esac
done
run_vitest=${run_vitest:-yes} run_web=${run_web:-yes}

# SV_SKIP="t_a web" (without SV_TESTS) runs everything but those: the
# integration scripts named, and `web` / `vitest` for the web app's tests
# (make check-asan leaves out the slowest scripts whose C paths others
# cover too, which CI's time cannot pay twice). Each one left out is said.
if [ -z "${SV_TESTS:-}" ] && [ -n "${SV_SKIP:-}" ]; then
	for f in tests/integration/t_*.sh; do
		t=$(basename "$f" .sh)
		case " $SV_SKIP " in *" $t "*) echo "SKIP $t (SV_SKIP)" ;; *) itests+=" $t" ;; esac
	done
	case " $SV_SKIP " in *" web "*) run_web=no; echo "SKIP browser tests (SV_SKIP)" ;; esac
	case " $SV_SKIP " in *" vitest "*) run_vitest=no; echo "SKIP vitest (SV_SKIP)" ;; esac
fi

if [ -z "${SV_TESTS:-}" ] || [ -n "$itests" ]; then
	# shellcheck disable=SC2086
	bash tests/integration/run.sh $itests 2>&1 | tee "$tmp/integration.out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$tmp/integration.out" | tail -1)
	if [ -z "$line" ]; then
		echo "FAIL integration suite printed no summary (exit $rc)"; failed=$((failed + 1))
	else
		p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
		passed=$((passed + p)) failed=$((failed + f))
		[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
	fi
fi

# The web app's tests need Node.js >= 18 (and, for the browser tests,
# /usr/bin/chromium and the built web/dist). Without node they are skipped
# with a line saying so — except in CI (CI=true), where that is a failure.
node_ok=no
node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' \
	>/dev/null 2>&1 && [ -d web/node_modules ] && node_ok=yes
if [ "$node_ok" = no ] && { [ "$run_vitest" = yes ] || [ "$run_web" = yes ]; }; then
	if [ "${CI:-}" = true ]; then
		echo "FAIL web tests: no Node.js >= 18 or no web/node_modules (make web-deps)"
		failed=$((failed + 1))
	else
		echo "SKIP web tests: no Node.js >= 18 or no web/node_modules (make web-deps)"
	fi
	run_vitest=no run_web=no
fi

if [ "$run_vitest" = yes ]; then
	start=$SECONDS
	(cd web && npx --no-install vitest run --reporter=default) \
		>"$tmp/vitest.out" 2>&1
	rc=$?
	line=$(sed 's/\x1b\[[0-9;]*m//g' "$tmp/vitest.out" | grep -E '^ *Tests +' | tail -1)
	p=$(sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p' <<<"$line")
	f=$(sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p' <<<"$line")
	p=${p:-0} f=${f:-0}
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	[ "$p" -eq 0 ] && [ "$f" -eq 0 ] && f=1   # no case ran: not a pass
	if [ "$f" -eq 0 ]; then
		echo "PASS vitest: $p cases ($((SECONDS - start)) s)"
	else
		echo "FAIL vitest: $f of $((p + f)) cases failed (exit $rc)"
		sed 's/^/    /' "$tmp/vitest.out"
	fi
	passed=$((passed + p)) failed=$((failed + f))
fi

if [ "$run_web" = yes ]; then
	start=$SECONDS
	# the spec reporter streams to the terminal, TAP goes to a file for the
	# counts; tests/web/harness.mjs says what the tests need
	# shellcheck disable=SC2086
	SIEVEFS=${SIEVEFS:-$PWD/sievefs} node --test \
		--test-reporter=spec --test-reporter-destination=stdout \
		--test-reporter=tap --test-reporter-destination="$tmp/web.tap" \
		${SV_WEB_TESTS:-tests/web/*.test.mjs} 2>&1 | sed 's/^/    /'
	rc=${PIPESTATUS[0]}
	p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tmp/web.tap" | tail -1)
	f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tmp/web.tap" | tail -1)
	p=${p:-0} f=${f:-0}
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	if [ "$f" -eq 0 ] && [ "$p" -gt 0 ]; then
		echo "PASS browser tests (tests/web): $p cases ($((SECONDS - start)) s)"
	else
		[ "$p" -eq 0 ] && [ "$f" -eq 0 ] && f=1
		echo "FAIL browser tests (tests/web): $f of $((p + f)) cases failed (exit $rc)"
	fi
	passed=$((passed + p)) failed=$((failed + f))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
