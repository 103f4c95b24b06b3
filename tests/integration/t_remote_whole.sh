#!/usr/bin/env bash
#
# t_remote_whole — a remote mount answers absent names of a folder it knows
# whole without asking the server (api/client_whole.c, issue 20), and
# nothing another mount does is hidden longer than meta_ttl.
#
# Proves, with two mounts of one user on a real `sievefs serve`:
#   - `cp -r` and `rsync -a` into folders mount A just made, and into a new
#     dataset's initial-tag, send no lookup by name of the new files (nor
#     of rsync's temporary names) — A's own debug log (-d), the client's
#     "remote: GET PATH: STATUS" lines — and every file arrives whole; a
#     second `rsync -a` at once sends only the file changed meanwhile;
#   - a file mount B makes in a folder A knows whole is read on A once
#     meta_ttl has passed;
#   - A's O_EXCL create of a name B took meanwhile (A still calls it absent)
#     is refused by the server with EEXIST, and B's bytes are unchanged;
#   - a name A removed and one A renamed into such a folder are answered
#     right (the first absent, the second there) at once;
#   - while A keeps writing, a folder whose record expired is listed once
#     more, and a file B made in it meanwhile is read on A;
#   - a chmod and a utimes (rsync's two per file) write no idempotency key
#     row on the server (they are sent unkeyed: a repeat sets the same
#     values) and show on B.
# No wall-clock time is asserted; the sleeps only wait out TTLs.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl cmp diff grep rsync fusermount3

port=$(free_port) || die "no free port"
url=http://127.0.0.1:$port
mkdir -p "$T/store"
new_token alice "$T/alice.tok" >/dev/null || die "token create failed"
start_server "$port" || die "sievefs serve did not come up on $url"

# meta_ttl=4: folders stay known whole for 2 s, renewed by a listing after.
A=$T/mntA B=$T/mntB
sv_mount "$url" "$A" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheA" \
	-o meta_ttl=4 -d || die "mount A failed"
sv_mount "$url" "$B" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheB" \
	-o meta_ttl=4 || die "mount B failed"
LOG=${SV_MNT_LOG[$A]}
mark() { stat -c %s "$LOG"; }
since() { tail -c "+$(($1 + 1))" "$LOG"; }

python3 - "$T/src" <<'EOF' || die "could not generate files"
import os, sys
for d in range(3):
    p = os.path.join(sys.argv[1], "w%d" % d)
    os.makedirs(p)
    for i in range(40):
        with open(os.path.join(p, "f%03d.bin" % i), "wb") as f:
            f.write(os.urandom(100 + 37 * i))
EOF
ok "mkdir a dataset on A" mkdir "$A/ds" || die "no dataset"

# --- cp -r and rsync -a into new folders: no lookup by name
m=$(mark)
ok "cp -r of 3 folders x 40 files into A" cp -r "$T/src/." "$A/ds/initial-tag/cp/"
ok "rsync -a of them into A" rsync -a "$T/src/" "$A/ds/initial-tag/rs/"
since "$m" >"$T/copy.log"
expect_tree_eq "$T/src" "$A/ds/initial-tag/cp" "cp -r: every file arrived whole"
expect_tree_eq "$T/src" "$A/ds/initial-tag/rs" "rsync -a: every file arrived whole"
n=$(grep -c 'remote: GET /v1/nodes/[0-9]*/lookup?name=\(\.\)\{0,1\}f[0-9]*\.bin' "$T/copy.log")
expect_eq 0 "$n" "no lookup by name of a new file (or rsync's temporary name) while copying"
ncreate=$(grep -c 'remote: POST /v1/nodes/[0-9]*/children: 20[01]' "$T/copy.log")
((ncreate >= 240)) && pass "the copies did create their files ($ncreate creates)" ||
	fail "only $ncreate creates in A's log for 240 files"
((n == 0)) || grep 'lookup?name=' "$T/copy.log" | head -n 10 | sed 's/^/#   | /'

# --- rsync -a again at once, one file changed: every name A made in these
# folders is found (none called absent), so only that file goes again,
# over its old copy (a rename onto a name the record holds)
echo more >>"$T/src/w2/f005.bin"
if rsync -ai "$T/src/" "$A/ds/initial-tag/rs/" >"$T/rsync2.out" 2>&1; then
	pass "rsync -a again into A"
else
	fail "rsync -a again into A: $(tail -n 3 "$T/rsync2.out")"
fi
expect_eq "w2/f005.bin" "$(grep '^[<>c]f' "$T/rsync2.out" | awk '{ print $2 }' | tr '\n' ' ' | sed 's/ $//')" \
	"the second rsync -a sends only the changed file"
expect_tree_eq "$T/src" "$A/ds/initial-tag/rs" "rsync -a again: the tree is the source's"

