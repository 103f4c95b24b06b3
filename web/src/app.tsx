/* The app's frame: header (product, user, sign-out), the router, and the
 * dataset layout (tag menu on the left, the dataset's tabs, the page).
 *
 * Routes (history API): / (sign-in or My datasets), /datasets/ID (overview),
 * /datasets/ID/samples, /datasets/ID/samples/INO, /datasets/ID/upload,
 * /datasets/ID/sampling, /datasets/ID/plot, /preferences, else not found.
 * The views' pages come from fixed paths and get DatasetPageProps
 * {datasetId} (SamplePage: SamplePageProps {datasetId, ino}) from state.ts.
 * A dataset route opens the dataset (data.ts) and keeps it open while the
 * user moves between its tabs; a 404 of the dataset (absent or another
 * user's) shows the not-found page and no data. */
import { useEffect } from 'preact/hooks';
import { path, parseRoute, linkClick, type Route } from './router';
import { session, sessionChecked, dataset, datasetError, loadFailed } from './state';
import { openDataset, closeDataset, loading, layoutPrefetch } from './data';
import { signOut } from './session';
import { SamplesPage } from './views/Samples';
import { SamplePage } from './views/SampleView';
import { PlotPage } from './views/Plot';
import { AnalyzePage } from './views/Analyze';
import { SamplingPage } from './views/Sampling';
import { SignInPage } from './pages/SignIn';
import { DatasetsPage } from './pages/Datasets';
import { OverviewPage } from './pages/Overview';
import { UploadPage } from './pages/Upload';
import { PreferencesPage } from './pages/Preferences';
import { NotFoundPage } from './pages/NotFound';
import { TagMenu } from './pages/TagMenu';

function Header() {
  const s = session.value;
  const name = parseRoute(path.value).name;
  return (
    <header class="top">
      <a class="brand" href="/" onClick={linkClick}>sievefs</a>
      {s && (
        <nav class="top-nav" aria-label="Account">
          <a href="/" onClick={linkClick} aria-current={name === 'home' ? 'page' : undefined}>My datasets</a>
          <a href="/preferences" onClick={linkClick}
             aria-current={name === 'preferences' ? 'page' : undefined}>Preferences</a>
          <span class="user"><span class="sr-only">Signed in as </span>{s.user}</span>
          <button type="button" class="link-button" onClick={() => void signOut()}>Sign out</button>
        </nav>
      )}
    </header>
  );
}

const TABS: { name: Route['name']; label: string; suffix: string }[] = [
  { name: 'overview', label: 'Overview', suffix: '' },
  { name: 'samples', label: 'Samples', suffix: '/samples' },
  { name: 'plot', label: 'Plot', suffix: '/plot' },
  { name: 'analyze', label: 'Analyze & Filter', suffix: '/analyze' },
  { name: 'sampling', label: 'Sampling', suffix: '/sampling' },
  { name: 'upload', label: 'Upload', suffix: '/upload' },
];

function DatasetTabs({ id, route }: { id: number; route: Route }) {
  const cur = route.name === 'sample' ? 'samples' : route.name;
  return (
    <nav class="tabs" aria-label="Dataset">
      {TABS.map((t) => (
        <a
          key={t.name}
          href={`/datasets/${id}${t.suffix}`}
          onClick={linkClick}
          aria-current={cur === t.name ? 'page' : undefined}
        >
          {t.label}
        </a>
      ))}
    </nav>
  );
}

function DatasetFrame({ route, id }: { route: Route; id: number }) {
  useEffect(() => {
    // the plot's points need only the layout: asked for first, so it is not
    // queued behind the table, members and scores (in the browser and the server)
    if (route.name === 'plot' || route.name === 'sampling') layoutPrefetch.start(id);
    void openDataset(id);
  }, [id]);
  const err = datasetError.value;
  if (err === 'not_found') return <main id="main" tabIndex={-1} class="page"><NotFoundPage what="dataset" /></main>;
  const d = dataset.value;
  const failed = Object.entries(loadFailed.value);
  let page;
  switch (route.name) {
    case 'overview': page = <OverviewPage datasetId={id} />; break;
    case 'samples': page = <SamplesPage datasetId={id} />; break;
    case 'sample': page = <SamplePage datasetId={id} ino={route.ino} />; break;
    case 'plot': page = <PlotPage datasetId={id} />; break;
    case 'analyze': page = <AnalyzePage datasetId={id} />; break;
    case 'sampling': page = <SamplingPage datasetId={id} />; break;
    case 'upload': page = <UploadPage datasetId={id} />; break;
    default: page = null;
  }
  return (
    <div class="dataset-layout">
      <div class="side">
        <TagMenu datasetId={id} />
      </div>
      <main id="main" tabIndex={-1} class="dataset-main">
        <div class="dataset-head">
          <h1 class="dataset-name">{d ? d.name : '\u00a0'}</h1>
          <DatasetTabs id={id} route={route} />
        </div>
        {err && <p class="error" role="alert">Could not load the dataset: {err}</p>}
        {!err && failed.length > 0 && (
          <p class="error" role="alert">
            Part of the dataset could not be loaded ({failed.map(([k, m]) => `${k}: ${m}`).join('; ')});
            trying again every 2 s.
          </p>
        )}
        {!d && !err && loading.value && <p class="muted" role="status">Loading…</p>}
        {d && d.id === id && page}
      </main>
    </div>
  );
}

const TITLES: Record<Route['name'], string> = {
  home: 'My datasets', preferences: 'Preferences', overview: 'Overview', samples: 'Samples',
  sample: 'Sample', upload: 'Upload', sampling: 'Sampling', plot: 'Plot', analyze: 'Analyze & Filter', notfound: 'Not found',
};

export function App() {
  const route = parseRoute(path.value);
  const signed = session.value;
  const isDataset = 'id' in route;
  // read in render, so a change of either re-renders the App and its title
  const dsName = isDataset ? dataset.value?.name : undefined;
  const gone = isDataset && datasetError.value === 'not_found';
  const title = [!signed ? 'Sign in' : gone ? 'No such dataset' : TITLES[route.name],
    ...(signed && dsName && !gone ? [dsName] : []), 'sievefs'].join(' — ');
  useEffect(() => {
    document.title = title;
  }, [title]);
  useEffect(() => {
    if (!isDataset) closeDataset();
  }, [isDataset]);

  if (!sessionChecked.value) return <div class="boot" aria-busy="true" />;

  let body;
  if (!signed) {
    body = <main id="main" tabIndex={-1} class="page narrow"><SignInPage /></main>;
  } else if (route.name === 'home') {
    body = <main id="main" tabIndex={-1} class="page"><DatasetsPage /></main>;
  } else if (route.name === 'preferences') {
    body = <main id="main" tabIndex={-1} class="page"><PreferencesPage /></main>;
  } else if ('id' in route) {
    body = <DatasetFrame route={route} id={route.id} />;
  } else {
    body = <main id="main" tabIndex={-1} class="page"><NotFoundPage what="page" /></main>;
  }
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <Header />
      {body}
    </>
  );
}
