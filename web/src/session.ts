/* The browser session: asked once at start (GET /app/session), made by
 * sign-in (POST /app/session with the token in the body only — the token is
 * never put in localStorage, sessionStorage or a URL), ended by sign-out
 * (DELETE /app/session; fetch sends the Origin the CSRF check wants) or by
 * any 401 (session expired, token revoked elsewhere). */
import * as api from './api';
import { session, sessionChecked, sessionNote } from './state';
import { closeDataset } from './data';
import { navigate } from './router';

export const SESSION_ENDED =
  'Your session has ended (signed out elsewhere, expired, or its token was revoked). Sign in again.';

export function startSession(): void {
  api.onUnauthorized(() => {
    if (!session.value) return;
    signedOut();
    sessionNote.value = SESSION_ENDED;
  });
  api.sessionGet().then(
    (s) => { session.value = s; },
    () => { session.value = null; },
  ).finally(() => { sessionChecked.value = true; });
}

function signedOut(): void {
  closeDataset();
  session.value = null;
}

export async function signIn(token: string): Promise<void> {
  const s = await api.sessionCreate(token.trim());
  sessionNote.value = null;
  session.value = s;
}

export async function signOut(): Promise<void> {
  sessionNote.value = null;
  try {
    await api.sessionDelete();
  } finally {
    signedOut();
    navigate('/');
  }
}

/** After the current token was revoked: the server ended the session already. */
export function sessionEnded(): void {
  signedOut();
  navigate('/');
}
