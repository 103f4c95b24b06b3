# shellcheck shell=bash
#
# lib.sh — shared helpers for the sievefs integration tests.
#
# Every t_*.sh sources this file first:   . "$(dirname "$0")/lib.sh"
#
# What it gives a test:
#   $T            a private temp dir (mktemp -d), removed on exit
#   $SIEVEFS      absolute path of the binary under test (default: <repo>/sievefs)
#   sv_mount STORE MNT [opts...]   start "$SIEVEFS STORE MNT -f opts" in the
#                                  background, wait (≤ 10 s) until MNT is mounted
#   sv_umount MNT                  fusermount3 -u, then wait for the daemon to exit
#                                  (it must exit with status 0)
#   sv_kill9 MNT                   kill -9 the daemon of MNT, reap it, detach the mount
#   assertions: ok DESC CMD... (must exit 0), expect_errno TEXT CMD... (must
#               fail with TEXT on stderr), expect_fail, expect_eq, expect_contains,
#               expect_line, expect_tree_eq (diff -r), expect_list_eq;
#               pass / fail record a result, die fails and stops the test
#   sv_need TOOL...                a missing tool FAILS the test (never a skip)
#   sv_gen_tree DIR COUNT MAXBYTES SEED [PREFIX]  deterministic tree of random files
#   sv_slow_pngs DIR COUNT TAG [NDUP]  distinct PNGs that are slow to embed
#   sv_files DIR                   sorted relative paths of the regular files under DIR
#   sv_xattr PATH NAME             one extended attribute's value
#   sample_req DS REQUEST          write one request to DS/sample
#   sv_modes                       prefix every later assertion with [$MODE]
#   wait_run DS                    wait for the latest run to end; prints its
#                                  status, leaves the text in $T/sample.txt
#
# Failures are counted, not fatal: a test keeps going so one run reports as much
# as it can. `die` is for when going on makes no sense (mount failed, tool missing).
# On exit (normal, error or signal) a trap unmounts everything this test mounted,
# kills only the PIDs this test started, removes $T, and turns the exit status
# into 1 if any assertion failed. Set SV_KEEP=1 to keep $T for debugging.

set -u

