/* Sign-in: an API token traded for a session cookie (POST /app/session).
 * The token lives only in this field's DOM value and the one request body: it
 * is never written to localStorage, sessionStorage or a URL, and the field is
 * cleared once the request returns. */
import { useState } from 'preact/hooks';
import { signIn } from '../session';
import { ApiError } from '../api';
import { sessionNote } from '../state';

export function SignInPage() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const input = form.elements.namedItem('token') as HTMLInputElement;
    const token = input.value.trim();
    if (!token) {
      setError('Paste an API token first.');
      input.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signIn(token);
      input.value = '';
    } catch (err) {
      input.value = '';
      if (err instanceof ApiError && err.status === 401)
        setError('That token is not valid (wrong, or revoked). Check it and try again.');
      else if (err instanceof ApiError) setError(err.message);
      else setError('Sign-in failed.');
      input.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="signin card" aria-labelledby="signin-h">
      <h1 id="signin-h">Sign in to sievefs</h1>
      <p class="muted">
        Sign in with an API token. Make one on the server with{' '}
        <code>sievefs token create --store STORE USER</code>.
      </p>
      {sessionNote.value && <p class="session-note" role="status"><strong>{sessionNote.value}</strong></p>}
      <form onSubmit={submit} method="post" action="/">
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          autocapitalize="off"
          placeholder="svf_…"
          required
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'signin-error' : undefined}
        />
        {error && <p id="signin-error" class="error" role="alert">{error}</p>}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </section>
  );
}
