#!/usr/bin/env bash
#
# t_cli — the command line: help, version, errors, and the mount.fuse3 forms.
#
# Proves: `--help` and `--version` exit 0 and print usage / a version number;
# no arguments and a non-existent mountpoint fail with a non-zero status and a
# clear message on stderr (naming the problem) without hanging; a missing STORE
# directory is created; the form mount.fuse3 passes (`sievefs STORE MNT -o
# rw,dev,suid`, no -f: the daemon detaches) mounts and serves files, both run
# directly, through `mount.fuse3 'sievefs#STORE' MNT`, through `mount -t
# fuse.sievefs` and through an fstab line; `-f -o rw,dev,suid` works too;
# `fusermount3 -u` and `umount` unmount and the detached daemon exits.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need timeout mountpoint fusermount3 mount.fuse3 mount umount

# --- help and version
ok "sievefs --help exits 0" timeout 10 "$SIEVEFS" --help
cat "$T/last.out" "$T/last.err" >"$T/help.txt"
if grep -qi 'usage' "$T/help.txt"; then pass "--help prints usage"; else
	fail "--help output has no 'usage'"; sv_show "$T/help.txt"; fi
if grep -q 'STORE' "$T/help.txt" || grep -qi 'mountpoint' "$T/help.txt"; then
	pass "--help describes the STORE/MOUNTPOINT arguments"
else
	fail "--help mentions neither STORE nor MOUNTPOINT"; sv_show "$T/help.txt"
fi
ok "sievefs --version exits 0" timeout 10 "$SIEVEFS" --version
cat "$T/last.out" "$T/last.err" >"$T/version.txt"
if grep -Eq '[0-9]+\.[0-9]+' "$T/version.txt"; then pass "--version prints a version number"; else
	fail "--version prints no version number"; sv_show "$T/version.txt"; fi

# --- errors
timeout 10 "$SIEVEFS" >"$T/noargs.out" 2>"$T/noargs.err"
rc=$?
if ((rc == 124)); then
	fail "sievefs without arguments hung (killed after 10 s)"
elif ((rc == 0)); then
	fail "sievefs without arguments exited 0"
else
	pass "no arguments: exit status $rc"
fi
ok "no arguments: a message on stderr" test -s "$T/noargs.err"

missing=$T/no/such/mountpoint
timeout 15 "$SIEVEFS" "$T/store0" "$missing" -f >"$T/miss.out" 2>"$T/miss.err"
rc=$?
if ((rc == 124)); then
	fail "sievefs with a non-existent mountpoint hung (killed after 15 s)"
elif ((rc == 0)); then
	fail "sievefs with a non-existent mountpoint exited 0"
else
	pass "non-existent mountpoint: exit status $rc"
fi
if grep -qF "$missing" "$T/miss.err" || grep -q "No such file or directory" "$T/miss.err"; then
	pass "non-existent mountpoint: stderr names the problem"
else
	fail "non-existent mountpoint: stderr is not clear"; sv_show "$T/miss.err"
fi
sv_is_mounted "$missing" && fail "something got mounted at $missing"

# --- STORE is created if missing
newstore=$T/fresh/store
sv_mount "$newstore" "$T/m0" || die "mount with a missing STORE failed"
ok "missing STORE directory was created" test -d "$newstore"
ok "mkdir a dataset" mkdir "$T/m0/ds"
ok "the new mount is usable (ls)" ls "$T/m0/ds"
sv_umount "$T/m0"

# --- -f with the options mount.fuse3 passes
sv_mount "$newstore" "$T/m1" -o rw,dev,suid || die "mount with -f -o rw,dev,suid failed"
ok "dataset from the first mount is there" test -d "$T/m1/ds/initial-tag"
printf 'hello\n' >"$T/hello.txt"
ok "cp a file in" cp "$T/hello.txt" "$T/m1/ds/initial-tag/"
sv_umount "$T/m1"

# daemon_pids MNT — PIDs of $SIEVEFS processes whose arguments include MNT
# (a path unique to this test): the detached daemons this test started.
daemon_pids() {
	local p
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/exe" 2>/dev/null) == "$(realpath "$SIEVEFS")" ]] || continue
		tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qxF -- "$1" && echo "${p#/proc/}"
	done
}

