#!/usr/bin/env bash
#
# t_tag_busy — `mkdir TAG` while a sampling run of the dataset is queued or
# running, on a local mount and on a remote one (same core/ code behind the
# server).
#
# Proves: while a sample request is queued (behind another dataset's long
# `embed`: one worker runs the requests of a store one at a time) `mkdir
# DS/TAG` fails with EBUSY ("Device or resource busy"), creates nothing, and
# `log` says which run is in the way and names the command that waits for it
# (`sievefs sample MOUNT/DS`, no request), which, started while the run is
# queued, waits and prints its result (Ctrl-C stops that wait and leaves
# the run running); the same while a sample
# request is running; an `embed` run does not block a tag (it does not
# change the selection); once the run is done (or cancelled) mkdir works and
# the tag holds the run's picks (3 samples), or the unchanged selection.
# `sievefs sample DS REQ && mkdir DS/TAG` works (the CLI waits for the run).
# Also on both: an empty request is EINVAL with its reason in `sample`.
#
# Timing: the blocker embeds 200 black 4000x4000 PNGs (distinct bytes, a
# tEXt chunk with a counter; tens of milliseconds each to decode), seconds of
# work, while each mkdir follows its state check within milliseconds. Nothing
# asserts a time: the state is read back after each refused mkdir, and a run
# that had already ended would make the status check fail loudly.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl grep mountpoint fusermount3
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
"$PY" -c 'import PIL' 2>/dev/null || die "$PY cannot import PIL (apt-get install python3-pil)"

NBIG=200
big=$T/big
small=$T/small
mkdir -p "$big" "$small"
sv_slow_pngs "$big" "$NBIG" big || die "cannot make the test images"
"$PY" - "$small" <<'EOF' || die "cannot make the test files"
import sys
sd = sys.argv[1]
# 20 small samples and a 2-D embedding of them: 4 clusters
with open("%s/emb.csv" % sd, "w") as f:
    f.write("filenames,embedding_0,embedding_1,labels\n")
    for i in range(20):
        name = "f%02d.txt" % i
        open("%s/%s" % (sd, name), "w").write("sample %d\n" % i)
        f.write("%s,%d.%d,%d.5,0\n" % (name, (i % 4) * 10, i, (i % 4) * 7))
EOF

# status DS — the status: line of DS/sample
status() { sed -n 's/^status: //p' "$1/sample"; }

# wait_status DS WANT — poll until DS/sample shows status WANT (≤ 60 s)
wait_status() {
	local i
	for ((i = 0; i < 600; i++)); do
		[[ $(status "$1") == "$2" ]] && return 0
		sleep 0.1
	done
	return 1
}

