import { describe, it, expect } from 'vitest';
import { active, chosenMembers, scores, sliderN } from './state';

describe('active (computed from sliderN, scores, chosenMembers)', () => {
  it('is the chosen members without the slider', () => {
    const m = Uint8Array.from([1, 0, 1]);
    chosenMembers.value = m;
    sliderN.value = null;
    expect(active.value).toBe(m);
  });
  it('is rank < N while the slider moves, a new array each step', () => {
    chosenMembers.value = Uint8Array.from([1, 1, 1, 1]);
    scores.value = { run: 1, score: new Float32Array(4), rank: Int32Array.from([2, -1, 0, 1]) };
    sliderN.value = 2;
    const first = active.value;
    expect([...first!]).toEqual([0, 0, 1, 1]);
    sliderN.value = 3;
    expect([...active.value!]).toEqual([1, 0, 1, 1]);
    expect(active.value).not.toBe(first);
    sliderN.value = 0;
    expect([...active.value!]).toEqual([0, 0, 0, 0]);
    expect(active.value).toBe(first); // two buffers in turn: a step allocates nothing
  });
  it('falls back to the members when there are no scores', () => {
    const m = Uint8Array.from([0, 1]);
    chosenMembers.value = m;
    scores.value = null;
    sliderN.value = 5;
    expect(active.value).toBe(m);
    sliderN.value = null;
  });
});
