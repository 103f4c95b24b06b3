#!/usr/bin/env bash
#
# t_remote_kill — kill -9 in the middle of a stream of small-file uploads
# into a remote mount (one request per file since issue 20: PUT
# /v1/nodes/{id}/bytes), first of the mount's daemon, then of the server.
#
# Proves, for each kill: a Python writer creating files of 0.1-8 KiB (logs
# "open NAME SHA" before each open(), "ack NAME" once close() returned 0)
# is cut off; after a fresh mount (a new, empty cache dir, so every byte
# read comes from the server) every acknowledged file is there with its
# exact bytes, the one in flight is absent or whole, nothing the writer
# never opened exists, and no listed file is partial. The writer then
# starts again on the same mount and a second stream completes.
#
# KNOWN GAP (not new: the tree before issue 20 does the same), reported
# with a `# KNOWN GAP` line, not hidden: when the *daemon* dies between a
# file's create (its own request) and its commit, the server keeps that
# one pending node, listed as an empty file, since nothing tells it its
# uploader is gone. Only that file may be so — the last one opened and
# never acknowledged, 0 bytes — anything else fails. Folding the create
# into the commit's request closes it (docs/design.md, §2.6).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 sha256sum mountpoint fusermount3 timeout

mkdir -p "$T/store"
new_token alice "$T/alice.tok" >/dev/null || die "token create failed"
port=$(free_port) || die "no free port"
U=http://127.0.0.1:$port
start_server "$port" || die "sievefs serve did not come up"

M=$T/mnt
mnt_n=0
mount_fresh() {
	mnt_n=$((mnt_n + 1))
	sv_mount "$U" "$M" -o "token_file=$T/alice.tok" \
		-o "cache_dir=$T/cache$mnt_n" -o meta_ttl=1
}
mount_fresh || die "remote mount failed"
ok "mkdir a dataset" mkdir "$M/k" || die "no dataset"

# writer DIR LOG N SEED: N files into DIR, logging as above; exits at the
# first failure (the daemon or the server gone)
cat >"$T/writer.py" <<'EOF'
import hashlib, os, random, sys
d, log, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
os.makedirs(d, exist_ok=True)
with open(log, "a", buffering=1) as lg:
    for i in range(n):
        data = rng.randbytes(rng.randint(100, 8192))
        name = "f%05d.bin" % i
        lg.write("open %s %s\n" % (name, hashlib.sha256(data).hexdigest()))
        try:
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        except OSError as e:
            lg.write("error %s %s\n" % (name, e))
            sys.exit(1)
        lg.write("ack %s\n" % name)
EOF

# check DIR LOG WHAT: the promise after a crash, read through a fresh mount
check() {
	local dir=$1 log=$2 what=$3 gap=${4:-0}
	python3 - "$dir" "$log" "$gap" <<'EOF' >"$T/check.out" 2>&1
import hashlib, os, sys
d, log, gap = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
want, acked, bad, last = {}, set(), [], None
for line in open(log):
    p = line.split()
    if p[0] == "open":
        want[p[1]] = p[2]
        last = p[1]
    elif p[0] == "ack":
        acked.add(p[1])
have = set(os.listdir(d)) if os.path.isdir(d) else set()
for name in sorted(acked):
    if name not in have:
        bad.append("acknowledged file lost: " + name)
for name in sorted(have):
    if name not in want:
        bad.append("a file the writer never opened: " + name)
        continue
    data = open(os.path.join(d, name), "rb").read()
    if hashlib.sha256(data).hexdigest() == want[name]:
        continue
    if gap and name == last and name not in acked and not data:
        print("# KNOWN GAP: %s, created but never committed when the daemon"
              " died, is listed as an empty pending file" % name)
        continue
    bad.append("partial or wrong bytes: %s (%d bytes)" % (name, len(data)))
print("%d acknowledged, %d listed, %d opened" % (len(acked), len(have), len(want)))
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
EOF
	if [[ $? == 0 ]]; then
		grep '^# KNOWN GAP' "$T/check.out" | while read -r l; do note "${l#\# }"; done
		pass "$what: every acknowledged file whole, nothing partial ($(grep -v '^#' "$T/check.out" | head -1))"
	else
		fail "$what: $(head -5 "$T/check.out")"
	fi
}

# ---- 1. kill -9 of the mount's daemon mid-stream
python3 "$T/writer.py" "$M/k/initial-tag/a" "$T/a.log" 100000 1 2>/dev/null &
wpid=$!
sleep 1.5
grep -q '^ack' "$T/a.log" || die "the writer acknowledged nothing in 1.5 s"
sv_kill9 "$M"
wait "$wpid" 2>/dev/null
note "daemon killed after $(grep -c '^ack' "$T/a.log") acknowledged files"
mount_fresh || die "remount after the daemon's kill failed"
check "$M/k/initial-tag/a" "$T/a.log" "daemon killed" 1

# ---- 2. kill -9 of the server mid-stream; the same mount carries on
timeout 120 python3 "$T/writer.py" "$M/k/initial-tag/b" "$T/b.log" 100000 2 2>/dev/null &
wpid=$!
sleep 1.5
grep -q '^ack' "$T/b.log" || die "the writer acknowledged nothing in 1.5 s"
kill_server
wait "$wpid" 2>/dev/null
grep -q '^error' "$T/b.log" && pass "the writer got an error once the server was gone" ||
	fail "the writer got no error with the server gone"
start_server "$port" || die "the server did not come back"
sv_umount "$M"
mount_fresh || die "remount after the server's kill failed"
check "$M/k/initial-tag/b" "$T/b.log" "server killed"

# ---- 3. and a stream completes afterwards
python3 "$T/writer.py" "$M/k/initial-tag/c" "$T/c.log" 300 3 &&
	pass "a new stream of 300 files completes" || fail "the new stream failed"
sv_umount "$M"
mount_fresh || die "remount failed"
check "$M/k/initial-tag/c" "$T/c.log" "after both kills"
expect_eq 300 "$(grep -c '^ack' "$T/c.log")" "all 300 acknowledged"
sv_umount "$M"
