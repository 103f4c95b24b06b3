import { describe, it, expect } from 'vitest';
import { formatBytes, formatCount, plural, nsToDate, formatPercent, errorMessage } from './format';

describe('formatBytes', () => {
  it('writes small sizes in bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
  });
  it('uses decimal units with one decimal under 100', () => {
    expect(formatBytes(1000)).toBe('1.0 KB');
    expect(formatBytes(1234)).toBe('1.2 KB');
    expect(formatBytes(34_500_000)).toBe('34.5 MB');
    expect(formatBytes(512_000_000)).toBe('512 MB');
    expect(formatBytes(1e9)).toBe('1.0 GB');
  });
  it('carries instead of printing 1000', () => {
    expect(formatBytes(999_600)).toBe('1.0 MB');
    expect(formatBytes(999_400)).toBe('999 KB');
  });
  it('refuses nonsense', () => {
    expect(formatBytes(-1)).toBe('—');
    expect(formatBytes(NaN)).toBe('—');
  });
});

describe('counts', () => {
  it('groups thousands', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(19200)).toBe('19,200');
    expect(formatCount(1000000)).toBe('1,000,000');
  });
  it('plurals', () => {
    expect(plural(1, 'sample')).toBe('1 sample');
    expect(plural(2, 'sample')).toBe('2 samples');
    expect(plural(0, 'sample')).toBe('0 samples');
  });
  it('percent', () => {
    expect(formatPercent(0, 0)).toBe('0%');
    expect(formatPercent(1, 2)).toBe('50%');
    expect(formatPercent(1, 30)).toBe('3.3%');
    expect(formatPercent(1, 100000)).toBe('<0.1%');
  });
});

describe('nsToDate', () => {
  it('reads int64 nanosecond strings beyond 2^53', () => {
    const d = nsToDate('1732412345123456789');
    expect(d?.getTime()).toBe(1732412345123);
  });
  it('accepts numbers, rejects junk', () => {
    expect(nsToDate(0)?.getTime()).toBe(0);
    expect(nsToDate(null)).toBeNull();
    expect(nsToDate('12x')).toBeNull();
  });
});

describe('errorMessage', () => {
  it('is the message of an Error (an ApiError too), else the value as text', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(42)).toBe('42');
  });
});