# busy_flow MNT LABEL — the whole scenario on a mount
busy_flow() {
	local m=$1 L=$2 slow=$1/slow fast=$1/fast st
	ok "$L: mkdir datasets" mkdir "$slow" "$fast"
	ok "$L: cp $NBIG big PNGs into slow" cp -r "$big/." "$slow/initial-tag/"
	ok "$L: cp 20 samples into fast" cp "$small"/f*.txt "$fast/initial-tag/"
	ok "$L: cp the embedding into fast" cp "$small/emb.csv" "$fast/embeddings/emb.csv"

	# an empty request is refused here too (the server runs the same check)
	expect_errno "Invalid argument" bash -c 'echo > "$1"' _ "$fast/sample"
	expect_contains "$fast/sample" "rejected: empty request" "$L: sample says the empty request was rejected"

	# --- queued
	ok "$L: slow: embed" sample_req "$slow" embed
	wait_status "$slow" running || fail "$L: slow's embed never showed status: running"
	ok "$L: fast: coreset n=3" sample_req "$fast" "coreset n=3"
	expect_eq queued "$(status "$fast")" "$L: fast's run is queued behind slow's embed"
	expect_errno "Device or resource busy" mkdir "$fast/best"
	st=$(status "$fast")
	expect_eq queued "$st" "$L: fast's run was still queued when mkdir was refused"
	ok "$L: no tag was created" test ! -e "$fast/best"
	expect_contains "$fast/log" "tag 'best' not created: sampling run 1 is queued and will replace the selection" \
		"$L: log says which run is in the way"
	expect_contains "$fast/log" "wait for it with \`sievefs sample MOUNT/fast\` (with no request it waits for the run in progress)" \
		"$L: log names the command that waits"
	# that command, started while the run is queued, waits for it
	"$SIEVEFS" sample "$fast" >"$T/wait.out" 2>"$T/wait.err" &
	local waiter=$!
	SV_BG+=("$waiter")
	# an embed run does not change the selection: tagging slow is fine
	ok "$L: mkdir slow/v1 during slow's embed" mkdir "$slow/v1"
	expect_eq "$NBIG" "$(find "$slow/v1" -type f | wc -l)" "$L: slow/v1 holds every sample"
	expect_eq queued "$(status "$fast")" "$L: fast's run still queued while sievefs sample fast waits"
	ok "$L: slow: cancel" sample_req "$slow" cancel
	wait "$waiter"
	expect_eq 0 $? "$L: sievefs sample fast (no request) exits 0 once the run is done"
	expect_contains "$T/wait.out" "done: run 1 picked 3 of 20 in" "$L: ... and prints the run's result"
	expect_eq done "$(wait_run "$fast")" "$L: fast's run ends done"
	ok "$L: mkdir fast/best once the run is done" mkdir "$fast/best"
	expect_eq 3 "$(find "$fast/best" -type f | wc -l)" "$L: fast/best holds the 3 picks"
	# the README's flow: the CLI waits, then mkdir works at once
	ok "$L: sievefs sample fast coreset n=4 && mkdir fast/best4" \
		bash -c '"$1" sample "$2" coreset n=4 >/dev/null && mkdir "$2/best4"' _ "$SIEVEFS" "$fast"
	expect_eq 4 "$(find "$fast/best4" -type f | wc -l)" "$L: fast/best4 holds the 4 picks"

	# --- running: a sample request over the built-in embedding of slow
	# (its features are mostly not cached yet: the embed was cancelled)
	ok "$L: slow: n=5 (embeds first)" sample_req "$slow" "n=5"
	wait_status "$slow" running || fail "$L: slow's n=5 never showed status: running"
	expect_errno "Device or resource busy" mkdir "$slow/v2"
	expect_eq running "$(status "$slow")" "$L: slow's run was still running when mkdir was refused"
	# Ctrl-C while only waiting stops the wait, not the run
	timeout --preserve-status -s INT 1 "$SIEVEFS" sample "$slow" >"$T/int.out" 2>"$T/int.err"
	expect_eq 1 $? "$L: sievefs sample slow (no request), Ctrl-C: exits 1"
	expect_contains "$T/int.err" "stopped waiting; the run goes on" "$L: ... saying the run goes on"
	expect_eq running "$(status "$slow")" "$L: slow's run still running after the waiter's Ctrl-C"
	ok "$L: no tag v2" test ! -e "$slow/v2"
	expect_contains "$slow/log" "tag 'v2' not created: sampling run 2 is running" \
		"$L: log names the running run"
	ok "$L: slow: cancel" sample_req "$slow" cancel
	expect_eq cancelled "$(wait_run "$slow")" "$L: slow's run ends cancelled"
	ok "$L: mkdir slow/v2 after the cancel" mkdir "$slow/v2"
	expect_eq "$NBIG" "$(find "$slow/v2" -type f | wc -l)" "$L: slow/v2 holds the unchanged selection"
}

sv_mount "$T/local-store" "$T/mnt" || die "mount failed"
busy_flow "$T/mnt" local
sv_umount "$T/mnt"

remote_mount "$T/store" "$T/rmnt" || die "no remote mount"
busy_flow "$T/rmnt" remote
sv_umount "$T/rmnt"
