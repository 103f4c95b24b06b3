#!/usr/bin/env python3
"""cg_summary.py - a callgrind dump summarised per FUSE handler, for bench/profile.

  cg_summary.py FILE UNITS TOPK

Reads one callgrind output file (format version 1, events Ir, line positions,
name compression) and prints, divided by UNITS (the files or entries of the phase):
  - the total instructions;
  - every fs/ops.c op_* handler: calls, inclusive instructions per call and per unit,
    and its 4 biggest callees (inclusive instructions per handler call);
  - self instructions by object (sievefs, libsqlite3, libc, libfuse3, libcrypto, ...);
  - the TOPK functions by self instructions.
Self cost is every cost line not right after a calls= line; inclusive cost of a
function is its self cost plus the costs of the calls= lines inside it (calls to
itself left out). It parses the file itself because callgrind_annotate mixes the
costs of calls still active at the dump (the FUSE loop) into self costs.
"""
import collections
import re
import sys

NAME = re.compile(r"^\((\d+)\)(?: (.*))?$")


def parse(path):
    names = {}          # (kind, id) -> name

    def name(kind, v):
        m = NAME.match(v)
        if not m:
            return v
        if m.group(2) is not None:
            names[(kind, m.group(1))] = m.group(2)
        return names.get((kind, m.group(1)), "?")

    self_ir = collections.Counter()
    incl = collections.Counter()
    calls = collections.Counter()
    edges = collections.Counter()   # (caller, callee) -> inclusive cost of the calls
    ob = fn = cob = cfn = None
    after_calls = False
    total = 0
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line[0] == "#":
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                ir = int(parts[1]) if len(parts) > 1 else 0
                if after_calls:
                    if (cob, cfn) != (ob, fn):
                        incl[(ob, fn)] += ir
                        edges[((ob, fn), (cob, cfn))] += ir
                    after_calls = False
                else:
                    self_ir[(ob, fn)] += ir
                    incl[(ob, fn)] += ir
                    total += ir
                continue
            key, _, val = line.partition("=")
            if key == "ob":
                ob = name("ob", val)
            elif key == "fn":
                fn = name("fn", val)
                cob = ob
            elif key == "cob":
                cob = name("ob", val)
            elif key == "cfn":
                cfn = name("fn", val)
            elif key == "calls":
                calls[(cob, cfn)] += int(val.split()[0])
                after_calls = True
            elif key in ("fl", "fi", "fe", "cfi", "cfl"):
                name("fl", val)
            # cob applies to the next call only; callgrind repeats it when needed
    return total, self_ir, incl, calls, edges


def short_ob(ob):
    base = ob.rsplit("/", 1)[-1]
    return re.sub(r"\.so[.0-9]*$", "", base)


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    total, self_ir, incl, calls, edges = parse(argv[1])
    callees = collections.defaultdict(list)
    for (a, b), v in edges.items():
        callees[a].append((v, b))
    units, topk = int(argv[2]), int(argv[3])
    print("   %.0f instructions per unit (%d in all)" % (total / units, total))
    print("   handlers (fs/ops.c op_*): calls per unit, instructions per call (inclusive), per unit")
    ops = [(k, v) for k, v in incl.items() if k[1] and re.fullmatch(r"op_[a-z_]+", k[1])]
    for (ob, fn), v in sorted(ops, key=lambda kv: -kv[1]):
        n = calls.get((ob, fn), 0)
        if n == 0:
            continue
        print("     %-18s %6.2f  %9.0f  %9.0f" % (fn, n / units, v / n, v / units))
        # where a handler's instructions go: its biggest callees, per call
        top = sorted(callees[(ob, fn)], reverse=True)[:4]
        if top:
            print("         calls: " + ", ".join("%s %.0f" % (b[1], c / n) for c, b in top))
    by_ob = collections.Counter()
    for (ob, fn), v in self_ir.items():
        by_ob[short_ob(ob or "?")] += v
    print("   self instructions by object: " + ", ".join(
        "%s %.0f%%" % (o, 100.0 * v / total) for o, v in by_ob.most_common(6) if v))
    print("   top %d functions by self instructions: per unit, share" % topk)
    for (ob, fn), v in self_ir.most_common(topk):
        print("     %9.0f %5.1f%%  %s [%s]" % (v / units, 100.0 * v / total, fn, short_ob(ob or "?")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
