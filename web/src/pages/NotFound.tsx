export function NotFoundPage({ what }: { what: 'page' | 'dataset' }) {
  return <h1>{what === 'dataset' ? 'No such dataset' : 'Page not found'}</h1>;
}
