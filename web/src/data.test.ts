import { describe, it, expect } from 'vitest';
import { applyActive, chosenMembers } from './data';
import { active, scores, sliderN } from './state';

describe('applyActive', () => {
  it('is the chosen members without the slider', () => {
    const m = Uint8Array.from([1, 0, 1]);
    chosenMembers.value = m;
    sliderN.value = null;
    applyActive();
    expect(active.value).toBe(m);
  });
  it('is rank < N while the slider moves, a new array each step', () => {
    chosenMembers.value = Uint8Array.from([1, 1, 1, 1]);
    scores.value = { run: 1, score: new Float32Array(4), rank: Int32Array.from([2, -1, 0, 1]) };
    sliderN.value = 2;
    applyActive();
    const first = active.value;
    expect([...first!]).toEqual([0, 0, 1, 1]);
    sliderN.value = 3;
    applyActive();
    expect([...active.value!]).toEqual([1, 0, 1, 1]);
    expect(active.value).not.toBe(first);
    sliderN.value = 0;
    applyActive();
    expect([...active.value!]).toEqual([0, 0, 0, 0]);
  });
  it('falls back to the members when there are no scores', () => {
    const m = Uint8Array.from([0, 1]);
    chosenMembers.value = m;
    scores.value = null;
    sliderN.value = 5;
    applyActive();
    expect(active.value).toBe(m);
    sliderN.value = null;
  });
});