# detached_mount DESC MNT UMOUNT CMD... — CMD must exit 0 promptly with MNT
# mounted, the mount must serve the file, and after `UMOUNT MNT` (fusermount3
# -u, or umount) the daemon must exit.
detached_mount() {
	local desc=$1 mnt=$2 umount_cmd=$3 rc pids p
	shift 3
	mkdir -p "$mnt"
	SV_MOUNTS+=("$mnt")
	timeout 20 "$@" </dev/null >"$T/det.out" 2>"$T/det.err"
	rc=$?
	if ((rc != 0)); then
		fail "$desc: \`$*\` exited $rc"
		sv_show "$T/det.err"
		return 1
	fi
	pass "$desc: command returned 0"
	if timeout 10 mountpoint -q "$mnt"; then pass "$desc: $mnt is mounted"; else
		fail "$desc: $mnt is not a mountpoint after the command returned"; return 1; fi
	pids=$(daemon_pids "$mnt")
	for p in $pids; do SV_PIDS+=("$p"); done
	if [[ -n $pids ]]; then
		pass "$desc: detached daemon found (pid $pids)"
	else
		fail "$desc: no running $SIEVEFS process serves $mnt"
	fi
	ok "$desc: reads the uploaded file" cmp "$T/hello.txt" "$mnt/ds/initial-tag/hello.txt"
	local -a umount_argv
	read -ra umount_argv <<<"$umount_cmd"
	ok "$desc: $umount_cmd" "${umount_argv[@]}" "$mnt"
	for p in $pids; do
		sv_wait_gone "$p" 30 || fail "$desc: daemon $p still running 30 s after unmount"
	done
	sv_is_mounted "$mnt" && fail "$desc: still mounted after fusermount3 -u"
	return 0
}

detached_mount "sievefs STORE MNT -o rw,dev,suid (no -f)" "$T/m2" "fusermount3 -u" \
	"$SIEVEFS" "$newstore" "$T/m2" -o rw,dev,suid
# The daemon changes to / when it detaches: a relative STORE must still
# name the same store (the file uploaded above must be there).
detached_mount "relative STORE path (no -f)" "$T/m6" "fusermount3 -u" \
	bash -c 'cd "$1" && exec "$2" fresh/store "$1/m6"' _ "$T" "$SIEVEFS"
[[ -e /fresh/store ]] && fail "a relative STORE was created under / as /fresh/store"
detached_mount "mount.fuse3 'SIEVEFS#STORE' MNT -o rw" "$T/m3" "fusermount3 -u" \
	mount.fuse3 "$SIEVEFS#$newstore" "$T/m3" -o rw
# mount(8) runs /sbin/mount.fuse with a clean PATH, so the type names the
# binary by its absolute path: fuse.$SIEVEFS is what "fuse.sievefs" becomes
# once sievefs is installed.
detached_mount "mount -t fuse.SIEVEFS STORE MNT" "$T/m4" "umount" \
	mount -t "fuse.$SIEVEFS" "$newstore" "$T/m4"
printf '%s %s fuse.%s defaults,nofail 0 0\n' "$newstore" "$T/m5" "$SIEVEFS" >"$T/fstab"
detached_mount "an fstab line (mount --fstab FILE MNT)" "$T/m5" "umount" \
	mount --fstab "$T/fstab" "$T/m5"

# ---------------------------------------------------------------- issue 10, item 12
. "$(dirname "$0")/server_lib.sh"
sv_need curl python3

# --- the subcommands are discoverable
timeout 10 "$SIEVEFS" --help >"$T/help2.out" 2>&1
for w in "sample DATASET_DIR" "serve STORE" "token create|list|revoke" "help [COMMAND]" "-o nonempty"; do
	expect_contains "$T/help2.out" "$w" "--help lists '$w'"
done
ok "sievefs help exits 0" timeout 10 "$SIEVEFS" help
expect_contains "$T/last.out" "serve STORE" "sievefs help prints the usage with the commands"
ok "sievefs help sample exits 0" timeout 10 "$SIEVEFS" help sample
expect_contains "$T/last.out" "keep N" "sievefs help sample shows the request grammar"
expect_fail "sievefs help nosuch fails" timeout 10 "$SIEVEFS" help nosuch
ok "sievefs serve --help exits 0" timeout 10 "$SIEVEFS" serve --help
expect_contains "$T/last.out" "usage: sievefs serve STORE --listen HOST:PORT" "serve --help prints its usage on stdout"
ok "sievefs token --help exits 0" timeout 10 "$SIEVEFS" token --help
expect_contains "$T/last.out" "sievefs token create --store STORE [--name NAME] [USER]" "token --help prints its usage on stdout"
expect_fail "sievefs serve without arguments fails" timeout 10 "$SIEVEFS" serve
# a third argument (a user typing `sievefs mount STORE MNT`): our message,
# not libfuse's "invalid argument", and nothing created
expect_fail "sievefs mount st mnt fails" timeout 10 "$SIEVEFS" mount "$T/st3" "$T/mnt3"
expect_contains "$T/last.err" "one argument too many: '$T/mnt3'" "... naming the argument too many"
expect_contains "$T/last.err" "there is no 'mount' command: \`sievefs STORE MOUNTPOINT\` mounts" "... and saying how to mount"
if [ -e "$T/st3" ] || [ -e mount ]; then fail "a store was created by the refused command"
else pass "the refused command created no store"; fi
# token create without USER: for the user running it
mkdir -p "$T/tokstore"
(umask 077 && timeout 10 "$SIEVEFS" token create --store "$T/tokstore") >"$T/tok.out" 2>"$T/tok.err" &&
	pass "token create --store STORE without USER exits 0" ||
	{ fail "token create without USER failed"; sv_show "$T/tok.err"; }
