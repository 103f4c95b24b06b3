/* The app's router: the history API, one signal of the current path.
 *
 * navigate(path) pushes a new entry (or replaces the current one) and sets
 * `path`; the back/forward buttons set it from popstate. linkClick() turns a
 * plain left click on an <a href="/..."> into navigate(), leaving modified
 * clicks (new tab) to the browser. The server answers index.html for every
 * app path, so a reload or a pasted URL lands on the same page. */
import { signal } from '@preact/signals';

export const path = signal<string>(typeof location === 'undefined' ? '/' : location.pathname);

export function navigate(to: string, replace = false): void {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  path.value = location.pathname;
  window.scrollTo(0, 0);
}

export function linkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey)
    return;
  const a = (e.currentTarget as HTMLElement | null)?.closest('a');
  if (!a || a.target || a.hasAttribute('download')) return;
  const href = a.getAttribute('href');
  if (!href || !href.startsWith('/') || href.startsWith('/v1/')) return;
  e.preventDefault();
  navigate(href);
}

export function startRouter(): void {
  window.addEventListener('popstate', () => {
    path.value = location.pathname;
  });
}

export type Route =
  | { name: 'home' }
  | { name: 'preferences' }
  | { name: 'overview'; id: number }
  | { name: 'samples'; id: number }
  | { name: 'sample'; id: number; ino: number }
  | { name: 'upload'; id: number }
  | { name: 'sampling'; id: number }
  | { name: 'plot'; id: number }
  | { name: 'analyze'; id: number }
  | { name: 'notfound' };

const ID = /^[1-9][0-9]{0,17}$/;

/** Parses an app path; anything unknown is notfound. Pure (unit-tested). */
export function parseRoute(p: string): Route {
  const s = p.replace(/\/+$/, '') || '/';
  if (s === '/') return { name: 'home' };
  if (s === '/preferences') return { name: 'preferences' };
  const seg = s.split('/').slice(1);
  if (seg[0] !== 'datasets' || seg.length < 2 || !ID.test(seg[1])) return { name: 'notfound' };
  const id = Number(seg[1]);
  if (seg.length === 2) return { name: 'overview', id };
  if (seg.length === 3) {
    switch (seg[2]) {
      case 'samples': return { name: 'samples', id };
      case 'upload': return { name: 'upload', id };
      case 'sampling': return { name: 'sampling', id };
      case 'plot': return { name: 'plot', id };
      case 'analyze': return { name: 'analyze', id };
      default: return { name: 'notfound' };
    }
  }
  if (seg.length === 4 && seg[2] === 'samples' && ID.test(seg[3]))
    return { name: 'sample', id, ino: Number(seg[3]) };
  return { name: 'notfound' };
}
