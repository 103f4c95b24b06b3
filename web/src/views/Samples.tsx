/* Samples.tsx — the grid of thumbnails of the chosen tag (placeholder until filled in). */
import type { DatasetPageProps } from '../state';

export function SamplesPage(_props: DatasetPageProps) {
	return <section aria-label="Samples"><h2>Samples</h2></section>;
}
