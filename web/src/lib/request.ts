/*
 * request.ts — the line the sampling view POSTs to /v1/datasets/ID/sample,
 * built from the form, checked with the same rules as core_req_parse
 * (core/runs.c) so the page can say what is wrong before it asks:
 *
 *   [STRATEGY] [n=N] [from=TAG] [embedding=NAME] [seed=S] [min_distance=F]
 *   keep N
 *   embed [dim=N] [color=on|off]
 *
 * The grammar has no run name: runs are numbered per dataset (1, 2, 3…) by
 * the server, and a sample of them becomes named only when it is frozen as a
 * tag. Empty fields are left out, so the server's defaults apply (n = every
 * candidate, from = initial-tag, embedding = the latest CSV or builtin,
 * seed = 0).
 */

export const STRATEGIES = ['typicality', 'kmeans', 'coreset', 'random', 'balance'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const STRATEGY_HELP: Record<Strategy, string> = {
	typicality: 'the most typical sample of each of N k-means clusters (the default)',
	kmeans: 'the real sample nearest each of N k-means centroids',
	coreset: 'k-center greedy: spreads picks out, picks outliers',
	random: 'seeded, reproducible',
	balance: 'as even over the embedding\'s labels as the data allows',
};

/** The built-in embedder's name in `embedding=`. */
export const BUILTIN = 'builtin';
const INT32_MAX = 2147483647;

export interface SampleForm {
	strategy: Strategy;
	n: string;            // '' = every candidate
	from: string;         // '' = initial-tag
	embedding: string;    // '' = the latest CSV, else builtin
	seed: string;         // '' = 0
	minDistance: string;  // coreset only; '' = none
}

export type Built = { ok: true; line: string } | { ok: false; field: keyof SampleForm; message: string };

/** core_name_valid: 1–128 of A-Z a-z 0-9 . _ -, starting with a letter or digit. */
export function nameValid(s: string): boolean {
	return /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(s);
}

/** A positive count 1..INT32_MAX written in decimal digits, or null. */
export function parseCount(s: string): number | null {
	if (!/^[0-9]+$/.test(s)) return null;
	const v = Number(s);
	return v >= 1 && v <= INT32_MAX ? v : null;
}

export function buildSampleRequest(f: SampleForm): Built {
	const words: string[] = [f.strategy];
	const n = f.n.trim(), from = f.from.trim(), emb = f.embedding.trim();
	const seed = f.seed.trim(), md = f.minDistance.trim();
	if (!(STRATEGIES as readonly string[]).includes(f.strategy))
		return { ok: false, field: 'strategy', message: `unknown strategy '${f.strategy}'` };
	if (n) {
		if (parseCount(n) === null)
			return { ok: false, field: 'n', message: `n=${n}: expected a positive count` };
		words.push(`n=${n}`);
	}
	if (from) {
		if (!nameValid(from)) return { ok: false, field: 'from', message: `from=${from}: not a valid name` };
		if (from !== 'initial-tag') words.push(`from=${from}`);
	}
	if (emb) {
		if (!nameValid(emb))
			return { ok: false, field: 'embedding', message: `embedding=${emb}: not a valid name` };
		words.push(`embedding=${emb}`);
	}
	if (seed) {
		// strtoull's range: any 64-bit unsigned value
		if (!/^[0-9]+$/.test(seed) || BigInt(seed) > 0xffffffffffffffffn)
			return { ok: false, field: 'seed', message: `seed=${seed}: expected a non-negative integer` };
		if (seed !== '0') words.push(`seed=${seed}`);
	}
	if (md) {
		// strtof's decimal forms; a value past float32's range is inf there, so refused
		const v = Number(md);
		if (!/^\+?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/.test(md) || !(v <= 3.4028234663852886e38))
			return { ok: false, field: 'minDistance', message: `min_distance=${md}: expected a number >= 0` };
		if (v > 0) {
			if (f.strategy !== 'coreset')
				return { ok: false, field: 'minDistance', message: 'min_distance applies to coreset only' };
			words.push(`min_distance=${md}`);
		}
	}
	return { ok: true, line: words.join(' ') };
}

/** The slider's release: the selection becomes the top N of the latest run. */
export function keepRequest(n: number): string {
	if (!Number.isInteger(n) || n < 1 || n > INT32_MAX) throw new RangeError(`keep: ${n} is not a positive count`);
	return `keep ${n}`;
}
