#!/usr/bin/env bash
#
# t_crash_loop — kill -9 of the daemon at random moments, round after round,
# never loses an acknowledged file, never shows a partial one, and never
# leaves the store inconsistent.
#
# Each of SV_CRASH_ROUNDS rounds (default 20), on one store:
#   1. `cp -r` of a fixed source tree (400 files, 1 KiB-2 MiB, log-uniform
#      sizes: mostly small, some large) into initial-tag/cN/, and at the same
#      time a Python writer creating fresh random files (so new blobs, where
#      cp's copies dedup against earlier rounds) in initial-tag/wN/; the
#      writer logs "open REL SHA" before each open() and "ack REL" once
#      close() returned success;
#   2. after a random 0.2-1.5 s, SIGKILL of the daemon; the dead mount is
#      detached and the same STORE mounted again;
#   3. checks, after the remount:
#      - no acknowledged file lost: every "ack" of this round and of the
#        previous round (which has now survived two crashes) is present
#        with its exact bytes (sha256); the one file in flight is absent
#        or whole; nothing the writer never opened exists;
#      - no partial file: every file under cN has its source's bytes;
#      - `PRAGMA integrity_check` of catalog.db prints "ok";
#      - the blob files under STORE/blobs/ are exactly the distinct hashes
#        that nodes reference (nodes.sha): none missing, none orphaned;
#      - STORE/staging/ is empty (uploads in progress were discarded).
#      (A `lock` file — the store's owner lock — is neither a blob nor a
#      staging leftover.)
#   4. rm -r of cN and of the previous round's wN through the mount, which
#      drops references, so the next round's blob check also covers
#      collection after deletes.
# At the end: a clean unmount, and the same catalog and blob checks once more.
#
# Randomness (file sizes, contents, kill moments) comes from one seed,
# printed first; SV_CRASH_SEED=N replays a run.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need python3 sqlite3 sha256sum mountpoint fusermount3 find

rounds=${SV_CRASH_ROUNDS:-20}
seed=${SV_CRASH_SEED:-$(( $(date +%s%N) % 1000000 ))}
note "seed $seed (replay: SV_CRASH_SEED=$seed), $rounds rounds"
RANDOM=$seed

store=$T/store
mnt=$T/mnt
src=$T/src

# ------------------------------------------------------------ source tree
python3 - "$src" "$seed" <<'EOF' || die "could not generate the source tree"
import math, os, random, sys
root, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
for i in range(400):
    d = os.path.join(root, "d%02d" % (i % 7), "e%d" % (i % 3))
    os.makedirs(d, exist_ok=True)
    size = int(math.exp(rng.uniform(math.log(1024), math.log(2 << 20))))
    with open(os.path.join(d, "f%03d.bin" % i), "wb") as f:
        f.write(rng.randbytes(size))
EOF
(cd "$src" && find . -type f -printf '%P\0' | xargs -0 sha256sum | sed 's/^\([0-9a-f]*\)  /\1 /') >"$src.sha" ||
	die "could not hash the source tree"
note "source: $(wc -l <"$src.sha") files, $(du -sh "$src" | cut -f1)"

