#!/usr/bin/env bash
#
# t_remote — remote mode: mounts of a real `sievefs serve` on loopback.
#
# Proves: with -o token_file a remote mount behaves like a local one (mkdir a
# dataset, cp -r ~200 files in and diff -r them back, selection + mkdir tag,
# an embeddings CSV + `random n=5` + mkdir); a second mount of the same user
# sees the datasets and tags after the metadata TTL; two users see only their
# own datasets; a file made or removed by one mount shows in another within
# the TTL; opening one file prefetches its folder's blobs into the cache;
# absent, wrong and revoked tokens and an unreachable server
# make the mount fail at start with a message; a token file with any
# group/other permission (0644, 0640) or owned by another user is refused
# with a message that says `chmod 600 FILE`, and nothing is mounted; plain
# http to a DNS name that only starts like a loopback address
# (127.evil.example, 127.0.0.1.evil.example, 127.0.0.1@evil.example) is
# refused with a message and without any connection (a listener set as
# http_proxy sees none), and a loopback mount ignores http_proxy; -o token=
# is refused; files
# read once stay readable from the cache after the server is killed.
# The server is started by PID and killed by PID (also in the trap).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl diff grep mountpoint fusermount3

# mount_fails DESC TEXT ARGS... — the mount must exit non-zero at once,
# saying TEXT on stderr, and leave nothing mounted.
mount_fails() {
	local desc=$1 text=$2 rc
	shift 2
	mkdir -p "$T/mfail"
	timeout 20 "$SIEVEFS" "$url" "$T/mfail" -f "$@" </dev/null >"$T/mfail.out" 2>&1
	rc=$?
	if ((rc == 0 || rc == 124)); then
		fail "$desc: mount exited $rc"
	elif ! grep -qF -- "$text" "$T/mfail.out"; then
		fail "$desc: stderr lacks '$text'"
		sv_show "$T/mfail.out"
	elif sv_is_mounted "$T/mfail"; then
		fail "$desc: something got mounted"
		fusermount3 -u "$T/mfail"
	else
		pass "$desc ($(head -c 160 "$T/mfail.out"))"
	fi
}

port=$(free_port) || die "no free port"
url=http://127.0.0.1:$port
mkdir -p "$T/store"
# Users and tokens first: the server must answer them when they exist.
alice_id=$(new_token alice "$T/alice.tok") || die "token create failed"
new_token bob "$T/bob.tok" >/dev/null || die "token create failed"
mallory_id=$(new_token mallory "$T/mallory.tok") || die "token create failed"
start_server "$port" || die "sievefs serve did not come up on $url"
note "server pid $SERVER_PID on $url"

# --- refusals before anything is mounted
mount_fails "-o token= is refused" "visible" -o "token=$(cat "$T/alice.tok")"
mount_fails "no token at all" "needs a token" -o "cache_dir=$T/c0"
printf 'svf_%064d\n' 0 >"$T/wrong.tok"
chmod 600 "$T/wrong.tok"
mount_fails "a wrong token" "refused the token" -o "token_file=$T/wrong.tok" \
	-o "cache_dir=$T/c0"
ok "token revoke" "$SIEVEFS" token revoke --store "$T/store" "$mallory_id"
mount_fails "a revoked token" "refused the token" \
	-o "token_file=$T/mallory.tok" -o "cache_dir=$T/c0"
url_saved=$url
url=http://127.0.0.1:$(free_port)
mount_fails "a server that is not there" "unreachable" \
	-o "token_file=$T/alice.tok" -o "cache_dir=$T/c0"
url=$url_saved
mount_fails "an unknown upload mode is refused" "upload=everything" \
	-o "token_file=$T/alice.tok" -o "cache_dir=$T/c0" -o upload=everything
# a good token in a file others can read, or that is someone else's: refused
# as ssh refuses such a key (the 0600 file works: the mounts below)
cp "$T/alice.tok" "$T/open.tok"
chmod 644 "$T/open.tok"
mount_fails "a token file of mode 0644 is refused" "chmod 600 $T/open.tok" \
	-o "token_file=$T/open.tok" -o "cache_dir=$T/c0"
chmod 640 "$T/open.tok"
mount_fails "a token file of mode 0640 is refused" "chmod 600" \
	-o "token_file=$T/open.tok" -o "cache_dir=$T/c0"
chmod 600 "$T/open.tok"
ok "chown the token file to uid 65534 (the suite runs as root)" chown 65534 "$T/open.tok"
mount_fails "a token file owned by another user is refused" "belongs to uid 65534" \
	-o "token_file=$T/open.tok" -o "cache_dir=$T/c0"

# --- plain http only to a literal loopback host (issue 11, item 3). DNS
# names that start like a loopback address are refused before any
# connection: a listener set as http_proxy (which libcurl would use for
# such a name, without any DNS) must see nothing, so no token left.
python3 - "$T/proxy.port" "$T/proxy.seen" <<'PY' &
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept(); c.settimeout(2)
    try: data = c.recv(4096)
    except OSError: data = b"?"
    with open(sys.argv[2], "ab") as f: f.write(data or b"(connect)")
    c.close()
