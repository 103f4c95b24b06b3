#!/usr/bin/env bash
#
# t_pyclient — the Python client (python/sievefs) against a real `sievefs
# serve`: runs tests/python/test_client.py with /usr/bin/python3 and this
# suite's binary ($SIEVEFS), checks that `pip install ./python` makes an
# importable package with no third-party dependency, and that the client
# and a remote mount of the same server agree.
#
# Proves (each unittest case is one ok/not ok line below): a 500-PNG tree
# uploaded in each mode (full, meta, thumbnails) lists back with the
# source's paths, sizes and SHA-256, and a re-run sends nothing; thumbnails
# are sized as the mount sizes them, and without Pillow the thumbnails mode
# says so; an upload killed with SIGKILL after 150 blobs leaves only
# complete samples and, resumed, sends no blob and commits no file twice,
# leaves nothing pending and ends equal to the source (in modes meta and
# thumbnails too, killed after 150 commits); odd names (newline, tab,
# leading #, non-UTF-8 bytes...) survive upload, selection, tags and
# download, and selection lines are quoted and read byte for byte as the
# server does, through the command line too; embeddings, sampling (random, coreset, keep), tags from
# filenames and download (verified, equal to the source, resumable) work;
# bad token, token file readable by others or of another uid (and a
# second Unix user's own, run as nobody), unknown or another user's
# dataset, bad CSV, name rules, bad requests, a file changed during the
# upload, the upload cap (507) raise with the server's message, a full
# server disk says whose disk; 429 is waited out; a closed keep-alive
# connection is reopened, a POST cut inside its answer is not sent again,
# chunked and 1xx answers parse (a scripted server); TLS with cafile
# works and an untrusted certificate is refused with the hint; the command
# line has --help for each command, no progress bar off a terminal and one
# on a terminal. Then: a tree uploaded by the client reads back identical
# through a remote mount, and one copied in through the mount downloads
# identical through the client. Servers are started here and stopped by
# PID.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need openssl curl diff mountpoint fusermount3
PY=/usr/bin/python3
[ -x "$PY" ] || die "$PY is missing (apt-get install python3)"
"$PY" -c 'import PIL' 2>/dev/null ||
	die "$PY cannot import PIL (apt-get install python3-pil)"

export SIEVEFS
out=$T/unittest.out
(cd "$SV_REPO" && timeout 200 "$PY" -W ignore::ResourceWarning -m unittest \
	discover -v -s tests/python -p 'test_*.py') >"$out" 2>&1
rc=$?
# "test_x (test_client.Class.test_x) ... ok|FAIL|ERROR"
while IFS= read -r line; do
	case $line in
	*" ... ok") pass "${line% ... ok}" ;;
	*" ... FAIL" | *" ... ERROR") fail "${line% ... *}" ;;
	esac
done < <(grep -E ' \.\.\. (ok|FAIL|ERROR)$' "$out")
if ((rc != 0)); then
	fail "python3 -m unittest exited $rc"
	sed -n '/^=====/,$p' "$out" | head -n 80 | sed 's/^/#   /'
fi
grep -q '^OK' "$out" || { fail "the unittest run did not end OK"; tail -n 20 "$out" | sed 's/^/#   /'; }

# pip install ./python (a copy: the build leaves files beside the source)
cp -r "$SV_REPO/python" "$T/pysrc"
rm -rf "$T/pysrc/build" "$T/pysrc"/*.egg-info
ok "pip install ./python" "$PY" -m pip install --quiet --no-deps \
	--no-build-isolation --no-index --target "$T/site" "$T/pysrc"
ok "the installed package imports and has the command's --help" \
	env PYTHONPATH="$T/site" "$PY" -c \
	'import sievefs, subprocess, sys; assert sievefs.Client; sys.exit(subprocess.call([sys.executable, "-m", "sievefs", "--help"], stdout=subprocess.DEVNULL))'
ok "no third-party requirement in its metadata" sh -c \
	"! grep -q '^Requires-Dist: [^;]*\$' '$T'/site/sievefs-*.dist-info/METADATA"

# --- the two doors agree: the client's upload reads back through a remote
# mount, and what the mount copies in the client downloads
serve_alice
url=http://127.0.0.1:$port
pyc() {
	env PYTHONPATH="$SV_REPO/python" SIEVEFS_SERVER="$url" "$PY" -m sievefs \
		--token-file "$T/alice.tok" "$@"
}
sv_gen_tree "$T/tree" 120 40000 11 || die "could not generate files"
ok "python3 -m sievefs upload (full)" pyc upload "$T/tree" doors
M=$T/mnt
sv_mount "$url" "$M" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cache" \
	-o meta_ttl=1 || die "remote mount failed"
expect_tree_eq "$T/tree" "$M/doors/initial-tag" \
	"the remote mount reads the client's upload, identical"
sv_gen_tree "$T/tree2" 60 30000 12 || die "could not generate files"
ok "mkdir + cp -r through the mount" sh -c "mkdir '$M/fromfs' && cp -r '$T/tree2/.' '$M/fromfs/initial-tag/'"
ok "python3 -m sievefs download of the mount's copy" pyc download fromfs initial-tag "$T/dl2"
expect_tree_eq "$T/tree2" "$T/dl2" "the client downloads what the mount copied in"
ok "python3 -m sievefs upload again: nothing to send" pyc upload "$T/tree2" fromfs
expect_contains "$T/last.out" "0 uploaded" "the re-run against the mount's copy sends nothing"
sv_umount "$M"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
