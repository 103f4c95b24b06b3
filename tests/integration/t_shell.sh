#!/usr/bin/env bash
#
# t_shell — every way a shell or a script writes a file works on every
# writable file of a dataset, on a local and on a remote mount (one body,
# `flows MNT`, run in both modes; assertions are prefixed [local] /
# [remote]). The rule they test is fs/README.md, "When a write ends".
#
# Proves, in each mode:
# - the idioms `cmd > F` (an external command: bash's close after dup2 comes
#   first), a loop of builtins `> F`, `{ head; tail; } > F` (two children, each
#   closing its inherited descriptor), `cmd >> F`, `cmd | tee F`,
#   `exec 3>F … exec 3>&-`, Python open(F, 'w') with a flush per line, cp, dd,
#   rsync --inplace, rsync (a '.'-named temp file renamed over the target),
#   a Python '.'-named temp file + os.replace, and vim saving in place
#   (selection, a CSV), each store exactly what was written in
#   initial-tag/ (read back byte for byte), embeddings/NAME.csv (the export
#   reads back as written), selection (reads back as written), sample
#   (the run's request line is the one written) and duplicates (the
#   setting shown is the line written);
# - the same for predictions/NAME.csv and metadata/NAME.csv (issue 21);
# - errors where the shell sees them: `echo bad > selection`, `echo x >>
#   selection`, a bad CSV row through `>` and a NUL byte in a sample request
#   make bash print "write error: Invalid argument", with the reason in
#   `log`;
# - nothing half-applied: after each refused write (also one after a valid
#   part written by a child, and one over an existing embedding) the
#   selection, the embedding and the run count are exactly as before,
#   also after rsync's refused rename, which leaves no temp file behind;
#   scratch ('.'-named) files can be made, listed, renamed and removed in a
#   dataset folder; other names stay EPERM;
# - `>>` keeps the selection's source tag (the next tag's parent), unless
#   the appended text names another; `: > selection` empties it.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl cmp cp dd rsync tee getfattr head tail vim

sv_modes    # every assertion names its mode