PY
SV_BG+=("$!")
for _ in $(seq 50); do [[ -s $T/proxy.port ]] && break; sleep 0.1; done
[[ -s $T/proxy.port ]] || die "the proxy listener did not start"
url_saved=$url
for case in "127.evil.example:$port|allowed only to a loopback" \
	"127.0.0.1.evil.example:$port|allowed only to a loopback" \
	"127.0.0.1@evil.example:$port|no user@ part"; do
	url=http://${case%%|*}
	http_proxy=http://127.0.0.1:$(cat "$T/proxy.port") mount_fails \
		"plain $url is refused" "${case#*|}" \
		-o "token_file=$T/alice.tok" -o "cache_dir=$T/c0"
done
url=$url_saved
if [[ -e $T/proxy.seen ]]; then
	fail "a refused URL still connected: $(head -c 200 "$T/proxy.seen")"
else
	pass "no connection was attempted for the refused URLs"
fi
# plain http to loopback never goes through a proxy of the environment
# (it would carry the token off this machine in clear)
P=$T/mntP
http_proxy=http://127.0.0.1:$(cat "$T/proxy.port") sv_mount "$url" "$P" \
	-o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheP" &&
	ok "ls a loopback mount with http_proxy set" ls "$P" &&
	sv_umount "$P"
if [[ -e $T/proxy.seen ]]; then
	fail "the loopback mount went through http_proxy: $(head -c 200 "$T/proxy.seen")"
else
	pass "the loopback mount ignored http_proxy"
fi

# --- alice's first mount: the filesystem flows
A=$T/mntA
sv_mount "$url" "$A" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheA" \
	-o meta_ttl=1 || die "remote mount failed"
ok "mkdir a dataset" mkdir "$A/leaves" || die "cannot create a dataset"
src=$T/src
sv_gen_tree "$src" 200 20000 501 || die "could not generate files"
ok "cp -r 200 files in" cp -r "$src/." "$A/leaves/initial-tag/"
expect_tree_eq "$src" "$A/leaves/initial-tag" "diff -r: the files came back intact"
sv_files "$src" >"$T/all.txt"
nfiles=$(wc -l <"$T/all.txt")

head -n 20 "$T/all.txt" >"$T/sel.txt"
ok "write the selection" cp "$T/sel.txt" "$A/leaves/selection"
ok "read the selection" cat "$A/leaves/selection"
expect_list_eq "$T/sel.txt" "$T/last.out" "selection reads back as written"
ok "mkdir tag first20" mkdir "$A/leaves/first20"
sv_files "$A/leaves/first20" >"$T/first20.txt"
expect_list_eq "$T/sel.txt" "$T/first20.txt" "the tag holds exactly the selection"
ok "the tag's bytes" cmp "$src/$(head -n1 "$T/sel.txt")" \
	"$A/leaves/first20/$(head -n1 "$T/sel.txt")"

python3 - "$T/all.txt" "$T/emb.csv" <<'EOF'
import sys, random
paths = [l.rstrip("\n") for l in open(sys.argv[1])]
r = random.Random(5)
with open(sys.argv[2], "w") as f:
    f.write("filenames,embedding_0,embedding_1,embedding_2,labels\n")
    for p in paths:
        f.write("%s,%f,%f,%f,%d\n" % (p, r.random(), r.random(), r.random(), r.randrange(3)))
EOF
ok "cp an embeddings CSV" cp "$T/emb.csv" "$A/leaves/embeddings/e3.csv"
ok "ls embeddings/" ls "$A/leaves/embeddings"
expect_contains "$T/last.out" "e3.csv" "the embedding is listed"
ok "echo 'random n=5' > sample" sh -c "echo 'random n=5 seed=3' > '$A/leaves/sample'"
deadline=$((SECONDS + 20))
while ((SECONDS < deadline)); do
	grep -q '^status: \(done\|failed\)' "$A/leaves/sample" && break
	sleep 0.2
done
cat "$A/leaves/sample" >"$T/sample.txt"
expect_line "$T/sample.txt" "status: done" "the sampling run finished"
ok "mkdir tag r5" mkdir "$A/leaves/r5"
expect_eq 5 "$(sv_files "$A/leaves/r5" | wc -l)" "r5 holds the 5 picked samples"
ok "info over the network" cat "$A/leaves/info"
expect_contains "$T/last.out" "r5" "info names tag r5"

# --- a second mount of the same user sees it all (after the TTL)
B=$T/mntB
sv_mount "$url" "$B" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheB" \
	-o meta_ttl=1 || die "second remote mount failed"
ok "ls the second mount" ls "$B/leaves"
for t in initial-tag first20 r5; do
	expect_line "$T/last.out" "$t" "the second mount sees tag $t"
