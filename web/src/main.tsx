/* Entry point: styles, the router, the session check, then the app. */
import { render } from 'preact';
import './app.css';
import { App } from './app';
import { startRouter } from './router';
import { startSession } from './session';

startRouter();
startSession();
render(<App />, document.getElementById('app')!);
