#!/usr/bin/env bash
#
# t_progress — the progress line of `sievefs sample` on a narrow terminal,
# and the counts behind it.
#
# Proves, with the CLI on a pseudo-terminal of 45 columns (python3's pty
# module; a small terminal emulator replays what it wrote): no update is
# wider than 44 columns (so nothing wraps), every update starts at column 0
# and erases the rest of the line (what is on the line after an update is
# exactly that update: no leftover characters when it gets shorter), the
# line is erased before the result is printed; the phase is named: `queued`
# (behind another dataset's run), `embedding` with a count of samples whose
# total is the number of files (80, of which 20 are copies of others: not
# the 60 distinct contents), then `sampling`; the result line says
# "picked N of M"; with stderr not a terminal nothing but the result is
# printed. `sample` (the file) says `progress: 80/80 samples` and `log`
# says "picked 3 of 4000 candidates".
#
# Timing: the embedding phase decodes 60 black 4000x4000 PNGs (tens of
# milliseconds each) and the sampling phase is an exact coreset of 4000
# picks over 4000 x 64 vectors (seconds here); the CLI polls every 200 ms.
# Nothing asserts a time.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need grep mountpoint fusermount3
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
"$PY" -c 'import PIL, pty' 2>/dev/null || die "$PY cannot import PIL and pty (apt-get install python3-pil)"

NIMG=60 NDUP=20 NVEC=4000
img=$T/img vec=$T/vec
mkdir -p "$img" "$vec"
sv_slow_pngs "$img" "$NIMG" p "$NDUP" || die "cannot make the test images"
"$PY" - "$vec" "$NVEC" <<'EOF' || die "cannot make the test files"
import random, sys
vd, nvec = sys.argv[1], int(sys.argv[2])
random.seed(5)
with open("%s.csv" % vd, "w") as f:
    f.write("filenames," + ",".join("embedding_%d" % j for j in range(64)) + ",labels\n")
    for i in range(nvec):
        name = "v%04d.txt" % i
        open("%s/%s" % (vd, name), "w").write("v%d\n" % i)
        f.write(name + "," + ",".join("%.4f" % random.gauss(0, 1) for _ in range(64)) + ",0\n")
EOF

# ptyrun.py COLS OUT CMD... — runs CMD on a pty of COLS columns, everything
# it writes (stdout and stderr) into OUT; exits with CMD's status.
cat >"$T/ptyrun.py" <<'EOF'
import fcntl, os, pty, struct, sys, termios
cols, out, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
data = b""
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
open(out, "wb").write(data)
_, st = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(st))
EOF
# The winsize is set after the fork: wrap.sh waits until the terminal has
# it before starting the CLI.
cat >"$T/wrap.sh" <<'EOF'
for i in $(seq 100); do [ "$(stty size 2>/dev/null | cut -d' ' -f2)" = "$1" ] && break; sleep 0.05; done
shift
exec "$@"
EOF

# check.py FILE COLS — replays FILE on a COLS-column terminal (\r, \n,
# ESC[K, printable text); prints one problem per line, then the phase
# labels seen (line "labels: ...") and the embedding totals seen.
cat >"$T/check.py" <<'EOF'
import re, sys
data = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
cols = int(sys.argv[2])
data = data.replace("\r\n", "\n")   # the pty's own newline translation
line, col, seg, problems, labels, totals = [" "] * cols, 0, "", [], set(), set()
lines = []
i = 0
while i < len(data):
    c = data[i]
    if data.startswith("\x1b[K", i):
        for j in range(col, cols):
            line[j] = " "
        shown = "".join(line).rstrip()
        if shown != seg.rstrip():
            problems.append("after an update the line shows %r, not %r" % (shown, seg))
        if len(seg) > cols - 1:
            problems.append("update %r is %d columns wide" % (seg, len(seg)))
        m = re.match(r"(\w+) ", seg)
        if m:
            labels.add(m.group(1))
        m = re.search(r"\d+/(\d+) samples", seg)
        if m:
            totals.add(m.group(1))
        i += 3
        continue
    if c == "\r":
        col, seg = 0, ""
    elif c == "\n":
        lines.append("".join(line).rstrip())
        line, col, seg = [" "] * cols, 0, ""
    elif c == "\x1b":
        problems.append("unexpected escape %r" % data[i:i + 4])
    else:
        if col >= cols:
            problems.append("the line wrapped: %r" % "".join(line))
            lines.append("".join(line))
            line, col = [" "] * cols, 0
        line[col] = c
        col += 1
        seg += c
    i += 1
lines.append("".join(line).rstrip())
for l in lines:
    if l and not l.startswith("done: "):
        problems.append("a line is left on the screen: %r" % l)
for p in problems[:10]:
    print(p)
print("labels: " + " ".join(sorted(labels)))
print("totals: " + " ".join(sorted(totals)))
EOF