done
expect_tree_eq "$src" "$B/leaves/initial-tag" "the second mount reads the same bytes"
ok "mkdir a tag on the first mount" mkdir "$A/leaves/later"
sleep 2.5
ok "ls the second mount again" ls "$B/leaves"
expect_line "$T/last.out" "later" "a tag made elsewhere shows within the TTL"
# A file made elsewhere after this mount looked for it (and cached its
# absence, and a listing of the folder) shows within the TTL too.
one=$(head -n1 "$T/all.txt")
expect_fail "the second mount: no new.bin yet" stat "$B/leaves/initial-tag/new.bin"
ok "cp a file in on the first mount" cp "$src/$one" "$A/leaves/initial-tag/new.bin"
sleep 1.2
ok "the second mount reads new.bin within the TTL" \
	cmp "$src/$one" "$B/leaves/initial-tag/new.bin"
ok "rm new.bin on the first mount" rm "$A/leaves/initial-tag/new.bin"
sleep 1.7   # the metadata TTL, then the kernel's half of it
expect_fail "the second mount sees new.bin gone within 1.5 x the TTL" \
	stat "$B/leaves/initial-tag/new.bin"
# A file rewritten in place (same size, new bytes) and closed: the writing
# mount reads the new bytes at once, the other one within the TTL — though
# it had the old bytes in its page cache (live files keep their pages
# between opens; a changed mtime must drop them).
head -c 65536 /dev/urandom >"$T/old.bin"
head -c 65536 /dev/urandom >"$T/new.bin"
ok "write rw.bin on the first mount" cp "$T/old.bin" "$A/leaves/initial-tag/rw.bin"
sleep 1.2
ok "the second mount reads rw.bin (its pages are now cached)" \
	cmp "$T/old.bin" "$B/leaves/initial-tag/rw.bin"
ok "rewrite rw.bin in place on the first mount (dd conv=notrunc)" \
	dd if="$T/new.bin" of="$A/leaves/initial-tag/rw.bin" bs=64k conv=notrunc status=none
ok "the first mount reads the new bytes at once" \
	cmp "$T/new.bin" "$A/leaves/initial-tag/rw.bin"
sleep 1.7   # the metadata TTL, then the kernel's half of it
ok "the second mount reads the new bytes within 1.5 x the TTL" \
	cmp "$T/new.bin" "$B/leaves/initial-tag/rw.bin"
ok "rm rw.bin (the tree is compared with the source below)" rm "$A/leaves/initial-tag/rw.bin"
sv_umount "$B"

# --- prefetch: opening one file of a folder fetches the folder's other
# blobs in the background, into the cache
D=$T/mntD
sv_mount "$url" "$D" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cacheD" \
	-o meta_ttl=1 || die "a fresh remote mount failed"
dir=$(sed -n 's|/[^/]*$||p' "$T/all.txt" | sort | uniq -c | sort -rn | head -n1 |
	sed 's/^ *[0-9]* //')
first=$(grep "^$dir/[^/]*\$" "$T/all.txt" | head -n1)
want=$(find "$src/$dir" -maxdepth 1 -type f -size +0c | wc -l)
ok "read one file of '$dir'" cmp "$src/$first" "$D/leaves/initial-tag/$first"
deadline=$((SECONDS + 15))
while :; do
	have=$(find "$T/cacheD" -type f -regextype egrep -regex '.*/[0-9a-f]{64}' | wc -l)
	((have >= want || SECONDS >= deadline)) && break
	sleep 0.2
done
if ((want >= 2 && have >= want)); then
	pass "prefetch cached the $want blobs of '$dir' ($have in the cache)"
else
	fail "prefetch: $have blobs cached, want $want (folder '$dir')"
fi
expect_tree_eq "$src/$dir" "$D/leaves/initial-tag/$dir" "the prefetched files read back intact"
sv_umount "$D"

# --- another user sees only their own datasets
C=$T/mntC
sv_mount "$url" "$C" -o "token_file=$T/bob.tok" -o "cache_dir=$T/cacheC" \
	-o meta_ttl=1 || die "bob's mount failed"
ok "ls bob's root" ls "$C"
expect_eq "log" "$(cat "$T/last.out")" "bob sees none of alice's datasets (only his mount's log)"
expect_fail "bob cannot reach alice's dataset by name" ls "$C/leaves"
ok "bob makes his own dataset" mkdir "$C/bobs"
sleep 2.5
ok "ls alice's root" ls "$A"
expect_eq "leaves log" "$(tr '\n' ' ' <"$T/last.out" | sed 's/ $//')" "alice does not see bob's dataset"
sv_umount "$C"

# --- reads from the cache while the server is down
expect_tree_eq "$src" "$A/leaves/initial-tag" "diff -r once more (fills the caches)"
kill_server
note "server killed"
sleep 1.5   # past the kernel's and the metadata cache's TTLs
expect_tree_eq "$src" "$A/leaves/initial-tag" "cached files stay readable with the server down"
expect_fail "a change needs the server" mkdir "$A/leaves/offline"
ok "the failure is in the mount's log" grep -q "remote: " "${SV_MNT_LOG[$A]}"
sv_umount "$A"

note "$nfiles files"
