#!/usr/bin/env bash
#
# t_app_samples — the web app's bulk routes (issue 17, docs/api.md "Samples
# in bulk") against a real `sievefs serve`, checked byte for byte against
# what a remote mount of the same store says.
#
# Proves, on a dataset of 45 files in sub-folders (names with a space, a
# quote, a backslash and é) copied in through a mount:
# - GET …/table: `path` is `find initial-tag -type f` sorted bytewise,
#   `size` each file's stat size, `ino` each file's node (GET /v1/nodes/INO
#   names it, live, same size), `kept` all 0 — and 1 exactly for files
#   copied in through an upload=meta mount; `count`, X-Sievefs-Count,
#   X-Sievefs-Gen and the ETag (the quoted gen) agree; If-None-Match with
#   the ETag → 304 with the ETag; the gen (and ETag) changes after a cp, a
#   chmod, an mv and an rm through the mount and a rename through the API,
#   and the old ETag then gets 200; an empty dataset's table is empty.
# - GET …/members: without tag, N bytes, 1 exactly where the mount's
#   `selection` file names the path (the default, all; a list written
#   through the mount; a run's top 20); with ?tag= of a frozen tag (mkdir
#   through the mount), 1 exactly for the files `find` shows in that tag
#   folder that are still in the table (after an rm of one of them from the
#   live tree, that one is gone); initial-tag's id: all 1.
# - GET …/scores: 404 no_run before a run; after `coreset n=20` N float32
#   and N int32, the score of each sample equal (as float32 bytes) to
#   scores.csv's, its rank its line in scores.csv, NaN and -1 for the
#   samples the run did not rank (no vector); X-Sievefs-Run: 1.
# - GET …/layout: N×2 float32; NaN,NaN exactly for samples without a row;
#   the others the 2-D PCA (computed here in Python) scaled into [-1, 1]
#   keeping the aspect ratio; without ?embedding= the newest embedding;
#   X-Sievefs-Layout: pca.
# - Refusals, each with its status, code and message, and the table's gen
#   unchanged after them: another user's dataset → 404 on all four routes;
#   another dataset's tag or embedding → 404; a bad id in the path or
#   query → 400 bad_path; no token → 401; layout with no embedding → 404
#   no_embedding.
# The server is stopped by PID; the mounts are unmounted by the trap.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl python3 find mountpoint fusermount3
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

serve_alice
new_token bob "$T/bob.tok" >/dev/null || die "token create failed"
note "server pid $SERVER_PID on $U"
TA=$(cat "$T/alice.tok")
TB=$(cat "$T/bob.tok")

M=$T/mnt
sv_mount "$U" "$M" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cache" \
	-o meta_ttl=0 || die "remote mount failed"
ds=$M/ds
ok "mkdir ds" mkdir "$ds" || die "cannot create a dataset"

src=$T/src
"$PY" - "$src" <<'EOF' || die "cannot make the test files"
import os, sys
d = sys.argv[1]
names = []
for i in range(40):
    sub = ["", "a/", "b/c/", "b/"][i % 4]
    names.append("%sf%02d.bin" % (sub, i))
names += ["sp ace.bin", 'q"uote.bin', "back\\slash.bin", "a/\u00e9t\u00e9.bin", "b/c/z.bin"]
for i, n in enumerate(names):
    p = os.path.join(d, n)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "wb").write(bytes([i % 251]) * (i * 37 + 1))
EOF
ok "cp -r 45 files in through the mount" cp -r "$src/." "$ds/initial-tag/"

