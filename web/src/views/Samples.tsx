/* Samples.tsx — the grid of thumbnails of the chosen tag (placeholder until filled in). */
export function SamplesPage(_props: { id?: string | number }) {
	return <section aria-label="Samples"><h1>Samples</h1></section>;
}
