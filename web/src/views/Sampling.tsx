/* Sampling.tsx — the sampling view (placeholder until filled in). */
import type { DatasetPageProps } from '../state';

export function SamplingPage(_props: DatasetPageProps) {
	return <section aria-label="Sampling"><h2>Sampling</h2></section>;
}
