"""python3 -m sievefs — the Python client as a command, for hosts without
FUSE. `python3 -m sievefs --help`, and `--help` after each command.

The server comes from --server or SIEVEFS_SERVER; the token from
SIEVEFS_TOKEN or a token file (--token-file, default
~/.config/sievefs/token, chmod 600) — never from the command line, where
`ps` and the shell history would show it. Exit status: 0 done, 1 the
server or the run refused (message on stderr), 2 bad usage.
"""
import argparse
import os
import sys

from . import client as _c
from .client import Client, Error


def _client(a):
    return Client(server=a.server, token_file=a.token_file, cafile=a.cafile,
                  verbose=a.verbose)


def cmd_ls(a):
    c = _client(a)
    if a.dataset is None:
        for d in c.get_datasets():
            print("%s\t%s" % (d["name"], d.get("uid", d["id"])))
    elif a.tag is None:
        info = None
        for t in c.get_all_tags(a.dataset):
            files, nbytes = t.get("files", 0), t.get("bytes", 0)
            if t.get("live"):   # counted on freezing only: ask `info`
                if info is None:
                    info = _c._parse_status(c.info(a.dataset))
                files = int(info.get("samples", "0").split()[0] or 0)
                nbytes = int(info.get("bytes", "0").split()[0] or 0)
            print("%s\t%d files\t%d bytes\tparent %s" % (
                t["name"], files, nbytes, t.get("parent_name") or "-"))
    else:
        for p in c.get_filenames_in_tag(a.tag, a.dataset):
            print(_c._quote_path(p))
    return 0


def cmd_upload(a):
    c = _client(a)
    progress = False if a.quiet else None
    try:
        r = c.upload_dataset(a.path, a.dataset, mode=a.mode,
                             workers=a.workers, progress=progress)
    except Error as e:
        r = getattr(e, "result", None)
        if r is not None:
            _upload_summary(r)
        raise
    _upload_summary(r)
    return 0


def _upload_summary(r):
    extra = ""
    if r.mode == "thumbnails":
        extra = ", %d thumbnails" % r.thumbnails
        if r.no_thumbnail:
            extra += " (%d not images: sent as meta)" % len(r.no_thumbnail)
    print("%s: %d files: %d uploaded, %d already there, %d failed"
          " (%d blobs, %.1f MB sent%s) in %.1fs" % (
              r.dataset, r.files, r.uploaded, r.skipped, len(r.failed),
              r.blobs_sent, r.bytes_sent / 1e6, extra, r.seconds))
    for p, m in r.failed[:10]:
        print("sievefs: %s: %s" % (p, m), file=sys.stderr)


def cmd_embeddings(a):
    c = _client(a)
    name = a.name or os.path.splitext(os.path.basename(a.csv))[0]
    e = c.upload_embeddings(a.csv, name, dataset=a.dataset)
    print("%s: embeddings/%s.csv: %d rows of %d values" % (
        a.dataset, e["name"], e.get("rows", 0), e.get("dim", 0)))
    return 0


def cmd_sample(a):
    c = _client(a)
    strategy = None
    opts = {}
    for w in a.request:
        k, eq, v = w.partition("=")
        if not eq:
            if strategy is not None:
                raise SystemExit("sievefs sample: more than one strategy"
                                 " (%s, %s)" % (strategy, w))
            strategy = w
        else:
            opts[k] = v
    n = opts.pop("n", None)
    if not a.request and not a.no_wait:
        st = c.wait(a.dataset, progress=False if a.quiet else None)
    else:
        words = ([strategy] if strategy else []) + \
            (["n=%s" % n] if n is not None else []) + \
            ["%s=%s" % kv for kv in opts.items()]
        i = c._ds(a.dataset)
        first = c.sample_status(i).get("run", "")
        c._sample_post(i, " ".join(words) + "\n")
        if a.no_wait:
            print("accepted: %s" % " ".join(words))
            return 0
        try:
            st = c.wait(i, progress=False if a.quiet else None, _first=first)
        except KeyboardInterrupt:
            # as `sievefs sample`: Ctrl-C cancels the run we started
            c.cancel(i)
            print("sievefs: interrupted: the run is cancelled",
                  file=sys.stderr)
            return 130
    done = st.get("progress", "").split("/")[0] or "?"
    print("done: run %s picked %s of %s in %s" % (
        st.get("run", "?"), done, st.get("candidates", "?"),
        st.get("elapsed", "?")))
    return 0


def cmd_keep(a):
    c = _client(a)
    print("kept: %s" % c.keep(a.n, a.dataset))
    return 0


