import type { DatasetPageProps } from '../state';
export function UploadPage(_p: DatasetPageProps) {
  return <h2>Upload</h2>;
}
