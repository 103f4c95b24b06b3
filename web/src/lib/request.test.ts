import { describe, expect, it } from 'vitest';
import { buildSampleRequest, keepRequest, nameValid, type SampleForm } from './request';

const base: SampleForm = { strategy: 'typicality', n: '', from: '', embedding: '', seed: '', minDistance: '' };

describe('sample request line', () => {
	it('leaves defaults out', () => {
		expect(buildSampleRequest(base)).toEqual({ ok: true, line: 'typicality' });
		expect(buildSampleRequest({ ...base, from: 'initial-tag', seed: '0' })).toEqual({ ok: true, line: 'typicality' });
	});
	it('writes every option in the grammar\'s order', () => {
		const r = buildSampleRequest({ strategy: 'coreset', n: '500', from: 'best-500', embedding: 'simclr', seed: '7', minDistance: '0.25' });
		expect(r).toEqual({ ok: true, line: 'coreset n=500 from=best-500 embedding=simclr seed=7 min_distance=0.25' });
		expect(buildSampleRequest({ ...base, strategy: 'kmeans', n: ' 20 ', embedding: 'builtin' }))
			.toEqual({ ok: true, line: 'kmeans n=20 embedding=builtin' });
	});
	it('refuses what the server refuses', () => {
		const bad = (f: Partial<SampleForm>) => buildSampleRequest({ ...base, ...f });
		expect(bad({ n: '0' })).toMatchObject({ ok: false, field: 'n' });
		expect(bad({ n: '-3' })).toMatchObject({ ok: false, field: 'n' });
		expect(bad({ n: '2147483648' })).toMatchObject({ ok: false, field: 'n' });
		expect(bad({ n: '1.5' })).toMatchObject({ ok: false, field: 'n' });
		expect(bad({ from: 'a b' })).toMatchObject({ ok: false, field: 'from' });
		expect(bad({ from: '.hidden' })).toMatchObject({ ok: false, field: 'from' });
		expect(bad({ embedding: 'x'.repeat(129) })).toMatchObject({ ok: false, field: 'embedding' });
		expect(bad({ seed: '-1' })).toMatchObject({ ok: false, field: 'seed' });
		expect(bad({ seed: '18446744073709551616' })).toMatchObject({ ok: false, field: 'seed' });
		expect(bad({ minDistance: '0.5' })).toEqual({ ok: false, field: 'minDistance', message: 'min_distance applies to coreset only' });
		expect(bad({ strategy: 'coreset', minDistance: 'nan' })).toMatchObject({ ok: false, field: 'minDistance' });
		expect(bad({ strategy: 'coreset', minDistance: '-1' })).toMatchObject({ ok: false, field: 'minDistance' });
		expect(bad({ strategy: 'bogus' as never })).toMatchObject({ ok: false, field: 'strategy' });
	});
	it('keep N', () => {
		expect(keepRequest(100)).toBe('keep 100');
		expect(() => keepRequest(0)).toThrow();
		expect(() => keepRequest(2.5)).toThrow();
	});
	it('names', () => {
		expect(nameValid('initial-tag')).toBe(true);
		expect(nameValid('a'.repeat(128))).toBe(true);
		expect(nameValid('a'.repeat(129))).toBe(false);
		expect(nameValid('_x')).toBe(false);
	});
});

describe('min_distance as strtof reads it', () => {
	it('takes decimal forms within float32, refuses the rest', () => {
		const md = (m: string) => buildSampleRequest({ ...base, strategy: 'coreset', minDistance: m });
		expect(md('1e-3')).toEqual({ ok: true, line: 'coreset min_distance=1e-3' });
		expect(md('.5')).toEqual({ ok: true, line: 'coreset min_distance=.5' });
		expect(md('0')).toEqual({ ok: true, line: 'coreset' });
		expect(md('1e39')).toMatchObject({ ok: false });
		expect(md('inf')).toMatchObject({ ok: false });
		expect(md('1,5')).toMatchObject({ ok: false });
	});
});