DSID=$(curl -sf -H "Authorization: Bearer $TA" "$U/v1/datasets?name=ds" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
[[ $DSID =~ ^[0-9]+$ ]] || die "no dataset id"
note "dataset id $DSID"

cat >"$T/chk.py" <<'EOF'
import json, math, os, struct, sys, urllib.request, urllib.error
U, TOK = os.environ["U"], os.environ["TA"]

def get(path, tok=TOK, headers=None):
    req = urllib.request.Request(U + path)
    if tok:
        req.add_header("Authorization", "Bearer " + tok)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        r = urllib.request.urlopen(req)
        return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()

def res(cond, desc):
    print("%s - %s" % ("ok" if cond else "not ok", desc))
    return cond

def files(root):
    out = []
    for dp, dn, fn in os.walk(root):
        for f in fn:
            out.append(os.path.relpath(os.path.join(dp, f), root).encode())
    return sorted(out)

def table(ds):
    st, h, body = get("/v1/datasets/%s/table" % ds)
    assert st == 200, (st, body)
    return json.loads(body.decode("utf-8")), h

def heads_ok(h, t, what):
    res(h.get("x-sievefs-count") == str(t["count"]) and
        h.get("x-sievefs-gen") == t["gen"],
        "%s: X-Sievefs-Count %s and X-Sievefs-Gen name the table" % (what, h.get("x-sievefs-count")))

def selection_paths(text):
    # the selection file's format: a line starting with '"' is quoted
    out = []
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith('"'):
            line = json.loads(line)       # our test names need no C escapes
        out.append(line)
    return out

cmd, args = sys.argv[1], sys.argv[2:]

if cmd == "table":          # DSID LIVE_DIR [KEPT_LIST]
    ds, live = args[0], args[1]
    kept = set(l.rstrip("\n").encode() for l in open(args[2])) if len(args) > 2 else set()
    t, h = table(ds)
    want = files(live)
    got = [p.encode() for p in t["path"]]
    res(got == want, "table: %d paths are find's %d files, sorted bytewise" % (len(got), len(want)))
    res(t["count"] == len(want) == len(t["size"]) == len(t["ino"]) == len(t["kept"]),
        "table: count %d and every column has %d entries" % (t["count"], len(want)))
    sz = [os.stat(os.path.join(live.encode(), p)).st_size for p in got]
    res(t["size"] == sz, "table: size is each file's stat size")
    bad = 0
    for p, ino, s in zip(got, t["ino"], t["size"]):
        st, _, b = get("/v1/nodes/%d" % ino)
        n = json.loads(b) if st == 200 else {}
        if not (n.get("name", "").encode() == os.path.basename(p) and n.get("tree_live")
                and n.get("size") == s):
            bad += 1
    res(bad == 0, "table: each ino is the live node of its path (%d wrong)" % bad)
    wk = [1 if p in kept else 0 for p in got]
    res(t["kept"] == wk, "table: kept is 1 for exactly the %d upload=meta files" % sum(wk))
    heads_ok(h, t, "table")
    res(h.get("etag") == '"%s"' % t["gen"], "table: ETag %s is the quoted gen" % h.get("etag"))
    res(h.get("content-type", "").startswith("application/json"), "table: application/json")
    print("gen " + t["gen"], file=sys.stderr)

elif cmd == "gen":          # DSID: print the gen
    t, h = table(args[0])
    print(t["gen"])

elif cmd == "members":      # DSID WANT_FILE(paths, one a line) [TAGID] DESC
    ds, wantf, tag, desc = args
    t, _ = table(ds)
    want = set(selection_paths(open(wantf, encoding="utf-8").read()))
    q = "?tag=%s" % tag if tag else ""
    st, h, b = get("/v1/datasets/%s/members%s" % (ds, q))
    res(st == 200 and h.get("content-type") == "application/octet-stream",
        "%s: 200 application/octet-stream" % desc)
    exp = bytes(1 if p in want else 0 for p in t["path"])
    res(b == exp, "%s: %d bytes, 1 exactly for the %d paths listed (%d of them in the table)" % (
        desc, len(b), len(want), sum(exp)))
    heads_ok(h, t, desc)

elif cmd == "scores":       # DSID SCORES_CSV
    import csv, io
    ds, csvf = args
    t, _ = table(ds)
    n = t["count"]
    st, h, b = get("/v1/datasets/%s/scores" % ds)
    res(st == 200 and len(b) == 8 * n, "scores: 200 with %d bytes (N float32 + N int32)" % len(b))
    sc = [b[4 * i:4 * i + 4] for i in range(n)]
    rk = list(struct.unpack("<%di" % n, b[4 * n:]))
    rows = list(csv.reader(io.StringIO(open(csvf, encoding="utf-8").read(), newline="")))[1:]
    idx = {p: i for i, p in enumerate(t["path"])}
    exp_s = [struct.pack("<f", float("nan"))] * n
    exp_r = [-1] * n
    for r, (p, s) in enumerate(rows):
        if p in idx:
            exp_s[idx[p]] = struct.pack("<f", float(s))
            exp_r[idx[p]] = r
    res(rk == exp_r, "scores: each rank is the line of scores.csv naming the sample, -1 for %d unranked" %
        exp_r.count(-1))
    okf = all((math.isnan(struct.unpack("<f", a)[0]) and math.isnan(struct.unpack("<f", e)[0])) or a == e
              for a, e in zip(sc, exp_s))
    res(okf, "scores: each score is scores.csv's as float32 bytes, NaN for the unranked")
    res(h.get("x-sievefs-run") == "1", "scores: X-Sievefs-Run: %s" % h.get("x-sievefs-run"))
    heads_ok(h, t, "scores")

elif cmd == "layout":       # DSID CSV QUERY DESC
    import csv
    ds, csvf, q, desc = args
    t, _ = table(ds)
    n = t["count"]
    st, h, b = get("/v1/datasets/%s/layout%s" % (ds, q))
    res(st == 200 and len(b) == 8 * n, "%s: 200 with %d bytes (N x 2 float32)" % (desc, len(b)))
    xy = struct.unpack("<%df" % (2 * n), b)
    rows = list(csv.reader(open(csvf, newline="")))[1:]
    vec = {r[0]: [float(v) for v in r[1:-1]] for r in rows}
    idx = [i for i, p in enumerate(t["path"]) if p in vec]
    nan_ok = all(math.isnan(xy[2 * i]) and math.isnan(xy[2 * i + 1])
                 for i in range(n) if t["path"][i] not in vec)
    res(nan_ok and not any(math.isnan(xy[2 * i]) for i in idx),
        "%s: NaN,NaN exactly for the %d samples without a row" % (desc, n - len(idx)))
    # the PCA, here: covariance, then power iteration with deflation
    X = [vec[t["path"][i]] for i in idx]
    d = len(X[0])
    mu = [sum(x[j] for x in X) / len(X) for j in range(d)]
    C = [[sum((x[a] - mu[a]) * (x[b] - mu[b]) for x in X) for b in range(d)] for a in range(d)]
    comps = []
    for _ in range(2):
        v = [1.0 / (k + 1) for k in range(d)]
        for _ in range(2000):
            w = [sum(C[a][b] * v[b] for b in range(d)) for a in range(d)]
            nn = math.sqrt(sum(c * c for c in w))
            v = [c / nn for c in w]
        lam = sum(v[a] * sum(C[a][b] * v[b] for b in range(d)) for a in range(d))
        big = max(range(d), key=lambda j: abs(v[j]))
        if v[big] < 0:
            v = [-c for c in v]
        comps.append(v)
        C = [[C[a][b] - lam * v[a] * v[b] for b in range(d)] for a in range(d)]
    P = [[sum((x[j] - mu[j]) * c[j] for j in range(d)) for c in comps] for x in X]
    lo = [min(p[k] for p in P) for k in range(2)]
    hi = [max(p[k] for p in P) for k in range(2)]
    half = max(hi[0] - lo[0], hi[1] - lo[1]) / 2
    E = [[(p[k] - (lo[k] + hi[k]) / 2) / half for k in range(2)] for p in P]
    err = max(abs(xy[2 * i + k] - e[k]) for i, e in zip(idx, E) for k in range(2))
    res(err < 1e-4, "%s: the %d points are the 2-D PCA scaled into [-1, 1] keeping the aspect ratio (max error %.2g)" % (
        desc, len(idx), err))
    inb = all(-1 <= xy[2 * i + k] <= 1 for i in idx for k in range(2))
    edge = max(abs(xy[2 * i + k]) for i in idx for k in range(2))
    res(inb and edge == 1.0, "%s: every coordinate in [-1, 1], the longer side spans it" % desc)
    res(h.get("x-sievefs-layout") == "pca", "%s: X-Sievefs-Layout: pca" % desc)
    heads_ok(h, t, desc)
    sys.stdout.flush()
    open(os.environ["T"] + "/layout.bin", "wb").write(b)

elif cmd == "refuse":       # TOKEN PATH STATUS CODE MSG_PART DESC
    tok, path, status, code, msg, desc = args
    st, h, b = get(path, tok=tok or None)
    try:
        e = json.loads(b)["error"]
    except Exception:
        e = {}
    res(st == int(status) and e.get("code") == code and msg in e.get("message", ""),
        "%s: %d %s (%s)" % (desc, st, e.get("code"), e.get("message")))
else:
    sys.exit("unknown command " + cmd)
EOF

# check CMD ARGS... — runs the checker; its "ok"/"not ok" lines count.
check() {
	local out line
	out=$(U=$U TA=$TA T=$T "$PY" "$T/chk.py" "$@" 2>"$T/chk.err")
	[[ -n $out ]] || { fail "checker $1 printed nothing"; sv_show "$T/chk.err"; return; }
	while IFS= read -r line; do
		case $line in
		"ok - "*) pass "${line#ok - }" ;;
		"not ok - "*) fail "${line#not ok - }" ;;
		*) fail "checker $1: $line" ;;
		esac
	done <<<"$out"
	grep -q Traceback "$T/chk.err" && { fail "checker $1 failed"; sv_show "$T/chk.err" 30; }
	return 0
}
gen() { U=$U TA=$TA "$PY" "$T/chk.py" gen "$DSID"; }
etag_of() { printf '"%s"' "$1"; }
# code_for TOKEN PATH [curl args] — the HTTP status into $code
code_for() {
	local tok=$1 path=$2
	shift 2
	code=$(curl -s -o "$T/body" -D "$T/head" -w '%{http_code}' \
		-H "Authorization: Bearer $tok" "$@" "$U$path")
}

