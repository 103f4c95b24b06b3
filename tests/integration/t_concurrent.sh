#!/usr/bin/env bash
#
# t_concurrent — parallel uploads into one dataset lose nothing.
#
# Proves: two `cp -r` of different trees into the same initial-tag at once,
# then two `cp -r` writing into the same sub-folder at once, then 4 Python
# threads creating files in one folder while a reader lists and reads it: every
# file of every writer ends up present and identical (diff -r against the
# merged source), and info counts them all. Tags frozen (mkdir) while an upload
# runs contain only whole files with the source's bytes.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need python3 diff cp mountpoint fusermount3

sv_mount "$T/store" "$T/mnt" || die "mount failed"
ok "mkdir dataset" mkdir "$T/mnt/ds" || die "cannot create a dataset"
live=$T/mnt/ds/initial-tag
exp=$T/expected
mkdir -p "$exp"

# run_pair DESC CMD1 -- CMD2 : run two commands in parallel, both must succeed.
run_pair() {
	local desc=$1 p1 p2 r1 r2 cmd1=() cmd2=()
	shift
	while [[ $1 != -- ]]; do cmd1+=("$1"); shift; done
	shift
	cmd2=("$@")
	"${cmd1[@]}" >"$T/p1.out" 2>&1 &
	p1=$!
	"${cmd2[@]}" >"$T/p2.out" 2>&1 &
	p2=$!
	SV_BG+=("$p1" "$p2")
	wait "$p1"; r1=$?
	wait "$p2"; r2=$?
	if ((r1 == 0 && r2 == 0)); then
		pass "$desc"
	else
		fail "$desc: exit statuses $r1 and $r2"
		sv_show "$T/p1.out"
		sv_show "$T/p2.out"
	fi
}

# --- 1. two different trees, in parallel
sv_gen_tree "$T/a/treeA" 700 65536 901 || die "gen A"
sv_gen_tree "$T/b/treeB" 700 65536 902 || die "gen B"
run_pair "two cp -r of different trees in parallel" \
	cp -r "$T/a/treeA" "$live/" -- cp -r "$T/b/treeB" "$live/"
cp -r "$T/a/treeA" "$T/b/treeB" "$exp/"
expect_tree_eq "$exp" "$live" "both trees present and identical"

# --- 2. two trees into the same sub-folder, in parallel
# Same folder, disjoint file names: every file name starts with c- or d-.
sv_gen_tree "$T/c/shared" 400 65536 903 c- || die "gen C"
sv_gen_tree "$T/d/shared" 400 65536 904 d- || die "gen D"
ok "mkdir the shared sub-folder" mkdir "$live/shared"
# Create the sub-folders first so the two cp's only race on files.
(cd "$T/c/shared" && find . -mindepth 1 -type d -printf '%P\n') | sort -u >"$T/dirs.txt"
(cd "$T/d/shared" && find . -mindepth 1 -type d -printf '%P\n') | sort -u >>"$T/dirs.txt"
sort -u "$T/dirs.txt" | while IFS= read -r d; do mkdir -p -- "$live/shared/$d"; done
run_pair "two cp -r into the same sub-folder in parallel" \
	cp -r "$T/c/shared/." "$live/shared/" -- cp -r "$T/d/shared/." "$live/shared/"
mkdir -p "$exp/shared"
cp -r "$T/c/shared/." "$T/d/shared/." "$exp/shared/"
expect_tree_eq "$exp" "$live" "both writers' files present and identical in the shared folder"

# --- 3. four threads creating files in one folder while a reader scans it
cat >"$T/threads.py" <<'EOF'
import hashlib, os, random, sys, threading
live, exp = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(live, "threads"), exist_ok=True)
os.makedirs(os.path.join(exp, "threads"), exist_ok=True)
errors = []
done = threading.Event()

def writer(k):
    rng = random.Random(100 + k)
    try:
        for i in range(150):
            data = rng.randbytes(rng.randint(0, 40000))
            name = "t%d-%04d.bin" % (k, i)
            with open(os.path.join(live, "threads", name), "wb") as f:
                f.write(data)
            with open(os.path.join(exp, "threads", name), "wb") as f:
                f.write(data)
    except OSError as e:
        errors.append("writer %d: %s" % (k, e))

def reader():
    d = os.path.join(live, "threads")
    while not done.is_set():
        try:
            for name in os.listdir(d):
                try:
                    open(os.path.join(d, name), "rb").read()
                except FileNotFoundError:
                    pass
        except OSError as e:
            errors.append("reader: %s" % e)
            return

ws = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
r = threading.Thread(target=reader)
r.start()
for w in ws: w.start()
for w in ws: w.join()
done.set()
r.join()
for e in errors: print(e)
sys.exit(1 if errors else 0)
EOF
ok "4 writer threads + 1 reader thread in one folder" python3 "$T/threads.py" "$live" "$exp"
expect_tree_eq "$exp" "$live" "every thread's files present and identical"

# --- 4. tags frozen while an upload runs hold only whole files
sv_gen_tree "$T/e/during" 600 131072 905 || die "gen E"
cp -r "$T/e/during" "$live/" >"$T/cpE.out" 2>&1 &
e_pid=$!
SV_BG+=("$e_pid")
ntags=0
for i in 1 2 3; do
	sleep 0.5
	if mkdir "$T/mnt/ds/mid$i" 2>"$T/mid.err"; then
		ntags=$((ntags + 1))
	else
		fail "mkdir mid$i during an upload failed: $(cat "$T/mid.err")"
	fi
	cat "$T/mnt/ds/info" >/dev/null || fail "cat info during an upload failed"
done
sv_alive "$e_pid" || note "upload E finished before all tags were taken"
wait "$e_pid" || { fail "cp -r of tree E failed"; sv_show "$T/cpE.out"; }
cp -r "$T/e/during" "$exp/"
expect_tree_eq "$exp" "$live" "tree E present and identical"
for ((i = 1; i <= ntags; i++)); do
	# Every file of the tag equals the final tree's (= the source's) bytes.
	if diff -r "$T/mnt/ds/mid$i" "$exp" 2>&1 | grep -v '^Only in '"$exp" >"$T/mid.diff"; then
		fail "tag mid$i (taken during an upload) has files that differ from the source"
		sv_show "$T/mid.diff"
	else
		pass "tag mid$i holds $(find "$T/mnt/ds/mid$i" -type f | wc -l) whole files"
	fi
done

nfiles=$(find "$exp" -type f | wc -l)
ok "cat info" cat "$T/mnt/ds/info"
cp "$T/last.out" "$T/info"
expect_line "$T/info" "samples: $nfiles" "info counts all $nfiles samples"

sv_umount "$T/mnt"