# ---------------------------------------------------------------- fixtures
src=$T/src
sv_gen_tree "$src" 12 3000 77 || die "could not generate the source tree"
mapfile -t files < <(sv_files "$src")
((${#files[@]} >= 8)) || die "the source tree has ${#files[@]} files"

# An embeddings CSV over the first files, in the format the export writes.
python3 - "$T/emb.csv" "${files[@]}" <<'EOF'
import sys
out, names = sys.argv[1], sys.argv[2:]
with open(out, 'w', newline='') as f:
    f.write('filenames,embedding_0,embedding_1,labels\r\n')
    for i, n in enumerate(names):
        f.write('%s,%s,%s,%d\r\n' % (n, repr(0.5 + i), repr(-1.25 * i), i % 3))
EOF

# issue 21 (i21a): a predictions and a metadata CSV over the same files,
# and a predictions CSV with a bad value on its 4th row.
python3 - "$T/pred.csv" "$T/meta.csv" "$T/pred.bad" "${files[@]}" <<'EOF'
import sys
pred, meta, bad, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
with open(pred, 'w', newline='') as f, open(bad, 'w', newline='') as b:
    for o in (f, b):
        o.write('filename,cat,dog\r\n')
    for i, n in enumerate(names):
        p = (i % 10) / 10
        f.write('%s,%r,%r\r\n' % (n, p, round(1 - p, 1)))
        b.write('%s,%s,0.5\r\n' % (n, 'zz' if i == 2 else '0.5'))
with open(meta, 'w', newline='') as f:
    f.write('filename,w,kind\n')
    for i, n in enumerate(names):
        f.write('%s,%d,%s\n' % (n, i, 'ab'[i % 2]))
EOF

# The idioms: each `idiom_NAME SRC DST` writes file SRC to DST.
idioms=(redirect loop children append tee exec3 python cp dd rsync_inplace
	rsync replace)
idiom_redirect() { bash -c 'cat "$1" > "$2"' _ "$1" "$2"; }
idiom_loop() {
	bash -c 'while IFS= read -r l || [[ -n $l ]]; do printf "%s\n" "$l"; done < "$1" > "$2"' _ "$1" "$2"
}
idiom_children() { bash -c '{ head -n 2 "$1"; tail -n +3 "$1"; } > "$2"' _ "$1" "$2"; }
idiom_append() { bash -c 'cat "$1" >> "$2"' _ "$1" "$2"; }
idiom_tee() { bash -c 'cat "$1" | tee "$2" > /dev/null' _ "$1" "$2"; }
idiom_exec3() { bash -c 'exec 3>"$2"; cat "$1" >&3; exec 3>&-' _ "$1" "$2"; }
idiom_python() {
	python3 - "$1" "$2" <<'EOF'
import sys
with open(sys.argv[1], 'rb') as s, open(sys.argv[2], 'wb') as d:
    for line in s:
        d.write(line)
        d.flush()
EOF
}
idiom_cp() { cp "$1" "$2"; }
idiom_dd() { dd if="$1" of="$2" status=none; }
idiom_rsync_inplace() { rsync --inplace "$1" "$2"; }
# A temporary file beside the target, renamed over it (-I: whatever the
# sizes and times, as a changed file would be sent).
idiom_rsync() { rsync -I "$1" "$2"; }
idiom_replace() {
	python3 - "$1" "$2" <<'EOF'
import os, sys
d, b = os.path.split(sys.argv[2])
tmp = os.path.join(d, '.' + b + '.tmp')
with open(sys.argv[1], 'rb') as s, open(tmp, 'wb') as d:
    d.write(s.read())
os.replace(tmp, sys.argv[2])
EOF
}

# one_idiom WHAT IDIOM SRC DST — the idiom writes SRC to DST, which must
# then read back as SRC.
one_idiom() {
	local what=$1 i=$2 src=$3 f=$4
	"idiom_$i" "$src" "$f" >"$T/last.err" 2>&1 ||
		{ fail "$what: $i exited non-zero"; sv_show "$T/last.err"; }
	if cmp -s "$src" "$f"; then
		pass "$what: $i stores exactly what was written"
	else
		fail "$what: $i: ${f##*/} does not read back as written"
		sv_show "$T/last.err"
		diff "$src" "$f" 2>&1 | head -5 | sed 's/^/#   /'
	fi
}

# each_idiom WHAT SRC PATTERN — one_idiom for every idiom, to the path
# PATTERN makes of its name (printf).
each_idiom() {
	local i
	for i in "${idioms[@]}"; do
		# shellcheck disable=SC2059
		one_idiom "$1" "$i" "$2" "$(printf "$3" "$i")"
	done
}

# runs DS — the number of the latest run (0 before any).
runs() { sed -n 's/^run: //p' "$1/sample" | head -1 | grep . || echo 0; }

# unchanged DS WHAT — selection, log-less state and runs are as saved by save.
save() {
	cat "$1/selection" >"$T/sel.before"
	grep '^selection:' "$1/info" >"$T/info.before"
	runs "$1" >"$T/runs.before"
}
unchanged() {
	local ds=$1 what=$2
	if cmp -s "$T/sel.before" <(cat "$ds/selection") &&
		cmp -s "$T/info.before" <(grep '^selection:' "$ds/info") &&
		cmp -s "$T/runs.before" <(runs "$ds"); then
		pass "$what: selection, its source and the runs unchanged"
	else
		fail "$what: the selection or the runs changed"
		diff "$T/sel.before" <(cat "$ds/selection") | head -5 | sed 's/^/#   /'
	fi
}

# shell_error DESC CMD... — CMD (a bash -c line) fails with bash's
# "write error: Invalid argument".
shell_error() {
	local desc=$1
	shift
	"$@" >"$T/last.out" 2>"$T/last.err"
	if grep -q 'write error: Invalid argument' "$T/last.err"; then
		pass "$desc: the shell shows 'write error: Invalid argument'"
	else
		fail "$desc: stderr lacks 'write error: Invalid argument'"
		sv_show "$T/last.err"
	fi
}

# log_has DS TEXT DESC
log_has() {
	if grep -qF -- "$2" "$1/log"; then
		pass "$3: log says \"$2\""
	else
		fail "$3: log lacks \"$2\""
		tail -n 3 "$1/log" | sed 's/^/#   | /'
	fi
}

# ---------------------------------------------------------------- the flows
flows() {
	local m=$1 ds=$1/ds i f list n
	mkdir "$ds" || { fail "mkdir ds"; return; }
	ok "cp -r the source tree into initial-tag" cp -r "$src/." "$ds/initial-tag/"

	# initial-tag: every idiom (the shell loop reads lines: the source is
	# text).
	mkdir "$ds/initial-tag/w"
	each_idiom initial-tag "$T/emb.csv" "$ds/initial-tag/w/%s.bin"
	ok "initial-tag: no temp file is left by rsync or os.replace" \
		test -z "$(ls -A "$ds/initial-tag/w" | grep -v '\.bin$')"
	ok "no scratch file is left in the dataset folder or embeddings/" \
		test -z "$(ls -A "$ds" "$ds/embeddings" | grep '^\.')"

	# embeddings/: every idiom (its export reads back as written), to a
	# new name, and over an existing one.
	each_idiom embeddings "$T/emb.csv" "$ds/embeddings/%s.csv"
	head -n 4 "$T/emb.csv" >"$T/emb.short"
	idiom_redirect "$T/emb.short" "$ds/embeddings/redirect.csv"
	ok "embeddings: > over an existing CSV replaces it" cmp -s "$T/emb.short" "$ds/embeddings/redirect.csv"

	# A bad row: the write fails, nothing is stored, an old CSV stays.
	{ head -n 3 "$T/emb.csv"; printf 'x.png,1,zz,0\r\n'; tail -n +4 "$T/emb.csv"; } >"$T/emb.bad"
	shell_error "embeddings: a bad row through >" bash -c 'cat "$1" > "$2"' _ "$T/emb.bad" "$ds/embeddings/bad.csv"
	log_has "$ds" "embeddings/bad.csv not stored: row 4, column 3 (embedding_1): 'zz' is not a number" \
		"embeddings: a bad row"
	ok "embeddings: nothing stored for the refused CSV" test ! -e "$ds/embeddings/bad.csv"
	shell_error "embeddings: a bad row after a child wrote a valid part" \
		bash -c '{ head -n 2 "$1"; cat "$2"; } > "$3"' _ "$T/emb.csv" "$T/emb.bad" "$ds/embeddings/cp.csv"
	ok "embeddings: the refused text over cp.csv leaves it as it was" cmp -s "$T/emb.csv" "$ds/embeddings/cp.csv"
	ok "embeddings: nothing stored by a child's close either" test ! -e "$ds/embeddings/bad.csv"
	ok ": > over an existing CSV" bash -c ': > "$1"' _ "$ds/embeddings/cp.csv"
	log_has "$ds" "embeddings/cp.csv not stored: empty file" ": > cp.csv"
	ok "embeddings: : > leaves cp.csv as it was" cmp -s "$T/emb.csv" "$ds/embeddings/cp.csv"
	expect_errno "Invalid argument" rsync -I "$T/emb.bad" "$ds/embeddings/cp.csv"
	ok "embeddings: rsync's refused rename leaves cp.csv as it was" cmp -s "$T/emb.csv" "$ds/embeddings/cp.csv"
	ok "embeddings: and no temporary file" test -z "$(ls -A "$ds/embeddings" | grep '^\.')"

	# predictions/ and metadata/ (issue 21, i21a): every idiom stores
	# exactly what was written; a bad row through > is the shell's write
	# error; rsync's refused rename leaves the file as it was.
	each_idiom predictions "$T/pred.csv" "$ds/predictions/%s.csv"
	each_idiom metadata "$T/meta.csv" "$ds/metadata/%s.csv"
	shell_error "predictions: a bad row through >" bash -c 'cat "$1" > "$2"' _ "$T/pred.bad" "$ds/predictions/cp.csv"
	log_has "$ds" "predictions/cp.csv not stored: row 4, column 2 (cat): 'zz' is not a number" \
		"predictions: a bad row"
	ok "predictions: the refused text leaves cp.csv as it was" cmp -s "$T/pred.csv" "$ds/predictions/cp.csv"
	expect_errno "Invalid argument" rsync -I "$T/pred.bad" "$ds/predictions/cp.csv"
	ok "predictions: rsync's refused rename leaves cp.csv as it was" cmp -s "$T/pred.csv" "$ds/predictions/cp.csv"
	ok "predictions, metadata: no temporary file" \
		test -z "$(ls -A "$ds/predictions" "$ds/metadata" | grep '^\.')"

	# Scratch files: made, listed, renamed and removed like files.
	ok "touch a scratch file in the dataset folder" touch "$ds/.scratch"
	expect_contains <(ls -a "$ds") ".scratch" "ls -a lists it"
	ok "mv it to another scratch name" mv "$ds/.scratch" "$ds/.scratch2"
	ok "rm it" rm "$ds/.scratch2"
	expect_errno "Operation not permitted" touch "$ds/not-hidden"
	ok "a scratch file for renames that are refused" touch "$ds/.s" "$ds/embeddings/.s"
	expect_errno "Operation not permitted" mv "$ds/.s" "$ds/info"
	expect_errno "Operation not permitted" mv "$ds/.s" "$ds/t9"
	expect_errno "Operation not permitted" mv "$ds/embeddings/.s" "$ds/embeddings/builtin.csv"
	expect_errno "Operation not permitted" mv "$ds/embeddings/.s" "$ds/embeddings/no name.csv"
	ok "the scratch files stay after a refused rename" test -e "$ds/.s" -a -e "$ds/embeddings/.s"
	ok "rm them" rm "$ds/.s" "$ds/embeddings/.s"
	expect_errno "Operation not permitted" mv "$ds/embeddings/cp.csv" "$ds/embeddings/other.csv"

	# selection: every idiom stores exactly what was written.
	n=0
	for i in "${idioms[@]}"; do
		n=$((n + 1))
		printf '%s\n' "${files[@]:0:$(((n % 6) + 2))}" >"$T/list"
		[[ $i == append ]] && : >"$ds/selection"
		one_idiom selection "$i" "$T/list" "$ds/selection"
	done

	# Refused writes change nothing, and the shell says so.
	save "$ds"
	printf '%s\n' "${files[0]}" no-such.png >"$T/sel.bad"
	shell_error "selection: echo bad > selection" bash -c 'echo no-such.png > "$1"' _ "$ds/selection"
	unchanged "$ds" "echo bad > selection"
	log_has "$ds" "selection not changed: line 1: 'no-such.png' is not a file of tag 'initial-tag'" \
		"echo bad > selection"
	shell_error "selection: echo x >> selection" bash -c 'echo no-such.png >> "$1"' _ "$ds/selection"
	unchanged "$ds" "echo x >> selection"
	shell_error "selection: a bad third line" \
		bash -c 'printf "%s\n%s\nno-such.png\n" "$2" "$3" > "$1"' _ "$ds/selection" "${files[0]}" "${files[1]}"
	unchanged "$ds" "a bad third line after two good ones"
	log_has "$ds" "selection not changed: line 3: 'no-such.png'" "a bad third line"
	shell_error "selection: a bad line after a child wrote good ones" \
		bash -c '{ echo "$2"; /bin/echo "$3"; echo no-such.png; echo "$2"; } > "$1"' _ \
		"$ds/selection" "${files[2]}" "${files[3]}"
	unchanged "$ds" "a bad line after a child's valid part"
	if python3 - "$ds/selection" <<'EOF'; then
import sys
f = open(sys.argv[1], 'w')
try:
    f.write('no-such.png\n')
    f.close()
except OSError as e:
    sys.exit(0 if e.errno == 22 else 1)
sys.exit(1)
EOF
		pass "selection: Python's write of a bad path raises EINVAL"
	else
		fail "selection: Python's write of a bad path did not raise EINVAL"
	fi
	unchanged "$ds" "Python open('w') of a bad path"
	expect_errno "Invalid argument" rsync -I "$T/sel.bad" "$ds/selection"
	unchanged "$ds" "rsync of a bad list (the rename is refused)"
	ok "selection: no temporary file left" test -z "$(ls -A "$ds" | grep '^\.')"

	# >> keeps the source; a '# from:' in the appended text changes it.
	ok "mkdir tag t1 (every file)" bash -c ': > "$1/selection"; cat "$2" > "$1/selection"; mkdir "$1/t1"' _ \
		"$ds" <(printf '%s\n' "${files[@]}")
	printf '# from: t1\n%s\n' "${files[0]}" >"$T/from"
	ok "selection from t1" cp "$T/from" "$ds/selection"
	ok "echo PATH >> selection" bash -c 'echo "$2" >> "$1"' _ "$ds/selection" "${files[1]}"
	expect_eq "$(printf '%s\n' "${files[0]}" "${files[1]}")" "$(cat "$ds/selection")" \
		">> adds the path after the others"
	expect_contains "$ds/info" "selection: 2 samples from t1" ">> keeps the source t1"
	ok "echo the same path >> selection again" bash -c 'echo "$2" >> "$1"' _ "$ds/selection" "${files[1]}"
	expect_eq 2 "$(wc -l <"$ds/selection")" "a path appended twice is listed once"
	ok "mkdir t2 from the appended selection" mkdir "$ds/t2"
	expect_eq t1 "$(sv_xattr "$ds/t2" user.sievefs.parent)" "the tag made after >> has parent t1"
	ok "# from: initial-tag appended" bash -c 'printf "# from: initial-tag\n%s\n" "$2" >> "$1"' _ \
		"$ds/selection" "${files[2]}"
	expect_contains "$ds/info" "selection: 3 samples from initial-tag" \
		"an appended '# from:' line changes the source"
	ok ": > selection" bash -c ': > "$1"' _ "$ds/selection"
	expect_eq 0 "$(wc -l <"$ds/selection")" ": > selection empties the selection"

	# An editor saving in place (vim, which cannot make its swap or
	# backup file beside a control file).
	printf '%s\n' "${files[0]}" >"$ds/selection"
	ok "vim: add a line to selection and save" \
		vim -u NONE -N -es -c "normal Go${files[3]}" -c wq "$ds/selection"
	expect_eq "$(printf '%s\n' "${files[0]}" "${files[3]}")" "$(cat "$ds/selection")" \
		"vim's save stores the edited selection"
	ok "vim: change a label in an embeddings CSV and save" \
		vim -u NONE -N -es -c '2s/,0$/,7/' -c wq "$ds/embeddings/cp.csv"
	sed '2s/,0\r$/,7\r/' "$T/emb.csv" >"$T/emb.edited"
	ok "vim's save stores the edited CSV" cmp -s "$T/emb.edited" "$ds/embeddings/cp.csv"

	# sample: each idiom's request is the run's request.
	ok "embedding for sampling" cp "$T/emb.csv" "$ds/embeddings/z.csv"
	for i in "${idioms[@]}"; do
		n=$(runs "$ds")
		printf 'random n=2 seed=%s embedding=z\n' "${#i}" >"$T/req"
		"idiom_$i" "$T/req" "$ds/sample" >"$T/last.err" 2>&1 ||
			{ fail "sample: $i exited non-zero"; sv_show "$T/last.err"; }
		wait_run "$ds" >/dev/null
		expect_eq "$((n + 1))" "$(runs "$ds")" "sample: $i queued exactly one run"
		expect_contains "$T/sample.txt" "request: $(cat "$T/req")" "sample: $i: the run's request is the one written"
	done
	save "$ds"
	shell_error "sample: a NUL byte in a request" bash -c 'printf "random\\0 n=1\\n" > "$1"' _ "$ds/sample"
	unchanged "$ds" "a NUL byte in a request"
	log_has "$ds" "sample: request refused: it holds a NUL byte" "a NUL byte in a request"
	shell_error "sample: a bad request" bash -c 'echo "coreset n=x" > "$1"' _ "$ds/sample"
	unchanged "$ds" "a bad request"

	# duplicates (issue 21): each idiom's line is the setting shown.
	local k=0
	for i in "${idioms[@]}"; do
		k=$((k + 1))
		printf 'max_distance=%s.5 embedding=z\n' "$k" >"$T/req"
		"idiom_$i" "$T/req" "$ds/duplicates" >"$T/last.err" 2>&1 ||
			{ fail "duplicates: $i exited non-zero"; sv_show "$T/last.err"; }
		expect_contains "$ds/duplicates" "(embedding 'z', distance <= $k.5)" \
			"duplicates: $i: the setting is the line written"
	done
	cat "$ds/duplicates" >"$T/dups.before"
	shell_error "duplicates: a NUL byte in a line" bash -c 'printf "exact\\0\\n" > "$1"' _ "$ds/duplicates"
	log_has "$ds" "duplicates: line refused: it holds a NUL byte" "a NUL byte in a duplicates line"
	shell_error "duplicates: a bad line" bash -c 'echo "max_distance=x embedding=z" > "$1"' _ "$ds/duplicates"
	expect_list_eq "$T/dups.before" <(cat "$ds/duplicates") "duplicates: refused lines changed nothing"
}

MODE=local
mkdir "$T/mnt.local"
sv_mount "$T/store.local" "$T/mnt.local" || die "local mount failed"
flows "$T/mnt.local"
sv_umount "$T/mnt.local"

MODE=remote
mkdir "$T/mnt.remote"
remote_mount "$T/store" "$T/mnt.remote" || die "no remote mount"
flows "$T/mnt.remote"

# The route behind >> and the write-time checks: PUT …/selection?append=1
# and ?check=1 (check changes nothing; a bad flag value is a 400).
port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$SERVER_LOG" | tail -1)
url=http://127.0.0.1:$port/v1
auth=(-H "Authorization: Bearer $(cat "$T/alice.tok")")
id=$(curl -s "${auth[@]}" "$url/datasets" | python3 -c '
import json, sys
print(next(d["id"] for d in json.load(sys.stdin)["datasets"] if d["name"] == "ds"))')
cat "$T/mnt.remote/ds/selection" >"$T/sel.now"
put() { curl -s -o "$T/put.out" -w '%{http_code}' "${auth[@]}" -X PUT --data-binary "@$1" "$url/datasets/$id/selection$2"; }
printf '%s\n' "${files[0]}" >"$T/one"
expect_eq 204 "$(put "$T/one" '?check=1')" "PUT ?check=1 of a good list: 204"
expect_eq 400 "$(put "$T/sel.bad" '?check=1')" "PUT ?check=1 of a bad list: 400"
expect_contains "$T/put.out" "no-such.png" "the 400 names the bad path"
expect_eq 400 "$(put "$T/one" '?append=2')" "PUT ?append=2: 400"
expect_contains "$T/put.out" "append and check take the value 1" "the 400 says which values are taken"
ok "checks and refused PUTs leave the selection as it was" cmp -s "$T/sel.now" "$T/mnt.remote/ds/selection"
sv_umount "$T/mnt.remote"
