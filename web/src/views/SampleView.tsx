/* SampleView.tsx — one sample: image, path, size, hash, score, tags (placeholder). */
import type { SamplePageProps } from '../state';

export function SamplePage(_props: SamplePageProps) {
	return <section aria-label="Sample"><h2>Sample</h2></section>;
}