def cmd_tag(a):
    c = _client(a)
    if a.delete:
        c.delete_tag(a.name, a.dataset)
        print("deleted tag %s" % a.name)
        return 0
    if a.filenames:
        names = _read_paths(a.filenames)
        t = c.create_tag_from_filenames(names, a.name, parent_tag=a.parent,
                                        dataset=a.dataset)
    else:
        t = c.create_tag(a.name, a.dataset)
    print("%s: %d files, parent %s" % (t["name"], t.get("files", 0),
                                       t.get("parent_name") or "-"))
    return 0


def cmd_download(a):
    c = _client(a)
    r = c.download(a.tag, a.dest, dataset=a.dataset, workers=a.workers,
                   progress=False if a.quiet else None)
    print("%s: %d files written, %d already there%s" % (
        a.dest, r.files, r.skipped, ", %d as thumbnails" % r.thumbnails
        if r.thumbnails else ""))
    return 0


def cmd_selection(a):
    c = _client(a)
    if a.set is not None:
        c.set_selection(_read_paths(a.set), from_tag=a.from_tag,
                        dataset=a.dataset)
    else:
        for p in c.get_selection(a.dataset):
            print(_c._quote_path(p))
    return 0


def _read_paths(name):
    """The paths of a file (- for stdin) of selection lines: one a line,
    quoted as DATASET/selection quotes odd names (what `selection` and
    `ls DATASET TAG` print)."""
    f = sys.stdin if name == "-" else open(name, encoding="utf-8",
                                           errors="surrogateescape")
    with f:
        return [_c._unquote_line(ln.rstrip("\n")) for ln in f
                if ln.rstrip("\n")]


def cmd_scores(a):
    c = _client(a)
    sys.stdout.write(c._text("/v1/datasets/%d/scores.csv"
                             % c._ds(a.dataset)))
    return 0


def cmd_info(a):
    c = _client(a)
    sys.stdout.write(c.log(a.dataset) if a.log else c.info(a.dataset))
    return 0


