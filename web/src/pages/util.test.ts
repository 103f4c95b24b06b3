import { describe, it, expect } from 'vitest';
import { refusal } from './util';
import { countOnes } from '../lib/active';
import { ApiError } from '../api';

describe('refusal', () => {
  it('says what a bare EEXIST means', () => {
    const e = new ApiError(409, 'exists', 'File exists', 'EEXIST');
    expect(refusal(e, 'tag', 'v1', 'x')).toBe('There is already a tag named v1, or the name is reserved (File exists).');
    expect(refusal(e, 'dataset', 'cats', 'x')).toBe('You already have a dataset named cats (File exists).');
  });
  it('explains a tag that is a parent', () => {
    const e = new ApiError(409, 'not_empty', 'Directory not empty');
    expect(refusal(e, 'tag', 'v1', 'x')).toBe('Other tags were made from v1: delete them first.');
  });
  it('shows the server\'s own reason once', () => {
    const msg = "cannot delete tag 'boxed': other tags were made from it (delete them first)";
    expect(refusal(new ApiError(409, 'not_empty', msg), 'tag', 'boxed', 'x')).toBe(msg);
  });
  it('passes the server message through otherwise', () => {
    const e = new ApiError(400, 'invalid', "'x y' is not a valid tag name");
    expect(refusal(e, 'tag', 'x y', 'x')).toBe("'x y' is not a valid tag name");
    expect(refusal(new Error('boom'), 'tag', 'a', 'fallback')).toBe('fallback');
  });
  it('counts ones', () => {
    expect(countOnes(Uint8Array.from([1, 0, 1, 1]))).toBe(3);
  });
});
