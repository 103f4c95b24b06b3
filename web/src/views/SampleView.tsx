/* SampleView.tsx — one sample: image, path, size, hash, score, tags (placeholder). */
export function SamplePage(_props: { id?: string | number; ino?: string | number }) {
	return <section aria-label="Sample"><h1>Sample</h1></section>;
}