# ---- the table
check table "$DSID" "$ds/initial-tag"
G0=$(gen)
code_for "$TA" "/v1/datasets/$DSID/table" -H "If-None-Match: $(etag_of "$G0")"
expect_eq 304 "$code" "If-None-Match with the table's ETag: 304"
grep -qiF "ETag: \"$G0\"" "$T/head" && pass "the 304 carries the ETag" ||
	fail "the 304 lacks ETag \"$G0\""
[[ ! -s $T/body ]] && pass "the 304 has no body" || fail "the 304 has a body"

# every change of the live tree moves the gen: cp, chmod, mv, rm, API rename
last=$G0
moved() {   # DESC: the gen moved since $last, and the old ETag gets 200
	local g
	g=$(gen)
	if [[ -n $g && $g != "$last" ]]; then pass "$1 changes the gen ($last → $g)"
	else fail "$1 left the gen at $last"; fi
	code_for "$TA" "/v1/datasets/$DSID/table" -H "If-None-Match: $(etag_of "$last")"
	expect_eq 200 "$code" "after $1 the old ETag gets 200"
	last=$g
}
echo new >"$T/new.bin"
ok "cp a new file in" cp "$T/new.bin" "$ds/initial-tag/b/new.bin"
moved "cp"
ok "chmod a file" chmod 600 "$ds/initial-tag/f00.bin"
moved "chmod"
ok "mv a file to another folder" mv "$ds/initial-tag/a/f01.bin" "$ds/initial-tag/b/c/f01-moved.bin"
moved "mv"
ROOT=$(curl -sf -H "Authorization: Bearer $TA" "$U/v1/datasets/$DSID" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["live_root"])')
code_for "$TA" "/v1/nodes/$ROOT/rename" -X POST \
	-d '{"name":"f04.bin","newparent":'"$ROOT"',"newname":"f04-api.bin"}'