sv_mount "$T/store" "$T/mnt" || die "mount failed"
ds_img=$T/mnt/img ds_vec=$T/mnt/vec
ok "mkdir datasets" mkdir "$ds_img" "$ds_vec"
ok "cp $((NIMG + NDUP)) PNGs ($NDUP copies) into img" cp -r "$img/." "$ds_img/initial-tag/"
ok "cp $NVEC samples into vec" cp -r "$vec/." "$ds_vec/initial-tag/"
ok "cp the embedding into vec" cp "$vec.csv" "$ds_vec/embeddings/emb.csv"

# img: embeds (phase embedding), then samples; vec: queued behind it, then
# a long coreset (phase sampling).
"$PY" "$T/ptyrun.py" 45 "$T/img.out" bash "$T/wrap.sh" 45 "$SIEVEFS" sample "$ds_img" n=3 &
img_pid=$!
SV_BG+=("$img_pid")
for ((i = 0; i < 600; i++)); do
	grep -q '^phase: embedding' "$ds_img/sample" 2>/dev/null && break
	sleep 0.05
done
"$PY" "$T/ptyrun.py" 45 "$T/vec.out" bash "$T/wrap.sh" 45 "$SIEVEFS" sample "$ds_vec" coreset n=$NVEC
expect_eq 0 $? "sievefs sample vec coreset n=$NVEC (on a 45-column pty) exits 0"
wait "$img_pid"
expect_eq 0 $? "sievefs sample img n=3 (on a 45-column pty) exits 0"

for f in img vec; do
	"$PY" "$T/check.py" "$T/$f.out" 45 >"$T/$f.check"
	if grep -qv '^\(labels\|totals\):' "$T/$f.check"; then
		fail "$f: the progress output is not clean on 45 columns"
		sv_show "$T/$f.check"
	else
		pass "$f: every update fits 44 columns, starts at column 0, erases the rest, and is erased at the end"
	fi
done
labels_img=$(sed -n 's/^labels: //p' "$T/img.check")
labels_vec=$(sed -n 's/^labels: //p' "$T/vec.check")
[[ " $labels_img " == *" embedding "* ]] && pass "img: the phase 'embedding' is named" ||
	fail "img: no 'embedding' label (labels seen: $labels_img)"
expect_eq "$((NIMG + NDUP))" "$(sed -n 's/^totals: //p' "$T/img.check")" \
	"img: the embedding phase counts samples ($((NIMG + NDUP))), not distinct contents ($NIMG)"
[[ " $labels_vec " == *" queued "* ]] && pass "vec: 'queued' is shown while img's run runs" ||
	fail "vec: no 'queued' label (labels seen: $labels_vec)"
[[ " $labels_vec " == *" sampling "* ]] && pass "vec: the phase 'sampling' is named" ||
	fail "vec: no 'sampling' label (labels seen: $labels_vec)"
if grep -q "done: run 1 picked $NVEC of $NVEC in" "$T/vec.out"; then
	pass "vec: the result says picked $NVEC of $NVEC, as run 1 of vec"
else
	fail "vec: no 'done: run 1 picked $NVEC of $NVEC' line"; sv_show "$T/vec.out"
fi

wait_run "$ds_img" >/dev/null
ok "img: sample says progress 3/3 when done" grep -qx 'progress: 3/3' "$T/sample.txt"
expect_line "$T/sample.txt" "candidates: $((NIMG + NDUP))" \
	"img: candidates: $((NIMG + NDUP)) (a copy is a sample, with its content's vector)"
expect_contains "$ds_vec/log" "picked $NVEC of $NVEC candidates from 'initial-tag'" "vec: log says picked N of M candidates"

# --- the embedding progress of `sample` itself counts samples
ok "img: embed color=off (recomputes: other features)" sample_req "$ds_img" "embed color=off"
expect_eq done "$(wait_run "$ds_img")" "img: the embed run ends done"
expect_line "$T/sample.txt" "progress: $((NIMG + NDUP))/$((NIMG + NDUP)) samples" \
	"img: sample says progress: $((NIMG + NDUP))/$((NIMG + NDUP)) samples"
expect_contains "$ds_img/log" "done: embed, $((NIMG + NDUP)) samples" "img: log counts the embedded samples"

# --- stderr not a terminal: no progress line, only the result
"$SIEVEFS" sample "$ds_vec" coreset n=3 >"$T/plain.out" 2>"$T/plain.err"
expect_eq 0 $? "sievefs sample with stderr to a file exits 0"
expect_eq "" "$(cat "$T/plain.err")" "nothing on stderr when it is not a terminal"
expect_contains "$T/plain.out" "done: run 2 picked 3 of $NVEC in" "the result line on stdout"
expect_contains "$ds_vec/log" "picked 3 of $NVEC candidates" "log: picked 3 of $NVEC candidates"

sv_umount "$T/mnt"