cat >"$T/writer.py" <<'EOF'
# writer.py DIR LOG SEED — creates files of fresh random bytes in DIR until
# killed or the mount dies; LOG gets "open REL SHA" before each open() and
# "ack REL" once close() returned success (line-buffered: on disk at once).
# Every name is resolved from a descriptor of DIR taken while mounted: after
# the daemon dies that descriptor fails (ENOTCONN), where a path would reach
# the bare mountpoint folder once the dead mount is detached.
import hashlib, math, os, random, sys
root, log, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)
with open(log, "w", buffering=1) as out:
    try:
        os.mkdir(root)
        top = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        sys.exit(0)
    for i in range(100000):
        size = int(math.exp(rng.uniform(math.log(1024), math.log(2 << 20))))
        data = rng.randbytes(size)
        sub = "s%02d" % (i // 50)
        rel = "%s/w%05d.bin" % (sub, i)
        out.write("open %s %s\n" % (rel, hashlib.sha256(data).hexdigest()))
        try:
            if i % 50 == 0:
                os.mkdir(sub, dir_fd=top)
            fd = os.open(rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644,
                         dir_fd=top)
            with open(fd, "wb") as f:
                f.write(data)
        except OSError:
            sys.exit(0)   # the daemon died: expected
        out.write("ack %s\n" % rel)
EOF

cat >"$T/check.py" <<'EOF'
# check.py DS SRC ROUND [WLOG DIR]... — prints "key=value" counts:
#   cp_present cp_bad cp_extra  for DS/initial-tag/cROUND against SRC
#   acked lost wbad wextra inflight  for each (writer log, its folder)
import hashlib, os, sys

def sha(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()

def files(root):
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            yield os.path.relpath(p, root), p

ds, src, rnd = sys.argv[1], sys.argv[2], sys.argv[3]
srcsha = dict(line.split(" ", 1)[::-1] for line in
              open(src + ".sha").read().splitlines())
c = dict(cp_present=0, cp_bad=0, cp_extra=0, acked=0, lost=0, wbad=0,
         wextra=0, inflight=0)
croot = os.path.join(ds, "initial-tag", "c" + rnd)
for rel, p in files(croot):
    c["cp_present"] += 1
    s = os.path.join(src, rel)
    if rel not in srcsha:
        c["cp_extra"] += 1
        print("cp: unexpected file", rel, file=sys.stderr)
    elif sha(p) != srcsha[rel]:
        c["cp_bad"] += 1
        print("cp: partial or wrong file", rel, os.path.getsize(p),
              "bytes, source", os.path.getsize(s), file=sys.stderr)
args = sys.argv[4:]
for log, wroot in zip(args[0::2], args[1::2]):
    want, acked, order = {}, set(), []
    for line in open(log):
        parts = line.split()
        if len(parts) == 3 and parts[0] == "open":
            want[parts[1]] = parts[2]
            order.append(parts[1])
        elif len(parts) == 2 and parts[0] == "ack":
            acked.add(parts[1])
    c["acked"] += len(acked)
    seen = dict(files(wroot)) if os.path.isdir(wroot) else {}
    for rel in acked:
        if rel not in seen:
            c["lost"] += 1
            print("acknowledged but missing:", wroot, rel, file=sys.stderr)
    for rel, p in seen.items():
        if rel not in want:
            c["wextra"] += 1
            print("a file the writer never opened:", rel, file=sys.stderr)
        elif sha(p) != want[rel]:
            c["wbad"] += 1
            print("wrong bytes:", wroot, rel, "acked" if rel in acked else
                  "in flight", os.path.getsize(p), file=sys.stderr)
        elif rel not in acked:
            c["inflight"] += 1
print(" ".join("%s=%d" % kv for kv in c.items()))
EOF

# store_check WHEN — catalog integrity, blobs = referenced hashes, no staging.
store_check() {
	local when=$1 out bad=0
	out=$(sqlite3 "$store/catalog.db" 'PRAGMA integrity_check' 2>&1)
	[[ $out == ok ]] || { fail "$when: integrity_check says: $(head -c 300 <<<"$out")"; bad=1; }
	sqlite3 "$store/catalog.db" \
		'SELECT DISTINCT lower(hex(sha)) FROM nodes WHERE sha IS NOT NULL' \
		2>"$T/refs.err" | sort >"$T/refs.txt"
	[[ -s $T/refs.err ]] && { fail "$when: cannot list nodes.sha: $(head -c 300 "$T/refs.err")"; bad=1; }
	find "$store/blobs" -type f ! -name lock -printf '%f\n' 2>/dev/null |
		sort >"$T/blobs.txt"
	if ! cmp -s "$T/refs.txt" "$T/blobs.txt"; then
		fail "$when: $(wc -l <"$T/blobs.txt") blob files but" \
			"$(wc -l <"$T/refs.txt") distinct hashes referenced;" \
			"missing: $(comm -23 "$T/refs.txt" "$T/blobs.txt" | wc -l)," \
			"orphans: $(comm -13 "$T/refs.txt" "$T/blobs.txt" | wc -l)"
		bad=1
	fi
	out=$(find "$store/staging" -mindepth 1 ! -name lock 2>/dev/null | head -3)
	[[ -z $out ]] || { fail "$when: staging not empty: $(tr '\n' ' ' <<<"$out")"; bad=1; }
	return $bad
}

sv_mount "$store" "$mnt" || die "mount failed"
mkdir "$mnt/ds" || die "cannot create a dataset"
dst=$mnt/ds/initial-tag

tot_acked=0 tot_cp=0 bad_rounds=0 missed=0
for ((r = 1; r <= rounds; r++)); do
	wlog=$T/w$r.log
	: >"$wlog"
	delay_ms=$((200 + RANDOM % 1301))
	cp -r "$src/." "$dst/c$r" >"$T/cp.out" 2>&1 &
	cp_pid=$!
	python3 "$T/writer.py" "$dst/w$r" "$wlog" "$((seed * 100 + r))" \
		>"$T/writer.out" 2>&1 &
	w_pid=$!
	SV_BG+=("$cp_pid" "$w_pid")
	sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
	sv_alive "$cp_pid" || missed=$((missed + 1))
	sv_kill9 "$mnt" || die "round $r: could not detach the dead mount"
	sv_wait_gone "$cp_pid" 30 || { fail "round $r: cp still running 30 s after the crash"; kill -9 "$cp_pid"; }
	sv_wait_gone "$w_pid" 30 || { fail "round $r: writer still running 30 s after the crash"; kill -9 "$w_pid"; }
	wait "$cp_pid" "$w_pid" 2>/dev/null
	[[ -z $(ls -A -- "$mnt") ]] ||
		die "round $r: something wrote into the bare mountpoint after the crash: $(ls -A -- "$mnt" | head -3)"
	sv_mount "$store" "$mnt" || die "round $r: remount after kill -9 failed"

	args=("$wlog" "$dst/w$r")
	((r > 1)) && args+=("$T/w$((r - 1)).log" "$dst/w$((r - 1))")
	line=$(python3 "$T/check.py" "$mnt/ds" "$src" "$r" "${args[@]}" 2>"$T/check.err")
	declare -A k=()
	for kv in $line; do k[${kv%%=*}]=${kv#*=}; done
	nfail_before=$SV_NFAIL
	[[ -n ${k[lost]:-} ]] || fail "round $r: check.py printed nothing"
	((${k[lost]:-1} == 0)) || fail "round $r: ${k[lost]} acknowledged file(s) lost"
	((${k[wbad]:-1} == 0)) || fail "round $r: ${k[wbad]} writer file(s) with wrong bytes"
	((${k[wextra]:-1} == 0)) || fail "round $r: ${k[wextra]} file(s) the writer never opened"
	((${k[cp_bad]:-1} == 0)) || fail "round $r: ${k[cp_bad]} partial or wrong file(s) from cp"
	((${k[cp_extra]:-1} == 0)) || fail "round $r: ${k[cp_extra]} unexpected file(s) under c$r"
	sv_show "$T/check.err"
	store_check "round $r"
	note "round $r: killed after ${delay_ms} ms; cp had $((${k[cp_present]:-0})) files whole," \
		"writer $(grep -c '^ack' "$wlog") acked (+${k[inflight]:-0} in flight kept); checks $( ((SV_NFAIL == nfail_before)) && echo ok || echo FAILED)"
	((SV_NFAIL == nfail_before)) || bad_rounds=$((bad_rounds + 1))
	tot_acked=$((tot_acked + $(grep -c '^ack' "$wlog")))
	tot_cp=$((tot_cp + ${k[cp_present]:-0}))
	unset k

	for d in "c$r" "w$((r - 1))"; do
		[[ -e $dst/$d ]] || continue   # the crash came before it was made
		rm -r -- "$dst/$d" 2>"$T/rm.err" || fail "round $r: rm -r $d: $(head -c 300 "$T/rm.err")"
	done
done

expect_eq 0 "$bad_rounds" "all $rounds rounds: nothing acknowledged lost ($tot_acked acked closes), no partial file ($tot_cp cp'd files checked), integrity ok, blobs = referenced hashes, no staging left"
((tot_acked > 0)) || fail "the writer never got a close() acknowledged before a kill"
((missed < rounds)) || fail "cp had always finished before the kill: the crash never hit mid-copy"
note "cp had already finished at the kill in $missed of $rounds rounds"

sv_umount "$mnt" || fail "clean unmount at the end failed"
store_check "after the final clean unmount" && pass "after the final clean unmount: integrity ok, blobs = referenced hashes, staging empty"
