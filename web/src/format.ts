/* Formatting of sizes, counts and times for the pages (pure; unit-tested). */

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** Bytes in decimal units as people read them: 0 B, 999 B, 1.2 KB, 34.5 MB, 512 MB, 1.0 GB. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  if (n < 1000) return `${Math.round(n)} B`;
  let u = 0;
  let v = n;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  // 999.6 KB would print as "1000 KB": carry to the next unit
  if (v >= 999.5 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v < 100 ? v.toFixed(1) : v.toFixed(0)} ${UNITS[u]}`;
}

/** A count with thousands separators: 19200 → "19,200". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '—';
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** "N samples" with the right plural. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** Nanoseconds since 1970 (a string of digits, or a number) → Date, or null. */
export function nsToDate(ns: string | number | null | undefined): Date | null {
  if (ns === null || ns === undefined || ns === '') return null;
  const s = String(ns);
  if (!/^-?\d+$/.test(s)) return null;
  // drop the last 6 digits (ns → ms) without losing precision in a double
  const neg = s.startsWith('-');
  const digits = neg ? s.slice(1) : s;
  const ms = digits.length > 6 ? Number(digits.slice(0, -6)) : 0;
  const d = new Date(neg ? -ms : ms);
  return Number.isNaN(d.getTime()) ? null : d;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** A date as "2026-12-07 14:03" (local time), or "—". */
export function formatDate(ns: string | number | null | undefined): string {
  const d = nsToDate(ns);
  if (!d) return '—';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** An ISO form for <time datetime>. */
export function isoDate(ns: string | number | null | undefined): string | undefined {
  const d = nsToDate(ns);
  return d ? d.toISOString() : undefined;
}

/** 0.4567 → "45.7%" (one decimal under 10%, else whole). */
export function formatPercent(part: number, whole: number): string {
  if (!whole) return '0%';
  const p = (100 * part) / whole;
  if (p > 0 && p < 0.1) return '<0.1%';
  return `${p < 10 ? p.toFixed(1).replace(/\.0$/, '') : Math.round(p)}%`;
}

/** The text to show for any failure: an ApiError's (or any Error's) message. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