# --- files straight into a new dataset's initial-tag: no lookup either
m=$(mark)
ok "mkdir a second dataset on A" mkdir "$A/ds2"
ok "cp -r of 40 files into its initial-tag" cp -r "$T/src/w1/." "$A/ds2/initial-tag/"
since "$m" >"$T/copy2.log"
expect_tree_eq "$T/src/w1" "$A/ds2/initial-tag" "every file arrived whole"
n=$(grep -c 'remote: GET /v1/nodes/[0-9]*/lookup?name=f[0-9]*\.bin' "$T/copy2.log")
expect_eq 0 "$n" "no lookup by name of a new file in a new dataset's initial-tag"

# --- another mount's file shows within meta_ttl
ok "mkdir a fresh folder on A" mkdir "$A/ds/initial-tag/fresh"
ok "B sees the folder" ls "$B/ds/initial-tag/fresh"
echo "from B" >"$T/b.txt"
ok "B writes fresh/b.txt" cp "$T/b.txt" "$B/ds/initial-tag/fresh/b.txt"
sleep 4.5
ok "A reads B's file once meta_ttl has passed" cmp "$T/b.txt" "$A/ds/initial-tag/fresh/b.txt"

# --- O_EXCL create of a name B took meanwhile: EEXIST, B's bytes kept
ok "mkdir another fresh folder on A" mkdir "$A/ds/initial-tag/race"
ok "B sees it" ls "$B/ds/initial-tag/race"
ok "B writes race/x" cp "$T/b.txt" "$B/ds/initial-tag/race/x"
expect_errno "File exists" python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b"from A\n")
os.close(fd)' "$A/ds/initial-tag/race/x"
sleep 4.5
ok "B's bytes are unchanged, on B" cmp "$T/b.txt" "$B/ds/initial-tag/race/x"
ok "B's bytes are unchanged, on A" cmp "$T/b.txt" "$A/ds/initial-tag/race/x"

# --- this mount's own removes and renames show at once
ok "mkdir a third fresh folder on A" mkdir "$A/ds/initial-tag/own"
echo one >"$A/ds/initial-tag/own/a" || fail "write own/a"
ok "rm own/a" rm "$A/ds/initial-tag/own/a"
expect_errno "No such file" stat "$A/ds/initial-tag/own/a"
echo two >"$A/ds/initial-tag/cp/w0/moved" || fail "write cp/w0/moved"
ok "mv into the fresh folder" mv "$A/ds/initial-tag/cp/w0/moved" "$A/ds/initial-tag/own/b"
expect_eq two "$(cat "$A/ds/initial-tag/own/b")" "the renamed file is there at once"
echo three >"$A/ds/initial-tag/own/a" || fail "write own/a again"
expect_eq three "$(cat "$A/ds/initial-tag/own/a")" "a name made again after its remove reads back"

# --- while A keeps writing, an expired record is renewed by one listing
# (client_nodes.c's whole_renew), which shows what B made meanwhile
ok "mkdir a fourth fresh folder on A" mkdir "$A/ds/initial-tag/busy"
ok "B sees it" ls "$B/ds/initial-tag/busy"
ok "B writes busy/c.txt" cp "$T/b.txt" "$B/ds/initial-tag/busy/c.txt"
sleep 2.5
echo w >"$A/ds/initial-tag/own/w" || fail "write own/w (A is writing)"
m=$(mark)
ok "A, writing, reads B's file once its record of busy/ expired" \
	cmp "$T/b.txt" "$A/ds/initial-tag/busy/c.txt"
n=$(since "$m" | grep -c 'remote: GET /v1/nodes/[0-9]*/children?limit=[0-9]*: 200')
((n >= 1)) && pass "the expired record was renewed by a listing" ||
	fail "no listing in A's log after the record expired"

# --- setattr: unkeyed, and it takes effect
keys() { sv_catalog_sql "$T/store" "SELECT count(*) FROM idem"; }
k0=$(keys)
f=$A/ds/initial-tag/own/b
ok "chmod 640 through A" chmod 640 "$f"
ok "touch -d through A" touch -m -d "2001-02-03 04:05:06 UTC" "$f"
expect_eq "$k0" "$(keys)" "chmod and utimes wrote no idempotency key row"
sleep 4.5
expect_eq "640 981173106" "$(stat -c '%a %Y' "$B/ds/initial-tag/own/b")" \
	"B sees the mode and the mtime"
k0=$(keys)
ok "mkdir through A (a keyed change)" mkdir "$A/ds/initial-tag/keyed"
(($(keys) > k0)) && pass "a create still writes its key row" ||
	fail "no key row for a create (keys $k0 -> $(keys))"

sv_umount "$B"
sv_umount "$A"
