import { describe, it, expect } from 'vitest';
import { parseInfo } from './info';

describe('parseInfo', () => {
  it('reads samples, bytes and the selection size', () => {
    const t = 'id: a73caa300ae3c825ff90b517\nname: leaves\ncreated: 2026-12-07T05:04:59Z\n'
      + 'samples: 51\nbytes: 7859\nselection: 12 samples from initial-tag\ntag_folders: all\n'
      + 'tags: 1\n  initial-tag: 51 samples, 7859 bytes, live, id 400c\n';
    expect(parseInfo(t)).toEqual({ samples: 51, bytes: 7859, selection: 12 });
  });
  it('leaves absent figures null', () => {
    expect(parseInfo('name: x\n')).toEqual({ samples: null, bytes: null, selection: null });
    expect(parseInfo('samples: none\n').samples).toBeNull();
  });
  it('is not fooled by a name that looks like a key', () => {
    expect(parseInfo('name: samples: 5\nsamples: 2\n').samples).toBe(2);
  });
});
