/* Preferences: the user's API tokens (name, created, last used), create one
 * (its secret shown once, with a copy button, never stored by the page),
 * revoke one after a confirmation. Revoking the token of this session ends
 * the session (the server deletes it), so the app signs out. */
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { ApiError, type NewToken, type TokenInfo } from '../api';
import { formatDate, isoDate } from '../format';
import { session } from '../state';
import { sessionEnded } from '../session';
import { copyText } from './util';

function NewTokenBox({ tok, onDone }: { tok: NewToken; onDone: () => void }) {
  const [msg, setMsg] = useState('');
  return (
    <div class="new-token card" role="region" aria-labelledby="newtok-h">
      <h3 id="newtok-h">Token {tok.name ? <q>{tok.name}</q> : ''} created</h3>
      <p>Copy it now: it is shown only this once.</p>
      <div class="row">
        <label for="newtok" class="sr-only">The new token</label>
        <input id="newtok" class="token-value" type="text" readOnly value={tok.token}
               autocomplete="off" spellcheck={false}
               onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
        <button type="button" class="primary small" onClick={async () => {
          const ok = await copyText(tok.token);
          setMsg(ok ? 'Copied' : 'Copy failed: select the token and copy it');
        }}>Copy</button>
        <button type="button" class="small" onClick={onDone}>Done</button>
      </div>
      <p class="status" role="status">{msg}</p>
    </div>
  );
}

export function PreferencesPage() {
  const [list, setList] = useState<TokenInfo[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [createError, setCreateError] = useState<string | null>(null);
  const [revokeError, setRevokeError] = useState<string | null>(null);
  const [created, setCreated] = useState<NewToken | null>(null);
  const [confirming, setConfirming] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);

  const load = async () => {
    try {
      setList(await api.tokenList());
      setLoadError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404)
        setLoadError('This server cannot list tokens yet (no /v1/tokens route). Use “sievefs token list” on the server.');
      else setLoadError(e instanceof ApiError ? e.message : 'could not load your tokens');
    }
  };
  useEffect(() => {
    void load();
  }, []);

  const create = async (e: Event) => {
    e.preventDefault();
    const input = (e.currentTarget as HTMLFormElement).elements.namedItem('name') as HTMLInputElement;
    setBusy(true);
    setCreateError(null);
    try {
      const t = await api.tokenCreate(input.value.trim());
      input.value = '';
      setCreated(t);
      await load();
    } catch (err) {
      setCreateError(err instanceof ApiError ? err.message : 'could not create a token');
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (t: TokenInfo) => {
    setBusy(true);
    setRevokeError(null);
    try {
      await api.tokenRevoke(t.id);
      setConfirming(null);
      if (t.current) {
        sessionEnded();
        return;
      }
      await load();
    } catch (err) {
      setRevokeError(err instanceof ApiError ? err.message : 'could not revoke the token');
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="pref-h">
      <h1 id="pref-h">Preferences</h1>
      <p class="muted">Signed in as <strong>{session.value?.user}</strong>.</p>
      <h2>API tokens</h2>
      <p class="help">
        A token signs in here, mounts the store remotely (<code>sievefs https://… MNT</code>) and
        authorises the Python client.
      </p>

      <form class="inline-form card" onSubmit={create}>
        <label for="tok-name">New token name</label>
        <input id="tok-name" name="name" type="text" maxLength={64} autocomplete="off"
               spellcheck={false} placeholder="e.g. laptop" />
        <button type="submit" class="primary" disabled={busy}>Create token</button>
        {createError && <p class="error" role="alert">{createError}</p>}
      </form>

      {created && <NewTokenBox tok={created} onDone={() => setCreated(null)} />}

      {loadError && <p class="error" role="alert">{loadError}</p>}
      {revokeError && <p class="error" role="alert">{revokeError}</p>}
      {list === null && !loadError && <p class="muted" role="status">Loading…</p>}
      {list && list.length === 0 && <p class="empty">No tokens.</p>}
      {list && list.length > 0 && (
        <table class="data">
          <caption class="sr-only">Your API tokens</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col"><span class="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {list.map((t) => (
              <tr key={t.id}>
                <th scope="row">
                  {t.name || <span class="muted">(no name, #{t.id})</span>}
                  {t.current && <span class="badge">this session</span>}
                </th>
                <td><time dateTime={isoDate(t.created_ns)}>{formatDate(t.created_ns)}</time></td>
                <td>{t.last_used_ns ? <time dateTime={isoDate(t.last_used_ns)}>{formatDate(t.last_used_ns)}</time> : 'never'}</td>
                <td class="actions">
                  {confirming === t.id ? (
                    <span class="confirm-inline" role="group" aria-label="Confirm revoke">
                      <span>{t.current ? 'Revoke it and sign out?' : 'Revoke it?'}</span>
                      <button type="button" class="danger small" disabled={busy}
                              onClick={() => void revoke(t)}>Revoke</button>
                      <button type="button" class="small" onClick={() => setConfirming(null)} autoFocus>Cancel</button>
                    </span>
                  ) : (
                    <button type="button" class="small"
                            aria-label={`Revoke token ${t.name || `#${t.id}`}`}
                            onClick={() => setConfirming(t.id)}>Revoke…</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
