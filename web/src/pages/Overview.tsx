import type { DatasetPageProps } from '../state';
export function OverviewPage(_p: DatasetPageProps) {
  return <h2>Overview</h2>;
}
