import type { DatasetPageProps } from '../state';
export function TagMenu(_p: DatasetPageProps) {
  return <h2>Tags</h2>;
}
