/* Not found: an unknown app path, or a dataset that does not exist or is
 * another user's (the API answers 404 for both; nothing of it is shown). */
import { linkClick } from '../router';

export function NotFoundPage({ what }: { what: 'page' | 'dataset' }) {
  return (
    <section class="notfound card" aria-labelledby="nf-h">
      <h1 id="nf-h">{what === 'dataset' ? 'No such dataset' : 'Page not found'}</h1>
      <p>
        {what === 'dataset'
          ? 'There is no dataset at this address that you can open. It may have been deleted, or it belongs to someone else.'
          : 'There is nothing at this address.'}
      </p>
      <p><a href="/" onClick={linkClick}>Back to my datasets</a></p>
    </section>
  );
}
