#!/usr/bin/env bash
# bench/web/run.sh — the web app's speed (issue 17), in headless Chromium
# (SwiftShader WebGL here: absolute frame times mean little, so the bare
# WebGL page bare.html is measured in the same run and ratios are printed).
#
#   bash bench/web/run.sh [--samples 100000] [--big 1000000] [--runs 5]
#                         [--store DIR]
#
# Needs ./sievefs (or $SIEVEFS) and web/dist built (make), /usr/bin/chromium.
# Prints the command, the load average before and after, then: medians of
# 5 (bench.mjs says what each figure is), the app's JavaScript gzipped
# (gzip -9 of web/dist/assets/*.js, target ≤ 250 KiB), and thumbnails/s cold
# and cached (bench/thumbs.sh).
# --store DIR keeps the store (the 100,000- and 1,000,000-sample datasets
# take minutes to make through the API) and reuses it on the next run.
set -euo pipefail
cd "$(dirname "$0")/../.."
export SIEVEFS=${SIEVEFS:-$PWD/sievefs}
echo "command: bash bench/web/run.sh $*"
echo "machine: $(nproc) cores, $(chromium --version 2>/dev/null | head -1), node $(node --version)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
node bench/web/bench.mjs "$@"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

total=0
for f in web/dist/assets/*.js; do
	n=$(gzip -9 -c "$f" | wc -c)
	total=$((total + n))
	printf '  %-40s %7d bytes gzipped\n' "$(basename "$f")" "$n"
done
awk -v t="$total" 'BEGIN { printf "app JavaScript, gzip -9: %.1f KiB (target ≤ 250 KiB)\n", t / 1024 }'

echo "--- bench/thumbs.sh (thumbnails/s cold and cached)"
bash bench/thumbs.sh
