/* Sampling.tsx — the sampling view (placeholder until filled in). */
export function SamplingPage(_props: { id?: string | number }) {
	return <section aria-label="Sampling"><h1>Sampling</h1></section>;
}
