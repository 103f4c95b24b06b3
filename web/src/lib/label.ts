/*
 * label.ts — the text a grid cell shows for a sample: its path relative to
 * the dataset root, written as the selection file writes it (lib/selection.ts)
 * when it needs quoting, so a name with a control character or a leading or
 * trailing space cannot look like another name ("new\nline.png" shows a
 * visible backslash-n, " a.png" shows its quotes). The cell shortens it from
 * the left in CSS, so the file name stays in view.
 */
import { quotePath } from './selection';

/** The label of a table path: relative to the dataset root, quoted when it must be. */
export function pathLabel(path: string): string {
	return quotePath(path.startsWith('/') ? path.slice(1) : path);
}