SV_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIEVEFS=${SIEVEFS:-$SV_REPO/sievefs}
case $SIEVEFS in /*) ;; *) SIEVEFS=$PWD/$SIEVEFS ;; esac
export LC_ALL=C   # byte order for sort, stable tool messages (strerror texts)

SV_NAME=$(basename "$0" .sh)
SV_NFAIL=0
SV_NOK=0
SV_NDAEMON=0
SV_MOUNTS=()          # every mountpoint this test mounted (or tried to)
SV_PIDS=()            # every daemon PID this test started
SV_BG=()              # other background PIDs this test started (cp, python...)
declare -A SV_MNT_PID # mountpoint -> daemon PID (while it runs)
declare -A SV_MNT_LOG # mountpoint -> daemon stderr/stdout log

T=$(mktemp -d "${SV_TMPBASE:-${TMPDIR:-/tmp}}/sievefs-it.${SV_NAME}.XXXXXX") ||
	{ echo "FATAL: mktemp -d failed" >&2; exit 1; }

# ---------------------------------------------------------------- reporting

note() { printf '# %s\n' "$*"; }

# Messages print "$T" for the temp dir, to keep long paths readable.
fail() {
	local msg="$*"
	SV_NFAIL=$((SV_NFAIL + 1))
	printf 'not ok - %s\n' "${msg//"$T"/\$T}"
}

die() {
	fail "$*"
	echo "# aborting $SV_NAME"
	exit 1
}

pass() {
	local msg="$*"
	SV_NOK=$((SV_NOK + 1))
	printf 'ok - %s\n' "${msg//"$T"/\$T}"
}

# Print the first lines of a file, indented, as evidence under a failure.
sv_show() {
	local file=$1 max=${2:-15}
	[[ -s $file ]] || return 0
	head -n "$max" -- "$file" | cut -c1-400 | sed -e "s|$T|\$T|g" -e 's/^/#   | /'
}

# ok DESC CMD [ARGS...] — CMD must exit 0. Its stdout is kept in $T/last.out,
# its stderr in $T/last.err. Returns CMD's status.
ok() {
	local desc=$1 rc
	shift
	"$@" >"$T/last.out" 2>"$T/last.err"
	rc=$?
	if ((rc == 0)); then
		pass "$desc"
	else
		fail "$desc: \`$*\` exited $rc"
		sv_show "$T/last.err"
	fi
	return $rc
}

# expect_errno TEXT CMD [ARGS...] — CMD must fail and its stderr must contain
# TEXT (a strerror text such as "Read-only file system").
expect_errno() {
	local text=$1 rc
	shift
	"$@" >"$T/last.out" 2>"$T/last.err"
	rc=$?
	if ((rc == 0)); then
		fail "\`$*\` succeeded; expected failure with \"$text\""
		return 1
	fi
	if ! grep -qF -- "$text" "$T/last.err"; then
		fail "\`$*\` failed (exit $rc) but stderr lacks \"$text\""
		sv_show "$T/last.err"
		return 1
	fi
	pass "\`$*\` fails: $text"
}

# expect_fail DESC CMD [ARGS...] — CMD must exit non-zero (any message).
expect_fail() {
	local desc=$1 rc
	shift
	"$@" >"$T/last.out" 2>"$T/last.err"
	rc=$?
	if ((rc == 0)); then
		fail "$desc: \`$*\` succeeded, expected failure"
		return 1
	fi
	pass "$desc (exit $rc)"
}

# expect_eq EXPECTED GOT DESC
expect_eq() {
	if [[ $1 == "$2" ]]; then
		pass "$3"
	else
		fail "$3: expected [$1], got [$2]"
		return 1
	fi
}

# expect_contains FILE TEXT DESC — FILE contains the fixed string TEXT.
expect_contains() {
	if grep -qF -- "$2" "$1" 2>/dev/null; then
		pass "$3"
	else
		fail "$3: \"$2\" not found in $(basename "$1")"
		sv_show "$1" 30
		return 1
	fi
}

# expect_line FILE LINE DESC — FILE has a line exactly equal to LINE.
expect_line() {
	if grep -qxF -- "$2" "$1" 2>/dev/null; then
		pass "$3"
	else
		fail "$3: no line \"$2\" in $(basename "$1")"
		sv_show "$1" 30
		return 1
	fi
}

# expect_tree_eq EXPECTED_DIR GOT_DIR DESC — diff -r finds no difference.
expect_tree_eq() {
	if diff -r -- "$1" "$2" >"$T/diff.out" 2>&1; then
		pass "$3"
	else
		fail "$3: diff -r $1 $2 reports $(wc -l <"$T/diff.out") line(s)"
		sv_show "$T/diff.out" 20
		return 1
	fi
}

# expect_list_eq EXPECTED_FILE GOT_FILE DESC — two text files are equal (a
# missing file counts as empty).
expect_list_eq() {
	if diff -- <(cat -- "$1" 2>/dev/null) <(cat -- "$2" 2>/dev/null) >"$T/diff.out" 2>&1; then
		pass "$3"
	else
		fail "$3: $(basename "$1") and $(basename "$2") differ"
		sv_show "$T/diff.out" 20
		return 1
	fi
}

# ---------------------------------------------------------------- prerequisites

# sv_need TOOL... — each tool must be on PATH, else the test FAILS (never skips).
sv_need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || die "required tool '$t' is not installed"
	done
}

sv_need_binary() {
	[[ -x $SIEVEFS ]] || die "sievefs binary not found at $SIEVEFS (run: make -C $SV_REPO)"
	[[ -e /dev/fuse ]] || die "/dev/fuse is missing"
}

# ---------------------------------------------------------------- processes

# sv_alive PID — the process exists and is not a zombie.
sv_alive() {
	local st
	[[ -r /proc/$1/stat ]] || return 1
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && $st != Z ]]
}

# sv_is_mounted MNT — MNT is a mount point in the kernel's table (works even
# when the FUSE daemon is dead, unlike stat-based checks).
sv_is_mounted() {
	local m
	m=$(realpath -m -- "$1")
	awk -v m="$m" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# sv_wait_gone PID SECONDS — wait until PID has exited; 0 if it did.
sv_wait_gone() {
	local pid=$1 n=$(($2 * 10)) i
	for ((i = 0; i < n; i++)); do
		sv_alive "$pid" || return 0
		sleep 0.1
	done
	! sv_alive "$pid"
}

# sv_mount STORE MNT [OPTS...] — mount in the foreground mode (-f) in the
# background; returns 0 once `mountpoint -q MNT` succeeds (≤ 10 s).
sv_mount() {
	local store=$1 mnt=$2 log pid rc deadline
	shift 2
	mkdir -p -- "$mnt"
	SV_NDAEMON=$((SV_NDAEMON + 1))
	log="$T/daemon.$SV_NDAEMON.log"
	"$SIEVEFS" "$store" "$mnt" -f "$@" </dev/null >"$log" 2>&1 &
	pid=$!
	SV_PIDS+=("$pid")
	SV_MOUNTS+=("$mnt")
	SV_MNT_PID[$mnt]=$pid
	SV_MNT_LOG[$mnt]=$log
	deadline=$((SECONDS + 10))
	while ((SECONDS < deadline)); do
		if ! sv_alive "$pid"; then
			wait "$pid"
			rc=$?
			unset "SV_MNT_PID[$mnt]"
			fail "sievefs exited with status $rc before $mnt was mounted"
			sv_show "$log"
			return 1
		fi
		if sv_is_mounted "$mnt" && timeout 2 mountpoint -q -- "$mnt"; then
			note "mounted $store on $mnt (pid $pid)"
			return 0
		fi
		sleep 0.1
	done
	fail "sievefs did not mount $mnt within 10 s"
	sv_show "$log"
	return 1
}

sv_daemon_pid() { printf '%s\n' "${SV_MNT_PID[$1]:-}"; }

# sv_umount MNT — fusermount3 -u (retried while busy, ≤ 10 s), then wait for
# the daemon to exit (≤ 30 s) and require exit status 0.
sv_umount() {
	local mnt=$1 pid=${SV_MNT_PID[$1]:-} i rc
	for ((i = 0; i < 50; i++)); do
		fusermount3 -u -- "$mnt" 2>"$T/umount.err" && break
		sleep 0.2
	done
	if ((i == 50)); then
		fail "fusermount3 -u $mnt failed for 10 s: $(head -c 300 "$T/umount.err")"
		return 1
	fi
	[[ -n $pid ]] || return 0
	if ! sv_wait_gone "$pid" 30; then
		fail "sievefs (pid $pid) still running 30 s after unmounting $mnt; killing it"
		kill -9 "$pid" 2>/dev/null
	fi
	wait "$pid"
	rc=$?
	unset "SV_MNT_PID[$mnt]"
	if ((rc != 0)); then
		fail "sievefs (pid $pid) exited with status $rc after a clean unmount of $mnt"
		sv_show "${SV_MNT_LOG[$mnt]}"
		return 1
	fi
	note "unmounted $mnt"
	return 0
}

# sv_kill9 MNT — simulate a crash: SIGKILL the daemon, reap it, then detach the
# dead mount (fusermount3 -u, falling back to a lazy unmount).
sv_kill9() {
	local mnt=$1 pid=${SV_MNT_PID[$1]:-}
	[[ -n $pid ]] || { fail "sv_kill9: no daemon recorded for $mnt"; return 1; }
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "SV_MNT_PID[$mnt]"
	fusermount3 -u -- "$mnt" 2>/dev/null ||
		fusermount3 -uz -- "$mnt" 2>/dev/null ||
		umount -l -- "$mnt" 2>/dev/null
	if sv_is_mounted "$mnt"; then
		fail "dead mount $mnt could not be detached"
		return 1
	fi
	note "killed sievefs (pid $pid) with SIGKILL and detached $mnt"
}

sv_cleanup() {
	local rc=$? mnt pid
	set +e
	for pid in "${SV_BG[@]}"; do
		sv_alive "$pid" && kill -9 "$pid" 2>/dev/null
	done
	for mnt in "${SV_MOUNTS[@]}"; do
		sv_is_mounted "$mnt" || continue
		fusermount3 -u -- "$mnt" 2>/dev/null ||
			fusermount3 -uz -- "$mnt" 2>/dev/null ||
			umount -l -- "$mnt" 2>/dev/null
	done
	for pid in "${SV_PIDS[@]}"; do
		sv_alive "$pid" || continue
		sv_wait_gone "$pid" 5 && continue
		kill -TERM "$pid" 2>/dev/null
		sv_wait_gone "$pid" 5 || kill -9 "$pid" 2>/dev/null
	done
	if [[ ${SV_KEEP:-0} == 1 ]]; then
		echo "# kept $T"
	else
		rm -rf --one-file-system -- "$T"
	fi
	if ((SV_NFAIL > 0 && rc == 0)); then
		rc=1
	fi
	echo "# $SV_NAME: $SV_NOK ok, $SV_NFAIL failed (exit $rc)"
	exit "$rc"
}
trap sv_cleanup EXIT
trap 'echo "# $SV_NAME: interrupted"; exit 130' INT TERM HUP

# ---------------------------------------------------------------- data

# sv_slow_pngs DIR COUNT TAG [NDUP] — COUNT PNGs DIR/b000.png… of 4000×4000
# black pixels (small files, slow to decode: they keep a run busy), each made
# distinct by a tEXt chunk "sievefs\0TAG.i"; the first NDUP (default 0) are
# also copied as DIR/copy000.png… (same content, other name). Needs PIL in
# $PY (default python3).
sv_slow_pngs() {
	"${PY:-python3}" - "$@" <<'EOF'
import io, struct, sys, zlib
from PIL import Image
d, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
ndup = int(sys.argv[4]) if len(sys.argv) > 4 else 0
b = io.BytesIO()
Image.new("L", (4000, 4000), 0).save(b, "PNG")
base = b.getvalue()
for i in range(n):
    data = b"sievefs\0" + tag + b"." + str(i).encode()
    body = b"tEXt" + data
    out = (base[:33] + struct.pack(">I", len(data)) + body +
           struct.pack(">I", zlib.crc32(body)) + base[33:])
    open("%s/b%03d.png" % (d, i), "wb").write(out)
    if i < ndup:
        open("%s/copy%03d.png" % (d, i), "wb").write(out)
EOF
}

# sv_gen_tree DIR COUNT MAXBYTES SEED [PREFIX] — COUNT files with random sizes
# in [0, MAXBYTES] spread over nested folders (depth ≤ 3). Always includes an
# empty file ("empty file.bin") and names with spaces. Every file name starts
# with PREFIX (default none). Deterministic for a SEED.
sv_gen_tree() {
	python3 - "$@" <<'EOF'
import os, random, sys
root, count, maxsize, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
prefix = sys.argv[5] if len(sys.argv) > 5 else ""
rng = random.Random(seed)
os.makedirs(root, exist_ok=True)
dirs = [("", 0)]
for i in range(max(1, count // 40)):
    parent, depth = rng.choice([d for d in dirs if d[1] < 3])
    name = ("dir %03d" % i) if rng.random() < 0.2 else ("d%03d" % i)
    path = os.path.join(parent, name)
    os.makedirs(os.path.join(root, path), exist_ok=True)
    dirs.append((path, depth + 1))
with open(os.path.join(root, prefix + "empty file.bin"), "wb"):
    pass
for i in range(1, count):
    parent = rng.choice(dirs)[0]
    name = prefix + (("file %05d.dat" % i) if rng.random() < 0.2 else ("f%05d.bin" % i))
    size = rng.randint(0, maxsize)
    with open(os.path.join(root, parent, name), "wb") as f:
        f.write(rng.randbytes(size))
EOF
}

# sv_files DIR — sorted relative paths ("a/b.bin", no "./") of regular files.
sv_files() {
	(cd -- "$1" && find . -type f -printf '%P\n' | sort)
}

# sv_xattr PATH NAME — value of one extended attribute, or empty with status 1.
sv_xattr() {
	getfattr --absolute-names --only-values -n "$2" -- "$1" 2>/dev/null
}

# sv_modes — from here on every assertion is prefixed "[$MODE] ", for a
# suite that runs one body against several mounts (set MODE=local, …).
sv_modes() {
	MODE=setup
	eval "lib_pass() $(declare -f pass | tail -n +2)"
	eval "lib_fail() $(declare -f fail | tail -n +2)"
	pass() { lib_pass "[$MODE] $*"; }
	fail() { lib_fail "[$MODE] $*"; }
}

# ---------------------------------------------------------------- sampling
# sample_req DS REQUEST — write one request to DS/sample the way a user does.
sample_req() {
	bash -c 'echo "$1" > "$2"' _ "$2" "$1/sample"
}

# wait_run DS — poll DS/sample (at most 1200 times, 0.1 s apart) until the
# status is done, failed or cancelled; prints that status. The last text read
# is left in $T/sample.txt.
wait_run() {
	local i st=""
	for ((i = 0; i < 1200; i++)); do
		cat "$1/sample" >"$T/sample.txt" 2>&1
		st=$(sed -n 's/^status: //p' "$T/sample.txt")
		case $st in done | failed | cancelled) break ;; esac
		sleep 0.1
	done
	printf '%s\n' "$st"
}
