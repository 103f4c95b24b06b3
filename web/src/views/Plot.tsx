/* Plot.tsx — the embedding plot (placeholder until filled in). */
import type { DatasetPageProps } from '../state';

export function PlotPanel(_props: DatasetPageProps) {
	return <div class="plot-panel"></div>;
}

export function PlotPage(props: DatasetPageProps) {
	return <section aria-label="Embedding plot"><h2>Embedding plot</h2><PlotPanel datasetId={props.datasetId} /></section>;
}
