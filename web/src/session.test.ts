/* A 401 while signed in ends the session with a reason for the sign-in page. */
import { describe, it, expect, vi } from 'vitest';

let hook: () => void = () => {};
vi.mock('./api', () => ({
  onUnauthorized: (fn: () => void) => { hook = fn; },
  sessionGet: async () => ({ user: 'ann' }),
  sessionCreate: async () => ({ user: 'ann' }),
}));
vi.mock('./router', () => ({ navigate: () => {} }));
vi.mock('./data', () => ({ closeDataset: () => {} }));

const { startSession, signIn, SESSION_ENDED } = await import('./session');
const state = await import('./state');

describe('session end', () => {
  it('says why on a 401 while signed in, and forgets it on sign-in', async () => {
    startSession();
    await vi.waitFor(() => expect(state.sessionChecked.value).toBe(true));
    expect(state.session.value).toEqual({ user: 'ann' });
    hook();
    expect(state.session.value).toBeNull();
    expect(state.sessionNote.value).toBe(SESSION_ENDED);
    await signIn('svf_x');
    expect(state.sessionNote.value).toBeNull();
  });
  it('says nothing on a 401 while signed out (a wrong token at sign-in)', () => {
    state.session.value = null;
    state.sessionNote.value = null;
    hook();
    expect(state.sessionNote.value).toBeNull();
  });
});
