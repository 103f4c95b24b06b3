import { describe, it, expect } from 'vitest';
import { pathLabel } from './label';

describe('pathLabel', () => {
	it('is the path relative to the dataset root', () => {
		expect(pathLabel('cats/a.png')).toBe('cats/a.png');
		expect(pathLabel('/cats/a.png')).toBe('cats/a.png');
	});
	it('shows a control character as its escape, visibly', () => {
		expect(pathLabel('x/new\nline.png')).toBe('"x/new\\nline.png"');
		expect(pathLabel('tab\there.png')).toBe('"tab\\there.png"');
	});
	it('quotes leading and trailing spaces, so " a.png" is not "a.png"', () => {
		expect(pathLabel(' a.png')).toBe('" a.png"');
		expect(pathLabel('a.png ')).toBe('"a.png "');
		expect(pathLabel('d/a b.png')).toBe('d/a b.png');
	});
});