expect_contains "$T/tok.err" "for user '$(id -un)'" "... and makes a token for the user running it ($(id -un))"
grep -q '^svf_[0-9a-f]\{64\}$' "$T/tok.out" && pass "... printed once on stdout" ||
	fail "no token on stdout: $(cat "$T/tok.out")"

# --- a URL is not a store path
mkdir -p "$T/cwd"
(cd "$T/cwd" && timeout 10 "$SIEVEFS" token list --store http://127.0.0.1:8420) >"$T/url.out" 2>"$T/url.err"
rc=$?
((rc != 0 && rc != 124)) && pass "token list --store URL fails (exit $rc)" || fail "token list --store URL: exit $rc"
expect_contains "$T/url.err" "is a URL" "token --store URL: the message says it is a URL"
(cd "$T/cwd" && timeout 10 "$SIEVEFS" serve https://example.org/x --listen 127.0.0.1:0) >"$T/url.out" 2>"$T/url.err"
rc=$?
((rc != 0 && rc != 124)) && pass "serve URL fails (exit $rc)" || fail "serve URL: exit $rc"
expect_contains "$T/url.err" "is a URL" "serve URL: the message says it is a URL"
(cd "$T/cwd" && timeout 10 "$SIEVEFS" ftp://host/store "$T/m0" -f) >"$T/url.out" 2>"$T/url.err"
rc=$?
((rc != 0 && rc != 124)) && pass "mount of ftp://… fails (exit $rc)" || fail "mount ftp://…: exit $rc"
expect_eq "" "$(ls -A "$T/cwd")" "no ./http:, ./https: or ./ftp: directory was created"

# --- a new store is announced, an existing one is not
expect_contains "${SV_MNT_LOG[$T/m0]:-$T/daemon.1.log}" "sievefs: creating new store in $newstore" \
	"the first mount of a missing STORE says it creates a new store"
if grep -q "creating new store" "$T/daemon.2.log"; then
	fail "mounting an existing store says it creates a new one"; else
	pass "mounting an existing store does not say 'creating'"; fi

# --- a live mount point, and a folder that is not empty
sv_mount "$newstore" "$T/m7" || die "mount m7 failed"
timeout 15 "$SIEVEFS" "$T/store-other" "$T/m7" -f >"$T/over.out" 2>"$T/over.err"
rc=$?
((rc != 0 && rc != 124)) && pass "mounting over a live mount fails (exit $rc)" || fail "mount over a live mount: exit $rc"
expect_contains "$T/over.err" "is already mounted" "the message says the mount point is already mounted"
ok "the live mount still serves its files" test -d "$T/m7/ds/initial-tag"
[[ -e $T/store-other ]] && fail "the refused mount created its store anyway" || pass "the refused mount created nothing"
sv_umount "$T/m7"
mkdir -p "$T/full"
echo keep >"$T/full/precious.txt"
timeout 15 "$SIEVEFS" "$newstore" "$T/full" -f >"$T/full.out" 2>"$T/full.err"
rc=$?
((rc != 0 && rc != 124)) && pass "mounting onto a non-empty folder fails (exit $rc)" || fail "mount onto a non-empty folder: exit $rc"
expect_contains "$T/full.err" "is not empty" "the message says the folder is not empty"
expect_contains "$T/full.err" "-o nonempty" "the message names -o nonempty"
sv_is_mounted "$T/full" && fail "$T/full got mounted"
sv_mount "$newstore" "$T/full" -o nonempty || die "mount -o nonempty failed"
ok "-o nonempty mounts over the folder" test -d "$T/full/ds/initial-tag"
sv_umount "$T/full"
expect_eq keep "$(cat "$T/full/precious.txt")" "the folder's file is there again after the unmount"

# --- ~ in -o token_file= and cache_dir= (fstab and mount(8) do not expand it)
port=$(free_port)
STORE=$T/srvstore new_token alice "$T/alice.tok" >/dev/null || die "token create failed"
mkdir -p "$T/home"
cp "$T/alice.tok" "$T/home/tok" && chmod 600 "$T/home/tok"
start_server "$port" "$T/srvstore" || die "sievefs serve did not come up"
HOME=$T/home sv_mount "http://127.0.0.1:$port" "$T/m8" -o "token_file=~/tok,cache_dir=~/cache" ||
	die "remote mount with ~ in token_file and cache_dir failed"
ok "the mount with ~/tok works (mkdir a dataset)" mkdir "$T/m8/remote-ds"
ok "cache_dir=~/cache was created in HOME" test -d "$T/home/cache"
[[ -e "$T/m8/~" || -e "$T/~" || -e "/~" ]] && fail "a literal ~ directory was created"
sv_umount "$T/m8"
timeout 15 "$SIEVEFS" "http://127.0.0.1:$port" "$T/m9" -f -o "token_file=~no-such-user-here/tok" \
	>"$T/tilde.out" 2>"$T/tilde.err"
rc=$?
((rc != 0 && rc != 124)) && pass "~unknown-user fails (exit $rc)" || fail "~unknown-user: exit $rc"
expect_contains "$T/tilde.err" "cannot expand ~" "the message says ~ cannot be expanded"