def build_parser():
    def conn_opts(sub):
        # on the subcommands too (after the command name), without defaults
        # there so they do not overwrite those given before it
        d = (lambda v: argparse.SUPPRESS) if sub else (lambda v: v)
        c = argparse.ArgumentParser(add_help=False)
        g = c.add_argument_group("connection")
        g.add_argument("--server", default=d(os.environ.get("SIEVEFS_SERVER")),
                       help="https://HOST:PORT (default: $SIEVEFS_SERVER)")
        g.add_argument("--token-file", default=d(None), metavar="FILE",
                       help="file holding the token, mode 600 (default:"
                       " $SIEVEFS_TOKEN, else %s)" % _c.DEFAULT_TOKEN_FILE)
        g.add_argument("--cafile", default=d(None), metavar="CA.pem",
                       help="CA certificates for the server (default: the"
                       " system's)")
        g.add_argument("-v", "--verbose", action="store_true",
                       default=d(False),
                       help="one line per request on stderr (method, path,"
                       " status; never the token)")
        return c
    common = conn_opts(True)
    p = argparse.ArgumentParser(
        prog="python3 -m sievefs", parents=[conn_opts(False)],
        description="The sievefs Python client as a command: datasets,"
        " uploads, embeddings, sampling and tags of a `sievefs serve`"
        " server, for hosts without FUSE.",
        epilog="The token is never taken on the command line. Each command"
        " has --help.")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("ls", parents=[common], help="list datasets, a"
                       " dataset's tags, or a tag's files",
                       description="ls: your datasets (name, id); ls DATASET:"
                       " its tags (files, bytes, parent); ls DATASET TAG:"
                       " the files of a tag, one relative path a line.")
    s.add_argument("dataset", nargs="?")
    s.add_argument("tag", nargs="?")
    s.set_defaults(fn=cmd_ls)

    s = sub.add_parser("upload", parents=[common], help="upload a folder"
                       " into a dataset (resumable)",
                       description="Uploads every file under PATH into"
                       " DATASET's initial-tag (sub-folders kept; the"
                       " dataset is created if it does not exist). A re-run"
                       " sends only what the server does not have (same"
                       " path and SHA-256), so an interrupted upload is"
                       " resumed by running it again. A progress bar shows"
                       " on a terminal; a summary line on stdout.")
    s.add_argument("path")
    s.add_argument("dataset")
    s.add_argument("--mode", choices=_c.MODES, default="full",
                   help="full: the server gets the bytes (default); meta:"
                   " only name, size, times and hash; thumbnails: as meta"
                   " plus a 128-px JPEG (needs Pillow)")
    s.add_argument("-j", "--workers", type=int, default=8,
                   help="parallel uploads (default 8)")
    s.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar")
    s.set_defaults(fn=cmd_upload)

    s = sub.add_parser("embeddings", parents=[common], help="upload an"
                       " embeddings CSV",
                       description="Uploads CSV (lightly's save_embeddings"
                       " format: filenames,embedding_0..,labels) as"
                       " DATASET/embeddings/NAME.csv. A malformed CSV is"
                       " refused with the row and column, and nothing is"
                       " stored.")
    s.add_argument("dataset")
    s.add_argument("csv")
    s.add_argument("--name", help="embedding name (default: the file's"
                   " name without .csv)")
    s.set_defaults(fn=cmd_embeddings)

    s = sub.add_parser("sample", parents=[common], help="start a sampling"
                       " run and wait for it",
                       description="Writes the request [STRATEGY] [n=N]"
                       " [from=TAG] [embedding=NAME] [seed=S]"
                       " [min_distance=D] to DATASET/sample and waits for"
                       " the run (a progress line on a terminal). With no"
                       " request, waits for the run in progress. Strategies:"
                       " random, coreset, typicality (default), kmeans,"
                       " balance. Exit 1 if the run failed or was"
                       " cancelled.")
    s.add_argument("dataset")
    s.add_argument("request", nargs="*", metavar="STRATEGY|key=value")
    s.add_argument("--no-wait", action="store_true",
                   help="return once the request is accepted")
    s.add_argument("-q", "--quiet", action="store_true",
                   help="no progress line")
    s.set_defaults(fn=cmd_sample)

    s = sub.add_parser("keep", parents=[common], help="the slider: keep the"
                       " top N of the latest run",
                       description="The selection becomes the top N of the"
                       " dataset's latest run (`keep N` to DATASET/sample).")
    s.add_argument("dataset")
    s.add_argument("n", type=int)
    s.set_defaults(fn=cmd_keep)

    s = sub.add_parser("tag", parents=[common], help="freeze the selection"
                       " (or a list of files) as a tag; --delete",
                       description="Freezes the current selection as tag"
                       " NAME (mkdir DATASET/NAME). With --filenames FILE"
                       " (one relative path a line, - for stdin) the tag"
                       " holds exactly those files of --parent (default"
                       " initial-tag). --delete deletes the tag (never"
                       " samples).")
    s.add_argument("dataset")
    s.add_argument("name")
    s.add_argument("--filenames", metavar="FILE")
    s.add_argument("--parent", metavar="TAG")
    s.add_argument("--delete", action="store_true")
    s.set_defaults(fn=cmd_tag)

    s = sub.add_parser("download", parents=[common], help="download a tag's"
                       " files, verified by SHA-256",
                       description="Writes every file of TAG under DEST"
                       " (sub-folders kept), each checked against its"
                       " SHA-256 before it takes its name. Files already"
                       " there with the right hash are not fetched again.")
    s.add_argument("dataset")
    s.add_argument("tag")
    s.add_argument("dest")
    s.add_argument("-j", "--workers", type=int, default=8)
    s.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar")
    s.set_defaults(fn=cmd_download)

    s = sub.add_parser("selection", parents=[common], help="print (or"
                       " --set) the selection",
                       description="Prints the current selection, one path a"
                       " line, most important first; --set FILE replaces it"
                       " (paths of --from TAG, default initial-tag).")
    s.add_argument("dataset")
    s.add_argument("--set", metavar="FILE")
    s.add_argument("--from", dest="from_tag", metavar="TAG")
    s.set_defaults(fn=cmd_selection)

    s = sub.add_parser("info", parents=[common], help="print a dataset's"
                       " info (or --log)",
                       description="The dataset's info text (id, samples,"
                       " bytes, selection, embeddings, latest run, the tag"
                       " tree), or with --log its log, newest last.")
    s.add_argument("dataset")
    s.add_argument("--log", action="store_true")
    s.set_defaults(fn=cmd_info)

    s = sub.add_parser("scores", parents=[common], help="print scores.csv"
                       " of the latest run",
                       description="filename,score for every candidate of"
                       " the latest finished run, most important first.")
    s.add_argument("dataset")
    s.set_defaults(fn=cmd_scores)
    return p


def main(argv=None):
    p = build_parser()
    a = p.parse_args(argv)
    for f in (sys.stdin, sys.stdout):   # names are bytes: keep them so
        if hasattr(f, "reconfigure"):
            f.reconfigure(errors="surrogateescape")
    try:
        return a.fn(a)
    except Error as e:
        print("sievefs: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("sievefs: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sievefs: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
