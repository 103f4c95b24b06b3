/* Small helpers shared by the shell's pages. */
import { ApiError } from '../api';

/** Copies text to the clipboard; false when the browser refuses. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // no Clipboard API (an insecure context) or no permission: the old way
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.className = 'sr-only';
    ta.setAttribute('readonly', '');
    ta.setAttribute('aria-hidden', 'true');
    const back = document.activeElement as HTMLElement | null;
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
    back?.focus();
    return ok;
  }
}

/** The server's message for a refused create/rename/delete, with what the
 * bare errno text ("File exists", "Directory not empty") leaves unsaid. */
export function refusal(e: unknown, kind: 'tag' | 'dataset', name: string, fallback: string): string {
  if (!(e instanceof ApiError)) return fallback;
  if (e.code === 'exists')
    return kind === 'tag'
      ? `There is already a tag named ${name}, or the name is reserved (${e.message}).`
      : `You already have a dataset named ${name} (${e.message}).`;
  // the server's own sentence is shown once; only a bare errno text is explained
  if (e.code === 'not_empty' && kind === 'tag')
    return /^directory not empty$/i.test(e.message.trim())
      ? `Other tags were made from ${name}: delete them first.` : e.message;
  return e.message;
}
