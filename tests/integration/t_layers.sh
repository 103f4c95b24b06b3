#!/usr/bin/env bash
#
# t_layers — the layer rule of docs/design.md §2.1, read from the sources:
# api/, fs/ and cache/ include no store/ header and call no store_*
# function (they reach the catalog and the bytes through core/); store/,
# sampling/ and embed/ include nothing from above them but core/records.h
# (types only). Comments and string literals are not code: a store_ name
# in a comment is fine.
#
# Proves: the tree keeps the rule; and the check itself finds a violation
# of each kind planted in a copy (so it is not a check that cannot fail).

. "$(dirname "$0")/lib.sh"
sv_need python3

# check ROOT — prints one line per violation under ROOT; exit 1 if any
check() {
	python3 - "$1" <<'PYEOF'
import os, re, sys

root = sys.argv[1]
# comments and string/char literals out, newlines kept (line numbers)
tok = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|'
                 r"'(?:\\.|[^'\\\n])*'", re.S)


def code(text):
    def blank(m):
        s = m.group(0)
        keep = s[0] if s[0] in "\"'" else ""
        return keep + "\n" * s.count("\n") + keep
    return tok.sub(blank, text)


bad = []
inc = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
call = re.compile(r'\bstore_[A-Za-z0-9_]*\s*\(')
for top, forbid_inc, allow, calls in (
        ("api", ("store/",), (), True),
        ("fs", ("store/",), (), True),
        ("cache", ("store/",), (), True),
        ("store", ("core/", "api/", "fs/", "cache/"), ("core/records.h",),
         False),
        ("sampling", ("core/", "api/", "fs/", "cache/", "store/"), (),
         False),
        ("embed", ("core/", "api/", "fs/", "cache/", "store/"), (), False)):
    d = os.path.join(root, top)
    for f in sorted(os.listdir(d)) if os.path.isdir(d) else ():
        if not f.endswith((".c", ".h")):
            continue
        p = os.path.join(d, f)
        with open(p, encoding="utf-8", errors="replace") as fh:
            raw = fh.read()
        for m in inc.finditer(raw):
            h = m.group(1)
            if h.startswith(forbid_inc) and h not in allow:
                bad.append("%s/%s:%d: includes %s" % (
                    top, f, raw.count("\n", 0, m.start()) + 1, h))
        if calls:
            text = code(raw)
            for m in call.finditer(text):
                bad.append("%s/%s:%d: calls %s)" % (
                    top, f, text.count("\n", 0, m.start()) + 1,
                    m.group(0).replace(" ", "")))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PYEOF
}

if check "$SV_REPO" >"$T/out"; then
	pass "api/, fs/, cache/ reach store/ only through core/; store/, sampling/, embed/ include nothing from above but core/records.h"
else
	fail "the layer rule is broken:"
	sv_show "$T/out"
fi

# the check finds what it is for: a copy with one violation of each kind
mkdir -p "$T/tree/api" "$T/tree/fs" "$T/tree/store" "$T/tree/embed"
cat >"$T/tree/api/a.c" <<'EOF'
/* store_blob_open(st, sha) in a comment is fine */
static const char *s = "store_open( in a string is fine";
int f(void) { return store_node_get (st, 1, &n); }
EOF
printf '#include "store/store.h"\n' >"$T/tree/fs/b.c"
printf '#include "core/records.h"\n#include "core/log.h"\n' >"$T/tree/store/c.c"
printf '#include "core/util.h"\n' >"$T/tree/embed/d.c"
check "$T/tree" >"$T/planted"
expect_eq "api/a.c:3: calls store_node_get()
fs/b.c:1: includes store/store.h
store/c.c:2: includes core/log.h
embed/d.c:1: includes core/util.h" "$(cat "$T/planted")" \
	"the check reports each planted violation (and not the comment, the string or core/records.h)"
