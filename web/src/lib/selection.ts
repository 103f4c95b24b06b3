/*
 * selection.ts — how a path is written as one line of the `selection` file,
 * exactly as core/text.c writes it (core_path_needs_quote and
 * tbuf_put_path_line), so a selection the app PUTs reads back as the same
 * paths the mount shows.
 *
 * The C rules work on bytes; a path here is a JS string holding the UTF-8
 * text the server sent. The bytes that matter (control bytes, '"', '#', ' ',
 * '\\') are all ASCII, which UTF-8 keeps as single bytes and never uses
 * inside a multi-byte sequence, so looking at UTF-16 code units below 0x80
 * gives the same answer as the C code looking at bytes; other characters
 * are written unchanged (the C code passes bytes >= 0x80 through).
 */

function isCtl(c: number): boolean {
	return c < 0x20 || c === 0x7f;
}

/** True when the path must be written as a quoted string. */
export function pathNeedsQuote(path: string): boolean {
	const n = path.length;
	if (n === 0) return true;
	const first = path.charCodeAt(0), last = path.charCodeAt(n - 1);
	if (first === 0x22 || first === 0x23 || first === 0x20 || last === 0x20) return true;
	for (let i = 0; i < n; i++) if (isCtl(path.charCodeAt(i))) return true;
	return false;
}

const NAMED: Record<number, string> = { 7: 'a', 8: 'b', 9: 't', 10: 'n', 11: 'v', 12: 'f', 13: 'r' };

/** The path as one selection line, without the newline. */
export function quotePath(path: string): string {
	if (!pathNeedsQuote(path)) return path;
	let out = '"';
	for (let i = 0; i < path.length; i++) {
		const c = path.charCodeAt(i);
		if (c === 0x22 || c === 0x5c) {
			out += '\\' + path[i];
		} else if (NAMED[c] !== undefined) {
			out += '\\' + NAMED[c];
		} else if (isCtl(c)) {
			out += '\\' + (c >> 6).toString() + ((c >> 3) & 7).toString() + (c & 7).toString();
		} else {
			out += path[i];
		}
	}
	return out + '"';
}

/**
 * The body of PUT /v1/datasets/ID/selection for the samples idx[0..count)
 * of a table's paths: one line per path, each ending in "\n".
 */
export function selectionText(paths: readonly string[], idx: ArrayLike<number>, count = idx.length): string {
	const lines: string[] = new Array(count);
	for (let k = 0; k < count; k++) lines[k] = quotePath(paths[idx[k]]);
	return count ? lines.join('\n') + '\n' : '';
}
