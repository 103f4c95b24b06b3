export function DatasetsPage() {
  return <h1>My datasets</h1>;
}
