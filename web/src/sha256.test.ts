import { describe, it, expect } from 'vitest';
import { sha256Js, sha256Blob } from './sha256';

const enc = new TextEncoder();

describe('sha256Js (the fallback without crypto.subtle)', () => {
  it('matches the FIPS 180-4 vectors', () => {
    expect(sha256Js(enc.encode(''))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Js(enc.encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Js(enc.encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))
      .toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  });
  it('agrees with crypto.subtle on every length around the block edges', async () => {
    for (let n = 50; n < 140; n++) {
      const b = new Uint8Array(n).map((_, i) => (i * 31 + n) & 255);
      expect(sha256Js(b)).toBe(await sha256Blob(new Blob([b])));
    }
  });
});
