import { describe, expect, it } from 'vitest';
import { pathNeedsQuote, quotePath, selectionText } from './selection';

describe('selection quoting (core/text.c rules)', () => {
	it('leaves ordinary paths alone, UTF-8 and backslashes included', () => {
		for (const p of ['a/1.jpg', 'sub dir/x y.png', 'é/ü.jpg', 'a\\b.jpg', 'x#.jpg', 'a"b.jpg'])
			expect(quotePath(p)).toBe(p);
	});
	it('quotes a leading ", # or space and a trailing space', () => {
		expect(quotePath('"a.jpg')).toBe('"\\"a.jpg"');
		expect(quotePath('#a.jpg')).toBe('"#a.jpg"');
		expect(quotePath(' a.jpg')).toBe('" a.jpg"');
		expect(quotePath('a.jpg ')).toBe('"a.jpg "');
		expect(pathNeedsQuote('')).toBe(true);
	});
	it('names \\a \\b \\t \\n \\v \\f \\r, escapes " and \\ inside, octal for other control bytes', () => {
		expect(quotePath('a\nb')).toBe('"a\\nb"');
		expect(quotePath('a\tb\r')).toBe('"a\\tb\\r"');
		expect(quotePath('\x07\x08\x0b\x0c')).toBe('"\\a\\b\\v\\f"');
		expect(quotePath('a\x01b\x7f')).toBe('"a\\001b\\177"');
		expect(quotePath('\x1b[1m')).toBe('"\\033[1m"');
		expect(quotePath('q"\\\n')).toBe('"q\\"\\\\\\n"');
	});
	it('writes one line per chosen index', () => {
		const paths = ['a.jpg', 'b\n.jpg', 'c.jpg'];
		expect(selectionText(paths, Int32Array.of(2, 1))).toBe('c.jpg\n"b\\n.jpg"\n');
		expect(selectionText(paths, [])).toBe('');
		expect(selectionText(paths, Int32Array.of(0, 1, 2), 1)).toBe('a.jpg\n');
	});
});