expect_eq 204 "$code" "rename a file through the API"
moved "a rename through the API"
check table "$DSID" "$ds/initial-tag"

# ---- members: the selection
check members "$DSID" <(cd "$ds/initial-tag" && find . -type f | sed 's|^\./||') "" \
	"members, default selection (all of initial-tag)"
cat "$ds/selection" >"$T/sel.all"
check members "$DSID" "$T/sel.all" "" "members = the selection file (default)"
printf '%s\n' "f00.bin" "b/c/f01-moved.bin" "sp ace.bin" 'q"uote.bin' "a/été.bin" \
	"b/f03.bin" "f08.bin" >"$T/sel7"
ok "write 7 paths to selection through the mount" cp "$T/sel7" "$ds/selection"
cat "$ds/selection" >"$T/sel.now"
expect_list_eq "$T/sel7" "$T/sel.now" "the selection file reads them back"
check members "$DSID" "$T/sel.now" "" "members = the 7 paths of the selection file"

# ---- members of a tag
ok "mkdir ds/v1 (freeze the selection)" mkdir "$ds/v1"
V1=$(curl -sf -H "Authorization: Bearer $TA" "$U/v1/datasets/$DSID/tags?name=v1" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
LIVE=$(curl -sf -H "Authorization: Bearer $TA" "$U/v1/datasets/$DSID/tags?name=initial-tag" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
(cd "$ds/v1" && find . -type f | sed 's|^\./||') >"$T/v1.files"
expect_eq 7 "$(wc -l <"$T/v1.files")" "find shows 7 files in v1"
check members "$DSID" "$T/v1.files" "$V1" "members?tag=v1 = find of the v1 folder"
check members "$DSID" <(cd "$ds/initial-tag" && find . -type f | sed 's|^\./||') "$LIVE" \
	"members?tag=initial-tag = all"
ok "rm a file of v1 from the live tree" rm "$ds/initial-tag/sp ace.bin"
moved "rm"
(cd "$ds/v1" && find . -type f | sed 's|^\./||') >"$T/v1.after"
expect_list_eq "$T/v1.files" "$T/v1.after" "v1 keeps its 7 files"
check members "$DSID" "$T/v1.after" "$V1" "members?tag=v1 after the rm: 6 (the removed one is not in the table)"

# ---- refusals (before any run and embedding)
check refuse "$TA" "/v1/datasets/$DSID/scores" 404 no_run "no finished sampling run" \
	"scores before any run"
check refuse "$TA" "/v1/datasets/$DSID/layout" 404 no_embedding "has no embedding" \
	"layout with no embedding"

# ---- embeddings and the layout
"$PY" - "$ds/initial-tag" "$T" <<'EOF' || die "cannot write the CSVs"
import csv, os, random, sys
live, t = sys.argv[1], sys.argv[2]
paths = []
for dp, dn, fn in os.walk(live):
    for f in fn:
        paths.append(os.path.relpath(os.path.join(dp, f), live))
paths.sort(key=lambda p: p.encode())
random.seed(3)
for name, skip, d in (("e1", 3, 3), ("e2", 5, 4)):
    with open("%s/%s.csv" % (t, name), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filenames"] + ["embedding_%d" % j for j in range(d)] + ["labels"])
        for i, p in enumerate(paths):
            if i % 11 == skip:
                continue          # no row: NaN in the layout, unranked
            w.writerow([p] + ["%.4f" % random.gauss(j * 3, 1 + j) for j in range(d)] + [i % 3])
EOF
ok "cp e1.csv into embeddings/" cp "$T/e1.csv" "$ds/embeddings/e1.csv"
E1=$(curl -sf -H "Authorization: Bearer $TA" "$U/v1/datasets/$DSID/embeddings?name=e1" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
check layout "$DSID" "$T/e1.csv" "?embedding=$E1" "layout of e1"
cp "$T/layout.bin" "$T/layout.e1"
check layout "$DSID" "$T/e1.csv" "" "layout without ?embedding= (e1, the only one)"
cmp -s "$T/layout.bin" "$T/layout.e1" && pass "the same bytes as ?embedding=e1" ||
	fail "layout without ?embedding= differs from ?embedding=e1"
ok "cp e2.csv into embeddings/" cp "$T/e2.csv" "$ds/embeddings/e2.csv"
check layout "$DSID" "$T/e2.csv" "" "layout without ?embedding= (e2, the newest)"
check layout "$DSID" "$T/e1.csv" "?embedding=$E1" "layout of e1 beside e2"

# ---- a run, its scores, the selection it makes
ok "sample coreset n=20 embedding=e1" sample_req "$ds" "coreset n=20 embedding=e1"
expect_eq done "$(wait_run "$ds")" "the run ends done"
cat "$ds/scores.csv" >"$T/scores.csv"
check scores "$DSID" "$T/scores.csv"
cat "$ds/selection" >"$T/sel.run"
expect_eq 20 "$(wc -l <"$T/sel.run")" "the selection file has the run's 20"
check members "$DSID" "$T/sel.run" "" "members = the run's selection"

# ---- kept: files sent by an upload=meta mount
K=$T/mntK
sv_mount "$U" "$K" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheK" \
	-o meta_ttl=0 -o upload=meta || die "upload=meta mount failed"
printf 'kept one\n' >"$T/k1.bin"
printf 'kept two\n' >"$T/k2.bin"
ok "cp 2 files in through the upload=meta mount" cp "$T/k1.bin" "$T/k2.bin" "$K/ds/initial-tag/b/"
printf '%s\n' b/k1.bin b/k2.bin >"$T/kept.list"
check table "$DSID" "$ds/initial-tag" "$T/kept.list"
sv_umount "$K"

# ---- refusals
G1=$(gen)
for r in table members scores layout; do
	check refuse "$TB" "/v1/datasets/$DSID/$r" 404 not_found "" "bob asks for alice's $r"
	check refuse "" "/v1/datasets/$DSID/$r" 401 unauthorized "" "$r without a token"
	check refuse "$TA" "/v1/datasets/0/$r" 400 bad_path "" "$r of dataset 0"
	check refuse "$TA" "/v1/datasets/x1/$r" 400 bad_path "" "$r of dataset x1"
done
check refuse "$TA" "/v1/datasets/$DSID/members?tag=abc" 400 bad_path "tag must be an id" \
	"members?tag=abc"
check refuse "$TA" "/v1/datasets/$DSID/members?tag=0" 400 bad_path "tag must be an id" \
	"members?tag=0"
check refuse "$TA" "/v1/datasets/$DSID/layout?embedding=-1" 400 bad_path \
	"embedding must be an id" "layout?embedding=-1"
check refuse "$TA" "/v1/datasets/$DSID/members?tag=999999" 404 not_found \
	"no such tag in this dataset" "members of a tag that does not exist"
ok "mkdir ds2" mkdir "$M/ds2"
echo x >"$M/ds2/initial-tag/x.bin"
printf 'filenames,embedding_0,labels\nx.bin,1.0,0\n' >"$T/x.csv"
ok "an embedding of ds2" cp "$T/x.csv" "$M/ds2/embeddings/x.csv"
D2=$(curl -sf -H "Authorization: Bearer $TA" "$U/v1/datasets?name=ds2" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
T2=$(curl -sf -H "Authorization: Bearer $TA" "$U/v1/datasets/$D2/tags?name=initial-tag" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
X2=$(curl -sf -H "Authorization: Bearer $TA" "$U/v1/datasets/$D2/embeddings?name=x" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
check refuse "$TA" "/v1/datasets/$DSID/members?tag=$T2" 404 not_found \
	"no such tag in this dataset" "members?tag= of another dataset's tag"
check refuse "$TA" "/v1/datasets/$DSID/layout?embedding=$X2" 404 not_found \
	"no such embedding in this dataset" "layout?embedding= of another dataset's embedding"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $TB" \
	-d '{"name":"bobs"}' "$U/v1/datasets")
expect_eq 201 "$code" "bob creates a dataset"
BD=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/body")
BT=$(curl -sf -H "Authorization: Bearer $TB" "$U/v1/datasets/$BD/tags?name=initial-tag" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
check refuse "$TA" "/v1/datasets/$DSID/members?tag=$BT" 404 not_found "" \
	"members?tag= of bob's tag"
check refuse "$TA" "/v1/datasets/$BD/table" 404 not_found "" "alice asks for bob's table"
expect_eq "$G1" "$(gen)" "the refusals changed nothing (same gen)"

# ---- an empty dataset
code_for "$TB" "/v1/datasets/$BD/table"
expect_eq 200 "$code" "an empty dataset's table: 200"
"$PY" -c 'import json,sys; t=json.load(open(sys.argv[1])); sys.exit(not (t["count"]==0 and t["path"]==[] and t["kept"]==[]))' "$T/body" &&
	pass "an empty dataset's table has count 0 and empty columns" ||
	fail "an empty dataset's table: $(head -c 200 "$T/body")"
code_for "$TB" "/v1/datasets/$BD/members"
[[ $code == 200 && ! -s $T/body ]] && pass "an empty dataset's members: 200, 0 bytes" ||
	fail "an empty dataset's members: $code, $(stat -c %s "$T/body") bytes"

sv_umount "$M"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
