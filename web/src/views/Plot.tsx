/* Plot.tsx — the embedding plot (placeholder until filled in). */
export function PlotPanel(_props: { id?: string | number }) {
	return <div class="plot-panel"></div>;
}

export function PlotPage(props: { id?: string | number }) {
	return <section aria-label="Embedding plot"><h1>Embedding plot</h1><PlotPanel id={props.id} /></section>;
}
